//! Call flows through the switch on a virtual clock, against the shipped plan, prompts
//! and a real (in-memory) SQLite store.

use super::*;
use crate::directory::Config;
use crate::sip::auth::client::ClientAnswer;
use crate::sip::auth::{Algorithm, DEFAULT_ALGORITHMS};
use crate::sip::message::{Message, Response};
use crate::sip::transaction::Transport;
use crate::store::{SecretHasher, SqliteStore};
use std::path::Path;
use std::rc::Rc;

const T0: Timestamp = Timestamp(1_800_000_000_000);

struct Bench {
    switch: Switch<Rc<SqliteStore>>,
    store: Rc<SqliteStore>,
    now: Timestamp,
    sent: Vec<(Peer, Message)>,
    media: Vec<Output>,
}

fn phone(port: u16) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

fn engine_for(store: &Rc<SqliteStore>) -> Engine<Rc<SqliteStore>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&root.join("examples/pbx.yaml")).unwrap();
    let plan = crate::dsl::load(&config.dialplan).unwrap();
    let hooks = crate::hooks::Hooks::compile(&plan).unwrap();
    let settings = config.validate(&plan).unwrap();
    store
        .provision(&config.directory, &SecretHasher::fast())
        .unwrap();
    secrets::provision(store, &config.directory, "pbx.local").unwrap();
    Engine::new(Arc::new(plan), Arc::new(hooks), settings, store.clone())
}

fn prompts() -> Arc<PromptSet> {
    Arc::new(PromptSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en")).unwrap())
}

impl Bench {
    fn new() -> Bench {
        Bench::offering(DEFAULT_ALGORITHMS.to_vec())
    }

    fn offering(algorithms: Vec<Algorithm>) -> Bench {
        Bench::with(algorithms, Trunks::default())
    }

    fn with(algorithms: Vec<Algorithm>, trunks: Trunks) -> Bench {
        let store = Rc::new(SqliteStore::in_memory().unwrap());
        let settings = Settings {
            local: "127.0.0.1:5060".parse().unwrap(),
            realm: "pbx.local".into(),
            guard: GuardPolicy {
                max_failures: 3,
                window: Duration::seconds(60),
                block: Duration::seconds(300),
            },
            nonce_lifetime: Duration::seconds(300),
            nonce_key: [7; 32],
            algorithms,
            trunks,
        };
        let engine = engine_for(&store);
        Bench {
            switch: Switch::new(settings, store.clone(), engine, prompts()),
            store,
            now: T0,
            sent: Vec::new(),
            media: Vec::new(),
        }
    }

    fn input(&mut self, input: Input) {
        self.switch.handle(self.now, input);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(o) = self.switch.poll() {
            match o {
                Output::Transmit(t) => {
                    // A 400 echoes a broken request's headers, which need not parse again.
                    let m = parse(&t.bytes).unwrap_or_else(|_| {
                        let text = String::from_utf8_lossy(&t.bytes);
                        let status = text
                            .get(8..11)
                            .and_then(|c| c.parse().ok())
                            .expect("a status line");
                        Message::Response(Response {
                            status,
                            reason: String::new(),
                            headers: Default::default(),
                            body: Vec::new(),
                        })
                    });
                    self.sent.push((t.to, m));
                }
                // The driver verifies secrets; here inline, at the replay cost.
                Output::Verify {
                    engine,
                    request,
                    entered,
                    hash,
                } => {
                    let matched = SecretHasher::fast().verify(&entered.0, hash.as_deref());
                    let verified = Input::Verified {
                        engine,
                        request,
                        matched,
                    };
                    self.switch.handle(self.now, verified);
                }
                other => self.media.push(other),
            }
        }
    }

    fn send(&mut self, from: Peer, text: &str) {
        self.input(Input::Received {
            from,
            bytes: text.as_bytes().to_vec(),
        });
    }

    /// Advances the clock, firing timers as they fall due.
    fn wait(&mut self, ms: i64) {
        let end = self.now.after(Duration(ms));
        while let Some(d) = self.switch.next_deadline().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            self.switch.handle_timeout(self.now);
            self.collect();
        }
        self.now = end;
    }

    /// The responses sent so far (requests stay for `requests`).
    fn responses(&mut self) -> Vec<Response> {
        let (responses, requests) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|(_, m)| matches!(m, Message::Response(_)));
        self.sent = requests;
        responses
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r),
                Message::Request(_) => None,
            })
            .collect()
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }

    fn requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.sent)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    /// Sends `request` (built by `make` with an Authorization value or none), answers the
    /// 401, and returns the responses to the authenticated request.
    fn with_auth(
        &mut self,
        from: Peer,
        user: &str,
        password: &str,
        make: &dyn Fn(Option<&str>, u32) -> String,
    ) -> Vec<Response> {
        self.send(from, &make(None, 1));
        let challenge = self
            .responses()
            .into_iter()
            .find(|r| r.status == 401)
            .expect("a 401 challenge");
        let nonce = challenge_nonce(&challenge);
        let text = make(None, 2);
        let method = text.split(' ').next().unwrap().to_owned();
        let uri = text.split(' ').nth(1).unwrap().to_owned();
        let auth = answer(user, password, &nonce, &method, &uri, Some(1));
        self.send(from, &make(Some(&auth), 2));
        self.responses()
    }

    fn register_phone(&mut self, user: &str, password: &str, port: u16) {
        let rs = self.with_auth(phone(port), user, password, &|a, n| {
            register_at(user, port, a, n)
        });
        assert_eq!(rs.last().map(|r| r.status), Some(200));
    }

    /// Requests the switch sent, with where they went.
    fn sent_requests(&mut self) -> Vec<(Peer, Request)> {
        let (requests, rest) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|(_, m)| matches!(m, Message::Request(_)));
        self.sent = rest;
        requests
            .into_iter()
            .filter_map(|(p, m)| match m {
                Message::Request(r) => Some((p, r)),
                Message::Response(_) => None,
            })
            .collect()
    }

    fn take_media(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.media)
    }

    fn blocked(&self, ext: &str) -> bool {
        self.store.extension(ext).unwrap().unwrap().state.blocked
    }
}

