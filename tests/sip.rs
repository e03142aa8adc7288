//! `pbxctl run` against real SIP peers: SIPp (Debian's sip-tester, `sipp`) and baresip.
//!
//! Every server test starts its own `pbxctl run` on its own SIP port and RTP
//! range, with config, database and logs in a tempdir (kept, and its path
//! printed, when the test fails). The peers are installed with apt-get when
//! missing (CI runs as root); SIPp plays pcaps through a raw socket, so these
//! tests need root anyway.
//!
//! On failure a server test prints SIPp's exit code and its message and error logs
//! (or baresip's events and output) and the end of the server's stderr
//! (PBXCTL_LOG defaults to `pbxctl=debug` there). The pcap writer's tests
//! (`dtmf_pcap::tests`) and `loopback_only_moves_addresses_and_keeps_lengths`
//! need no server.
//!
//! The SIPp scenarios are tests/sip/*.xml; `call.xml`, `info_digit.xml`,
//! `refused.xml` and the trunks' far ends (`carrier.xml`, `registrar.xml`, `answer.xml`,
//! `carrier_call.xml`) are templates whose `{{names}}` the tests fill in.

#[path = "sip/baresip.rs"]
mod baresip;
#[path = "sip/dtmf_pcap.rs"]
mod dtmf_pcap;
#[path = "sip/hardening.rs"]
mod hardening;
#[path = "sip/metrics.rs"]
mod metrics;
#[path = "sip/support.rs"]
mod support;
#[path = "sip/trunk.rs"]
mod trunk;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;
use support::{Pbx, Sipp, SippRun, render, root, sip_file};

// --- Scenarios ---------------------------------------------------------------------

/// The SIPp register scenario for `ext` with `password`.
fn register(pbx: &Pbx, name: &str, scenario: &str, ext: &str, password: &str) -> SippRun {
    let uri = format!("sip:127.0.0.1:{}", pbx.port);
    Sipp::new(pbx, name, &sip_file(scenario), ext)
        .auth(ext, password, &uri)
        .run()
}

/// SDP media lines: PCMU, PCMA and telephone-events with payload type `pt`.
fn offer_with_events(pt: u8) -> String {
    [
        format!("m=audio [media_port] RTP/AVP 0 8 {pt}"),
        "a=rtpmap:0 PCMU/8000".into(),
        "a=rtpmap:8 PCMA/8000".into(),
        format!("a=rtpmap:{pt} telephone-event/8000"),
        format!("a=fmtp:{pt} 0-16"),
        "a=ptime:20".into(),
        "a=sendrecv".into(),
    ]
    .join("\n      ")
}

/// What the answer to [`offer_with_events`] must hold: events under the offer's type.
fn answer_with_events(pt: u8) -> String {
    format!("a=rtpmap:{pt} telephone-event/8000")
}

/// What the answer to [`offer_pcmu_only`] must hold: PCMU and nothing else.
fn answer_pcmu_only() -> String {
    "m=audio [0-9]+ RTP/AVP 0[^0-9 ]".into()
}

/// SDP media lines: PCMU only, so keys can only come as tones.
fn offer_pcmu_only() -> String {
    [
        "m=audio [media_port] RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=ptime:20",
        "a=sendrecv",
    ]
    .join("\n      ")
}

/// Offer and expected answer with telephone-events as `pt`.
fn events(pt: u8) -> (String, String) {
    (offer_with_events(pt), answer_with_events(pt))
}

/// Offer and expected answer with PCMU only.
fn pcmu_only() -> (String, String) {
    (offer_pcmu_only(), answer_pcmu_only())
}

/// How the keys travel during the call.
enum Keys<'a> {
    /// This pcap (RTP), played from 0.5 s after the ACK, while the first prompt plays.
    Pcap(Vec<u8>),
    /// One SIP INFO (application/dtmf-relay) per key, 0.5 s after the ACK and
    /// then 150 ms apart, each answered 200.
    Info(&'a str),
}

