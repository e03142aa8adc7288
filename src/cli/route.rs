//! `pbxctl route`: what dialed digits do from an extension, explained on an in-memory
//! copy of the store, so nothing the explained call changes reaches the database.

use super::load::load_checked;
use super::{StoreArgs, exit, print};
use crate::clock::Timestamp;
use crate::directory::trunk::{Carrier, emergency_order, in_file_order, outbound_trunk};
use crate::engine::{Engine, Explanation, RouteOutcome, Verdict};
use crate::store::{SecretHasher, SqliteStore, Store, StoreError};
use std::sync::Arc;

/// `pbxctl route DIGITS --from EXT [--at TIME] [--json]`.
pub fn run(args: &StoreArgs, digits: &str, from: &str, at: Option<&str>, json: bool) -> i32 {
    if digits.is_empty()
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"*#".contains(&b))
    {
        eprintln!("error: `{digits}` cannot be dialed: digits, `*` and `#` only");
        return exit::USAGE;
    }
    let now = match at.map(parse_at).transpose() {
        Ok(t) => t.unwrap_or_else(Timestamp::now),
        Err(e) => {
            eprintln!("error: --at {}: {e}", at.unwrap_or_default());
            return exit::USAGE;
        }
    };
    let (config, plan, hooks, settings) = match load_checked(args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let db = args.database(&config);
    let copy = if db.exists() {
        SqliteStore::copy_of(&db)
    } else {
        eprintln!(
            "note: {} does not exist yet: explaining with the state the config provisions",
            db.display()
        );
        SqliteStore::in_memory()
    };
    // Provisioned as `run` would, in the copy; its secrets are never checked here.
    let store = match copy.and_then(|s| {
        s.provision(&config.directory, &SecretHasher::fast())
            .map(|()| s)
    }) {
        Ok(s) => s,
        Err(e) => return database_error(&e),
    };
    match store.extension(from) {
        Ok(Some(_)) => {}
        Ok(None) => {
            eprintln!("error: {from} is not an extension (--from names the calling extension)");
            return exit::UNKNOWN;
        }
        Err(e) => return database_error(&e),
    }
    let mut engine = Engine::new(Arc::new(plan), Arc::new(hooks), settings, store);
    let mut explanation = engine.explain(now, from, digits);
    let trunks = in_file_order(&config.trunks);
    match &explanation.outcome {
        RouteOutcome::Outbound { .. } => {
            explanation.trunk = outbound_trunk(&trunks).map(|t| t.name().to_owned());
        }
        RouteOutcome::Emergency { .. } => {
            let order = emergency_order(&trunks);
            let mut names = order.iter().map(|t| t.name().to_owned());
            explanation.trunk = names.next();
            explanation.next_trunks = names.collect();
        }
        _ => {}
    }
    if json {
        let text = serde_json::to_string_pretty(&explanation).expect("an explanation serializes");
        print(&format!("{text}\n"));
    } else {
        print(&human(&explanation));
    }
    exit::OK
}

fn database_error(e: &StoreError) -> i32 {
    eprintln!("error: {e}");
    exit::DATABASE
}

/// `--at`: RFC 3339, or `HH:MM` today in the local time zone.
fn parse_at(text: &str) -> Result<Timestamp, String> {
    if text.contains('T') {
        return Timestamp::parse_rfc3339(text);
    }
    let time: jiff::civil::Time = text
        .parse()
        .map_err(|_| "not a time like 2026-03-01T09:00:00Z or 09:00".to_string())?;
    let today = jiff::Zoned::now().date().to_datetime(time);
    let zoned = today
        .to_zoned(jiff::tz::TimeZone::system())
        .map_err(|e| e.to_string())?;
    Ok(Timestamp(zoned.timestamp().as_millisecond()))
}

