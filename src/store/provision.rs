//! Provisioning a directory into the store. Hashing new secrets is the slow part
//! (argon2id at production cost, tens of milliseconds each), so it runs on every core and is
//! stored as it goes: an interrupted run keeps what it hashed, and the next run hashes
//! only the rest. The directory itself is written last, in one transaction, with what
//! it was provisioned from; until then the store still says it needs provisioning.

use super::provenance::Provenance;
use super::{SecretHasher, SecretId, SqliteStore, StoreResult};
use crate::directory::Directory;
use crate::dsl::ast::OwnerKind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Hashed secrets are stored at least this often, so an interruption loses little.
const STORE_EVERY: Duration = Duration::from_millis(500);

/// Hears how provisioning goes.
pub trait ProvisionProgress {
    /// `total` secrets are new and will be hashed on `workers` threads.
    fn hashing(&mut self, total: usize, workers: usize);
    /// `done` of them are hashed.
    fn hashed(&mut self, done: usize);
}

/// Hears nothing.
impl ProvisionProgress for () {
    fn hashing(&mut self, _: usize, _: usize) {}
    fn hashed(&mut self, _: usize) {}
}

/// How a provisioning run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    /// The directory is in the store; `hashed` secrets were new.
    Done {
        /// Secrets hashed and stored by this run.
        hashed: usize,
    },
    /// Stopped on request: `stored` new secrets are kept, `left` are not hashed yet,
    /// and the directory is not written.
    Interrupted {
        /// Secrets hashed and stored by this run.
        stored: usize,
        /// Secrets the next run will hash.
        left: usize,
    },
}

impl SqliteStore {
    /// Loads the directory: configuration always follows the file; a secret is
    /// hashed in only where the database has never had it, so a later pin-reset,
    /// or an unlock that cleared it, wins over the file.
    pub fn provision(&self, dir: &Directory, hasher: &SecretHasher) -> StoreResult<()> {
        self.provision_with(dir, hasher, None, &mut (), &AtomicBool::new(false))
            .map(|_| ())
    }

    /// [`SqliteStore::provision`], recording `from` (when given), reporting to
    /// `progress`, and stopping soon after `stop` is set.
    pub fn provision_with(
        &self,
        dir: &Directory,
        hasher: &SecretHasher,
        from: Option<&Provenance>,
        progress: &mut dyn ProvisionProgress,
        stop: &AtomicBool,
    ) -> StoreResult<Provisioned> {
        let new = self.missing_secrets(secrets(dir))?;
        let total = new.len();
        let stored = hash_and_store(self, &new, hasher, progress, stop)?;
        if stored < total {
            return Ok(Provisioned::Interrupted {
                stored,
                left: total - stored,
            });
        }
        self.write_directory(dir, from)?;
        Ok(Provisioned::Done { hashed: stored })
    }
}

/// Every provisioning secret of a directory, with its value.
fn secrets(dir: &Directory) -> Vec<(SecretId, &str)> {
    let id = |owner_kind, owner: &String, kind: &str| SecretId {
        owner_kind,
        owner: owner.clone(),
        kind: kind.into(),
    };
    let mut all = Vec::new();
    for (number, entry) in &dir.extensions {
        let e = &entry.value;
        for (kind, value) in [
            ("password", &e.password_protection.password),
            ("voicemail", &e.voicemail.pin),
        ] {
            if let Some(v) = value {
                all.push((id(OwnerKind::Extension, number, kind), v.as_str()));
            }
        }
    }
    for (code, entry) in &dir.codes {
        if let Some(pin) = &entry.value.pin {
            all.push((id(OwnerKind::Code, code, "pin"), pin.as_str()));
        }
    }
    all
}

