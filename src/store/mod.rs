//! The store: the only state shared between calls, the CLI and the server.
//! The engine sees it through the [`Store`] trait; [`SqliteStore`] is the real one.

pub mod provenance;
pub mod provision;
pub mod schema;
pub mod secret_hash;
pub mod sqlite;

pub use provenance::Provenance;
pub use provision::{ProvisionProgress, Provisioned};
pub use secret_hash::SecretHasher;
pub use sqlite::SqliteStore;

use crate::clock::Timestamp;
use crate::directory::ExtensionEntry;
use crate::dsl::ast::OwnerKind;
use crate::dsl::plan::StateField;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or migrated.
    #[error("cannot open database {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Another process held the database for longer than the busy timeout.
    #[error("database stayed busy: {0}")]
    Busy(String),
    /// Anything else SQLite reported.
    #[error("database error: {0}")]
    Sql(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// An extension: its provisioned configuration and its live state.
#[derive(Debug, Clone)]
pub struct ExtensionRecord {
    /// The number.
    pub number: String,
    /// Configuration (secrets are not in here).
    pub config: ExtensionEntry,
    /// Live state.
    pub state: ExtensionState,
}

/// What changes while the PBX runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtensionState {
    /// Terminal blocked (PP).
    pub blocked: bool,
    /// Do not disturb.
    pub dnd: bool,
    /// Forward all calls to.
    pub forward_all: Option<String>,
    /// Forward on busy to.
    pub forward_busy: Option<String>,
    /// Forward on no answer to.
    pub forward_no_answer: Option<String>,
    /// End of the outbound window (PN).
    pub outbound_grant_until: Option<Timestamp>,
    /// Queue agent logged in.
    pub agent_logged_in: bool,
    /// Queue agent paused.
    pub agent_paused: bool,
    /// The outside number that last called the extension (FC-3).
    pub last_external_caller: Option<String>,
}

/// A verification code (VC-1), without its PIN.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    /// The code.
    pub code: String,
    /// Whose it is.
    pub name: String,
    /// Its class of service.
    pub class: u32,
    /// Billing code for call records.
    pub billing: Option<String>,
}

/// Names one secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretId {
    /// Extension or code.
    pub owner_kind: OwnerKind,
    /// The extension number or code.
    pub owner: String,
    /// `password`, `voicemail`, `pin`.
    pub kind: String,
}

/// A secret's stored state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretRecord {
    /// PHC hash, or `None` when unset or cleared.
    pub hash: Option<String>,
    /// Failures since the last success (PG-2).
    pub failures: u32,
    /// Locked out.
    pub locked: bool,
}

/// One call record (CDR-1).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// When the call started.
    pub start: Timestamp,
    /// Calling number.
    pub from: String,
    /// Dialed digits.
    pub to: String,
    /// Who finally took the call.
    pub final_party: Option<String>,
    /// Seconds connected.
    pub duration: i64,
    /// `internal`, `inbound` or `outbound`.
    pub kind: String,
    /// `answered`, `no-answer`, `busy`, `failed`, `rejected`.
    pub status: String,
    /// Reject reason.
    pub reason: Option<String>,
    /// The extension, or `code:<code>` (VC-2).
    pub originator: String,
    /// The physical extension when a code was used.
    pub via: Option<String>,
    /// Billing code.
    pub billing: Option<String>,
}

/// Which call records to read (all of them by default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecordFilter {
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub before: Option<Timestamp>,
    /// `internal`, `inbound` or `outbound`.
    pub kind: Option<String>,
    /// From, to or finally reaching this number.
    pub number: Option<String>,
}

/// Where a voicemail message is kept: new until heard, then saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Not heard yet: the phone's message light is on.
    New,
    /// Heard, or saved with a key.
    Saved,
}

impl Folder {
    /// `new` or `saved`.
    pub fn name(self) -> &'static str {
        match self {
            Folder::New => "new",
            Folder::Saved => "saved",
        }
    }

    /// The folder a name gives.
    pub fn parse(name: &str) -> Option<Folder> {
        match name {
            "new" => Some(Folder::New),
            "saved" => Some(Folder::Saved),
            _ => None,
        }
    }
}

