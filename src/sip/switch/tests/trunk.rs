//! Trunks: registering with a provider, calls out through it (prefix stripped, the
//! extension's caller ID, its challenges answered), calls in to its DIDs, and
//! emergency calls on the emergency trunk. The carrier listens on 5080, the
//! emergency trunk on 5090; 102's phone on 5072.

use super::*;
use crate::sip::auth::client::response_for;
use crate::sip::auth::{Credentials, Password};
use crate::sip::message::response_to;
use crate::sip::trunk::registration::State;
use crate::sip::trunk::{CallerId, Did, Trunk};
use std::collections::BTreeMap;

const CARRIER: u16 = 5080;
const PSAP: u16 = 5090;

fn trunk(name: &str, port: u16) -> Trunk {
    Trunk {
        name: name.into(),
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        domain: format!("127.0.0.1:{port}"),
        account: Some(("pbx01".into(), Password::new("trunk-secret"))),
        register: false,
        caller_id: CallerId::Extension,
        dids: BTreeMap::from([
            ("5550102".to_string(), Did::Extension("102".into())),
            ("5550100".to_string(), Did::Disa),
        ]),
        outbound: true,
        emergency: false,
    }
}

fn carrier() -> Trunk {
    trunk("carrier", CARRIER)
}

/// The carrier and, on its own address, the emergency trunk.
fn with_psap() -> Bench {
    let psap = Trunk {
        outbound: false,
        emergency: true,
        account: None,
        dids: BTreeMap::new(),
        ..trunk("psap", PSAP)
    };
    Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier(), psap]))
}

fn registering() -> Bench {
    let t = Trunk {
        register: true,
        ..carrier()
    };
    Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![t]))
}

impl Bench {
    /// The trunk on `port` answers `request` with `status` and these headers.
    fn trunk_answers(
        &mut self,
        port: u16,
        request: &Request,
        status: u16,
        headers: &[(&str, &str)],
    ) {
        let mut r = response_to(request, status, "", Some("carrier-tag"));
        for (name, value) in headers {
            r.headers.push(name, *value);
        }
        self.input(Input::Received {
            from: phone(port),
            bytes: r.to_bytes(),
        });
    }

    /// The requests that went to `port`.
    fn requests_to(&mut self, port: u16) -> Vec<Request> {
        self.sent_requests()
            .into_iter()
            .filter(|(p, _)| p.addr.port() == port)
            .map(|(_, r)| r)
            .collect()
    }

    fn registration(&self) -> State {
        self.switch.registrations["carrier"].state()
    }
}

/// The digest answer in `header` is right for pbx01/trunk-secret, `method` and the
/// Request-URI `uri`; returns its nonce count.
fn assert_answer(header: &str, method: &str, uri: &str) -> String {
    let creds =
        Credentials::parse(header).unwrap_or_else(|| panic!("not a digest answer: {header}"));
    assert_eq!(
        (creds.username.as_str(), creds.realm.as_str()),
        ("pbx01", "carrier")
    );
    assert_eq!(creds.uri, uri);
    let nc = creds.nc.clone().expect("qop=auth answers carry a count");
    let expected = response_for(&ClientAnswer {
        username: "pbx01",
        password: "trunk-secret",
        realm: "carrier",
        nonce: &creds.nonce,
        method,
        uri,
        algorithm: creds.algorithm,
        qop_auth: Some((
            creds.cnonce.as_deref().unwrap(),
            u32::from_str_radix(&nc, 16).unwrap(),
        )),
        opaque: creds.opaque.as_deref(),
    });
    assert_eq!(creds.response, expected, "the response is computed right");
    nc
}

const CHALLENGE: &str =
    "Digest realm=\"carrier\", nonce=\"n-1\", algorithm=MD5, qop=\"auth\", opaque=\"op\"";

