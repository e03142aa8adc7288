//! A server's challenge (`WWW-Authenticate` / `Proxy-Authenticate`), read by our own
//! digest client: what a trunk asks us to answer.

use super::algorithm::Algorithm;
use crate::sip::message::{Response, auth_params};

/// One Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The realm to answer for.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// The algorithm; MD5 when the challenge names none.
    pub algorithm: Algorithm,
    /// Whether `qop=auth` is offered (else the answer takes the RFC 2069 form).
    pub qop_auth: bool,
    /// Echoed back unchanged.
    pub opaque: Option<String>,
    /// The nonce ran out, not the credentials: answering again is right.
    pub stale: bool,
}

impl Challenge {
    /// Parses `Digest realm="...", nonce="...", ...`. `None` for another scheme, a
    /// malformed list, no realm or nonce, an algorithm we do not speak, or a qop list
    /// without `auth` (we do not do `auth-int`).
    pub fn parse(header_value: &str) -> Option<Challenge> {
        let text = header_value.trim_start_matches([' ', '\t']);
        let scheme_end = text.find([' ', '\t']).unwrap_or(text.len());
        let (scheme, params) = text.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = auth_params(params).ok()?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(list) => {
                let auth = list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"));
                if !auth {
                    return None;
                }
                true
            }
        };
        Some(Challenge {
            realm: get("realm")?.to_owned(),
            nonce: get("nonce").filter(|n| !n.is_empty())?.to_owned(),
            algorithm: match get("algorithm") {
                Some(name) => Algorithm::parse(name)?,
                None => Algorithm::Md5,
            },
            qop_auth,
            opaque: get("opaque").map(str::to_owned),
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The challenge to answer among a response's header values: the first we can
    /// (the server lists its preference first, RFC 8760 §2.4).
    pub fn first_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        values.into_iter().find_map(Challenge::parse)
    }

    /// The challenge of a `401` (`WWW-Authenticate`) or `407` (`Proxy-Authenticate`),
    /// if we can answer one, and the header our answer goes in.
    pub fn of(response: &Response) -> (Option<Challenge>, &'static str) {
        let (read, write) = if response.status == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        (Challenge::first_of(response.headers.all(read)), write)
    }

    /// Whether to answer it, `answered` challenges to the same request having been
    /// answered already: the first always; after that only a stale nonce, once, as a
    /// second plain challenge means the credentials are wrong.
    pub fn worth_answering(&self, answered: u8) -> bool {
        answered == 0 || (self.stale && answered < 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_read_with_its_defaults() {
        let c = Challenge::parse(
            "Digest realm=\"carrier\", nonce=\"abc\", qop=\"auth,auth-int\", opaque=\"xyz\", stale=TRUE",
        )
        .unwrap();
        assert_eq!(c.realm, "carrier");
        assert_eq!(c.nonce, "abc");
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert!(c.qop_auth && c.stale);
        assert_eq!(c.opaque.as_deref(), Some("xyz"));
        let plain = Challenge::parse("digest realm=r,nonce=n").unwrap();
        assert!(!plain.qop_auth && !plain.stale && plain.opaque.is_none());
    }

    #[test]
    fn what_we_cannot_answer_is_skipped() {
        for bad in [
            "Basic realm=\"r\"",
            "Digest realm=\"r\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"r\" nonce=\"n\"",
        ] {
            assert_eq!(Challenge::parse(bad), None, "{bad}");
        }
        let first = Challenge::first_of([
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256",
            "Digest realm=\"r\", nonce=\"n\", algorithm=MD5",
        ])
        .unwrap();
        assert_eq!(first.algorithm, Algorithm::Sha256);
    }
}
