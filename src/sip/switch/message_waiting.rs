//! Message-waiting indication (RFC 3842): a phone's message light. A phone that
//! SUBSCRIBEs to `message-summary` for its own mailbox gets NOTIFYs in that dialog;
//! every other registered phone of the mailbox gets them unsolicited, as most PBXs do,
//! so a phone that never subscribes still lights up.

use super::{ALLOW, Switch};
use crate::clock::{Duration, Timestamp};
use crate::sip::message::{Headers, Method, Request, Uri, response_to};
use crate::sip::registrar::MAX_EXPIRES;
use crate::sip::transaction::{Peer, ServerKey};
use crate::store::{Folder, Store};
use tracing::{info, warn};

/// The event package.
const PACKAGE: &str = "message-summary";
/// Its body's type.
const SUMMARY_TYPE: &str = "application/simple-message-summary";
/// The shortest subscription granted (shorter ones get 423).
const MIN_SUBSCRIPTION: u32 = 60;

/// A phone's subscription to its mailbox's state.
pub(super) struct Subscription {
    mailbox: String,
    call_id: String,
    /// Our NOTIFYs' From: the SUBSCRIBE's To with our tag.
    local: String,
    /// Our NOTIFYs' To: the SUBSCRIBE's From.
    remote: String,
    local_tag: String,
    /// Where NOTIFYs go: the subscriber's Contact, over the flow it came on.
    target: Uri,
    peer: Peer,
    expires_at: Timestamp,
    cseq: u32,
}

impl<S: Store + Clone> Switch<S> {
    /// A SUBSCRIBE: a new subscription (digest-authenticated, to the phone's own
    /// mailbox), a refresh, or an unsubscribe (`Expires: 0`).
    pub(super) fn subscribe(
        &mut self,
        now: Timestamp,
        key: ServerKey,
        from: Peer,
        request: Request,
    ) {
        let package = request
            .headers
            .get("Event")
            .and_then(|e| e.split(';').next())
            .map(|e| e.trim().to_ascii_lowercase());
        if package.as_deref() != Some(PACKAGE) {
            let allow = vec![("Allow-Events", PACKAGE.to_owned())];
            return self.respond_with(now, &key, &request, 489, allow);
        }
        let wanted = request.expires().unwrap_or(MAX_EXPIRES).min(MAX_EXPIRES);
        if wanted != 0 && wanted < MIN_SUBSCRIPTION {
            let min = vec![("Min-Expires", MIN_SUBSCRIPTION.to_string())];
            return self.respond_with(now, &key, &request, 423, min);
        }
        let refresh = request.to().and_then(|t| t.tag().map(str::to_owned));
        let index = match refresh {
            Some(tag) => {
                let call_id = request.call_id().unwrap_or_default();
                let found = self
                    .subscriptions
                    .iter()
                    .position(|s| s.call_id == call_id && s.local_tag == tag);
                let Some(i) = found else {
                    return self.respond(now, &key, &request, 481);
                };
                i
            }
            None => {
                let Some(user) = self.authenticate(now, &key, from, &request) else {
                    return;
                };
                let Some(mailbox) = self.own_mailbox(now, &key, &request, &user) else {
                    return;
                };
                self.new_subscription(&request, from, mailbox)
            }
        };
        let s = &mut self.subscriptions[index];
        s.expires_at = now.after(Duration::seconds(i64::from(wanted)));
        let mut ok = response_to(&request, 200, "OK", Some(&s.local_tag));
        ok.headers.push("Expires", wanted.to_string());
        ok.headers
            .push("Contact", format!("<sip:pbx@{}>", self.settings.local));
        self.transactions.respond(now, &key, ok);
        let mailbox = self.subscriptions[index].mailbox.clone();
        let Some((new, saved)) = self.counts(&mailbox) else {
            return;
        };
        let body = summary_body(&mailbox, &self.settings.realm, new, saved);
        let state = if wanted == 0 {
            "terminated;reason=timeout".to_owned()
        } else {
            format!("active;expires={wanted}")
        };
        self.notify_subscriber(now, index, &state, body);
        if wanted == 0 {
            info!(%mailbox, "message-waiting subscription ended");
            self.subscriptions.remove(index);
        }
    }

