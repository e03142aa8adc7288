//! SIP digest authentication: RFC 3261 §22 with the algorithms of RFC 7616 and
//! SHA-256 in SIP per RFC 8760.
//!
//! The server never keeps a clear password, only [`StoredHa1`]: the realm and
//! `H(username:realm:password)` for MD5 and SHA-256. Nonces are stateless
//! ([`Nonces`]): a timestamp and a salt authenticated with HMAC-SHA-256, so any
//! process holding the key can check them and none has to remember them.
//!
//! A registrar answers a request roughly like this:
//!
//! 1. no credentials: 401 with [`challenges`] over a fresh [`Nonces::mint`];
//! 2. [`Credentials::parse`] the Authorization header, look the user up by
//!    `username` (and `realm`), and [`Nonces::check`] the nonce — `Invalid` is
//!    treated like "no credentials";
//! 3. [`verify`] the response; if it is right but the nonce was `Stale`, 401
//!    again with `stale = true` (the phone retries without prompting); if it is
//!    wrong, that is a failure for [`crate::sip::source_guard`].
//!
//! Checking that `uri` matches the Request-URI is the caller's business too.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::{Duration, Timestamp};

/// A digest algorithm as named in the `algorithm` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the RFC 3261 default when `algorithm` is absent.
    Md5,
    /// `MD5-sess`: HA1 is re-hashed with the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

/// The hash function underneath an [`Algorithm`].
#[derive(Clone, Copy)]
enum Hash {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Parses an `algorithm` value case-insensitively; `None` for anything unsupported.
    pub fn parse(name: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The algorithm without `-sess`: what a challenge offers.
    pub fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    /// The canonical name, as sent in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self) -> Hash {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Hash::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Hash::Sha256,
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lowercase hex of `H(parts joined by ':')`.
fn h(hash: Hash, parts: &[&str]) -> String {
    fn joined<D: Digest>(parts: &[&str]) -> String {
        let mut d = D::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(part.as_bytes());
        }
        to_hex(&d.finalize())
    }
    match hash {
        Hash::Md5 => joined::<Md5>(parts),
        Hash::Sha256 => joined::<Sha256>(parts),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Decodes lowercase hex only: what we mint is lowercase, so anything else is not ours.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && from_hex(text).is_some()
}

/// The response from a known HA1 (hex), shared by client and server.
///
/// `qop` is `(qop, cnonce, nc)` as sent; `None` is the RFC 2069 form.
/// Returns `None` when the inputs cannot make a response (`-sess` without cnonce).
fn response_from_ha1(
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

/// The stored form of a SIP secret: the realm and `H(username:realm:password)` for MD5 and SHA-256.
///
/// [`encode`](StoredHa1::encode) gives one string for the database column:
/// `digest-ha1$md5=<32 hex>$sha256=<64 hex>$realm=<realm>`. The realm comes
/// last and verbatim, so it may contain `$` without any escaping. The username
/// is not stored but is bound into both hashes: renaming a user needs a new password.
#[derive(Clone)]
pub struct StoredHa1 {
    realm: String,
    md5: String,
    sha256: String,
}

const STORED_PREFIX: &str = "digest-ha1";

impl StoredHa1 {
    /// Hashes a password for `username` in `realm`; the password itself is not kept.
    pub fn new(username: &str, realm: &str, password: &str) -> Self {
        StoredHa1 {
            realm: realm.to_owned(),
            md5: h(Hash::Md5, &[username, realm, password]),
            sha256: h(Hash::Sha256, &[username, realm, password]),
        }
    }

    /// The realm these hashes were made for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The database form, `digest-ha1$md5=..$sha256=..$realm=..` (contains the hashes: store, never log).
    pub fn encode(&self) -> String {
        format!(
            "{STORED_PREFIX}$md5={}$sha256={}$realm={}",
            self.md5, self.sha256, self.realm
        )
    }

    /// Reads the database form back; `None` if it is not exactly what [`encode`](Self::encode) writes.
    pub fn decode(s: &str) -> Option<Self> {
        let mut fields = s.splitn(4, '$');
        if fields.next()? != STORED_PREFIX {
            return None;
        }
        let md5 = fields.next()?.strip_prefix("md5=")?;
        let sha256 = fields.next()?.strip_prefix("sha256=")?;
        let realm = fields.next()?.strip_prefix("realm=")?;
        if !is_lower_hex(md5, 32) || !is_lower_hex(sha256, 64) {
            return None;
        }
        Some(StoredHa1 {
            realm: realm.to_owned(),
            md5: md5.to_owned(),
            sha256: sha256.to_owned(),
        })
    }

    fn ha1(&self, hash: Hash) -> &str {
        match hash {
            Hash::Md5 => &self.md5,
            Hash::Sha256 => &self.sha256,
        }
    }
}

// By hand, so the hashes never reach a log line.
impl fmt::Debug for StoredHa1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredHa1")
            .field("realm", &self.realm)
            .field("md5", &"<redacted>")
            .field("sha256", &"<redacted>")
            .finish()
    }
}

// Constant time, because the hashes are password-equivalent.
impl PartialEq for StoredHa1 {
    fn eq(&self, other: &Self) -> bool {
        let hashes = self.md5.as_bytes().ct_eq(other.md5.as_bytes())
            & self.sha256.as_bytes().ct_eq(other.sha256.as_bytes());
        bool::from(hashes) && self.realm == other.realm
    }
}

impl Eq for StoredHa1 {}

/// What [`Nonces::check`] makes of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceState {
    /// Ours and within its lifetime.
    Valid,
    /// Ours but too old (or too far ahead): challenge again with `stale=true`.
    Stale,
    /// Not ours: forged, tampered with, from another key, or garbage.
    Invalid,
}

