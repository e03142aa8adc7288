//! Our side of digest authentication as a client: answering a server's challenge. A
//! trunk's registration and calls answer their provider with it; the tests' phones
//! answer the switch with it.

use super::algorithm::{Algorithm, h};
use super::challenge::Challenge;
use super::response::{quoted, response_from_ha1};
use std::fmt;

/// What a client needs to answer a challenge.
#[derive(Clone, Copy)]
pub struct ClientAnswer<'a> {
    /// The user name.
    pub username: &'a str,
    /// The clear password.
    pub password: &'a str,
    /// The realm from the challenge.
    pub realm: &'a str,
    /// The nonce from the challenge.
    pub nonce: &'a str,
    /// The request method, e.g. `REGISTER`.
    pub method: &'a str,
    /// The digest-uri, normally the Request-URI.
    pub uri: &'a str,
    /// The algorithm picked from the challenges.
    pub algorithm: Algorithm,
    /// `Some((cnonce, nc))` answers with qop=auth; `None` uses the RFC 2069 form.
    pub qop_auth: Option<(&'a str, u32)>,
    /// The challenge's `opaque`, echoed back.
    pub opaque: Option<&'a str>,
}

impl ClientAnswer<'_> {
    /// The full `Authorization` header value carrying [`response_for`] this answer.
    pub fn authorization(&self) -> String {
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{}\", algorithm={}",
            quoted(self.username),
            quoted(self.realm),
            quoted(self.nonce),
            quoted(self.uri),
            response_for(self),
            self.algorithm
        );
        if let Some((cnonce, nc)) = self.qop_auth {
            out.push_str(&format!(
                ", cnonce={}, qop=auth, nc={nc:08x}",
                quoted(cnonce)
            ));
        }
        if let Some(opaque) = self.opaque {
            out.push_str(&format!(", opaque={}", quoted(opaque)));
        }
        out
    }
}

// By hand, so the password never reaches a log line.
impl fmt::Debug for ClientAnswer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAnswer")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .field("qop_auth", &self.qop_auth)
            .field("opaque", &self.opaque)
            .finish()
    }
}

/// The client-side response hex for `answer` (`-sess` without qop yields a value no
/// server accepts).
pub fn response_for(answer: &ClientAnswer<'_>) -> String {
    let hash = answer.algorithm.hash();
    let ha1 = h(hash, &[answer.username, answer.realm, answer.password]);
    let nc = answer.qop_auth.map(|(_, nc)| format!("{nc:08x}"));
    let cnonce = answer.qop_auth.map(|(cnonce, _)| cnonce);
    response_from_ha1(
        answer.algorithm,
        &ha1,
        answer.nonce,
        answer.method,
        answer.uri,
        cnonce.or(Some("")),
        nc.as_deref().map(|nc| ("auth", nc)),
    )
    .unwrap_or_default()
}

/// A clear password we answer challenges with: held in memory only, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password from the config.
    pub fn new(clear: impl Into<String>) -> Password {
        Password(clear.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Our account at a server that challenges us: the credentials, and the nonce last
/// answered with its count, so a nonce used again counts up (RFC 7616 §3.4).
#[derive(Debug, Clone)]
pub struct DigestClient {
    username: String,
    password: Password,
    last: Option<(Challenge, u32)>,
}

impl DigestClient {
    /// An account with no challenge answered yet.
    pub fn new(username: impl Into<String>, password: Password) -> DigestClient {
        DigestClient {
            username: username.into(),
            password,
            last: None,
        }
    }

    /// The user name we answer as.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The `Authorization` value answering `challenge` for `method` on `uri`, with
    /// `cnonce` (fresh for each answer, from the driver's randomness).
    pub fn answer(
        &mut self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> String {
        let nc = match &self.last {
            Some((c, n)) if c.nonce == challenge.nonce && c.realm == challenge.realm => n + 1,
            _ => 1,
        };
        self.last = Some((challenge.clone(), nc));
        ClientAnswer {
            username: &self.username,
            password: &self.password.0,
            realm: &challenge.realm,
            nonce: &challenge.nonce,
            method,
            uri,
            algorithm: challenge.algorithm,
            qop_auth: challenge.qop_auth.then_some((cnonce, nc)),
            opaque: challenge.opaque.as_deref(),
        }
        .authorization()
    }

    /// The last challenge answered again, its count one up: a refresh sends
    /// credentials without waiting to be challenged. `None` before any challenge, or
    /// when it had no qop (then a nonce is good once).
    pub fn again(&mut self, method: &str, uri: &str, cnonce: &str) -> Option<String> {
        let challenge = self.last.as_ref().filter(|(c, _)| c.qop_auth)?.0.clone();
        Some(self.answer(&challenge, method, uri, cnonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::{Credentials, NonceCount, StoredHa1};

    #[test]
    fn debug_redacts_the_password() {
        let answer = ClientAnswer {
            username: "Mufasa",
            password: "Circle of Life",
            realm: "r",
            nonce: "n",
            method: "GET",
            uri: "/",
            algorithm: Algorithm::Md5,
            qop_auth: None,
            opaque: None,
        };
        assert!(!format!("{answer:?}").contains("Circle of Life"));
        let client = DigestClient::new("pbx01", Password::new("trunk-secret"));
        assert!(!format!("{client:?}").contains("trunk-secret"));
    }

    #[test]
    fn a_nonce_answered_again_counts_up_and_a_new_one_starts_at_one() {
        let mut client = DigestClient::new("pbx01", Password::new("trunk-secret"));
        assert_eq!(client.again("REGISTER", "sip:carrier", "c1"), None);
        let challenge = Challenge::parse(
            "Digest realm=\"carrier\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\", opaque=\"o\"",
        )
        .unwrap();
        let stored = StoredHa1::new("pbx01", "carrier", "trunk-secret");
        let counts: Vec<NonceCount> = [
            client.answer(&challenge, "REGISTER", "sip:carrier", "c1"),
            client.again("REGISTER", "sip:carrier", "c2").unwrap(),
        ]
        .iter()
        .map(|header| {
            let creds = Credentials::parse(header).unwrap();
            assert!(super::super::response::verify(&creds, "REGISTER", &stored));
            assert_eq!(creds.opaque.as_deref(), Some("o"));
            creds.nonce_count()
        })
        .collect();
        assert_eq!(counts, [NonceCount::Count(1), NonceCount::Count(2)]);
        let fresh = Challenge {
            nonce: "n2".into(),
            ..challenge
        };
        let header = client.answer(&fresh, "INVITE", "sip:5551234@carrier", "c3");
        assert_eq!(
            Credentials::parse(&header).unwrap().nonce_count(),
            NonceCount::Count(1)
        );
    }
}
