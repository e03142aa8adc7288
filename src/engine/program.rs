//! Running a leg's program until it waits, ends, or needs the engine: anything that
//! touches another leg (routing, ringing, forwarding, calling out) is handed back as a
//! [`Yield`], so the interpreter only ever holds the one leg it runs.

use super::context::Context;
use super::coverage::Arm;
use super::eval::{Fault, Record};
use super::event::{Entered, Event, Output};
use super::leg::{Leg, RingStep, Wait};
use super::mailbox;
use super::secret_check::{self, Pending};
use crate::clock::{Duration, Timestamp};
use crate::dsl::ast::{OwnerKind, Unlocker};
use crate::dsl::expr::{Expr, Party};
use crate::dsl::plan::{Op, SecretTarget, StateField};
use crate::dsl::reason::RejectReason;
use crate::dsl::span::Span;
use crate::dsl::value::Value;
use crate::hooks::Decision;
use crate::store::{SecretId, StateValue, Store};
use std::sync::Arc;

/// Ops one leg may run between two waits before the engine calls it a loop.
const STEP_BUDGET: usize = 10_000;

/// Why a program stopped running.
#[derive(Debug)]
pub(super) enum Yield {
    /// It waits for input, a timer or a verify.
    Wait,
    /// The leg is over (its last event is out).
    End,
    /// Run the dial rules on these digits (`dial`).
    Route(String),
    /// Deliver to this extension through the `incoming` rules (`ring`).
    Ring(String),
    /// Pass the call on as the callee's forward (`forward`).
    Forward(String),
    /// Ring these numbers in turn (`alert`); on busy, go to `busy` if set.
    Alert {
        steps: Vec<RingStep>,
        busy: Option<usize>,
    },
    /// Call out under the leg's class (`outbound`).
    Outbound(String),
}