/// The explanation as a reader wants it: the rules that matter, then the call.
fn human(e: &Explanation) -> String {
    let mut out = format!("{} dialed from {} at {}\n", e.digits, e.from, e.at);
    if e.emergency {
        out.push_str("\nan emergency number: decided before any rule\n");
    } else {
        out.push_str("\nrules (the first that takes the digits runs):\n");
        // Patterns that do not take the digits say nothing worth a line each.
        let (quiet, told): (Vec<_>, Vec<_>) = e
            .rules
            .iter()
            .partition(|r| r.verdict == Verdict::NoMatch && r.why.starts_with("pattern "));
        let head_width = told.iter().map(|r| r.head.len()).max().unwrap_or(0);
        for r in &told {
            out.push_str(&format!(
                "  {:>4}  {:<11}  {:<head_width$}  {}\n",
                r.line,
                r.verdict.as_str(),
                r.head,
                r.why
            ));
        }
        if !quiet.is_empty() {
            let heads: Vec<&str> = quiet
                .iter()
                .map(|r| r.head.strip_prefix("dial ").unwrap_or(&r.head))
                .collect();
            out.push_str(&format!(
                "  and {} patterns that do not take {}: {}\n",
                quiet.len(),
                e.digits,
                heads.join(" ")
            ));
        }
    }
    out.push('\n');
    let class = e.class.as_ref().map_or_else(
        || "none".to_string(),
        |c| format!("{} ({})", c.number, c.label),
    );
    out.push_str(&format!("class:    {class}\n"));
    let name_width = e.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for (i, c) in e.checks.iter().enumerate() {
        let label = if i == 0 { "checks:" } else { "" };
        let mark = if c.passed { "ok" } else { "fails" };
        out.push_str(&format!(
            "{label:<9} {mark:<5}  {:<name_width$}  {}\n",
            c.name, c.why
        ));
    }
    for (i, h) in e.hooks.iter().enumerate() {
        let label = if i == 0 { "hooks:" } else { "" };
        let line = h.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        out.push_str(&format!("{label:<9} {}{line}: {}\n", h.name, h.says));
    }
    if !e.heard.is_empty() {
        out.push_str(&format!("heard:    {}\n", e.heard.join(", ")));
    }
    out.push_str(&format!("outcome:  {}\n", outcome(e)));
    if !e.changes.is_empty() {
        let changes = e.changes.join(", ");
        out.push_str(&format!(
            "changes:  {changes} (explained only: the database keeps its state)\n"
        ));
    }
    for w in &e.warnings {
        out.push_str(&format!("warning:  {w}\n"));
    }
    out
}

/// The outcome in a sentence.
fn outcome(e: &Explanation) -> String {
    let trunk = || match (&e.trunk, e.next_trunks.is_empty()) {
        (Some(t), true) => format!("leaves by trunk {t}"),
        (Some(t), false) => format!("leaves by trunk {t} (then {})", e.next_trunks.join(", ")),
        (None, _) => "no trunk is configured to carry it: the call fails".into(),
    };
    match &e.outcome {
        RouteOutcome::Extension {
            extension,
            rings_for,
        } => match rings_for {
            Some(t) => format!("rings {extension} for {t}"),
            None => format!("rings {extension}"),
        },
        RouteOutcome::Outbound { number } => {
            format!("calls out: {}, number sent {number}", trunk())
        }
        RouteOutcome::Emergency { number } => {
            format!("emergency call: {}, number sent {number}", trunk())
        }
        RouteOutcome::Voicemail { mailbox } => format!("voicemail: leaves a message for {mailbox}"),
        RouteOutcome::Mailbox => "in the mailbox menu, waiting for keys".into(),
        RouteOutcome::Rejected { reason } => format!("rejected: {reason}"),
        RouteOutcome::Prompt { prompt, into, then } => {
            let mut s = format!("waits for digits after prompt {prompt} (into {into})");
            if !then.is_empty() {
                s.push_str(&format!("; then {}", then.join(", ")));
            }
            s
        }
        RouteOutcome::Hangup => "the call ends (hangup)".into(),
        RouteOutcome::Other { waits } => format!("waits for {waits}"),
    }
}
