//! A test phone's side of digest authentication: answering a challenge.

use super::algorithm::{Algorithm, h};
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

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        assert!(!format!("{answer:?}").contains("Circle of Life"));
    }
}
