//! The call engine, sans-IO: `handle(now, input)` in, `poll()` outputs out,
//! `next_deadline()` / `handle_timeout(now)` for timers. It never reads a clock,
//! a socket or a file; the session runner and the SIP server both drive it.
//!
//! A call is a caller's leg, whose program the plan runs, and the legs the engine
//! places for it: an extension's phones for `alert` (one after another for follow me),
//! an outside number for `outbound`. The engine asks its driver to place, bridge and end
//! legs and to verify secrets, and takes what came of it as inputs. `program.rs` runs
//! one leg's ops; everything that involves two legs happens here.

mod call_record;
mod context;
pub mod coverage;
pub mod eval;
pub mod event;
mod explain;
pub mod leg;
pub mod mailbox;
pub mod presence;
mod program;
pub mod secret_check;

pub use explain::{Check, ClassInForce, Explanation, HookUse, RouteOutcome, RuleVerdict, Verdict};

use crate::clock::Timestamp;
use crate::dsl::Plan;
use crate::dsl::plan::{Matcher, Rule};
use crate::dsl::reason::RejectReason;
use crate::dsl::settings::Settings;
use crate::dsl::value::Value;
use crate::hooks::Hooks;
use crate::store::Store;
use context::Context;
use event::{Event, Input, LegId, Output, Progress, Target, VerifyId};
use leg::{Alerting, Leg, Role, Wait};
use program::Yield;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest in-call code the engine waits for.
const MAX_INCALL_DIGITS: usize = 16;

/// Forwards a call may take before the last extension reached simply rings (FC-2).
const MAX_FORWARD_HOPS: usize = 5;

/// Which rule list a call starts in.
#[derive(Clone, Copy)]
enum Entry {
    Dial,
    Inbound,
}

/// The engine: its context and the live legs.
pub struct Engine<S: Store> {
    cx: Context<S>,
    legs: BTreeMap<LegId, Leg>,
}

impl<S: Store> Engine<S> {
    /// An engine for a plan, its compiled hooks, the settings in force and a store.
    pub fn new(plan: Arc<Plan>, hooks: Arc<Hooks>, settings: Settings, store: S) -> Self {
        Engine {
            cx: Context::new(plan, hooks, settings, store),
            legs: BTreeMap::new(),
        }
    }

    /// The store, for drivers that also run admin actions.
    pub fn store(&self) -> &S {
        &self.cx.store
    }

    /// From now on, count what of the plan runs (`pbxctl test --coverage`).
    pub fn record_coverage(&mut self) {
        self.cx.coverage = Some(coverage::Ran::new(&self.cx.plan));
    }

    /// What of the plan ran since [`Engine::record_coverage`], if it was called.
    pub fn coverage(&self) -> Option<&coverage::Ran> {
        self.cx.coverage.as_ref()
    }

