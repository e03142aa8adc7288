//! Toll fraud: the ways a plan or a directory lets someone call out at the owner's cost
//! (a PIN that can be guessed forever, DISA open to anyone, a hook that restricts
//! nothing, international calling for all), and forwards a class will refuse.

use super::flow;
use crate::clock::Timestamp;
use crate::directory::Config;
use crate::dsl::Plan;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::expr::{Expr, ExprKind};
use crate::dsl::plan::{Lockout, Matcher, Op, Policy};
use crate::dsl::settings::Settings;
use crate::hooks::{Decision, Facts, Hooks};
use std::collections::BTreeSet;

/// Outside numbers a toll-restriction hook is tried with: local, national,
/// international both ways, premium.
const PROBE_NUMBERS: &[&str] = &[
    "5550123",
    "2125550123",
    "12125550123",
    "011441632960000",
    "00441632960000",
    "19005550123",
];

/// A sample an international call is judged by, in both common forms.
const INTERNATIONAL: &[&str] = &["011441632960000", "00441632960000"];

/// `secret-without-lockout`: a policy that never locks, guarding a secret whose `ok`
/// branch opens outside calls; with the setting that turned its lockout off, if one did.
pub fn unlocked_secrets(plan: &Plan, settings: &Settings) -> Vec<(Diagnostic, Option<String>)> {
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for program in &plan.programs {
        for (at, op) in program.ops.iter().enumerate() {
            let Op::Check { secret, ok, .. } = op else {
                continue;
            };
            let policy = &plan.policies[secret.policy];
            let Some((why, setting)) = never_locks(policy, plan, settings) else {
                continue;
            };
            let Some(opens) = flow::first_outside(program, *ok, true) else {
                continue;
            };
            if !reported.insert(secret.policy) {
                continue;
            }
            let message = format!(
                "policy `{}` never locks ({why}), yet the `check` at {} opens outside calls (`{}` at {}): a caller can guess PINs call after call without limit",
                policy.name,
                plan.sources.locate(program.spans[at]),
                op_name(&program.ops[opens]),
                plan.sources.locate(program.spans[opens]),
            );
            let finding = Diagnostic::warning(
                "secret-without-lockout",
                plan.sources.first_line(policy.span),
                message,
            );
            out.push((finding, setting));
        }
    }
    out
}

/// Why a policy never locks under these settings, and the setting that decided it;
/// `None` if it may lock.
fn never_locks(
    policy: &Policy,
    plan: &Plan,
    settings: &Settings,
) -> Option<(String, Option<String>)> {
    let Lockout::After { when, .. } = &policy.lockout else {
        return Some(("`lockout off`".into(), None));
    };
    let when = when.as_ref()?;
    if holds(when, settings)? {
        return None;
    }
    let setting = match &when.kind {
        ExprKind::Setting(id) => plan.settings.iter().nth(*id).map(|(n, _)| n.to_owned()),
        _ => None,
    };
    let why = match &setting {
        Some(name) => format!("`{name}` is false"),
        None => format!("its `when` at {} is false", plan.sources.locate(when.span)),
    };
    Some((why, setting))
}

/// The value of a condition over settings only; `None` when it reads anything else.
fn holds(expr: &Expr, settings: &Settings) -> Option<bool> {
    match &expr.kind {
        ExprKind::Const(v) => Some(v.truthy()),
        ExprKind::Setting(id) => Some(settings.get(*id).truthy()),
        ExprKind::Not(inner) => holds(inner, settings).map(|b| !b),
        ExprKind::And(all) => all
            .iter()
            .map(|e| holds(e, settings))
            .try_fold(true, |acc, b| Some(acc && b?)),
        ExprKind::Or(any) => any
            .iter()
            .map(|e| holds(e, settings))
            .try_fold(false, |acc, b| Some(acc || b?)),
        _ => None,
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Outbound(_) => "outbound",
        Op::GrantOutbound { .. } => "grant outbound",
        Op::Dial {
            as_code: Some(_), ..
        } => "dial .. as code",
        _ => "dial",
    }
}

/// `disa-without-pin`: an `inbound` rule that lets an outside caller dial out under a
/// code's class (`dial .. as code(..)`) without a secret `check` first.
pub fn open_disa(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in &plan.rules.inbound {
        let program = &plan.programs[rule.program];
        let seen = flow::reachable(program, 0, false);
        let open = (0..program.ops.len()).find(|&i| {
            seen[i]
                && matches!(
                    program.ops[i],
                    Op::Dial {
                        as_code: Some(_),
                        ..
                    }
                )
        });
        if let Some(at) = open {
            let via = match &rule.matcher {
                Matcher::In(_) => "this DISA number",
                _ => "this inbound rule",
            };
            let message = format!(
                "an outside caller who reaches {via} dials out as a verification code (at {}) without a PIN `check`: anyone who knows a code number calls out under its class, at your cost",
                plan.sources.locate(program.spans[at])
            );
            out.push(Diagnostic::warning("disa-without-pin", rule.span, message));
        }
    }
    out
}

