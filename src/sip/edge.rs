//! The IO edge of `pbxctl run`: sockets, tasks, the real clock. Everything it does is
//! move bytes between the network and the sans-IO [`Switch`].
//!
//! One thread owns the switch (and so the engines and the SQLite connection: a secret
//! check may take 20 ms of CPU and must not stall the sockets); tokio tasks read UDP,
//! accept TCP, and run one RTP stream per answered call, paced at 20 ms.

mod clock;
mod health;
mod media;
mod metrics;
mod operations;
mod tcp;

use super::log_budget::LogBudget;
use super::switch::{CallId, Input, Output, Settings, Switch};
use super::transaction::{Peer, Transport};
use crate::clock::Duration;
use crate::directory::config::TcpLimits;
use crate::directory::validate::Settings as PlanSettings;
use crate::dsl::Plan;
use crate::engine::Engine;
use crate::hooks::Hooks;
use crate::media::prompt_set::PromptSet;
use crate::store::{SecretHasher, SqliteStore};
use health::{Health, StoppedOnDrop};
use media::ToMedia;
use metrics::Metrics;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use tcp::Links;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{info, warn};

/// What a plan needs to take calls; built again on every reload.
pub struct PlanParts {
    /// The compiled plan.
    pub plan: Arc<Plan>,
    /// Its hooks.
    pub hooks: Arc<Hooks>,
    /// Settings in force.
    pub settings: PlanSettings,
    /// The prompt set.
    pub prompts: Arc<PromptSet>,
    /// The plan's file, as recorded sessions name it.
    pub dialplan: PathBuf,
    /// The config's `system:` settings, for recorded sessions' `given`.
    pub system: serde_json::Value,
}

/// Where and how to serve.
pub struct EdgeConfig {
    /// SIP address (UDP and TCP).
    pub listen: SocketAddr,
    /// The address put in SDP and Contact.
    pub advertised: IpAddr,
    /// RTP ports, inclusive.
    pub rtp_ports: (u16, u16),
    /// Switch settings.
    pub switch: Settings,
    /// The SQLite file.
    pub database: PathBuf,
    /// How long calls may go on after a drain starts.
    pub drain: Duration,
    /// Limits on SIP over TCP.
    pub tcp: TcpLimits,
    /// Where to write each call as a session file (`--record`), if anywhere.
    pub record: Option<PathBuf>,
    /// Where `GET /metrics` and `GET /health` are served, if anywhere.
    pub metrics: Option<SocketAddr>,
}

/// What the operator asks of a running server.
pub enum Control {
    /// Take new calls on a new plan, under new switch settings and drain time.
    Reload {
        /// The plan.
        parts: Box<PlanParts>,
        /// The switch's settings (its address and nonce key stay as they are).
        switch: Settings,
        /// How long calls may go on after a drain starts.
        drain: Duration,
    },
    /// Stop taking calls, let the running ones finish, then stop.
    Drain,
}

/// Messages to the switch thread.
enum ToSwitch {
    Input(Input),
    /// A message from the network, with the permit that bounds how many its sender
    /// (the UDP socket, or one TCP connection) may have waiting for the switch.
    Received(Input, OwnedSemaphorePermit),
    Reload(Box<PlanParts>, Settings),
    /// A TCP connection's reader has ended: close it once its answers are written.
    TcpClosed {
        addr: SocketAddr,
        id: u64,
    },
    Drain,
    EndAll,
    Stop,
}

/// Datagrams that may wait for the switch; beyond them the socket buffer fills and the
/// kernel drops, so a flood costs bounded memory.
const UDP_IN_FLIGHT: usize = 4_096;
/// How often the edge logs what its log budget held back.
const BUDGET_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// File descriptors kept back from TCP connections: RTP sockets are counted apart.
const RESERVED_FILES: u64 = 256;
/// How often the switch thread publishes its tally as metrics.
const PUBLISH_EVERY: Duration = Duration(500);