/// The nonce of a 401's MD5 challenge (the one the bench answers), or of its first.
fn challenge_nonce(challenge: &Response) -> String {
    let header = challenge
        .headers
        .all("WWW-Authenticate")
        .find(|h| h.contains("MD5"))
        .or_else(|| challenge.headers.get("WWW-Authenticate"))
        .expect("a challenge");
    let quoted = header.split("nonce=\"").nth(1).expect("a nonce");
    quoted.split('"').next().unwrap_or_default().to_owned()
}

/// An `Authorization` value for `user` answering `nonce` in MD5: with qop=auth and
/// count `nc`, or in the RFC 2069 form without qop when `nc` is `None`.
fn answer(
    user: &str,
    password: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    nc: Option<u32>,
) -> String {
    ClientAnswer {
        username: user,
        password,
        realm: "pbx.local",
        nonce,
        method,
        uri,
        algorithm: Algorithm::Md5,
        qop_auth: nc.map(|n| ("c0ffee", n)),
        opaque: None,
    }
    .authorization()
}

/// A fresh branch per request, so no test request is taken for a retransmission.
fn branch() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn register(user: &str, auth: Option<&str>, cseq: u32) -> String {
    register_at(user, 5062, auth, cseq)
}

/// A REGISTER of `user`'s phone listening on `port`.
fn register_at(user: &str, port: u16, auth: Option<&str>, cseq: u32) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let branch = branch();
    format!(
        "REGISTER sip:pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKreg{branch}\r\n\
         From: <sip:{user}@pbx.local>;tag=r1\r\nTo: <sip:{user}@pbx.local>\r\nCall-ID: reg-{user}-{port}\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n{auth}\
         Content-Length: 0\r\n\r\n"
    )
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                     m=audio 6000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n";

fn invite(from: &str, to: &str, call: &str, auth: Option<&str>, cseq: u32) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:{to}@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{call}{cseq}\r\n\
         From: <sip:{from}@pbx.local>;tag=f-{call}\r\nTo: <sip:{to}@pbx.local>\r\nCall-ID: {call}\r\n\
         CSeq: {cseq} INVITE\r\nContact: <sip:{from}@127.0.0.1:5062>\r\nMax-Forwards: 70\r\n{auth}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

