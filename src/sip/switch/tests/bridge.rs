//! The back-to-back user agent: 101 calls 103 (no voicemail, so busy and no answer end
//! the call), whose phones listen on ports 5072 and 5073.

use super::*;
use crate::sip::message::response_to;

pub(super) const CALLEE_SDP: &str = "v=0\r\no=- 9 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                          m=audio 7000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
                          a=rtpmap:101 telephone-event/8000\r\n";
pub(super) const PLACED_RTP: &str = "127.0.0.1:20010";
const CALLER_RTP: &str = "127.0.0.1:20000";

impl Bench {
    /// The leg the switch placed (its RTP is opened before its INVITE, with no far end
    /// yet); `what` says why the test expects one.
    pub(super) fn placed_media(&mut self, what: &str) -> CallId {
        self.take_media()
            .into_iter()
            .find_map(|o| match o {
                Output::OpenMedia {
                    call, remote: None, ..
                } => Some(call),
                _ => None,
            })
            .expect(what)
    }

    /// The placed leg's RTP is open at [`PLACED_RTP`]: its INVITEs go out.
    pub(super) fn placed_media_opened(&mut self, call: CallId) {
        self.input(Input::MediaOpened {
            call,
            local: PLACED_RTP.parse().unwrap(),
        });
    }

    /// A callee's phone answers one of our requests.
    pub(super) fn reply(&mut self, port: u16, request: &Request, status: u16, with_sdp: bool) {
        let mut r = response_to(request, status, "", Some(&format!("callee-{port}")));
        r.headers
            .push("Contact", format!("<sip:103@127.0.0.1:{port}>"));
        if with_sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = CALLEE_SDP.as_bytes().to_vec();
        }
        self.input(Input::Received {
            from: phone(port),
            bytes: r.to_bytes(),
        });
    }
}

/// 101 calls 103 with phones on `ports`; the placed leg's RTP opens. Returns the placed
/// leg and the INVITE each phone got.
fn ringing(b: &mut Bench, ports: &[u16], call: &str) -> (CallId, Vec<(u16, Request)>) {
    for port in ports {
        b.register_phone("103", "sip-pass-103", *port);
    }
    let c = call.to_owned();
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &move |a, n| {
        invite("101", "103", &c, a, n)
    });
    let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [100, 180],
        "the caller hears ringing while the phones ring"
    );
    let placed = b.placed_media("the placed leg's RTP is opened before any INVITE");
    assert!(
        b.sent_requests().is_empty(),
        "no INVITE before the offer has a port"
    );
    b.placed_media_opened(placed);
    let invites: Vec<(u16, Request)> = b
        .sent_requests()
        .into_iter()
        .map(|(peer, r)| (peer.addr.port(), r))
        .collect();
    (placed, invites)
}

/// The caller's leg is answered once the callee's is: its RTP opens, then its 200.
pub(super) fn caller_answered(b: &mut Bench) -> (CallId, Response) {
    let caller = b
        .take_media()
        .into_iter()
        .find_map(|o| match o {
            Output::OpenMedia {
                call,
                remote: Some(_),
                ..
            } => Some(call),
            _ => None,
        })
        .expect("the caller's RTP opens when the callee answers");
    b.input(Input::MediaOpened {
        call: caller,
        local: CALLER_RTP.parse().unwrap(),
    });
    let ok = b
        .responses()
        .into_iter()
        .find(|r| r.status == 200 && r.cseq().is_some_and(|c| c.method == Method::Invite))
        .expect("the caller's 200");
    (caller, ok)
}

/// Call b1 from 101 to 103, answered by the phone on 5072 and bridged.
fn bridged(b: &mut Bench, call: &str) -> (CallId, CallId, Request, String) {
    let (placed, invites) = ringing(b, &[5072], call);
    let (_, invite) = invites.into_iter().next().expect("an INVITE");
    b.reply(5072, &invite, 200, true);
    let (caller, ok) = caller_answered(b);
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    (caller, placed, invite, tag)
}