/// One SIPp call from `caller` to `code` that sends `keys` and then expects the
/// server's BYE within `bye_within` (counted from the start of a pcap, which plays
/// in the background, and from the last INFO's 200 for INFO).
struct FeatureCall<'a> {
    name: &'a str,
    caller: &'a str,
    secret: &'a str,
    code: &'a str,
    media: String,
    /// A POSIX regexp the SDP of the server's 200 must match.
    answer: String,
    keys: Keys<'a>,
    bye_within: Duration,
}

impl FeatureCall<'_> {
    fn run(self, pbx: &Pbx) -> SippRun {
        let in_call = match &self.keys {
            Keys::Pcap(pcap) => {
                assert!(
                    support::is_root(),
                    "SIPp plays pcaps through a raw socket: run the SIP tests as root"
                );
                let path = pbx.dir().join(format!("{}.pcap", self.name));
                std::fs::write(&path, pcap).unwrap();
                format!(
                    "  <!-- The keys, from 0.5 s after the ACK: the first prompt takes \
                     digits while it plays. -->\n  \
                     <pause milliseconds=\"500\"/>\n  \
                     <nop>\n    <action>\n      <exec play_pcap_audio=\"{}\"/>\n    \
                     </action>\n  </nop>\n",
                    path.display()
                )
            }
            Keys::Info(keys) => {
                let fragment = std::fs::read_to_string(sip_file("info_digit.xml")).unwrap();
                keys.chars()
                    .enumerate()
                    .map(|(i, key)| {
                        render(
                            &fragment,
                            &[
                                ("pause_ms", if i == 0 { "500" } else { "150" }),
                                ("cseq", &(3 + i).to_string()),
                                ("signal", &key.to_string()),
                                ("caller", self.caller),
                            ],
                        )
                    })
                    .collect()
            }
        };
        let template = std::fs::read_to_string(sip_file("call.xml")).unwrap();
        let scenario = render(
            &template,
            &[
                ("caller", self.caller),
                ("media", &self.media),
                ("answer_regexp", &self.answer),
                ("in_call", &in_call),
                ("bye_timeout_ms", &self.bye_within.as_millis().to_string()),
            ],
        );
        let path: PathBuf = pbx.dir().join(format!("{}.xml", self.name));
        std::fs::write(&path, scenario).unwrap();
        let uri = format!("sip:{}@127.0.0.1:{}", self.code, pbx.port);
        Sipp::new(pbx, self.name, &path, self.code)
            .auth(self.caller, self.secret, &uri)
            .run()
    }
}

/// `*11` from 101 with the password 4321, keys as told, media as told.
fn star11<'a>(name: &'a str, (media, answer): (String, String), keys: Keys<'a>) -> FeatureCall<'a> {
    FeatureCall {
        name,
        caller: "101",
        secret: "sip-pass-101",
        code: "*11",
        media,
        answer,
        keys,
        bye_within: Duration::from_secs(12),
    }
}

fn blocked(pbx: &Pbx, ext: &str) -> bool {
    let view = pbx.ext_show(ext);
    view["blocked"]
        .as_bool()
        .unwrap_or_else(|| panic!("no boolean `blocked` in ext show {ext} --json: {view}"))
}

fn assert_blocked(pbx: &Pbx, ext: &str, expected: bool) {
    if blocked(pbx, ext) != expected {
        panic!(
            "ext show {ext}: blocked should be {expected} after the call\n{}",
            pbx.report()
        );
    }
}

// --- Registration -------------------------------------------------------------------

#[test]
fn register_with_digest_auth() {
    let pbx = Pbx::start();
    register(&pbx, "register", "register.xml", "101", "sip-pass-101").assert_ok(&pbx);
    // A wrong password is refused again (401 or 403).
    register(
        &pbx,
        "register-wrong",
        "register_refused.xml",
        "101",
        "not-the-secret",
    )
    .assert_ok(&pbx);
}

// --- *11: the terminal password, keys by every route ------------------------------------

#[test]
fn star11_with_rfc4733_events_blocks_the_terminal() {
    let pbx = Pbx::start();
    let keys = || Keys::Pcap(dtmf_pcap::rfc4733("4321#", 101));
    star11("star11-block", events(101), keys())
        .run(&pbx)
        .assert_ok(&pbx);
    assert_blocked(&pbx, "101", true);
    // *11 again with the password unblocks.
    star11("star11-unblock", events(101), keys())
        .run(&pbx)
        .assert_ok(&pbx);
    assert_blocked(&pbx, "101", false);
}

