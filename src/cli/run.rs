//! Loading what a serving PBX needs: config, plan, hooks, settings, store.
//! `pbxctl run` stops after that until the SIP layer lands.

use super::{StoreArgs, exit};
use crate::directory::Config;
use crate::directory::validate::Settings;
use crate::dsl::Plan;
use crate::hooks::Hooks;
use crate::store::{SecretHasher, SqliteStore, StoreError};

/// Everything loaded from a config file.
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// Its dialplan.
    pub plan: Plan,
    /// Settings in force.
    pub settings: Settings,
    /// The open, provisioned store.
    pub store: SqliteStore,
}

/// Loads config, plan and store; prints diagnostics and returns the exit code on failure.
pub fn load(args: &StoreArgs) -> Result<Loaded, i32> {
    let config = Config::load(&args.config).map_err(|f| {
        eprint!("{}", f.render());
        exit::USAGE
    })?;
    let plan = crate::dsl::load(&config.dialplan).map_err(|f| {
        eprint!("{}", f.render());
        exit::USAGE
    })?;
    Hooks::compile(&plan).map_err(|ds| {
        ds.iter()
            .for_each(|d| eprint!("{}", d.render(&plan.sources)));
        exit::USAGE
    })?;
    let settings = config.validate(&plan).map_err(|ds| {
        ds.iter()
            .for_each(|d| eprint!("{}", d.render(&config.sources)));
        exit::USAGE
    })?;
    let db = args.db.clone().unwrap_or_else(|| config.database.clone());
    let fail = |e: StoreError| {
        eprintln!("error: {e}");
        exit::DATABASE
    };
    let store = SqliteStore::open(&db).map_err(fail)?;
    store
        .provision(&config.directory, &SecretHasher::production())
        .map_err(fail)?;
    Ok(Loaded {
        config,
        plan,
        settings,
        store,
    })
}

/// `pbxctl run`.
pub fn run(args: &StoreArgs) -> i32 {
    let loaded = match load(args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!(
        "{}: dialplan {} and {} extensions loaded into {}; serving SIP/RTP is not built yet (the `pbxctl run` issue)",
        loaded.config.path.display(),
        loaded.config.dialplan.display(),
        loaded.config.directory.extensions.len(),
        args.db
            .clone()
            .unwrap_or(loaded.config.database.clone())
            .display(),
    );
    exit::USAGE
}
