//! Replays one session against the engine on a virtual clock.

use super::file::{SessionFile, Step, StepKind};
use super::matching::subset_mismatches;
use crate::admin::{self, Admin, CdrQuery, CodeCommand, ExtCommand, VmCommand};
use crate::clock::Timestamp;
use crate::directory::validate::{Settings, validate};
use crate::dsl::Plan;
use crate::dsl::diagnostic::Failure;
use crate::engine::coverage::Ran;
use crate::engine::event::{Event, Input, LegId, Output, Progress, Target};
use crate::engine::{Engine, mailbox};
use crate::hooks::Hooks;
use crate::store::{Operator, SecretHasher, SqliteStore, Store};
use clap::Parser;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded plan and its hooks, shared by every session that uses it.
pub struct LoadedPlan {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Its compiled hooks.
    pub hooks: Arc<Hooks>,
}

/// Plans by path, loaded once per run.
#[derive(Default)]
pub struct PlanCache {
    plans: HashMap<PathBuf, Result<Arc<LoadedPlan>, Arc<Failure>>>,
}

impl PlanCache {
    /// Loads (or reuses) a plan and compiles its hooks.
    pub fn get(&mut self, path: &Path) -> Result<Arc<LoadedPlan>, Arc<Failure>> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.plans
            .entry(key)
            .or_insert_with(|| {
                let plan = crate::dsl::load(path).map_err(Arc::new)?;
                let hooks = Hooks::compile(&plan).map_err(|diagnostics| {
                    Arc::new(Failure {
                        diagnostics,
                        sources: plan.sources.clone(),
                    })
                })?;
                Ok(Arc::new(LoadedPlan {
                    plan: Arc::new(plan),
                    hooks: Arc::new(hooks),
                }))
            })
            .clone()
    }
}

/// How a session went.
#[derive(Debug)]
pub enum Verdict {
    /// Every step and `then` held.
    Passed,
    /// A step or `then` did not hold.
    Failed(String),
    /// The session, its plan or its `given` could not be used (exit 2).
    Broken(String),
}

/// One session's result, with what happened on each leg.
#[derive(Debug)]
pub struct Outcome {
    /// The session file.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// Passed, failed or broken.
    pub verdict: Verdict,
    /// Steps run.
    pub steps: usize,
    /// Per step: (leg name, event) that the step caused, for `--update`.
    pub caused: Vec<Vec<(String, Event)>>,
    /// What of its plan the session ran, in [`Mode::Cover`].
    pub ran: Option<(Arc<Plan>, Ran)>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
enum AdminArgs {
    #[command(subcommand)]
    Ext(ExtCommand),
    #[command(subcommand)]
    Code(CodeCommand),
    Cdr(CdrQuery),
    #[command(subcommand)]
    Vm(VmCommand),
}

struct LegTrack {
    name: String,
    id: LegId,
    events: Vec<Event>,
    cursor: usize,
    /// For a leg the engine placed to an extension: it rings there until answered.
    ringing_at: Option<String>,
    /// Who called, for a caller's leg.
    from: String,
    /// The mailbox the caller is leaving a message in, and since when.
    voicemail: Option<(String, Timestamp)>,
}

/// The session runner is the engine's driver: it plays the callers, the phones the
/// engine rings (which answer or say busy when a step says so) and the outside world
/// (whose numbers answer at once), and verifies secrets inline.
struct Replay<'a> {
    engine: Engine<&'a SqliteStore>,
    hasher: &'a SecretHasher,
    clock: Timestamp,
    legs: Vec<LegTrack>,
    current: Option<usize>,
    warnings: Vec<String>,
    caused: Vec<(String, Event)>,
}

