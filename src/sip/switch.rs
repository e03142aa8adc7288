//! The switch: SIP requests in, dialplan calls out. Sans-IO like the engine it drives:
//! `handle(now, input)`, then drain `poll()`; `next_deadline()` / `handle_timeout(now)`.
//!
//! A call to the PBX is a user-agent server dialog. The engine decides what happens;
//! the switch answers when the engine first plays something (so a rejection before any
//! prompt is a SIP failure response, not an answered call), plays prompts and tones on the
//! call's RTP stream, turns RFC 4733 events, in-band tones and SIP INFO into digits, and
//! sends BYE once the engine hangs up and the last prompt has played.

use super::auth::{Algorithm, Authority, Credentials, Judgement, secrets};
use super::log_budget::LogBudget;
use super::message::{self, Method, Request, parse, response_to};
use super::registrar::{MIN_EXPIRES, Refusal, Registrar};
use super::sdp::{self, Negotiated, Origin};
use super::source_guard::{GuardPolicy, SourceGuard};
use super::tally::Tally;
use super::transaction::{ClientKey, Delivery, Peer, ServerKey, Transactions, Transmit};
use super::trunk::Trunks;
use super::trunk::registration::Registration;
use crate::clock::{Duration, Timestamp};
use crate::dsl::Plan;
use crate::engine::Engine;
use crate::engine::event::{self as leg, LegId};
use crate::media::prompt_set::PromptSet;
use crate::media::stream::Format;
use crate::media::tone;
use crate::session::record::Recorder;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tracing::{info, warn};

mod from_trunk;
mod message_waiting;
mod outgoing;
mod registering;
mod through_trunk;
mod voicemail;

/// Identifies a call leg, ours or placed; the same number is the engine's leg id.
pub type CallId = LegId;

/// Methods this switch serves, for `Allow`.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, SUBSCRIBE";
/// Methods we know but do not serve: 405 rather than 501.
const KNOWN_UNSERVED: &[Method] = &[
    Method::Notify,
    Method::Refer,
    Method::Message,
    Method::Update,
    Method::Prack,
    Method::Publish,
];
/// How often lapsed registrations and guard entries are forgotten.
const SWEEP_EVERY: Duration = Duration(10_000);

/// Settings of the switch, from `pbx.yaml`'s `sip:` section.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address phones reach us at (Via, Contact, SDP).
    pub local: SocketAddr,
    /// The digest realm.
    pub realm: String,
    /// Brute-force protection per source address.
    pub guard: GuardPolicy,
    /// How long a nonce may be used.
    pub nonce_lifetime: Duration,
    /// Key for minting nonces (random per process).
    pub nonce_key: [u8; 32],
    /// Digest algorithms offered, most preferred first; answers in others are refused.
    pub algorithms: Vec<Algorithm>,
    /// SIP providers: registered with, called out through, taking calls from.
    pub trunks: Trunks,
}

