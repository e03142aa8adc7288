//! Checks a parsed plan and lowers it to a [`Plan`]. Every check adds to one list
//! of diagnostics; loading fails only after all of them have run.

use super::ast::{
    self, BranchKind, Expr, ExprKind, Item, LockoutDef, Object, OwnerKind, StmtKind, Unlocker,
};
use super::diagnostic::{Diagnostic, Failure};
use super::parse::parse;
use super::plan::*;
use super::span::{FileId, SourceMap, Span};
use super::value::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Reads, parses and checks a plan file and the files it includes.
pub fn load(path: &Path) -> Result<Plan, Failure> {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    let mut stack = Vec::new();
    gather(
        path,
        None,
        &mut sources,
        &mut diagnostics,
        &mut items,
        &mut stack,
    );
    finish(sources, diagnostics, items)
}

/// Checks a plan given as text (no includes are resolved relative to a real file).
pub fn compile_str(name: &str, text: &str) -> Result<Plan, Failure> {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    let file = sources.add(name, text.to_string());
    let items = match parse(file, text) {
        Ok(f) => f.items.into_iter().map(|i| (file, i)).collect(),
        Err(d) => {
            diagnostics.extend(d);
            Vec::new()
        }
    };
    finish(sources, diagnostics, items)
}

fn finish(
    sources: SourceMap,
    mut diagnostics: Vec<Diagnostic>,
    items: Vec<(FileId, Item)>,
) -> Result<Plan, Failure> {
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Failure {
            diagnostics,
            sources,
        });
    }
    let plan = Compiler::new(&sources, &mut diagnostics).run(items);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Failure {
            diagnostics,
            sources,
        });
    }
    let mut plan = plan;
    plan.warnings = diagnostics;
    plan.sources = sources;
    Ok(plan)
}

fn gather(
    path: &Path,
    from: Option<Span>,
    sources: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    items: &mut Vec<(FileId, Item)>,
    stack: &mut Vec<PathBuf>,
) {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&canonical) {
        if let Some(span) = from {
            diagnostics.push(Diagnostic::error(
                "include-cycle",
                span,
                "this include comes back to a file that includes it",
            ));
        }
        return;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("cannot read {}: {e}", path.display());
            diagnostics.push(match from {
                Some(span) => Diagnostic::error("include", span, message),
                None => Diagnostic::unplaced("read", message),
            });
            return;
        }
    };
    let file = sources.add(path, text.clone());
    let parsed = match parse(file, &text) {
        Ok(f) => f,
        Err(d) => {
            diagnostics.extend(d);
            return;
        }
    };
    stack.push(canonical);
    for item in parsed.items {
        if let Item::Include { path: rel, span } = &item {
            let target = path.parent().unwrap_or(Path::new(".")).join(rel);
            gather(&target, Some(*span), sources, diagnostics, items, stack);
        } else {
            items.push((file, item));
        }
    }
    stack.pop();
}

/// Settings the engine needs, when the plan does not set them.
fn engine_defaults() -> Vec<(&'static str, Value)> {
    let digits = |s: &str| Value::Digits(s.to_string());
    vec![
        (
            "emergency",
            Value::List(["911", "112", "9911", "9112"].map(digits).to_vec()),
        ),
        ("numbering", Value::Range(100, 899)),
        ("outside_prefix", digits("9")),
        (
            "digit_timeout",
            Value::Duration(crate::clock::Duration::seconds(5)),
        ),
        (
            "prompt_timeout",
            Value::Duration(crate::clock::Duration::seconds(10)),
        ),
        ("disa", Value::List(Vec::new())),
    ]
}

struct Compiler<'a> {
    sources: &'a SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    plan: Plan,
    subs: HashMap<String, ast::Block>,
    setting_spans: HashMap<String, Span>,
}

/// Where lowering is: the retry target and the check a `retry` belongs to.
#[derive(Clone, Default)]
struct Scope {
    retry_target: usize,
    invalid_of: Option<PolicyId>,
    subs: Vec<String>,
}

impl<'a> Compiler<'a> {
    fn new(sources: &'a SourceMap, diags: &'a mut Vec<Diagnostic>) -> Self {
        let plan = Plan {
            sources: SourceMap::default(),
            settings: engine_defaults()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            policies: Vec::new(),
            classes: BTreeMap::new(),
            rules: Rules::default(),
            programs: Vec::new(),
            hooks: BTreeMap::new(),
            warnings: Vec::new(),
        };
        Compiler {
            sources,
            diags,
            plan,
            subs: HashMap::new(),
            setting_spans: HashMap::new(),
        }
    }

    fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, message));
    }

    fn warn(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(code, span, message));
    }

    fn run(mut self, items: Vec<(FileId, Item)>) -> Plan {
        // Definitions first (later ones override earlier, so profiles can include a
        // base plan), then rules, which may refer to any definition.
        let mut policies: Vec<(String, ast::PolicyDef)> = Vec::new();
        let mut rules = Vec::new();
        for (file, item) in items {
            match item {
                Item::Include { .. } => {}
                Item::Setting { name, value } => {
                    self.setting_spans.insert(name.text.clone(), name.span);
                    self.plan
                        .settings
                        .insert(name.text, Value::from(&value.value));
                }
                Item::Policy(def) => {
                    policies.retain(|(n, _)| *n != def.name.text);
                    policies.push((def.name.text.clone(), def));
                }
                Item::Class(def) => {
                    let class = Class {
                        number: def.number,
                        label: def.label.unwrap_or_default(),
                        lines: def.lines,
                    };
                    self.plan.classes.insert(def.number, class);
                }
                Item::Hook(def) => self.add_hook(file, def),
                Item::Sub { name, body } => {
                    self.subs.insert(name.text, body);
                }
                Item::Rule(rule) => rules.push(rule),
            }
        }
        self.check_settings();
        for (_, def) in policies {
            self.add_policy(def);
        }
        let mut seen_literals: HashMap<(ast::RuleKind, String), Span> = HashMap::new();
        let mut open_any: HashMap<ast::RuleKind, Span> = HashMap::new();
        for rule in rules {
            self.check_reachability(&rule, &mut seen_literals, &mut open_any);
            self.add_rule(rule);
        }
        self.plan
    }

    fn check_settings(&mut self) {
        let defaults = engine_defaults();
        for (name, default) in &defaults {
            let value = &self.plan.settings[*name];
            if std::mem::discriminant(value) != std::mem::discriminant(default) {
                let span = self.setting_spans[*name];
                let message = format!("`{name}` must be {}, not {}", default.kind(), value.kind());
                self.error("setting-type", span, message);
            }
        }
        if let Some(Value::List(numbers)) = self.plan.settings.get("emergency")
            && numbers
                .iter()
                .any(|n| !matches!(n, Value::Digits(d) if d.bytes().all(|b| b.is_ascii_digit())))
        {
            let span = self.setting_spans["emergency"];
            self.error("setting-type", span, "emergency numbers must be digits");
        }
    }

    fn add_hook(&mut self, file: FileId, def: ast::HookDef) {
        let plan_path = self.sources.file(file).path.clone();
        let hook = match def.source {
            ast::HookSource::File { path, span } => {
                let full = plan_path.parent().unwrap_or(Path::new(".")).join(&path);
                match std::fs::read_to_string(&full) {
                    Ok(code) => HookCode {
                        name: def.name.text.clone(),
                        code,
                        path: full,
                        line_offset: 0,
                        span,
                    },
                    Err(e) => {
                        self.error(
                            "hook-file",
                            span,
                            format!("cannot read hook file {}: {e}", full.display()),
                        );
                        return;
                    }
                }
            }
            ast::HookSource::Inline { code, span } => {
                let (line, _) = self.sources.file(file).line_col(span.start as usize);
                HookCode {
                    name: def.name.text.clone(),
                    code,
                    path: plan_path,
                    line_offset: line - 1,
                    span,
                }
            }
        };
        self.plan.hooks.insert(def.name.text, hook);
    }

    fn add_policy(&mut self, def: ast::PolicyDef) {
        let Some((owner, secret)) = def.secret else {
            self.error("policy", def.name.span, format!("policy `{}` does not say which secret it governs (`secret extension.voicemail`)", def.name.text));
            return;
        };
        let Some((min_len, max_len, lspan)) = def.length else {
            self.error(
                "policy",
                def.name.span,
                format!("policy `{}` needs a `length`", def.name.text),
            );
            return;
        };
        if min_len == 0 || max_len < min_len {
            self.error(
                "policy",
                lspan,
                "a secret's length must be at least 1 and run upwards",
            );
        }
        if self
            .plan
            .policies
            .iter()
            .any(|p| p.owner == owner && p.secret == secret.text)
        {
            self.error(
                "policy",
                secret.span,
                format!(
                    "another policy already governs {}.{}",
                    owner.as_str(),
                    secret.text
                ),
            );
        }
        let attempts = def.attempts.map_or(3, |(n, _)| n);
        if attempts == 0 {
            let span = def.attempts.map_or(def.span, |(_, s)| s);
            self.error("policy", span, "attempts must be at least 1");
        }
        let lockout = match def.lockout {
            None | Some(LockoutDef::Off(_)) => Lockout::Off,
            Some(LockoutDef::After {
                threshold,
                per_call,
                when,
                ..
            }) => {
                let names = Names::settings_only();
                self.check_expr(&threshold, &names);
                if let Some(w) = &when {
                    self.check_expr(w, &names);
                }
                Lockout::After {
                    threshold,
                    per_call,
                    when,
                }
            }
        };
        self.plan.policies.push(Policy {
            name: def.name.text,
            owner,
            secret: secret.text,
            min_len,
            max_len,
            attempts,
            lockout,
            unlock_by: def.unlock_by.map_or(Unlocker::Admin, |(u, _)| u),
            unlock_clears: def.unlock_clears.is_some_and(|(c, _)| c),
            span: def.span,
        });
    }

    fn check_reachability(
        &mut self,
        rule: &ast::RuleDef,
        seen: &mut HashMap<(ast::RuleKind, String), Span>,
        open_any: &mut HashMap<ast::RuleKind, Span>,
    ) {
        if let Some(earlier) = open_any.get(&rule.kind) {
            let at = self.sources.locate(*earlier);
            self.warn(
                "unreachable-rule",
                rule.span,
                format!(
                    "never used: the `{} any` rule at {at} takes every call first",
                    rule.kind.as_str()
                ),
            );
        }
        if rule.guard.is_some() {
            return;
        }
        match &rule.matcher {
            ast::Matcher::Any => {
                open_any.entry(rule.kind).or_insert(rule.span);
            }
            ast::Matcher::Pattern(p) => {
                if let Some(lit) = p.literal() {
                    if let Some(earlier) = seen.get(&(rule.kind, lit.clone())) {
                        let at = self.sources.locate(*earlier);
                        self.warn(
                            "unreachable-rule",
                            rule.span,
                            format!("never used: `{lit}` is already taken by the rule at {at}"),
                        );
                    }
                    seen.entry((rule.kind, lit)).or_insert(rule.span);
                }
            }
            _ => {}
        }
    }

    fn add_rule(&mut self, rule: ast::RuleDef) {
        use ast::RuleKind as K;
        let matcher = match (&rule.kind, rule.matcher) {
            (K::Incoming, ast::Matcher::Always) => Matcher::Any,
            (K::Incoming, _) => {
                self.error("rule", rule.span, "an `incoming` rule takes no pattern: it runs for the extension being called (use `when` to choose)");
                return;
            }
            (_, ast::Matcher::Always) => {
                self.error(
                    "rule",
                    rule.span,
                    format!(
                        "a `{}` rule needs a pattern, `any`, `extension` or `in SETTING`",
                        rule.kind.as_str()
                    ),
                );
                return;
            }
            (_, ast::Matcher::Any) => Matcher::Any,
            (_, ast::Matcher::Extension) => Matcher::Extension,
            (_, ast::Matcher::In(w)) => {
                if !matches!(self.plan.settings.get(&w.text), Some(Value::List(_))) {
                    self.error(
                        "unknown-setting",
                        w.span,
                        format!("`{}` is not a list setting", w.text),
                    );
                }
                Matcher::In(w.text)
            }
            (kind, ast::Matcher::Pattern(p)) => {
                if *kind == K::Dial
                    && let Some(lit) = p.literal()
                    && self.is_emergency(&lit)
                {
                    self.error("emergency-collision", rule.span, format!("`{lit}` is an emergency number: it is always connected and no rule may take it"));
                }
                Matcher::Pattern(p)
            }
        };
        let mut names = Names::for_rule(rule.kind, &matcher);
        names.collect_vars(&rule.body, &self.subs);
        if let Some(g) = &rule.guard {
            self.check_expr(g, &names);
        }
        let mut program = Program::default();
        let scope = Scope::default();
        self.lower_block(&rule.body, &mut program, &scope, &names);
        let index = self.plan.programs.len();
        self.plan.programs.push(program);
        let compiled = Rule {
            matcher,
            guard: rule.guard,
            program: index,
            span: rule.span,
        };
        match rule.kind {
            K::Dial => self.plan.rules.dial.push(compiled),
            K::Inbound => self.plan.rules.inbound.push(compiled),
            K::Incoming => self.plan.rules.incoming.push(compiled),
            K::Incall => self.plan.rules.incall.push(compiled),
        }
    }

    fn is_emergency(&self, digits: &str) -> bool {
        matches!(self.plan.settings.get("emergency"), Some(Value::List(l)) if l.iter().any(|v| v.as_text().as_deref() == Some(digits)))
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
            if matches!(
                stmt.kind,
                StmtKind::Hangup
                    | StmtKind::Reject(_)
                    | StmtKind::Voicemail(_)
                    | StmtKind::Outbound(_)
                    | StmtKind::Retry { .. }
            ) {
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
                if let Some(a) = arg {
                    self.check_expr(a, names);
                }
                Self::emit(
                    prog,
                    Op::Play {
                        prompt: prompt.text.clone(),
                        arg: arg.clone(),
                    },
                    span,
                );
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
                Self::emit(
                    prog,
                    Op::Ask {
                        prompt: prompt.text.clone(),
                        var: var.text.clone(),
                    },
                    span,
                );
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
                self.check_expr(cond, names);
                let jump_else = Self::emit(prog, Op::JumpUnless(cond.clone(), 0), span);
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
                self.check_object_is(object, OwnerKind::Extension, names);
                self.check_expr(value, names);
                let dotted = field
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                match StateField::from_name(&dotted) {
                    Some(f) => {
                        Self::emit(
                            prog,
                            Op::Set {
                                object: object.clone(),
                                field: f,
                                value: value.clone(),
                            },
                            span,
                        );
                    }
                    None => {
                        let at = Span {
                            start: field[0].span.start,
                            ..field[field.len() - 1].span
                        };
                        self.error("read-only", at, format!("`{dotted}` cannot be set (settable: blocked, dnd, forward.all, forward.busy, forward.no_answer)"));
                    }
                }
            }
            StmtKind::Let { var, value } => {
                self.check_expr(value, names);
                Self::emit(
                    prog,
                    Op::Let {
                        var: var.text.clone(),
                        value: value.clone(),
                    },
                    span,
                );
            }
            StmtKind::Grant {
                what,
                object,
                duration,
            } => {
                self.check_object_is(object, OwnerKind::Extension, names);
                self.check_expr(duration, names);
                if what.text != "outbound" {
                    self.error(
                        "unknown-grant",
                        what.span,
                        format!("no grant `{}` (grants: outbound)", what.text),
                    );
                }
                Self::emit(
                    prog,
                    Op::GrantOutbound {
                        object: object.clone(),
                        duration: duration.clone(),
                    },
                    span,
                );
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
            StmtKind::Ring(e) => self.simple(prog, e, names, span, Op::Ring),
            StmtKind::Alert { extension, timeout } => {
                self.check_expr(extension, names);
                if let Some(t) = timeout {
                    self.check_expr(t, names);
                }
                Self::emit(
                    prog,
                    Op::Alert {
                        extension: extension.clone(),
                        timeout: timeout.clone(),
                    },
                    span,
                );
            }
            StmtKind::Outbound(e) => self.simple(prog, e, names, span, Op::Outbound),
            StmtKind::Voicemail(e) => self.simple(prog, e, names, span, Op::Voicemail),
            StmtKind::Reject(reason) => {
                if !REJECT_REASONS.contains(&reason.text.as_str()) {
                    self.error(
                        "unknown-reason",
                        reason.span,
                        format!(
                            "no reject reason `{}` (reasons: {})",
                            reason.text,
                            REJECT_REASONS.join(", ")
                        ),
                    );
                }
                Self::emit(prog, Op::Reject(reason.text.clone()), span);
            }
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
                self.check_expr(number, names);
                let as_code = match as_object {
                    None => None,
                    Some(Object::Code(arg, _)) => {
                        self.check_expr(arg, names);
                        Some((**arg).clone())
                    }
                    Some(other) => {
                        self.error(
                            "dial-as",
                            other.span(),
                            "`dial .. as` takes a verification code: `as code(c)`",
                        );
                        None
                    }
                };
                Self::emit(
                    prog,
                    Op::Dial {
                        number: number.clone(),
                        as_code,
                    },
                    span,
                );
            }
            StmtKind::Tally { name, key } => {
                self.check_expr(key, names);
                Self::emit(
                    prog,
                    Op::Tally {
                        name: name.text.clone(),
                        key: key.clone(),
                    },
                    span,
                );
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
            StmtKind::Wait(e) => self.simple(prog, e, names, span, Op::Wait),
            StmtKind::Do(name) => {
                if scope.subs.contains(&name.text) {
                    self.error(
                        "sub-recursion",
                        name.span,
                        format!("`{}` runs itself", name.text),
                    );
                    return;
                }
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

    fn simple(
        &mut self,
        prog: &mut Program,
        e: &Expr,
        names: &Names,
        span: Span,
        make: fn(Expr) -> Op,
    ) {
        self.check_expr(e, names);
        Self::emit(prog, make(e.clone()), span);
    }

    #[allow(clippy::too_many_arguments)]
    fn lower_check(
        &mut self,
        input: &Expr,
        secret: &ast::SecretRef,
        branches: &[(BranchKind, ast::Block, Span)],
        span: Span,
        prog: &mut Program,
        scope: &Scope,
        names: &Names,
    ) {
        self.check_expr(input, names);
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
                input: input.clone(),
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
        let owner = self.object_kind(&secret.object, names)?;
        let found = self
            .plan
            .policies
            .iter()
            .position(|p| p.owner == owner && p.secret == secret.secret.text);
        match found {
            Some(policy) => Some(SecretTarget {
                object: secret.object.clone(),
                policy,
            }),
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

    /// The kind of record an object names, checking its argument.
    fn object_kind(&mut self, object: &Object, names: &Names) -> Option<OwnerKind> {
        match object {
            Object::Extension(arg, _) => {
                self.check_expr(arg, names);
                Some(OwnerKind::Extension)
            }
            Object::Code(arg, _) => {
                self.check_expr(arg, names);
                Some(OwnerKind::Code)
            }
            Object::Named(w) if names.party(&w.text) => Some(OwnerKind::Extension),
            Object::Named(w) => {
                let message = format!(
                    "`{}` is not an extension or a code (use `caller`, `callee`, `extension(..)` or `code(..)`)",
                    w.text
                );
                self.error("not-a-record", w.span, message);
                None
            }
        }
    }

    fn check_object_is(&mut self, object: &Object, want: OwnerKind, names: &Names) {
        if let Some(kind) = self.object_kind(object, names)
            && kind != want
        {
            self.error(
                "not-a-record",
                object.span(),
                format!("expected {}", want.as_str()),
            );
        }
    }

    fn check_expr(&mut self, expr: &Expr, names: &Names) {
        match &expr.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Not(e) => self.check_expr(e, names),
            ExprKind::And(parts) | ExprKind::Or(parts) => {
                for part in parts {
                    self.check_expr(part, names);
                }
            }
            ExprKind::Compare(_, a, b) => {
                self.check_expr(a, names);
                self.check_expr(b, names);
            }
            ExprKind::Tally { key, window, .. } => {
                self.check_expr(key, names);
                self.check_expr(window, names);
            }
            ExprKind::Path { object, fields } => {
                let dotted = fields
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                let (allowed, what): (&[&str], &str) = match object {
                    Object::Named(w) if names.party(&w.text) => (EXTENSION_FIELDS, "an extension"),
                    Object::Extension(arg, _) => {
                        self.check_expr(arg, names);
                        (EXTENSION_FIELDS, "an extension")
                    }
                    Object::Code(arg, _) => {
                        self.check_expr(arg, names);
                        (CODE_FIELDS, "a code")
                    }
                    Object::Named(w) => {
                        if !names.is_known(&w.text, &self.plan.settings) {
                            self.error(
                                "unknown-name",
                                w.span,
                                format!(
                                    "`{}` is not a variable, a setting, `caller` or `callee`",
                                    w.text
                                ),
                            );
                        } else if !fields.is_empty() {
                            self.error(
                                "no-fields",
                                fields[0].span,
                                format!("`{}` is a plain value; it has no fields", w.text),
                            );
                        }
                        return;
                    }
                };
                if fields.is_empty() {
                    return;
                }
                if !allowed.contains(&dotted.as_str()) {
                    let at = Span {
                        start: fields[0].span.start,
                        ..fields[fields.len() - 1].span
                    };
                    self.error(
                        "unknown-field",
                        at,
                        format!(
                            "{what} has no field `{dotted}` (fields: {})",
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// The names a rule body may use.
struct Names {
    parties: &'static [&'static str],
    vars: HashSet<String>,
    settings_only: bool,
}

impl Names {
    fn settings_only() -> Names {
        Names {
            parties: &[],
            vars: HashSet::new(),
            settings_only: true,
        }
    }

    fn for_rule(kind: ast::RuleKind, matcher: &Matcher) -> Names {
        let parties: &'static [&'static str] = match kind {
            ast::RuleKind::Incoming => &["caller", "callee"],
            _ => &["caller"],
        };
        let mut vars: HashSet<String> = ["dialed", "now"].map(String::from).into();
        if let Matcher::Pattern(p) = matcher {
            vars.extend(p.captures().map(String::from));
        }
        Names {
            parties,
            vars,
            settings_only: false,
        }
    }

    fn party(&self, name: &str) -> bool {
        self.parties.contains(&name)
    }

    fn is_known(&self, name: &str, settings: &BTreeMap<String, Value>) -> bool {
        settings.contains_key(name) || (!self.settings_only && self.vars.contains(name))
    }

    /// Variables are leg-wide: any `ask`, `let` or capture in the body may be read.
    fn collect_vars(&mut self, block: &ast::Block, subs: &HashMap<String, ast::Block>) {
        let mut visited = HashSet::new();
        self.collect(block, subs, &mut visited);
    }

    fn collect(
        &mut self,
        block: &ast::Block,
        subs: &HashMap<String, ast::Block>,
        visited: &mut HashSet<String>,
    ) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Ask { var, .. } | StmtKind::Let { var, .. } => {
                    self.vars.insert(var.text.clone());
                }
                StmtKind::Check { branches, .. } => {
                    for (_, b, _) in branches {
                        self.collect(b, subs, visited);
                    }
                }
                StmtKind::If {
                    then, otherwise, ..
                } => {
                    self.collect(then, subs, visited);
                    if let Some(o) = otherwise {
                        self.collect(o, subs, visited);
                    }
                }
                StmtKind::Retry { otherwise: Some(b) } | StmtKind::Attempt(b) => {
                    self.collect(b, subs, visited)
                }
                StmtKind::Do(name) => {
                    if visited.insert(name.text.clone())
                        && let Some(body) = subs.get(&name.text)
                    {
                        self.collect(body, subs, visited);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_loads_without_findings() {
        let plan = load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dialplans/default.pbx"
        )))
        .unwrap_or_else(|f| panic!("{}", f.render()));
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        assert_eq!(plan.policies.len(), 3);
        assert_eq!(plan.classes.len(), 4);
        assert!(plan.rules.dial.len() >= 8);
    }

    /// Every pass (parse, checks, lowering) must hold at the deepest nesting the
    /// parser lets through, in a test thread's small stack and an unoptimised build.
    #[test]
    fn a_plan_nested_to_the_limit_compiles() {
        use super::super::nesting::MAX_NESTING;
        let blocks = MAX_NESTING - 1;
        let ifs = format!(
            "dial 1 {{\n{}hangup\n{}}}\n",
            "if caller.blocked {\n".repeat(blocks),
            "}\n".repeat(blocks)
        );
        let parens = MAX_NESTING - 1;
        let expr = format!(
            "dial 2 {{\n let x = {}not caller.blocked{}\n if x {{ hangup }}\n}}\n",
            "(".repeat(parens),
            ")".repeat(parens)
        );
        let chain = format!(
            "dial 3 {{\n if caller.blocked {{ hangup }}{}\n}}\n",
            " else if caller.blocked { hangup }".repeat(MAX_NESTING - 2)
        );
        for text in [ifs, expr, chain] {
            compile_str("deep.pbx", &text).unwrap_or_else(|f| panic!("{}", f.render()));
        }
        let too_deep = format!(
            "dial 1 {{\n{}hangup\n{}}}\n",
            "if caller.blocked {\n".repeat(blocks + 1),
            "}\n".repeat(blocks + 1)
        );
        let failure = compile_str("deep.pbx", &too_deep).unwrap_err();
        assert_eq!(failure.diagnostics.len(), 1);
        assert_eq!(failure.diagnostics[0].code, "nesting");
        assert!(
            failure
                .render()
                .contains(&format!("deep.pbx:{}:", MAX_NESTING + 1)),
            "{}",
            failure.render()
        );
    }
}