/// Hashes `new` on every core and stores the hashes in batches; returns how many
/// were stored (all of them unless `stop` was set or storing failed).
fn hash_and_store(
    store: &SqliteStore,
    new: &[(SecretId, &str)],
    hasher: &SecretHasher,
    progress: &mut dyn ProvisionProgress,
    stop: &AtomicBool,
) -> StoreResult<usize> {
    if new.is_empty() {
        return Ok(0);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(new.len());
    progress.hashing(new.len(), workers);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (hashes, hashed) = mpsc::channel::<(usize, String)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let hashes = hashes.clone();
            let (next, failed) = (&next, &failed);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, secret)) = new.get(i) else { break };
                    if hashes.send((i, hasher.hash(secret))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(hashes);
        let mut batch = Vec::new();
        let mut stored = 0;
        let mut last_store = Instant::now();
        let mut store_batch = |batch: &mut Vec<(SecretId, String)>| {
            let result = store.add_secrets(batch);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            stored += batch.len();
            batch.clear();
            result
        };
        // Every hash that arrives is stored, also after `stop`: a worker only
        // stops between hashes, so no finished hash is thrown away.
        let mut outcome = Ok(());
        for (done, (i, hash)) in hashed.iter().enumerate() {
            batch.push((new[i].0.clone(), hash));
            progress.hashed(done + 1);
            if outcome.is_ok() && last_store.elapsed() >= STORE_EVERY {
                outcome = store_batch(&mut batch);
                last_store = Instant::now();
            }
        }
        if outcome.is_ok() {
            outcome = store_batch(&mut batch);
        }
        outcome.map(|()| stored)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn directory(extensions: usize) -> Directory {
        let mut yaml = String::from("extensions:\n");
        for n in 0..extensions {
            yaml += &format!(
                "  \"{}\": {{ voicemail: {{ enabled: true, pin: \"25{n:02}\" }} }}\n",
                200 + n
            );
        }
        yaml += "codes:\n  \"3001\": { name: A, pin: \"4826\", class: 1 }\n";
        serde_saphyr::from_str(&yaml).unwrap()
    }

    fn voicemail(number: usize) -> SecretId {
        SecretId {
            owner_kind: OwnerKind::Extension,
            owner: (200 + number).to_string(),
            kind: "voicemail".into(),
        }
    }

    /// Counts what it hears, and asks provisioning to stop after `stop_after` hashes.
    struct StopAfter<'a> {
        stop_after: usize,
        stop: &'a AtomicBool,
        total: usize,
        done: usize,
    }

    impl ProvisionProgress for StopAfter<'_> {
        fn hashing(&mut self, total: usize, _: usize) {
            self.total = total;
        }
        fn hashed(&mut self, done: usize) {
            self.done = done;
            if done >= self.stop_after {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn an_interrupted_run_keeps_its_hashes_and_the_next_hashes_only_the_rest() {
        let dir = directory(40);
        let store = SqliteStore::in_memory().unwrap();
        // At production cost a hash takes long enough that the run stops well before
        // the end: workers look at `stop` between hashes.
        let hasher = SecretHasher::production();
        let stop = AtomicBool::new(false);
        let mut heard = StopAfter {
            stop_after: 10,
            stop: &stop,
            total: 0,
            done: 0,
        };
        let first = store
            .provision_with(&dir, &hasher, None, &mut heard, &stop)
            .unwrap();
        assert_eq!(heard.total, 41);
        let Provisioned::Interrupted { stored, left } = first else {
            panic!("not interrupted: {first:?}");
        };
        assert_eq!(stored, heard.done, "every finished hash is stored");
        assert!((10..41).contains(&stored), "stored {stored}");
        assert_eq!(stored + left, 41);
        assert!(
            store.extension("200").unwrap().is_none(),
            "the directory is written only at the end"
        );
        let kept: Vec<Option<String>> = (0..40)
            .map(|n| store.secret(&voicemail(n)).unwrap().and_then(|s| s.hash))
            .collect();

        let second = store.provision_with(&dir, &hasher, None, &mut (), &AtomicBool::new(false));
        assert_eq!(second.unwrap(), Provisioned::Done { hashed: left });
        for (n, before) in kept.iter().enumerate() {
            let now = store.secret(&voicemail(n)).unwrap().unwrap().hash;
            assert!(now.is_some(), "extension {} has its PIN", 200 + n);
            if before.is_some() {
                assert_eq!(&now, before, "extension {} was not hashed again", 200 + n);
            }
        }
        assert!(
            hasher.verify(
                "2539",
                store
                    .secret(&voicemail(39))
                    .unwrap()
                    .unwrap()
                    .hash
                    .as_deref()
            )
        );
        assert!(store.extension("239").unwrap().is_some());
    }

    #[test]
    fn provisioning_records_what_it_was_provisioned_from() {
        let store = SqliteStore::in_memory().unwrap();
        let from = Provenance {
            config: "/etc/pbx/pbx.yaml".into(),
            config_hash: "c".into(),
            plan_hash: "p".into(),
            dialplan: "/etc/pbx/default.pbx".into(),
            database: "/var/lib/pbx/pbx.db".into(),
            system: serde_json::json!({"mailbox_lockout": false})
                .as_object()
                .unwrap()
                .clone(),
            pbxctl: "0.1.0".into(),
        };
        assert_eq!(store.provenance().unwrap(), None);
        store
            .provision_with(
                &directory(1),
                &SecretHasher::fast(),
                Some(&from),
                &mut (),
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(store.provenance().unwrap(), Some(from));
        store
            .provision(&directory(1), &SecretHasher::fast())
            .unwrap();
        assert_eq!(
            store.provenance().unwrap(),
            None,
            "provisioned from no file: the record goes"
        );
    }
}
