//! Rule bodies to flat programs: statements become ops with jumps, so a running leg is
//! a program and a position, easy to suspend at any wait.

use super::ast::{self, BranchKind, Object, OwnerKind, RuleKind, StmtKind, Unlocker};
use super::compile::Compiler;
use super::plan::{Lockout, Op, PolicyId, Program, SecretTarget, StateField, TONES};
use super::reason::RejectReason;
use super::resolve::Names;
use super::span::Span;
use std::collections::{HashMap, HashSet};

/// Where lowering is: the rule kind, the retry target, the check a `retry` belongs to,
/// and the subs being inlined (to catch a sub that runs itself).
#[derive(Clone)]
struct Scope {
    kind: RuleKind,
    retry_target: usize,
    invalid_of: Option<PolicyId>,
    subs: Vec<String>,
}

/// Statements after which a call has ended: anything that follows never runs.
fn ends_the_call(kind: &StmtKind) -> bool {
    matches!(
        kind,
        StmtKind::Hangup
            | StmtKind::Reject(_)
            | StmtKind::Voicemail(_)
            | StmtKind::Messages(_)
            | StmtKind::Outbound(_)
            | StmtKind::Retry { .. }
    )
}

impl Compiler<'_> {
    /// Lowers a rule's body.
    pub(super) fn lower_body(
        &mut self,
        body: &ast::Block,
        kind: RuleKind,
        names: &Names,
    ) -> Program {
        let mut program = Program::default();
        let scope = Scope {
            kind,
            retry_target: 0,
            invalid_of: None,
            subs: Vec::new(),
        };
        self.lower_block(body, &mut program, &scope, names);
        program
    }

    fn lower_block(
        &mut self,
        block: &ast::Block,
        prog: &mut Program,
        scope: &Scope,
        names: &Names,
    ) {
        let mut ended_at: Option<Span> = None;
        for stmt in &block.stmts {
            if let Some(end) = ended_at.take() {
                let at = self.sources.locate(end);
                self.warn(
                    "unreachable",
                    stmt.span,
                    format!("never runs: the call has ended at {at}"),
                );
            }
            self.lower_stmt(stmt, prog, scope, names);
            if ends_the_call(&stmt.kind) {
                ended_at = Some(stmt.span);
            }
        }
    }

    fn emit(prog: &mut Program, op: Op, span: Span) -> usize {
        prog.ops.push(op);
        prog.spans.push(span);
        prog.ops.len() - 1
    }

    fn patch(prog: &mut Program, at: usize, to: usize) {
        match &mut prog.ops[at] {
            Op::Jump(t) | Op::JumpUnless(_, t) => *t = to,
            _ => unreachable!("only jumps are patched"),
        }
    }

    fn lower_stmt(&mut self, stmt: &ast::Stmt, prog: &mut Program, scope: &Scope, names: &Names) {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Play { prompt, arg } => {
                let arg = arg.as_ref().map(|a| self.resolve(a, names));
                let prompt = prompt.text.clone();
                Self::emit(prog, Op::Play { prompt, arg }, span);
            }
            StmtKind::Tone(t) => {
                if !TONES.contains(&t.text.as_str()) {
                    self.error(
                        "unknown-tone",
                        t.span,
                        format!("no tone `{}` (tones: {})", t.text, TONES.join(", ")),
                    );
                }
                Self::emit(prog, Op::Tone(t.text.clone()), span);
            }
            StmtKind::Ask { prompt, var } => {
                let var = self.var_slot(&var.text);
                let prompt = prompt.text.clone();
                Self::emit(prog, Op::Ask { prompt, var }, span);
            }
            StmtKind::Check {
                input,
                secret,
                branches,
            } => self.lower_check(input, secret, branches, span, prog, scope, names),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.resolve(cond, names);
                let jump_else = Self::emit(prog, Op::JumpUnless(cond, 0), span);
                self.lower_block(then, prog, scope, names);
                match otherwise {
                    None => {
                        let here = prog.ops.len();
                        Self::patch(prog, jump_else, here);
                    }
                    Some(other) => {
                        let jump_end = Self::emit(prog, Op::Jump(0), span);
                        let here = prog.ops.len();
                        Self::patch(prog, jump_else, here);
                        self.lower_block(other, prog, scope, names);
                        let end = prog.ops.len();
                        Self::patch(prog, jump_end, end);
                    }
                }
            }
            StmtKind::Set {
                object,
                field,
                value,
            } => {
                let party = self.resolve_extension(object, names);
                let value = self.resolve(value, names);
                let dotted = field
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                match (StateField::from_name(&dotted), party) {
                    (Some(field), Some(party)) => {
                        Self::emit(
                            prog,
                            Op::Set {
                                party,
                                field,
                                value,
                            },
                            span,
                        );
                    }
                    (Some(_), None) => {}
                    (None, _) => {
                        let at = Span {
                            start: field[0].span.start,
                            ..field[field.len() - 1].span
                        };
                        self.error("read-only", at, format!("`{dotted}` cannot be set (settable: blocked, dnd, forward.all, forward.busy, forward.no_answer)"));
                    }
                }
            }
            StmtKind::Let { var, value } => {
                let value = self.resolve(value, names);
                let var = self.var_slot(&var.text);
                Self::emit(prog, Op::Let { var, value }, span);
            }
            StmtKind::Grant {
                what,
                object,
                duration,
            } => {
                let party = self.resolve_extension(object, names);
                let duration = self.resolve(duration, names);
                if what.text != "outbound" {
                    self.error(
                        "unknown-grant",
                        what.span,
                        format!("no grant `{}` (grants: outbound)", what.text),
                    );
                }
                if let Some(party) = party {
                    Self::emit(prog, Op::GrantOutbound { party, duration }, span);
                }
            }
            StmtKind::Unlock(secret) => {
                if let Some(target) = self.secret_target(secret, names) {
                    let policy = &self.plan.policies[target.policy];
                    if policy.unlock_by == Unlocker::Admin {
                        let message = format!(
                            "policy `{}` is unlocked by an administrator only (`pbxctl`), not from a phone",
                            policy.name
                        );
                        self.error("unlock-not-allowed", span, message);
                    }
                    Self::emit(prog, Op::Unlock(target), span);
                }
            }
            StmtKind::Ring(e) => {
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Ring(e), span);
            }
            StmtKind::Alert {
                target,
                timeout,
                busy,
            } => {
                let target = self.resolve(target, names);
                let timeout = timeout.as_ref().map(|t| self.resolve(t, names));
                let at = Self::emit(
                    prog,
                    Op::Alert {
                        target,
                        timeout,
                        busy: None,
                    },
                    span,
                );
                if let Some(block) = busy {
                    // Past the busy block for a call nobody answered; into it on busy.
                    let skip = Self::emit(prog, Op::Jump(0), span);
                    let start = prog.ops.len();
                    self.lower_block(block, prog, scope, names);
                    let end = prog.ops.len();
                    Self::patch(prog, skip, end);
                    if let Op::Alert { busy, .. } = &mut prog.ops[at] {
                        *busy = Some(start);
                    }
                }
            }
            StmtKind::Forward(e) => {
                if scope.kind != RuleKind::Incoming {
                    self.error(
                        "forward-outside-incoming",
                        span,
                        "`forward` passes on a call to the callee: it belongs in an `incoming` rule",
                    );
                }
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Forward(e), span);
            }
            StmtKind::ListAdd { value, list } | StmtKind::ListRemove { value, list } => {
                let value = self.resolve(value, names);
                if let Some(list_id) = self.list_setting(list) {
                    let op = if matches!(stmt.kind, StmtKind::ListAdd { .. }) {
                        Op::ListAdd {
                            list: list_id,
                            value,
                        }
                    } else {
                        Op::ListRemove {
                            list: list_id,
                            value,
                        }
                    };
                    Self::emit(prog, op, span);
                }
            }
            StmtKind::Outbound(e) => {
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Outbound(e), span);
            }
            StmtKind::Voicemail(e) => {
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Voicemail(e), span);
            }
            StmtKind::Messages(e) => {
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Messages(e), span);
            }
            StmtKind::Reject(reason) => match RejectReason::parse(&reason.text) {
                Some(r) => {
                    Self::emit(prog, Op::Reject(r), span);
                }
                None => self.error(
                    "unknown-reason",
                    reason.span,
                    format!(
                        "no reject reason `{}` (reasons: {})",
                        reason.text,
                        RejectReason::list()
                    ),
                ),
            },
            StmtKind::Hangup => {
                Self::emit(prog, Op::Hangup, span);
            }
            StmtKind::Retry { otherwise } => {
                let Some(policy) = scope.invalid_of else {
                    self.error(
                        "retry-outside-invalid",
                        span,
                        "`retry` belongs in the `invalid` branch of a `check`",
                    );
                    return;
                };
                let at = Self::emit(
                    prog,
                    Op::Retry {
                        policy,
                        target: scope.retry_target,
                        exhausted: None,
                    },
                    span,
                );
                if let Some(block) = otherwise {
                    let start = prog.ops.len();
                    let inner = Scope {
                        invalid_of: None,
                        ..scope.clone()
                    };
                    self.lower_block(block, prog, &inner, names);
                    Self::emit(prog, Op::Hangup, span);
                    if let Op::Retry { exhausted, .. } = &mut prog.ops[at] {
                        *exhausted = Some(start);
                    }
                }
            }
            StmtKind::Attempt(block) => {
                let inner = Scope {
                    retry_target: prog.ops.len(),
                    ..scope.clone()
                };
                self.lower_block(block, prog, &inner, names);
            }
            StmtKind::Dial { number, as_object } => {
                let number = self.resolve(number, names);
                let as_code = match as_object {
                    None => None,
                    Some(Object::Code(arg, _)) => Some(self.resolve(arg, names)),
                    Some(other) => {
                        self.error(
                            "dial-as",
                            other.span(),
                            "`dial .. as` takes a verification code: `as code(c)`",
                        );
                        None
                    }
                };
                Self::emit(prog, Op::Dial { number, as_code }, span);
            }
            StmtKind::Tally { name, key } => {
                let key = self.resolve(key, names);
                let name = name.text.clone();
                Self::emit(prog, Op::Tally { name, key }, span);
            }
            StmtKind::Run(hook) => {
                if !self.plan.hooks.contains_key(&hook.text) {
                    self.error(
                        "unknown-hook",
                        hook.span,
                        format!("no hook `{}` is defined", hook.text),
                    );
                }
                Self::emit(prog, Op::Run(hook.text.clone()), span);
            }
            StmtKind::Wait(e) => {
                let e = self.resolve(e, names);
                Self::emit(prog, Op::Wait(e), span);
            }
            StmtKind::Do(name) => {
                if scope.subs.contains(&name.text) {
                    self.error(
                        "sub-recursion",
                        name.span,
                        format!("`{}` runs itself", name.text),
                    );
                    return;
                }
                self.subs_done.insert(name.text.clone());
                match self.subs.get(&name.text).cloned() {
                    Some(body) => {
                        let mut inner = scope.clone();
                        inner.subs.push(name.text.clone());
                        self.lower_block(&body, prog, &inner, names);
                    }
                    None => self.error(
                        "unknown-sub",
                        name.span,
                        format!("no `sub {}` is defined", name.text),
                    ),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn lower_check(
        &mut self,
        input: &ast::Expr,
        secret: &ast::SecretRef,
        branches: &[(BranchKind, ast::Block, Span)],
        span: Span,
        prog: &mut Program,
        scope: &Scope,
        names: &Names,
    ) {
        let input = self.resolve(input, names);
        let Some(target) = self.secret_target(secret, names) else {
            return;
        };
        let policy = target.policy;
        let mut seen = HashSet::new();
        for (kind, _, bspan) in branches {
            if !seen.insert(*kind) {
                self.error("duplicate-branch", *bspan, "this branch is already given");
            }
        }
        if !seen.contains(&BranchKind::Ok) {
            self.error("missing-branch", span, "a `check` needs an `ok` branch");
        }
        if !seen.contains(&BranchKind::Invalid) {
            self.error(
                "missing-branch",
                span,
                "a `check` needs an `invalid` branch",
            );
        }
        let can_lock = !matches!(self.plan.policies[policy].lockout, Lockout::Off);
        if can_lock && !seen.contains(&BranchKind::Locked) {
            let message = format!(
                "policy `{}` can lock this secret, so the `check` needs a `locked` branch (PG-3)",
                self.plan.policies[policy].name
            );
            self.error("missing-branch", span, message);
        }
        if !can_lock
            && let Some((_, _, bspan)) = branches.iter().find(|(k, ..)| *k == BranchKind::Locked)
        {
            let message = format!(
                "never taken: policy `{}` has `lockout off`",
                self.plan.policies[policy].name
            );
            self.warn("unreachable", *bspan, message);
        }
        let at = Self::emit(
            prog,
            Op::Check {
                input,
                secret: target,
                ok: 0,
                locked: 0,
                invalid: 0,
            },
            span,
        );
        let mut ends = Vec::new();
        let mut starts = HashMap::new();
        for (kind, block, bspan) in branches {
            starts.insert(*kind, prog.ops.len());
            let inner = Scope {
                invalid_of: (*kind == BranchKind::Invalid).then_some(policy),
                ..scope.clone()
            };
            self.lower_block(block, prog, &inner, names);
            ends.push(Self::emit(prog, Op::Jump(0), *bspan));
        }
        let end = prog.ops.len();
        for j in ends {
            Self::patch(prog, j, end);
        }
        let invalid = starts.get(&BranchKind::Invalid).copied().unwrap_or(end);
        if let Op::Check {
            ok,
            locked,
            invalid: inv,
            ..
        } = &mut prog.ops[at]
        {
            *ok = starts.get(&BranchKind::Ok).copied().unwrap_or(end);
            // Without a `locked` branch a locked secret answers like a wrong one.
            *locked = starts.get(&BranchKind::Locked).copied().unwrap_or(invalid);
            *inv = invalid;
        }
    }

    fn secret_target(&mut self, secret: &ast::SecretRef, names: &Names) -> Option<SecretTarget> {
        let party = self.resolve_party(&secret.object, names)?;
        let owner = if party.is_code() {
            OwnerKind::Code
        } else {
            OwnerKind::Extension
        };
        match self
            .plan
            .policies
            .iter()
            .position(|p| p.owner == owner && p.secret == secret.secret.text)
        {
            Some(policy) => Some(SecretTarget { party, policy }),
            None => {
                let message = format!(
                    "no policy governs {}.{} (add `policy NAME {{ secret {}.{} .. }}`)",
                    owner.as_str(),
                    secret.secret.text,
                    owner.as_str(),
                    secret.secret.text
                );
                self.error("unknown-secret", secret.secret.span, message);
                None
            }
        }
    }
}