impl Replay<'_> {
    fn drain(&mut self) {
        while let Some(out) = self.engine.poll() {
            match out {
                Output::Event { leg, event } => {
                    if let Some(t) = self.legs.iter_mut().rev().find(|t| t.id == leg) {
                        if let Event::Voicemail(mailbox) = &event {
                            t.voicemail = Some((mailbox.clone(), self.clock));
                        }
                        self.caused.push((t.name.clone(), event.clone()));
                        t.events.push(event);
                    }
                }
                Output::Place { leg, target, .. } => {
                    let name = target.to_string();
                    let ringing_at = match &target {
                        Target::Extension(e) => Some(e.clone()),
                        Target::Outside(_) | Target::Emergency(_) => None,
                    };
                    let outside = ringing_at.is_none();
                    self.legs.push(LegTrack {
                        name,
                        id: leg,
                        events: Vec::new(),
                        cursor: 0,
                        ringing_at,
                        from: String::new(),
                        voicemail: None,
                    });
                    if outside {
                        // In a session the world outside answers at once.
                        let progress = Progress::Answered;
                        self.engine
                            .handle(self.clock, Input::Progress { leg, progress });
                    }
                }
                Output::End { leg } => {
                    if let Some(t) = self.legs.iter_mut().find(|t| t.id == leg) {
                        t.ringing_at = None;
                    }
                }
                // No phones to light, no audio files in a replay.
                Output::Bridge { .. }
                | Output::MailboxChanged { .. }
                | Output::MessageDeleted { .. } => {}
                Output::Verify {
                    request,
                    entered,
                    hash,
                    ..
                } => {
                    let matched = self.hasher.verify(&entered.0, hash.as_deref());
                    self.engine
                        .handle(self.clock, Input::Verified { request, matched });
                }
                Output::Warning { message, .. } => self.warnings.push(message),
                // Counted by `pbxctl run`'s metrics; a session asserts the record itself.
                Output::CallEnded { .. } | Output::LockedOut { .. } => {}
            }
        }
    }

    /// Leg `i`'s caller hangs up; a caller leaving a message leaves it, as long as it
    /// spoke (the message has no audio in a replay).
    fn hang_up(&mut self, i: usize) {
        let id = self.legs[i].id;
        if let Some((mailbox, since)) = self.legs[i].voicemail.take() {
            let seconds = self.clock.since(since).as_seconds();
            let from = &self.legs[i].from;
            let left = mailbox::deposit(self.engine.store(), &mailbox, from, since, seconds, None);
            if let Err(e) = left {
                self.warnings.push(format!("message not stored: {e}"));
            }
        }
        self.engine.handle(self.clock, Input::Hangup { leg: id });
        self.drain();
    }

    /// The newest leg ringing at `ext`.
    fn ringing_at(&self, ext: &str) -> Result<usize, String> {
        self.legs
            .iter()
            .rposition(|t| t.ringing_at.as_deref() == Some(ext))
            .ok_or_else(|| format!("nothing rings at {ext}"))
    }

    fn advance_to(&mut self, t: Timestamp) {
        while let Some(d) = self.engine.next_deadline().filter(|d| *d <= t) {
            // What a timer causes happens at its time (a message left from then on).
            self.clock = self.clock.max(d);
            self.engine.handle_timeout(d);
            self.drain();
        }
        self.clock = self.clock.max(t);
    }

    fn leg_index(&self, name: &str) -> Result<usize, String> {
        self.legs
            .iter()
            .rposition(|l| l.name == name)
            .ok_or_else(|| format!("no leg named `{name}`"))
    }

    fn describe_leg(&self, i: usize) -> String {
        let t = &self.legs[i];
        let mut out = format!("events of leg {}:\n", t.name);
        if t.events.is_empty() {
            out += "    (none)\n";
        }
        for (n, e) in t.events.iter().enumerate() {
            let mark = if n < t.cursor { "  matched" } else { "" };
            out += &format!("    {e}{mark}\n");
        }
        out
    }
}

/// Whether `expect` steps are checked or only the events recorded (`--update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check every step and `then`.
    Check,
    /// Run every step, skipping `expect`, to record what happens.
    Record,
    /// Check, and count what of the plan ran (`--coverage`).
    Cover,
}

