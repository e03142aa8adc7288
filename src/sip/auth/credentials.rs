//! A phone's answer to a challenge: the `Authorization` header, parsed.

use super::algorithm::Algorithm;
use crate::sip::message::auth_params;
use std::fmt;

/// A parsed `Authorization` / `Proxy-Authorization` value for the Digest scheme.
// No PartialEq: comparing responses must go through `verify`, in constant time.
#[derive(Clone)]
pub struct Credentials {
    /// The user name (`username`).
    pub username: String,
    /// The realm the client answered for.
    pub realm: String,
    /// The nonce the client answered.
    pub nonce: String,
    /// The digest-uri the response covers.
    pub uri: String,
    /// The response hex, as sent.
    pub response: String,
    /// The algorithm; MD5 when the header names none.
    pub algorithm: Algorithm,
    /// The client nonce, present with qop.
    pub cnonce: Option<String>,
    /// The quality of protection, as sent (`auth`).
    pub qop: Option<String>,
    /// The nonce count, 8 hex digits as sent.
    pub nc: Option<String>,
    /// The opaque value echoed back.
    pub opaque: Option<String>,
}

/// The parameters we read, in the order of [`Credentials`]' fields.
const KNOWN: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "qop",
    "nc",
    "opaque",
];

impl Credentials {
    /// Parses a header value such as `Digest username="alice", realm="pbx.local", ...`.
    ///
    /// The parameter list is read by the SIP message grammar (quoted strings as
    /// RFC 3261 has them, so no escaped CR or LF); spacing, order and the case of the
    /// scheme and parameter names are free, and unknown parameters are ignored.
    /// `None` for another scheme, a malformed list, a repeated known parameter, an
    /// unknown algorithm, or a missing username/realm/nonce/uri/response.
    pub fn parse(header_value: &str) -> Option<Credentials> {
        let text = header_value.trim_start_matches([' ', '\t']);
        let scheme_end = text.find([' ', '\t']).unwrap_or(text.len());
        let (scheme, params) = text.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut found: [Option<String>; 10] = Default::default();
        for (name, value) in auth_params(params).ok()? {
            if let Some(i) = KNOWN.iter().position(|k| k.eq_ignore_ascii_case(&name)) {
                // A repeated parameter is ambiguous; refuse rather than guess.
                if found[i].replace(value).is_some() {
                    return None;
                }
            }
        }
        let [
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            qop,
            nc,
            opaque,
        ] = found;
        let required = |v: Option<String>| v.filter(|v| !v.is_empty());
        Some(Credentials {
            username: required(username)?,
            realm: realm?,
            nonce: required(nonce)?,
            uri: required(uri)?,
            response: required(response)?,
            algorithm: match algorithm {
                Some(name) => Algorithm::parse(&name)?,
                None => Algorithm::Md5,
            },
            cnonce,
            qop,
            nc,
            opaque,
        })
    }

    /// The nonce count as a number.
    pub fn nonce_count(&self) -> NonceCount {
        match (&self.qop, &self.nc) {
            (None, _) => NonceCount::WithoutQop,
            (Some(_), Some(nc)) if nc.len() == 8 && nc.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(nc, 16).map_or(NonceCount::Malformed, NonceCount::Count)
            }
            (Some(_), _) => NonceCount::Malformed,
        }
    }
}

/// An answer's nonce count (`nc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCount {
    /// The RFC 2069 form, without qop and so without a count.
    WithoutQop,
    /// The count.
    Count(u32),
    /// qop without the 8 hex digits RFC 7616 asks for.
    Malformed,
}