    /// Feeds one input at time `now`.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        match input {
            Input::Call { leg, from, to } => self.start_call(now, leg, from, to, false),
            Input::Inbound { leg, from, to } => self.start_call(now, leg, from, to, true),
            Input::Digit { leg, digit } => self.digit(now, leg, digit),
            Input::Progress { leg, progress } => self.progress(now, leg, progress),
            Input::Hangup { leg } => self.hung_up(now, leg),
            Input::Verified { request, matched } => self.verified(now, request, matched),
        }
    }

    /// The next output, if any; drain after every input.
    pub fn poll(&mut self) -> Option<Output> {
        self.cx.out.pop_front()
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

    /// Ids of legs still up, callers' and placed.
    pub fn live_legs(&self) -> Vec<LegId> {
        self.legs.keys().copied().collect()
    }

    /// Whether leg `id` is still up.
    pub fn has_leg(&self, id: LegId) -> bool {
        self.legs.contains_key(&id)
    }

    // ----- inputs ---------------------------------------------------------------

    /// A new caller's leg; `outside` says it came in on a trunk, so its number is never
    /// taken for an extension's.
    fn start_call(&mut self, now: Timestamp, id: LegId, from: String, to: String, outside: bool) {
        let is_ext = match self.cx.store.extension(&from) {
            Ok(r) => r.is_some() && !outside,
            Err(e) => {
                self.cx.warn(Some(id), e.to_string());
                self.cx.emit(id, Event::Reject(RejectReason::Unavailable));
                return;
            }
        };
        let to = to.trim_end_matches('#').to_string();
        let vars = self.cx.plan.vars.len();
        let leg = Leg::new(id, Role::Caller, (from, is_ext), to.clone(), now, vars);
        self.legs.insert(id, leg);
        let entry = if is_ext { Entry::Dial } else { Entry::Inbound };
        self.route(now, id, entry, &to);
    }

    fn digit(&mut self, now: Timestamp, id: LegId, digit: char) {
        let digit_timeout = self.cx.settings.engine.digit_timeout;
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if matches!(leg.wait, Wait::Mailbox(_)) {
            if mailbox::key(&mut self.cx, leg, now, digit) == mailbox::Next::End {
                self.cx.emit(id, Event::Hangup);
                self.end_call(now, id);
            }
            return;
        }
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
                self.incall(now, id);
            }
            _ => {}
        }
    }

    /// Digits pressed during a call: the first `incall` rule that takes them runs on
    /// the leg that pressed them.
    fn incall(&mut self, now: Timestamp, id: LegId) {
        let plan = Arc::clone(&self.cx.plan);
        let typed = self.legs[&id].incall_digits.clone();
        let hit = plan
            .rules
            .incall
            .iter()
            .find(|r| self.rule_takes(r, &typed, id, now));
        match hit {
            Some(rule) => {
                let leg = self.legs.get_mut(&id).expect("the leg pressed a key");
                leg.incall_digits.clear();
                start_program(&plan, &mut self.cx.coverage, leg, rule, &typed);
                leg.in_incall = true;
                self.resume(now, id);
            }
            None => {
                let could_grow = plan.rules.incall.iter().any(|r| match &r.matcher {
                    Matcher::Pattern(p) => p.literal().is_none_or(|l| l.starts_with(&typed)),
                    _ => false,
                });
                // A code no rule can still complete, or one longer than any phone
                // sends, starts over.
                if (!could_grow || typed.len() > MAX_INCALL_DIGITS)
                    && let Some(leg) = self.legs.get_mut(&id)
                {
                    leg.incall_digits.clear();
                }
            }
        }
    }

    fn progress(&mut self, now: Timestamp, placed: LegId, progress: Progress) {
        let Some(Role::Placed { call, .. }) = self.legs.get(&placed).map(|l| l.role.clone()) else {
            return;
        };
        let waiting = self.legs.get(&call).is_some_and(|c| match &c.wait {
            Wait::Alerting(a) => a.placed == Some(placed),
            Wait::Dialing { placed: p, .. } => *p == placed,
            _ => false,
        });
        if !waiting {
            // Nobody waits for it any more (the caller moved on): let it go.
            if !matches!(progress, Progress::Ringing) {
                self.drop_placed(placed, true);
            }
            return;
        }
        match progress {
            Progress::Ringing => {}
            Progress::Answered => self.bridge(now, call, placed),
            Progress::Busy | Progress::Failed => {
                self.drop_placed(placed, false);
                let busy = progress == Progress::Busy;
                let caller = self.legs.get_mut(&call).expect("the caller waits");
                match &mut caller.wait {
                    Wait::Alerting(a) => {
                        a.placed = None;
                        a.busy = busy;
                        caller.outcome.failed |= !busy;
                        self.alert_next(now, call);
                    }
                    _ => {
                        caller.outcome.busy = busy;
                        caller.outcome.failed = !busy;
                        let reason = if busy {
                            RejectReason::Busy
                        } else {
                            RejectReason::Unavailable
                        };
                        program::reject(&mut self.cx, caller, reason);
                        self.end_call(now, call);
                    }
                }
            }
        }
    }

    fn hung_up(&mut self, now: Timestamp, id: LegId) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        match (&leg.role, &leg.wait) {
            (Role::Caller, _) => self.end_call(now, id),
            // A phone that stops ringing by itself did not take the call.
            (Role::Placed { .. }, Wait::Offered) => self.progress(now, id, Progress::Failed),
            (Role::Placed { call, .. }, _) => {
                let call = *call;
                // The far end hung up: the PBX ends the caller's side too.
                self.end_leg(id, false);
                if self.legs.contains_key(&call) {
                    self.cx.emit(call, Event::Hangup);
                    self.end_call(now, call);
                }
            }
        }
    }

    fn verified(&mut self, now: Timestamp, request: VerifyId, matched: bool) {
        let waiting = self.legs.iter().find_map(|(id, l)| match &l.wait {
            Wait::Verify { request: r, .. } if *r == request => Some(*id),
            _ => None,
        });
        let Some(id) = waiting else {
            return;
        };
        let mut leg = self.legs.remove(&id).expect("found above");
        let Wait::Verify { pending, .. } = std::mem::replace(&mut leg.wait, Wait::Running) else {
            unreachable!("matched above");
        };
        let next = program::conclude_check(&mut self.cx, &mut leg, now, &pending, matched);
        self.legs.insert(id, leg);
        match next {
            Ok(pc) => {
                self.legs.get_mut(&id).expect("put back").pc = pc;
                self.resume(now, id);
            }
            Err(fault) => self.fail(now, id, &fault),
        }
    }

    fn timer(&mut self, now: Timestamp, id: LegId) {
        let prompt_timeout = self.cx.settings.engine.prompt_timeout;
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        leg.deadline = None;
        if matches!(leg.wait, Wait::Mailbox(_)) {
            if mailbox::timeout(&mut self.cx, leg, now) == mailbox::Next::End {
                self.cx.emit(id, Event::Hangup);
                self.end_call(now, id);
            }
            return;
        }
        match &mut leg.wait {
            Wait::Collect {
                digits,
                prompt,
                repeated,
                ..
            } => {
                if !digits.is_empty() {
                    self.complete_input(now, id);
                } else if !*repeated {
                    *repeated = true;
                    let prompt = prompt.clone();
                    leg.deadline = Some(now.after(prompt_timeout));
                    self.cx.emit(
                        id,
                        Event::Prompt {
                            id: prompt,
                            arg: None,
                        },
                    );
                } else {
                    self.cx.emit(id, Event::Hangup);
                    self.end_call(now, id);
                }
            }
            Wait::Alerting(a) => {
                // The phone rang its time out.
                let placed = a.placed.take();
                a.busy = false;
                if let Some(p) = placed {
                    self.drop_placed(p, true);
                }
                self.alert_next(now, id);
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
        let leg = self.legs.get_mut(&id).expect("the leg collects");
        if let Wait::Collect { var, digits, .. } = std::mem::replace(&mut leg.wait, Wait::Running) {
            leg.vars[var] = Value::Digits(digits);
        }
        leg.deadline = None;
        leg.pc += 1;
        self.resume(now, id);
    }

    // ----- running programs -------------------------------------------------------

    /// Runs a leg's program and does what it yields.
    fn resume(&mut self, now: Timestamp, id: LegId) {
        let Some(mut leg) = self.legs.remove(&id) else {
            return;
        };
        let result = program::run(&mut self.cx, &mut leg, now);
        self.legs.insert(id, leg);
        match result {
            Ok(y) => self.act(now, id, y),
            Err(fault) => self.fail(now, id, &fault),
        }
    }

    /// A plan fault: logged with its place, and the call ends.
    fn fail(&mut self, now: Timestamp, id: LegId, fault: &eval::Fault) {
        self.cx.fault(id, fault);
        self.cx.emit(id, Event::Hangup);
        self.end_call(now, id);
    }

    fn act(&mut self, now: Timestamp, id: LegId, y: Yield) {
        match y {
            Yield::Wait => {}
            Yield::End => self.end_call(now, id),
            Yield::Route(digits) => self.route(now, id, Entry::Dial, &digits),
            Yield::Ring(ext) => self.ring(now, id, ext),
            Yield::Forward(target) => self.forward(now, id, target),
            Yield::Alert { steps, busy } => {
                let leg = self.legs.get_mut(&id).expect("the leg yielded");
                leg.wait = Wait::Alerting(Alerting {
                    placed: None,
                    target: None,
                    rest: steps.into(),
                    busy_branch: busy,
                    busy: false,
                });
                self.alert_next(now, id);
            }
            Yield::Outbound(number) => {
                let leg = &self.legs[&id];
                let class = self.cx.class_of(leg);
                match self.cx.may_call_out(now, leg, class, &number) {
                    Ok(()) => self.call_out(now, id, Target::Outside(number)),
                    Err(reason) => self.refuse(now, id, reason),
                }
            }
        }
    }

    /// Rejects the call on `id` and ends it.
    fn refuse(&mut self, now: Timestamp, id: LegId, reason: RejectReason) {
        if let Some(leg) = self.legs.get_mut(&id) {
            program::reject(&mut self.cx, leg, reason);
        }
        self.end_call(now, id);
    }

    /// Goes on after the op the leg stopped at (a forward not taken, an alert over).
    fn go_on(&mut self, now: Timestamp, id: LegId, to: Option<usize>) {
        let leg = self.legs.get_mut(&id).expect("the leg goes on");
        leg.wait = Wait::Running;
        leg.deadline = None;
        leg.pc = to.unwrap_or(leg.pc + 1);
        self.resume(now, id);
    }

    // ----- routing ----------------------------------------------------------------

    /// Runs the first rule of a list that takes these digits.
    fn route(&mut self, now: Timestamp, id: LegId, entry: Entry, digits: &str) {
        if matches!(entry, Entry::Dial) && self.cx.settings.engine.is_emergency(digits) {
            // Decided before any rule: nothing in the plan can restrict it.
            let target = Target::Emergency(self.emergency_target(digits));
            self.call_out(now, id, target);
            return;
        }
        let plan = Arc::clone(&self.cx.plan);
        let rules = match entry {
            Entry::Dial => &plan.rules.dial,
            Entry::Inbound => &plan.rules.inbound,
        };
        match rules.iter().find(|r| self.rule_takes(r, digits, id, now)) {
            Some(rule) => {
                let leg = self.legs.get_mut(&id).expect("the leg dials");
                start_program(&plan, &mut self.cx.coverage, leg, rule, digits);
                self.resume(now, id);
            }
            None => self.refuse(now, id, RejectReason::NotFound),
        }
    }

    fn rule_takes(&mut self, rule: &Rule, digits: &str, id: LegId, now: Timestamp) -> bool {
        if !self.rule_matches(rule, digits, now) {
            return false;
        }
        let Some(guard) = &rule.guard else {
            return true;
        };
        match self.cx.scope(Some(&self.legs[&id]), now).eval(guard) {
            Ok(v) => v.truthy(),
            Err(f) => {
                self.cx.fault(id, &f);
                false
            }
        }
    }

    /// Whether a rule's matcher takes these digits, its `when` aside.
    fn rule_matches(&self, rule: &Rule, digits: &str, now: Timestamp) -> bool {
        match &rule.matcher {
            Matcher::Any => true,
            Matcher::Pattern(p) => p.matches(digits).is_some(),
            Matcher::In(setting) => self
                .cx
                .scope(None, now)
                .setting(*setting, rule.span)
                .is_ok_and(|list| Value::Digits(digits.to_string()).member_of(&list)),
            Matcher::Extension => matches!(self.cx.store.extension(digits), Ok(Some(_))),
        }
    }

    /// `9911` leaves as `911`: the prefix is stripped when what remains is itself
    /// an emergency number.
    fn emergency_target(&self, digits: &str) -> String {
        let engine = &self.cx.settings.engine;
        match engine.outside_number(digits) {
            Some(rest) if engine.is_emergency(rest) => rest.to_string(),
            _ => digits.to_string(),
        }
    }

    /// `ring EXT`: the call reaches an extension, through the `incoming` rules.
    fn ring(&mut self, now: Timestamp, id: LegId, ext: String) {
        if !matches!(self.cx.store.extension(&ext), Ok(Some(_))) {
            return self.refuse(now, id, RejectReason::NotFound);
        }
        let leg = self.legs.get_mut(&id).expect("the leg rings");
        leg.callee = Some(ext.clone());
        if leg.chain.last() != Some(&ext) {
            leg.chain.push(ext.clone());
        }
        let plan = Arc::clone(&self.cx.plan);
        match plan
            .rules
            .incoming
            .iter()
            .find(|r| self.rule_takes(r, &ext, id, now))
        {
            Some(rule) => {
                let leg = self.legs.get_mut(&id).expect("the leg rings");
                start_program(&plan, &mut self.cx.coverage, leg, rule, &ext);
                self.resume(now, id);
            }
            None => {
                let message = format!("no `incoming` rule takes a call to {ext}");
                self.cx.warn(Some(id), message);
                self.refuse(now, id, RejectReason::Unavailable);
            }
        }
    }

    /// `forward TARGET` (FC-2): on to another extension through its `incoming` rules,
    /// or out under the forwarding extension's class. A forward that would be a sixth
    /// hop, or come back to an extension already in the chain, is not taken: the plan
    /// goes on with the extension reached.
    fn forward(&mut self, now: Timestamp, id: LegId, target: String) {
        let leg = &self.legs[&id];
        let forwarder = leg.callee.clone().unwrap_or_default();
        let not_taken =
            |why: String| format!("forward from {forwarder} to {target} not taken: {why}");
        if matches!(self.cx.store.extension(&target), Ok(Some(_))) {
            let hops = leg.chain.len().saturating_sub(1);
            let why = if leg.chain.contains(&target) {
                Some(format!("{target} is already in the chain"))
            } else if hops >= MAX_FORWARD_HOPS {
                Some(format!(
                    "the call has been forwarded {MAX_FORWARD_HOPS} times"
                ))
            } else {
                None
            };
            return match why {
                Some(why) => {
                    self.cx.warn(Some(id), not_taken(why));
                    self.go_on(now, id, None);
                }
                None => self.ring(now, id, target),
            };
        }
        let Some(number) = self
            .cx
            .settings
            .engine
            .outside_number(&target)
            .map(str::to_string)
        else {
            self.cx.warn(
                Some(id),
                not_taken("not an extension or an outside number".into()),
            );
            return self.go_on(now, id, None);
        };
        // No toll bypass: the forwarding extension's class decides, not the caller's.
        let class = self.cx.extension_class(&forwarder);
        match self.cx.may_call_out(now, leg, class, &number) {
            Ok(()) => self.call_out(now, id, Target::Outside(number)),
            Err(reason) => {
                self.cx
                    .warn(Some(id), not_taken(format!("{reason} for {forwarder}")));
                self.go_on(now, id, None);
            }
        }
    }

    // ----- placing legs -------------------------------------------------------------

    /// Asks the driver to place a leg for the call on `call`.
    fn place(&mut self, call: LegId, target: Target) -> LegId {
        let id = self.cx.next_placed();
        let caller = &self.legs[&call];
        let from = caller.caller.clone();
        let party = match &target {
            Target::Extension(e) => {
                if !caller.caller_is_extension
                    && let Err(e) = self.cx.store.set_last_external_caller(e, &from)
                {
                    self.cx.warn(Some(call), e.to_string());
                }
                (e.clone(), true)
            }
            Target::Outside(n) | Target::Emergency(n) => (n.clone(), false),
        };
        let vars = self.cx.plan.vars.len();
        let role = Role::Placed {
            call,
            target: target.clone(),
        };
        let mut leg = Leg::new(id, role, party, target.to_string(), caller.start, vars);
        leg.wait = Wait::Offered;
        self.legs.insert(id, leg);
        self.cx.out.push_back(Output::Place {
            leg: id,
            call,
            from,
            target,
        });
        id
    }

    /// Calls out for `id` (already allowed) and waits for the far end to answer.
    fn call_out(&mut self, _now: Timestamp, id: LegId, target: Target) {
        let placed = self.place(id, target.clone());
        let leg = self.legs.get_mut(&id).expect("the leg calls out");
        leg.outcome.external = true;
        leg.wait = Wait::Dialing { placed, target };
        leg.deadline = None;
    }

    /// Rings the next number of an `alert`, or ends the alert when none is left.
    fn alert_next(&mut self, now: Timestamp, id: LegId) {
        loop {
            let leg = self.legs.get_mut(&id).expect("the leg alerts");
            let Wait::Alerting(a) = &mut leg.wait else {
                return;
            };
            let Some(step) = a.rest.pop_front() else {
                let (busy, branch) = (a.busy, a.busy_branch);
                leg.outcome.busy = busy;
                leg.outcome.unanswered = !busy;
                let to = if busy { branch } else { None };
                if let (Some(ran), Some(_)) = (&mut self.cx.coverage, branch) {
                    let arm = if busy {
                        coverage::Arm::Busy
                    } else {
                        coverage::Arm::Unanswered
                    };
                    ran.arm(leg.program, leg.pc, arm);
                }
                return self.go_on(now, id, to);
            };
            let is_extension = matches!(self.cx.store.extension(&step.number), Ok(Some(_)));
            let target = if is_extension {
                if self.cx.presence.is_busy(&step.number) {
                    // In an answered call: busy without ringing (FW-1).
                    if let Wait::Alerting(a) = &mut self.legs.get_mut(&id).expect("alerts").wait {
                        a.busy = true;
                    }
                    continue;
                }
                Target::Extension(step.number.clone())
            } else {
                let Some(number) = self.cx.settings.engine.outside_number(&step.number) else {
                    let message =
                        format!("`{}` is not an extension or an outside number", step.number);
                    self.cx.warn(Some(id), message);
                    continue;
                };
                // A follow-me number outside is called under the callee's class.
                let leg = &self.legs[&id];
                let class = match &leg.callee {
                    Some(callee) => self.cx.extension_class(callee),
                    None => self.cx.class_of(leg),
                };
                let number = number.to_string();
                if let Err(reason) = self.cx.may_call_out(now, leg, class, &number) {
                    let message = format!("not ringing {}: {reason}", step.number);
                    self.cx.warn(Some(id), message);
                    continue;
                }
                Target::Outside(number)
            };
            let placed = self.place(id, target.clone());
            if let Target::Extension(e) = &target {
                self.cx.emit(id, Event::Ringing(e.clone()));
            }
            let leg = self.legs.get_mut(&id).expect("the leg alerts");
            if let Wait::Alerting(a) = &mut leg.wait {
                a.placed = Some(placed);
                a.target = Some(target);
                a.busy = false;
            }
            leg.deadline = Some(now.after(step.time));
            return;
        }
    }

    /// Connects the caller's leg `call` and the placed leg that answered.
    fn bridge(&mut self, now: Timestamp, call: LegId, placed: LegId) {
        let caller = self.legs.get_mut(&call).expect("the caller waits");
        let target = match std::mem::replace(&mut caller.wait, Wait::Connected) {
            Wait::Alerting(a) => a.target,
            Wait::Dialing { target, .. } => Some(target),
            _ => None,
        };
        let target = target.unwrap_or_else(|| Target::Extension(String::new()));
        caller.bridged = Some(placed);
        caller.deadline = None;
        caller.outcome.connected_at = Some(now);
        caller.outcome.final_party = Some(target.number().to_owned());
        // A call that reached the trunk is outbound, however it got there.
        caller.outcome.external |= !matches!(target, Target::Extension(_));
        let caller_number = caller.caller.clone();
        let caller_ext = caller.extension().map(str::to_owned);
        let leg = self.legs.get_mut(&placed).expect("the placed leg answered");
        leg.wait = Wait::Connected;
        leg.bridged = Some(call);
        let placed_ext = leg.extension().map(str::to_owned);
        for ext in [caller_ext, placed_ext].into_iter().flatten() {
            self.cx.presence.enter(&ext);
        }
        self.cx.out.push_back(Output::Bridge { a: call, b: placed });
        self.cx.emit(call, Event::Connect(target.to_string()));
        self.cx.emit(placed, Event::Connect(caller_number));
    }

    /// Forgets a placed leg; `tell` asks the driver to hang it up.
    fn drop_placed(&mut self, placed: LegId, tell: bool) {
        if self.legs.contains_key(&placed) {
            self.end_leg(placed, tell);
        }
    }

    /// Removes a leg: out of presence if it was in a call, and hung up by the driver
    /// if `tell` (a placed leg that was connected also hears `hangup`).
    fn end_leg(&mut self, id: LegId, tell: bool) -> Option<Leg> {
        let leg = self.legs.remove(&id)?;
        if leg.bridged.is_some()
            && let Some(ext) = leg.extension()
        {
            self.cx.presence.leave(ext);
        }
        if tell && matches!(leg.role, Role::Placed { .. }) {
            if leg.bridged.is_some() {
                self.cx.emit(id, Event::Hangup);
            }
            self.cx.out.push_back(Output::End { leg: id });
        }
        Some(leg)
    }

    /// Ends the call a leg belongs to: its placed legs are hung up and the caller's
    /// leg leaves its call record.
    fn end_call(&mut self, now: Timestamp, id: LegId) {
        let Some(call) = self.legs.get(&id).map(Leg::call) else {
            return;
        };
        let placed: Vec<LegId> = self
            .legs
            .values()
            .filter(|l| matches!(l.role, Role::Placed { call: c, .. } if c == call))
            .map(|l| l.id)
            .collect();
        for p in placed {
            self.end_leg(p, true);
        }
        if let Some(caller) = self.end_leg(call, false) {
            let record =
                call_record::call_record(&caller, now, &self.cx.settings.engine, &self.cx.store);
            if let Err(e) = self.cx.store.write_call_record(&record) {
                self.cx
                    .warn(Some(call), format!("call record not written: {e}"));
            }
            let status = call_record::status(&caller);
            self.cx
                .out
                .push_back(Output::CallEnded { leg: call, status });
        }
    }
}

/// Starts `rule`'s program on `leg` for `digits`: one place for dial, inbound,
/// incoming and in-call rules alike.
fn start_program(
    plan: &Plan,
    coverage: &mut Option<coverage::Ran>,
    leg: &mut Leg,
    rule: &Rule,
    digits: &str,
) {
    if let Some(ran) = coverage {
        ran.enter(rule.program);
    }
    if let Matcher::Pattern(p) = &rule.matcher {
        for (name, value) in p.matches(digits).unwrap_or_default() {
            if let Some(slot) = plan.var(&name) {
                leg.vars[slot] = Value::Digits(value);
            }
        }
    }
    if let Some(slot) = plan.var("dialed") {
        leg.vars[slot] = Value::Digits(digits.to_string());
    }
    leg.program = rule.program;
    leg.pc = 0;
    leg.wait = Wait::Running;
    leg.deadline = None;
}

#[cfg(test)]
mod tests;
