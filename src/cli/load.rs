//! Loading what a store-backed command runs on: the config, its plan and the database,
//! provisioned. An admin command against a database provisioned from the same config
//! and plan (same bytes) skips reading and checking them again: at 10,000 extensions
//! that is most of its time.

use super::progress::Progress;
use super::{StoreArgs, exit};
use crate::directory::Config;
use crate::directory::config::named_database;
use crate::directory::validate::{self, Settings};
use crate::dsl::Plan;
use crate::hooks::Hooks;
use crate::os::StopRequest;
use crate::store::provenance::{PBXCTL_VERSION, file_hash, plan_hash};
use crate::store::{Provenance, Provisioned, SecretHasher, SqliteStore, StoreError};
use std::path::{PathBuf, absolute};

/// Everything loaded from a config file.
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// Its dialplan.
    pub plan: Plan,
    /// The plan's hooks, compiled.
    pub hooks: Hooks,
    /// Settings in force.
    pub settings: Settings,
    /// The open, provisioned store.
    pub store: SqliteStore,
}

/// What an admin command runs on.
pub struct AdminLoaded {
    /// The dialplan, for its PIN policies.
    pub plan: Plan,
    /// Settings in force.
    pub settings: Settings,
    /// The open, provisioned store.
    pub store: SqliteStore,
    /// The database file.
    pub database: PathBuf,
}

/// Whether Ctrl-C and SIGTERM stop provisioning cleanly (a command in the
/// foreground) or are left to whoever handles them already (a running server's reload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signals {
    /// Stop after the hashes in hand are stored.
    Stop,
    /// Leave the signals alone.
    Leave,
}

/// Loads config, plan and store in full, provisioning the directory; prints
/// diagnostics and returns the exit code on failure.
pub fn load(args: &StoreArgs, signals: Signals) -> Result<Loaded, i32> {
    let (config, plan, hooks, settings) = load_checked(args)?;
    let store = SqliteStore::open(&args.database(&config)).map_err(database_error)?;
    provision(&store, &config, &plan, args.quiet, signals)?;
    Ok(Loaded {
        config,
        plan,
        hooks,
        settings,
        store,
    })
}

/// Loads what an admin command needs: at once when the database was provisioned from
/// this very config and plan, else in full.
pub fn load_for_admin(args: &StoreArgs) -> Result<AdminLoaded, i32> {
    if let Some(ready) = unchanged(args) {
        return Ok(ready);
    }
    let loaded = load(args, Signals::Stop)?;
    Ok(AdminLoaded {
        plan: loaded.plan,
        settings: loaded.settings,
        store: loaded.store,
        database: args.database(&loaded.config),
    })
}

/// Loads and checks config, plan and hooks, opening nothing; prints diagnostics and
/// returns the exit code on failure.
pub fn load_checked(args: &StoreArgs) -> Result<(Config, Plan, Hooks, Settings), i32> {
    let config = Config::load(&args.config).map_err(|f| {
        eprint!("{}", f.render());
        exit::USAGE
    })?;
    let plan = crate::dsl::load(&config.dialplan).map_err(|f| {
        eprint!("{}", f.render());
        exit::USAGE
    })?;
    let hooks = Hooks::compile(&plan).map_err(|ds| {
        ds.iter()
            .for_each(|d| eprint!("{}", d.render(&plan.sources)));
        exit::USAGE
    })?;
    let settings = config.validate(&plan).map_err(|ds| {
        ds.iter()
            .for_each(|d| eprint!("{}", d.render(&config.sources)));
        exit::USAGE
    })?;
    Ok((config, plan, hooks, settings))
}

fn database_error(e: StoreError) -> i32 {
    eprintln!("error: {e}");
    exit::DATABASE
}

/// The admin parts of a database provisioned from exactly this config and plan;
/// `None` as soon as anything differs or cannot be read (the full load then says why).
fn unchanged(args: &StoreArgs) -> Option<AdminLoaded> {
    let bytes = std::fs::read(&args.config).ok()?;
    let database = match &args.db {
        Some(db) => db.clone(),
        // A guess read off the text, confirmed below: a database provisioned from
        // these very bytes records the path they name.
        None => named_database(&args.config, std::str::from_utf8(&bytes).ok()?)?,
    };
    if !database.is_file() {
        return None;
    }
    let store = SqliteStore::open(&database).ok()?;
    let from = store.provenance().ok()??;
    let named_here = args.db.is_some() || absolute(&database).ok()? == from.database;
    if !named_here
        || from.config != absolute(&args.config).ok()?
        || from.config_hash != file_hash(&bytes)
        || from.pbxctl != PBXCTL_VERSION
    {
        return None;
    }
    let plan = crate::dsl::load(&from.dialplan).ok()?;
    if plan_hash(&plan) != from.plan_hash {
        return None;
    }
    let (settings, faults) = validate::settings(&plan, &from.system);
    if !faults.is_empty() {
        return None;
    }
    Some(AdminLoaded {
        plan,
        settings,
        store,
        database,
    })
}

