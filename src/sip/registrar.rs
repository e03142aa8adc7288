//! The registrar (RFC 3261 section 10.3): where each extension's phones are.

use super::message::{NameAddr, Request};
use super::transaction::Peer;
use crate::clock::{Duration, Timestamp};
use std::collections::HashMap;

/// Shortest registration accepted (a shorter one gets 423 with `Min-Expires`).
pub const MIN_EXPIRES: u32 = 60;
/// Longest registration granted; longer requests are shortened.
pub const MAX_EXPIRES: u32 = 3600;
/// Used when the phone names no expiry.
pub const DEFAULT_EXPIRES: u32 = 3600;

/// One registered contact of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI, as the phone wrote it.
    pub contact: String,
    /// Where the REGISTER came from (where to reach a phone behind NAT).
    pub source: Peer,
    /// When the binding lapses.
    pub expires_at: Timestamp,
}

/// Why a REGISTER was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a malformed request (`*` mixed with contacts, or with a non-zero expiry).
    Bad(&'static str),
    /// 423: the expiry is shorter than [`MIN_EXPIRES`].
    TooBrief,
}

/// Bindings by extension.
#[derive(Debug, Default)]
pub struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
}

impl Registrar {
    /// No bindings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies an authenticated REGISTER for extension `aor`; returns the bindings now in force.
    pub fn register(
        &mut self,
        now: Timestamp,
        aor: &str,
        request: &Request,
        source: Peer,
    ) -> Result<Vec<Binding>, Refusal> {
        let contacts = request.contacts();
        let header_expires = request.expires();
        if contacts.iter().any(|c| c.star) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(Refusal::Bad(
                    "Contact: * needs Expires: 0 and no other contact",
                ));
            }
            self.bindings.remove(aor);
            return Ok(Vec::new());
        }
        let wanted: Vec<(&NameAddr, u32)> = contacts
            .iter()
            .map(|c| {
                let own = c.param("expires").flatten().and_then(|v| v.parse().ok());
                (c, own.or(header_expires).unwrap_or(DEFAULT_EXPIRES))
            })
            .collect();
        if wanted.iter().any(|(_, e)| *e != 0 && *e < MIN_EXPIRES) {
            return Err(Refusal::TooBrief);
        }
        let list = self.bindings.entry(aor.to_owned()).or_default();
        list.retain(|b| b.expires_at > now);
        for (contact, expires) in wanted {
            let uri = contact.uri.raw.clone();
            list.retain(|b| b.contact != uri);
            if expires > 0 {
                let granted = i64::from(expires.min(MAX_EXPIRES));
                list.push(Binding {
                    contact: uri,
                    source,
                    expires_at: now.after(Duration::seconds(granted)),
                });
            }
        }
        let current = list.clone();
        if current.is_empty() {
            self.bindings.remove(aor);
        }
        Ok(current)
    }

    /// The live bindings of extension `aor`.
    pub fn bindings(&self, aor: &str, now: Timestamp) -> Vec<Binding> {
        self.bindings
            .get(aor)
            .map(|l| l.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// How many bindings are live at `now`, for all extensions.
    pub fn count(&self, now: Timestamp) -> u64 {
        let live = self.bindings.values().flatten();
        live.filter(|b| b.expires_at > now).count() as u64
    }

    /// Forgets lapsed bindings.
    pub fn sweep(&mut self, now: Timestamp) {
        self.bindings.retain(|_, l| {
            l.retain(|b| b.expires_at > now);
            !l.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Message, parse};
    use crate::sip::transaction::Transport;

    fn register(contacts: &[&str], expires: Option<u32>) -> Request {
        let mut text = String::from(
            "REGISTER sip:pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKr\r\n\
             From: <sip:101@pbx.local>;tag=1\r\nTo: <sip:101@pbx.local>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n",
        );
        for c in contacts {
            text.push_str(&format!("Contact: {c}\r\n"));
        }
        if let Some(e) = expires {
            text.push_str(&format!("Expires: {e}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match parse(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    fn peer() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "10.0.0.5:5062".parse().unwrap(),
        }
    }

    const T0: Timestamp = Timestamp(1_000_000);

    #[test]
    fn two_phones_then_one_unregisters() {
        let mut r = Registrar::new();
        r.register(
            T0,
            "101",
            &register(&["<sip:101@10.0.0.5:5062>"], Some(600)),
            peer(),
        )
        .unwrap();
        let both = r
            .register(
                T0,
                "101",
                &register(&["<sip:101@10.0.0.6:5062>;expires=120"], None),
                peer(),
            )
            .unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[1].expires_at, T0.after(Duration::seconds(120)));
        let one = r
            .register(
                T0,
                "101",
                &register(&["<sip:101@10.0.0.5:5062>"], Some(0)),
                peer(),
            )
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].contact, "sip:101@10.0.0.6:5062");
    }

    #[test]
    fn bindings_lapse_and_long_requests_are_shortened() {
        let mut r = Registrar::new();
        r.register(
            T0,
            "101",
            &register(&["<sip:101@10.0.0.5>"], Some(86_400)),
            peer(),
        )
        .unwrap();
        let end = T0.after(Duration::seconds(i64::from(MAX_EXPIRES)));
        assert_eq!(r.bindings("101", T0)[0].expires_at, end);
        assert!(r.bindings("101", end).is_empty());
        r.sweep(end);
        assert!(r.bindings.is_empty());
    }

    #[test]
    fn star_removes_everything_but_only_with_expires_zero() {
        let mut r = Registrar::new();
        r.register(
            T0,
            "101",
            &register(&["<sip:101@10.0.0.5>", "<sip:101@10.0.0.6>"], None),
            peer(),
        )
        .unwrap();
        assert_eq!(r.bindings("101", T0).len(), 2);
        assert!(matches!(
            r.register(T0, "101", &register(&["*"], Some(30)), peer()),
            Err(Refusal::Bad(_))
        ));
        assert_eq!(
            r.register(T0, "101", &register(&["*"], Some(0)), peer())
                .unwrap(),
            []
        );
        assert!(r.bindings("101", T0).is_empty());
    }

    #[test]
    fn a_too_brief_expiry_is_refused_and_a_query_changes_nothing() {
        let mut r = Registrar::new();
        assert_eq!(
            r.register(
                T0,
                "101",
                &register(&["<sip:101@10.0.0.5>"], Some(10)),
                peer()
            ),
            Err(Refusal::TooBrief)
        );
        r.register(T0, "101", &register(&["<sip:101@10.0.0.5>"], None), peer())
            .unwrap();
        assert_eq!(
            r.register(T0, "101", &register(&[], None), peer())
                .unwrap()
                .len(),
            1
        );
    }
}