/// Runs `leg`'s program from its position.
pub(super) fn run<S: Store>(
    cx: &mut Context<S>,
    leg: &mut Leg,
    now: Timestamp,
) -> Result<Yield, Fault> {
    let plan = Arc::clone(&cx.plan);
    for _ in 0..STEP_BUDGET {
        let program = &plan.programs[leg.program];
        let Some(op) = program.ops.get(leg.pc) else {
            // Falling off the end: an in-call code returns to the call; anything else
            // has nowhere to go.
            if leg.in_incall {
                leg.in_incall = false;
                leg.wait = Wait::Connected;
                return Ok(Yield::Wait);
            }
            cx.emit(leg.id, Event::Hangup);
            return Ok(Yield::End);
        };
        let span = program.spans[leg.pc];
        let mut next = leg.pc + 1;
        if let Some(ran) = &mut cx.coverage {
            ran.op(leg.program, leg.pc);
        }
        match op {
            Op::Play { prompt, arg } => {
                let arg = match arg {
                    Some(a) => Some(cx.scope(Some(leg), now).eval(a)?.to_string()),
                    None => None,
                };
                leg.outcome.answered_by_pbx = true;
                let id = prompt.clone();
                cx.emit(leg.id, Event::Prompt { id, arg });
            }
            Op::Tone(t) => {
                leg.outcome.answered_by_pbx = true;
                cx.emit(leg.id, Event::Tone(t.clone()));
            }
            Op::Ask { prompt, var } => {
                leg.outcome.answered_by_pbx = true;
                leg.wait = Wait::Collect {
                    var: *var,
                    prompt: prompt.clone(),
                    digits: String::new(),
                    repeated: false,
                };
                leg.deadline = Some(now.after(cx.settings.engine.prompt_timeout));
                let id = prompt.clone();
                cx.emit(leg.id, Event::Prompt { id, arg: None });
                return Ok(Yield::Wait);
            }
            Op::Check {
                input,
                secret,
                ok,
                locked,
                invalid,
            } => {
                begin_check(cx, leg, now, input, secret, (*ok, *locked, *invalid))?;
                return Ok(Yield::Wait);
            }
            Op::Jump(to) => next = *to,
            Op::JumpUnless(cond, to) => {
                let held = cx.scope(Some(leg), now).eval(cond)?.truthy();
                if !held {
                    next = *to;
                }
                if let Some(ran) = &mut cx.coverage {
                    let arm = if held { Arm::Then } else { Arm::Else };
                    ran.arm(leg.program, leg.pc, arm);
                }
            }
            Op::Set {
                party,
                field,
                value,
            } => {
                let number = extension_of(cx, leg, now, party, span)?;
                let v = cx.scope(Some(leg), now).eval(value)?;
                let value = match field {
                    StateField::Blocked | StateField::Dnd => StateValue::Flag(v.truthy()),
                    _ => StateValue::Target(v.as_text().filter(|t| !t.is_empty())),
                };
                cx.store
                    .set_state(&number, *field, value)
                    .map_err(|e| Fault::store(span, e))?;
            }
            Op::Let { var, value } => {
                let v = cx.scope(Some(leg), now).eval(value)?;
                leg.vars[*var] = v;
            }
            Op::GrantOutbound { party, duration } => {
                let number = extension_of(cx, leg, now, party, span)?;
                let d = cx.scope(Some(leg), now).duration(duration, "a grant")?;
                cx.store
                    .set_outbound_grant(&number, Some(now.after(d)))
                    .map_err(|e| Fault::store(span, e))?;
            }
            Op::Unlock(target) => unlock(cx, leg, now, target, span)?,
            Op::Ring(ext) => return Ok(Yield::Ring(cx.scope(Some(leg), now).text(ext)?)),
            Op::Forward(target) => {
                let target = cx.scope(Some(leg), now).eval(target)?;
                // No forward set: nothing to do.
                if let Some(t) = target.as_text().filter(|t| !t.is_empty()) {
                    return Ok(Yield::Forward(t));
                }
            }
            Op::Alert {
                target,
                timeout,
                busy,
            } => {
                let scope = cx.scope(Some(leg), now);
                let time = match timeout {
                    Some(t) => scope.duration(t, "a ring time")?,
                    None => cx.settings.engine.ring_timeout,
                };
                let steps = ring_steps(&scope.eval(target)?, time);
                return Ok(Yield::Alert { steps, busy: *busy });
            }
            Op::Outbound(number) => {
                return Ok(Yield::Outbound(cx.scope(Some(leg), now).text(number)?));
            }
            Op::Voicemail(mailbox) => {
                let mailbox = cx.scope(Some(leg), now).text(mailbox)?;
                leg.wait = Wait::Voicemail;
                leg.outcome.final_party = Some(format!("voicemail:{mailbox}"));
                leg.outcome.connected_at = Some(now);
                cx.emit(leg.id, Event::Voicemail(mailbox));
                return Ok(Yield::Wait);
            }
            Op::Messages(mailbox) => {
                let mailbox = cx.scope(Some(leg), now).text(mailbox)?;
                leg.outcome.answered_by_pbx = true;
                mailbox::enter(cx, leg, now, mailbox);
                return Ok(Yield::Wait);
            }
            Op::Reject(reason) => {
                reject(cx, leg, *reason);
                return Ok(Yield::End);
            }
            Op::Hangup => {
                cx.emit(leg.id, Event::Hangup);
                return Ok(Yield::End);
            }
            Op::Retry {
                policy,
                target,
                exhausted,
            } => {
                let used = leg.attempts.get(policy).copied().unwrap_or(0);
                let again = used < plan.policies[*policy].attempts;
                if let Some(ran) = &mut cx.coverage {
                    let arm = if again { Arm::Again } else { Arm::Exhausted };
                    ran.arm(leg.program, leg.pc, arm);
                }
                if again {
                    next = *target;
                } else if let Some(e) = exhausted {
                    next = *e;
                } else {
                    cx.emit(leg.id, Event::Hangup);
                    return Ok(Yield::End);
                }
            }
            Op::Dial { number, as_code } => {
                let scope = cx.scope(Some(leg), now);
                let digits = scope.text(number)?;
                if let Some(code) = as_code {
                    let code = scope.text(code)?;
                    let rec = cx.store.code(&code).map_err(|e| Fault::store(span, e))?;
                    let Some(rec) = rec else {
                        return Err(Fault::at(span, format!("no verification code {code}")));
                    };
                    leg.class_override = Some(rec.class);
                    leg.originator = Some(format!("code:{code}"));
                    leg.billing = rec.billing;
                }
                return Ok(Yield::Route(digits));
            }
            Op::Tally { name, key } => {
                let key = cx.scope(Some(leg), now).text(key)?;
                cx.store
                    .tally(name, &key, now)
                    .map_err(|e| Fault::store(span, e))?;
            }
            Op::ListAdd { list, value } | Op::ListRemove { list, value } => {
                let entry = cx.scope(Some(leg), now).text(value)?;
                let name = plan.settings.name(*list);
                let add = matches!(op, Op::ListAdd { .. });
                cx.store
                    .change_list(name, &entry, add)
                    .map_err(|e| Fault::store(span, e))?;
            }
            Op::Run(hook) => {
                let facts = cx.facts(leg, None);
                if let Decision::Deny(reason) = cx.decide(now, leg.id, hook, &facts) {
                    reject(
                        cx,
                        leg,
                        RejectReason::parse(&reason).unwrap_or(RejectReason::Restricted),
                    );
                    return Ok(Yield::End);
                }
            }
            Op::Wait(d) => {
                let d = cx.scope(Some(leg), now).duration(d, "`wait` takes")?;
                leg.wait = Wait::Sleep;
                leg.deadline = Some(now.after(d));
                return Ok(Yield::Wait);
            }
        }
        leg.pc = next;
    }
    Err(Fault::at(
        plan.programs[leg.program].spans[0],
        "the plan ran 10000 steps without waiting: a loop?",
    ))
}

/// Refuses the call on `leg`.
pub(super) fn reject<S: Store>(cx: &mut Context<S>, leg: &mut Leg, reason: RejectReason) {
    leg.outcome.rejected = Some(reason);
    cx.emit(leg.id, Event::Reject(reason));
}