#[test]
fn a_lock_from_the_cli_reaches_the_running_server() {
    // The server keeps no copy of extension state: `*11` toggles what the database says
    // now, so after an administrator's lock the same keys unblock.
    let pbx = Pbx::start();
    pbx.ext("lock", "101");
    star11("star11-after-cli-lock", events(101), Keys::Info("4321#"))
        .run(&pbx)
        .assert_ok(&pbx);
    assert_blocked(&pbx, "101", false);
}

#[test]
fn star11_with_telephone_events_as_pt_96_blocks_the_terminal() {
    // The payload type of telephone-events is the offer's, not a fixed 101.
    let pbx = Pbx::start();
    star11(
        "star11-pt96",
        events(96),
        Keys::Pcap(dtmf_pcap::rfc4733("4321#", 96)),
    )
    .run(&pbx)
    .assert_ok(&pbx);
    assert_blocked(&pbx, "101", true);
}

#[test]
fn star11_with_sip_info_blocks_the_terminal() {
    let pbx = Pbx::start();
    star11("star11-info", events(101), Keys::Info("4321#"))
        .run(&pbx)
        .assert_ok(&pbx);
    assert_blocked(&pbx, "101", true);
    // Even at debug level the log has the call, but not the password or the SIP secret.
    let log = pbx.log();
    assert!(log.contains("call"), "the call is logged:\n{log}");
    for secret in ["sip-pass-101", "response=", "Signal=", "keys="] {
        assert!(!log.contains(secret), "the log shows `{secret}`:\n{log}");
    }
}

#[test]
fn star11_with_inband_tones_blocks_the_terminal() {
    let pbx = Pbx::start();
    star11(
        "star11-inband",
        pcmu_only(),
        Keys::Pcap(dtmf_pcap::inband_pcmu("4321#")),
    )
    .run(&pbx)
    .assert_ok(&pbx);
    assert_blocked(&pbx, "101", true);
}

// --- 7777: the PIN-protected outbound window ---------------------------------------------

fn grant(pbx: &Pbx, ext: &str) -> serde_json::Value {
    let view = pbx.ext_show(ext);
    assert!(
        view.get("outbound_grant_until").is_some(),
        "no outbound_grant_until in ext show {ext} --json: {view}"
    );
    view["outbound_grant_until"].clone()
}

#[test]
fn pin_7777_opens_the_outbound_window() {
    let pbx = Pbx::start();
    assert!(grant(&pbx, "102").is_null());
    FeatureCall {
        name: "pin-7777",
        caller: "102",
        secret: "sip-pass-102",
        code: "7777",
        media: offer_with_events(101),
        answer: answer_with_events(101),
        keys: Keys::Pcap(dtmf_pcap::rfc4733("1357#", 101)),
        bye_within: Duration::from_secs(12),
    }
    .run(&pbx)
    .assert_ok(&pbx);
    let until = grant(&pbx, "102");
    assert!(
        until.is_string(),
        "ext show 102: outbound_grant_until should be a time after 1357#, is {until}\n{}",
        pbx.report()
    );
}

/// 102 dials 7777 (PN-3) and enters the wrong voicemail PIN three times, as RFC 4733
/// events 1.5 s apart; the server ends the call after the third.
fn wrong_pins_three_times(pbx: &Pbx, name: &str) {
    FeatureCall {
        name,
        caller: "102",
        secret: "sip-pass-102",
        code: "7777",
        media: offer_with_events(101),
        answer: answer_with_events(101),
        keys: Keys::Pcap(dtmf_pcap::rfc4733_groups(
            &[(0, "9999#"), (1500, "9999#"), (3000, "9999#")],
            101,
        )),
        bye_within: Duration::from_secs(15),
    }
    .run(pbx)
    .assert_ok(pbx);
}