/// `hook-allows-all`: a hook that decides outside calls but allowed every sample call.
pub fn permissive_hooks(plan: &Plan, hooks: &Hooks, settings: &Settings) -> Vec<Diagnostic> {
    // The engine's own gate, and every hook a rule runs on the way to an outside call.
    let mut gates: BTreeSet<&str> = ["before-outbound"]
        .into_iter()
        .filter(|h| plan.hooks.contains_key(*h))
        .collect();
    for program in &plan.programs {
        for (at, op) in program.ops.iter().enumerate() {
            if let Op::Run(name) = op
                && flow::first_outside(program, at + 1, true).is_some()
            {
                gates.insert(name);
            }
        }
    }
    let prefix = &settings.engine.outside_prefix;
    let caller = settings.engine.numbering.0.to_string();
    let classes: Vec<Option<u32>> = std::iter::once(None)
        .chain(plan.classes.keys().copied().map(Some))
        .collect();
    // Midnight, morning, noon and evening of one day (UTC), for hooks that read `now`.
    let day = 1_772_323_200_000_i64;
    let hours = [0, 8, 12, 20].map(|h| Timestamp(day + h * 3_600_000));
    let mut out = Vec::new();
    for name in gates {
        let all_allowed = PROBE_NUMBERS.iter().all(|number| {
            let dialed = format!("{prefix}{number}");
            classes.iter().all(|&class| {
                let facts = Facts {
                    caller: &caller,
                    dialed: &dialed,
                    number: Some(number),
                    class,
                    originator: &caller,
                    billing: None,
                }
                .to_json();
                hours
                    .iter()
                    .all(|&now| matches!(hooks.call(name, &facts, now), Ok(Some(Decision::Allow))))
            })
        });
        if all_allowed && let Some(code) = plan.hooks.get(name) {
            let message = format!(
                "hook `{name}` decides outside calls but allowed every one it was tried with (local, national, international and premium numbers, every class, day and night): it restricts nothing"
            );
            out.push(Diagnostic::warning(
                "hook-allows-all",
                code.name_span,
                message,
            ));
        }
    }
    out
}

/// `international-for-all`: every extension's class allows international calls.
pub fn international_for_all(plan: &Plan, config: &Config) -> Vec<Diagnostic> {
    let extensions = &config.directory.extensions;
    if extensions.len() < 2 {
        return Vec::new();
    }
    let abroad = |class: u32| {
        plan.classes
            .get(&class)
            .is_some_and(|c| INTERNATIONAL.iter().any(|n| c.permits(n)))
    };
    if !extensions.values().all(|e| abroad(e.value.class)) {
        return Vec::new();
    }
    let used: BTreeSet<u32> = extensions.values().map(|e| e.value.class).collect();
    used.iter()
        .filter_map(|n| plan.classes.get(n))
        .map(|class| {
            Diagnostic::warning(
                "international-for-all",
                plan.sources.first_line(class.span),
                format!(
                    "every one of the {} extensions of {} may call abroad: class {} allows international numbers such as `{}`; a stolen SIP secret or a guessed PIN then costs international rates. Give international calling only to the extensions that need it",
                    extensions.len(),
                    config.path.display(),
                    class.number,
                    INTERNATIONAL.iter().find(|n| class.permits(n)).unwrap_or(&INTERNATIONAL[0])
                ),
            )
        })
        .collect()
}

/// `forward-denied`: a configured forward or follow-me number outside that the
/// extension's own class refuses, so calls never go there.
pub fn denied_forwards(plan: &Plan, config: &Config, settings: &Settings) -> Vec<Diagnostic> {
    let engine = &settings.engine;
    let mut out = Vec::new();
    for (number, entry) in &config.directory.extensions {
        let e = &entry.value;
        let forwards = e.forward.iter().flat_map(|f| {
            [
                ("forward.all", &f.all),
                ("forward.busy", &f.busy),
                ("forward.no_answer", &f.no_answer),
            ]
            .into_iter()
            .filter_map(|(what, to)| to.as_deref().map(|to| (what, to)))
        });
        let follow_me = e
            .follow_me
            .list
            .iter()
            .map(|s| ("follow_me", s.number.as_str()));
        for (what, to) in forwards.chain(follow_me) {
            if config.directory.extensions.contains_key(to) {
                continue;
            }
            let why = match engine.outside_number(to) {
                None => format!(
                    "`{to}` is neither an extension nor an outside number (it lacks the outside prefix `{}`)",
                    engine.outside_prefix
                ),
                Some(outside)
                    if !plan
                        .classes
                        .get(&e.class)
                        .is_some_and(|c| c.permits(outside)) =>
                {
                    format!("class {} refuses `{outside}`", e.class)
                }
                Some(_) => continue,
            };
            let at =
                crate::directory::yaml::span_at(&config.sources, config.file, entry.referenced);
            out.push(Diagnostic::warning(
                "forward-denied",
                at,
                format!("extension {number}: its {what} number is never called: {why}"),
            ));
        }
    }
    out
}