/// A voicemail message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    /// Its number in the store (the session event `message ID`).
    pub id: i64,
    /// The mailbox (an extension).
    pub mailbox: String,
    /// Who left it.
    pub caller: String,
    /// When it was left.
    pub received_at: Timestamp,
    /// How long it is.
    pub seconds: i64,
    /// New or saved.
    pub folder: Folder,
    /// Its WAV file, relative to the data directory (none in a session replay).
    pub file: Option<String>,
}

/// The data folder of a database: the folder it is in, where voicemail audio lives
/// (`voicemail/<mailbox>/<file>.wav`).
pub fn data_folder(database: &std::path::Path) -> std::path::PathBuf {
    match database.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Who ran an administrator action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The account name of the real uid (not what the environment says).
    pub name: String,
    /// The real uid; `None` for actions that no OS user ran (session replays).
    pub uid: Option<u32>,
    /// The user the environment names (`SUDO_USER`, `LOGNAME`, `USER`) where it is not
    /// `name`: kept for the record, never trusted.
    pub claimed: Option<String>,
}

/// One administrator action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub operator: Operator,
    /// The command, e.g. `ext lock`.
    pub action: String,
    /// The extension or code.
    pub target: String,
    /// What happened.
    pub result: String,
}

/// What the engine and the admin commands need from storage.
pub trait Store {
    /// An extension, if it exists.
    fn extension(&self, number: &str) -> StoreResult<Option<ExtensionRecord>>;
    /// All extension numbers, sorted.
    fn extension_numbers(&self) -> StoreResult<Vec<String>>;
    /// A verification code, if it exists.
    fn code(&self, code: &str) -> StoreResult<Option<CodeRecord>>;
    /// Changes one state field; returns whether the value changed.
    fn set_state(&self, number: &str, field: StateField, value: StateValue) -> StoreResult<bool>;
    /// Sets or clears the end of the outbound window.
    fn set_outbound_grant(&self, number: &str, until: Option<Timestamp>) -> StoreResult<()>;
    /// A secret's state; `None` if it was never set.
    fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>>;
    /// Counts a failure, locking at `lock_at` failures; atomic. Returns the new state.
    fn record_failure(&self, id: &SecretId, lock_at: Option<u32>) -> StoreResult<SecretRecord>;
    /// Resets the failure count after a success.
    fn record_success(&self, id: &SecretId) -> StoreResult<()>;
    /// Lifts a lockout and resets failures; `clear` also removes a locked secret.
    /// Returns whether anything changed.
    fn unlock(&self, id: &SecretId, clear: bool) -> StoreResult<bool>;
    /// Stores a new hash and resets failures and lockout.
    fn set_secret(&self, id: &SecretId, hash: &str) -> StoreResult<()>;
    /// Remembers the outside number that last called an extension.
    fn set_last_external_caller(&self, number: &str, caller: &str) -> StoreResult<()>;
    /// The changes made to a list setting, in order: (entry, true if added).
    fn list_changes(&self, list: &str) -> StoreResult<Vec<(String, bool)>>;
    /// Adds (`add`) or removes an entry of a list setting, over the configured list.
    fn change_list(&self, list: &str, entry: &str, add: bool) -> StoreResult<()>;
    /// Records an event for `tally`.
    fn tally(&self, name: &str, key: &str, at: Timestamp) -> StoreResult<()>;
    /// Counts events at or after `since`.
    fn tally_since(&self, name: &str, key: &str, since: Timestamp) -> StoreResult<u32>;
    /// Appends a call record.
    fn write_call_record(&self, record: &CallRecord) -> StoreResult<()>;
    /// All call records in order.
    fn call_records(&self) -> StoreResult<Vec<CallRecord>> {
        self.call_records_where(&CallRecordFilter::default())
    }
    /// The call records a filter picks, in order.
    fn call_records_where(&self, filter: &CallRecordFilter) -> StoreResult<Vec<CallRecord>>;
    /// Stores a new message (its `id` is ignored); returns its id.
    fn add_message(&self, message: &MessageRecord) -> StoreResult<i64>;
    /// A mailbox's messages, oldest first.
    fn messages(&self, mailbox: &str) -> StoreResult<Vec<MessageRecord>>;
    /// Moves a message to `folder`; returns whether it exists.
    fn set_message_folder(&self, id: i64, folder: Folder) -> StoreResult<bool>;
    /// Deletes a message; returns it, so its file can go too.
    fn delete_message(&self, id: i64) -> StoreResult<Option<MessageRecord>>;
    /// Appends an audit entry.
    fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// All audit entries in order.
    fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>>;
    /// Runs `f` as one transaction: every change it makes is kept, or none is.
    fn in_one_transaction(&self, f: &mut dyn FnMut() -> StoreResult<()>) -> StoreResult<()>;
}