#[test]
fn three_wrong_pins_end_the_call() {
    // Each wrong PIN is answered with pin-invalid (about 3.4 s) and enter-pin
    // again. The groups are 1.5 s apart, so the second and third are typed
    // ahead, during pin-invalid: the server keeps keys typed while it plays.
    let pbx = Pbx::start();
    wrong_pins_three_times(&pbx, "pin-wrong");
    let until = grant(&pbx, "102");
    assert!(
        until.is_null(),
        "ext show 102: no grant after three wrong PINs, but outbound_grant_until is {until}"
    );
}

// --- Robustness ------------------------------------------------------------------------------

/// RFC 4475's messages with every IPv4 literal moved into 127/8 (the first octet
/// becomes 127), so that whatever the server answers or calls stays on this
/// machine. Same length for every address in a body, so Content-Length holds.
fn loopback_only(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        let at_start = i == 0 || !message[i - 1].is_ascii_digit() && message[i - 1] != b'.';
        if at_start && let Some(len) = ipv4_at(&message[i..]) {
            let first = message[i..].iter().position(|&b| b == b'.').unwrap();
            out.extend_from_slice(b"127");
            out.extend_from_slice(&message[i + first..i + len]);
            i += len;
        } else {
            out.push(message[i]);
            i += 1;
        }
    }
    out
}

/// The length of a dotted-quad IPv4 literal at the start of `b`, if there is one.
fn ipv4_at(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    for part in 0..4 {
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=3).contains(&digits) {
            return None;
        }
        at += digits;
        if part < 3 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    let followed_by_digit_or_dot = b.get(at).is_some_and(|c| {
        c.is_ascii_digit() || (*c == b'.' && b.get(at + 1).is_some_and(u8::is_ascii_digit))
    });
    (!followed_by_digit_or_dot).then_some(at)
}

#[test]
fn loopback_only_moves_addresses_and_keeps_lengths() {
    assert_eq!(
        loopback_only(b"Via: SIP/2.0/UDP 192.0.2.15:5060;x=255.255.255.255 c=IN IP4 10.0.0.1\r\n"),
        b"Via: SIP/2.0/UDP 127.0.2.15:5060;x=127.255.255.255 c=IN IP4 127.0.0.1\r\n"
    );
    assert_eq!(
        loopback_only(b"CSeq: 1.2.3 v1.2.3.4.5"),
        b"CSeq: 1.2.3 v1.2.3.4.5"
    );
    assert_eq!(loopback_only(b"SIP/2.0"), b"SIP/2.0");
}

/// A small xorshift generator: garbage that is the same on every run.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Random bytes, half of them behind a plausible SIP start line.
    fn datagram(&mut self) -> Vec<u8> {
        let len = (self.next() % 1400) as usize + 1;
        let mut out: Vec<u8> = match self.next() % 4 {
            0 => b"INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n".to_vec(),
            1 => b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n".to_vec(),
            _ => Vec::new(),
        };
        out.extend((0..len).map(|_| self.next() as u8));
        out
    }
}

