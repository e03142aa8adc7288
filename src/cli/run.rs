//! `pbxctl run`: load config, plan, hooks, prompts and store, then serve SIP until a
//! signal says stop; SIGHUP loads everything again for new calls.

use super::load::{Loaded, Signals, load};
use super::{StoreArgs, exit};
use crate::directory::Config;
use crate::directory::config::{Metrics, Sip};
use crate::directory::trunk::{DidTarget, in_file_order};
use crate::media::prompt_set::PromptSet;
use crate::sip::auth::{Algorithm, Nonces, Password};
use crate::sip::edge::{Control, EdgeConfig, PlanParts, serve};
use crate::sip::source_guard::GuardPolicy;
use crate::sip::switch::Settings as SwitchSettings;
use crate::sip::trunk::{CallerId, Did, Trunk, Trunks};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use tracing::warn;

/// The trunks of a (checked) config, in its order, each address resolved now.
fn trunks(config: &Config) -> Result<Trunks, String> {
    let mut list = Vec::new();
    for (name, entry) in in_file_order(&config.trunks) {
        let (host, port) = entry.host_port().ok_or_else(|| {
            format!(
                "trunk {name}: address `{}` is not host:port",
                entry.address.value
            )
        })?;
        let address = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("trunk {name}: cannot resolve `{host}`: {e}"))?
            .next()
            .ok_or_else(|| format!("trunk {name}: `{host}` resolves to no address"))?;
        let account = match (&entry.username, &entry.secret) {
            (Some(user), Some(secret)) => Some((user.clone(), Password::new(secret.clone()))),
            _ => None,
        };
        let caller_id = match entry.fixed_caller_id() {
            Some(number) => CallerId::Fixed(number.to_owned()),
            None => CallerId::Extension,
        };
        let dids = entry
            .did_targets()
            .map(|(did, target)| {
                let target = match target {
                    DidTarget::Extension(ext) => Did::Extension(ext),
                    DidTarget::Disa => Did::Disa,
                };
                (did.to_owned(), target)
            })
            .collect();
        list.push(Trunk {
            name: name.to_owned(),
            address,
            domain: entry.address.value.trim().to_owned(),
            account,
            register: entry.register,
            caller_id,
            dids,
            outbound: entry.outbound,
            emergency: entry.emergency,
        });
    }
    Ok(Trunks(list))
}

/// The plan parts of a load, with the prompt set and the SIP secrets provisioned.
fn plan_parts(loaded: Loaded) -> Result<(PlanParts, Config), String> {
    crate::sip::auth::secrets::provision(
        &loaded.store,
        &loaded.config.directory,
        &loaded.config.sip.realm,
    )
    .map_err(|e| e.to_string())?;
    let prompts = PromptSet::load(&loaded.config.prompts)?;
    let missing: Vec<&str> = loaded
        .plan
        .prompt_uses()
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !prompts.has(id))
        .collect();
    if !missing.is_empty() {
        warn!(missing = %missing.join(", "), folder = %prompts.folder().display(), "prompts without audio");
    }
    let system = loaded
        .config
        .directory
        .system
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let parts = PlanParts {
        plan: Arc::new(loaded.plan),
        hooks: Arc::new(loaded.hooks),
        settings: loaded.settings,
        prompts: Arc::new(prompts),
        dialplan: std::path::absolute(&loaded.config.dialplan)
            .unwrap_or_else(|_| loaded.config.dialplan.clone()),
        system: serde_json::Value::Object(system),
    };
    Ok((parts, loaded.config))
}

