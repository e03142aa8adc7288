//! `pbxctl route`: what digits dialed from an extension do. Two parts: which `dial`
//! rule takes them and why each other rule did not, read from the plan in the caller's
//! state; then what the call does, by running it on this engine until it waits for the
//! caller or ends. The run changes state: give the engine a copy of the store.

use super::Engine;
use super::event::{Event, Input, LegId, Output, Target};
use super::leg::{Leg, Role, Wait};
use crate::clock::Timestamp;
use crate::dsl::Plan;
use crate::dsl::plan::{Matcher, Op, Rule};
use crate::dsl::span::Span;
use crate::hooks::Decision;
use crate::store::{ExtensionState, Store};
use serde::Serialize;
use std::cmp::Ordering;
use std::sync::Arc;

/// The caller's leg of the explained call.
const CALLER: LegId = 1;

/// `wait` pauses run through before the explanation stops (a plan may loop on them).
const MAX_PAUSES: usize = 64;

/// Ops looked ahead of an `ask` for the check that follows it.
const LOOK_AHEAD: usize = 32;

/// What dialed digits do from an extension, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The digits, a trailing `#` dropped as a phone's send key.
    pub digits: String,
    /// The calling extension.
    pub from: String,
    /// The time the call is explained at (RFC 3339, UTC).
    pub at: String,
    /// Whether the digits are an emergency number (decided before any rule).
    pub emergency: bool,
    /// Every `dial` rule, in plan order, with its verdict.
    pub rules: Vec<RuleVerdict>,
    /// The caller's class of service.
    pub class: Option<ClassInForce>,
    /// The state and class checks that apply to the call.
    pub checks: Vec<Check>,
    /// The hooks the call consults, and what each says.
    pub hooks: Vec<HookUse>,
    /// What the caller hears and sees, in order (`prompt enter-pin`, `ringing 102`).
    pub heard: Vec<String>,
    /// Where the call stands when it waits for the caller, or how it ended.
    pub outcome: RouteOutcome,
    /// The trunk an outside call leaves by: filled in by the driver, which knows them.
    pub trunk: Option<String>,
    /// The trunks an emergency call tries next, in turn (driver-filled, like `trunk`).
    pub next_trunks: Vec<String>,
    /// The number sent out, outside prefix stripped.
    pub number_sent: Option<String>,
    /// What the call changed of the caller's state, before it waited or ended (in the
    /// engine's store: give it a copy and the database keeps its state).
    pub changes: Vec<String>,
    /// Plan faults and store errors met on the way.
    pub warnings: Vec<String>,
}

/// One `dial` rule and what it made of the digits.
#[derive(Debug, Clone, Serialize)]
pub struct RuleVerdict {
    /// Its line in the plan.
    pub line: usize,
    /// Its head as written (`dial 9<number>`).
    pub head: String,
    /// What it made of the digits.
    pub verdict: Verdict,
    /// Why, in words.
    pub why: String,
}

/// What a rule made of the digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The first rule that takes them: it runs.
    Matched,
    /// Its matcher does not take them.
    NoMatch,
    /// Its matcher takes them, but its `when` is false.
    GuardFalse,
    /// It would take them too, but an earlier rule does.
    Shadowed,
    /// No rule is consulted (an emergency number).
    NotReached,
}

impl Verdict {
    /// The word JSON and the table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Matched => "matched",
            Verdict::NoMatch => "no-match",
            Verdict::GuardFalse => "guard-false",
            Verdict::Shadowed => "shadowed",
            Verdict::NotReached => "not-reached",
        }
    }
}

/// A class of service, by number and label.
#[derive(Debug, Clone, Serialize)]
pub struct ClassInForce {
    /// Its number.
    pub number: u32,
    /// Its label in the plan.
    pub label: String,
}

/// A check on the call: the class, the outbound grant, the caller's state.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked (`class`, `outbound grant`, `blocked`, `emergency`).
    pub name: String,
    /// Whether the call passes it.
    pub passed: bool,
    /// Why, in words.
    pub why: String,
}

/// A hook the call consults.
#[derive(Debug, Clone, Serialize)]
pub struct HookUse {
    /// The hook's name.
    pub name: String,
    /// The plan line of the `run` op, or of the hook for `before-outbound`.
    pub line: Option<usize>,
    /// What it says for this call.
    pub says: String,
}