/// Something that happened at the edge.
#[derive(Debug, Clone)]
pub enum Input {
    /// A datagram or framed stream message arrived.
    Received {
        /// From whom.
        from: Peer,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The RTP socket for a call is open at `local`.
    MediaOpened {
        /// The call.
        call: CallId,
        /// Our RTP address.
        local: SocketAddr,
    },
    /// No RTP port could be opened for a call.
    MediaFailed {
        /// The call.
        call: CallId,
    },
    /// Keys detected on a call's RTP stream.
    Keys {
        /// The call.
        call: CallId,
        /// The keys, in order.
        keys: Vec<char>,
    },
    /// The answer to an [`Output::Verify`].
    Verified {
        /// The engine (generation) that asked.
        engine: u64,
        /// Its request.
        request: leg::VerifyId,
        /// Whether the entry is the secret.
        matched: bool,
    },
    /// A message's audio was written (`file`, under the data directory), or not kept
    /// (`None`: shorter than the shortest message).
    Recorded {
        /// The call that left it.
        call: CallId,
        /// The file written.
        file: Option<String>,
        /// How long the message is.
        seconds: i64,
    },
    /// A call's queued audio has been sent, up to the `Play` with this mark.
    PlayoutDone {
        /// The call.
        call: CallId,
        /// The mark of the last `Play` played out.
        mark: u64,
    },
}

/// What the driver must do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Open an RTP socket for `call` towards `remote` (not known yet for a leg we place:
    /// then its first RTP, or an `UpdateMedia`, tells); answer with `MediaOpened` or
    /// `MediaFailed`. RTP goes wherever the peer's RTP comes from (symmetric RTP).
    OpenMedia {
        /// The call leg.
        call: CallId,
        /// Where the peer wants RTP.
        remote: Option<SocketAddr>,
        /// The negotiated format.
        format: Format,
    },
    /// A leg's peer answered or re-negotiated: RTP goes to `remote` in `format`, or
    /// nowhere while the peer holds the call without wanting audio.
    UpdateMedia {
        /// The call leg.
        call: CallId,
        /// Where the peer wants RTP.
        remote: SocketAddr,
        /// The format now.
        format: Format,
        /// Whether the peer wants our audio (not while it holds with `sendonly`).
        sending: bool,
    },
    /// Relay RTP between two legs, each way at once.
    Bridge {
        /// One leg.
        a: CallId,
        /// The other.
        b: CallId,
    },
    /// Queue audio on a call's stream (after what is playing).
    Play {
        /// The call.
        call: CallId,
        /// 8 kHz linear samples.
        audio: Arc<Vec<i16>>,
        /// Reported back in `PlayoutDone`, so a stale report is told from a fresh one.
        mark: u64,
    },
    /// Press a key towards a leg's peer (a key its bridged partner sent by SIP INFO):
    /// as a telephone-event if the peer takes them, else as a tone.
    SendKey {
        /// The leg.
        call: CallId,
        /// The key.
        key: char,
    },
    /// Record what the caller says once the queued audio has played, into `file` (under
    /// the data directory), for at most `longest`; answer with [`Input::Recorded`] when
    /// the recording ends (`FinishRecording`, the time, or `CloseMedia`).
    Record {
        /// The call.
        call: CallId,
        /// The WAV file to write.
        file: String,
        /// The longest message.
        longest: Duration,
    },
    /// End a recording now (the caller pressed `#`).
    FinishRecording {
        /// The call.
        call: CallId,
    },
    /// Queue a WAV file (under the data directory) on a call's stream, like `Play`.
    PlayFile {
        /// The call.
        call: CallId,
        /// The file.
        file: String,
        /// Reported back in `PlayoutDone`.
        mark: u64,
    },
    /// Write a recorded call (`--record`): `file` in the recording folder.
    WriteSession {
        /// The file name.
        file: String,
        /// The session's YAML.
        text: String,
    },
    /// Delete a file under the data directory (a deleted message's audio).
    DeleteFile {
        /// The file.
        file: String,
    },
    /// Drop a call's queued audio (barge-in).
    StopPlayback {
        /// The call.
        call: CallId,
    },
    /// Close a call's RTP socket.
    CloseMedia {
        /// The call.
        call: CallId,
    },
    /// Verify a secret entry off the switch's thread (it is slow by design) and answer
    /// with [`Input::Verified`].
    Verify {
        /// The engine (generation) that asks.
        engine: u64,
        /// Its request.
        request: leg::VerifyId,
        /// What the caller entered.
        entered: leg::Entered,
        /// The stored hash.
        hash: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not answered yet.
    Early,
    /// Waiting for the RTP socket before sending 200.
    Answering,
    /// Answered.
    Up,
}

struct Call {
    engine: u64,
    /// Who called (the extension, or the outside number).
    caller: String,
    invite_key: ServerKey,
    invite: Request,
    peer: Peer,
    local_tag: String,
    negotiated: Negotiated,
    phase: Phase,
    /// Our RTP address, once open (kept for re-INVITEs).
    media: Option<SocketAddr>,
    /// The version of our SDP (`o=`), raised when a re-INVITE changes our answer.
    sdp_version: u64,
    /// Audio waiting for the RTP socket.
    pending: Vec<Arc<Vec<i16>>>,
    /// The engine ended the leg: BYE once playout is done.
    hangup: bool,
    /// The mark of the last `Play` not yet played out, if any.
    playing: Option<u64>,
    local_cseq: u32,
}

/// The switch; `S` is the store shared by all engines (old ones finish their calls
/// after a reload).
pub struct Switch<S: Store + Clone> {
    settings: Settings,
    transactions: Transactions,
    registrar: Registrar,
    guard: SourceGuard,
    authority: Authority,
    /// Rations the lines a sender of bad packets can cause.
    log_budget: LogBudget,
    store: S,
    prompts: Arc<PromptSet>,
    /// Engines by generation; the last one takes new calls.
    engines: Vec<(u64, Engine<S>)>,
    calls: HashMap<CallId, Call>,
    /// SIP Call-ID to call, for in-dialog requests.
    dialogs: HashMap<String, CallId>,
    /// Legs the PBX places, by the engine's leg id.
    outgoing: HashMap<LegId, outgoing::Outgoing>,
    /// Their Call-IDs, for requests in their dialogs.
    out_dialogs: HashMap<String, LegId>,
    /// Their INVITEs' client transactions.
    fork_keys: HashMap<ClientKey, LegId>,
    /// INVITEs cancelled with their leg gone, until their transactions end: a 2xx that
    /// crosses the CANCEL is still acknowledged and hung up (RFC 3261 section 15).
    abandoned: HashMap<ClientKey, outgoing::Abandoned>,
    /// Messages being left, by the leg leaving them (kept until the audio is written).
    deposits: HashMap<CallId, voicemail::Deposit>,
    /// Phones subscribed to their mailbox's message-waiting state.
    subscriptions: Vec<message_waiting::Subscription>,
    /// Bridges waiting for both legs' RTP to be open.
    bridges: Vec<(CallId, CallId)>,
    /// Each bridged leg's partner, both ways.
    partners: HashMap<CallId, CallId>,
    /// Writes calls as session files, when `--record` asks.
    recorder: Option<Recorder>,
    /// Registrations with trunks, by trunk name.
    registrations: BTreeMap<String, Registration>,
    /// Their REGISTERs' client transactions, to the trunk's name.
    register_keys: HashMap<ClientKey, String>,
    /// Makes tags and branches unique to this process (from the driver's randomness).
    instance: u64,
    /// Counts the tokens (client nonces, registration tags) made from `instance`.
    next_token: u64,
    next_branch: u64,
    next_call: CallId,
    next_mark: u64,
    draining: bool,
    next_sweep: Option<Timestamp>,
    out: VecDeque<Output>,
    /// What operators are shown.
    tally: Tally,
}

impl<S: Store + Clone> Switch<S> {
    /// A switch serving `engine`'s plan.
    pub fn new(settings: Settings, store: S, engine: Engine<S>, prompts: Arc<PromptSet>) -> Self {
        let instance = u64::from_be_bytes(settings.nonce_key[..8].try_into().expect("8 bytes"));
        let mut switch = Switch {
            guard: SourceGuard::new(settings.guard),
            authority: Authority::new(
                settings.realm.clone(),
                settings.algorithms.clone(),
                settings.nonce_key,
                settings.nonce_lifetime,
            ),
            log_budget: LogBudget::default(),
            settings,
            transactions: Transactions::new(),
            registrar: Registrar::new(),
            store,
            prompts,
            engines: vec![(0, engine)],
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            outgoing: HashMap::new(),
            out_dialogs: HashMap::new(),
            fork_keys: HashMap::new(),
            abandoned: HashMap::new(),
            deposits: HashMap::new(),
            subscriptions: Vec::new(),
            bridges: Vec::new(),
            partners: HashMap::new(),
            recorder: None,
            registrations: BTreeMap::new(),
            register_keys: HashMap::new(),
            instance,
            next_token: 0,
            next_branch: 1,
            next_call: 1,
            next_mark: 1,
            draining: false,
            next_sweep: None,
            out: VecDeque::new(),
            tally: Tally::default(),
        };
        switch.renew_registrations(&Trunks::default());
        switch
    }