    /// The mailbox a SUBSCRIBE names (Request-URI user): it must be the subscriber's own
    /// and have voicemail. `None`: the refusal was sent.
    fn own_mailbox(
        &mut self,
        now: Timestamp,
        key: &ServerKey,
        request: &Request,
        user: &str,
    ) -> Option<String> {
        let mailbox = request
            .uri
            .user
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| user.to_owned());
        if mailbox != user {
            self.respond(now, key, request, 403);
            return None;
        }
        match self.store.extension(&mailbox) {
            Ok(Some(e)) if e.config.voicemail.enabled => Some(mailbox),
            Ok(_) => {
                self.respond(now, key, request, 404);
                None
            }
            Err(e) => {
                warn!(error = %e, "the store failed during SUBSCRIBE");
                self.respond(now, key, request, 500);
                None
            }
        }
    }

    fn new_subscription(&mut self, request: &Request, from: Peer, mailbox: String) -> usize {
        let local_tag = super::tag_for(request);
        let target = request
            .contacts()
            .into_iter()
            .next()
            .map_or_else(|| request.uri.clone(), |c| c.uri);
        let to = request.headers.get("To").unwrap_or_default();
        info!(%mailbox, "message-waiting subscription");
        self.subscriptions.push(Subscription {
            mailbox,
            call_id: request.call_id().unwrap_or_default().to_owned(),
            local: format!("{to};tag={local_tag}"),
            remote: request.headers.get("From").unwrap_or_default().to_owned(),
            local_tag,
            target,
            peer: from,
            expires_at: Timestamp(0),
            cseq: 0,
        });
        self.subscriptions.len() - 1
    }

    /// The mailbox's state changed (a message left, heard, saved or deleted): every
    /// phone of it hears, subscribed or not.
    pub(super) fn notify_mailbox(&mut self, now: Timestamp, mailbox: &str) {
        if let Some((new, saved)) = self.counts(mailbox) {
            self.send_summary(now, mailbox, new, saved);
        }
    }

    /// A registered phone of a mailbox with new messages hears so at once (it may have
    /// restarted since the last NOTIFY).
    pub(super) fn notify_if_waiting(&mut self, now: Timestamp, mailbox: &str) {
        if let Some((new, saved)) = self.counts(mailbox).filter(|(new, _)| *new > 0) {
            self.send_summary(now, mailbox, new, saved);
        }
    }

    /// The mailbox's `message-summary` to every phone of it: in the dialog of those
    /// subscribed, unsolicited to the others.
    fn send_summary(&mut self, now: Timestamp, mailbox: &str, new: usize, saved: usize) {
        let body = summary_body(mailbox, &self.settings.realm, new, saved);
        let mut subscribed = Vec::new();
        for i in 0..self.subscriptions.len() {
            let s = &self.subscriptions[i];
            if s.mailbox == mailbox && s.expires_at > now {
                subscribed.push(s.peer);
                let left = s.expires_at.since(now).as_seconds();
                self.notify_subscriber(now, i, &format!("active;expires={left}"), body.clone());
            }
        }
        for binding in self.registrar.bindings(mailbox, now) {
            if subscribed.contains(&binding.source) {
                continue;
            }
            let notify = self.unsolicited_notify(mailbox, &binding.contact, binding.source, &body);
            self.transactions.request(now, binding.source, notify);
        }
    }

    /// Forgets lapsed subscriptions.
    pub(super) fn sweep_subscriptions(&mut self, now: Timestamp) {
        self.subscriptions.retain(|s| s.expires_at > now);
    }

    /// A mailbox's new and saved messages; `None` if the store failed (logged).
    fn counts(&self, mailbox: &str) -> Option<(usize, usize)> {
        let messages = match self.store.messages(mailbox) {
            Ok(m) => m,
            Err(e) => {
                warn!(%mailbox, error = %e, "mailbox not read for message waiting");
                return None;
            }
        };
        let new = messages.iter().filter(|m| m.folder == Folder::New).count();
        Some((new, messages.len() - new))
    }

    fn notify_subscriber(&mut self, now: Timestamp, index: usize, state: &str, body: String) {
        let local = self.settings.local;
        let branch = self.next_branch();
        let s = &mut self.subscriptions[index];
        s.cseq += 1;
        let mut headers = Headers::default();
        headers.push("Via", super::outgoing::via(s.peer, local, &branch));
        headers.push("Max-Forwards", "70");
        headers.push("From", s.local.clone());
        headers.push("To", s.remote.clone());
        headers.push("Call-ID", s.call_id.clone());
        headers.push("CSeq", format!("{} NOTIFY", s.cseq));
        headers.push("Contact", super::outgoing::contact(s.peer, local, "pbx"));
        headers.push("Event", PACKAGE);
        headers.push("Subscription-State", state);
        headers.push("Content-Type", SUMMARY_TYPE);
        let notify = Request {
            method: Method::Notify,
            uri: s.target.clone(),
            headers,
            body: body.into_bytes(),
        };
        let peer = s.peer;
        self.transactions.request(now, peer, notify);
    }

    /// A NOTIFY outside any dialog, to a registered contact.
    fn unsolicited_notify(
        &mut self,
        mailbox: &str,
        contact: &str,
        peer: Peer,
        body: &str,
    ) -> Request {
        let local = self.settings.local;
        let realm = self.settings.realm.clone();
        let branch = self.next_branch();
        let account = format!("<sip:{mailbox}@{realm}>");
        let tag = branch.trim_start_matches("z9hG4bK").to_owned();
        let mut headers = Headers::default();
        headers.push("Via", super::outgoing::via(peer, local, &branch));
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("{account};tag={tag}"));
        headers.push("To", account);
        headers.push("Call-ID", format!("mwi-{tag}@{}", local.ip()));
        headers.push("CSeq", "1 NOTIFY");
        headers.push("Contact", super::outgoing::contact(peer, local, "pbx"));
        headers.push("Event", PACKAGE);
        headers.push("Subscription-State", "active");
        headers.push("Allow", ALLOW);
        headers.push("Content-Type", SUMMARY_TYPE);
        let uri = Uri::parse(contact).unwrap_or_else(|| Uri {
            scheme: "sip".into(),
            host: peer.addr.to_string(),
            ..Uri::default()
        });
        Request {
            method: Method::Notify,
            uri,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }
}

/// An RFC 3842 `message-summary`: whether messages wait, and how many new and saved
/// (old) voice messages the mailbox holds.
fn summary_body(mailbox: &str, realm: &str, new: usize, saved: usize) -> String {
    let waiting = if new > 0 { "yes" } else { "no" };
    format!(
        "Messages-Waiting: {waiting}\r\nMessage-Account: sip:{mailbox}@{realm}\r\n\
         Voice-Message: {new}/{saved} (0/0)\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_waiting_only_for_new_messages() {
        assert_eq!(
            summary_body("102", "pbx.local", 1, 2),
            "Messages-Waiting: yes\r\nMessage-Account: sip:102@pbx.local\r\n\
             Voice-Message: 1/2 (0/0)\r\n"
        );
        assert!(summary_body("102", "pbx.local", 0, 2).starts_with("Messages-Waiting: no"));
    }
}
