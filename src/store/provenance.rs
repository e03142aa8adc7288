//! What a database was last provisioned from: the config and the plan, by their
//! SHA-256, and the little of them an admin command needs. A command whose config and
//! plan hash the same need not parse, check or provision them again: the same bytes
//! would give the same result.

use crate::dsl::Plan;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The config and plan a database was provisioned from.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The config file, absolute.
    pub config: PathBuf,
    /// SHA-256 of the config's bytes.
    pub config_hash: String,
    /// SHA-256 of the plan's files and hook files ([`plan_hash`]).
    pub plan_hash: String,
    /// The dialplan the config names, absolute.
    pub dialplan: PathBuf,
    /// The database the config names, absolute (the one used may be `--db`'s).
    pub database: PathBuf,
    /// The config's `system:` overrides.
    pub system: serde_json::Map<String, serde_json::Value>,
    /// The pbxctl version that provisioned it: another version checks and provisions
    /// in full, since its rules or stored forms may differ.
    pub pbxctl: String,
}

/// This pbxctl's version, as [`Provenance::pbxctl`] records it.
pub const PBXCTL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// SHA-256 of a file's bytes, in hex.
pub fn file_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 over the text of every file a plan was read from, included files and hook
/// files too, in the order they were read. Paths are left out: the same plan named
/// through another path (relative, absolute) is the same plan.
pub fn plan_hash(plan: &Plan) -> String {
    let mut h = Sha256::new();
    let files = plan.sources.files().map(|(_, f)| &f.text);
    let hooks = plan.hooks.values().map(|hook| &hook.code);
    for text in files.chain(hooks) {
        // Each length first, so no two different sets of files hash alike.
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_hash_is_sha256() {
        assert_eq!(
            file_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_plan_hashes_by_every_file_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.pbx");
        std::fs::write(&main, "include \"more.pbx\"\n").unwrap();
        std::fs::write(dir.path().join("more.pbx"), "set x = 1\n").unwrap();
        let first = plan_hash(&crate::dsl::load(&main).unwrap());
        assert_eq!(first, plan_hash(&crate::dsl::load(&main).unwrap()));
        std::fs::write(dir.path().join("more.pbx"), "set x = 2\n").unwrap();
        assert_ne!(first, plan_hash(&crate::dsl::load(&main).unwrap()));
    }
}