#[test]
fn torture_burst_leaves_the_server_serving() {
    let dir = root().join("tests/rfc4475");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (RFC 4475's torture messages)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .dat file in {}", dir.display());
    let messages: Vec<Vec<u8>> = files
        .iter()
        .map(|f| loopback_only(&std::fs::read(f).unwrap()))
        .collect();

    let mut pbx = Pbx::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        for m in &messages {
            sock.send_to(&m[..m.len().min(65_507)], pbx.addr()).unwrap();
        }
    }
    let mut garbage = Garbage(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1000 {
        sock.send_to(&garbage.datagram(), pbx.addr()).unwrap();
    }

    // It still answers OPTIONS (give it a moment to work through the burst) ...
    if let Err(e) = support::options_answered(pbx.addr(), Duration::from_secs(5)) {
        panic!("after the torture burst: {e}\n{}", pbx.report());
    }
    // ... registers a phone ...
    register(
        &pbx,
        "register-after-burst",
        "register.xml",
        "101",
        "sip-pass-101",
    )
    .assert_ok(&pbx);
    // ... and never went down.
    assert!(pbx.is_running(), "the server exited\n{}", pbx.report());
}

// --- A real softphone ---------------------------------------------------------------------------

#[test]
fn baresip_registers_and_blocks_the_terminal() {
    // baresip 1.0 refuses a 401 with any challenge but MD5.
    let pbx = Pbx::offering("[MD5]");
    let mut phone = baresip::Baresip::start(&pbx, "101", "sip-pass-101");
    phone.wait_registered(Duration::from_secs(10), &pbx);
    let dial = phone.command("dial", &format!("sip:*11@127.0.0.1:{}", pbx.port));
    assert_eq!(dial["ok"], true, "dial: {dial}\n{}", phone.report());
    let answered = phone.wait_for(
        "the call answered or closed",
        Duration::from_secs(10),
        |m| m["event"] == true && (m["type"] == "CALL_ESTABLISHED" || m["type"] == "CALL_CLOSED"),
    );
    if answered["type"] != "CALL_ESTABLISHED" {
        panic!(
            "the *11 call closed before it was answered: {answered}\n{}\n{}",
            phone.report(),
            pbx.report()
        );
    }
    // Keys while enter-password plays; baresip sends them as RFC 4733 events.
    std::thread::sleep(Duration::from_millis(500));
    for key in "4321#".chars() {
        let sent = phone.command("sndcode", &key.to_string());
        assert_eq!(
            sent["ok"],
            true,
            "sndcode {key}: {sent}\n{}",
            phone.report()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    let closed = phone.event("CALL_CLOSED", Duration::from_secs(12));
    assert!(phone.is_running(), "baresip died\n{}", phone.report());
    // baresip reports the peer's BYE as ECONNRESET; anything else means it hung up.
    if closed["param"] != "Connection reset by peer" {
        panic!(
            "baresip ended the call itself ({closed}), the server should have sent BYE\n{}\n{}",
            phone.report(),
            pbx.report()
        );
    }
    if !blocked(&pbx, "101") {
        panic!(
            "ext show 101: not blocked after *11 4321# from baresip (call closed: {closed})\n{}\n{}",
            phone.report(),
            pbx.report()
        );
    }
}

/// A tone of `hz` for `seconds`, at 8 kHz.
fn tone(hz: f64, seconds: usize) -> Vec<i16> {
    (0..8000 * seconds)
        .map(|i| ((i as f64 * hz * std::f64::consts::TAU / 8000.0).sin() * 8000.0) as i16)
        .collect()
}

/// The packets a phone's audio stream received and sent, from baresip's `audio_debug`
/// (`rcvd=N` of the RTCP member, `TX: packets=N`).
fn rtp_counts(phone: &mut baresip::Baresip) -> (u64, u64) {
    let debug = phone.command("audio_debug", "");
    let text = debug["data"].as_str().unwrap_or_default().to_owned();
    let number_after = |key: &str| {
        text.split(key)
            .nth(1)
            .and_then(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .unwrap_or_else(|| panic!("no `{key}` in baresip's audio_debug:\n{text}"))
    };
    (number_after("rcvd="), number_after("TX: packets="))
}

#[test]
fn two_phones_call_each_other_and_rtp_flows_both_ways() {
    let pbx = Pbx::offering("[MD5]");
    let phone = |ext, password, auto_answer, hz| baresip::Phone {
        ext,
        password,
        auto_answer,
        mwi: false,
        microphone: tone(hz, 30),
    };
    let mut bob = baresip::Baresip::phone(&pbx, phone("102", "sip-pass-102", true, 1000.0));
    bob.wait_registered(Duration::from_secs(10), &pbx);
    let mut alice = baresip::Baresip::phone(&pbx, phone("101", "sip-pass-101", false, 440.0));
    alice.wait_registered(Duration::from_secs(10), &pbx);
    let dial = alice.command("dial", &format!("sip:102@127.0.0.1:{}", pbx.port));
    assert_eq!(dial["ok"], true, "dial: {dial}\n{}", alice.report());
    alice.event("CALL_ESTABLISHED", Duration::from_secs(10));
    bob.event("CALL_ESTABLISHED", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(3));
    let (alice_rcvd, alice_sent) = rtp_counts(&mut alice);
    let (bob_rcvd, bob_sent) = rtp_counts(&mut bob);
    let report = |a: &baresip::Baresip, b: &baresip::Baresip| {
        format!("{}\n{}\n{}", a.report(), b.report(), pbx.report())
    };
    // Three seconds is 150 packets; each end has what the other sent, less what was
    // still on its way when asked.
    for (who, rcvd, sent) in [("101", alice_rcvd, bob_sent), ("102", bob_rcvd, alice_sent)] {
        assert!(
            rcvd >= 100 && rcvd + 10 >= sent,
            "{who} received {rcvd} RTP packets of {sent} sent to it\n{}",
            report(&alice, &bob)
        );
    }
    // Bob hangs up: Alice's call ends by the server's BYE.
    let hangup = bob.command("hangup", "");
    assert_eq!(hangup["ok"], true, "hangup: {hangup}");
    let closed = alice.event("CALL_CLOSED", Duration::from_secs(5));
    if closed["param"] != "Connection reset by peer" {
        panic!("101 hung up itself: {closed}\n{}", report(&alice, &bob));
    }
    let records = pbx.cdr();
    let last = &records.as_array().expect("a list of records")[0];
    assert_eq!(
        (
            last["from"].as_str(),
            last["to"].as_str(),
            last["status"].as_str()
        ),
        (Some("101"), Some("102"), Some("answered")),
        "{records}"
    );
}

/// Starts a phone for `ext` (its secret is `sip-pass-EXT`), registered; `auto_answer`
/// phones pick up at once. Each microphone plays its own tone.
fn registered_phone(pbx: &Pbx, ext: &str, auto_answer: bool) -> baresip::Baresip {
    let password = format!("sip-pass-{ext}");
    let hz = 300.0 + 10.0 * ext.parse::<f64>().unwrap_or(0.0) % 1000.0;
    let mut phone = baresip::Baresip::phone(
        pbx,
        baresip::Phone {
            ext,
            password: &password,
            auto_answer,
            mwi: ext == "102",
            microphone: tone(hz, 60),
        },
    );
    phone.wait_registered(Duration::from_secs(10), pbx);
    phone
}

/// `phone` dials a feature code the server answers, plays to and hangs up.
fn feature_code(pbx: &Pbx, phone: &mut baresip::Baresip, code: &str) {
    let answered = phone.dial(&format!("sip:{code}@127.0.0.1:{}", pbx.port));
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "{code}: {answered}\n{}",
        pbx.report()
    );
    let closed = phone.event("CALL_CLOSED", Duration::from_secs(10));
    assert_eq!(
        closed["param"], "Connection reset by peer",
        "{code}: the server hangs up"
    );
}

#[test]
fn do_not_disturb_and_forward_all_hold_on_live_calls() {
    let pbx = Pbx::offering("[MD5]");
    let mut alice = registered_phone(&pbx, "101", false);
    let mut bob = registered_phone(&pbx, "102", true);
    let mut carol = registered_phone(&pbx, "103", true);
    let to_bob = format!("sip:102@127.0.0.1:{}", pbx.port);

    feature_code(&pbx, &mut bob, "*74");
    let refused = alice.dial(&to_bob);
    assert_eq!(
        refused["type"],
        "CALL_CLOSED",
        "DND: {refused}\n{}",
        pbx.report()
    );
    assert!(
        refused["param"]
            .as_str()
            .unwrap_or_default()
            .contains("486"),
        "{refused}"
    );

    feature_code(&pbx, &mut bob, "*074");
    feature_code(&pbx, &mut bob, "*71103");
    let answered = alice.dial(&to_bob);
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "forwarded: {answered}\n{}",
        pbx.report()
    );
    carol.event("CALL_ESTABLISHED", Duration::from_secs(5));
    assert!(
        !bob.seen.iter().any(|m| m["type"] == "CALL_INCOMING"),
        "a phone forwarding every call does not ring\n{}",
        bob.report()
    );
    assert_eq!(alice.command("hangup", "")["ok"], true);
    carol.event("CALL_CLOSED", Duration::from_secs(5));

    let records = pbx.cdr();
    let calls: Vec<(String, String, String)> = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["from"] == "101")
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            (field("to"), field("final"), field("status"))
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("102".into(), "-".into(), "rejected".into()),
            ("102".into(), "103".into(), "answered".into())
        ],
        "{records}"
    );
}

