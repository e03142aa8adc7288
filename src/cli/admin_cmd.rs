//! `pbxctl ext` and `pbxctl code`: load config and plan, open the store, act.

use super::run::{Loaded, load};
use super::{StoreArgs, exit, print};
use crate::admin::{Admin, CodeCommand, ExtCommand, Reply};
use crate::clock::Timestamp;
use crate::store::SecretHasher;
use std::io::Read;

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn with_admin(args: &StoreArgs, f: impl FnOnce(&Admin<'_>) -> Reply) -> i32 {
    let Loaded {
        plan,
        settings,
        store,
        ..
    } = match load(args) {
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
        user: os_user(),
    };
    let reply = f(&admin);
    print(&reply.stdout);
    eprint!("{}", reply.stderr);
    reply.status
}

/// `pbxctl ext ...`.
pub fn ext(args: &StoreArgs, cmd: &ExtCommand) -> i32 {
    let mut stdin = String::new();
    if matches!(cmd, ExtCommand::Login { .. })
        && std::io::stdin().read_to_string(&mut stdin).is_err()
    {
        eprintln!("error: cannot read the passcode from stdin");
        return exit::USAGE;
    }
    with_admin(args, |a| a.ext(cmd, &stdin))
}

/// `pbxctl code ...`.
pub fn code(args: &StoreArgs, cmd: &CodeCommand) -> i32 {
    with_admin(args, |a| a.code(cmd))
}

/// `pbxctl audit`.
pub fn audit(args: &StoreArgs, json: bool) -> i32 {
    with_admin(args, |a| a.audit_log(json))
}
