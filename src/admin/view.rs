//! The JSON views of `sessions.md`: extension, code, call record; and voicemail messages.

use crate::clock::Timestamp;
use crate::dsl::ast::OwnerKind;
use crate::store::{AuditEntry, CallRecord, Folder, MessageRecord, SecretId, Store, StoreResult};
use serde_json::{Value, json};

fn secret_view(
    store: &dyn Store,
    kind: OwnerKind,
    owner: &str,
    secret: &str,
) -> StoreResult<(bool, u32, bool)> {
    let id = SecretId {
        owner_kind: kind,
        owner: owner.into(),
        kind: secret.into(),
    };
    Ok(store.secret(&id)?.map_or((false, 0, false), |s| {
        (s.locked, s.failures, s.hash.is_some())
    }))
}

/// `pbxctl ext show EXT --json`; `None` if there is no such extension.
pub fn extension(store: &dyn Store, number: &str) -> StoreResult<Option<Value>> {
    let Some(r) = store.extension(number)? else {
        return Ok(None);
    };
    let (vm_locked, vm_failures, _) =
        secret_view(store, OwnerKind::Extension, number, "voicemail")?;
    let (pw_locked, pw_failures, _) = secret_view(store, OwnerKind::Extension, number, "password")?;
    let s = &r.state;
    let messages = store.messages(number)?;
    let new = messages.iter().filter(|m| m.folder == Folder::New).count();
    let saved = messages.len() - new;
    Ok(Some(json!({
        "extension": number,
        "name": r.config.name,
        "class": r.config.class,
        "blocked": s.blocked,
        "dnd": s.dnd,
        "forward": { "all": s.forward_all, "busy": s.forward_busy, "no_answer": s.forward_no_answer },
        "outbound_grant_until": s.outbound_grant_until.map(Timestamp::rfc3339),
        "voicemail": {
            "enabled": r.config.voicemail.enabled, "locked": vm_locked, "failures": vm_failures,
            "new": new, "saved": saved,
        },
        "password": { "locked": pw_locked, "failures": pw_failures },
        "agent": { "logged_in": s.agent_logged_in, "paused": s.agent_paused },
        "wakeups": [],
    })))
}

/// `pbxctl code show CODE --json`; `None` if there is no such code.
pub fn code(store: &dyn Store, code: &str) -> StoreResult<Option<Value>> {
    let Some(r) = store.code(code)? else {
        return Ok(None);
    };
    let (locked, failures, pin_set) = secret_view(store, OwnerKind::Code, code, "pin")?;
    Ok(Some(json!({
        "code": r.code, "name": r.name, "class": r.class, "billing": r.billing,
        "locked": locked, "failures": failures, "pin_set": pin_set,
    })))
}

/// One voicemail message, as `pbxctl vm list --json` prints it.
pub fn message(m: &MessageRecord) -> Value {
    json!({
        "id": m.id, "mailbox": m.mailbox, "from": m.caller, "received": m.received_at.rfc3339(),
        "seconds": m.seconds, "folder": m.folder.name(), "file": m.file,
    })
}

/// One call record, as `pbxctl cdr --json` prints it.
pub fn call_record(r: &CallRecord) -> Value {
    json!({
        "start": r.start.rfc3339(), "from": r.from, "to": r.to, "final": r.final_party,
        "duration": r.duration, "type": r.kind, "status": r.status, "reason": r.reason,
        "originator": r.originator, "via": r.via, "billing": r.billing,
    })
}

/// One audit entry, as `pbxctl audit --json` prints it.
pub fn audit_entry(e: &AuditEntry) -> Value {
    let mut v = json!({
        "at": e.at.rfc3339(), "user": e.operator.name, "uid": e.operator.uid,
        "action": e.action, "target": e.target, "result": e.result,
    });
    if let Some(claimed) = &e.operator.claimed {
        v["claimed_user"] = json!(claimed);
    }
    v
}

/// The columns of `pbxctl cdr`, in order.
const CDR_COLUMNS: [&str; 11] = [
    "start",
    "from",
    "to",
    "final",
    "duration",
    "type",
    "status",
    "reason",
    "originator",
    "via",
    "billing",
];

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Call record views as CSV with a header line.
pub fn call_records_csv(views: &[Value]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(CDR_COLUMNS);
    for v in views {
        let _ = w.write_record(CDR_COLUMNS.map(|c| cell(&v[c])));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Call record views as an aligned table, a header and a line each.
pub fn call_records_table(views: &[Value]) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(CDR_COLUMNS.map(str::to_string).to_vec())
        .chain(
            views
                .iter()
                .map(|v| CDR_COLUMNS.map(|c| cell(&v[c])).to_vec()),
        )
        .collect();
    let widths: Vec<usize> = (0..CDR_COLUMNS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}