/// Runs one session file.
pub fn run_session(
    path: &Path,
    plans: &mut PlanCache,
    dialplan_override: Option<&Path>,
    mode: Mode,
) -> Outcome {
    let broken = |name: String, message: String| Outcome {
        path: path.to_path_buf(),
        name,
        verdict: Verdict::Broken(message),
        steps: 0,
        caused: Vec::new(),
        ran: None,
    };
    let session = match SessionFile::load(path) {
        Ok(s) => s,
        Err((sources, d)) => return broken(path.display().to_string(), d.render(&sources)),
    };
    let Some(plan_path) = dialplan_override
        .map(Path::to_path_buf)
        .or(session.dialplan.clone())
    else {
        return broken(
            session.name,
            format!(
                "{}: no `dialplan:` in the session and no --dialplan given\n",
                path.display()
            ),
        );
    };
    let loaded = match plans.get(&plan_path) {
        Ok(l) => l,
        Err(f) => return broken(session.name, f.render()),
    };
    let validated = validate(&session.given, &loaded.plan, &session.sources, session.file);
    if let Some(wanted) = &session.expect_error {
        // The session asserts that its `given` is refused (PP-1, VC-1).
        let verdict = match &validated {
            Ok(_) => Verdict::Failed(format!(
                "{}: the given was accepted, but expect_error says it must be refused\n",
                path.display()
            )),
            Err(ds) => {
                let shown: String = ds.iter().map(|d| d.render(&session.sources)).collect();
                match wanted.iter().find(|w| !shown.contains(w.as_str())) {
                    None => Verdict::Passed,
                    Some(w) => Verdict::Failed(format!(
                        "the given was refused, but no message contains `{w}`:\n{shown}"
                    )),
                }
            }
        };
        let steps = session.steps.len();
        // Nothing of the plan runs, but the plan counts: its coverage shows as none.
        let ran = (mode == Mode::Cover).then(|| (Arc::clone(&loaded.plan), Ran::new(&loaded.plan)));
        return Outcome {
            path: path.to_path_buf(),
            name: session.name,
            verdict,
            steps,
            caused: Vec::new(),
            ran,
        };
    }
    let settings = match validated {
        Ok(s) => s,
        Err(ds) => {
            return broken(
                session.name,
                ds.iter().map(|d| d.render(&session.sources)).collect(),
            );
        }
    };
    let store = match SqliteStore::in_memory() {
        Ok(s) => s,
        Err(e) => return broken(session.name, format!("{e}\n")),
    };
    let hasher = SecretHasher::fast();
    if let Err(e) = store.provision(&session.given, &hasher) {
        return broken(session.name, format!("{e}\n"));
    }
    let (verdict, caused, ran) = replay(&session, &loaded, settings, &store, &hasher, mode);
    Outcome {
        path: path.to_path_buf(),
        name: session.name,
        verdict,
        steps: session.steps.len(),
        caused,
        ran: ran.map(|r| (Arc::clone(&loaded.plan), r)),
    }
}

/// Per step: (leg name, event) that the step caused.
type Caused = Vec<Vec<(String, Event)>>;

