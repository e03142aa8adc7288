//! Trunks against SIPp as the carrier: registration and an outside call through it
//! (digest answered, the prefix stripped, the extension's caller ID), the
//! same from a baresip softphone, the registration refreshed before it lapses, a class-4
//! extension refused outside while its 911 reaches the emergency trunk, and a call
//! from the carrier to a DID ringing the extension's phone, and one to a DISA DID.

use super::baresip;
use super::support::{Pbx, Setup, Sipp, SippProcess, free_port, render, sip_file};
use super::*;
use std::net::UdpSocket;
use std::path::PathBuf;

/// Writes `template` (a file of tests/sip/) with `values` filled in to the test folder.
fn scenario(pbx: &Pbx, template: &str, name: &str, values: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(sip_file(template)).unwrap();
    let path = pbx.dir().join(format!("{name}.xml"));
    std::fs::write(&path, render(&text, values)).unwrap();
    path
}

/// The one call record whose `to` is `to`, as (from, final, type, status).
fn record_to(pbx: &Pbx, to: &str) -> (String, String, String, String) {
    let records = pbx.cdr();
    let r = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["to"] == to)
        .unwrap_or_else(|| panic!("no call record to {to}: {records}"));
    let field = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
    (
        field("from"),
        field("final"),
        field("type"),
        field("status"),
    )
}

/// SIPp as the carrier on `port`, account pbx01: it takes our REGISTER, then one call to
/// 5551234 showing 101's caller ID, which it answers and hangs up after `talk_ms`.
/// Returns once the PBX says it is registered there.
fn carrier_for_one_call(pbx: &Pbx, port: u16, talk_ms: &str) -> SippProcess {
    let carrier = scenario(
        pbx,
        "carrier.xml",
        "carrier",
        &[
            ("number", "5551234"),
            ("caller_id", "5550101"),
            ("user", "pbx01"),
            ("secret", "trunk-secret"),
            ("talk_ms", talk_ms),
        ],
    );
    // The REGISTER sent at start is retransmitted until the carrier is up to answer.
    let carrier = Sipp::uas(pbx, "carrier", &carrier, port, 2).spawn();
    if !pbx.wait_for_log("registered with the trunk", Duration::from_secs(20)) {
        panic!("not registered with the carrier\n{}", pbx.report());
    }
    carrier
}

#[test]
fn an_outside_call_reaches_the_carrier_without_the_prefix_and_with_the_callers_id() {
    let port = free_port();
    let pbx = Pbx::with(Setup {
        trunks: format!(
            "trunks:\n  carrier:\n    address: \"127.0.0.1:{port}\"\n    username: pbx01\n    \
             secret: \"trunk-secret\"\n    register: true\n    dids: {{ \"5550101\": \"101\" }}\n"
        ),
        ..Setup::default()
    });
    let carrier = carrier_for_one_call(&pbx, port, "1000");
    // 101 dials 9 5551234; the carrier hangs up after a second, and the PBX then hangs
    // up 101.
    FeatureCall {
        name: "outside-call",
        caller: "101",
        secret: "sip-pass-101",
        code: "95551234",
        media: offer_pcmu_only(),
        answer: answer_pcmu_only(),
        keys: Keys::Info(""),
        bye_within: Duration::from_secs(10),
    }
    .run(&pbx)
    .assert_ok(&pbx);
    // The carrier checked the Request-URI, the caller ID and both digest answers.
    carrier.wait().assert_ok(&pbx);
    assert_eq!(
        record_to(&pbx, "95551234"),
        (
            "101".into(),
            "5551234".into(),
            "outbound".into(),
            "answered".into()
        )
    );
    let log = pbx.log();
    assert!(
        !log.contains("trunk-secret"),
        "the trunk's secret is in the log:\n{log}"
    );
    // Nor in the database (its WAL too), where the extensions' secrets go hashed.
    for file in ["pbx.db", "pbx.db-wal"] {
        let bytes = std::fs::read(pbx.dir().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("trunk-secret"),
            "the trunk's secret is in {file}"
        );
    }
}

#[test]
fn a_softphone_calls_out_through_the_registered_trunk_as_the_readme_says() {
    let port = free_port();
    // baresip 1.0 takes a challenge list of MD5 only.
    let pbx = Pbx::with(Setup {
        digest: "[MD5]",
        trunks: format!(
            "trunks:\n  carrier:\n    address: \"127.0.0.1:{port}\"\n    username: pbx01\n    \
             secret: \"trunk-secret\"\n    register: true\n"
        ),
        ..Setup::default()
    });
    let carrier = carrier_for_one_call(&pbx, port, "1500");
    // Alice, on 101, dials 9 and the number; the carrier answers, then hangs up.
    let mut alice = registered_phone(&pbx, "101", false);
    let answered = alice.dial(&format!("sip:95551234@127.0.0.1:{}", pbx.port));
    assert_eq!(
        answered["type"],
        "CALL_ESTABLISHED",
        "{answered}\n{}",
        pbx.report()
    );
    alice.event("CALL_CLOSED", Duration::from_secs(10));
    carrier.wait().assert_ok(&pbx);
    assert_eq!(
        record_to(&pbx, "95551234"),
        (
            "101".into(),
            "5551234".into(),
            "outbound".into(),
            "answered".into()
        )
    );
}