fn in_dialog(
    method: &str,
    call: &str,
    to_tag: &str,
    cseq: u32,
    body: Option<(&str, &str)>,
) -> String {
    let (ct, body) = body.map_or((String::new(), ""), |(t, b)| {
        (format!("Content-Type: {t}\r\n"), b)
    });
    format!(
        "{method} sip:pbx@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{call}{method}{cseq}\r\n\
         From: <sip:101@pbx.local>;tag=f-{call}\r\nTo: <sip:*11@pbx.local>;tag={to_tag}\r\nCall-ID: {call}\r\n\
         CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Places an authenticated call and opens its media; returns the 200 OK.
fn answered_call(b: &mut Bench, from: &str, password: &str, to: &str, call: &str) -> Response {
    let (f, t, c) = (from.to_owned(), to.to_owned(), call.to_owned());
    let rs = b.with_auth(phone(5062), from, password, &move |a, n| {
        invite(&f, &t, &c, a, n)
    });
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
    let open = b.media.iter().find_map(|o| match o {
        Output::OpenMedia { call, format, .. } => Some((*call, *format)),
        _ => None,
    });
    let (id, format) = open.expect("media is opened before answering");
    assert_eq!(
        format.telephone_event,
        Some(96),
        "the event type comes from the offer"
    );
    b.input(Input::MediaOpened {
        call: id,
        local: "127.0.0.1:20000".parse().unwrap(),
    });
    let ok = b
        .responses()
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 OK");
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(sdp.contains("m=audio 20000 RTP/AVP 0 96"), "{sdp}");
    ok
}

fn call_id(b: &Bench) -> CallId {
    b.media
        .iter()
        .find_map(|o| match o {
            Output::OpenMedia { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap()
}

fn last_mark(b: &Bench) -> u64 {
    b.media
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Play { mark, .. } => Some(*mark),
            _ => None,
        })
        .expect("something was played")
}

#[test]
fn a_register_is_challenged_then_accepted() {
    let mut b = Bench::new();
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
        register("101", a, n)
    });
    assert_eq!(rs[0].status, 200);
    assert_eq!(
        rs[0].headers.get("Contact").unwrap(),
        "<sip:101@127.0.0.1:5062>;expires=3600"
    );
    assert_eq!(b.switch.registrar.bindings("101", b.now).len(), 1);
}

#[test]
fn challenges_offer_sha256_first() {
    let mut b = Bench::new();
    b.send(phone(5062), &register("101", None, 1));
    let r = b.responses().remove(0);
    let offers: Vec<&str> = r.headers.all("WWW-Authenticate").collect();
    assert!(
        offers[0].contains("SHA-256") && offers[1].contains("MD5"),
        "{offers:?}"
    );
}

#[test]
fn the_configured_order_is_the_offer_and_an_unoffered_answer_is_refused() {
    let mut b = Bench::offering(vec![Algorithm::Md5, Algorithm::Sha256]);
    b.send(phone(5062), &register("101", None, 1));
    let r = b.responses().remove(0);
    assert!(
        r.headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("algorithm=MD5")
    );
    let mut b = Bench::offering(vec![Algorithm::Sha256]);
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
        register("101", a, n)
    });
    assert_eq!(
        rs[0].status, 401,
        "an MD5 answer to a SHA-256-only challenge is no answer"
    );
}

#[test]
fn wrong_passwords_block_the_source_but_first_challenges_do_not() {
    let mut b = Bench::new();
    for n in 0..10 {
        b.send(phone(5062), &register("101", None, n));
    }
    assert!(
        b.statuses().iter().all(|s| *s == 401),
        "plain challenges are not failures"
    );
    for _ in 0..2 {
        let rs = b.with_auth(phone(5062), "101", "wrong", &|a, n| register("101", a, n));
        assert_eq!(rs[0].status, 401);
    }
    let rs = b.with_auth(phone(5062), "101", "wrong", &|a, n| register("101", a, n));
    assert_eq!(rs[0].status, 403, "the third wrong answer blocks");
    b.send(phone(5062), &register("101", None, 99));
    assert_eq!(b.statuses(), [403], "even a fresh request is refused");
    b.send(
        phone(5099).with_ip([127, 0, 0, 2]),
        &register("101", None, 98),
    );
    assert_eq!(b.statuses(), [401], "other sources are not");
    b.wait(300_000);
    b.send(phone(5062), &register("101", None, 97));
    assert_eq!(b.statuses(), [401], "the block ends");
}

trait WithIp {
    fn with_ip(self, ip: [u8; 4]) -> Self;
}
impl WithIp for Peer {
    fn with_ip(mut self, ip: [u8; 4]) -> Peer {
        self.addr = SocketAddr::from((ip, self.addr.port()));
        self
    }
}

