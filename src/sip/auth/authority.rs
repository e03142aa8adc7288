//! The PBX's side of digest authentication: it issues challenges and judges answers.
//!
//! An answer is accepted once: it must be in the realm and an algorithm we offered,
//! carry a nonce we minted that has not expired, cover this very request (its digest
//! `uri` is the Request-URI), hold the right response, and use its nonce with a count
//! higher than any before (RFC 7616 §3.4.5; without qop a nonce is good once). This
//! is what stops a captured `Authorization` header from being sent again, from the
//! same phone or any other address, for another number or the same one.

use super::algorithm::Algorithm;
use super::credentials::{Credentials, NonceCount};
use super::nonce::{NonceState, Nonces};
use super::nonce_counts::{DEFAULT_CAPACITY, NonceCounts, NonceUse};
use super::response::{challenges, verify};
use super::stored::StoredHa1;
use crate::clock::{Duration, Timestamp};
use crate::sip::message::Uri;

/// What the authority makes of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// A good answer, used for the first time: the user sent this request.
    Accepted,
    /// Not an answer to our challenge (another realm, an algorithm not offered, a nonce
    /// not ours): challenge again. Not a failure: phones send stale credentials.
    NotOurs,
    /// Our nonce, but expired or no longer remembered: challenge with `stale=true`.
    Stale,
    /// A right answer sent again (its nonce count not higher than before): challenge
    /// with `stale=true`, so a phone that really meant it retries without asking.
    Replayed,
    /// The answer covers another request: its digest `uri` is not the Request-URI.
    WrongUri,
    /// A wrong response, an unknown user or a malformed nonce count: a failed attempt.
    Wrong,
}

/// Issues nonces, remembers their counts, and judges answers.
pub struct Authority {
    realm: String,
    algorithms: Vec<Algorithm>,
    nonces: Nonces,
    counts: NonceCounts,
}

impl Authority {
    /// An authority for `realm` offering `algorithms` (most preferred first), whose
    /// nonces are MACed with `key` and last `lifetime`.
    pub fn new(
        realm: String,
        algorithms: Vec<Algorithm>,
        key: [u8; 32],
        lifetime: Duration,
    ) -> Authority {
        Authority {
            realm,
            algorithms,
            nonces: Nonces::new(key, lifetime),
            counts: NonceCounts::new(DEFAULT_CAPACITY),
        }
    }

    /// Takes a reloaded configuration; nonces already out stay good under the new lifetime.
    pub fn reconfigure(&mut self, realm: String, algorithms: Vec<Algorithm>, lifetime: Duration) {
        self.realm = realm;
        self.algorithms = algorithms;
        self.nonces.set_lifetime(lifetime);
    }

    /// The realm challenges name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `WWW-Authenticate` values over a fresh nonce, one per algorithm offered.
    pub fn challenge(&mut self, now: Timestamp, stale: bool) -> Vec<String> {
        let (nonce, serial) = self.nonces.mint(now);
        self.counts.issued(serial);
        challenges(&self.realm, &nonce, stale, &self.algorithms)
    }

    /// Judges `creds` sent on a `method` request to `request_uri`, with the stored
    /// secret of the user they name (`None`: no such user).
    pub fn judge(
        &mut self,
        now: Timestamp,
        creds: &Credentials,
        method: &str,
        request_uri: &Uri,
        stored: Option<&StoredHa1>,
    ) -> Judgement {
        if !creds.realm.eq_ignore_ascii_case(&self.realm)
            || !self.algorithms.contains(&creds.algorithm.base())
        {
            // An answer in an algorithm we did not offer would be a downgrade.
            return Judgement::NotOurs;
        }
        let serial = match self.nonces.check(&creds.nonce, now) {
            NonceState::Valid { serial } => serial,
            NonceState::Stale => return Judgement::Stale,
            NonceState::Invalid => return Judgement::NotOurs,
        };
        if !uri_matches(&creds.uri, request_uri) {
            return Judgement::WrongUri;
        }
        let count = match creds.nonce_count() {
            NonceCount::WithoutQop => None,
            NonceCount::Count(n) => Some(n),
            NonceCount::Malformed => return Judgement::Wrong,
        };
        if !stored.is_some_and(|s| verify(creds, method, s)) {
            return Judgement::Wrong;
        }
        // Counted only once verified, so a forged answer cannot use up a phone's nonce.
        match self.counts.take(serial, count) {
            NonceUse::Fresh => Judgement::Accepted,
            NonceUse::Replayed => Judgement::Replayed,
            NonceUse::Forgotten => Judgement::Stale,
        }
    }
}

/// Whether a digest `uri` names the Request-URI: the same text, or the same URI by the
/// comparison rules of RFC 3261 §19.1.4 (scheme and host case-insensitive, parameters
/// in any order).
fn uri_matches(digest_uri: &str, request_uri: &Uri) -> bool {
    if digest_uri == request_uri.raw || digest_uri == request_uri.to_string() {
        return true;
    }
    let Some(other) = Uri::parse(digest_uri) else {
        return false;
    };
    let params = |u: &Uri| {
        let mut p: Vec<(String, Option<String>)> = u
            .params
            .iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    v.as_ref().map(|v| v.to_ascii_lowercase()),
                )
            })
            .collect();
        p.sort();
        p
    };
    other.scheme == request_uri.scheme
        && other.user == request_uri.user
        && other.host.eq_ignore_ascii_case(&request_uri.host)
        && other.port == request_uri.port
        && params(&other) == params(request_uri)
}