/// Where the call stands when it waits for the caller, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RouteOutcome {
    /// An extension's phones ring.
    Extension {
        /// The extension.
        extension: String,
        /// How long they ring before the plan goes on.
        rings_for: Option<String>,
    },
    /// The call leaves through the trunk.
    Outbound {
        /// The number sent.
        number: String,
    },
    /// An emergency call leaves through the trunk.
    Emergency {
        /// The number sent.
        number: String,
    },
    /// The caller leaves a message.
    Voicemail {
        /// The mailbox.
        mailbox: String,
    },
    /// The caller is in a mailbox's menu, waiting for keys.
    Mailbox,
    /// The plan refused the call.
    Rejected {
        /// The reject reason.
        reason: String,
    },
    /// A prompt waits for the caller's digits.
    Prompt {
        /// The prompt played.
        prompt: String,
        /// The variable the digits go into.
        into: String,
        /// What follows the digits, up to the secret check if one comes.
        then: Vec<String>,
    },
    /// The call ended without a reject (a feature done, `hangup`).
    Hangup,
    /// The call stands somewhere else (named by the engine's wait).
    Other {
        /// What it waits for.
        waits: String,
    },
}

/// What the run of the call gave back.
#[derive(Default)]
struct Run {
    heard: Vec<String>,
    rejected: Option<String>,
    mailbox: Option<String>,
    warnings: Vec<String>,
    clock: Timestamp,
}

impl<S: Store> Engine<S> {
    /// Explains what `digits` dialed from extension `from` do at `now`: the rules'
    /// verdicts, then the call run until it waits for the caller or ends.
    pub fn explain(&mut self, now: Timestamp, from: &str, digits: &str) -> Explanation {
        // As the engine takes dialed digits: `#` is the phone's send key.
        let digits = digits.trim_end_matches('#');
        let emergency = self.cx.settings.engine.is_emergency(digits);
        let is_extension = matches!(self.cx.store.extension(from), Ok(Some(_)));
        let vars = self.cx.plan.vars.len();
        let caller = (from.to_string(), is_extension);
        let leg = Leg::new(CALLER, Role::Caller, caller, digits.into(), now, vars);
        let plan = Arc::clone(&self.cx.plan);
        let (rules, winner) = self.verdicts(&plan, &leg, digits, emergency, now);
        let class = self.cx.class_of(&leg).map(|number| ClassInForce {
            number,
            label: plan
                .classes
                .get(&number)
                .map_or_else(|| "not in the plan".into(), |c| c.label.clone()),
        });
        // The hooks and the grant are read in the state the call starts in.
        let run_hooks = winner.map_or_else(Vec::new, |w| self.run_hooks(&plan, w, &leg, now));
        let mut checks = vec![self.blocked_check(from)];
        let before = self.caller_state(from);
        let run = self.run_call(now, from, digits);
        let changes = state_changes(&before, &self.caller_state(from));
        let outcome = self.outcome(&plan, &run);
        let number_sent = match &outcome {
            RouteOutcome::Outbound { number } | RouteOutcome::Emergency { number } => {
                Some(number.clone())
            }
            _ => None,
        };
        let mut hooks = Vec::new();
        if emergency {
            checks.push(Check {
                name: "emergency".into(),
                passed: true,
                why: "an emergency number: connected before any rule, from every state; \
                      no class, grant or hook can refuse it"
                    .into(),
            });
        } else if let Some(number) = number_sent.clone().or_else(|| {
            self.cx
                .settings
                .engine
                .outside_number(digits)
                .map(Into::into)
        }) {
            let permitted = self.class_check(&plan, &leg, &number, &mut checks);
            checks.extend(self.grant_check(from, now));
            hooks.push(self.before_outbound(&plan, &leg, &number, permitted, now));
        }
        hooks.extend(run_hooks);
        Explanation {
            digits: digits.to_string(),
            from: from.to_string(),
            at: now.rfc3339(),
            emergency,
            rules,
            class,
            checks,
            hooks,
            heard: run.heard,
            outcome,
            trunk: None,
            next_trunks: Vec::new(),
            number_sent,
            changes,
            warnings: run.warnings,
        }
    }

