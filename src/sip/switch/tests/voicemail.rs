//! Voicemail on live calls: 101 calls 102 (voicemail enabled, PIN 1357), whose phone is
//! registered on port 5072; 102 is blocked, so the call goes straight to its mailbox
//! (PP-5).

use super::*;
use crate::dsl::plan::StateField;
use crate::store::{Folder, StateValue};

impl Bench {
    /// 101 calls blocked 102: the call is answered for the greeting. Returns the leg
    /// and the To tag of its 200.
    fn leaving_a_message(&mut self, call: &str) -> (CallId, String) {
        self.register_phone("102", "sip-pass-102", 5072);
        self.store
            .set_state("102", StateField::Blocked, StateValue::Flag(true))
            .unwrap();
        let c = call.to_owned();
        let rs = self.with_auth(phone(5062), "101", "sip-pass-101", &move |a, n| {
            invite("101", "102", &c, a, n)
        });
        assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
        let id = call_id(self);
        self.input(Input::MediaOpened {
            call: id,
            local: "127.0.0.1:20000".parse().unwrap(),
        });
        let ok = self
            .responses()
            .into_iter()
            .find(|r| r.status == 200)
            .expect("answered for the greeting");
        (id, ok.to().unwrap().tag().unwrap().to_owned())
    }

    /// The NOTIFYs sent to 102's phone, with their bodies.
    fn notifies(&mut self) -> Vec<(Request, String)> {
        self.sent_requests()
            .into_iter()
            .filter(|(p, r)| r.method == Method::Notify && p.addr.port() == 5072)
            .map(|(_, r)| {
                let body = String::from_utf8_lossy(&r.body).into_owned();
                (r, body)
            })
            .collect()
    }
}

fn recording_file(b: &Bench) -> String {
    b.media
        .iter()
        .find_map(|o| match o {
            Output::Record { file, .. } => Some(file.clone()),
            _ => None,
        })
        .expect("the message is recorded")
}

#[test]
fn a_caller_to_a_blocked_phone_hears_the_greeting_and_leaves_a_message() {
    let mut b = Bench::new();
    let (id, tag) = b.leaving_a_message("v1");
    let plays = b
        .media
        .iter()
        .filter(|o| matches!(o, Output::Play { call, .. } if *call == id))
        .count();
    assert_eq!(plays, 2, "the greeting, then the beep");
    let file = recording_file(&b);
    assert!(
        file.starts_with("voicemail/102/") && file.ends_with(".wav"),
        "{file}"
    );
    b.sent.clear();

    // The caller hangs up; the RTP task writes the audio, then the message is stored.
    b.send(phone(5062), &in_dialog("BYE", "v1", &tag, 3, None));
    assert_eq!(
        b.store.messages("102").unwrap().len(),
        0,
        "not before the audio is written"
    );
    b.input(Input::Recorded {
        call: id,
        file: Some(file.clone()),
        seconds: 7,
    });
    let messages = b.store.messages("102").unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(
        (m.caller.as_str(), m.seconds, m.folder, m.file.as_deref()),
        ("101", 7, Folder::New, Some(file.as_str()))
    );
    let notifies = b.notifies();
    assert_eq!(
        notifies.len(),
        1,
        "the mailbox's phone hears of it, unsubscribed"
    );
    let (notify, body) = &notifies[0];
    assert_eq!(notify.headers.get("Event"), Some("message-summary"));
    assert!(body.starts_with("Messages-Waiting: yes\r\n"), "{body}");
    assert!(body.contains("Voice-Message: 1/0 (0/0)"), "{body}");
    let records = b.store.call_records().unwrap();
    assert_eq!(records[0].final_party.as_deref(), Some("voicemail:102"));
}

#[test]
fn pound_ends_the_message_and_the_caller_hears_goodbye() {
    let mut b = Bench::new();
    let (id, _) = b.leaving_a_message("v2");
    let file = recording_file(&b);
    b.take_media();
    b.input(Input::Keys {
        call: id,
        keys: vec!['#'],
    });
    assert!(
        b.media
            .iter()
            .any(|o| matches!(o, Output::FinishRecording { call } if *call == id))
    );
    b.input(Input::Recorded {
        call: id,
        file: Some(file),
        seconds: 4,
    });
    let mark = last_mark(&b);
    b.sent.clear();
    b.input(Input::PlayoutDone { call: id, mark });
    let sent = b.sent_requests();
    assert!(
        sent.iter()
            .any(|(p, r)| r.method == Method::Bye && p.addr.port() == 5062),
        "goodbye, then BYE: {sent:?}"
    );
    assert_eq!(b.store.messages("102").unwrap().len(), 1);
    assert_eq!(b.switch.calls(), 0);
}

#[test]
fn a_message_too_short_to_keep_is_not_stored() {
    let mut b = Bench::new();
    let (id, _) = b.leaving_a_message("v3");
    b.input(Input::Recorded {
        call: id,
        file: None,
        seconds: 0,
    });
    assert!(b.store.messages("102").unwrap().is_empty());
    assert!(b.notifies().is_empty());
}

