//! Salted password hashing (argon2id, PHC strings). The only module that sees argon2.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes and verifies secrets. The cost is written into each hash, so a verify
/// uses the cost the secret was stored with.
#[derive(Clone, Debug)]
pub struct SecretHasher {
    params: Params,
}

impl SecretHasher {
    /// OWASP's argon2id baseline (19 MiB, 2 passes): for `pbxctl run` and `ext`.
    pub fn production() -> SecretHasher {
        SecretHasher {
            params: Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
        }
    }

    /// The smallest argon2id cost: for session replays, whose secrets are fixtures.
    pub fn fast() -> SecretHasher {
        SecretHasher {
            params: Params::new(8, 1, 1, None).expect("valid argon2 parameters"),
        }
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string with a fresh random salt.
    pub fn hash(&self, secret: &str) -> String {
        self.argon()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .expect("argon2 hashing with valid parameters cannot fail")
    }

    /// Whether `secret` matches the stored hash (constant-time comparison).
    /// `None` (no secret stored) still spends a verify, so timing does not tell.
    pub fn verify(&self, secret: &str, stored: Option<&str>) -> bool {
        let decoy;
        let phc = match stored {
            Some(s) => s,
            None => {
                decoy = self.hash("decoy");
                decoy.as_str()
            }
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = self
            .argon()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok();
        ok && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let h = SecretHasher::fast();
        let a = h.hash("2580");
        let b = h.hash("2580");
        assert_ne!(a, b, "salted");
        assert!(!a.contains("2580"));
        assert!(h.verify("2580", Some(&a)));
        assert!(!h.verify("2581", Some(&a)));
        assert!(!h.verify("2580", None));
        // A hash made at production cost verifies with any hasher: the cost is in the hash.
        let strong = SecretHasher::production().hash("4321");
        assert!(h.verify("4321", Some(&strong)));
    }
}