#[test]
fn the_registration_is_refreshed_before_it_lapses_with_the_last_nonce_counted_up() {
    let port = free_port();
    let pbx = Pbx::with(Setup {
        trunks: format!(
            "trunks:\n  carrier:\n    address: \"127.0.0.1:{port}\"\n    username: pbx01\n    \
             secret: \"trunk-secret\"\n    register: true\n"
        ),
        ..Setup::default()
    });
    // A grant of 2 s: the refresh is due after 1 s, and the registrar gives up at 2 s.
    let registrar = scenario(
        &pbx,
        "registrar.xml",
        "registrar",
        &[
            ("user", "pbx01"),
            ("secret", "trunk-secret"),
            ("expires", "2"),
        ],
    );
    Sipp::uas(&pbx, "registrar", &registrar, port, 1)
        .spawn()
        .wait()
        .assert_ok(&pbx);
    let log = pbx.log();
    assert!(
        log.contains("registered with the trunk") && log.contains("registration refreshed"),
        "{}",
        pbx.report()
    );
    assert!(
        !log.contains("trunk-secret"),
        "the trunk's secret is in the log:\n{log}"
    );
}

#[test]
fn a_class_4_extension_is_refused_outside_and_its_911_reaches_the_emergency_trunk() {
    // The outbound trunk is a socket of this test: nothing may reach it.
    let outbound = UdpSocket::bind("127.0.0.1:0").unwrap();
    outbound.set_nonblocking(true).unwrap();
    let psap_port = free_port();
    let pbx = Pbx::with(Setup {
        trunks: format!(
            "trunks:\n  carrier: {{ address: \"{}\" }}\n  \
             psap: {{ address: \"127.0.0.1:{psap_port}\", emergency: true, outbound: false }}\n",
            outbound.local_addr().unwrap()
        ),
        ..Setup::default()
    });
    let psap = scenario(
        &pbx,
        "answer.xml",
        "psap",
        &[("number", "911"), ("talk_ms", "1000")],
    );
    let psap = Sipp::uas(&pbx, "psap", &psap, psap_port, 1).spawn();

    // 103 is class 4, internal only: an outside number is refused.
    let refused = scenario(
        &pbx,
        "refused.xml",
        "refused",
        &[("caller", "103"), ("status", "403")],
    );
    let uri = format!("sip:95551234@127.0.0.1:{}", pbx.port);
    Sipp::new(&pbx, "refused", &refused, "95551234")
        .auth("103", "sip-pass-103", &uri)
        .run()
        .assert_ok(&pbx);

    // Its 911 is never refused, and goes out on the emergency trunk.
    FeatureCall {
        name: "emergency",
        caller: "103",
        secret: "sip-pass-103",
        code: "911",
        media: offer_pcmu_only(),
        answer: answer_pcmu_only(),
        keys: Keys::Info(""),
        bye_within: Duration::from_secs(10),
    }
    .run(&pbx)
    .assert_ok(&pbx);
    psap.wait().assert_ok(&pbx);
    let mut buf = [0u8; 2048];
    if let Ok((n, from)) = outbound.recv_from(&mut buf) {
        panic!(
            "the outbound trunk got a message from {from}:\n{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    assert_eq!(record_to(&pbx, "95551234").3, "rejected");
    assert_eq!(
        record_to(&pbx, "911"),
        (
            "103".into(),
            "911".into(),
            "outbound".into(),
            "answered".into()
        )
    );
}

#[test]
fn a_call_from_the_carrier_to_a_did_rings_the_extension() {
    let port = free_port();
    // baresip 1.0 takes a challenge list of MD5 only.
    let pbx = Pbx::with(Setup {
        digest: "[MD5]",
        trunks: format!(
            "trunks:\n  carrier:\n    address: \"127.0.0.1:{port}\"\n    \
             dids: {{ \"5550101\": \"101\" }}\n"
        ),
        ..Setup::default()
    });
    // 101's phone: 102's also subscribes to message waiting, which has nothing to do
    // with trunks.
    let mut alice: baresip::Baresip = registered_phone(&pbx, "101", true);
    let call = scenario(
        &pbx,
        "carrier_call.xml",
        "from-carrier",
        &[("caller", "5559876"), ("talk_ms", "2000")],
    );
    // From the trunk's address, so not challenged (a 401 would fail the scenario).
    Sipp::new(&pbx, "from-carrier", &call, "5550101")
        .sending_from(port)
        .run()
        .assert_ok(&pbx);
    alice.event("CALL_ESTABLISHED", Duration::from_secs(2));
    assert_eq!(
        record_to(&pbx, "101"),
        (
            "5559876".into(),
            "101".into(),
            "inbound".into(),
            "answered".into()
        )
    );
}

#[test]
fn a_call_from_the_carrier_to_a_disa_did_is_answered_by_disa() {
    let port = free_port();
    let pbx = Pbx::with(Setup {
        trunks: format!(
            "trunks:\n  carrier:\n    address: \"127.0.0.1:{port}\"\n    \
             dids: {{ \"5550100\": disa }}\n"
        ),
        ..Setup::default()
    });
    let call = scenario(
        &pbx,
        "carrier_call.xml",
        "to-disa",
        &[("caller", "5559876"), ("talk_ms", "1500")],
    );
    // DISA answers (a 200) and asks for the code; the carrier hangs up.
    Sipp::new(&pbx, "to-disa", &call, "5550100")
        .sending_from(port)
        .run()
        .assert_ok(&pbx);
    let (from, _, kind, _) = record_to(&pbx, "5550100");
    assert_eq!((from.as_str(), kind.as_str()), ("5559876", "inbound"));
}