/// Serves until a drain completes. Errors are startup errors (a port in use).
pub async fn serve(
    config: EdgeConfig,
    parts: PlanParts,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> Result<(), String> {
    let udp = StdUdpSocket::bind(config.listen)
        .map_err(|e| format!("cannot listen on udp {}: {e}", config.listen))?;
    let udp_send = udp.try_clone().map_err(|e| e.to_string())?;
    udp.set_nonblocking(true).map_err(|e| e.to_string())?;
    let udp = UdpSocket::from_std(udp).map_err(|e| e.to_string())?;
    let tcp = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on tcp {}: {e}", config.listen))?;
    info!(address = %config.listen, "listening for SIP on UDP and TCP");
    let secrets = parts.plan.policies.iter().map(|p| p.secret.as_str());
    let metrics = Arc::new(Metrics::new(secrets));
    let health = Arc::new(Health::default());
    if let Some(address) = config.metrics {
        let http = TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen for metrics on tcp {address}: {e}"))?;
        info!(%address, "serving GET /metrics and /health over HTTP");
        tokio::spawn(operations::serve(http, metrics.clone(), health.clone()));
    }

    let tcp_limits = fit_to_open_files(config.tcp.clone(), config.rtp_ports);
    let (to_switch, from_edge) = std_mpsc::channel::<ToSwitch>();
    let (drained_tx, mut drained) = mpsc::unbounded_channel::<()>();
    let budget = Arc::new(Mutex::new(LogBudget::default()));
    let links = Links::new(tcp_limits.write_queue, budget.clone());
    let switch_thread = {
        let links = links.clone();
        let budget = budget.clone();
        let to_switch = to_switch.clone();
        let runtime = tokio::runtime::Handle::current();
        let database = config.database.clone();
        let settings = config.switch.clone();
        let rtp = Ports::new(config.advertised, config.rtp_ports);
        std::thread::Builder::new()
            .name("switch".into())
            .spawn(move || {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let thread = SwitchThread {
                    udp: udp_send,
                    verify_slots: Arc::new(Semaphore::new(cores)),
                    links,
                    budget,
                    runtime,
                    to_switch,
                    media: HashMap::new(),
                    bridged: HashMap::new(),
                    rtp,
                    data: crate::store::data_folder(&database),
                    record: config.record.clone(),
                    drained: drained_tx,
                    metrics,
                    health,
                };
                thread.run(database, settings, parts, from_edge)
            })
            .map_err(|e| e.to_string())?
    };

    tokio::spawn(read_udp(udp, to_switch.clone()));
    tokio::spawn(tcp::accept(tcp, to_switch.clone(), links, tcp_limits));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(BUDGET_REPORT_EVERY);
        loop {
            tick.tick().await;
            budget.lock().expect("log budget lock").report(clock::now());
        }
    });

    let mut drain_limit = config.drain;
    while let Some(c) = control.recv().await {
        match c {
            Control::Reload {
                parts,
                switch,
                drain,
            } => {
                drain_limit = drain;
                let _ = to_switch.send(ToSwitch::Reload(parts, switch));
            }
            Control::Drain => {
                let _ = to_switch.send(ToSwitch::Drain);
                let limit = std::time::Duration::from_millis(drain_limit.0.max(0) as u64);
                if tokio::time::timeout(limit, drained.recv()).await.is_err() {
                    warn!("drain timeout: ending the calls still up");
                    let _ = to_switch.send(ToSwitch::EndAll);
                    // Give the BYEs a moment to leave.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                break;
            }
        }
    }
    // Other tasks hold senders too, so the thread is told to stop rather than left to
    // notice a closed channel.
    let _ = to_switch.send(ToSwitch::Stop);
    let _ = tokio::task::spawn_blocking(move || switch_thread.join()).await;
    info!("stopped");
    Ok(())
}

