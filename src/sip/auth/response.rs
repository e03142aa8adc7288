//! The digest response (RFC 7616 §3.4.1): computing it, checking a phone's, and the
//! challenges that ask for one.

use super::algorithm::{Algorithm, h};
use super::credentials::Credentials;
use super::stored::StoredHa1;
use subtle::ConstantTimeEq;

/// The response from a known HA1 (hex), shared by server and test client.
///
/// `qop` is `(qop, nc)` as sent; `None` is the RFC 2069 form.
/// Returns `None` when the inputs cannot make a response (`-sess` without cnonce).
pub(super) fn response_from_ha1(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    cnonce: Option<&str>,
    qop: Option<(&str, &str)>,
) -> Option<String> {
    let hash = algorithm.hash();
    let session_ha1;
    let ha1 = if algorithm.is_sess() {
        session_ha1 = h(hash, &[ha1, nonce, cnonce?]);
        session_ha1.as_str()
    } else {
        ha1
    };
    let ha2 = h(hash, &[method, uri]);
    Some(match qop {
        Some((qop, nc)) => h(hash, &[ha1, nonce, nc, cnonce?, qop, &ha2]),
        None => h(hash, &[ha1, nonce, &ha2]),
    })
}

/// Checks a response against the stored HA1 for request `method`, in constant time.
///
/// Supports qop `auth` and the RFC 2069 form without qop; `auth-int`, other
/// qops, a realm other than the stored one, or `-sess` without cnonce give `false`.
/// Nonce, nonce count and digest-uri are the [`super::Authority`]'s to check.
pub fn verify(creds: &Credentials, method: &str, stored: &StoredHa1) -> bool {
    if creds.realm != stored.realm() {
        return false;
    }
    let qop = match (&creds.qop, &creds.nc) {
        (None, _) => None,
        (Some(qop), Some(nc)) if qop.eq_ignore_ascii_case("auth") && creds.cnonce.is_some() => {
            Some((qop.as_str(), nc.as_str()))
        }
        _ => return false,
    };
    let Some(expected) = response_from_ha1(
        creds.algorithm,
        stored.ha1(creds.algorithm.hash()),
        &creds.nonce,
        method,
        &creds.uri,
        creds.cnonce.as_deref(),
        qop,
    ) else {
        return false;
    };
    let given = creds.response.to_ascii_lowercase();
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// A quoted-string for a header: `"` and `\` escaped, control characters
/// (CR/LF above all, which would end the header) dropped.
pub(super) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The `WWW-Authenticate` values for a 401, one per algorithm in order of preference
/// (RFC 8760 §2.4), qop="auth".
pub fn challenges(realm: &str, nonce: &str, stale: bool, algorithms: &[Algorithm]) -> Vec<String> {
    let stale = if stale { ", stale=true" } else { "" };
    algorithms
        .iter()
        .copied()
        .map(|algorithm| {
            format!(
                "Digest realm={}, nonce={}, algorithm={algorithm}, qop=\"auth\"{stale}",
                quoted(realm),
                quoted(nonce)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::DEFAULT_ALGORITHMS;
    use super::super::client::{ClientAnswer, response_for};
    use super::*;

    // RFC 7616 §3.9.1 (password with a lowercase "of", per erratum 4495).
    const USER: &str = "Mufasa";
    const PASSWORD: &str = "Circle of Life";
    const REALM: &str = "http-auth@example.org";
    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const URI: &str = "/dir/index.html";
    const MD5_RESPONSE: &str = "8ca523f5e9506fed4657c9700eebdbec";
    const SHA256_RESPONSE: &str =
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

    fn rfc_answer(algorithm: Algorithm) -> ClientAnswer<'static> {
        ClientAnswer {
            username: USER,
            password: PASSWORD,
            realm: REALM,
            nonce: NONCE,
            method: "GET",
            uri: URI,
            algorithm,
            qop_auth: Some((CNONCE, 1)),
            opaque: None,
        }
    }

    /// The RFC's header, laid out over lines as there and unfolded as the SIP message
    /// layer hands header values on.
    fn rfc_header(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"{USER}\",\r\n    realm=\"{REALM}\",\r\n    uri=\"{URI}\",\r\n    \
             algorithm={algorithm},\r\n    nonce=\"{NONCE}\",\r\n    nc=00000001,\r\n    \
             cnonce=\"{CNONCE}\",\r\n    qop=auth,\r\n    response=\"{response}\",\r\n    \
             opaque=\"{OPAQUE}\""
        )
        .replace("\r\n    ", " ")
    }

    #[test]
    fn rfc7616_client_vectors() {
        assert_eq!(response_for(&rfc_answer(Algorithm::Md5)), MD5_RESPONSE);
        assert_eq!(
            response_for(&rfc_answer(Algorithm::Sha256)),
            SHA256_RESPONSE
        );
    }

    #[test]
    fn rfc7616_server_vectors() {
        let stored = StoredHa1::new(USER, REALM, PASSWORD);
        for (name, response) in [("MD5", MD5_RESPONSE), ("SHA-256", SHA256_RESPONSE)] {
            let creds = Credentials::parse(&rfc_header(name, response)).unwrap();
            assert_eq!(creds.username, USER);
            assert_eq!(creds.nc.as_deref(), Some("00000001"));
            assert_eq!(creds.opaque.as_deref(), Some(OPAQUE));
            assert!(verify(&creds, "GET", &stored), "{name}");
            // Hex case is not significant in the response.
            let upper = Credentials {
                response: response.to_ascii_uppercase(),
                ..creds.clone()
            };
            assert!(verify(&upper, "GET", &stored), "{name} uppercase");
        }
    }

    #[test]
    fn rfc2069_and_rfc2617_vectors() {
        // RFC 2069 form (no qop): checked independently with md5sum.
        let answer = ClientAnswer {
            username: "Mufasa",
            password: "CircleOfLife",
            realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            algorithm: Algorithm::Md5,
            qop_auth: None,
            opaque: None,
        };
        assert_eq!(response_for(&answer), "1949323746fe6a43ef61f9606e7febea");
        let stored = StoredHa1::new("Mufasa", "testrealm@host.com", "CircleOfLife");
        let creds = Credentials::parse(&answer.authorization()).unwrap();
        assert_eq!(creds.qop, None);
        assert!(verify(&creds, "GET", &stored));

        // RFC 2617 §3.5, qop=auth.
        let answer = ClientAnswer {
            password: "Circle Of Life",
            qop_auth: Some(("0a4f113b", 1)),
            ..answer
        };
        assert_eq!(response_for(&answer), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn sess_variants_round_trip() {
        let stored = StoredHa1::new("alice", "pbx.local", "s3cret");
        for algorithm in [Algorithm::Md5Sess, Algorithm::Sha256Sess] {
            let answer = ClientAnswer {
                username: "alice",
                password: "s3cret",
                realm: "pbx.local",
                nonce: "abc",
                method: "REGISTER",
                uri: "sip:pbx.local",
                algorithm,
                qop_auth: Some(("xyz", 7)),
                opaque: None,
            };
            let creds = Credentials::parse(&answer.authorization()).unwrap();
            assert_eq!(creds.algorithm, algorithm);
            assert!(verify(&creds, "REGISTER", &stored));
            // -sess really differs from the plain algorithm.
            let plain = ClientAnswer {
                algorithm: algorithm.base(),
                ..answer
            };
            assert_ne!(response_for(&plain), response_for(&answer));
            // -sess needs a cnonce.
            let bare = Credentials {
                cnonce: None,
                qop: None,
                nc: None,
                ..creds
            };
            assert!(!verify(&bare, "REGISTER", &stored));
        }
    }

    #[test]
    fn wrong_inputs_fail() {
        let stored = StoredHa1::new(USER, REALM, PASSWORD);
        let creds = Credentials::parse(&rfc_header("SHA-256", SHA256_RESPONSE)).unwrap();
        assert!(verify(&creds, "GET", &stored));

        let wrong_password = StoredHa1::new(USER, REALM, "Circle Of Life");
        assert!(!verify(&creds, "GET", &wrong_password));
        assert!(!verify(&creds, "POST", &stored));
        assert!(!verify(&creds, "get", &stored));

        let other_realm = StoredHa1::new(USER, "pbx.local", PASSWORD);
        assert!(!verify(&creds, "GET", &other_realm));
        let claimed_realm = Credentials {
            realm: "pbx.local".into(),
            ..creds.clone()
        };
        assert!(!verify(&claimed_realm, "GET", &stored));

        let other_user = StoredHa1::new("Simba", REALM, PASSWORD);
        assert!(!verify(&creds, "GET", &other_user));

        let auth_int = Credentials {
            qop: Some("auth-int".into()),
            ..creds.clone()
        };
        assert!(!verify(&auth_int, "GET", &stored));
        let no_nc = Credentials {
            nc: None,
            ..creds.clone()
        };
        assert!(!verify(&no_nc, "GET", &stored));
        let truncated = Credentials {
            response: SHA256_RESPONSE[..32].into(),
            ..creds.clone()
        };
        assert!(!verify(&truncated, "GET", &stored));
        // An MD5 answer claiming SHA-256 fails.
        let mislabeled = Credentials {
            response: MD5_RESPONSE.into(),
            ..creds
        };
        assert!(!verify(&mislabeled, "GET", &stored));
    }

    #[test]
    fn challenges_order_and_form() {
        let values = challenges("pbx.local", "abc", false, &DEFAULT_ALGORITHMS);
        assert_eq!(
            values,
            [
                "Digest realm=\"pbx.local\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\"",
                "Digest realm=\"pbx.local\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"",
            ]
        );
        let stale = challenges("pbx.local", "abc", true, &DEFAULT_ALGORITHMS);
        assert!(stale.iter().all(|v| v.ends_with(", stale=true")));
        // A hostile realm can neither break out of its quotes nor end the header.
        let odd = challenges("a\"b\\c\r\nX-Injected: 1", "n", false, &DEFAULT_ALGORITHMS);
        assert!(odd[0].starts_with("Digest realm=\"a\\\"b\\\\cX-Injected: 1\", "));
    }
}