    /// Every `dial` rule's verdict, and the rule that takes the digits.
    fn verdicts<'p>(
        &self,
        plan: &'p Plan,
        leg: &Leg,
        digits: &str,
        emergency: bool,
        now: Timestamp,
    ) -> (Vec<RuleVerdict>, Option<&'p Rule>) {
        let mut winner: Option<&Rule> = None;
        let verdicts = plan
            .rules
            .dial
            .iter()
            .map(|rule| {
                let (verdict, why) = if emergency {
                    let why = "emergency numbers are decided before any rule";
                    (Verdict::NotReached, why.to_string())
                } else if !self.rule_matches(rule, digits, now) {
                    (Verdict::NoMatch, no_match(plan, rule, digits))
                } else if let Err(why) = self.guard_holds(plan, rule, leg, now) {
                    (Verdict::GuardFalse, why)
                } else if let Some(first) = winner {
                    (Verdict::Shadowed, shadowed(plan, first, rule))
                } else {
                    winner = Some(rule);
                    (Verdict::Matched, matched(rule, digits))
                };
                let (line, head) = head(plan, rule.span);
                RuleVerdict {
                    line,
                    head,
                    verdict,
                    why,
                }
            })
            .collect();
        (verdicts, winner)
    }

    /// Whether a rule's `when` holds for the caller; `Err` says why not.
    fn guard_holds(
        &self,
        plan: &Plan,
        rule: &Rule,
        leg: &Leg,
        now: Timestamp,
    ) -> Result<(), String> {
        let Some(guard) = &rule.guard else {
            return Ok(());
        };
        let text = plan.sources.text(guard.span).trim();
        match self.cx.scope(Some(leg), now).eval(guard) {
            Ok(v) if v.truthy() => Ok(()),
            Ok(_) => Err(format!("takes them, but `when {text}` is false")),
            Err(f) => Err(format!(
                "takes them, but `when {text}` fails: {}",
                f.message
            )),
        }
    }

    /// What `run HOOK` ops of the rule that runs say for this caller.
    fn run_hooks(&self, plan: &Plan, rule: &Rule, leg: &Leg, now: Timestamp) -> Vec<HookUse> {
        let program = &plan.programs[rule.program];
        program
            .ops
            .iter()
            .zip(&program.spans)
            .filter_map(|(op, span)| match op {
                Op::Run(name) => Some(HookUse {
                    name: name.clone(),
                    line: Some(head(plan, *span).0),
                    says: self.ask_hook(name, &self.cx.facts(leg, None), now),
                }),
                _ => None,
            })
            .collect()
    }

    /// `before-outbound`: consulted once the class allows the number.
    fn before_outbound(
        &self,
        plan: &Plan,
        leg: &Leg,
        number: &str,
        permitted: bool,
        now: Timestamp,
    ) -> HookUse {
        let name = "before-outbound";
        let says = if !self.cx.hooks.has(name) {
            "not in the plan: the class alone decides".into()
        } else if !permitted {
            "not consulted: the class refuses first".into()
        } else {
            self.ask_hook(name, &self.cx.facts(leg, Some(number)), now)
        };
        HookUse {
            name: name.into(),
            line: plan.hooks.get(name).map(|h| head(plan, h.span).0),
            says,
        }
    }

    /// A hook's answer in words; hooks are sandboxed and pure, so asking is safe.
    fn ask_hook(&self, name: &str, facts: &serde_json::Value, now: Timestamp) -> String {
        match self.cx.hooks.call(name, facts, now) {
            Ok(None) => "not in the plan: nothing to ask".into(),
            Ok(Some(Decision::Allow)) => "allows".into(),
            Ok(Some(Decision::Deny(reason))) => format!("denies: {reason}"),
            Err(failure) => format!("fails, which denies: {failure}"),
        }
    }

    /// The caller's state, as far as the store knows it.
    fn caller_state(&self, from: &str) -> ExtensionState {
        self.cx
            .store
            .extension(from)
            .ok()
            .flatten()
            .map(|r| r.state)
            .unwrap_or_default()
    }

    /// The caller's terminal lock.
    fn blocked_check(&self, from: &str) -> Check {
        let blocked = matches!(self.cx.store.extension(from), Ok(Some(r)) if r.state.blocked);
        Check {
            name: "blocked".into(),
            passed: !blocked,
            why: if blocked {
                format!("{from} is blocked")
            } else {
                format!("{from} is not blocked")
            },
        }
    }

    /// Whether the caller's class permits an outside number, and by which line.
    fn class_check(&self, plan: &Plan, leg: &Leg, number: &str, out: &mut Vec<Check>) -> bool {
        let (passed, why) = match self.cx.class_of(leg) {
            None => (
                false,
                format!("{} has no class: outside numbers are refused", leg.caller),
            ),
            Some(n) => match plan.classes.get(&n) {
                None => (false, format!("class {n} is not in the plan: refused")),
                Some(class) => {
                    let name = format!("class {n} ({})", class.label);
                    match class.decides(number) {
                        Some((true, p)) => (
                            true,
                            format!("{name} allows {number}: `allow {}` decides", p.text),
                        ),
                        Some((false, p)) => (
                            false,
                            format!("{name} denies {number}: `deny {}` decides", p.text),
                        ),
                        None => (false, format!("{name} has no line for {number}: refused")),
                    }
                }
            },
        };
        out.push(Check {
            name: "class".into(),
            passed,
            why,
        });
        passed
    }

    /// PIN-protected outbound calling: whether a grant is open at `now`.
    fn grant_check(&self, from: &str, now: Timestamp) -> Option<Check> {
        let record = self.cx.store.extension(from).ok().flatten()?;
        if !record.config.pin_protect.enabled {
            return None;
        }
        let (passed, why) = match record.state.outbound_grant_until {
            Some(until) if now < until => (
                true,
                format!("PIN protection on; outbound granted until {until}"),
            ),
            _ => (
                false,
                format!("PIN protection on; no outbound grant open at {now}"),
            ),
        };
        Some(Check {
            name: "outbound grant".into(),
            passed,
            why,
        })
    }

    /// Runs the call until the caller has to act or it ends; `wait` pauses run through.
    fn run_call(&mut self, now: Timestamp, from: &str, digits: &str) -> Run {
        let mut run = Run {
            clock: now,
            ..Run::default()
        };
        let call = Input::Call {
            leg: CALLER,
            from: from.into(),
            to: digits.into(),
        };
        self.handle(now, call);
        self.drain(&mut run);
        for _ in 0..MAX_PAUSES {
            let pause = self.legs.get(&CALLER).filter(|l| l.wait == Wait::Sleep);
            let Some(until) = pause.and_then(|l| l.deadline) else {
                break;
            };
            run.clock = until;
            self.handle_timeout(until);
            self.drain(&mut run);
        }
        run
    }

    /// Takes the engine's outputs: what the caller hears, and what went wrong.
    fn drain(&mut self, run: &mut Run) {
        while let Some(out) = self.poll() {
            match out {
                Output::Event { leg: CALLER, event } => {
                    match &event {
                        Event::Reject(r) => run.rejected = Some(r.to_string()),
                        Event::Voicemail(m) => run.mailbox = Some(m.clone()),
                        _ => {}
                    }
                    run.heard.push(event.to_string());
                }
                Output::Warning { message, .. } => run.warnings.push(message),
                _ => {}
            }
        }
    }

    /// Where the call stands after the run.
    fn outcome(&self, plan: &Plan, run: &Run) -> RouteOutcome {
        let Some(leg) = self.legs.get(&CALLER) else {
            return match &run.rejected {
                Some(reason) => RouteOutcome::Rejected {
                    reason: reason.clone(),
                },
                None => RouteOutcome::Hangup,
            };
        };
        let target = |t: &Target| match t {
            Target::Extension(e) => RouteOutcome::Extension {
                extension: e.clone(),
                rings_for: leg.deadline.map(|d| d.since(run.clock).to_string()),
            },
            Target::Outside(n) => RouteOutcome::Outbound { number: n.clone() },
            Target::Emergency(n) => RouteOutcome::Emergency { number: n.clone() },
        };
        match &leg.wait {
            Wait::Collect { prompt, var, .. } => RouteOutcome::Prompt {
                prompt: prompt.clone(),
                into: plan.vars[*var].clone(),
                then: then_steps(plan, leg),
            },
            Wait::Dialing { target: t, .. } => target(t),
            Wait::Alerting(a) => match &a.target {
                Some(t) => target(t),
                None => RouteOutcome::Other {
                    waits: "an alert with nothing ringing".into(),
                },
            },
            Wait::Voicemail => RouteOutcome::Voicemail {
                mailbox: run.mailbox.clone().unwrap_or_default(),
            },
            Wait::Mailbox(_) => RouteOutcome::Mailbox,
            other => RouteOutcome::Other {
                waits: match other {
                    Wait::Verify { .. } => "a secret check",
                    Wait::Sleep => "a pause that does not end",
                    Wait::Connected => "nothing: connected",
                    _ => "the engine",
                }
                .into(),
            },
        }
    }
}