fn subscribe(user: &str, mailbox: &str, expires: u32, auth: Option<&str>, cseq: u32) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "SUBSCRIBE sip:{mailbox}@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKsub{}\r\n\
         From: <sip:{user}@pbx.local>;tag=s-{user}\r\nTo: <sip:{mailbox}@pbx.local>\r\nCall-ID: sub-{user}-{mailbox}\r\n\
         CSeq: {cseq} SUBSCRIBE\r\nContact: <sip:{user}@127.0.0.1:5072>\r\nEvent: message-summary\r\n\
         Accept: application/simple-message-summary\r\nExpires: {expires}\r\nMax-Forwards: 70\r\n{auth}\
         Content-Length: 0\r\n\r\n",
        branch()
    )
}

#[test]
fn a_subscribed_phone_gets_notifies_in_its_dialog() {
    let mut b = Bench::new();
    let rs = b.with_auth(phone(5072), "102", "sip-pass-102", &|a, n| {
        subscribe("102", "102", 600, a, n)
    });
    let ok = rs
        .iter()
        .find(|r| r.status == 200)
        .expect("200 to SUBSCRIBE");
    assert_eq!(ok.headers.get("Expires"), Some("600"));
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    let notifies = b.notifies();
    assert_eq!(notifies.len(), 1, "the state at once");
    let (notify, body) = &notifies[0];
    assert_eq!(notify.call_id(), Some("sub-102-102"));
    assert_eq!(notify.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(notify.to().unwrap().tag(), Some("s-102"));
    assert_eq!(notify.uri.raw, "sip:102@127.0.0.1:5072", "to its Contact");
    assert!(
        notify
            .headers
            .get("Subscription-State")
            .is_some_and(|s| s.starts_with("active;expires=")),
    );
    assert!(body.starts_with("Messages-Waiting: no"), "{body}");

    // A message arrives: one NOTIFY, in the dialog (no unsolicited one besides).
    b.register_phone("102", "sip-pass-102", 5072);
    let id = {
        b.store
            .set_state("102", StateField::Blocked, StateValue::Flag(true))
            .unwrap();
        let rs = b.with_auth(phone(5062), "101", "sip-pass-101", &|a, n| {
            invite("101", "102", "v4", a, n)
        });
        assert_eq!(rs[0].status, 100);
        let id = call_id(&b);
        b.input(Input::MediaOpened {
            call: id,
            local: "127.0.0.1:20000".parse().unwrap(),
        });
        id
    };
    b.notifies();
    let file = recording_file(&b);
    b.input(Input::Recorded {
        call: id,
        file: Some(file),
        seconds: 3,
    });
    let notifies = b.notifies();
    assert_eq!(notifies.len(), 1, "{notifies:?}");
    assert_eq!(notifies[0].0.call_id(), Some("sub-102-102"));
    assert!(notifies[0].1.starts_with("Messages-Waiting: yes"));
}

#[test]
fn subscriptions_are_for_ones_own_mailbox_and_this_event_only() {
    let mut b = Bench::new();
    let rs = b.with_auth(phone(5072), "101", "sip-pass-101", &|a, n| {
        subscribe("101", "102", 600, a, n)
    });
    assert_eq!(rs.last().map(|r| r.status), Some(403));
    let other_event = subscribe("102", "102", 600, None, 1).replace("message-summary", "presence");
    b.send(phone(5072), &other_event);
    let rs = b.responses();
    assert_eq!(rs[0].status, 489);
    assert_eq!(rs[0].headers.get("Allow-Events"), Some("message-summary"));
    let rs = b.with_auth(phone(5072), "103", "sip-pass-103", &|a, n| {
        subscribe("103", "103", 600, a, n)
    });
    assert_eq!(
        rs.last().map(|r| r.status),
        Some(404),
        "103 has no voicemail"
    );
}

#[test]
fn the_mailbox_menu_plays_message_files_and_the_light_goes_out() {
    let mut b = Bench::new();
    b.register_phone("102", "sip-pass-102", 5072);
    let at = Timestamp(T0.0 - 60_000);
    crate::engine::mailbox::deposit(
        &b.store,
        "102",
        "101",
        at,
        5,
        Some("voicemail/102/1.wav".into()),
    )
    .unwrap();
    answered_call(&mut b, "102", "sip-pass-102", "*61", "v5");
    let id = call_id(&b);
    b.input(Input::Keys {
        call: id,
        keys: "1357#".chars().collect(),
    });
    b.input(Input::Keys {
        call: id,
        keys: vec!['1'],
    });
    assert!(
        b.media.iter().any(|o| matches!(o,
            Output::PlayFile { call, file, .. } if *call == id && file == "voicemail/102/1.wav")),
        "the message's audio plays"
    );
    assert_eq!(b.store.messages("102").unwrap()[0].folder, Folder::Saved);
    let notifies = b.notifies();
    assert!(
        notifies
            .last()
            .is_some_and(|(_, body)| body.starts_with("Messages-Waiting: no")),
        "{notifies:?}"
    );
}
