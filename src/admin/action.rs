//! Carrying out admin commands against a store. Every action is audited; a
//! secret appears only in a generated PIN's one line on stdout.

use super::block::Block;
use super::command::{CdrQuery, CodeCommand, ExtCommand};
use super::view;
use crate::clock::Timestamp;
use crate::directory::secret_rules::check_strength;
use crate::directory::validate::Settings;
use crate::dsl::Plan;
use crate::dsl::ast::OwnerKind;
use crate::dsl::plan::Policy;
use crate::engine::eval::Scope;
use crate::engine::presence::Presence;
use crate::engine::secret_check::{self, Verdict};
use crate::store::{
    AuditEntry, CallRecordFilter, Operator, SecretHasher, SecretId, Store, StoreError,
};
use rand::RngExt;

/// What a command printed and its exit code (see `cli.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Exit code: 0 ok, 1 check failed, 2 bad input, 3 unknown target, 4 database.
    pub status: i32,
    /// Results.
    pub stdout: String,
    /// Diagnostics.
    pub stderr: String,
}

impl Reply {
    pub(super) fn ok(stdout: impl Into<String>) -> Reply {
        Reply {
            status: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    pub(super) fn fail(status: i32, stderr: impl Into<String>) -> Reply {
        Reply {
            status,
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    fn store(e: &StoreError) -> Reply {
        Reply::fail(4, format!("error: {e}\n"))
    }
}

/// The context admin commands run in.
pub struct Admin<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The plan, for PIN policies.
    pub plan: &'a Plan,
    /// Settings in force (for lockout thresholds).
    pub settings: &'a Settings,
    /// Hasher for new secrets.
    pub hasher: &'a SecretHasher,
    /// The time, for the audit log.
    pub now: Timestamp,
    /// Who runs the command.
    pub operator: Operator,
    /// The data folder, where messages' audio lives (none in a session replay).
    pub data: Option<std::path::PathBuf>,
}

impl Admin<'_> {
    /// Runs `pbxctl ext ...`; `stdin` feeds `ext login`, and `ext lock|unlock -`.
    pub fn ext(&self, cmd: &ExtCommand, stdin: &str) -> Reply {
        self.guarded(|| match cmd {
            ExtCommand::Lock { targets } => self.block(Block::Lock, targets, stdin),
            ExtCommand::Unlock { targets } => self.block(Block::Unlock, targets, stdin),
            ExtCommand::PinReset { ext, pin } => self.pin_reset(
                OwnerKind::Extension,
                ext,
                "voicemail",
                pin.as_deref(),
                "ext pin-reset",
            ),
            ExtCommand::Show { ext, json } => {
                Ok(self.show("extension", ext, view::extension(self.store, ext)?, *json))
            }
            ExtCommand::List {
                json,
                department,
                numbers,
            } => self.list(*json, department.as_deref(), *numbers),
            ExtCommand::Login { ext } => self.login(ext, stdin.trim()),
        })
    }

    /// Runs `pbxctl code ...`.
    pub fn code(&self, cmd: &CodeCommand) -> Reply {
        self.guarded(|| match cmd {
            CodeCommand::Unlock { code } => self.unlock_code(code),
            CodeCommand::PinReset { code, pin } => self.pin_reset(
                OwnerKind::Code,
                code,
                "pin",
                pin.as_deref(),
                "code pin-reset",
            ),
            CodeCommand::Show { code, json } => {
                Ok(self.show("code", code, view::code(self.store, code)?, *json))
            }
        })
    }

    pub(super) fn guarded(&self, f: impl FnOnce() -> Result<Reply, StoreError>) -> Reply {
        f().unwrap_or_else(|e| Reply::store(&e))
    }

    pub(super) fn audit(&self, action: &str, target: &str, result: &str) -> Result<(), StoreError> {
        self.store.audit(&AuditEntry {
            at: self.now,
            operator: self.operator.clone(),
            action: action.into(),
            target: target.into(),
            result: result.into(),
        })
    }

    pub(super) fn unknown(&self, what: &str, target: &str) -> Reply {
        Reply::fail(3, format!("error: unknown {what} {target}\n"))
    }

    pub(super) fn policy(&self, owner: OwnerKind, secret: &str) -> Option<&Policy> {
        self.plan.policy(owner, secret)
    }

    /// The extension numbers, in order: all, or those of one department.
    pub(super) fn extension_numbers(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut numbers = self.store.extension_numbers()?;
        if let Some(d) = department {
            let mut of_department = Vec::new();
            for n in numbers {
                if self
                    .store
                    .extension(&n)?
                    .is_some_and(|e| e.config.department.as_deref() == Some(d))
                {
                    of_department.push(n);
                }
            }
            numbers = of_department;
        }
        Ok(numbers)
    }

    fn unlock_code(&self, code: &str) -> Result<Reply, StoreError> {
        if self.store.code(code)?.is_none() {
            return Ok(self.unknown("code", code));
        }
        let clears = self
            .policy(OwnerKind::Code, "pin")
            .is_some_and(|p| p.unlock_clears);
        let id = SecretId {
            owner_kind: OwnerKind::Code,
            owner: code.into(),
            kind: "pin".into(),
        };
        let changed = self.store.unlock(&id, clears)?;
        let result = match (changed, clears) {
            (false, _) => format!("code {code} was not locked; nothing changed"),
            (true, true) => format!(
                "code {code} unlocked; its PIN is cleared until `pbxctl code pin-reset {code}`"
            ),
            (true, false) => format!("code {code} unlocked"),
        };
        self.audit("code unlock", code, &result)?;
        Ok(Reply::ok(result + "\n"))
    }

    fn pin_reset(
        &self,
        owner: OwnerKind,
        target: &str,
        secret: &str,
        pin: Option<&str>,
        action: &str,
    ) -> Result<Reply, StoreError> {
        let exists = match owner {
            OwnerKind::Extension => self.store.extension(target)?.is_some(),
            OwnerKind::Code => self.store.code(target)?.is_some(),
        };
        if !exists {
            return Ok(self.unknown(owner.as_str(), target));
        }
        let Some(policy) = self.policy(owner, secret) else {
            return Ok(Reply::fail(
                2,
                format!(
                    "error: the dialplan has no policy for {}.{secret}\n",
                    owner.as_str()
                ),
            ));
        };
        let (value, generated) = match pin {
            Some(p) => {
                if let Err(why) = check_strength(policy, p, target) {
                    self.audit(action, target, "refused: weak or malformed PIN")?;
                    return Ok(Reply::fail(
                        2,
                        format!("error: {} {target}: the new PIN {why}\n", owner.as_str()),
                    ));
                }
                (p.to_string(), false)
            }
            None => (generate(policy, target), true),
        };
        let id = SecretId {
            owner_kind: owner,
            owner: target.into(),
            kind: secret.into(),
        };
        self.store.set_secret(&id, &self.hasher.hash(&value))?;
        let what = if generated {
            "set to a generated PIN"
        } else {
            "set"
        };
        self.audit(action, target, &format!("PIN {what}; lockout cleared"))?;
        Ok(if generated {
            Reply {
                status: 0,
                stdout: format!("{value}\n"),
                stderr: format!(
                    "{} {target}: new PIN generated; it is shown once\n",
                    owner.as_str()
                ),
            }
        } else {
            Reply::ok(format!(
                "{} {target}: PIN set; lockout cleared\n",
                owner.as_str()
            ))
        })
    }

    fn login(&self, ext: &str, passcode: &str) -> Result<Reply, StoreError> {
        let (status, line) = match self.check_passcode(ext, passcode)? {
            Ok(verdict) => verdict,
            Err(reply) => return Ok(reply),
        };
        self.audit("ext login", ext, line)?;
        Ok(Reply {
            status,
            stdout: format!("{line}\n"),
            stderr: String::new(),
        })
    }

    /// Checks a mailbox passcode as a phone login does (failures count, lockout
    /// holds): `(0, "OK")`, or `(1, "Mailbox locked" | "Invalid passcode")`; `Err` if the
    /// plan cannot say.
    pub(super) fn check_passcode(
        &self,
        ext: &str,
        passcode: &str,
    ) -> Result<Result<(i32, &'static str), Reply>, StoreError> {
        let Some(policy) = self.policy(OwnerKind::Extension, "voicemail") else {
            return Ok(Err(Reply::fail(
                2,
                "error: the dialplan has no policy for extension.voicemail\n",
            )));
        };
        let exists = self.store.extension(ext)?.is_some();
        let id = SecretId {
            owner_kind: OwnerKind::Extension,
            owner: ext.into(),
            kind: "voicemail".into(),
        };
        let secret = exists.then_some(&id);
        let record = secret_check::begin(self.store, secret)?;
        let matched = self.hasher.verify(passcode, record.hash.as_deref());
        // The policy's lockout clauses read settings only: no call is needed for them.
        let presence = Presence::default();
        let settings_only = Scope {
            plan: self.plan,
            store: self.store,
            settings: self.settings,
            leg: None,
            presence: &presence,
            now: self.now,
        };
        let lock_at = match secret_check::lock_threshold(policy, &settings_only, 1) {
            Ok(n) => n,
            Err(fault) => {
                let place = self.plan.sources.locate(fault.span);
                return Ok(Err(Reply::fail(
                    2,
                    format!("error: {place}: {}\n", fault.message),
                )));
            }
        };
        let verdict = secret_check::conclude(self.store, secret, &record, matched, lock_at)?;
        Ok(Ok(match verdict {
            Verdict::Ok => (0, "OK"),
            Verdict::Locked => (1, "Mailbox locked"),
            Verdict::Invalid { .. } => (1, "Invalid passcode"),
        }))
    }

    /// `show`: a view as JSON or `key: value` lines, or exit 3 if there is none.
    fn show(
        &self,
        what: &str,
        target: &str,
        found: Option<serde_json::Value>,
        json: bool,
    ) -> Reply {
        match found {
            None => self.unknown(what, target),
            Some(v) if json => Reply::ok(format!("{}\n", pretty(&v))),
            Some(v) => Reply::ok(human(&v, "")),
        }
    }

    fn list(
        &self,
        json: bool,
        department: Option<&str>,
        numbers: bool,
    ) -> Result<Reply, StoreError> {
        let mut views = Vec::new();
        for n in self.extension_numbers(department)? {
            views.extend(view::extension(self.store, &n)?);
        }
        if json {
            return Ok(Reply::ok(format!(
                "{}\n",
                pretty(&serde_json::Value::Array(views))
            )));
        }
        let number = |v: &serde_json::Value| v["extension"].as_str().unwrap_or("").to_string();
        if numbers {
            return Ok(Reply::ok(
                views.iter().map(|v| number(v) + "\n").collect::<String>(),
            ));
        }
        let mut out = String::from("EXT    BLOCKED  DND    MAILBOX\n");
        for v in &views {
            let mailbox = if v["voicemail"]["locked"] == true {
                "locked"
            } else {
                "ok"
            };
            out += &format!(
                "{:<6} {:<8} {:<6} {mailbox}\n",
                number(v),
                v["blocked"],
                v["dnd"]
            );
        }
        Ok(Reply::ok(out))
    }

    /// `pbxctl cdr`: call records, oldest first, as a table, JSON or CSV (CDR-2).
    pub fn cdr(&self, q: &CdrQuery) -> Reply {
        let since = match q.since.as_deref().map(|t| time_bound(t, false)).transpose() {
            Ok(t) => t,
            Err(why) => return Reply::fail(2, format!("error: --since: {why}\n")),
        };
        let before = match q.until.as_deref().map(|t| time_bound(t, true)).transpose() {
            Ok(t) => t,
            Err(why) => return Reply::fail(2, format!("error: --until: {why}\n")),
        };
        let filter = CallRecordFilter {
            since,
            before,
            kind: q.kind.map(|k| k.as_str().to_string()),
            number: q.number.clone(),
        };
        self.guarded(|| {
            let records = self.store.call_records_where(&filter)?;
            let views: Vec<serde_json::Value> = records.iter().map(view::call_record).collect();
            if q.json {
                let list = serde_json::Value::Array(views);
                return Ok(Reply::ok(format!("{}\n", pretty(&list))));
            }
            Ok(Reply::ok(if q.csv {
                view::call_records_csv(&views)
            } else {
                view::call_records_table(&views)
            }))
        })
    }

    /// `pbxctl audit`: every admin action, oldest first.
    pub fn audit_log(&self, json: bool) -> Reply {
        self.guarded(|| {
            let entries = self.store.audit_entries()?;
            if json {
                let list: Vec<_> = entries.iter().map(view::audit_entry).collect();
                return Ok(Reply::ok(format!(
                    "{}\n",
                    pretty(&serde_json::Value::Array(list))
                )));
            }
            let mut out = String::new();
            for e in entries {
                out += &format!(
                    "{}  {:<10} {:<16} {:<6} {}\n",
                    e.at, e.operator.name, e.action, e.target, e.result
                );
            }
            Ok(Reply::ok(out))
        })
    }
}

/// A `--since`/`--until` time: RFC 3339, or a date meaning its first instant (since)
/// or everything through it (until). Returns the bound as "at or after" for since and
/// "before" for until.
fn time_bound(text: &str, until: bool) -> Result<Timestamp, String> {
    if let Ok(date) = Timestamp::parse_date(text) {
        return Ok(if until {
            date.after(crate::clock::Duration::seconds(86_400))
        } else {
            date
        });
    }
    let t = Timestamp::parse_rfc3339(text)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time or a date like 2026-03-01"))?;
    // `--until 10:00` takes a call started at 10:00 too.
    Ok(if until {
        t.after(crate::clock::Duration(1))
    } else {
        t
    })
}

/// A random PIN from the thread CSPRNG that meets the policy's strength rules.
fn generate(policy: &Policy, owner: &str) -> String {
    let len = policy.min_len.max(6).min(policy.max_len) as usize;
    let mut rng = rand::rng();
    loop {
        let pin: String = (0..len)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        if check_strength(policy, &pin, owner).is_ok() {
            return pin;
        }
    }
}

pub(super) fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `key: value` lines, nested objects flattened with dots.
fn human(v: &serde_json::Value, prefix: &str) -> String {
    let mut out = String::new();
    if let serde_json::Value::Object(map) = v {
        for (k, val) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match val {
                serde_json::Value::Object(_) => out += &human(val, &key),
                serde_json::Value::Null => out += &format!("{key}: -\n"),
                serde_json::Value::String(s) => out += &format!("{key}: {s}\n"),
                other => out += &format!("{key}: {other}\n"),
            }
        }
    }
    out
}