#[test]
fn every_phone_of_the_extension_rings_and_the_first_answer_wins() {
    let mut b = Bench::new();
    let (placed, invites) = ringing(&mut b, &[5072, 5073], "b1");
    let ports: Vec<u16> = invites.iter().map(|(p, _)| *p).collect();
    assert_eq!(ports, [5072, 5073], "one INVITE per registered contact");
    for (port, invite) in &invites {
        assert_eq!(invite.method, Method::Invite);
        assert_eq!(invite.uri.raw, format!("sip:103@127.0.0.1:{port}"));
        assert_eq!(invite.from().unwrap().uri.user.as_deref(), Some("101"));
        let offer = String::from_utf8_lossy(&invite.body).into_owned();
        assert!(
            offer.contains("m=audio 20010 RTP/AVP 0 8 101"),
            "the caller's law first: {offer}"
        );
    }
    b.reply(5072, &invites[0].1, 180, false);

    b.reply(5073, &invites[1].1, 200, true);
    let sent = b.sent_requests();
    let methods: Vec<(u16, Method)> = sent
        .iter()
        .map(|(p, r)| (p.addr.port(), r.method.clone()))
        .collect();
    assert!(methods.contains(&(5073, Method::Ack)), "{methods:?}");
    assert!(methods.contains(&(5072, Method::Cancel)), "{methods:?}");
    let update = b.media.iter().find_map(|o| match o {
        Output::UpdateMedia {
            call,
            remote,
            format,
            sending,
        } if *call == placed => Some((*remote, *format, *sending)),
        _ => None,
    });
    let (remote, format, sending) = update.expect("the answer's address goes to the RTP task");
    assert_eq!(remote, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(
        format.law,
        crate::media::g711::Law::A,
        "the callee chose PCMA"
    );
    assert_eq!(format.telephone_event, Some(101));
    assert!(sending);

    let (caller, ok) = caller_answered(&mut b);
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 20000 RTP/AVP 0 96"));
    assert!(
        b.media.iter().any(|o| matches!(o,
            Output::Bridge { a, b } if (*a, *b) == (caller, placed) || (*a, *b) == (placed, caller))),
        "the two legs' RTP is relayed once both are open"
    );

    // The cancelled phone's 487 is acknowledged by its transaction and changes nothing.
    b.reply(5072, &invites[0].1, 487, false);
    let acks = b.sent_requests();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.method, Method::Ack);
    assert_eq!(b.switch.calls(), 2);
}

#[test]
fn the_caller_hanging_up_ends_the_callee_with_bye() {
    let mut b = Bench::new();
    let (_, _, invite, tag) = bridged(&mut b, "b2");
    b.send(phone(5062), &in_dialog("ACK", "b2", &tag, 2, None));
    b.wait(5_000);
    b.sent.clear();
    b.send(phone(5062), &in_dialog("BYE", "b2", &tag, 3, None));
    let sent = b.sent_requests();
    assert_eq!(b.statuses(), [200]);
    let bye = &sent
        .iter()
        .find(|(_, r)| r.method == Method::Bye)
        .expect("BYE")
        .1;
    assert_eq!(
        bye.uri.raw, "sip:103@127.0.0.1:5072",
        "to the answer's Contact"
    );
    assert_eq!(bye.to().unwrap().tag(), Some("callee-5072"));
    assert_eq!(bye.call_id(), invite.call_id());
    assert_eq!(b.switch.calls(), 0);
    let closed = b
        .media
        .iter()
        .filter(|o| matches!(o, Output::CloseMedia { .. }))
        .count();
    assert_eq!(closed, 2, "both legs' RTP closes");
    let records = b.store.call_records().unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.from.as_str(), r.to.as_str(), r.status.as_str()),
        ("101", "103", "answered")
    );
    assert_eq!(r.duration, 5);
}

#[test]
fn the_callee_hanging_up_ends_the_caller_with_bye() {
    let mut b = Bench::new();
    let (_, _, invite, _) = bridged(&mut b, "b3");
    b.sent.clear();
    let from_callee = format!(
        "BYE sip:pbx@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKcb3\r\n\
         From: <sip:103@pbx.local>;tag=callee-5072\r\nTo: {};tag={}\r\nCall-ID: {}\r\n\
         CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        invite
            .headers
            .get("From")
            .unwrap()
            .split(";tag=")
            .next()
            .unwrap(),
        invite.from().unwrap().tag().unwrap(),
        invite.call_id().unwrap()
    );
    b.send(phone(5072), &from_callee);
    let sent = b.sent_requests();
    assert_eq!(b.statuses(), [200]);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.method, Method::Bye);
    assert_eq!(sent[0].0.addr.port(), 5062, "the caller is hung up");
    assert_eq!(b.switch.calls(), 0);
}

#[test]
fn a_busy_phone_is_busy_for_the_caller() {
    let mut b = Bench::new();
    let (_, invites) = ringing(&mut b, &[5072], "b4");
    b.reply(5072, &invites[0].1, 486, false);
    let statuses = b.statuses();
    assert!(statuses.contains(&486), "{statuses:?}");
    let records = b.store.call_records().unwrap();
    assert_eq!(records[0].status, "busy");
}

#[test]
fn an_unanswered_phone_is_cancelled_when_the_ring_timeout_runs_out() {
    let mut b = Bench::new();
    let (_, invites) = ringing(&mut b, &[5072], "b5");
    b.reply(5072, &invites[0].1, 180, false);
    b.sent.clear();
    b.wait(29_000);
    assert!(
        b.sent_requests()
            .iter()
            .all(|(_, r)| r.method != Method::Cancel),
        "still ringing"
    );
    b.wait(2_000);
    let sent = b.sent_requests();
    let statuses = b.statuses();
    assert!(
        sent.iter()
            .any(|(p, r)| r.method == Method::Cancel && p.addr.port() == 5072),
        "{sent:?}"
    );
    assert!(
        statuses.contains(&480),
        "the caller hears unavailable: {statuses:?}"
    );
    assert_eq!(b.store.call_records().unwrap()[0].status, "no-answer");
}