async fn read_udp(socket: UdpSocket, to_switch: std_mpsc::Sender<ToSwitch>) {
    let mut buf = vec![0u8; 65_536];
    let in_flight = Arc::new(Semaphore::new(UDP_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Ok((n, addr)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let input = Input::Received {
            from: Peer {
                transport: Transport::Udp,
                addr,
            },
            bytes: buf[..n].to_vec(),
        };
        if to_switch.send(ToSwitch::Received(input, permit)).is_err() {
            return;
        }
    }
}

/// The TCP limits, with `max_connections` lowered if the process may not open that
/// many files besides its RTP sockets (the soft limit is first raised to the hard one).
fn fit_to_open_files(mut limits: TcpLimits, (low, high): (u16, u16)) -> TcpLimits {
    let Some(files) = crate::os::raise_open_files_limit() else {
        return limits;
    };
    let rtp = u64::from(high - low) / 2 + 1;
    let room = files.saturating_sub(rtp + RESERVED_FILES);
    if u64::from(limits.max_connections) > room {
        let lowered = u32::try_from(room).unwrap_or(u32::MAX).max(1);
        warn!(
            configured = limits.max_connections,
            lowered,
            open_files = files,
            "sip.tcp.max_connections lowered: the process may not open that many files besides its RTP ports"
        );
        limits.max_connections = lowered;
    }
    limits
}

/// Hands out RTP ports: even ones, round robin, skipping any the OS says are taken.
struct Ports {
    ip: IpAddr,
    low: u16,
    high: u16,
    next: u16,
}

impl Ports {
    fn new(ip: IpAddr, (low, high): (u16, u16)) -> Ports {
        let low = low + low % 2;
        Ports {
            ip,
            low,
            high,
            next: low,
        }
    }

    fn open(&mut self) -> Option<StdUdpSocket> {
        let count = (self.high.saturating_sub(self.low)) / 2 + 1;
        for _ in 0..count {
            let port = self.next;
            self.next = if port + 2 > self.high {
                self.low
            } else {
                port + 2
            };
            if let Ok(s) = StdUdpSocket::bind((self.ip, port)) {
                return Some(s);
            }
        }
        None
    }
}

struct SwitchThread {
    udp: StdUdpSocket,
    /// Secret checks running at once.
    verify_slots: Arc<Semaphore>,
    links: Links,
    budget: Arc<Mutex<LogBudget>>,
    runtime: tokio::runtime::Handle,
    to_switch: std_mpsc::Sender<ToSwitch>,
    media: HashMap<CallId, media::MediaHandle>,
    /// Bridged legs, each way.
    bridged: HashMap<CallId, CallId>,
    rtp: Ports,
    /// Where voicemail audio lives: the database's folder.
    data: PathBuf,
    /// Where recorded calls go (`--record`).
    record: Option<PathBuf>,
    drained: mpsc::UnboundedSender<()>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// Records calls under `parts`' plan.
fn record_under(switch: &mut Switch<Rc<SqliteStore>>, parts: &PlanParts) {
    let dialplan = parts.dialplan.display().to_string();
    switch.record_sessions(parts.plan.clone(), dialplan, parts.system.clone());
}

fn engine(store: &Rc<SqliteStore>, parts: &PlanParts) -> Engine<Rc<SqliteStore>> {
    Engine::new(
        parts.plan.clone(),
        parts.hooks.clone(),
        parts.settings.clone(),
        store.clone(),
    )
}

impl SwitchThread {
    fn run(
        mut self,
        database: PathBuf,
        settings: Settings,
        parts: PlanParts,
        inbox: std_mpsc::Receiver<ToSwitch>,
    ) {
        // The connection is opened here: it is not shareable across threads.
        let store = match SqliteStore::open(&database) {
            Ok(s) => Rc::new(s),
            Err(e) => {
                warn!(error = %e, "cannot open the database");
                return;
            }
        };
        let mut switch = Switch::new(
            settings,
            store.clone(),
            engine(&store, &parts),
            parts.prompts.clone(),
        );
        if let Some(dir) = &self.record {
            info!(folder = %dir.display(), "recording every call as a session file");
            record_under(&mut switch, &parts);
        }
        let health = self.health.clone();
        let _stopped = StoppedOnDrop(&health);
        health.serving(clock::now());
        let mut next_publish = clock::now();
        let mut draining = false;
        loop {
            let now = clock::now();
            // Wake for the next timer, and at least once a second.
            let wait = switch
                .next_deadline()
                .map_or(1000, |d| d.0.saturating_sub(now.0).clamp(0, 1000));
            match inbox.recv_timeout(std::time::Duration::from_millis(wait as u64)) {
                Ok(ToSwitch::Input(input)) => switch.handle(clock::now(), input),
                // The permit goes with the message handled, freeing room for the next.
                Ok(ToSwitch::Received(input, _permit)) => switch.handle(clock::now(), input),
                Ok(ToSwitch::TcpClosed { addr, id }) => self.links.finished(addr, id),
                Ok(ToSwitch::Reload(parts, settings)) => {
                    switch.reload(engine(&store, &parts), parts.prompts.clone(), settings);
                    if self.record.is_some() {
                        record_under(&mut switch, &parts);
                    }
                    info!(
                        "reloaded: new calls use the new plan; realm, digest, nonce lifetime, auth guard, trunks and drain apply"
                    );
                }
                Ok(ToSwitch::Drain) => {
                    info!(calls = switch.calls(), "draining: no new calls");
                    switch.drain();
                    health.draining();
                    draining = true;
                }
                Ok(ToSwitch::EndAll) => switch.end_all(clock::now()),
                Ok(ToSwitch::Stop) => break,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let now = clock::now();
            if switch.next_deadline().is_some_and(|d| d <= now) {
                switch.handle_timeout(now);
            }
            while let Some(output) = switch.poll() {
                self.dispatch(output);
            }
            if draining && switch.calls() == 0 {
                let _ = self.drained.send(());
                draining = false;
            }
            let now = clock::now();
            health.turned(now);
            if now >= next_publish {
                self.metrics.publish(&switch.tally(now));
                next_publish = now.after(PUBLISH_EVERY);
            }
        }
        // Flush what the last inputs produced (the BYEs of a drain).
        while let Some(output) = switch.poll() {
            self.dispatch(output);
        }
    }

    fn to_media(&self, call: CallId, command: ToMedia) {
        if let Some(m) = self.media.get(&call) {
            let _ = m.commands.send(command);
        }
    }

    fn dispatch(&mut self, output: Output) {
        match output {
            Output::Transmit(t) => match t.to.transport {
                Transport::Udp => {
                    if let Err(e) = self.udp.send_to(&t.bytes, t.to.addr) {
                        let now = clock::now();
                        if self
                            .budget
                            .lock()
                            .expect("log budget lock")
                            .admit(now, "udp-send")
                        {
                            warn!(peer = %t.to, error = %e, "cannot send");
                        }
                    }
                }
                Transport::Tcp => self.links.send(t.to.addr, t.bytes),
            },
            Output::OpenMedia {
                call,
                remote,
                format,
            } => {
                let input = match self.rtp.open() {
                    Some(socket) => {
                        let local = socket
                            .local_addr()
                            .unwrap_or_else(|_| SocketAddr::new(self.rtp.ip, 0));
                        let to_switch = self.to_switch.clone();
                        let leg = media::Leg {
                            call,
                            remote,
                            format,
                            data: self.data.clone(),
                            to_switch,
                            rtp: self.metrics.rtp(),
                        };
                        let handle = media::start(&self.runtime, leg, socket);
                        self.media.insert(call, handle);
                        Input::MediaOpened { call, local }
                    }
                    None => Input::MediaFailed { call },
                };
                let _ = self.to_switch.send(ToSwitch::Input(input));
            }
            Output::Play { call, audio, mark } => self.to_media(call, ToMedia::Play(audio, mark)),
            Output::StopPlayback { call } => self.to_media(call, ToMedia::Stop),
            Output::Record {
                call,
                file,
                longest,
            } => self.to_media(call, ToMedia::Record(file, longest)),
            Output::FinishRecording { call } => self.to_media(call, ToMedia::FinishRecording),
            Output::PlayFile { call, file, mark } => {
                self.to_media(call, ToMedia::PlayFile(file, mark));
            }
            Output::WriteSession { file, text } => {
                let Some(dir) = self.record.clone() else {
                    return;
                };
                self.runtime.spawn_blocking(move || {
                    let path = dir.join(&file);
                    match std::fs::write(&path, text) {
                        Ok(()) => info!(file = %path.display(), "call recorded"),
                        Err(e) => warn!(file = %path.display(), error = %e, "a recorded call was not written"),
                    }
                });
            }
            Output::DeleteFile { file } => {
                let path = self.data.join(&file);
                self.runtime.spawn_blocking(move || {
                    if let Err(e) = std::fs::remove_file(&path) {
                        warn!(file = %path.display(), error = %e, "a deleted message's audio stays");
                    }
                });
            }
            Output::SendKey { call, key } => self.to_media(call, ToMedia::Key(key)),
            Output::UpdateMedia {
                call,
                remote,
                format,
                sending,
            } => self.to_media(call, ToMedia::Update(remote, format, sending)),
            Output::Bridge { a, b } => {
                if let (Some(ma), Some(mb)) = (self.media.get(&a), self.media.get(&b)) {
                    let _ = ma.commands.send(ToMedia::Link(mb.relay.clone()));
                    let _ = mb.commands.send(ToMedia::Link(ma.relay.clone()));
                    self.bridged.insert(a, b);
                    self.bridged.insert(b, a);
                }
            }
            Output::CloseMedia { call } => {
                if let Some(m) = self.media.remove(&call) {
                    let _ = m.commands.send(ToMedia::Close);
                }
                if let Some(other) = self.bridged.remove(&call) {
                    self.bridged.remove(&other);
                    self.to_media(other, ToMedia::Unlink);
                }
            }
            Output::Verify {
                engine,
                request,
                entered,
                hash,
            } => {
                // On the blocking pool, as many at once as there are cores: argon2 never
                // runs on the switch's thread, and never starves the RTP tasks.
                let slots = self.verify_slots.clone();
                let to_switch = self.to_switch.clone();
                self.runtime.spawn(async move {
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return;
                    };
                    let verify =
                        move || SecretHasher::production().verify(&entered.0, hash.as_deref());
                    let matched = tokio::task::spawn_blocking(verify).await.unwrap_or(false);
                    let input = Input::Verified {
                        engine,
                        request,
                        matched,
                    };
                    let _ = to_switch.send(ToSwitch::Input(input));
                });
            }
        }
    }
}