/// What `alert` rings: a follow-me list (number and ring time pairs) in turn, a list of
/// numbers each for `time`, or one number for `time`.
fn ring_steps(target: &Value, time: Duration) -> Vec<RingStep> {
    let step = |v: &Value, time: Duration| {
        v.as_text()
            .filter(|n| !n.is_empty())
            .map(|number| RingStep { number, time })
    };
    match target {
        Value::List(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::List(pair) => match pair.as_slice() {
                    [number, t] => step(number, t.as_duration().unwrap_or(time)),
                    _ => None,
                },
                other => step(other, time),
            })
            .collect(),
        other => step(other, time).into_iter().collect(),
    }
}

fn extension_of<S: Store>(
    cx: &Context<S>,
    leg: &Leg,
    now: Timestamp,
    party: &Party,
    span: Span,
) -> Result<String, Fault> {
    match cx.scope(Some(leg), now).record(party, span)? {
        Record::Extension(n, Some(_)) => Ok(n),
        other => Err(Fault::at(
            span,
            format!("`{}` is not a configured extension", other.key()),
        )),
    }
}

/// The secret a target names, if its owner exists.
fn secret_id<S: Store>(
    cx: &Context<S>,
    leg: &Leg,
    now: Timestamp,
    target: &SecretTarget,
    span: Span,
) -> Result<Option<SecretId>, Fault> {
    let policy = &cx.plan.policies[target.policy];
    let owner = match cx.scope(Some(leg), now).record(&target.party, span)? {
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

/// PG-1..PG-3, first half: read the secret and ask the driver to verify the entry.
fn begin_check<S: Store>(
    cx: &mut Context<S>,
    leg: &mut Leg,
    now: Timestamp,
    input: &Expr,
    target: &SecretTarget,
    branches: (usize, usize, usize),
) -> Result<(), Fault> {
    let entered = cx
        .scope(Some(leg), now)
        .eval(input)?
        .as_text()
        .unwrap_or_default();
    let span = cx.plan.policies[target.policy].span;
    let secret = secret_id(cx, leg, now, target, span)?;
    let record =
        secret_check::begin(&cx.store, secret.as_ref()).map_err(|e| Fault::store(span, e))?;
    let request = cx.next_request();
    cx.out.push_back(Output::Verify {
        request,
        leg: leg.id,
        entered: Entered(entered),
        hash: record.hash.clone(),
        secret: secret.clone(),
    });
    leg.wait = Wait::Verify {
        request,
        pending: Box::new(Pending {
            policy: target.policy,
            secret,
            record,
            branches,
        }),
    };
    Ok(())
}

/// PG-1..PG-3, second half: count the verified entry and pick the branch.
pub(super) fn conclude_check<S: Store>(
    cx: &mut Context<S>,
    leg: &mut Leg,
    now: Timestamp,
    pending: &Pending,
    matched: bool,
) -> Result<usize, Fault> {
    let plan = Arc::clone(&cx.plan);
    let policy = &plan.policies[pending.policy];
    let used = leg.attempts.get(&pending.policy).copied().unwrap_or(0);
    let lock_at = secret_check::lock_threshold(policy, &cx.scope(None, now), used + 1)?;
    let verdict = secret_check::conclude(
        &cx.store,
        pending.secret.as_ref(),
        &pending.record,
        matched,
        lock_at,
    )
    .map_err(|e| Fault::store(policy.span, e))?;
    let (ok, locked, invalid) = pending.branches;
    if let Some(ran) = &mut cx.coverage {
        let arm = match verdict {
            secret_check::Verdict::Ok => Arm::Ok,
            secret_check::Verdict::Locked => Arm::Locked,
            secret_check::Verdict::Invalid { .. } => Arm::Invalid,
        };
        ran.arm(leg.program, leg.pc, arm);
    }
    Ok(match verdict {
        secret_check::Verdict::Ok => ok,
        secret_check::Verdict::Locked => locked,
        secret_check::Verdict::Invalid { locked_now } => {
            *leg.attempts.entry(pending.policy).or_insert(0) += 1;
            if let (Some(after), Some(s)) = (locked_now, &pending.secret) {
                let secret = s.kind.clone();
                cx.out.push_back(Output::LockedOut {
                    leg: leg.id,
                    secret,
                });
                let facts = serde_json::json!({
                    "owner_kind": s.owner_kind.as_str(),
                    "owner": s.owner,
                    "secret": s.kind,
                    "policy": policy.name,
                    "failures": after.failures,
                });
                // A notification: its decision does not undo the lockout.
                let _ = cx.decide(now, leg.id, "on-lockout", &facts);
            }
            invalid
        }
    })
}

fn unlock<S: Store>(
    cx: &mut Context<S>,
    leg: &Leg,
    now: Timestamp,
    target: &SecretTarget,
    span: Span,
) -> Result<(), Fault> {
    let Some(secret) = secret_id(cx, leg, now, target, span)? else {
        return Ok(());
    };
    let policy = &cx.plan.policies[target.policy];
    let caller = cx.scope(Some(leg), now).record(&Party::Caller, span)?;
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
    cx.store
        .unlock(&secret, policy.unlock_clears)
        .map_err(|e| Fault::store(span, e))?;
    Ok(())
}