/// A value for [`Store::set_state`].
#[derive(Debug, Clone, PartialEq)]
pub enum StateValue {
    /// For blocked and dnd.
    Flag(bool),
    /// For forward targets.
    Target(Option<String>),
}

/// Forwards every store method through a pointer type.
macro_rules! forward_store {
    ($($ptr:ty),*) => {$(
        impl<T: Store + ?Sized> Store for $ptr {
    fn extension(&self, n: &str) -> StoreResult<Option<ExtensionRecord>> {
        (**self).extension(n)
    }
    fn extension_numbers(&self) -> StoreResult<Vec<String>> {
        (**self).extension_numbers()
    }
    fn code(&self, c: &str) -> StoreResult<Option<CodeRecord>> {
        (**self).code(c)
    }
    fn set_state(&self, n: &str, f: StateField, v: StateValue) -> StoreResult<bool> {
        (**self).set_state(n, f, v)
    }
    fn set_outbound_grant(&self, n: &str, u: Option<Timestamp>) -> StoreResult<()> {
        (**self).set_outbound_grant(n, u)
    }
    fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>> {
        (**self).secret(id)
    }
    fn record_failure(&self, id: &SecretId, l: Option<u32>) -> StoreResult<SecretRecord> {
        (**self).record_failure(id, l)
    }
    fn record_success(&self, id: &SecretId) -> StoreResult<()> {
        (**self).record_success(id)
    }
    fn unlock(&self, id: &SecretId, c: bool) -> StoreResult<bool> {
        (**self).unlock(id, c)
    }
    fn set_secret(&self, id: &SecretId, h: &str) -> StoreResult<()> {
        (**self).set_secret(id, h)
    }
    fn set_last_external_caller(&self, n: &str, c: &str) -> StoreResult<()> {
        (**self).set_last_external_caller(n, c)
    }
    fn list_changes(&self, l: &str) -> StoreResult<Vec<(String, bool)>> {
        (**self).list_changes(l)
    }
    fn change_list(&self, l: &str, e: &str, a: bool) -> StoreResult<()> {
        (**self).change_list(l, e, a)
    }
    fn tally(&self, n: &str, k: &str, a: Timestamp) -> StoreResult<()> {
        (**self).tally(n, k, a)
    }
    fn tally_since(&self, n: &str, k: &str, s: Timestamp) -> StoreResult<u32> {
        (**self).tally_since(n, k, s)
    }
    fn write_call_record(&self, r: &CallRecord) -> StoreResult<()> {
        (**self).write_call_record(r)
    }
    fn call_records_where(&self, f: &CallRecordFilter) -> StoreResult<Vec<CallRecord>> {
        (**self).call_records_where(f)
    }
    fn add_message(&self, m: &MessageRecord) -> StoreResult<i64> {
        (**self).add_message(m)
    }
    fn messages(&self, mailbox: &str) -> StoreResult<Vec<MessageRecord>> {
        (**self).messages(mailbox)
    }
    fn set_message_folder(&self, id: i64, f: Folder) -> StoreResult<bool> {
        (**self).set_message_folder(id, f)
    }
    fn delete_message(&self, id: i64) -> StoreResult<Option<MessageRecord>> {
        (**self).delete_message(id)
    }
    fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        (**self).audit(e)
    }
    fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>> {
        (**self).audit_entries()
    }
    fn in_one_transaction(&self, f: &mut dyn FnMut() -> StoreResult<()>) -> StoreResult<()> {
        (**self).in_one_transaction(f)
    }
}
    )*};
}

// A shared reference is a store, so the engine and an admin command can use one
// connection in a replay; an `Rc` is one, so the engines of an old and a new plan can
// share the switch thread's connection across a reload.
forward_store!(&T, std::rc::Rc<T>);