/// Mints and checks nonces without server state.
///
/// A nonce is 64 lowercase hex digits: the issue time (ms, 8 bytes big-endian),
/// a random salt (8 bytes, so two challenges in the same millisecond differ),
/// and HMAC-SHA-256 over both under the key, truncated to 16 bytes.
/// Nonces are not bound to a realm or a source address, and being stateless
/// they can be replayed within their lifetime.
#[derive(Clone)]
pub struct Nonces {
    key: [u8; 32],
    lifetime: Duration,
}

/// Domain separation, so this key's MACs mean nothing anywhere else.
const NONCE_LABEL: &[u8] = b"pbxctl/sip/nonce/v1";
const NONCE_MAC_LEN: usize = 16;

impl Nonces {
    /// A nonce authority with a secret `key` whose nonces last `lifetime` (negative counts as zero).
    pub fn new(key: [u8; 32], lifetime: Duration) -> Self {
        Nonces {
            key,
            lifetime: Duration(lifetime.0.max(0)),
        }
    }

    /// A fresh random key, for servers that do not share nonces across restarts or nodes.
    pub fn generate_key() -> [u8; 32] {
        rand::random()
    }

    /// A new nonce issued at `now`.
    pub fn mint(&self, now: Timestamp) -> String {
        let issued = now.0.to_be_bytes();
        let salt: [u8; 8] = rand::random();
        let mac = self.mac(&issued, &salt);
        let mut nonce = String::with_capacity(64);
        nonce.push_str(&to_hex(&issued));
        nonce.push_str(&to_hex(&salt));
        nonce.push_str(&to_hex(&mac));
        nonce
    }

    /// Whether `nonce` is ours and fresh at `now`.
    ///
    /// Age is taken in absolute value, so a nonce from the future (a clock
    /// stepped back, a peer node slightly ahead) is valid for at most `lifetime` too.
    pub fn check(&self, nonce: &str, now: Timestamp) -> NonceState {
        if nonce.len() != 64 {
            return NonceState::Invalid;
        }
        let Some(bytes) = from_hex(nonce) else {
            return NonceState::Invalid;
        };
        let (issued, rest) = bytes.split_at(8);
        let (salt, mac) = rest.split_at(8);
        let expected = self.mac(issued, salt);
        if !bool::from(expected.ct_eq(mac)) {
            return NonceState::Invalid;
        }
        let mut ms = [0u8; 8];
        ms.copy_from_slice(issued);
        let age = now.0.abs_diff(i64::from_be_bytes(ms));
        if age <= self.lifetime.0.unsigned_abs() {
            NonceState::Valid
        } else {
            NonceState::Stale
        }
    }

    fn mac(&self, issued: &[u8], salt: &[u8]) -> [u8; NONCE_MAC_LEN] {
        let full = hmac_sha256(&self.key, &[NONCE_LABEL, issued, salt]);
        let mut out = [0u8; NONCE_MAC_LEN];
        out.copy_from_slice(&full[..NONCE_MAC_LEN]);
        out
    }
}