#[test]
fn a_call_to_a_blocked_phone_leaves_a_message_and_lights_the_phone() {
    let pbx = Pbx::offering("[MD5]");
    let mut bob = registered_phone(&pbx, "102", true);
    let mut alice = registered_phone(&pbx, "101", false);
    pbx.ext("lock", "102"); // PP-5: calls go to its voicemail
    let answered = alice.dial(&format!("sip:102@127.0.0.1:{}", pbx.port));
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "{answered}\n{}",
        pbx.report()
    );
    // The greeting and the beep take about 5 s; then 3 s of Alice's tone.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(alice.command("hangup", "")["ok"], true);
    let lit = bob.wait_for("a message-waiting NOTIFY", Duration::from_secs(10), |m| {
        m["type"] == "MWI_NOTIFY"
            && m["param"]
                .as_str()
                .is_some_and(|p| p.contains("Messages-Waiting: yes"))
    });
    assert!(
        lit["param"]
            .as_str()
            .unwrap()
            .contains("Voice-Message: 1/0"),
        "{lit}"
    );
    let folder = pbx.dir().join("voicemail/102");
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", folder.display(), pbx.report()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let audio = pbxctl::media::wav::decode(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert!(
        (16_000..=48_000).contains(&audio.len()),
        "two to six seconds of message: {} samples",
        audio.len()
    );
    assert!(
        audio.iter().any(|s| s.abs() > 3000),
        "the message holds Alice's tone, not silence"
    );
    let records = pbx.cdr();
    assert_eq!(records[0]["final"], "voicemail:102", "{records}");

    // Bob, unblocked, hears it: *61, his passcode, 1 for new messages.
    pbx.ext("unlock", "102");
    let answered = bob.dial(&format!("sip:*61@127.0.0.1:{}", pbx.port));
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "{answered}\n{}",
        pbx.report()
    );
    std::thread::sleep(Duration::from_millis(500));
    for key in "1357#".chars() {
        bob.command("sndcode", &key.to_string());
        std::thread::sleep(Duration::from_millis(150));
    }
    std::thread::sleep(Duration::from_millis(500));
    bob.command("sndcode", "1");
    // The light goes out with the message counted as saved (the NOTIFY answering the
    // phone's SUBSCRIBE said no too, with no message at all).
    bob.wait_for("the light going out", Duration::from_secs(10), |m| {
        m["type"] == "MWI_NOTIFY"
            && m["param"].as_str().is_some_and(|p| {
                p.contains("Messages-Waiting: no") && p.contains("Voice-Message: 0/1")
            })
    });
    assert_eq!(bob.command("hangup", "")["ok"], true);
    assert!(
        pbx.wait_for_log("caller hung up call=2", Duration::from_secs(5))
            && !pbx.log().contains("could not be played"),
        "the message's file played\n{}",
        pbx.report()
    );
}

// --- Recording live calls ------------------------------------------------------------

#[test]
fn a_recorded_live_call_replays_green_with_pbxctl_test() {
    let pbx = Pbx::with(support::Setup {
        record: true,
        ..support::Setup::default()
    });
    star11("star11-recorded", events(101), Keys::Info("4321#"))
        .run(&pbx)
        .assert_ok(&pbx);
    assert_blocked(&pbx, "101", true);
    let folder = pbx.dir().join("recorded");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let file = loop {
        let found = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "yaml"));
        match found {
            Some(f) => break f,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            None => panic!(
                "no session written in {}\n{}",
                folder.display(),
                pbx.report()
            ),
        }
    };
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in ["4321", "sip-pass-101"] {
        assert!(
            !text.contains(secret),
            "the recording holds `{secret}`:\n{text}"
        );
    }
    assert!(
        text.contains("expect: \"prompt terminal-blocked\""),
        "{text}"
    );
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_pbxctl"))
        .arg("test")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "the recorded call does not replay:\n{}{}\n{text}",
        String::from_utf8_lossy(&replay.stdout),
        String::from_utf8_lossy(&replay.stderr)
    );
}