/// The fields of the caller's state a call changed, each as `field: before -> after`.
fn state_changes(before: &ExtensionState, after: &ExtensionState) -> Vec<String> {
    let flag = |b: bool| if b { "on" } else { "off" }.to_string();
    let text = |t: &Option<String>| t.clone().unwrap_or_else(|| "none".into());
    let time = |t: &Option<Timestamp>| t.map_or_else(|| "none".into(), |t| t.to_string());
    [
        ("blocked", flag(before.blocked), flag(after.blocked)),
        ("dnd", flag(before.dnd), flag(after.dnd)),
        (
            "forward.all",
            text(&before.forward_all),
            text(&after.forward_all),
        ),
        (
            "forward.busy",
            text(&before.forward_busy),
            text(&after.forward_busy),
        ),
        (
            "forward.no_answer",
            text(&before.forward_no_answer),
            text(&after.forward_no_answer),
        ),
        (
            "outbound grant until",
            time(&before.outbound_grant_until),
            time(&after.outbound_grant_until),
        ),
    ]
    .into_iter()
    .filter(|(_, b, a)| b != a)
    .map(|(field, b, a)| format!("{field}: {b} -> {a}"))
    .collect()
}

/// Why a rule's matcher does not take the digits.
fn no_match(plan: &Plan, rule: &Rule, digits: &str) -> String {
    match &rule.matcher {
        Matcher::Pattern(p) => format!("pattern {} does not take {digits}", p.text),
        Matcher::Extension => format!("{digits} is not an extension"),
        Matcher::In(list) => format!("{digits} is not in {}", plan.settings.name(*list)),
        Matcher::Any => "takes everything".into(),
    }
}

