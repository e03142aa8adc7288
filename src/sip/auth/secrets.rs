//! SIP secrets in the store: only digest HA1s (RFC 3261 section 22.4), never the password.

use super::stored::StoredHa1;
use crate::directory::entry::Directory;
use crate::dsl::ast::OwnerKind;
use crate::store::{SecretId, Store, StoreResult};

/// The store key of an extension's SIP secret.
pub fn secret_id(extension: &str) -> SecretId {
    SecretId {
        owner_kind: OwnerKind::Extension,
        owner: extension.to_owned(),
        kind: "sip".into(),
    }
}

/// Stores HA1s for every extension with a `secret` that has none for `realm` yet. A secret
/// stored for another realm is useless (phones hash the realm in), so it is replaced.
pub fn provision<S: Store>(store: &S, directory: &Directory, realm: &str) -> StoreResult<()> {
    for (number, entry) in &directory.extensions {
        let Some(password) = &entry.value.secret else {
            continue;
        };
        let id = secret_id(number);
        let current = store
            .secret(&id)?
            .and_then(|r| r.hash)
            .and_then(|h| StoredHa1::decode(&h));
        if current.is_none_or(|c| c.realm() != realm) {
            store.set_secret(&id, &StoredHa1::new(number, realm, password).encode())?;
        }
    }
    Ok(())
}

/// The HA1s of `extension`, if it has a SIP secret.
pub fn lookup<S: Store>(store: &S, extension: &str) -> StoreResult<Option<StoredHa1>> {
    Ok(store
        .secret(&secret_id(extension))?
        .and_then(|r| r.hash)
        .and_then(|h| StoredHa1::decode(&h)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn the_password_is_never_stored_and_a_new_realm_replaces_the_hash() {
        let dir: Directory =
            serde_saphyr::from_str("extensions:\n  \"101\": { secret: \"sip-pass-101\" }\n")
                .unwrap();
        let s = SqliteStore::in_memory().unwrap();
        s.provision(&dir, &crate::store::SecretHasher::fast())
            .unwrap();
        provision(&s, &dir, "pbx.local").unwrap();
        let stored = s.secret(&secret_id("101")).unwrap().unwrap().hash.unwrap();
        assert!(!stored.contains("sip-pass-101"));
        assert_eq!(lookup(&s, "101").unwrap().unwrap().realm(), "pbx.local");
        provision(&s, &dir, "pbx.local").unwrap();
        assert_eq!(
            s.secret(&secret_id("101")).unwrap().unwrap().hash.unwrap(),
            stored
        );
        provision(&s, &dir, "other.example").unwrap();
        assert_eq!(lookup(&s, "101").unwrap().unwrap().realm(), "other.example");
        assert!(lookup(&s, "102").unwrap().is_none());
    }
}