/// Provisions the checked directory, hashing new secrets on every core with progress
/// on stderr, and records what it was provisioned from.
fn provision(
    store: &SqliteStore,
    config: &Config,
    plan: &Plan,
    quiet: bool,
    signals: Signals,
) -> Result<(), i32> {
    let stop = (signals == Signals::Stop).then(StopRequest::catch);
    let never = std::sync::atomic::AtomicBool::new(false);
    let flag = stop.as_ref().map_or(&never, |s| s.flag());
    let from = provenance(config, plan);
    let mut progress = Progress::new(quiet);
    let outcome = store
        .provision_with(
            &config.directory,
            &SecretHasher::production(),
            from.as_ref(),
            &mut progress,
            flag,
        )
        .map_err(database_error)?;
    progress.finish(outcome);
    let stopped_by = stop.as_ref().and_then(StopRequest::exit_code);
    match (outcome, stopped_by) {
        (Provisioned::Done { .. }, None) => Ok(()),
        (Provisioned::Done { .. }, Some(code)) => {
            eprintln!("error: interrupted; the directory is provisioned, the command did not run");
            Err(code)
        }
        (Provisioned::Interrupted { stored, left }, code) => {
            eprintln!(
                "error: interrupted: {stored} new secrets stored, {left} to hash; the next command goes on"
            );
            Err(code.unwrap_or(exit::DATABASE))
        }
    }
}

/// What a database provisioned from `config` and `plan` records of them; `None`
/// where a path cannot be made absolute (then nothing is recorded, and every command
/// loads in full).
fn provenance(config: &Config, plan: &Plan) -> Option<Provenance> {
    let text = &config.sources.file(config.file).text;
    Some(Provenance {
        config: absolute(&config.path).ok()?,
        config_hash: file_hash(text.as_bytes()),
        plan_hash: plan_hash(plan),
        dialplan: absolute(&config.dialplan).ok()?,
        database: absolute(&config.database).ok()?,
        system: config
            .directory
            .system
            .iter()
            .map(|(name, v)| (name.clone(), v.value.clone()))
            .collect(),
        pbxctl: PBXCTL_VERSION.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_config_plan_and_pbxctl_skip_the_full_load() {
        let dir = tempfile::tempdir().unwrap();
        let plan = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/default.pbx");
        let config = dir.path().join("pbx.yaml");
        let text = format!(
            "dialplan: {plan}\ndatabase: pbx.db\nsystem: {{ mailbox_lockout: false }}\nextensions:\n  \"201\": {{}}\n"
        );
        std::fs::write(&config, &text).unwrap();
        let args = StoreArgs {
            config: config.clone(),
            db: None,
            quiet: true,
        };
        assert!(unchanged(&args).is_none(), "no database yet");
        let full = load_for_admin(&args).ok().unwrap();
        assert_eq!(full.database, dir.path().join("pbx.db"));
        drop(full);

        let quick = unchanged(&args).expect("provisioned from these very files");
        let lockout = quick.plan.settings.id("mailbox_lockout").unwrap();
        assert_eq!(
            quick.settings.get(lockout),
            &crate::dsl::value::Value::Bool(false),
            "the config's settings, from the record"
        );

        // A database another pbxctl provisioned is provisioned again.
        let loaded = Config::load(&config).unwrap();
        let mut from = quick.store.provenance().unwrap().unwrap();
        from.pbxctl = "0.0.1".into();
        quick
            .store
            .write_directory(&loaded.directory, Some(&from))
            .unwrap();
        assert!(unchanged(&args).is_none());

        // So is one named by another path to another database.
        let other = StoreArgs {
            db: Some(dir.path().join("other.db")),
            ..args
        };
        assert!(unchanged(&other).is_none());
    }
}