fn replay(
    session: &SessionFile,
    loaded: &LoadedPlan,
    settings: Settings,
    store: &SqliteStore,
    hasher: &SecretHasher,
    mode: Mode,
) -> (Verdict, Caused, Option<Ran>) {
    let mut engine = Engine::new(
        Arc::clone(&loaded.plan),
        Arc::clone(&loaded.hooks),
        settings.clone(),
        store,
    );
    if mode == Mode::Cover {
        engine.record_coverage();
    }
    let mut r = Replay {
        engine,
        hasher,
        clock: session.clock,
        legs: Vec::new(),
        current: None,
        warnings: Vec::new(),
        caused: Vec::new(),
    };
    let mut caused = Vec::new();
    for step in &session.steps {
        if mode == Mode::Record && matches!(step.kind, StepKind::Expect(_)) {
            caused.push(Vec::new());
            continue;
        }
        let result = run_step(&mut r, step, session, loaded, &settings, store, hasher);
        caused.push(std::mem::take(&mut r.caused));
        if let Err(why) = result {
            let place = format!("{}:{}", session.path.display(), step.line);
            let mut message = format!("step `{}` at {place}\n  {why}\n", step.text);
            if let Some(i) = r.current {
                message += &format!("  {}", r.describe_leg(i));
            }
            for w in &r.warnings {
                message += &format!("  warning: {w}\n");
            }
            return (
                Verdict::Failed(message),
                caused,
                r.engine.coverage().cloned(),
            );
        }
    }
    // End every call still up, so each leaves its call record (and its message).
    for id in r.engine.live_legs() {
        if id < crate::engine::event::PLACED_LEGS {
            match r.legs.iter().position(|t| t.id == id) {
                Some(i) => r.hang_up(i),
                None => {
                    r.engine.handle(r.clock, Input::Hangup { leg: id });
                    r.drain();
                }
            }
        }
    }
    let ran = r.engine.coverage().cloned();
    match check_then(session, store) {
        Ok(()) => (Verdict::Passed, caused, ran),
        Err(why) => (
            Verdict::Failed(format!("then: at {}\n{why}", session.path.display())),
            caused,
            ran,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_step(
    r: &mut Replay<'_>,
    step: &Step,
    session: &SessionFile,
    loaded: &LoadedPlan,
    settings: &Settings,
    store: &SqliteStore,
    hasher: &SecretHasher,
) -> Result<(), String> {
    match &step.kind {
        StepKind::Call { from, to, name } => {
            let id = r.legs.len() as LegId + 1;
            let name = name.clone().unwrap_or_else(|| leg_letter(r.legs.len()));
            r.legs.push(LegTrack {
                name,
                id,
                events: Vec::new(),
                cursor: 0,
                ringing_at: None,
                from: from.clone(),
                voicemail: None,
            });
            r.current = Some(r.legs.len() - 1);
            r.advance_to(r.clock);
            r.engine.handle(
                r.clock,
                Input::Call {
                    leg: id,
                    from: from.clone(),
                    to: to.clone(),
                },
            );
            r.drain();
        }
        StepKind::Dtmf { digits, gap, leg } => {
            let i = match leg {
                Some(n) => r.leg_index(n)?,
                None => r.current.ok_or("no call yet: `dtmf` needs a leg")?,
            };
            let id = r.legs[i].id;
            for (n, d) in digits.chars().enumerate() {
                let at = if n == 0 { r.clock } else { r.clock.after(*gap) };
                r.advance_to(at);
                r.engine.handle(at, Input::Digit { leg: id, digit: d });
                r.drain();
            }
        }
        StepKind::Recording { presses, leg, .. } => {
            let i = match leg {
                Some(n) => r.leg_index(n)?,
                None => r.current.ok_or("no call yet: `dtmf` needs a leg")?,
            };
            let id = r.legs[i].id;
            let start = r.clock;
            for &(digit, offset) in presses {
                let at = start.after(crate::clock::Duration(offset as i64));
                r.advance_to(at);
                r.engine.handle(at, Input::Digit { leg: id, digit });
                r.drain();
            }
        }
        StepKind::Expect(want) => {
            let i = r.current.ok_or("no call yet: `expect` needs a leg")?;
            expect(&mut r.legs[i], want, session.strict)?;
        }
        StepKind::Answer { ext, name } => {
            let i = r.ringing_at(ext)?;
            r.legs[i].ringing_at = None;
            if let Some(n) = name {
                r.legs[i].name = n.clone();
            }
            let leg = r.legs[i].id;
            let progress = Progress::Answered;
            r.engine.handle(r.clock, Input::Progress { leg, progress });
            r.drain();
        }
        StepKind::Busy(ext) | StepKind::Unreachable(ext) => {
            let i = r.ringing_at(ext)?;
            r.legs[i].ringing_at = None;
            let leg = r.legs[i].id;
            let progress = match &step.kind {
                StepKind::Busy(_) => Progress::Busy,
                _ => Progress::Failed,
            };
            r.engine.handle(r.clock, Input::Progress { leg, progress });
            r.drain();
        }
        StepKind::Hangup(leg) => {
            let i = match leg {
                Some(n) => r.leg_index(n)?,
                None => r.current.ok_or("no call yet: `hangup` needs a leg")?,
            };
            r.hang_up(i);
        }
        StepKind::Wait(d) => {
            let until = r.clock.after(*d);
            r.advance_to(until);
        }
        StepKind::Leg(name) => r.current = Some(r.leg_index(name)?),
        StepKind::Pbxctl {
            args,
            stdin,
            output,
            status,
            output_lacks,
        } => {
            let parsed = AdminArgs::try_parse_from(args.split_whitespace()).map_err(|e| {
                format!(
                    "`pbxctl {args}`: {}",
                    e.to_string().lines().next().unwrap_or("")
                )
            })?;
            let admin = Admin {
                store,
                plan: &loaded.plan,
                settings,
                hasher,
                now: r.clock,
                operator: Operator {
                    name: "session".into(),
                    uid: None,
                    claimed: None,
                },
                data: None,
            };
            let reply = match &parsed {
                AdminArgs::Ext(cmd) => admin.ext(cmd, stdin),
                AdminArgs::Code(cmd) => admin.code(cmd),
                AdminArgs::Cdr(query) => admin.cdr(query),
                AdminArgs::Vm(cmd) => admin.vm(cmd, stdin),
            };
            let want_status = status.unwrap_or(0);
            let printed = format!("{}{}", reply.stdout, reply.stderr);
            if reply.status != want_status {
                return Err(format!(
                    "`pbxctl {args}` exited {} (expected {want_status}):\n    {}",
                    reply.status,
                    printed.trim()
                ));
            }
            if let Some(o) = output
                && !printed.contains(o.as_str())
            {
                return Err(format!(
                    "`pbxctl {args}` printed:\n    {}\n  which does not contain `{o}`",
                    printed.trim()
                ));
            }
            if let Some(secret) = output_lacks.iter().find(|s| printed.contains(s.as_str())) {
                return Err(format!(
                    "`pbxctl {args}` printed `{secret}`, which it must not"
                ));
            }
        }
    }
    Ok(())
}

/// The name of the n-th leg opened without `as`: a, b, c, ...
pub(crate) fn leg_letter(n: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if n < letters.len() {
        (letters[n] as char).to_string()
    } else {
        format!("leg{n}")
    }
}

/// `expect`: the leg's next matching event; prompts and tones may be skipped
/// (unless strict), outcomes never.
fn expect(leg: &mut LegTrack, want: &str, strict: bool) -> Result<(), String> {
    while let Some(event) = leg.events.get(leg.cursor) {
        leg.cursor += 1;
        let seen = event.to_string();
        if seen == want {
            return Ok(());
        }
        if strict || event.is_outcome() {
            leg.cursor -= 1;
            return Err(format!("expected `{want}`, but the next event is `{seen}`"));
        }
    }
    Err(format!(
        "expected `{want}`, but leg {} has no more events",
        leg.name
    ))
}

fn check_then(session: &SessionFile, store: &SqliteStore) -> Result<(), String> {
    let Some(then) = &session.then else {
        return Ok(());
    };
    let serde_json::Value::Object(map) = then else {
        return Err("  `then` must be a map\n".into());
    };
    let mut problems = Vec::new();
    let err = |e: crate::store::StoreError| e.to_string();
    for (key, expected) in map {
        match key.as_str() {
            "extensions" | "codes" => {
                let serde_json::Value::Object(items) = expected else {
                    return Err(format!("  then.{key} must be a map\n"));
                };
                for (id, want) in items {
                    let view = if key == "extensions" {
                        admin::view::extension(store, id).map_err(err)?
                    } else {
                        admin::view::code(store, id).map_err(err)?
                    };
                    match view {
                        Some(v) => {
                            subset_mismatches(want, &v, &format!("{key}.{id}"), &mut problems)
                        }
                        None => problems.push(format!(
                            "{key}.{id}: no such {}",
                            if key == "codes" { "code" } else { "extension" }
                        )),
                    }
                }
            }
            "cdr" => {
                let records: Vec<serde_json::Value> = store
                    .call_records()
                    .map_err(err)?
                    .iter()
                    .map(admin::view::call_record)
                    .collect();
                subset_mismatches(
                    expected,
                    &serde_json::Value::Array(records),
                    "cdr",
                    &mut problems,
                );
            }
            other => problems.push(format!(
                "then.{other}: unknown view (extensions, codes, cdr)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.iter().map(|p| format!("  {p}\n")).collect())
    }
}