    /// New calls use `engine` (a reloaded plan); calls up now finish on the old one.
    /// The realm, digest algorithms, nonce lifetime, guard policy and trunks of
    /// `settings` apply from now on; the address and the nonce key stay.
    pub fn reload(&mut self, engine: Engine<S>, prompts: Arc<PromptSet>, settings: Settings) {
        let generation = self.engines.last().map_or(0, |(g, _)| g + 1);
        self.engines.push((generation, engine));
        self.prompts = prompts;
        self.authority.reconfigure(
            settings.realm.clone(),
            settings.algorithms.clone(),
            settings.nonce_lifetime,
        );
        self.guard.set_policy(settings.guard);
        let old_trunks = std::mem::take(&mut self.settings.trunks);
        self.settings = Settings {
            local: self.settings.local,
            nonce_key: self.settings.nonce_key,
            ..settings
        };
        self.renew_registrations(&old_trunks);
        self.retire_engines();
    }

    /// Stops taking calls: new INVITEs get 503 from now on, and trunk registrations
    /// are taken away.
    pub fn drain(&mut self) {
        self.draining = true;
        self.unregister_all();
    }

    /// Number of call legs up, ours and placed.
    pub fn calls(&self) -> usize {
        self.calls.len() + self.outgoing.len()
    }

    /// What has been counted, and what is up at `now`; takes time in the number of
    /// registrations and guarded sources, so the driver asks now and then.
    pub fn tally(&self, now: Timestamp) -> Tally {
        Tally {
            calls_up: self.calls.len() as u64,
            legs_up: self.calls() as u64,
            registrations: self.registrar.count(now),
            blocked_sources: self.guard.blocked_count(now),
            ..self.tally.clone()
        }
    }