#[test]
fn registration_answers_the_challenge_and_refreshes_at_half_the_grant() {
    let mut b = registering();
    b.wait(0);
    let first = b.requests_to(CARRIER);
    assert_eq!(first.len(), 1, "one REGISTER at start");
    let register = &first[0];
    assert_eq!(register.method, Method::Register);
    assert_eq!(register.uri.to_string(), "sip:127.0.0.1:5080");
    assert_eq!(register.to().unwrap().uri.user.as_deref(), Some("pbx01"));
    assert_eq!(
        register.contacts()[0].uri.to_string(),
        "sip:pbx01@127.0.0.1:5060"
    );
    assert_eq!(register.expires(), Some(3600));
    assert!(!register.headers.contains("Authorization"));

    b.trunk_answers(CARRIER, register, 401, &[("WWW-Authenticate", CHALLENGE)]);
    let again = b.requests_to(CARRIER);
    assert_eq!(again.len(), 1, "the challenge is answered at once");
    let answered = &again[0];
    assert_eq!(answered.call_id(), register.call_id());
    assert_eq!(
        answered.from().unwrap().tag(),
        register.from().unwrap().tag()
    );
    assert_eq!(answered.cseq().unwrap().seq, 2);
    let header = answered.headers.get("Authorization").expect("credentials");
    assert!(header.contains("opaque=\"op\""), "{header}");
    assert_eq!(
        assert_answer(header, "REGISTER", "sip:127.0.0.1:5080"),
        "00000001"
    );

    let granted = "<sip:pbx01@127.0.0.1:5060>;expires=120";
    b.trunk_answers(CARRIER, answered, 200, &[("Contact", granted)]);
    assert!(matches!(b.registration(), State::Registered { .. }));
    b.wait(59_000);
    assert!(
        b.requests_to(CARRIER).is_empty(),
        "not before half the grant"
    );
    b.wait(1_000);
    let refresh = b.requests_to(CARRIER);
    assert_eq!(refresh.len(), 1, "refreshed at 60 s of 120");
    assert_eq!(refresh[0].cseq().unwrap().seq, 3);
    let header = refresh[0]
        .headers
        .get("Authorization")
        .expect("the last nonce, again");
    assert_eq!(
        assert_answer(header, "REGISTER", "sip:127.0.0.1:5080"),
        "00000002"
    );
}

#[test]
fn a_refused_registration_is_tried_again_later_and_the_secret_never_leaves() {
    let mut b = registering();
    b.wait(0);
    let register = b.requests_to(CARRIER).remove(0);
    b.trunk_answers(CARRIER, &register, 401, &[("WWW-Authenticate", CHALLENGE)]);
    let answered = b.requests_to(CARRIER).remove(0);
    // Challenged again with a nonce that is not stale: the credentials are wrong.
    b.trunk_answers(CARRIER, &answered, 401, &[("WWW-Authenticate", CHALLENGE)]);
    assert_eq!(b.registration(), State::Failed);
    assert!(b.requests_to(CARRIER).is_empty(), "no loop of answers");
    b.wait(29_000);
    assert!(b.requests_to(CARRIER).is_empty());
    b.wait(1_000);
    let retry = b.requests_to(CARRIER);
    assert_eq!(retry.len(), 1, "tried again after 30 s");
    for r in [register, answered].iter().chain(&retry) {
        let text = String::from_utf8_lossy(&r.to_bytes()).into_owned();
        assert!(!text.contains("trunk-secret"), "{text}");
    }
}

#[test]
fn a_drain_takes_the_registration_away() {
    let mut b = registering();
    b.wait(0);
    let register = b.requests_to(CARRIER).remove(0);
    b.trunk_answers(CARRIER, &register, 200, &[("Expires", "600")]);
    b.switch.drain();
    b.wait(0);
    let gone = b.requests_to(CARRIER);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].expires(), Some(0));
    b.trunk_answers(CARRIER, &gone[0], 200, &[]);
    assert_eq!(b.registration(), State::Off);
    assert_eq!(b.switch.next_deadline().map(|d| d > b.now), Some(true));
}

/// 101 dials `dialed`; the placed leg's RTP opens. Returns the INVITEs sent.
fn dial_out(b: &mut Bench, dialed: &str, call: &str) -> Vec<(Peer, Request)> {
    let (d, c) = (dialed.to_owned(), call.to_owned());
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &move |a, n| {
        invite("101", &d, &c, a, n)
    });
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
    let placed = b.placed_media("the placed leg's RTP opens first");
    b.placed_media_opened(placed);
    b.sent_requests()
}

