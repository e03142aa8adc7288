//! What the store keeps of a SIP secret: the realm and the HA1s, never the password.

use super::algorithm::{Hash, h, is_lower_hex};
use std::fmt;
use subtle::ConstantTimeEq;

/// The stored form of a SIP secret: the realm and `H(username:realm:password)` for MD5
/// and SHA-256.
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

    /// The database form, `digest-ha1$md5=..$sha256=..$realm=..` (contains the hashes:
    /// store, never log).
    pub fn encode(&self) -> String {
        format!(
            "{STORED_PREFIX}$md5={}$sha256={}$realm={}",
            self.md5, self.sha256, self.realm
        )
    }

    /// Reads the database form back; `None` if it is not exactly what
    /// [`encode`](Self::encode) writes.
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

    pub(super) fn ha1(&self, hash: Hash) -> &str {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn debug_redacts_the_hashes() {
        let stored = StoredHa1::new("Mufasa", "http-auth@example.org", "Circle of Life");
        let shown = format!("{stored:?}");
        assert!(shown.contains("http-auth@example.org"));
        let encoded = stored.encode();
        for field in encoded.split('$').skip(1).take(2) {
            let hash = &field[field.find('=').unwrap() + 1..];
            assert!(!shown.contains(hash), "{shown}");
        }
    }
}