#[test]
fn a_stale_nonce_is_challenged_again_with_stale() {
    let mut b = Bench::new();
    b.send(phone(5062), &register("101", None, 1));
    let r = b.responses().remove(0);
    let nonce = challenge_nonce(&r);
    b.wait(301_000);
    let auth = answer(
        "101",
        "sip-pass-101",
        &nonce,
        "REGISTER",
        "sip:pbx.local",
        Some(1),
    );
    b.send(phone(5062), &register("101", Some(&auth), 2));
    let r = b.responses().remove(0);
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
}

#[test]
fn star11_with_events_blocks_the_terminal_then_the_switch_hangs_up() {
    let mut b = Bench::new();
    let ok = answered_call(&mut b, "101", "sip-pass-101", "*11", "c1");
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    let id = call_id(&b);
    assert!(
        b.media.iter().any(|o| matches!(o, Output::Play { .. })),
        "enter-password plays"
    );
    b.sent.clear();
    b.send(phone(5062), &in_dialog("ACK", "c1", &tag, 2, None));
    b.input(Input::Keys {
        call: id,
        keys: "4831#".chars().collect(),
    });
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::StopPlayback { .. })),
        "barge-in"
    );
    assert!(b.blocked("101"));
    assert!(
        b.requests().is_empty(),
        "no BYE while terminal-blocked plays"
    );
    let mark = last_mark(&b);
    b.input(Input::PlayoutDone { call: id, mark });
    let bye = b.requests().remove(0);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(
        bye.uri.raw, "sip:101@127.0.0.1:5062",
        "to the caller's Contact"
    );
    assert_eq!(bye.from().unwrap().tag(), Some(tag.as_str()));
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::CloseMedia { .. }))
    );
    assert_eq!(b.switch.calls(), 0);
}

#[test]
fn sip_info_digits_work_like_key_presses() {
    let mut b = Bench::new();
    let ok = answered_call(&mut b, "101", "sip-pass-101", "*11", "c2");
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    for (n, key) in ["4", "8", "3", "1", "11"].iter().enumerate() {
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        b.send(
            phone(5062),
            &in_dialog(
                "INFO",
                "c2",
                &tag,
                3 + n as u32,
                Some(("application/dtmf-relay", &body)),
            ),
        );
        assert_eq!(b.statuses(), [200]);
    }
    assert!(b.blocked("101"));
}

#[test]
fn a_stale_playout_report_does_not_cut_the_last_prompt() {
    let mut b = Bench::new();
    answered_call(&mut b, "101", "sip-pass-101", "*11", "c3");
    let id = call_id(&b);
    let first = last_mark(&b);
    b.input(Input::Keys {
        call: id,
        keys: "4831#".chars().collect(),
    });
    b.input(Input::PlayoutDone {
        call: id,
        mark: first,
    });
    assert!(
        b.requests().is_empty(),
        "the report is for the prompt that was cut"
    );
    let mark = last_mark(&b);
    b.input(Input::PlayoutDone { call: id, mark });
    assert_eq!(b.requests().remove(0).method, Method::Bye);
}

#[test]
fn a_caller_bye_ends_the_leg() {
    let mut b = Bench::new();
    let ok = answered_call(&mut b, "101", "sip-pass-101", "*11", "c4");
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    b.send(phone(5062), &in_dialog("BYE", "c4", &tag, 3, None));
    assert_eq!(b.statuses(), [200]);
    assert_eq!(b.switch.calls(), 0);
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::CloseMedia { .. }))
    );
    let records = b.store.call_records().unwrap();
    assert_eq!(records.len(), 1, "the engine wrote the CDR");
    b.send(phone(5062), &in_dialog("BYE", "c4", &tag, 4, None));
    assert_eq!(b.statuses(), [481], "a second BYE finds no dialog");
}

#[test]
fn a_blocked_terminal_is_refused_before_any_answer() {
    let mut b = Bench::new();
    b.store
        .set_state(
            "101",
            crate::dsl::plan::StateField::Blocked,
            crate::store::StateValue::Flag(true),
        )
        .unwrap();
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
        invite("101", "95551234", "c6", a, n)
    });
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100, 403]);
    assert!(
        !b.media
            .iter()
            .any(|o| matches!(o, Output::OpenMedia { .. })),
        "never answered"
    );
    // Timer G retransmits both failures (the 401 and the 403) until their ACKs.
    b.wait(600);
    let mut again = b.statuses();
    again.sort();
    assert_eq!(again, [401, 403]);
}