#[test]
fn an_outside_call_leaves_on_the_trunk_without_the_prefix_with_the_callers_id() {
    let mut b = Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier()]));
    let sent = dial_out(&mut b, "95551234", "t1");
    assert_eq!(sent.len(), 1);
    let (peer, invite) = &sent[0];
    assert_eq!(peer.addr, SocketAddr::from(([127, 0, 0, 1], CARRIER)));
    assert_eq!(
        invite.uri.to_string(),
        "sip:5551234@127.0.0.1:5080",
        "prefix stripped"
    );
    let from = invite.from().unwrap();
    // examples/pbx.yaml gives 101 the caller ID 5550101.
    assert_eq!(from.uri.user.as_deref(), Some("5550101"));
    assert_eq!(from.uri.host, "127.0.0.1");
    assert_eq!(invite.to().unwrap().uri.user.as_deref(), Some("5551234"));

    // The carrier asks its proxy's credentials: the same INVITE again with them.
    let proxy = CHALLENGE.replace("MD5", "SHA-256");
    b.trunk_answers(CARRIER, invite, 407, &[("Proxy-Authenticate", &proxy)]);
    let sent = b.requests_to(CARRIER);
    let methods: Vec<&Method> = sent.iter().map(|r| &r.method).collect();
    assert_eq!(
        methods,
        [&Method::Ack, &Method::Invite],
        "the 407 acknowledged, then"
    );
    let again = &sent[1];
    assert_eq!(again.call_id(), invite.call_id());
    assert_eq!(again.from().unwrap().tag(), from.tag());
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert_ne!(
        again.top_via().unwrap().branch,
        invite.top_via().unwrap().branch
    );
    let header = again
        .headers
        .get("Proxy-Authorization")
        .expect("credentials");
    assert_answer(header, "INVITE", "sip:5551234@127.0.0.1:5080");

    b.reply(CARRIER, again, 183, false);
    b.reply(CARRIER, again, 200, true);
    let acks = b.requests_to(CARRIER);
    assert_eq!(acks.len(), 1);
    assert_eq!(
        (&acks[0].method, acks[0].cseq().unwrap().seq),
        (&Method::Ack, 2)
    );
    let (caller, _) = super::bridge::caller_answered(&mut b);
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::Bridge { a, .. } if *a == caller))
    );

    // The caller hangs up: BYE to the carrier, past the INVITE's CSeq.
    let tag = b.switch.calls[&caller].local_tag.clone();
    b.send(phone(5062), &in_dialog("BYE", "t1", &tag, 3, None));
    let bye = b.requests_to(CARRIER);
    assert_eq!(bye.len(), 1);
    assert_eq!(
        (&bye[0].method, bye[0].cseq().unwrap().seq),
        (&Method::Bye, 3)
    );
    let record = &b.store.call_records().unwrap()[0];
    assert_eq!(
        (
            record.to.as_str(),
            record.kind.as_str(),
            record.status.as_str()
        ),
        ("95551234", "outbound", "answered")
    );
}

#[test]
fn a_trunk_refusing_our_credentials_fails_the_call() {
    let mut b = Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier()]));
    let sent = dial_out(&mut b, "95551234", "t2");
    b.trunk_answers(
        CARRIER,
        &sent[0].1,
        407,
        &[("Proxy-Authenticate", CHALLENGE)],
    );
    let again = b.requests_to(CARRIER).pop().unwrap();
    b.statuses();
    b.trunk_answers(CARRIER, &again, 407, &[("Proxy-Authenticate", CHALLENGE)]);
    let methods: Vec<Method> = b
        .requests_to(CARRIER)
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(methods, [Method::Ack], "no third INVITE");
    assert_eq!(b.statuses(), [480]);
}

#[test]
fn without_a_trunk_an_outside_call_is_unavailable() {
    let mut b = Bench::new();
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
        invite("101", "95551234", "t3", a, n)
    });
    assert_eq!(rs.last().map(|r| r.status), Some(480));
}

#[test]
fn a_class_4_extension_is_refused_outside_and_its_emergency_call_takes_the_emergency_trunk() {
    let mut b = with_psap();
    let rs = b.with_auth(phone(5062), "103", "sip-pass-103", &|a, n| {
        invite("103", "95551234", "t4", a, n)
    });
    assert_eq!(
        rs.last().map(|r| r.status),
        Some(403),
        "class 4 is internal only"
    );
    assert!(b.sent_requests().is_empty(), "nothing went to any trunk");

    for (dialed, call) in [("911", "t5"), ("9911", "t6")] {
        let rs = b.with_auth(phone(5062), "103", "sip-pass-103", &|a, n| {
            invite("103", dialed, call, a, n)
        });
        assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
        let placed = b.placed_media("an emergency leg is placed");
        b.placed_media_opened(placed);
        let sent = b.sent_requests();
        assert_eq!(sent.len(), 1, "{dialed}");
        assert_eq!(
            sent[0].0.addr.port(),
            PSAP,
            "{dialed}: on the emergency trunk"
        );
        assert_eq!(sent[0].1.uri.to_string(), "sip:911@127.0.0.1:5090");
        assert_eq!(sent[0].1.from().unwrap().uri.user.as_deref(), Some("103"));
    }
}

