//! `pbxctl ext` and `pbxctl code`: load config and plan, open the store, act.

use super::load::{AdminLoaded, load_for_admin};
use super::{StoreArgs, exit, print};
use crate::admin::{Admin, CdrQuery, CodeCommand, ExtCommand, Reply, VmCommand};
use crate::clock::Timestamp;
use crate::store::{Operator, SecretHasher};
use std::io::Read;

/// Who runs this command: the real uid's account; what the environment says only
/// where it says something else, kept apart.
fn operator() -> Operator {
    let real = crate::os::real_user();
    let claimed = ["SUDO_USER", "LOGNAME", "USER"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|name| !name.is_empty() && *name != real.name);
    Operator {
        name: real.name,
        uid: Some(real.uid),
        claimed,
    }
}

fn with_admin(args: &StoreArgs, f: impl FnOnce(&Admin<'_>) -> Reply) -> i32 {
    let AdminLoaded {
        plan,
        settings,
        store,
        database,
    } = match load_for_admin(args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let hasher = SecretHasher::production();
    let admin = Admin {
        store: &store,
        plan: &plan,
        settings: &settings,
        hasher: &hasher,
        now: Timestamp::now(),
        operator: operator(),
        data: Some(crate::store::data_folder(&database)),
    };
    let reply = f(&admin);
    print(&reply.stdout);
    eprint!("{}", reply.stderr);
    reply.status
}

/// `pbxctl ext ...`.
pub fn ext(args: &StoreArgs, cmd: &ExtCommand) -> i32 {
    let mut stdin = String::new();
    let reads = match cmd {
        ExtCommand::Login { .. } => Some("the passcode"),
        ExtCommand::Lock { targets } | ExtCommand::Unlock { targets } if targets.reads_stdin() => {
            Some("extension numbers")
        }
        _ => None,
    };
    if let Some(what) = reads
        && std::io::stdin().read_to_string(&mut stdin).is_err()
    {
        eprintln!("error: cannot read {what} from stdin");
        return exit::USAGE;
    }
    with_admin(args, |a| a.ext(cmd, &stdin))
}

/// `pbxctl vm ...`: the mailbox's passcode comes on stdin.
pub fn vm(args: &StoreArgs, cmd: &VmCommand) -> i32 {
    let mut passcode = String::new();
    if std::io::stdin().read_to_string(&mut passcode).is_err() {
        eprintln!("error: cannot read the passcode from stdin");
        return exit::USAGE;
    }
    with_admin(args, |a| a.vm(cmd, &passcode))
}

/// `pbxctl code ...`.
pub fn code(args: &StoreArgs, cmd: &CodeCommand) -> i32 {
    with_admin(args, |a| a.code(cmd))
}

/// `pbxctl cdr`.
pub fn cdr(args: &StoreArgs, query: &CdrQuery) -> i32 {
    with_admin(args, |a| a.cdr(query))
}

/// `pbxctl audit`.
pub fn audit(args: &StoreArgs, json: bool) -> i32 {
    with_admin(args, |a| a.audit_log(json))
}