/// Why the winner runs.
fn matched(rule: &Rule, digits: &str) -> String {
    let first = "the first rule that takes them: it runs";
    match &rule.matcher {
        Matcher::Pattern(p) => {
            let captures: Vec<String> = p
                .matches(digits)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| format!("{name} = {value}"))
                .collect();
            if captures.is_empty() {
                first.into()
            } else {
                format!("{first} ({})", captures.join(", "))
            }
        }
        Matcher::Extension => format!("{digits} is an extension; {first}"),
        _ => first.into(),
    }
}

/// Why a later rule that would take the digits does not run: order, not specificity.
fn shadowed(plan: &Plan, first: &Rule, rule: &Rule) -> String {
    let line = head(plan, first.span).0;
    let more_specific = match (&first.matcher, &rule.matcher) {
        (Matcher::Pattern(a), Matcher::Pattern(b)) => b.specificity_cmp(a) == Ordering::Less,
        (Matcher::Any, Matcher::Pattern(_) | Matcher::Extension | Matcher::In(_)) => true,
        _ => false,
    };
    let mut why = format!("would take them too, but line {line} comes first");
    if more_specific {
        why.push_str(" (it is more specific, but the first rule that takes them wins)");
    }
    why
}

/// The plan line of a span and that line's head, comment and `{` left out.
fn head(plan: &Plan, span: Span) -> (usize, String) {
    let file = plan.sources.file(span.file);
    let index = file.line_index(span.start as usize);
    let start = span.start as usize;
    let end = file.line_range(index).map_or(start, |r| r.end);
    let text = &file.text[start..end];
    // `#` is a key as well as a comment: only a word starting with it is a comment.
    let text = match text.find('{') {
        Some(i) => &text[..i],
        None => text.find(" #").map_or(text, |i| &text[..i]),
    };
    (
        index + 1,
        text.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

/// What follows an `ask`: further asks, up to the secret check if one comes.
fn then_steps(plan: &Plan, leg: &Leg) -> Vec<String> {
    let program = &plan.programs[leg.program];
    let mut steps = Vec::new();
    let ahead = program.ops.iter().zip(&program.spans).skip(leg.pc + 1);
    for (op, span) in ahead.take(LOOK_AHEAD) {
        match op {
            Op::Ask { prompt, .. } => steps.push(format!("ask {prompt}")),
            Op::Check { .. } => {
                steps.push(head(plan, *span).1);
                return steps;
            }
            Op::Hangup | Op::Reject(_) | Op::Outbound(_) | Op::Dial { .. } | Op::Ring(_) => break,
            _ => {}
        }
    }
    // No check follows: what the digits are for is the plan's business.
    steps.clear();
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Hooks;
    use crate::store::{SecretHasher, SqliteStore};

    /// 9 a.m. and 11 p.m. UTC on 2026-03-01.
    const DAY: Timestamp = Timestamp(1_772_355_600_000);
    const NIGHT: Timestamp = Timestamp(1_772_406_000_000);

    /// The mechanisms plan (hooks, `wait`) over 101 (class 1) and 103 (class 4).
    fn engine() -> Engine<SqliteStore> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::dsl::load(&root.join("tests/plans/mechanisms.pbx")).unwrap();
        let hooks = Hooks::compile(&plan).unwrap();
        let given = "extensions:\n  \"101\": { class: 1 }\n  \"103\": { class: 4 }\n";
        let given: crate::directory::Directory = serde_saphyr::from_str(given).unwrap();
        let store = SqliteStore::in_memory().unwrap();
        store.provision(&given, &SecretHasher::fast()).unwrap();
        let settings = plan.default_settings();
        Engine::new(Arc::new(plan), Arc::new(hooks), settings, store)
    }

    fn hook<'a>(e: &'a Explanation, name: &str) -> &'a HookUse {
        e.hooks
            .iter()
            .find(|h| h.name == name)
            .expect("the hook is listed")
    }

    #[test]
    fn a_run_hook_says_what_it_decides_at_the_time_given() {
        let day = engine().explain(DAY, "101", "5004");
        assert_eq!(hook(&day, "night").says, "allows");
        assert_eq!(day.heard, ["prompt feature-unavailable", "hangup"]);
        let night = engine().explain(NIGHT, "101", "5004");
        assert_eq!(hook(&night, "night").says, "denies: restricted");
        assert_eq!(
            night.outcome,
            RouteOutcome::Rejected {
                reason: "restricted".into()
            }
        );
    }

    #[test]
    fn before_outbound_is_asked_only_when_the_class_allows() {
        let allowed = engine().explain(DAY, "101", "919005551234");
        assert_eq!(hook(&allowed, "before-outbound").says, "denies: restricted");
        assert_eq!(allowed.number_sent, None);
        let refused = engine().explain(DAY, "103", "919005551234");
        assert_eq!(
            hook(&refused, "before-outbound").says,
            "not consulted: the class refuses first"
        );
        let out = engine().explain(DAY, "101", "95551234");
        assert_eq!(hook(&out, "before-outbound").says, "allows");
        assert_eq!(out.number_sent.as_deref(), Some("5551234"));
    }

    #[test]
    fn a_pause_runs_through_and_a_trailing_hash_is_the_send_key() {
        let e = engine().explain(DAY, "101", "5003#");
        assert_eq!(e.digits, "5003");
        assert_eq!(e.heard, ["prompt dial-number", "hangup"]);
        assert_eq!(e.outcome, RouteOutcome::Hangup);
        let winner: Vec<_> = e
            .rules
            .iter()
            .filter(|r| r.verdict == Verdict::Matched)
            .map(|r| r.head.as_str())
            .collect();
        assert_eq!(winner, ["dial 5003"]);
    }

    #[test]
    fn state_changes_name_each_field_that_moved() {
        let before = ExtensionState::default();
        let after = ExtensionState {
            dnd: true,
            forward_all: Some("102".into()),
            ..ExtensionState::default()
        };
        assert_eq!(
            state_changes(&before, &after),
            ["dnd: off -> on", "forward.all: none -> 102"]
        );
        assert!(state_changes(&after, &after).is_empty());
    }
}