#[test]
fn requests_the_switch_cannot_serve_get_the_rfc_answers() {
    let mut b = Bench::new();
    let base = |method: &str, extra: &str, uri: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{method}{}\r\n\
             From: <sip:101@pbx.local>;tag=x\r\nTo: <sip:pbx.local>\r\nCall-ID: q-{method}\r\n\
             CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            branch()
        )
    };
    let cases = [
        (
            base("OPTIONS", "Max-Forwards: 70\r\n", "sip:pbx.local"),
            200,
        ),
        (base("FOO", "Max-Forwards: 70\r\n", "sip:pbx.local"), 501),
        (
            base("MESSAGE", "Max-Forwards: 70\r\n", "sip:pbx.local"),
            405,
        ),
        (base("OPTIONS", "Max-Forwards: 0\r\n", "sip:pbx.local"), 483),
        (
            base(
                "OPTIONS",
                "Max-Forwards: 70\r\nRequire: foo\r\n",
                "sip:pbx.local",
            ),
            420,
        ),
        (
            base("OPTIONS", "Max-Forwards: 70\r\n", "nobarsip:pbx.local"),
            416,
        ),
        (
            base(
                "INVITE",
                "Max-Forwards: 70\r\nContent-Type: text/plain\r\n",
                "sip:*11@pbx.local",
            ),
            415,
        ),
    ];
    for (text, status) in cases {
        b.send(phone(5062), &text);
        let got: Vec<u16> = b.statuses().into_iter().filter(|s| *s != 100).collect();
        assert_eq!(got, [status], "{}", text.lines().next().unwrap());
    }
}

#[test]
fn a_draining_switch_refuses_new_calls() {
    let mut b = Bench::new();
    b.switch.drain();
    b.send(phone(5062), &invite("101", "*11", "c7", None, 1));
    assert_eq!(b.statuses(), [100, 503]);
}

#[test]
fn a_reload_serves_new_calls_and_lets_old_ones_finish() {
    let mut b = Bench::new();
    answered_call(&mut b, "101", "sip-pass-101", "*11", "c8");
    let old = call_id(&b);
    let engine = engine_for(&b.store);
    let settings = b.switch.settings.clone();
    b.switch.reload(engine, prompts(), settings);
    assert_eq!(b.switch.engines.len(), 2, "the old engine still has a call");
    b.input(Input::Keys {
        call: old,
        keys: "4831#".chars().collect(),
    });
    assert!(b.blocked("101"), "the old call runs on its own plan");
    let mark = last_mark(&b);
    b.input(Input::PlayoutDone { call: old, mark });
    assert_eq!(b.switch.engines.len(), 1, "retired once its calls ended");
}

