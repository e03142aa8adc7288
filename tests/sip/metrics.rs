//! Operations against a real `pbxctl run` with `metrics.listen` set: `GET /health` and
//! `GET /metrics` over plain TCP, and the counters moving as phones register, fail to
//! authenticate, get their address blocked, call each other, and lock a PIN; health
//! turning to 503 when the server drains.

use super::support::{Pbx, Setup, free_port};
use super::wrong_pins_three_times;
use super::{register, registered_phone};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A server with metrics on a port of its own; the address they are served on.
fn with_metrics(digest: &str) -> (Pbx, SocketAddr) {
    let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let extra = format!("metrics: {{ listen: \"{address}\" }}");
    let pbx = Pbx::with(Setup {
        digest,
        extra: &extra,
        ..Setup::default()
    });
    (pbx, address)
}

/// One `GET path` over HTTP/1.1: the status code and the body.
fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address)
        .unwrap_or_else(|e| panic!("no metrics listener on {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    (status, body.to_owned())
}

/// The value of the sample named exactly `series` (name and labels), if there is one.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The sample lines alone, without `# HELP` and `# TYPE`: what a scrape says of calls,
/// phones and secrets.
fn samples(text: &str) -> String {
    let lines = text.lines().filter(|l| !l.starts_with('#'));
    lines.collect::<Vec<_>>().join("\n")
}

/// Scrapes until every series has its value (the switch publishes twice a second), or
/// panics after `limit` with the last scrape.
fn wait_for(pbx: &Pbx, address: SocketAddr, expected: &[(&str, u64)], limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (status, text) = get(address, "/metrics");
        assert_eq!(status, 200, "{text}");
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(series, value)| sample(&text, series) != Some(*value))
            .map(|(series, value)| format!("{series}: {:?}, not {value}", sample(&text, series)))
            .collect();
        if wrong.is_empty() {
            return text;
        }
        if Instant::now() > deadline {
            panic!(
                "after {limit:?}: {}\n--- /metrics ---\n{text}\n{}",
                wrong.join("; "),
                pbx.report()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn health_and_metrics_follow_registrations_failures_and_blocks() {
    let (pbx, address) = with_metrics("[MD5, SHA-256]");
    assert_eq!(
        get(address, "/health"),
        (200, "ok\n".into()),
        "{}",
        pbx.report()
    );
    assert_eq!(get(address, "/nothing").0, 404);
    let (_, before) = get(address, "/metrics");
    assert!(
        before.contains("# TYPE pbxctl_auth_failures_total counter\n"),
        "{before}"
    );
    assert_eq!(sample(&before, "pbxctl_registers_accepted_total"), Some(0));

    register(&pbx, "register", "register.xml", "101", "sip-pass-101").assert_ok(&pbx);
    register(&pbx, "wrong", "register_refused.xml", "101", "wrong").assert_ok(&pbx);
    wait_for(
        &pbx,
        address,
        &[
            ("pbxctl_registers_accepted_total", 1),
            ("pbxctl_registrations", 1),
            ("pbxctl_auth_failures_total", 1),
            ("pbxctl_blocked_sources", 0),
            ("pbxctl_source_blocks_total", 0),
            ("pbxctl_calls_up", 0),
        ],
        Duration::from_secs(5),
    );

    // Four more wrong answers make five in the guard's window: 127.0.0.1 is blocked.
    for n in 0..4 {
        let name = format!("wrong-{n}");
        register(&pbx, &name, "register_refused.xml", "101", "wrong").assert_ok(&pbx);
    }
    let text = wait_for(
        &pbx,
        address,
        &[
            ("pbxctl_auth_failures_total", 5),
            ("pbxctl_blocked_sources", 1),
            ("pbxctl_source_blocks_total", 1),
        ],
        Duration::from_secs(5),
    );
    // No label names an extension or carries a secret.
    for leak in ["101", "sip-pass", "wrong"] {
        assert!(
            !samples(&text).contains(leak),
            "/metrics shows `{leak}`:\n{text}"
        );
    }
    assert_eq!(
        get(address, "/health").0,
        200,
        "a block is no failure of the server"
    );
}

#[test]
fn metrics_follow_a_bridged_call_its_rtp_and_its_record() {
    // baresip 1.0 refuses a 401 with any challenge but MD5.
    let (pbx, address) = with_metrics("[MD5]");
    let mut bob = registered_phone(&pbx, "102", true);
    let mut alice = registered_phone(&pbx, "101", false);
    let answered = alice.dial(&format!("sip:102@127.0.0.1:{}", pbx.port));
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "{answered}\n{}",
        pbx.report()
    );
    bob.event("CALL_ESTABLISHED", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    let during = wait_for(
        &pbx,
        address,
        &[
            ("pbxctl_calls_up", 1),
            ("pbxctl_legs_up", 2),
            ("pbxctl_registrations", 2),
        ],
        Duration::from_secs(5),
    );
    // Two seconds both ways is some 200 packets relayed; loopback loses none, and a
    // busy machine only a few.
    let relayed = sample(&during, "pbxctl_rtp_relayed_packets_total").unwrap_or(0);
    let lost = sample(&during, "pbxctl_rtp_lost_packets_total");
    assert!(relayed >= 100, "{relayed} relayed\n{during}");
    assert!(
        lost.is_some_and(|l| l * 20 < relayed),
        "{lost:?} lost\n{during}"
    );

    assert_eq!(bob.command("hangup", "")["ok"], true);
    alice.event("CALL_CLOSED", Duration::from_secs(5));
    let after = wait_for(
        &pbx,
        address,
        &[
            ("pbxctl_calls_up", 0),
            ("pbxctl_legs_up", 0),
            ("pbxctl_calls_total{status=\"answered\"}", 1),
            ("pbxctl_calls_total{status=\"no-answer\"}", 0),
        ],
        Duration::from_secs(5),
    );
    // The count agrees with the call record.
    let records = pbx.cdr();
    let statuses: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["answered"], "{records}\n{after}");
    let more = sample(&after, "pbxctl_rtp_relayed_packets_total").unwrap_or(0);
    assert!(
        more >= relayed,
        "a counter never goes down: {more} < {relayed}"
    );

    // A drain with a call up: health says so while metrics are still served.
    let again = alice.dial(&format!("sip:102@127.0.0.1:{}", pbx.port));
    assert_eq!(
        again["type"],
        "CALL_ESTABLISHED",
        "{again}\n{}",
        pbx.report()
    );
    bob.event("CALL_ESTABLISHED", Duration::from_secs(5));
    assert_eq!(get(address, "/health").0, 200, "{}", pbx.report());
    pbx.terminate();
    let deadline = Instant::now() + Duration::from_secs(5);
    let health = loop {
        let health = get(address, "/health");
        if health.0 != 200 || Instant::now() > deadline {
            break health;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health, (503, "draining\n".into()), "{}", pbx.report());
    wait_for(
        &pbx,
        address,
        &[("pbxctl_calls_up", 1)],
        Duration::from_secs(2),
    );
    assert_eq!(bob.command("hangup", "")["ok"], true);
}

#[test]
fn a_pin_locked_by_wrong_entries_is_counted_by_kind_and_its_call_by_status() {
    // 7777 asks 102 for its voicemail PIN; the third wrong one locks it
    // (mailbox_lockout) and ends the call. SIPp knows MD5 only.
    let (pbx, address) = with_metrics("[MD5, SHA-256]");
    wrong_pins_three_times(&pbx, "pin-lockout");
    let records = pbx.cdr();
    let status = records[0]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{records}"));
    let series = format!("pbxctl_calls_total{{status=\"{status}\"}}");
    let text = wait_for(
        &pbx,
        address,
        &[
            ("pbxctl_lockouts_total{secret=\"voicemail\"}", 1),
            (&series, 1),
            ("pbxctl_calls_up", 0),
        ],
        Duration::from_secs(5),
    );
    for leak in ["102", "9999", "1357"] {
        assert!(
            !samples(&text).contains(leak),
            "/metrics shows `{leak}`:\n{text}"
        );
    }
}
