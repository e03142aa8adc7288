//! The call engine, sans-IO: `handle(now, input)` in, `poll()` outputs out,
//! `next_deadline()` / `handle_timeout(now)` for timers. It never reads a clock,
//! a socket or a file; the session runner and the SIP server both drive it.

pub mod eval;
pub mod event;
pub mod leg;
pub mod secret_check;

use crate::clock::{Duration, Timestamp};
use crate::directory::validate::Settings;
use crate::dsl::Plan;
use crate::dsl::ast::{Object, OwnerKind, Unlocker};
use crate::dsl::plan::{Matcher, Op, Rule, SecretTarget};
use crate::dsl::value::Value;
use crate::hooks::{Decision, Hooks};
use crate::store::{CallRecord, SecretHasher, SecretId, StateValue, Store};
use eval::{Fault, Record, Scope};
use event::{Event, Input, LegId, Output};
use leg::{Leg, Wait};
use secret_check::{Verdict, check_secret};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Ops one leg may run between two waits before the engine calls it a loop.
const STEP_BUDGET: usize = 10_000;

/// Longest in-call code the engine waits for.
const MAX_INCALL_DIGITS: usize = 16;

/// Which rule list a call starts in.
#[derive(Clone, Copy)]
enum Entry {
    Dial,
    Inbound,
}

/// The engine: a plan, the store, and the live legs.
pub struct Engine<S: Store> {
    plan: Arc<Plan>,
    hooks: Arc<Hooks>,
    settings: Settings,
    store: S,
    hasher: SecretHasher,
    legs: BTreeMap<LegId, Leg>,
    out: VecDeque<Output>,
}

/// How running a leg's program stopped.
enum Stop {
    /// It waits for input or a timer.
    Wait,
    /// It ended; the leg is over.
    End,
}

impl<S: Store> Engine<S> {
    /// An engine for a plan, its compiled hooks, the settings in force and a store.
    pub fn new(
        plan: Arc<Plan>,
        hooks: Arc<Hooks>,
        settings: Settings,
        store: S,
        hasher: SecretHasher,
    ) -> Self {
        Engine {
            plan,
            hooks,
            settings,
            store,
            hasher,
            legs: BTreeMap::new(),
            out: VecDeque::new(),
        }
    }