#[test]
fn an_emergency_call_the_emergency_trunk_does_not_take_goes_on_to_the_outbound_one() {
    let mut b = with_psap();
    let rs = b.with_auth(phone(5062), "103", "sip-pass-103", &|a, n| {
        invite("103", "911", "t12", a, n)
    });
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
    let placed = b.placed_media("an emergency leg is placed");
    b.placed_media_opened(placed);
    let first = b.requests_to(PSAP).remove(0);
    b.trunk_answers(PSAP, &first, 503, &[]);
    let sent = b.sent_requests();
    let to_carrier: Vec<&Request> = sent
        .iter()
        .filter(|(p, _)| p.addr.port() == CARRIER)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(to_carrier.len(), 1, "{sent:?}");
    let again = to_carrier[0];
    assert_eq!(again.method, Method::Invite);
    assert_eq!(again.uri.to_string(), "sip:911@127.0.0.1:5080");
    assert_eq!(again.from().unwrap().uri.user.as_deref(), Some("103"));
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert!(b.statuses().is_empty(), "the caller is not refused");

    // The carrier challenges it (the account is the carrier's), then answers.
    b.trunk_answers(CARRIER, again, 407, &[("Proxy-Authenticate", CHALLENGE)]);
    let answered = b.requests_to(CARRIER).pop().unwrap();
    assert_answer(
        answered.headers.get("Proxy-Authorization").unwrap(),
        "INVITE",
        "sip:911@127.0.0.1:5080",
    );
    b.reply(CARRIER, &answered, 200, true);
    let (caller, ok) = super::bridge::caller_answered(&mut b);
    assert_eq!(ok.status, 200);
    assert!(b.switch.calls.contains_key(&caller));
}

#[test]
fn an_outside_call_the_trunk_does_not_take_goes_nowhere_else() {
    let mut b = with_psap();
    let sent = dial_out(&mut b, "95551234", "t13");
    assert_eq!(sent[0].0.addr.port(), CARRIER);
    b.trunk_answers(CARRIER, &sent[0].1, 503, &[]);
    let methods: Vec<Method> = b
        .sent_requests()
        .into_iter()
        .map(|(_, r)| r.method)
        .collect();
    assert_eq!(methods, [Method::Ack], "not to the emergency trunk");
    assert_eq!(b.statuses(), [480]);
}

#[test]
fn without_an_emergency_trunk_emergency_calls_take_the_outbound_one() {
    let mut b = Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier()]));
    let sent = dial_out(&mut b, "112", "t7");
    assert_eq!(sent[0].0.addr.port(), CARRIER);
    assert_eq!(sent[0].1.uri.to_string(), "sip:112@127.0.0.1:5080");
}

/// An INVITE from the carrier to `did`, from `caller`.
fn from_carrier(did: &str, caller: &str, call: &str) -> String {
    format!(
        "INVITE sip:{did}@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{CARRIER};branch=z9hG4bK{call}\r\n\
         From: <sip:{caller}@carrier>;tag=c-{call}\r\nTo: <sip:{did}@127.0.0.1>\r\nCall-ID: {call}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:{caller}@127.0.0.1:{CARRIER}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

#[test]
fn a_call_to_a_did_rings_its_extension_without_a_challenge() {
    let mut b = Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier()]));
    b.register_phone("102", "sip-pass-102", 5072);
    b.sent.clear();
    b.send(phone(CARRIER), &from_carrier("5550102", "5559876", "t8"));
    let statuses = b.statuses();
    assert_eq!(statuses, [100, 180], "not challenged; the extension rings");
    let placed = b.placed_media("102's leg is placed");
    b.placed_media_opened(placed);
    let sent = b.sent_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.addr.port(), 5072);
    assert_eq!(
        sent[0].1.from().unwrap().uri.user.as_deref(),
        Some("5559876")
    );
    // 102 remembers the outside caller for *76 (FC-3).
    let ext = b.store.extension("102").unwrap().unwrap();
    assert_eq!(ext.state.last_external_caller.as_deref(), Some("5559876"));

    // A number that is not a DID: 404. The DID from anywhere else: challenged.
    b.send(phone(CARRIER), &from_carrier("5550199", "5559876", "t9"));
    assert_eq!(b.statuses().last(), Some(&404));
    let elsewhere = from_carrier("5550102", "5559876", "t10").replace(
        &format!("127.0.0.1:{CARRIER};branch"),
        "127.0.0.1:5066;branch",
    );
    b.send(phone(5066), &elsewhere);
    assert_eq!(b.statuses().last(), Some(&401));
}

#[test]
fn a_did_for_disa_answers_and_asks_for_the_code() {
    let mut b = Bench::with(DEFAULT_ALGORITHMS.to_vec(), Trunks(vec![carrier()]));
    b.send(phone(CARRIER), &from_carrier("5550100", "5559876", "t11"));
    assert_eq!(b.statuses(), [100]);
    let caller = call_id(&b);
    b.input(Input::MediaOpened {
        call: caller,
        local: "127.0.0.1:20000".parse().unwrap(),
    });
    assert_eq!(b.statuses(), [200], "DISA answers");
    assert!(
        b.media.iter().any(|o| matches!(o, Output::Play { .. })),
        "enter-code plays"
    );
}