    /// Ends every call (the drain timeout ran out).
    pub fn end_all(&mut self, now: Timestamp) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let engine = self.calls.get(&id).map(|c| c.engine);
            self.end_call(now, id, 503);
            if let Some(engine) = engine {
                self.engine_input(now, engine, leg::Input::Hangup { leg: id });
            }
        }
    }

    /// The next output.
    pub fn poll(&mut self) -> Option<Output> {
        if let Some(t) = self.transactions.poll_transmit() {
            return Some(Output::Transmit(t));
        }
        self.out.pop_front()
    }

    /// The earliest timer of the transactions, the engines, the trunk registrations
    /// and the sweep.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let engines = self.engines.iter().filter_map(|(_, e)| e.next_deadline());
        engines
            .chain(self.transactions.next_deadline())
            .chain(self.registrations_due())
            .chain(self.next_sweep)
            .min()
    }

    /// Fires timers due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.transactions.handle_timeout(now);
        self.deliver(now);
        self.send_due_registers(now);
        for i in 0..self.engines.len() {
            self.engines[i].1.handle_timeout(now);
            self.drain_engine(now, i);
        }
        if self.next_sweep.is_some_and(|t| t <= now) {
            self.registrar.sweep(now);
            self.guard.sweep(now);
            self.log_budget.report(now);
            self.abandoned.retain(|_, a| a.until > now);
            self.sweep_subscriptions(now);
            self.next_sweep = Some(now.after(SWEEP_EVERY));
        }
        self.retire_engines();
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now.after(SWEEP_EVERY));
        }
        match input {
            Input::Received { from, bytes } => self.received(now, from, &bytes),
            Input::MediaOpened { call, local } => self.media_opened(now, call, local),
            Input::MediaFailed { call } if self.outgoing.contains_key(&call) => {
                warn!(call, "no RTP port free; the leg is not placed");
                self.progress(now, call, leg::Progress::Failed);
                self.forget_outgoing(now, call);
            }
            Input::MediaFailed { call } => {
                warn!(call, "no RTP port free; ending the call");
                self.end_call(now, call, 503);
            }
            Input::Keys { call, keys } => {
                for key in keys {
                    if self.outgoing.contains_key(&call) {
                        // The callee's keys: its in-call codes.
                        self.placed_input(
                            now,
                            call,
                            leg::Input::Digit {
                                leg: call,
                                digit: key,
                            },
                        );
                    } else {
                        self.key(now, call, key);
                    }
                }
            }
            Input::Verified {
                engine,
                request,
                matched,
            } => {
                if let Some(index) = self.engine_index(engine) {
                    self.feed(now, index, leg::Input::Verified { request, matched });
                    self.drain_engine(now, index);
                }
            }
            Input::Recorded {
                call,
                file,
                seconds,
            } => self.recorded(now, call, file, seconds),
            Input::PlayoutDone { call, mark } => {
                if let Some(c) = self.calls.get_mut(&call)
                    && c.playing == Some(mark)
                {
                    c.playing = None;
                    if c.hangup {
                        self.end_call(now, call, 480);
                    }
                }
            }
        }
        self.retire_engines();
    }

    fn received(&mut self, now: Timestamp, from: Peer, bytes: &[u8]) {
        match parse(bytes) {
            Ok(message) => {
                self.transactions.receive(now, from, message);
                self.deliver(now);
            }
            Err(e) => {
                // Answer a broken request when we can say where to; drop anything else.
                if let Some(r) = message::error_response(&e, None) {
                    self.out.push_back(Output::Transmit(Transmit {
                        to: from,
                        bytes: r.to_bytes(),
                    }));
                }
                if self.log_budget.admit(now, "malformed") {
                    info!(peer = %from, reason = %e.reason, "dropped a malformed SIP message");
                }
            }
        }
    }

    fn deliver(&mut self, now: Timestamp) {
        while let Some(d) = self.transactions.poll_delivery() {
            match d {
                Delivery::Request { key, from, request } => self.request(now, key, from, request),
                Delivery::Response { key, response } => {
                    if !self.register_response(now, &key, &response) {
                        self.fork_response(now, key, response);
                    }
                }
                Delivery::Timeout { key } => {
                    if !self.register_timeout(now, &key) {
                        self.fork_timeout(now, key);
                    }
                }
                Delivery::Ack { .. } | Delivery::AckTimeout { .. } => {}
            }
        }
    }

    fn respond(&mut self, now: Timestamp, key: &ServerKey, request: &Request, status: u16) {
        self.respond_with(now, key, request, status, Vec::new());
    }

    /// Answers out of dialog with the standard reason phrase and `headers` added (a name
    /// may repeat: one challenge or contact per header).
    fn respond_with(
        &mut self,
        now: Timestamp,
        key: &ServerKey,
        request: &Request,
        status: u16,
        headers: Vec<(&str, String)>,
    ) {
        let mut r = response_to(
            request,
            status,
            message::reason_phrase(status),
            Some(&tag_for(request)),
        );
        for (name, value) in headers {
            r.headers.push(name, value);
        }
        self.transactions.respond(now, key, r);
    }

    /// `488` for an SDP offer we cannot take, saying why.
    fn refuse_offer(
        &mut self,
        now: Timestamp,
        key: &ServerKey,
        request: &Request,
        e: &sdp::NotAcceptable,
    ) {
        self.respond_with(now, key, request, 488, vec![("Warning", e.warning())]);
    }

    fn request(&mut self, now: Timestamp, key: ServerKey, from: Peer, request: Request) {
        // Section 8.2 checks, in the RFC's order, before any method is looked at.
        if !matches!(request.uri.scheme.as_str(), "sip" | "sips" | "tel") {
            return self.respond(now, &key, &request, 416);
        }
        if request.max_forwards() == Some(0) {
            return self.respond(now, &key, &request, 483);
        }
        let required: Vec<String> = request
            .headers
            .all("Require")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if !required.is_empty() && request.method != Method::Cancel {
            let unsupported = vec![("Unsupported", required.join(", "))];
            return self.respond_with(now, &key, &request, 420, unsupported);
        }
        // Requests from a callee, in a dialog of a leg we placed.
        if let Some(id) = self.outgoing_dialog(&request) {
            return match request.method {
                Method::Bye => {
                    self.respond(now, &key, &request, 200);
                    self.outgoing_bye(now, id);
                }
                Method::Invite => self.outgoing_reinvite(now, &key, &request, id),
                Method::Info => match dtmf_of(&request) {
                    Some(k) => {
                        self.respond(now, &key, &request, 200);
                        self.info_key(now, id, k);
                    }
                    None => self.respond(now, &key, &request, 415),
                },
                Method::Ack => {}
                _ => self.respond(now, &key, &request, 405),
            };
        }
        match request.method.clone() {
            Method::Options => {
                let headers = vec![
                    ("Allow", ALLOW.into()),
                    ("Accept", "application/sdp".into()),
                ];
                self.respond_with(now, &key, &request, 200, headers);
            }
            Method::Register => self.register(now, key, from, request),
            Method::Invite => self.invite(now, key, from, request),
            Method::Bye => self.bye(now, key, request),
            Method::Cancel => self.cancel(now, key, request),
            Method::Info => self.info(now, key, request),
            Method::Subscribe => self.subscribe(now, key, from, request),
            Method::Ack => {}
            m => {
                let status = if KNOWN_UNSERVED.contains(&m) {
                    405
                } else {
                    501
                };
                self.respond_with(now, &key, &request, status, vec![("Allow", ALLOW.into())]);
            }
        }
    }

    /// Checks a request's digest credentials: `Ok(extension)`, or the response was sent.
    fn authenticate(
        &mut self,
        now: Timestamp,
        key: &ServerKey,
        from: Peer,
        request: &Request,
    ) -> Option<String> {
        let ip = from.addr.ip();
        if self.guard.blocked(ip, now).is_some() {
            self.respond(now, key, request, 403);
            return None;
        }
        let header = request.headers.get("Authorization");
        let Some(creds) = header.and_then(Credentials::parse) else {
            if header.is_some() {
                self.auth_failure(now, ip, None);
            }
            self.challenge(now, key, request, false);
            return None;
        };
        let stored = match secrets::lookup(&self.store, &creds.username) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "the store failed during authentication");
                self.respond(now, key, request, 500);
                return None;
            }
        };
        let method = request.method.as_str();
        match self
            .authority
            .judge(now, &creds, method, &request.uri, stored.as_ref())
        {
            Judgement::Accepted => {
                self.guard.success(ip);
                return Some(creds.username);
            }
            Judgement::NotOurs => self.challenge(now, key, request, false),
            Judgement::Stale => self.challenge(now, key, request, true),
            Judgement::Replayed => {
                if self.log_budget.admit(now, "digest-replay") {
                    info!(source = %ip, user = %creds.username, "a digest answer was sent again; challenged afresh");
                }
                self.challenge(now, key, request, true);
            }
            Judgement::WrongUri => {
                self.auth_failure(now, ip, Some(&creds.username));
                let r = response_to(
                    request,
                    400,
                    "Authorization uri is not the Request-URI",
                    Some(&tag_for(request)),
                );
                self.transactions.respond(now, key, r);
            }
            Judgement::Wrong => {
                self.auth_failure(now, ip, Some(&creds.username));
                if self.guard.blocked(ip, now).is_some() {
                    self.respond(now, key, request, 403);
                } else {
                    self.challenge(now, key, request, false);
                }
            }
        }
        None
    }

    fn auth_failure(&mut self, now: Timestamp, ip: IpAddr, user: Option<&str>) {
        self.tally.auth_failures += 1;
        if self.log_budget.admit(now, "auth-failure") {
            info!(source = %ip, user = user.unwrap_or("-"), "failed SIP authentication");
        }
        if let Some(until) = self.guard.failure(ip, now) {
            self.tally.source_blocks += 1;
            warn!(
                source = %ip,
                until = %until,
                "too many failed SIP authentications; refusing this source"
            );
        }
    }

    fn challenge(&mut self, now: Timestamp, key: &ServerKey, request: &Request, stale: bool) {
        let challenges = self
            .authority
            .challenge(now, stale)
            .into_iter()
            .map(|c| ("WWW-Authenticate", c))
            .collect();
        self.respond_with(now, key, request, 401, challenges);
    }

    fn register(&mut self, now: Timestamp, key: ServerKey, from: Peer, request: Request) {
        let Some(user) = self.authenticate(now, &key, from, &request) else {
            return;
        };
        let aor = request
            .to()
            .and_then(|t| t.uri.user.clone())
            .unwrap_or_default();
        if aor != user {
            // A phone may register only itself.
            return self.respond(now, &key, &request, 403);
        }
        match self.registrar.register(now, &aor, &request, from) {
            Ok(bindings) => {
                self.tally.registers_accepted += 1;
                info!(extension = %aor, contacts = bindings.len(), "registered");
                let registered = !bindings.is_empty();
                let contacts = bindings
                    .iter()
                    .map(|b| {
                        let left = b.expires_at.since(now).as_seconds();
                        ("Contact", format!("<{}>;expires={left}", b.contact))
                    })
                    .collect();
                self.respond_with(now, &key, &request, 200, contacts);
                if registered {
                    self.notify_if_waiting(now, &aor);
                }
            }
            Err(Refusal::TooBrief) => {
                let min = vec![("Min-Expires", MIN_EXPIRES.to_string())];
                self.respond_with(now, &key, &request, 423, min);
            }
            Err(Refusal::Bad(why)) => {
                let r = response_to(&request, 400, why, Some(&tag_for(&request)));
                self.transactions.respond(now, &key, r);
            }
        }
    }

    fn invite(&mut self, now: Timestamp, key: ServerKey, from: Peer, request: Request) {
        if request.to().is_some_and(|t| t.tag().is_some()) {
            return self.reinvite(now, key, request);
        }
        if let Some(ct) = request.content_type()
            && ct != "application/sdp"
        {
            let accept = vec![("Accept", "application/sdp".into())];
            return self.respond_with(now, &key, &request, 415, accept);
        }
        if self.draining {
            let retry = vec![("Retry-After", "30".into())];
            return self.respond_with(now, &key, &request, 503, retry);
        }
        // A trunk's requests come from its address and are not challenged: the
        // provider has authenticated its caller, or the caller is the world.
        let trunk = self.settings.trunks.at(from.addr).cloned();
        let caller = match &trunk {
            Some(_) => None,
            None => match self.authenticate(now, &key, from, &request) {
                Some(extension) => Some(extension),
                None => return,
            },
        };
        let negotiated = match sdp::negotiate(&request.body) {
            Ok(n) => n,
            Err(e) => return self.refuse_offer(now, &key, &request, &e),
        };
        let id = self.next_call;
        let call_id = request.call_id().unwrap_or_default().to_owned();
        let (caller, input) = match (&trunk, caller) {
            (Some(trunk), _) => match from_trunk::inbound(trunk, &request, id) {
                Some(call) => call,
                None => return self.respond(now, &key, &request, 404),
            },
            (None, Some(caller)) => {
                let Some(dialed) = request.uri.user.clone().filter(|u| !u.is_empty()) else {
                    return self.respond(now, &key, &request, 404);
                };
                info!(call = id, %call_id, %caller, to = %redact_dialed(&dialed), "call");
                let input = leg::Input::Call {
                    leg: id,
                    from: caller.clone(),
                    to: dialed,
                };
                (caller, input)
            }
            (None, None) => return,
        };
        self.next_call += 1;
        let generation = self.engines.last().map_or(0, |(g, _)| *g);
        self.dialogs.insert(call_id, id);
        self.calls.insert(
            id,
            Call {
                engine: generation,
                caller,
                invite_key: key,
                local_tag: tag_for(&request),
                invite: request,
                peer: from,
                negotiated,
                phase: Phase::Early,
                media: None,
                sdp_version: 1,
                pending: Vec::new(),
                hangup: false,
                playing: None,
                local_cseq: 1,
            },
        );
        let index = self.engines.len() - 1;
        self.feed(now, index, input);
        self.drain_engine(now, index);
    }

    /// A re-INVITE from the caller: hold, resume, a new address, or a session refresh.
    fn reinvite(&mut self, now: Timestamp, key: ServerKey, request: Request) {
        let id = request.call_id().and_then(|c| self.dialogs.get(c).copied());
        let Some((id, call)) = id.and_then(|id| Some((id, self.calls.get_mut(&id)?))) else {
            return self.respond(now, &key, &request, 481);
        };
        let Some(local) = call.media else {
            return self.respond(now, &key, &request, 491);
        };
        let offered = match sdp::renegotiate(&request.body, call.negotiated) {
            Ok(n) => n,
            Err(e) => return self.refuse_offer(now, &key, &request, &e),
        };
        let n = renegotiated(&mut call.negotiated, &mut call.sdp_version, offered);
        let mut r = response_to(&request, 200, "OK", Some(&call.local_tag));
        r.headers
            .push("Contact", format!("<sip:pbx@{}>", self.settings.local));
        r.headers.push("Content-Type", "application/sdp");
        r.body = sdp::answer(call.origin(local), n.format, n.direction);
        self.transactions.respond(now, &key, r);
        self.out.push_back(Output::UpdateMedia {
            call: id,
            remote: n.remote,
            format: n.format,
            sending: n.direction.receives(),
        });
    }

    fn in_dialog(&self, request: &Request) -> Option<CallId> {
        let id = *self.dialogs.get(request.call_id()?)?;
        let call = self.calls.get(&id)?;
        let tag = request.to().and_then(|t| t.tag().map(str::to_owned));
        (tag.as_deref() == Some(call.local_tag.as_str())).then_some(id)
    }

    fn bye(&mut self, now: Timestamp, key: ServerKey, request: Request) {
        let Some(id) = self.in_dialog(&request) else {
            return self.respond(now, &key, &request, 481);
        };
        self.respond(now, &key, &request, 200);
        info!(call = id, "caller hung up");
        let engine = self.calls.get(&id).map(|c| c.engine);
        self.forget(id);
        if let Some(engine) = engine {
            self.engine_input(now, engine, leg::Input::Hangup { leg: id });
        }
    }

    fn cancel(&mut self, now: Timestamp, key: ServerKey, request: Request) {
        let Some(invite_key) = self.transactions.invite_for_cancel(&request) else {
            return self.respond(now, &key, &request, 481);
        };
        self.respond(now, &key, &request, 200);
        let id = self
            .calls
            .iter()
            .find(|(_, c)| c.invite_key == invite_key && c.phase != Phase::Up)
            .map(|(id, _)| *id);
        if let Some(id) = id {
            info!(call = id, "caller cancelled");
            let engine = self.calls.get(&id).map(|c| c.engine);
            self.end_call(now, id, 487);
            if let Some(engine) = engine {
                self.engine_input(now, engine, leg::Input::Hangup { leg: id });
            }
        }
    }

    fn info(&mut self, now: Timestamp, key: ServerKey, request: Request) {
        let Some(id) = self.in_dialog(&request) else {
            return self.respond(now, &key, &request, 481);
        };
        let Some(k) = dtmf_of(&request) else {
            return self.respond(now, &key, &request, 415);
        };
        self.respond(now, &key, &request, 200);
        self.info_key(now, id, k);
    }

    fn key(&mut self, now: Timestamp, id: CallId, key: char) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.hangup {
            return;
        }
        if self.deposit_key(id, key) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.playing.take().is_some() {
            self.out.push_back(Output::StopPlayback { call: id });
        }
        let generation = call.engine;
        if let Some(index) = self.engine_index(generation) {
            let digit = leg::Input::Digit {
                leg: id,
                digit: key,
            };
            self.feed(now, index, digit);
            self.drain_engine(now, index);
        }
    }

    fn engine_index(&self, generation: u64) -> Option<usize> {
        self.engines.iter().position(|(g, _)| *g == generation)
    }

    /// Feeds an input to the engine of generation `engine` and does what it says.
    fn engine_input(&mut self, now: Timestamp, engine: u64, input: leg::Input) {
        if let Some(index) = self.engine_index(engine) {
            self.feed(now, index, input);
            self.drain_engine(now, index);
        }
    }

    /// Gives engine `index` an input; a session recorder sees it first.
    fn feed(&mut self, now: Timestamp, index: usize, input: leg::Input) {
        if let Some(r) = self.recorder.as_mut() {
            r.input(now, &input, &self.store);
        }
        self.engines[index].1.handle(now, input);
    }

    /// Calls over since the last look, written as session files.
    fn finish_recordings(&mut self) {
        let Some(r) = self.recorder.as_mut() else {
            return;
        };
        let engines = &self.engines;
        for w in r.finished(|l| engines.iter().any(|(_, e)| e.has_leg(l))) {
            self.out.push_back(Output::WriteSession {
                file: w.file,
                text: w.text,
            });
        }
    }

    /// Records every call from now on as a session file (`pbxctl run --record`), under
    /// `plan` (the file `dialplan`) with the config's `system`; after a reload, new
    /// calls are recorded under the new plan and calls under way go on being recorded.
    pub fn record_sessions(
        &mut self,
        plan: Arc<Plan>,
        dialplan: String,
        system: serde_json::Value,
    ) {
        match self.recorder.as_mut() {
            Some(r) => r.set_plan(plan, dialplan, system),
            None => self.recorder = Some(Recorder::new(plan, dialplan, system)),
        }
    }

    /// An input about a leg we placed, to its engine.
    fn placed_input(&mut self, now: Timestamp, id: LegId, input: leg::Input) {
        if let Some(engine) = self.outgoing.get(&id).map(|o| o.engine) {
            self.engine_input(now, engine, input);
        }
    }

    /// How a placed leg is getting on, to its engine.
    fn progress(&mut self, now: Timestamp, id: LegId, progress: leg::Progress) {
        self.placed_input(now, id, leg::Input::Progress { leg: id, progress });
    }

    /// A placed leg hung up, to its engine.
    fn placed_hangup(&mut self, now: Timestamp, id: LegId) {
        self.placed_input(now, id, leg::Input::Hangup { leg: id });
    }

    /// A tag of ours for leg `id`, unique to this process.
    fn tag(&self, id: LegId) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.instance, id).hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// A token unique to this process and `what` (a tag), or to this call of it.
    fn token(&mut self, what: &str) -> String {
        use std::hash::{Hash, Hasher};
        self.next_token += 1;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.instance, self.next_token, what).hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// A fresh client nonce for a digest answer of ours.
    fn cnonce(&mut self) -> String {
        self.token("cnonce")
    }

    /// A fresh `z9hG4bK` branch for a request of ours.
    fn next_branch(&mut self) -> String {
        self.next_branch += 1;
        format!("z9hG4bK{:x}-{:x}", self.instance, self.next_branch)
    }

    fn drain_engine(&mut self, now: Timestamp, index: usize) {
        while let Some(output) = self.engines[index].1.poll() {
            if let Some(r) = self.recorder.as_mut() {
                r.output(now, &output, &self.store);
            }
            match output {
                leg::Output::Event { leg, event } => self.event(now, leg, event),
                leg::Output::Place {
                    leg,
                    call,
                    from,
                    target,
                } => self.place(now, index, (leg, call), from, target),
                leg::Output::Bridge { a, b } => {
                    self.bridges.push((a, b));
                    self.start_bridges();
                }
                leg::Output::End { leg } => self.end_outgoing(now, leg),
                leg::Output::Verify {
                    request,
                    entered,
                    hash,
                    ..
                } => {
                    let engine = self.engines[index].0;
                    self.out.push_back(Output::Verify {
                        engine,
                        request,
                        entered,
                        hash,
                    });
                }
                leg::Output::MailboxChanged { mailbox } => self.notify_mailbox(now, &mailbox),
                leg::Output::MessageDeleted { mailbox, file } => {
                    self.discard(file);
                    self.notify_mailbox(now, &mailbox);
                }
                leg::Output::Warning { leg, message } => {
                    warn!(call = leg, "{message}");
                }
                leg::Output::CallEnded { status, .. } => self.tally.call_ended(status),
                leg::Output::LockedOut { secret, .. } => self.tally.locked_out(secret),
            }
        }
        self.finish_recordings();
    }

    fn event(&mut self, now: Timestamp, id: CallId, event: leg::Event) {
        use leg::Event as E;
        if self.outgoing.contains_key(&id) {
            // A placed leg hears prompts (its own in-call codes); its end is `End`.
            if let E::Prompt { id: prompt, arg } = &event
                && let Some(audio) = self.prompts.render(prompt, arg.as_deref())
            {
                self.send_play(id, Arc::new(audio));
            }
            return;
        }
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let phase = call.phase;
        match event {
            E::Prompt { id: prompt, arg } => match self.prompts.render(&prompt, arg.as_deref()) {
                Some(audio) => self.play(id, audio),
                None => warn!(call = id, %prompt, "no audio for this prompt in the prompt set"),
            },
            E::Tone(t) => {
                if let Some(audio) = tone::samples(&t) {
                    self.play(id, audio);
                }
            }
            E::Ringing(_) if phase == Phase::Early => {
                let r = response_to(&call.invite, 180, "Ringing", Some(&call.local_tag.clone()));
                let key = call.invite_key.clone();
                self.transactions.respond(now, &key, r);
            }
            E::Ringing(_) => {
                if let Some(audio) = tone::samples("ringback") {
                    self.play(id, audio);
                }
            }
            E::Connect(target) => {
                info!(call = id, %target, "connected");
                self.answer(id);
            }
            E::Voicemail(mailbox) => self.start_deposit(now, id, mailbox),
            E::Message { id: message, file } => self.play_message(id, message, file),
            E::Reject(reason) => {
                info!(call = id, %reason, "rejected");
                self.hang_up_after_playout(now, id, reason.sip_status());
            }
            E::Hangup => self.hang_up_after_playout(now, id, 480),
        }
    }

    fn play(&mut self, id: CallId, audio: Vec<i16>) {
        let audio = Arc::new(audio);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match call.phase {
            Phase::Early => {
                call.pending.push(audio);
                self.answer(id);
            }
            Phase::Answering => call.pending.push(audio),
            Phase::Up => self.send_play(id, audio),
        }
    }

    /// Answers a caller's leg (a prompt to play, or a bridge): its RTP first, then 200.
    fn answer(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase == Phase::Early {
            call.phase = Phase::Answering;
            let (remote, format) = (call.negotiated.remote, call.negotiated.format);
            self.out.push_back(Output::OpenMedia {
                call: id,
                remote: Some(remote),
                format,
            });
        }
    }

    /// Bridges whose two legs both have their RTP open go to the driver.
    fn start_bridges(&mut self) {
        let open = |id: &CallId| {
            self.calls.get(id).is_some_and(|c| c.media.is_some())
                || self.outgoing.get(id).is_some_and(|o| o.media.is_some())
        };
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.bridges.iter().partition(|(a, b)| open(a) && open(b));
        self.bridges = waiting;
        for (a, b) in ready {
            self.partners.insert(a, b);
            self.partners.insert(b, a);
            self.out.push_back(Output::Bridge { a, b });
        }
    }

    /// Queues audio on an answered call's stream, marked so its playout report is known.
    fn send_play(&mut self, id: CallId, audio: Arc<Vec<i16>>) {
        let mark = self.next_mark;
        self.next_mark += 1;
        if let Some(c) = self.calls.get_mut(&id) {
            c.playing = Some(mark);
        }
        self.out.push_back(Output::Play {
            call: id,
            audio,
            mark,
        });
    }

    fn media_opened(&mut self, now: Timestamp, id: CallId, local: SocketAddr) {
        if self.outgoing.contains_key(&id) {
            self.invite_contacts(now, id, local);
            self.start_bridges();
            return;
        }
        let contact = format!("<sip:pbx@{}>", self.settings.local);
        let Some(call) = self.calls.get_mut(&id) else {
            self.out.push_back(Output::CloseMedia { call: id });
            return;
        };
        call.media = Some(local);
        call.phase = Phase::Up;
        let mut r = response_to(&call.invite, 200, "OK", Some(&call.local_tag));
        r.headers.push("Contact", contact);
        r.headers.push("Allow", ALLOW);
        r.headers.push("Content-Type", "application/sdp");
        r.body = sdp::answer(
            call.origin(local),
            call.negotiated.format,
            call.negotiated.direction,
        );
        let key = call.invite_key.clone();
        let pending = std::mem::take(&mut call.pending);
        self.transactions.respond(now, &key, r);
        for audio in pending {
            self.send_play(id, audio);
        }
        self.record(id);
        let done = self
            .calls
            .get(&id)
            .is_some_and(|c| c.hangup && c.playing.is_none());
        if done {
            self.end_call(now, id, 480);
        }
        self.start_bridges();
    }

    fn hang_up_after_playout(&mut self, now: Timestamp, id: CallId, status: u16) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.hangup = true;
        match call.phase {
            Phase::Early => self.end_call(now, id, status),
            Phase::Answering => {}
            Phase::Up if call.playing.is_none() => self.end_call(now, id, status),
            Phase::Up => {}
        }
    }

    /// Ends a call from our side: a final response if unanswered, BYE if answered.
    fn end_call(&mut self, now: Timestamp, id: CallId, status: u16) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        match call.phase {
            Phase::Early | Phase::Answering => {
                let r = response_to(
                    &call.invite,
                    status,
                    message::reason_phrase(status),
                    Some(&call.local_tag),
                );
                let key = call.invite_key.clone();
                self.transactions.respond(now, &key, r);
            }
            Phase::Up => {
                let peer = call.peer;
                if let Some(bye) = self.bye_for(id) {
                    self.transactions.request(now, peer, bye);
                }
            }
        }
        info!(call = id, "call ended");
        self.forget(id);
    }

    /// A leg is gone: its bridge with it.
    fn unbridge(&mut self, id: CallId) {
        if let Some(other) = self.partners.remove(&id) {
            self.partners.remove(&other);
        }
        self.bridges.retain(|(a, b)| *a != id && *b != id);
    }

    /// A key a leg sent by SIP INFO: to its engine, and pressed towards its partner.
    fn info_key(&mut self, now: Timestamp, id: CallId, key: char) {
        if let Some(&other) = self.partners.get(&id) {
            self.out.push_back(Output::SendKey { call: other, key });
        }
        if self.outgoing.contains_key(&id) {
            self.placed_input(
                now,
                id,
                leg::Input::Digit {
                    leg: id,
                    digit: key,
                },
            );
        } else {
            self.key(now, id, key);
        }
    }

    fn forget(&mut self, id: CallId) {
        self.unbridge(id);
        if let Some(call) = self.calls.remove(&id) {
            if let Some(cid) = call.invite.call_id() {
                self.dialogs.remove(cid);
            }
            if call.media.is_some() || call.phase == Phase::Answering {
                self.out.push_back(Output::CloseMedia { call: id });
            }
        }
    }

    /// A BYE inside the dialog (RFC 3261 section 12.2.1.1): to the caller's Contact, From
    /// and To swapped, our next CSeq.
    fn bye_for(&mut self, id: CallId) -> Option<Request> {
        let local = self.settings.local;
        let call = self.calls.get_mut(&id)?;
        call.local_cseq += 1;
        let invite = &call.invite;
        let target = invite.contacts().into_iter().next().map(|c| c.uri.raw)?;
        let uri = message::Uri::parse(&target).unwrap_or_else(|| invite.uri.clone());
        let mut headers = message::Headers::default();
        let branch = format!("z9hG4bK{}-{}", call.local_tag, call.local_cseq);
        headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {local};branch={branch};rport",
                call.peer.transport.as_str()
            ),
        );
        headers.push("Max-Forwards", "70");
        let to_value = invite.headers.get("To")?;
        headers.push("From", format!("{to_value};tag={}", call.local_tag));
        headers.push("To", invite.headers.get("From")?);
        headers.push("Call-ID", invite.call_id()?);
        headers.push("CSeq", format!("{} BYE", call.local_cseq));
        Some(Request {
            method: Method::Bye,
            uri,
            headers,
            body: Vec::new(),
        })
    }

    fn retire_engines(&mut self) {
        // An old engine goes once its last call has ended.
        let current = self.engines.last().map(|(g, _)| *g);
        self.engines
            .retain(|(g, e)| Some(*g) == current || !e.live_legs().is_empty());
    }
}