    /// The store, for drivers that also run admin actions.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Feeds one input at time `now`.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        match input {
            Input::Call { leg, from, to } => self.start_call(now, leg, from, to),
            Input::Digit { leg, digit } => self.digit(now, leg, digit),
            Input::Answer { extension } => self.answer(now, &extension),
            Input::Hangup { leg } => {
                if self.legs.contains_key(&leg) {
                    self.finish(now, leg);
                }
            }
        }
    }

    /// The next output, if any; drain after every input.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest timer, if any leg has one.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.legs.values().filter_map(|l| l.deadline).min()
    }

    /// Fires every timer due at or before `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        loop {
            let due = self
                .legs
                .values()
                .filter_map(|l| l.deadline.filter(|d| *d <= now).map(|d| (d, l.id)))
                .min();
            let Some((at, id)) = due else { break };
            self.timer(at, id);
        }
    }

    /// Ids of legs still up.
    pub fn live_legs(&self) -> Vec<LegId> {
        self.legs.keys().copied().collect()
    }

    fn emit(&mut self, leg: LegId, event: Event) {
        self.out.push_back(Output::Event { leg, event });
    }

    fn warn(&mut self, leg: Option<LegId>, message: String) {
        self.out.push_back(Output::Warning { leg, message });
    }

    fn setting_duration(&self, name: &str, default: Duration) -> Duration {
        self.settings
            .get(name)
            .and_then(Value::as_duration)
            .unwrap_or(default)
    }

    // ----- inputs ---------------------------------------------------------------

    fn start_call(&mut self, now: Timestamp, id: LegId, from: String, to: String) {
        let is_ext = match self.store.extension(&from) {
            Ok(r) => r.is_some(),
            Err(e) => {
                self.warn(Some(id), e.to_string());
                self.emit(id, Event::Reject("unavailable".into()));
                return;
            }
        };
        let to = to.trim_end_matches('#').to_string();
        let mut leg = Leg::new(id, from, is_ext, to.clone(), now);
        leg.vars.insert("dialed".into(), Value::Digits(to.clone()));
        self.legs.insert(id, leg);
        let entry = if is_ext { Entry::Dial } else { Entry::Inbound };
        self.route(now, id, entry, &to);
    }

    fn digit(&mut self, now: Timestamp, id: LegId, digit: char) {
        let digit_timeout = self.setting_duration("digit_timeout", Duration::seconds(5));
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        match &mut leg.wait {
            Wait::Collect { digits, .. } => {
                if digit == '*' {
                    // Start over (PG-2: failures already counted stay counted).
                    leg.pc = 0;
                    leg.wait = Wait::Running;
                    leg.deadline = None;
                    self.resume(now, id);
                } else if digit == '#' {
                    self.complete_input(now, id);
                } else {
                    digits.push(digit);
                    leg.deadline = Some(now.after(digit_timeout));
                }
            }
            Wait::Connected if !leg.in_incall => {
                leg.incall_digits.push(digit);
                let typed = leg.incall_digits.clone();
                let plan = Arc::clone(&self.plan);
                let hit = plan
                    .rules
                    .incall
                    .iter()
                    .find(|r| self.rule_takes(r, &typed, id));
                match hit {
                    Some(rule) => {
                        let leg = self.legs.get_mut(&id).expect("leg exists");
                        leg.incall_digits.clear();
                        leg.in_incall = true;
                        leg.program = rule.program;
                        leg.pc = 0;
                        leg.wait = Wait::Running;
                        self.resume(now, id);
                    }
                    None => {
                        let could_grow = plan.rules.incall.iter().any(|r| match &r.matcher {
                            Matcher::Pattern(p) => {
                                p.literal().is_none_or(|l| l.starts_with(&typed))
                            }
                            _ => false,
                        });
                        // A code no rule can still complete, or one longer than any
                        // phone sends, starts over.
                        if !could_grow || typed.len() > MAX_INCALL_DIGITS {
                            self.legs
                                .get_mut(&id)
                                .expect("leg exists")
                                .incall_digits
                                .clear();
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn answer(&mut self, now: Timestamp, extension: &str) {
        let ringing = self
            .legs
            .values()
            .filter(|l| matches!(&l.wait, Wait::Alert { extension: e } if e == extension))
            .min_by_key(|l| (l.start, l.id))
            .map(|l| l.id);
        if let Some(id) = ringing {
            self.connect(now, id, extension.to_string(), extension.to_string());
        }
    }

    fn timer(&mut self, now: Timestamp, id: LegId) {
        let prompt_timeout = self.setting_duration("prompt_timeout", Duration::seconds(10));
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        leg.deadline = None;
        match leg.wait.clone() {
            Wait::Collect {
                digits,
                prompt,
                repeated,
                ..
            } => {
                if !digits.is_empty() {
                    self.complete_input(now, id);
                } else if !repeated {
                    if let Wait::Collect { repeated, .. } = &mut leg.wait {
                        *repeated = true;
                    }
                    leg.deadline = Some(now.after(prompt_timeout));
                    self.emit(
                        id,
                        Event::Prompt {
                            id: prompt,
                            arg: None,
                        },
                    );
                } else {
                    self.emit(id, Event::Hangup);
                    self.finish(now, id);
                }
            }
            Wait::Alert { .. } => {
                leg.outcome.unanswered = true;
                leg.wait = Wait::Running;
                leg.pc += 1;
                self.resume(now, id);
            }
            Wait::Sleep => {
                leg.wait = Wait::Running;
                leg.pc += 1;
                self.resume(now, id);
            }
            _ => {}
        }
    }

    fn complete_input(&mut self, now: Timestamp, id: LegId) {
        let leg = self.legs.get_mut(&id).expect("leg exists");
        if let Wait::Collect { var, digits, .. } = std::mem::replace(&mut leg.wait, Wait::Running) {
            leg.vars.insert(var, Value::Digits(digits));
        }
        leg.deadline = None;
        leg.pc += 1;
        self.resume(now, id);
    }

    // ----- routing --------------------------------------------------------------

    /// Runs the first rule of a list that takes these digits.
    fn route(&mut self, now: Timestamp, id: LegId, entry: Entry, digits: &str) {
        if matches!(entry, Entry::Dial) && self.is_emergency(digits) {
            // Decided before any rule: nothing in the plan can restrict it.
            let target = self.emergency_target(digits);
            self.connect_external(now, id, target);
            return;
        }
        let plan = Arc::clone(&self.plan);
        let rules = match entry {
            Entry::Dial => &plan.rules.dial,
            Entry::Inbound => &plan.rules.inbound,
        };
        match rules.iter().find(|r| self.rule_takes(r, digits, id)) {
            Some(rule) => {
                let caps = match &rule.matcher {
                    Matcher::Pattern(p) => p.matches(digits).unwrap_or_default(),
                    _ => Vec::new(),
                };
                let leg = self.legs.get_mut(&id).expect("leg exists");
                for (name, value) in caps {
                    leg.vars.insert(name, Value::Digits(value));
                }
                leg.vars
                    .insert("dialed".into(), Value::Digits(digits.to_string()));
                leg.program = rule.program;
                leg.pc = 0;
                self.resume(now, id);
            }
            None => self.reject(now, id, "not-found"),
        }
    }

    fn rule_takes(&mut self, rule: &Rule, digits: &str, id: LegId) -> bool {
        let matched = match &rule.matcher {
            Matcher::Any => true,
            Matcher::Pattern(p) => p.matches(digits).is_some(),
            Matcher::In(setting) => self
                .settings
                .get(setting)
                .is_some_and(|list| Value::Digits(digits.to_string()).member_of(list)),
            Matcher::Extension => matches!(self.store.extension(digits), Ok(Some(_))),
        };
        if !matched {
            return false;
        }
        let Some(guard) = &rule.guard else {
            return true;
        };
        let leg = &self.legs[&id];
        let scope = Scope {
            store: &self.store,
            settings: &self.settings,
            leg,
            now: leg.start,
        };
        match scope.eval(guard) {
            Ok(v) => v.truthy(),
            Err(f) => {
                let message = self.fault_text(&f);
                self.warn(Some(id), message);
                false
            }
        }
    }

    fn is_emergency(&self, digits: &str) -> bool {
        self.settings
            .get("emergency")
            .is_some_and(|l| Value::Digits(digits.to_string()).member_of(l))
    }

    /// `9911` leaves as `911`: the prefix is stripped when what remains is itself
    /// an emergency number.
    fn emergency_target(&self, digits: &str) -> String {
        let prefix = self
            .settings
            .get("outside_prefix")
            .and_then(Value::as_text)
            .unwrap_or_default();
        match digits.strip_prefix(prefix.as_str()) {
            Some(rest) if !prefix.is_empty() && self.is_emergency(rest) => rest.to_string(),
            _ => digits.to_string(),
        }
    }

    // ----- the interpreter -----------------------------------------------------

    fn resume(&mut self, now: Timestamp, id: LegId) {
        match self.run(now, id) {
            Ok(Stop::Wait) => {}
            Ok(Stop::End) => self.finish(now, id),
            Err(fault) => {
                let message = self.fault_text(&fault);
                self.warn(Some(id), message);
                self.emit(id, Event::Hangup);
                self.finish(now, id);
            }
        }
    }

    fn fault_text(&self, f: &Fault) -> String {
        format!("{}: {}", self.plan.sources.locate(f.span), f.message)
    }

    fn run(&mut self, now: Timestamp, id: LegId) -> Result<Stop, Fault> {
        let plan = Arc::clone(&self.plan);
        for _ in 0..STEP_BUDGET {
            let leg = self.legs.get(&id).expect("running leg exists");
            let program = &plan.programs[leg.program];
            let Some(op) = program.ops.get(leg.pc) else {
                // Falling off the end: an in-call code returns to the call;
                // anything else has nowhere to go.
                if leg.in_incall {
                    let leg = self.legs.get_mut(&id).expect("leg exists");
                    leg.in_incall = false;
                    leg.wait = Wait::Connected;
                    return Ok(Stop::Wait);
                }
                self.emit(id, Event::Hangup);
                return Ok(Stop::End);
            };
            let span = program.spans[leg.pc];
            let mut next = leg.pc + 1;
            match op {
                Op::Play { prompt, arg } => {
                    let arg = match arg {
                        Some(a) => Some(self.scope(id, now).eval(a)?.to_string()),
                        None => None,
                    };
                    self.legs.get_mut(&id).expect("leg").outcome.answered_by_pbx = true;
                    self.emit(
                        id,
                        Event::Prompt {
                            id: prompt.clone(),
                            arg,
                        },
                    );
                }
                Op::Tone(t) => self.emit(id, Event::Tone(t.clone())),
                Op::Ask { prompt, var } => {
                    let timeout = self.setting_duration("prompt_timeout", Duration::seconds(10));
                    let leg = self.legs.get_mut(&id).expect("leg");
                    leg.outcome.answered_by_pbx = true;
                    leg.wait = Wait::Collect {
                        var: var.clone(),
                        prompt: prompt.clone(),
                        digits: String::new(),
                        repeated: false,
                    };
                    leg.deadline = Some(now.after(timeout));
                    self.emit(
                        id,
                        Event::Prompt {
                            id: prompt.clone(),
                            arg: None,
                        },
                    );
                    return Ok(Stop::Wait);
                }
                Op::Check {
                    input,
                    secret,
                    ok,
                    locked,
                    invalid,
                } => {
                    next = self.check(now, id, input, secret, (*ok, *locked, *invalid))?;
                }
                Op::Jump(to) => next = *to,
                Op::JumpUnless(cond, to) => {
                    if !self.scope(id, now).eval(cond)?.truthy() {
                        next = *to;
                    }
                }
                Op::Set {
                    object,
                    field,
                    value,
                } => {
                    let number = self.extension_of(id, now, object)?;
                    let v = self.scope(id, now).eval(value)?;
                    let value = match field {
                        crate::dsl::plan::StateField::Blocked
                        | crate::dsl::plan::StateField::Dnd => StateValue::Flag(v.truthy()),
                        _ => StateValue::Target(v.as_text().filter(|t| !t.is_empty())),
                    };
                    self.store
                        .set_state(&number, *field, value)
                        .map_err(|e| Fault::at(span, e.to_string()))?;
                }
                Op::Let { var, value } => {
                    let v = self.scope(id, now).eval(value)?;
                    self.legs
                        .get_mut(&id)
                        .expect("leg")
                        .vars
                        .insert(var.clone(), v);
                }
                Op::GrantOutbound { object, duration } => {
                    let number = self.extension_of(id, now, object)?;
                    let d = self
                        .scope(id, now)
                        .eval(duration)?
                        .as_duration()
                        .ok_or_else(|| Fault::at(span, "a grant lasts a duration"))?;
                    self.store
                        .set_outbound_grant(&number, Some(now.after(d)))
                        .map_err(|e| Fault::at(span, e.to_string()))?;
                }
                Op::Unlock(target) => self.unlock(now, id, target, span)?,
                Op::Ring(ext) => {
                    let number = self.scope(id, now).text(ext)?;
                    return self.ring(now, id, number);
                }
                Op::Alert { extension, timeout } => {
                    let number = self.scope(id, now).text(extension)?;
                    let deadline = match timeout {
                        Some(t) => Some(
                            now.after(
                                self.scope(id, now)
                                    .eval(t)?
                                    .as_duration()
                                    .ok_or_else(|| Fault::at(span, "a ring time is a duration"))?,
                            ),
                        ),
                        None => None,
                    };
                    let leg = self.legs.get_mut(&id).expect("leg");
                    leg.wait = Wait::Alert {
                        extension: number.clone(),
                    };
                    leg.deadline = deadline;
                    self.emit(id, Event::Ringing(number));
                    return Ok(Stop::Wait);
                }
                Op::Outbound(number) => {
                    let number = self.scope(id, now).text(number)?;
                    return self.outbound(now, id, number);
                }
                Op::Voicemail(mailbox) => {
                    let mailbox = self.scope(id, now).text(mailbox)?;
                    let leg = self.legs.get_mut(&id).expect("leg");
                    leg.wait = Wait::Voicemail;
                    leg.outcome.final_party = Some(format!("voicemail:{mailbox}"));
                    leg.outcome.connected_at = Some(now);
                    self.emit(id, Event::Voicemail(mailbox));
                    return Ok(Stop::Wait);
                }
                Op::Reject(reason) => {
                    self.reject(now, id, reason);
                    return Ok(Stop::Wait);
                }
                Op::Hangup => {
                    self.emit(id, Event::Hangup);
                    return Ok(Stop::End);
                }
                Op::Retry {
                    policy,
                    target,
                    exhausted,
                } => {
                    let used = self.legs[&id].attempts.get(policy).copied().unwrap_or(0);
                    if used < plan.policies[*policy].attempts {
                        next = *target;
                    } else if let Some(e) = exhausted {
                        next = *e;
                    } else {
                        self.emit(id, Event::Hangup);
                        return Ok(Stop::End);
                    }
                }
                Op::Dial { number, as_code } => {
                    let digits = self.scope(id, now).text(number)?;
                    if let Some(code) = as_code {
                        let code = self.scope(id, now).text(code)?;
                        let rec = self
                            .store
                            .code(&code)
                            .map_err(|e| Fault::at(span, e.to_string()))?;
                        let Some(rec) = rec else {
                            return Err(Fault::at(span, format!("no verification code {code}")));
                        };
                        let leg = self.legs.get_mut(&id).expect("leg");
                        leg.class_override = Some(rec.class);
                        leg.originator = Some(format!("code:{code}"));
                        leg.billing = rec.billing;
                    }
                    self.route(now, id, Entry::Dial, &digits);
                    return Ok(Stop::Wait);
                }
                Op::Tally { name, key } => {
                    let key = self.scope(id, now).text(key)?;
                    self.store
                        .tally(name, &key, now)
                        .map_err(|e| Fault::at(span, e.to_string()))?;
                }
                Op::Run(hook) => {
                    let facts = self.facts(id, None);
                    match self.decide(now, id, hook, &facts) {
                        Decision::Allow => {}
                        Decision::Deny(reason) => {
                            self.reject(now, id, &reason);
                            return Ok(Stop::Wait);
                        }
                    }
                }
                Op::Wait(d) => {
                    let d = self
                        .scope(id, now)
                        .eval(d)?
                        .as_duration()
                        .ok_or_else(|| Fault::at(span, "`wait` takes a duration"))?;
                    let leg = self.legs.get_mut(&id).expect("leg");
                    leg.wait = Wait::Sleep;
                    leg.deadline = Some(now.after(d));
                    return Ok(Stop::Wait);
                }
            }
            self.legs.get_mut(&id).expect("leg").pc = next;
        }
        Err(Fault::at(
            plan.programs[self.legs[&id].program].spans[0],
            "the plan ran 10000 steps without waiting: a loop?",
        ))
    }

    fn scope(&self, id: LegId, now: Timestamp) -> Scope<'_> {
        Scope {
            store: &self.store,
            settings: &self.settings,
            leg: &self.legs[&id],
            now,
        }
    }

    fn extension_of(&self, id: LegId, now: Timestamp, object: &Object) -> Result<String, Fault> {
        match self.scope(id, now).record(object)? {
            Record::Extension(n, Some(_)) => Ok(n),
            other => Err(Fault::at(
                object.span(),
                format!("`{}` is not a configured extension", other.key()),
            )),
        }
    }

    /// The secret an object names, if its owner exists.
    fn secret_id(
        &self,
        id: LegId,
        now: Timestamp,
        target: &SecretTarget,
    ) -> Result<Option<SecretId>, Fault> {
        let policy = &self.plan.policies[target.policy];
        let owner = match self.scope(id, now).record(&target.object)? {
            Record::Extension(n, Some(_)) if policy.owner == OwnerKind::Extension => Some(n),
            Record::Code(c, Some(_)) if policy.owner == OwnerKind::Code => Some(c),
            _ => None,
        };
        Ok(owner.map(|owner| SecretId {
            owner_kind: policy.owner,
            owner,
            kind: policy.secret.clone(),
        }))
    }

    /// PG-1..PG-3: verify, count, lock; a locked secret tells only the right secret.
    fn check(
        &mut self,
        now: Timestamp,
        id: LegId,
        input: &crate::dsl::ast::Expr,
        target: &SecretTarget,
        (ok, locked, invalid): (usize, usize, usize),
    ) -> Result<usize, Fault> {
        let entered = self
            .scope(id, now)
            .eval(input)?
            .as_text()
            .unwrap_or_default();
        let secret = self.secret_id(id, now, target)?;
        let policy = &self.plan.policies[target.policy];
        let used = self.legs[&id]
            .attempts
            .get(&target.policy)
            .copied()
            .unwrap_or(0);
        let verdict = check_secret(
            &self.store,
            &self.hasher,
            policy,
            &self.scope(id, now),
            secret.as_ref(),
            &entered,
            used,
        )?;
        Ok(match verdict {
            Verdict::Ok => ok,
            Verdict::Locked => locked,
            Verdict::Invalid { locked_now } => {
                *self
                    .legs
                    .get_mut(&id)
                    .expect("leg")
                    .attempts
                    .entry(target.policy)
                    .or_insert(0) += 1;
                if let (Some(after), Some(s)) = (locked_now, &secret) {
                    let name = self.plan.policies[target.policy].name.clone();
                    self.on_lockout(now, id, s, name, after.failures);
                }
                invalid
            }
        })
    }

    fn on_lockout(
        &mut self,
        now: Timestamp,
        id: LegId,
        secret: &SecretId,
        policy: String,
        failures: u32,
    ) {
        let facts = serde_json::json!({
            "owner_kind": secret.owner_kind.as_str(),
            "owner": secret.owner,
            "secret": secret.kind,
            "policy": policy,
            "failures": failures,
        });
        // A notification: its decision does not undo the lockout.
        let _ = self.decide(now, id, "on-lockout", &facts);
    }

    /// Runs a hook; a failing hook is logged and denies.
    fn decide(
        &mut self,
        now: Timestamp,
        id: LegId,
        hook: &str,
        facts: &serde_json::Value,
    ) -> Decision {
        match self.hooks.call(hook, facts, now) {
            Ok(Some(d)) => d,
            Ok(None) => Decision::Allow,
            Err(failure) => {
                self.warn(Some(id), failure.to_string());
                Decision::Deny("restricted".into())
            }
        }
    }

    fn facts(&self, id: LegId, number: Option<&str>) -> serde_json::Value {
        let leg = &self.legs[&id];
        serde_json::json!({
            "caller": leg.caller,
            "dialed": leg.dialed,
            "number": number,
            "class": self.class_of(leg),
            "originator": leg.originator.clone().unwrap_or_else(|| leg.caller.clone()),
            "billing": leg.billing,
        })
    }

    fn class_of(&self, leg: &Leg) -> Option<u32> {
        leg.class_override.or_else(|| {
            if leg.caller_is_extension {
                self.store
                    .extension(&leg.caller)
                    .ok()
                    .flatten()
                    .map(|r| r.config.class)
            } else {
                None
            }
        })
    }

    fn unlock(
        &mut self,
        now: Timestamp,
        id: LegId,
        target: &SecretTarget,
        span: crate::dsl::span::Span,
    ) -> Result<(), Fault> {
        let Some(secret) = self.secret_id(id, now, target)? else {
            return Ok(());
        };
        let policy = &self.plan.policies[target.policy];
        let caller = self
            .scope(id, now)
            .record(&Object::Named(crate::dsl::ast::Word {
                text: "caller".into(),
                span,
            }))?;
        let allowed = match (policy.unlock_by, &caller) {
            (Unlocker::Manager, Record::Extension(_, Some(r))) => r.config.manager,
            (Unlocker::Owner, Record::Extension(n, Some(_))) => *n == secret.owner,
            _ => false,
        };
        if !allowed {
            return Err(Fault::at(
                span,
                format!("policy `{}` does not let this caller unlock", policy.name),
            ));
        }
        self.store
            .unlock(&secret, policy.unlock_clears)
            .map_err(|e| Fault::at(span, e.to_string()))?;
        Ok(())
    }

    fn ring(&mut self, now: Timestamp, id: LegId, number: String) -> Result<Stop, Fault> {
        if !matches!(self.store.extension(&number), Ok(Some(_))) {
            self.reject(now, id, "not-found");
            return Ok(Stop::Wait);
        }
        self.legs.get_mut(&id).expect("leg").callee = Some(number.clone());
        let plan = Arc::clone(&self.plan);
        match plan
            .rules
            .incoming
            .iter()
            .find(|r| self.rule_takes(r, &number, id))
        {
            Some(rule) => {
                let leg = self.legs.get_mut(&id).expect("leg");
                leg.program = rule.program;
                leg.pc = 0;
                self.run(now, id)
            }
            None => {
                let leg = self.legs.get_mut(&id).expect("leg");
                leg.wait = Wait::Alert {
                    extension: number.clone(),
                };
                self.emit(id, Event::Ringing(number));
                Ok(Stop::Wait)
            }
        }
    }

    /// VC-7: the class in force decides, then the `before-outbound` hook.
    fn outbound(&mut self, now: Timestamp, id: LegId, number: String) -> Result<Stop, Fault> {
        let class = self.class_of(&self.legs[&id]);
        let permitted = class
            .and_then(|c| self.plan.classes.get(&c))
            .is_some_and(|c| c.permits(&number));
        if !permitted {
            self.reject(now, id, "restricted");
            return Ok(Stop::Wait);
        }
        let facts = self.facts(id, Some(&number));
        if let Decision::Deny(reason) = self.decide(now, id, "before-outbound", &facts) {
            let reason = if crate::dsl::plan::REJECT_REASONS.contains(&reason.as_str()) {
                reason
            } else {
                "restricted".into()
            };
            self.reject(now, id, &reason);
            return Ok(Stop::Wait);
        }
        self.connect_external(now, id, number);
        Ok(Stop::Wait)
    }

    fn connect_external(&mut self, now: Timestamp, id: LegId, number: String) {
        self.legs.get_mut(&id).expect("leg").outcome.external = true;
        self.connect(now, id, number.clone(), format!("external:{number}"));
    }

    /// Bridges a leg to `party`, announced as `target`.
    fn connect(&mut self, now: Timestamp, id: LegId, party: String, target: String) {
        let leg = self.legs.get_mut(&id).expect("leg");
        leg.wait = Wait::Connected;
        leg.deadline = None;
        leg.outcome.final_party = Some(party);
        leg.outcome.connected_at = Some(now);
        self.emit(id, Event::Connect(target));
    }

    fn reject(&mut self, now: Timestamp, id: LegId, reason: &str) {
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.outcome.rejected = Some(reason.to_string());
        }
        self.emit(id, Event::Reject(reason.to_string()));
        self.finish(now, id);
    }

    /// Ends a leg and writes its call record (CDR-1).
    fn finish(&mut self, now: Timestamp, id: LegId) {
        let Some(leg) = self.legs.remove(&id) else {
            return;
        };
        let o = &leg.outcome;
        let status = if o.rejected.is_some() {
            "rejected"
        } else if o.connected_at.is_some() || o.answered_by_pbx {
            "answered"
        } else if o.unanswered || matches!(leg.wait, Wait::Alert { .. }) {
            "no-answer"
        } else {
            "failed"
        };
        // The direction dialed, whether or not the call got out.
        let prefix = self
            .settings
            .get("outside_prefix")
            .and_then(Value::as_text)
            .unwrap_or_default();
        let dialed_out = leg.caller_is_extension
            && !prefix.is_empty()
            && leg.dialed.starts_with(&prefix)
            && !matches!(self.store.extension(&leg.dialed), Ok(Some(_)));
        let kind = if o.external || dialed_out {
            "outbound"
        } else if !leg.caller_is_extension {
            "inbound"
        } else {
            "internal"
        };
        let record = CallRecord {
            start: leg.start,
            from: leg.caller.clone(),
            to: leg.dialed.clone(),
            final_party: o.final_party.clone(),
            duration: o.connected_at.map_or(0, |at| now.since(at).as_seconds()),
            kind: kind.into(),
            status: status.into(),
            reason: o.rejected.clone(),
            originator: leg.originator.clone().unwrap_or_else(|| leg.caller.clone()),
            via: leg.originator.as_ref().map(|_| leg.caller.clone()),
            billing: leg.billing.clone(),
        };
        if let Err(e) = self.store.write_call_record(&record) {
            self.warn(Some(id), format!("call record not written: {e}"));
        }
    }
}