/// `pbxctl run`: serves the plan over SIP until SIGTERM (or Ctrl-C) and a drain.
pub fn run(args: &StoreArgs, record: Option<&std::path::Path>) -> i32 {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PBXCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let loaded = match load(args, Signals::Stop) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let path = loaded.config.path.clone();
    let (parts, config) = match plan_parts(loaded) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return exit::USAGE;
        }
    };
    let sip = &config.sip;
    let advertised = match (sip.media_address, sip.listen.ip()) {
        (Some(ip), _) => ip,
        (None, ip) if !ip.is_unspecified() => ip,
        (None, ip) => {
            eprintln!(
                "error: {}: sip.listen is {ip}, so sip.media_address must say which address phones reach",
                path.display()
            );
            return exit::USAGE;
        }
    };
    let local = SocketAddr::new(advertised, sip.listen.port());
    let trunks = match trunks(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return exit::USAGE;
        }
    };
    let edge = EdgeConfig {
        listen: sip.listen,
        advertised,
        rtp_ports: sip.rtp_ports,
        switch: switch_settings(sip, local, Nonces::generate_key(), trunks),
        database: args.database(&config),
        drain: sip.drain,
        tcp: sip.tcp.clone(),
        record: record.map(std::path::Path::to_path_buf),
        metrics: config.metrics.as_ref().map(|m| m.listen),
    };
    if let Some(dir) = record
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: --record {}: {e}", dir.display());
        return exit::USAGE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::FAILED;
        }
    };
    let args = args.clone();
    let running = Running {
        sip: config.sip.clone(),
        metrics: config.metrics.clone(),
        local,
    };
    let served = runtime.block_on(async move {
        let (control, inbox) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(signals(args, running, control));
        serve(edge, parts, inbox).await
    });
    match served {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}

/// The switch's settings from the config's `sip:` section and its trunks.
fn switch_settings(
    sip: &Sip,
    local: SocketAddr,
    nonce_key: [u8; 32],
    trunks: Trunks,
) -> SwitchSettings {
    SwitchSettings {
        local,
        realm: sip.realm.clone(),
        guard: GuardPolicy {
            max_failures: sip.auth_guard.failures,
            window: sip.auth_guard.window,
            block: sip.auth_guard.block,
        },
        nonce_lifetime: sip.nonce_lifetime,
        nonce_key,
        algorithms: sip
            .digest
            .iter()
            .filter_map(|a| Algorithm::parse(a))
            .collect(),
        trunks,
    }
}

/// What the server was started with that a reload cannot change.
struct Running {
    sip: Sip,
    metrics: Option<Metrics>,
    local: SocketAddr,
}

impl Running {
    /// The settings `new` changes that take a restart (sockets and ports are opened
    /// once), with the value still in force.
    fn needs_restart(&self, new: &Config) -> Vec<(&'static str, String)> {
        let mut changed = Vec::new();
        if new.metrics != self.metrics {
            let shown = self
                .metrics
                .as_ref()
                .map_or("none".into(), |m| m.listen.to_string());
            changed.push(("metrics.listen", shown));
        }
        let (old, new) = (&self.sip, &new.sip);
        if new.listen != old.listen {
            changed.push(("sip.listen", old.listen.to_string()));
        }
        if new.media_address != old.media_address {
            let shown = old.media_address.map_or("none".into(), |a| a.to_string());
            changed.push(("sip.media_address", shown));
        }
        if new.rtp_ports != old.rtp_ports {
            changed.push((
                "sip.rtp_ports",
                format!("{}-{}", old.rtp_ports.0, old.rtp_ports.1),
            ));
        }
        if new.tcp != old.tcp {
            changed.push(("sip.tcp", format!("{:?}", old.tcp)));
        }
        changed
    }
}

/// SIGTERM and SIGINT drain; SIGHUP reloads config and plan (a broken reload keeps the old).
async fn signals(
    args: StoreArgs,
    running: Running,
    control: tokio::sync::mpsc::UnboundedSender<Control>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        warn!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { let _ = control.send(Control::Drain); }
            _ = int.recv() => { let _ = control.send(Control::Drain); }
            _ = hup.recv() => {
                let args = args.clone();
                let reloaded = tokio::task::spawn_blocking(move || {
                    let loaded = load(&args, Signals::Leave).map_err(|_| "see the diagnostics above".to_owned())?;
                    let (parts, config) = plan_parts(loaded)?;
                    let trunks = trunks(&config)?;
                    Ok::<_, String>((parts, config, trunks))
                })
                .await;
                match reloaded {
                    Ok(Ok((parts, config, trunks))) => {
                        for (key, in_force) in running.needs_restart(&config) {
                            warn!(setting = key, in_force = %in_force, "{key} changed in the config; it needs a restart, so the old value stays in force");
                        }
                        // The nonce key stays: the switch keeps its own.
                        let switch = switch_settings(&config.sip, running.local, [0; 32], trunks);
                        let drain = config.sip.drain;
                        let parts = Box::new(parts);
                        let _ = control.send(Control::Reload { parts, switch, drain });
                    }
                    Ok(Err(e)) => warn!(error = %e, "reload failed; still serving the old plan"),
                    Err(e) => warn!(error = %e, "reload failed; still serving the old plan"),
                }
            }
        }
    }
}