#[cfg(test)]
mod tests {
    use super::super::client::ClientAnswer;
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);
    const URI: &str = "sip:9011441234567@pbx.local";

    fn authority() -> Authority {
        Authority::new(
            "pbx.local".into(),
            vec![Algorithm::Sha256, Algorithm::Md5],
            [9; 32],
            Duration::seconds(300),
        )
    }

    fn nonce_of(challenge: &str) -> String {
        let start = challenge.find("nonce=\"").unwrap() + 7;
        challenge[start..start + 64].to_owned()
    }

    fn answer(nonce: &str, uri: &str, nc: Option<u32>) -> Credentials {
        let header = ClientAnswer {
            username: "101",
            password: "sip-pass-101",
            realm: "pbx.local",
            nonce,
            method: "INVITE",
            uri,
            algorithm: Algorithm::Sha256,
            qop_auth: nc.map(|n| ("c0ffee", n)),
            opaque: None,
        }
        .authorization();
        Credentials::parse(&header).unwrap()
    }

    fn judge(a: &mut Authority, creds: &Credentials, uri: &str) -> Judgement {
        let stored = StoredHa1::new("101", "pbx.local", "sip-pass-101");
        a.judge(T0, creds, "INVITE", &request_uri(uri), Some(&stored))
    }

    fn request_uri(text: &str) -> Uri {
        Uri::parse(text).unwrap()
    }

    #[test]
    fn an_answer_is_accepted_once() {
        let mut a = authority();
        let nonce = nonce_of(&a.challenge(T0, false)[0]);
        let creds = answer(&nonce, URI, Some(1));
        assert_eq!(judge(&mut a, &creds, URI), Judgement::Accepted);
        for _ in 0..10 {
            assert_eq!(judge(&mut a, &creds, URI), Judgement::Replayed);
        }
        // A phone that counts on gets through with the same nonce, every time.
        for nc in 2..20 {
            assert_eq!(
                judge(&mut a, &answer(&nonce, URI, Some(nc)), URI),
                Judgement::Accepted
            );
        }
        // Without qop, a nonce is good once.
        let nonce = nonce_of(&a.challenge(T0, false)[0]);
        let bare = answer(&nonce, URI, None);
        assert_eq!(judge(&mut a, &bare, URI), Judgement::Accepted);
        assert_eq!(judge(&mut a, &bare, URI), Judgement::Replayed);
    }

    #[test]
    fn the_answer_must_cover_this_request_uri() {
        let mut a = authority();
        let nonce = nonce_of(&a.challenge(T0, false)[0]);
        let creds = answer(&nonce, URI, Some(1));
        assert_eq!(
            judge(&mut a, &creds, "sip:9011449999999@pbx.local"),
            Judgement::WrongUri
        );
        // The same URI written differently is the same URI.
        for (nc, same) in [
            (1, "sip:9011441234567@PBX.LOCAL"),
            (2, "SIP:9011441234567@pbx.local"),
        ] {
            let creds = answer(&nonce, URI, Some(nc));
            assert_eq!(judge(&mut a, &creds, same), Judgement::Accepted, "{same}");
        }
        assert!(uri_matches(
            "sip:a@h;transport=tcp;lr",
            &request_uri("sip:a@h;lr;Transport=TCP")
        ));
        assert!(!uri_matches("sip:a@h:5061", &request_uri("sip:a@h")));
        assert!(!uri_matches("sip:b@h", &request_uri("sip:a@h")));
        assert!(!uri_matches("not a uri", &request_uri("sip:a@h")));
    }

    #[test]
    fn forged_answers_do_not_use_up_a_nonce() {
        let mut a = authority();
        let nonce = nonce_of(&a.challenge(T0, false)[0]);
        let mut forged = answer(&nonce, URI, Some(99));
        forged.response = "00".repeat(32);
        assert_eq!(judge(&mut a, &forged, URI), Judgement::Wrong);
        assert_eq!(
            judge(&mut a, &answer(&nonce, URI, Some(1)), URI),
            Judgement::Accepted
        );
        let unknown_user = answer(&nonce, URI, Some(2));
        assert_eq!(
            a.judge(T0, &unknown_user, "INVITE", &request_uri(URI), None),
            Judgement::Wrong
        );
        let mut bad_count = answer(&nonce, URI, Some(3));
        bad_count.nc = Some("3".into());
        assert_eq!(judge(&mut a, &bad_count, URI), Judgement::Wrong);
    }

    #[test]
    fn foreign_expired_and_forgotten_nonces_are_challenged() {
        let mut a = authority();
        let nonce = nonce_of(&a.challenge(T0, false)[0]);
        let creds = answer(&nonce, URI, Some(1));
        let stored = StoredHa1::new("101", "pbx.local", "sip-pass-101");
        let late = T0.after(Duration::seconds(301));
        assert_eq!(
            a.judge(late, &creds, "INVITE", &request_uri(URI), Some(&stored)),
            Judgement::Stale
        );
        let mut other = Authority::new(
            "pbx.local".into(),
            vec![Algorithm::Sha256],
            [1; 32],
            Duration::seconds(300),
        );
        assert_eq!(judge(&mut other, &creds, URI), Judgement::NotOurs);
        let mut md5_only = Authority::new(
            "pbx.local".into(),
            vec![Algorithm::Md5],
            [9; 32],
            Duration::seconds(300),
        );
        assert_eq!(judge(&mut md5_only, &creds, URI), Judgement::NotOurs);
        // A flood of challenges pushes an unanswered nonce out of the table: stale.
        for _ in 0..DEFAULT_CAPACITY {
            a.challenge(T0, false);
        }
        assert_eq!(judge(&mut a, &creds, URI), Judgement::Stale);
    }
}