// By hand, so the response (a password-derived value) stays out of logs.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("cnonce", &self.cnonce)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .field("opaque", &self.opaque)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_tolerant() {
        let creds = Credentials::parse(
            "  dIgEsT   USERNAME = \"al\\\"ice\" ,realm=pbx.local,,  Nonce=\"n1\",\
             uri=sip:pbx.local;transport=tcp , response=\"ABCDEF\",ALGORITHM=sha-256,\
             qop=\"auth\",cnonce=c1 , nc=00000002, userhash=false, foo=\"a, b\"  ",
        )
        .unwrap();
        assert_eq!(creds.username, "al\"ice");
        assert_eq!(creds.realm, "pbx.local");
        assert_eq!(creds.nonce, "n1");
        assert_eq!(creds.uri, "sip:pbx.local;transport=tcp");
        assert_eq!(creds.response, "ABCDEF");
        assert_eq!(creds.algorithm, Algorithm::Sha256);
        assert_eq!(creds.qop.as_deref(), Some("auth"));
        assert_eq!(creds.cnonce.as_deref(), Some("c1"));
        assert_eq!(creds.nc.as_deref(), Some("00000002"));
        assert_eq!(creds.nonce_count(), NonceCount::Count(2));
        assert_eq!(creds.opaque, None);

        // No algorithm means MD5; UTF-8 survives.
        let creds = Credentials::parse(
            "Digest username=\"zoë\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"",
        )
        .unwrap();
        assert_eq!(creds.algorithm, Algorithm::Md5);
        assert_eq!(creds.username, "zoë");
        assert_eq!(creds.nonce_count(), NonceCount::WithoutQop);
    }

    #[test]
    fn parse_rejects_garbage() {
        let full = "username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"";
        assert!(Credentials::parse(&format!("Digest {full}")).is_some());
        for bad in [
            String::new(),
            "Digest".into(),
            "Digest ".into(),
            format!("Basic {full}"),
            format!("Digestusername=\"a\", {full}"),
            format!("Digest {full}, algorithm=SHA-512-256"),
            format!("Digest {full}, nonce=\"again\""),
            format!("Digest {full}, opaque=\"unterminated"),
            format!("Digest {full}, opaque=\"ends in escape\\"),
            format!("Digest {full}, broken"),
            format!("Digest {full}, x="),
            format!("Digest {full} extra=1"),
            format!("Digest {full}, =\"v\""),
            // The message grammar's quoted-string: no escaped CR or LF, no raw controls.
            format!("Digest {full}, opaque=\"a\\\rb\""),
            format!("Digest {full}, opaque=\"a\\\nb\""),
            format!("Digest {full}, opaque=\"a\u{1}b\""),
            "Digest realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"".into(),
            "Digest username=\"a\", realm=\"r\", uri=\"sip:r\", response=\"x\"".into(),
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", response=\"x\"".into(),
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:r\"".into(),
            "Digest username=\"\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"".into(),
            "Digest \u{0}\u{ffff}é==,,\"".into(),
        ] {
            assert!(Credentials::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn nonce_counts_are_eight_hex_digits() {
        let with = |qop: Option<&str>, nc: Option<&str>| Credentials {
            qop: qop.map(str::to_owned),
            nc: nc.map(str::to_owned),
            ..Credentials::parse("Digest username=a, realm=r, nonce=n, uri=\"sip:r\", response=x")
                .unwrap()
        };
        assert_eq!(
            with(Some("auth"), Some("0000000a")).nonce_count(),
            NonceCount::Count(10)
        );
        assert_eq!(
            with(Some("auth"), Some("FFFFFFFF")).nonce_count(),
            NonceCount::Count(u32::MAX)
        );
        for bad in [
            None,
            Some("1"),
            Some("000000001"),
            Some("0000000g"),
            Some("+0000001"),
        ] {
            assert_eq!(
                with(Some("auth"), bad).nonce_count(),
                NonceCount::Malformed,
                "{bad:?}"
            );
        }
        assert_eq!(
            with(None, Some("junk")).nonce_count(),
            NonceCount::WithoutQop
        );
    }

    #[test]
    fn debug_redacts_the_response() {
        let creds = Credentials::parse(
            "Digest username=\"Mufasa\", realm=r, nonce=n, uri=\"sip:r\", response=\"753927fa0e85\"",
        )
        .unwrap();
        let shown = format!("{creds:?}");
        assert!(shown.contains("Mufasa"));
        assert!(!shown.contains("753927fa0e85"), "{shown}");
    }
}