#[test]
fn a_caller_who_cancels_cancels_the_ringing_phone() {
    let mut b = Bench::new();
    let (_, invites) = ringing(&mut b, &[5072], "b6");
    b.reply(5072, &invites[0].1, 180, false);
    b.sent.clear();
    let cancel = "CANCEL sip:103@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKb62\r\n\
                  From: <sip:101@pbx.local>;tag=f-b6\r\nTo: <sip:103@pbx.local>\r\nCall-ID: b6\r\n\
                  CSeq: 2 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    b.send(phone(5062), cancel);
    let sent = b.sent_requests();
    let mut statuses = b.statuses();
    statuses.sort();
    assert_eq!(statuses, [200, 487]);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.method, Method::Cancel);
    assert_eq!(sent[0].1.call_id(), invites[0].1.call_id());
    assert_eq!(b.switch.calls(), 0);

    // The phone answered as the CANCEL crossed: acknowledged, then hung up.
    b.reply(5072, &invites[0].1, 200, true);
    let methods: Vec<Method> = b
        .sent_requests()
        .into_iter()
        .map(|(_, r)| r.method)
        .collect();
    assert_eq!(methods, [Method::Ack, Method::Bye]);
}

#[test]
fn a_second_phone_answering_late_is_hung_up() {
    let mut b = Bench::new();
    let (_, invites) = ringing(&mut b, &[5072, 5073], "b9");
    b.reply(5073, &invites[1].1, 200, true);
    b.sent_requests();
    b.reply(5072, &invites[0].1, 200, true);
    let sent = b.sent_requests();
    let methods: Vec<(u16, Method)> = sent
        .iter()
        .map(|(p, r)| (p.addr.port(), r.method.clone()))
        .collect();
    assert_eq!(methods, [(5072, Method::Ack), (5072, Method::Bye)]);
    assert_eq!(sent[1].1.to().unwrap().tag(), Some("callee-5072"));
    // The winner's 2xx again (its ACK was lost): ACKed again, nothing more.
    b.reply(5073, &invites[1].1, 200, true);
    let methods: Vec<Method> = b
        .sent_requests()
        .into_iter()
        .map(|(_, r)| r.method)
        .collect();
    assert_eq!(methods, [Method::Ack]);
}

#[test]
fn a_phone_with_nothing_registered_is_unavailable() {
    let mut b = Bench::new();
    let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
        invite("101", "103", "b7", a, n)
    });
    assert_eq!(rs.last().map(|r| r.status), Some(480));
    assert_eq!(b.store.call_records().unwrap()[0].status, "failed");
}

#[test]
fn hold_and_resume_are_answered_and_reach_the_rtp_task() {
    let mut b = Bench::new();
    let (caller, _, _, tag) = bridged(&mut b, "b8");
    b.take_media();
    let reinvite = |cseq: u32, direction: &str| {
        let sdp = format!("{OFFER}a={direction}\r\n");
        in_dialog("INVITE", "b8", &tag, cseq, Some(("application/sdp", &sdp)))
    };
    b.send(phone(5062), &reinvite(3, "sendonly"));
    let ok = b.responses().into_iter().find(|r| r.status == 200).unwrap();
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(sdp.contains("a=recvonly"), "{sdp}");
    let version = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .to_owned()
    };
    let held = version(&sdp);
    assert!(matches!(
        b.take_media().as_slice(),
        [Output::UpdateMedia { call, sending: false, .. }] if *call == caller
    ));

    b.send(phone(5062), &reinvite(4, "sendrecv"));
    let ok = b.responses().into_iter().find(|r| r.status == 200).unwrap();
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(sdp.contains("a=sendrecv"), "{sdp}");
    assert_ne!(
        version(&sdp),
        held,
        "our SDP changed, so its version went up"
    );
    assert!(matches!(
        b.take_media().as_slice(),
        [Output::UpdateMedia { sending: true, .. }]
    ));
}

#[test]
fn a_key_sent_by_sip_info_is_pressed_towards_the_other_leg() {
    let mut b = Bench::new();
    let (_, placed, _, tag) = bridged(&mut b, "b10");
    b.take_media();
    let body = "Signal=5\r\nDuration=160\r\n";
    let info = in_dialog(
        "INFO",
        "b10",
        &tag,
        3,
        Some(("application/dtmf-relay", body)),
    );
    b.send(phone(5062), &info);
    assert_eq!(b.statuses(), [200]);
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::SendKey { call, key: '5' } if *call == placed)),
        "{:?}",
        b.media
    );
}