impl Call {
    /// Our side of the SDP, with RTP at `local`.
    fn origin(&self, local: SocketAddr) -> Origin {
        Origin {
            rtp: local,
            session: session_id(&self.local_tag),
            version: self.sdp_version,
        }
    }
}

/// Takes a new offer in a dialog: our SDP version goes up if our answer changes; an
/// address of `0.0.0.0` (an old-style hold) keeps the one we had.
fn renegotiated(current: &mut Negotiated, version: &mut u64, offered: Negotiated) -> Negotiated {
    let mut n = offered;
    if n.remote.ip().is_unspecified() {
        n.remote = current.remote;
    }
    if (n.format, n.direction) != (current.format, current.direction) {
        *version += 1;
    }
    *current = n;
    n
}

/// Our To tag for a request: derived from its Call-ID and From tag, so a retransmitted
/// or repeated request gets the same tag without state.
fn tag_for(request: &Request) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    request.call_id().hash(&mut h);
    request
        .from()
        .and_then(|f| f.tag().map(str::to_owned))
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

fn session_id(tag: &str) -> u64 {
    u64::from_str_radix(tag.get(..12).unwrap_or("1"), 16).unwrap_or(1)
}

fn is_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

/// The key a SIP INFO carries (`application/dtmf-relay` or `application/dtmf`).
fn dtmf_of(request: &Request) -> Option<char> {
    match request.content_type().as_deref() {
        Some("application/dtmf-relay") => dtmf_relay_signal(&request.body),
        Some("application/dtmf") => String::from_utf8_lossy(&request.body)
            .trim()
            .chars()
            .next()
            .filter(|c| is_key(*c)),
        _ => None,
    }
}

/// The key of an `application/dtmf-relay` body (`Signal=5`, `Signal= 11` for `#`).
fn dtmf_relay_signal(body: &[u8]) -> Option<char> {
    let text = String::from_utf8_lossy(body);
    let value = text.lines().find_map(|l| {
        let (name, value) = l.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("signal")
            .then(|| value.trim().to_owned())
    })?;
    match value.as_str() {
        "10" => Some('*'),
        "11" => Some('#'),
        v => v.chars().next().filter(|c| is_key(*c) && v.len() == 1),
    }
}

/// Dialed digits for a log line: feature codes are shown, anything that could carry a
/// secret after them (a feature code followed by a code or PIN) is cut.
fn redact_dialed(dialed: &str) -> String {
    if dialed.len() <= 5 {
        dialed.to_owned()
    } else {
        format!(
            "{}…",
            &dialed[..dialed
                .char_indices()
                .nth(4)
                .map_or(dialed.len(), |(i, _)| i)]
        )
    }
}

#[cfg(test)]
mod tests;