/// RFC 4475: every message goes through the parser and the switch without a panic, and
/// the ones with a named answer get it.
#[test]
fn rfc4475_torture_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
    let expected: &[(&str, Option<u16>)] = &[
        // 3.1.1 valid: answered (challenged where auth applies) rather than refused.
        ("wsinv", Some(481)),
        ("intmeth", Some(501)),
        ("esc01", Some(401)),
        ("escnull", Some(401)),
        ("esc02", Some(501)),
        ("lwsdisp", Some(200)),
        ("longreq", Some(401)),
        ("dblreq", Some(401)),
        ("semiuri", Some(200)),
        ("transports", Some(200)),
        ("mpart01", Some(405)),
        // 3.1.2 invalid: 400 (505 for a version we do not speak), or dropped.
        ("badinv01", Some(400)),
        ("clerr", Some(400)),
        ("ncl", Some(400)),
        ("scalar02", Some(400)),
        ("scalarlg", None),
        ("quotbal", Some(400)),
        ("ltgtruri", Some(400)),
        ("lwsruri", Some(400)),
        ("lwsstart", Some(400)),
        ("trws", Some(400)),
        ("escruri", Some(400)),
        ("regbadct", Some(400)),
        ("badaspec", Some(400)),
        ("baddn", Some(400)),
        ("badvers", Some(505)),
        ("mismatch01", Some(400)),
        ("mismatch02", Some(501)),
        ("bigcode", None),
        // 3.3 application layer.
        ("insuf", Some(400)),
        ("unkscm", Some(416)),
        ("novelsc", Some(416)),
        ("unksm2", Some(401)),
        ("bext01", Some(420)),
        ("invut", Some(415)),
        ("regaut01", Some(401)),
        ("multi01", Some(400)),
        ("mcl01", Some(400)),
        ("bcast", None),
        ("zeromf", Some(483)),
        ("cparam01", Some(401)),
        ("cparam02", Some(401)),
        ("regescrt", Some(401)),
        ("sdp01", Some(401)),
        ("inv2543", Some(401)),
    ];
    let mut failures = Vec::new();
    for (name, want) in expected {
        let mut b = Bench::new();
        let bytes = std::fs::read(dir.join(format!("{name}.dat"))).unwrap();
        b.input(Input::Received {
            from: phone(5062),
            bytes,
        });
        let got: Vec<u16> = b.statuses().into_iter().filter(|s| *s != 100).collect();
        let want: Vec<u16> = want.iter().copied().collect();
        if got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The probe of issue 8: one authenticated call to an outside number, then its exact
/// `Authorization` header sent again in ten new calls from other addresses, and on a
/// call to another number.
#[test]
fn a_captured_authorization_is_not_accepted_again() {
    let mut b = Bench::new();
    let uri = "sip:9011441234567@pbx.local";
    b.send(
        phone(5062),
        &invite("101", "9011441234567", "first", None, 1),
    );
    let challenge = b.responses().into_iter().find(|r| r.status == 401).unwrap();
    let auth = answer(
        "101",
        "sip-pass-101",
        &challenge_nonce(&challenge),
        "INVITE",
        uri,
        Some(1),
    );
    b.send(
        phone(5062),
        &invite("101", "9011441234567", "first", Some(&auth), 2),
    );
    let first = b.statuses();
    assert!(
        !first.contains(&401),
        "the phone's own answer is taken: {first:?}"
    );
    let calls_after_first = b.switch.next_call;
    assert_eq!(calls_after_first, 2, "the first INVITE became call 1");

    for n in 0..10u8 {
        let from = phone(6000 + u16::from(n)).with_ip([127, 0, 1, n]);
        b.send(
            from,
            &invite(
                "101",
                "9011441234567",
                &format!("replay{n}"),
                Some(&auth),
                1,
            ),
        );
        let rs = b.responses();
        let challenge = rs
            .iter()
            .find(|r| r.status == 401)
            .expect("challenged again");
        assert!(
            challenge
                .headers
                .all("WWW-Authenticate")
                .all(|h| h.contains("stale=true")),
            "{:?}",
            challenge.headers
        );
    }
    b.send(
        phone(5062),
        &invite("101", "9011449999999", "elsewhere", Some(&auth), 1),
    );
    let rs = b.responses();
    assert!(
        rs.iter()
            .any(|r| r.status == 400 && r.reason.contains("Request-URI")),
        "{:?}",
        rs.iter().map(|r| (r.status, &r.reason)).collect::<Vec<_>>()
    );
    assert_eq!(
        b.switch.next_call, calls_after_first,
        "no replay became a call"
    );
}

#[test]
fn a_replayed_register_adds_no_contact_and_a_counting_phone_sees_no_extra_401() {
    let mut b = Bench::new();
    b.send(phone(5062), &register("101", None, 1));
    let nonce = challenge_nonce(&b.responses()[0]);
    let auth = answer(
        "101",
        "sip-pass-101",
        &nonce,
        "REGISTER",
        "sip:pbx.local",
        Some(1),
    );
    b.send(phone(5062), &register("101", Some(&auth), 2));
    assert_eq!(b.statuses(), [200]);

    // The same header from another address, for another contact.
    let replay = register("101", Some(&auth), 3).replace("127.0.0.1:5062>", "10.6.6.6:5060>");
    b.send(phone(5099).with_ip([127, 0, 0, 9]), &replay);
    assert_eq!(b.statuses(), [401]);
    assert_eq!(b.switch.registrar.bindings("101", b.now).len(), 1);

    // The phone refreshes on the same nonce with the next counts: no challenge at all.
    for nc in 2..6 {
        let auth = answer(
            "101",
            "sip-pass-101",
            &nonce,
            "REGISTER",
            "sip:pbx.local",
            Some(nc),
        );
        b.send(phone(5062), &register("101", Some(&auth), nc + 10));
        assert_eq!(b.statuses(), [200], "nc {nc}");
    }
    // Without qop, a nonce is good once.
    b.send(phone(5062), &register("101", None, 30));
    let nonce = challenge_nonce(&b.responses()[0]);
    let bare = answer(
        "101",
        "sip-pass-101",
        &nonce,
        "REGISTER",
        "sip:pbx.local",
        None,
    );
    b.send(phone(5062), &register("101", Some(&bare), 31));
    assert_eq!(b.statuses(), [200]);
    b.send(phone(5062), &register("101", Some(&bare), 32));
    assert_eq!(b.statuses(), [401]);
}

mod bridge;
mod trunk;
mod voicemail;