// By hand, so the key never reaches a log line.
impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("key", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `message`.
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in message {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A quoted-string for a header: `"` and `\` escaped, control characters
/// (CR/LF above all, which would end the header) dropped.
fn quoted(value: &str) -> String {
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

/// The algorithms offered when the config names none: SHA-256 preferred (RFC 8760 §2.4).
pub const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

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

impl Credentials {
    /// Parses a header value such as `Digest username="alice", realm="pbx.local", ...`.
    ///
    /// Tolerant of spacing, quoting, order and case of the scheme and parameter
    /// names; unknown parameters are ignored. `None` for another scheme, a
    /// malformed list, a repeated known parameter, an unknown algorithm, or a
    /// missing username/realm/nonce/uri/response.
    pub fn parse(header_value: &str) -> Option<Credentials> {
        let text = header_value.trim_start();
        let scheme_end = text.find(|c: char| c.is_whitespace()).unwrap_or(text.len());
        let (scheme, params) = text.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }

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
        let mut found: [Option<String>; 10] = Default::default();
        for (name, value) in parse_params(params)? {
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

/// Token characters of RFC 3261 §25.1, as the message grammar has them.
fn is_token_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(super::message::is_token_byte)
}

/// Splits `name=value, name="quoted value", ...` into pairs; `None` if malformed.
fn parse_params(text: &str) -> Option<Vec<(String, String)>> {
    let mut chars = text.chars().peekable();
    let mut params = Vec::new();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
    };
    loop {
        // Empty list elements (",,") are allowed by the #rule.
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Some(params);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| is_token_char(*c)) {
            name.push(c);
        }
        if name.is_empty() {
            return None;
        }
        skip_ws(&mut chars);
        chars.next_if_eq(&'=')?;
        skip_ws(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            // Tokens, plus what unquoted URIs carry (`:`, `@`, `/`, ...).
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ',' && *c != '"') {
                value.push(c);
            }
            if value.is_empty() {
                return None;
            }
        }
        skip_ws(&mut chars);
        if chars.peek().is_some_and(|c| *c != ',') {
            return None;
        }
        params.push((name, value));
    }
}

/// Checks a response against the stored HA1 for request `method`, in constant time.
///
/// Supports qop `auth` and the RFC 2069 form without qop; `auth-int`, other
/// qops, a realm other than the stored one, or `-sess` without cnonce give `false`.
/// The nonce is not checked here: see [`Nonces::check`].
pub fn verify(creds: &Credentials, method: &str, stored: &StoredHa1) -> bool {
    if creds.realm != stored.realm {
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

/// What a client needs to answer a challenge (for our test client and tests).
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

/// The client-side response hex for `answer` (`-sess` without qop yields a value no server accepts).
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
        }
    }

    fn rfc_header(algorithm: &str, response: &str) -> String {
        // Laid out as in the RFC, folded over lines.
        format!(
            "Digest username=\"{USER}\",\r\n    realm=\"{REALM}\",\r\n    uri=\"{URI}\",\r\n    \
             algorithm={algorithm},\r\n    nonce=\"{NONCE}\",\r\n    nc=00000001,\r\n    \
             cnonce=\"{CNONCE}\",\r\n    qop=auth,\r\n    response=\"{response}\",\r\n    \
             opaque=\"{OPAQUE}\""
        )
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
            };
            let creds = Credentials::parse(&answer.authorization()).unwrap();
            assert_eq!(creds.algorithm, algorithm);
            assert!(verify(&creds, "REGISTER", &stored));
            // -sess really differs from the plain algorithm.
            let plain = ClientAnswer {
                algorithm: if algorithm == Algorithm::Md5Sess {
                    Algorithm::Md5
                } else {
                    Algorithm::Sha256
                },
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
        assert_eq!(creds.opaque, None);

        // No algorithm means MD5; UTF-8 survives.
        let creds = Credentials::parse(
            "Digest username=\"zoë\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"",
        )
        .unwrap();
        assert_eq!(creds.algorithm, Algorithm::Md5);
        assert_eq!(creds.username, "zoë");
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

    #[test]
    fn stored_ha1_round_trips() {
        let stored = StoredHa1::new("alice", "pbx$local", "s3cret");
        let encoded = stored.encode();
        assert!(encoded.starts_with("digest-ha1$md5="));
        assert!(encoded.ends_with("$realm=pbx$local"));
        let decoded = StoredHa1::decode(&encoded).unwrap();
        assert_eq!(decoded, stored);
        assert_eq!(decoded.realm(), "pbx$local");
        assert_ne!(stored, StoredHa1::new("alice", "pbx$local", "other"));

        let md5 = h(Hash::Md5, &["alice", "pbx$local", "s3cret"]);
        let sha = h(Hash::Sha256, &["alice", "pbx$local", "s3cret"]);
        for bad in [
            String::new(),
            "digest-ha1".into(),
            "argon2id$v=19$m=19456".into(),
            format!("digest-ha1$md5={md5}$sha256={sha}"),
            format!("digest-ha1$sha256={sha}$md5={md5}$realm=r"),
            format!("digest-ha1$md5={}$sha256={sha}$realm=r", &md5[..30]),
            format!("digest-ha1$md5={}$sha256={sha}$realm=r", md5.to_uppercase()),
            format!("digest-ha1$md5={md5}$sha256={}é$realm=r", &sha[..62]),
            format!("DIGEST-HA1$md5={md5}$sha256={sha}$realm=r"),
        ] {
            assert_eq!(StoredHa1::decode(&bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let stored = StoredHa1::new(USER, REALM, PASSWORD);
        let shown = format!("{stored:?}");
        assert!(shown.contains(REALM));
        let encoded = stored.encode();
        for field in encoded.split('$').skip(1).take(2) {
            let hash = &field[field.find('=').unwrap() + 1..];
            assert!(!shown.contains(hash), "{shown}");
        }

        let creds = Credentials::parse(&rfc_header("SHA-256", SHA256_RESPONSE)).unwrap();
        let shown = format!("{creds:?}");
        assert!(shown.contains(USER));
        assert!(!shown.contains(SHA256_RESPONSE), "{shown}");

        let answer = format!("{:?}", rfc_answer(Algorithm::Md5));
        assert!(!answer.contains(PASSWORD), "{answer}");

        let nonces = format!("{:?}", Nonces::new([0xab; 32], Duration::seconds(30)));
        assert!(!nonces.contains("171"), "{nonces}");
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(
            to_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            to_hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn nonces_expire_and_resist_tampering() {
        let nonces = Nonces::new([7; 32], Duration::seconds(30));
        let t0 = Timestamp(1_772_355_600_000);
        let nonce = nonces.mint(t0);
        assert_eq!(nonce.len(), 64);
        assert_ne!(nonce, nonces.mint(t0), "salted");

        assert_eq!(nonces.check(&nonce, t0), NonceState::Valid);
        let limit = t0.after(Duration::seconds(30));
        assert_eq!(nonces.check(&nonce, limit), NonceState::Valid);
        assert_eq!(
            nonces.check(&nonce, limit.after(Duration(1))),
            NonceState::Stale
        );
        assert_eq!(
            nonces.check(&nonce, Timestamp(t0.0 - 30_000)),
            NonceState::Valid
        );
        assert_eq!(
            nonces.check(&nonce, Timestamp(t0.0 - 30_001)),
            NonceState::Stale
        );

        // Every single-character change, in time, salt or MAC, is caught.
        for i in 0..nonce.len() {
            let mut tampered = nonce.clone().into_bytes();
            tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert_eq!(nonces.check(&tampered, t0), NonceState::Invalid, "{i}");
        }
        // Moving the time forward to extend the lifetime does not work either.
        let later = format!("{}{}", to_hex(&(t0.0 + 60_000).to_be_bytes()), &nonce[16..]);
        assert_eq!(
            nonces.check(&later, t0.after(Duration::seconds(60))),
            NonceState::Invalid
        );

        let other = Nonces::new([8; 32], Duration::seconds(30));
        assert_eq!(other.check(&nonce, t0), NonceState::Invalid);

        let longer = format!("{nonce}0");
        let upper = nonce.to_uppercase();
        let zs = "z".repeat(64);
        for garbage in [
            "",
            "nonce",
            &nonce[..63],
            longer.as_str(),
            upper.as_str(),
            "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
            zs.as_str(),
            NONCE,
        ] {
            assert_eq!(nonces.check(garbage, t0), NonceState::Invalid, "{garbage}");
        }
    }

    #[test]
    fn full_exchange() {
        let nonces = Nonces::new(Nonces::generate_key(), Duration::seconds(60));
        let stored =
            StoredHa1::decode(&StoredHa1::new("1001", "pbx.local", "pw").encode()).unwrap();
        let t0 = Timestamp(1_000_000);
        let nonce = nonces.mint(t0);
        let header = &challenges(stored.realm(), &nonce, false, &DEFAULT_ALGORITHMS)[0];
        assert!(header.contains(&nonce));

        let answer = ClientAnswer {
            username: "1001",
            password: "pw",
            realm: "pbx.local",
            nonce: &nonce,
            method: "REGISTER",
            uri: "sip:pbx.local",
            algorithm: Algorithm::Sha256,
            qop_auth: Some(("deadbeef", 1)),
        };
        let creds = Credentials::parse(&answer.authorization()).unwrap();
        assert_eq!(
            nonces.check(&creds.nonce, t0.after(Duration(5))),
            NonceState::Valid
        );
        assert!(verify(&creds, "REGISTER", &stored));
        assert!(!verify(&creds, "INVITE", &stored));
    }
}
