//! Digest algorithms (RFC 7616 §3.2, RFC 8760) and the hashing they share.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hash {
    Md5,
    Sha256,
}

/// The algorithms offered when the config names none: SHA-256 preferred (RFC 8760 §2.4).
pub const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

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

    pub(super) fn hash(self) -> Hash {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Hash::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Hash::Sha256,
        }
    }

    pub(super) fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lowercase hex of `H(parts joined by ':')`.
pub(super) fn h(hash: Hash, parts: &[&str]) -> String {
    fn joined<D: Digest>(parts: &[&str]) -> String {
        let mut d = D::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(part.as_bytes());
        }
        hex::encode(d.finalize())
    }
    match hash {
        Hash::Md5 => joined::<Md5>(parts),
        Hash::Sha256 => joined::<Sha256>(parts),
    }
}

/// Decodes lowercase hex only: what we mint and store is lowercase, so anything else
/// is not ours.
pub(super) fn from_hex(text: &str) -> Option<Vec<u8>> {
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

/// Whether `text` is exactly `len` lowercase hex digits.
pub(super) fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && from_hex(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ] {
            assert_eq!(Algorithm::parse(a.name()), Some(a));
            assert_eq!(Algorithm::parse(&a.name().to_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::parse("SHA-512-256"), None);
        assert_eq!(Algorithm::Sha256Sess.base(), Algorithm::Sha256);
    }

    #[test]
    fn hex_is_lowercase_only() {
        assert_eq!(hex::encode([0x00, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00abff"), Some(vec![0x00, 0xab, 0xff]));
        for bad in ["0", "AB", "zz", "é1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
        assert!(is_lower_hex("00ff", 4) && !is_lower_hex("00ff", 6));
    }
}
