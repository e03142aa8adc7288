//! [`Store`] on SQLite: WAL, a busy timeout, short immediate transactions, and
//! numbered migrations. The only module that sees rusqlite.

use super::provenance::Provenance;
use super::schema::MIGRATIONS;
use super::*;
use crate::directory::entry::Forward;
use crate::directory::{Directory, ExtensionEntry};
use rusqlite::backup::Backup;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

fn sql(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Busy(e.to_string())
        }
        _ => StoreError::Sql(e.to_string()),
    }
}

/// Puts a database in WAL mode (a setting kept in the file). Switching takes an
/// exclusive lock and SQLite does not wait for it on the busy timeout, so processes
/// opening a new database together retry here instead of failing.
fn wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        let mode: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
        match mode {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(StdDuration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) a database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(StdDuration::from_secs(10))
            .map_err(open_err)?;
        wal(&conn).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        let store = SqliteStore { conn };
        store.migrate().map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(store)
    }

    /// A private in-memory database, for session replays and tests.
    pub fn in_memory() -> StoreResult<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(sql)?;
        let store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// A private in-memory copy of the database file at `path`, read without writing
    /// to it: what-if runs (`pbxctl route`) change the copy, never the file.
    pub fn copy_of(path: &Path) -> StoreResult<SqliteStore> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let disk = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open_err)?;
        disk.busy_timeout(StdDuration::from_secs(10))
            .map_err(open_err)?;
        let mut conn = Connection::open_in_memory().map_err(sql)?;
        Backup::new(&disk, &mut conn)
            .and_then(|b| b.run_to_completion(256, StdDuration::ZERO, None))
            .map_err(open_err)?;
        let store = SqliteStore { conn };
        // An older file's schema is brought up to date in the copy only.
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> StoreResult<()> {
        let read =
            |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
        if read(&self.conn).map_err(sql)? as usize >= MIGRATIONS.len() {
            return Ok(());
        }
        // Several processes may open a new database at once: the version is read
        // again inside the write lock, so each migration runs exactly once.
        self.write(|c| {
            let version = read(c)? as usize;
            for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
                c.execute_batch(migration)?;
                c.pragma_update(None, "user_version", (i + 1) as i64)?;
            }
            Ok(())
        })
    }

    /// Runs `f` in an immediate transaction, so writers queue on the busy timeout
    /// instead of failing midway with "database is locked". Inside
    /// [`Store::in_one_transaction`] it runs as part of that transaction.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        if !self.conn.is_autocommit() {
            return f(&self.conn).map_err(sql);
        }
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(sql)?;
        let out = f(&tx).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Of the secrets given, those the database has no row for: never provisioned,
    /// never set by an administrator.
    pub fn missing_secrets<T>(
        &self,
        wanted: Vec<(SecretId, T)>,
    ) -> StoreResult<Vec<(SecretId, T)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT owner_kind, owner, kind FROM secrets")
            .map_err(sql)?;
        let stored: HashSet<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        Ok(wanted
            .into_iter()
            .filter(|(id, _)| {
                !stored.contains(&(
                    id.owner_kind.as_str().into(),
                    id.owner.clone(),
                    id.kind.clone(),
                ))
            })
            .collect())
    }

    /// Stores newly hashed provisioning secrets in one transaction. A row that is
    /// there already (another process provisioned it, or an administrator set it
    /// meanwhile) is kept.
    pub fn add_secrets(&self, hashed: &[(SecretId, String)]) -> StoreResult<()> {
        self.write(|c| {
            let mut insert = c.prepare_cached(
                "INSERT INTO secrets (owner_kind, owner, kind, hash) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )?;
            for (id, hash) in hashed {
                insert.execute(params![id.owner_kind.as_str(), id.owner, id.kind, hash])?;
            }
            Ok(())
        })
    }

    /// Writes the directory's extensions and codes (configuration always follows the
    /// file), removes extensions no longer in it with their secrets, and records what
    /// it was provisioned from (or that it was no config file): one transaction.
    pub fn write_directory(&self, dir: &Directory, from: Option<&Provenance>) -> StoreResult<()> {
        self.write(|c| {
            let existing: Vec<String> =
                c.prepare("SELECT number FROM extensions")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for gone in existing.iter().filter(|n| !dir.extensions.contains_key(n.as_str())) {
                c.execute("DELETE FROM extensions WHERE number = ?1", [gone])?;
                c.execute("DELETE FROM secrets WHERE owner_kind = 'extension' AND owner = ?1", [gone])?;
            }
            let mut upsert = c.prepare_cached(
                "INSERT INTO extensions (number, config) VALUES (?1, ?2)
                 ON CONFLICT (number) DO UPDATE SET config = excluded.config",
            )?;
            for (number, entry) in &dir.extensions {
                let e = &entry.value;
                let config = serde_json::to_string(e).expect("extension config serializes");
                upsert.execute(params![number, config])?;
                if let Some(b) = e.blocked {
                    c.execute("UPDATE extensions SET blocked = ?2 WHERE number = ?1", params![number, b])?;
                }
                if let Some(d) = e.dnd {
                    c.execute("UPDATE extensions SET dnd = ?2 WHERE number = ?1", params![number, d])?;
                }
                if let Some(Forward { all, busy, no_answer }) = &e.forward {
                    c.execute(
                        "UPDATE extensions SET forward_all = ?2, forward_busy = ?3, forward_no_answer = ?4 WHERE number = ?1",
                        params![number, all, busy, no_answer],
                    )?;
                }
            }
            let mut upsert = c.prepare_cached(
                "INSERT INTO codes (code, name, class, billing) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, class = excluded.class, billing = excluded.billing",
            )?;
            for (code, entry) in &dir.codes {
                let e = &entry.value;
                upsert.execute(params![code, e.name, e.class, e.billing])?;
            }
            if let Some(p) = from {
                c.execute(
                    "INSERT INTO provisioned_from (id, config, config_hash, plan_hash, dialplan, database, system, pbxctl)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET config = excluded.config, config_hash = excluded.config_hash,
                         plan_hash = excluded.plan_hash, dialplan = excluded.dialplan,
                         database = excluded.database, system = excluded.system,
                         pbxctl = excluded.pbxctl",
                    params![
                        p.config.to_string_lossy(),
                        p.config_hash,
                        p.plan_hash,
                        p.dialplan.to_string_lossy(),
                        p.database.to_string_lossy(),
                        serde_json::Value::Object(p.system.clone()).to_string(),
                        p.pbxctl,
                    ],
                )?;
            } else {
                // Provisioned from no file: no record may claim otherwise.
                c.execute("DELETE FROM provisioned_from", [])?;
            }
            Ok(())
        })
    }

    /// What the directory was last provisioned from, if it was by a config file.
    pub fn provenance(&self) -> StoreResult<Option<Provenance>> {
        self.conn
            .query_row(
                "SELECT config, config_hash, plan_hash, dialplan, database, system, pbxctl FROM provisioned_from",
                [],
                |r| {
                    let system: String = r.get(5)?;
                    Ok(Provenance {
                        config: PathBuf::from(r.get::<_, String>(0)?),
                        config_hash: r.get(1)?,
                        plan_hash: r.get(2)?,
                        dialplan: PathBuf::from(r.get::<_, String>(3)?),
                        database: PathBuf::from(r.get::<_, String>(4)?),
                        // Only this module writes the column.
                        system: serde_json::from_str(&system).unwrap_or_default(),
                        pbxctl: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(sql)
    }
}

/// One secret's row, by owner kind, owner and kind.
const SELECT_SECRET: &str =
    "SELECT hash, failures, locked FROM secrets WHERE owner_kind = ?1 AND owner = ?2 AND kind = ?3";

fn secret_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRecord> {
    Ok(SecretRecord {
        hash: r.get(0)?,
        failures: r.get(1)?,
        locked: r.get(2)?,
    })
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp)
}

/// A `messages` row (id, mailbox, caller, received_at, seconds, folder, file).
fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRecord> {
    let folder: String = r.get(5)?;
    Ok(MessageRecord {
        id: r.get(0)?,
        mailbox: r.get(1)?,
        caller: r.get(2)?,
        received_at: Timestamp(r.get(3)?),
        seconds: r.get(4)?,
        // Only this module writes the column.
        folder: Folder::parse(&folder).unwrap_or(Folder::New),
        file: r.get(6)?,
    })
}

impl Store for SqliteStore {
    fn extension(&self, number: &str) -> StoreResult<Option<ExtensionRecord>> {
        self.conn
            .prepare_cached(
                "SELECT config, blocked, dnd, forward_all, forward_busy, forward_no_answer,
                        outbound_grant_until, agent_logged_in, agent_paused, last_external_caller
                 FROM extensions WHERE number = ?1",
            )
            .map_err(sql)?
            .query_row([number], |r| {
                let config: String = r.get(0)?;
                let config: ExtensionEntry = serde_json::from_str(&config).unwrap_or_default();
                Ok(ExtensionRecord {
                    number: number.to_string(),
                    config,
                    state: ExtensionState {
                        blocked: r.get(1)?,
                        dnd: r.get(2)?,
                        forward_all: r.get(3)?,
                        forward_busy: r.get(4)?,
                        forward_no_answer: r.get(5)?,
                        outbound_grant_until: ts(r.get(6)?),
                        agent_logged_in: r.get(7)?,
                        agent_paused: r.get(8)?,
                        last_external_caller: r.get(9)?,
                    },
                })
            })
            .optional()
            .map_err(sql)
    }

    fn extension_numbers(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT number FROM extensions ORDER BY number")
            .map_err(sql)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn code(&self, code: &str) -> StoreResult<Option<CodeRecord>> {
        self.conn
            .prepare_cached("SELECT name, class, billing FROM codes WHERE code = ?1")
            .map_err(sql)?
            .query_row([code], |r| {
                Ok(CodeRecord {
                    code: code.to_string(),
                    name: r.get(0)?,
                    class: r.get(1)?,
                    billing: r.get(2)?,
                })
            })
            .optional()
            .map_err(sql)
    }

    fn set_state(&self, number: &str, field: StateField, value: StateValue) -> StoreResult<bool> {
        let column = match field {
            StateField::Blocked => "blocked",
            StateField::Dnd => "dnd",
            StateField::ForwardAll => "forward_all",
            StateField::ForwardBusy => "forward_busy",
            StateField::ForwardNoAnswer => "forward_no_answer",
        };
        let query =
            format!("UPDATE extensions SET {column} = ?2 WHERE number = ?1 AND {column} IS NOT ?2");
        let changed = self.write(|c| match &value {
            StateValue::Flag(b) => c.execute(&query, params![number, b]),
            StateValue::Target(t) => c.execute(&query, params![number, t]),
        })?;
        Ok(changed > 0)
    }

    fn set_outbound_grant(&self, number: &str, until: Option<Timestamp>) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "UPDATE extensions SET outbound_grant_until = ?2 WHERE number = ?1",
                params![number, until.map(|t| t.0)],
            )
        })?;
        Ok(())
    }

    fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>> {
        self.conn
            .prepare_cached(SELECT_SECRET)
            .map_err(sql)?
            .query_row(
                params![id.owner_kind.as_str(), id.owner, id.kind],
                secret_row,
            )
            .optional()
            .map_err(sql)
    }

    fn record_failure(&self, id: &SecretId, lock_at: Option<u32>) -> StoreResult<SecretRecord> {
        self.write(|c| {
            c.execute(
                "INSERT INTO secrets (owner_kind, owner, kind, hash, failures) VALUES (?1, ?2, ?3, NULL, 1)
                 ON CONFLICT DO UPDATE SET failures = failures + 1",
                params![id.owner_kind.as_str(), id.owner, id.kind],
            )?;
            if let Some(n) = lock_at {
                c.execute(
                    "UPDATE secrets SET locked = 1 WHERE owner_kind = ?1 AND owner = ?2 AND kind = ?3 AND failures >= ?4",
                    params![id.owner_kind.as_str(), id.owner, id.kind, n],
                )?;
            }
            c.query_row(
                SELECT_SECRET,
                params![id.owner_kind.as_str(), id.owner, id.kind],
                secret_row,
            )
        })
    }

    fn record_success(&self, id: &SecretId) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "UPDATE secrets SET failures = 0 WHERE owner_kind = ?1 AND owner = ?2 AND kind = ?3 AND failures != 0",
                params![id.owner_kind.as_str(), id.owner, id.kind],
            )
        })?;
        Ok(())
    }

    fn unlock(&self, id: &SecretId, clear: bool) -> StoreResult<bool> {
        // Only a locked secret is cleared; an unlocked one just has its failures
        // reset, so an unlock by mistake destroys nothing.
        let changed = self.write(|c| {
            c.execute(
                "UPDATE secrets SET hash = CASE WHEN ?4 AND locked != 0 THEN NULL ELSE hash END,
                                    locked = 0, failures = 0
                 WHERE owner_kind = ?1 AND owner = ?2 AND kind = ?3
                   AND (locked != 0 OR failures != 0)",
                params![id.owner_kind.as_str(), id.owner, id.kind, clear],
            )
        })?;
        Ok(changed > 0)
    }

    fn set_secret(&self, id: &SecretId, hash: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO secrets (owner_kind, owner, kind, hash) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET hash = excluded.hash, failures = 0, locked = 0",
                params![id.owner_kind.as_str(), id.owner, id.kind, hash],
            )
        })?;
        Ok(())
    }

    fn tally(&self, name: &str, key: &str, at: Timestamp) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO tallies (name, key, at) VALUES (?1, ?2, ?3)",
                params![name, key, at.0],
            )
        })?;
        Ok(())
    }

    fn tally_since(&self, name: &str, key: &str, since: Timestamp) -> StoreResult<u32> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*) FROM tallies WHERE name = ?1 AND key = ?2 AND at >= ?3",
            )
            .map_err(sql)?
            .query_row(params![name, key, since.0], |r| r.get(0))
            .map_err(sql)
    }

    fn set_last_external_caller(&self, number: &str, caller: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "UPDATE extensions SET last_external_caller = ?2 WHERE number = ?1",
                params![number, caller],
            )
        })?;
        Ok(())
    }

    fn list_changes(&self, list: &str) -> StoreResult<Vec<(String, bool)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT entry, added FROM list_changes WHERE list = ?1 ORDER BY seq")
            .map_err(sql)?;
        let rows = stmt
            .query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn change_list(&self, list: &str, entry: &str, add: bool) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO list_changes (list, entry, added, seq)
                 VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM list_changes))
                 ON CONFLICT (list, entry) DO UPDATE SET added = excluded.added, seq = excluded.seq",
                params![list, entry, add],
            )
        })?;
        Ok(())
    }

    fn write_call_record(&self, r: &CallRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO cdr (start, caller, dialed, final, duration, type, status, reason, originator, via, billing)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![r.start.0, r.from, r.to, r.final_party, r.duration, r.kind, r.status, r.reason, r.originator, r.via, r.billing],
            )
        })?;
        Ok(())
    }

    fn call_records_where(&self, f: &CallRecordFilter) -> StoreResult<Vec<CallRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start, caller, dialed, final, duration, type, status, reason, originator, via, billing
                 FROM cdr
                 WHERE (?1 IS NULL OR start >= ?1) AND (?2 IS NULL OR start < ?2)
                   AND (?3 IS NULL OR type = ?3)
                   AND (?4 IS NULL OR caller = ?4 OR dialed = ?4 OR final = ?4)
                 ORDER BY id",
            )
            .map_err(sql)?;
        let bounds = params![
            f.since.map(|t| t.0),
            f.before.map(|t| t.0),
            f.kind,
            f.number
        ];
        let rows = stmt
            .query_map(bounds, |r| {
                Ok(CallRecord {
                    start: Timestamp(r.get(0)?),
                    from: r.get(1)?,
                    to: r.get(2)?,
                    final_party: r.get(3)?,
                    duration: r.get(4)?,
                    kind: r.get(5)?,
                    status: r.get(6)?,
                    reason: r.get(7)?,
                    originator: r.get(8)?,
                    via: r.get(9)?,
                    billing: r.get(10)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn add_message(&self, m: &MessageRecord) -> StoreResult<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO messages (mailbox, caller, received_at, seconds, folder, file)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    m.mailbox,
                    m.caller,
                    m.received_at.0,
                    m.seconds,
                    m.folder.name(),
                    m.file
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn messages(&self, mailbox: &str) -> StoreResult<Vec<MessageRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, mailbox, caller, received_at, seconds, folder, file
                 FROM messages WHERE mailbox = ?1 ORDER BY received_at, id",
            )
            .map_err(sql)?;
        let rows = stmt.query_map(params![mailbox], message_row).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn set_message_folder(&self, id: i64, folder: Folder) -> StoreResult<bool> {
        let changed = self.write(|c| {
            c.execute(
                "UPDATE messages SET folder = ?2 WHERE id = ?1",
                params![id, folder.name()],
            )
        })?;
        Ok(changed > 0)
    }

    fn delete_message(&self, id: i64) -> StoreResult<Option<MessageRecord>> {
        self.write(|c| {
            let found = c
                .query_row(
                    "SELECT id, mailbox, caller, received_at, seconds, folder, file
                     FROM messages WHERE id = ?1",
                    params![id],
                    message_row,
                )
                .optional()?;
            c.execute("DELETE FROM messages WHERE id = ?1", params![id])?;
            Ok(found)
        })
    }

    fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO audit (at, user, uid, claimed_user, action, target, result) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    e.at.0,
                    e.operator.name,
                    e.operator.uid,
                    e.operator.claimed,
                    e.action,
                    e.target,
                    e.result
                ],
            )
        })?;
        Ok(())
    }

    fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, user, uid, claimed_user, action, target, result FROM audit ORDER BY id",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AuditEntry {
                    at: Timestamp(r.get(0)?),
                    operator: Operator {
                        name: r.get(1)?,
                        uid: r.get(2)?,
                        claimed: r.get(3)?,
                    },
                    action: r.get(4)?,
                    target: r.get(5)?,
                    result: r.get(6)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn in_one_transaction(&self, f: &mut dyn FnMut() -> StoreResult<()>) -> StoreResult<()> {
        if !self.conn.is_autocommit() {
            return f();
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
        let done = f().and_then(|()| self.conn.execute_batch("COMMIT").map_err(sql));
        if done.is_err() {
            // Nothing of a failed run is kept; the rollback's own failure adds nothing.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> SecretId {
        SecretId {
            owner_kind: OwnerKind::Extension,
            owner: "102".into(),
            kind: "voicemail".into(),
        }
    }

    #[test]
    fn failures_lock_at_the_threshold_and_success_resets() {
        let s = SqliteStore::in_memory().unwrap();
        s.set_secret(&id(), "h").unwrap();
        assert_eq!(s.record_failure(&id(), Some(3)).unwrap().failures, 1);
        s.record_success(&id()).unwrap();
        assert_eq!(s.secret(&id()).unwrap().unwrap().failures, 0);
        for _ in 0..2 {
            assert!(!s.record_failure(&id(), Some(3)).unwrap().locked);
        }
        let third = s.record_failure(&id(), Some(3)).unwrap();
        assert!(third.locked);
        assert_eq!(third.failures, 3);
        assert!(s.unlock(&id(), false).unwrap());
        assert!(!s.unlock(&id(), false).unwrap(), "second unlock is a no-op");
        assert_eq!(s.secret(&id()).unwrap().unwrap().hash.as_deref(), Some("h"));
        s.record_failure(&id(), None).unwrap();
        s.unlock(&id(), true).unwrap();
        assert_eq!(
            s.secret(&id()).unwrap().unwrap().hash.as_deref(),
            Some("h"),
            "not locked: kept"
        );
        s.record_failure(&id(), Some(1)).unwrap();
        s.unlock(&id(), true).unwrap();
        assert_eq!(
            s.secret(&id()).unwrap().unwrap().hash,
            None,
            "locked: cleared"
        );
    }

    #[test]
    fn provisioning_never_overwrites_the_live_secret() {
        let yaml = "extensions:\n  \"102\": { voicemail: { enabled: true, pin: \"2580\" } }\n";
        let dir: Directory = serde_saphyr::from_str(yaml).unwrap();
        let s = SqliteStore::in_memory().unwrap();
        let h = SecretHasher::fast();
        s.provision(&dir, &h).unwrap();
        let first = s.secret(&id()).unwrap().unwrap().hash;
        s.provision(&dir, &h).unwrap();
        assert_eq!(
            s.secret(&id()).unwrap().unwrap().hash,
            first,
            "not re-hashed"
        );
        s.record_failure(&id(), Some(1)).unwrap();
        s.unlock(&id(), true).unwrap();
        s.provision(&dir, &h).unwrap();
        assert_eq!(
            s.secret(&id()).unwrap().unwrap().hash,
            None,
            "a cleared PIN stays cleared"
        );
    }

    #[test]
    fn one_transaction_keeps_all_of_its_changes_or_none() {
        let s = SqliteStore::in_memory().unwrap();
        let dir: Directory =
            serde_saphyr::from_str("extensions:\n  \"201\": {}\n  \"202\": {}\n").unwrap();
        s.provision(&dir, &SecretHasher::fast()).unwrap();
        let lock = |n: &str| s.set_state(n, StateField::Blocked, StateValue::Flag(true));
        let blocked = |n: &str| s.extension(n).unwrap().unwrap().state.blocked;
        let failed = s.in_one_transaction(&mut || {
            lock("201")?;
            Err(StoreError::Sql("the second one fails".into()))
        });
        assert!(failed.is_err());
        assert!(!blocked("201"), "rolled back");
        s.in_one_transaction(&mut || {
            lock("201")?;
            lock("202")?;
            Ok(())
        })
        .unwrap();
        assert!(blocked("201") && blocked("202"));
        assert!(s.conn.is_autocommit(), "the transaction is over");
    }

    #[test]
    fn a_file_database_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.tally("disa-failure", "555", Timestamp(10)).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(
            s.tally_since("disa-failure", "555", Timestamp(0)).unwrap(),
            1
        );
        assert_eq!(
            s.tally_since("disa-failure", "555", Timestamp(11)).unwrap(),
            0
        );
    }
}
