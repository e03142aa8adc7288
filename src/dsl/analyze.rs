//! The plan's definitions (settings, policies, classes, hooks, subs) and its rules'
//! heads: which calls each rule takes, whether an earlier rule always takes them first,
//! and whether a rule takes an emergency number.

use super::ast::Unlocker;
use super::ast::{self, Item, LockoutDef, RuleKind};
use super::compile::Compiler;
use super::pattern::Pattern;
use super::plan::{Class, HookCode, Lockout, Matcher, Policy, Rule};
use super::resolve::Names;
use super::settings::engine_defaults;
use super::span::{FileId, Span};
use super::value::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What the rules before the one being checked take, by kind of rule.
#[derive(Default)]
pub(super) struct Taken {
    /// Codes (patterns without wildcards), with where their rule is.
    literals: BTreeMap<(RuleKind, String), Span>,
    /// Unguarded patterns with wildcards, in order.
    patterns: Vec<(RuleKind, Pattern, Span)>,
    /// The first unguarded `any`.
    any: HashMap<RuleKind, Span>,
}

impl Compiler<'_> {
    /// Takes in every definition (later ones override earlier, so profiles can include
    /// a base plan) and returns the rules, which may refer to any definition.
    pub(super) fn define(&mut self, items: Vec<(FileId, Item)>) -> Vec<ast::RuleDef> {
        let mut policies: Vec<(String, ast::PolicyDef)> = Vec::new();
        let mut rules = Vec::new();
        for (file, item) in items {
            match item {
                Item::Include { .. } => {}
                Item::Setting { name, value } => {
                    self.plan.setting_spans.insert(name.text.clone(), name.span);
                    self.plan
                        .settings
                        .set(&name.text, Value::from(&value.value));
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
                        span: def.span,
                    };
                    self.plan.classes.insert(def.number, class);
                }
                Item::Hook(def) => self.add_hook(file, def),
                Item::Sub { name, body } => {
                    self.sub_spans.insert(name.text.clone(), name.span);
                    self.subs.insert(name.text, body);
                }
                Item::Rule(rule) => rules.push(rule),
            }
        }
        self.check_settings();
        for (_, def) in policies {
            self.add_policy(def);
        }
        rules
    }

    /// Checks each rule's head against the rules before it, then lowers its body.
    pub(super) fn add_rules(&mut self, rules: Vec<ast::RuleDef>) {
        let mut taken = Taken::default();
        for rule in rules {
            self.check_reachability(&rule, &mut taken);
            self.add_rule(rule);
        }
    }

    fn check_settings(&mut self) {
        for (name, default) in engine_defaults() {
            let value = self
                .plan
                .settings
                .get(name)
                .expect("engine settings are declared");
            if std::mem::discriminant(value) != std::mem::discriminant(&default) {
                let span = self.plan.setting_spans[name];
                let message = format!("`{name}` must be {}, not {}", default.kind(), value.kind());
                self.error("setting-type", span, message);
            }
        }
        if let Some(Value::List(numbers)) = self.plan.settings.get("emergency")
            && numbers
                .iter()
                .any(|n| !matches!(n, Value::Digits(d) if d.bytes().all(|b| b.is_ascii_digit())))
        {
            let span = self.plan.setting_spans["emergency"];
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
                        name_span: def.name.span,
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
                    name_span: def.name.span,
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
        if self.plan.policy(owner, &secret.text).is_some() {
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
                Lockout::After {
                    threshold: self.resolve(&threshold, &names),
                    per_call,
                    when: when.as_ref().map(|w| self.resolve(w, &names)),
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

    /// Rules are tried in order and the first that takes a number wins: warns of a
    /// rule an earlier one always beats (`unreachable-rule`), of a pattern that loses a
    /// number to an earlier code (`code-shadows-pattern`), and of a code that starts
    /// another (`prefix-code`).
    fn check_reachability(&mut self, rule: &ast::RuleDef, taken: &mut Taken) {
        let kind = rule.kind;
        if let Some(earlier) = taken.any.get(&kind) {
            let at = self.sources.locate(*earlier);
            self.warn(
                "unreachable-rule",
                rule.span,
                format!(
                    "never used: the `{} any` rule at {at} takes every call first",
                    kind.as_str()
                ),
            );
            // A rule never used has nothing more to say.
            return;
        }
        match &rule.matcher {
            ast::Matcher::Any if rule.guard.is_none() => {
                taken.any.insert(kind, rule.span);
            }
            ast::Matcher::Pattern(p) => match p.literal() {
                Some(lit) => self.check_code(rule, &lit, taken),
                None => self.check_pattern(rule, p, taken),
            },
            _ => {}
        }
    }

    /// A code: beaten by an earlier rule for the same digits or an earlier pattern, or
    /// the start of another code, or started by one.
    fn check_code(&mut self, rule: &ast::RuleDef, lit: &str, taken: &mut Taken) {
        let kind = rule.kind;
        if let Some(earlier) = taken.literals.get(&(kind, lit.to_owned())) {
            let at = self.sources.locate(*earlier);
            let message = format!("never used: `{lit}` is already taken by the rule at {at}");
            self.warn("unreachable-rule", rule.span, message);
            return;
        }
        let beaten = taken
            .patterns
            .iter()
            .find(|(k, p, _)| *k == kind && p.matches(lit).is_some());
        if let Some((_, p, earlier)) = beaten {
            let at = self.sources.locate(*earlier);
            let message = format!(
                "never used: `{lit}` is taken first by the `{}` rule at {at}",
                p.text
            );
            self.warn("unreachable-rule", rule.span, message);
            return;
        }
        // Only phones dial digit by digit; a carrier sends a whole number.
        if kind == RuleKind::Dial {
            self.check_prefix(rule, lit, taken);
        }
        if rule.guard.is_none() {
            taken
                .literals
                .entry((kind, lit.to_owned()))
                .or_insert(rule.span);
        }
    }

    /// A code that another code starts, or that starts another.
    fn check_prefix(&mut self, rule: &ast::RuleDef, lit: &str, taken: &Taken) {
        let kind = rule.kind;
        // The longest earlier code that starts this one, else the first that this one starts.
        let shorter = (1..lit.len()).rev().find_map(|n| {
            taken
                .literals
                .get(&(kind, lit[..n].to_owned()))
                .map(|s| (lit[..n].to_owned(), *s))
        });
        let longer = taken
            .literals
            .range((kind, lit.to_owned())..)
            .take_while(|((k, l), _)| *k == kind && l.starts_with(lit))
            .find(|((_, l), _)| l != lit)
            .map(|((_, l), s)| (l.clone(), *s));
        let pair = match (shorter, longer) {
            (Some((short, at)), _) => Some((short, lit.to_owned(), at)),
            (None, Some((long, at))) => Some((lit.to_owned(), long, at)),
            (None, None) => None,
        };
        if let Some((short, long, earlier)) = pair {
            let at = self.sources.locate(earlier);
            self.warn(
                "prefix-code",
                rule.span,
                format!(
                    "`{short}` is the start of `{long}` (the other at {at}): a phone that sends a number once it matches a code (a digit map) sends `{short}`, so `{long}` is reached only by dialing it faster than the phone waits"
                ),
            );
        }
    }

    /// A pattern with wildcards: the numbers earlier codes take from it.
    fn check_pattern(&mut self, rule: &ast::RuleDef, p: &Pattern, taken: &mut Taken) {
        let kind = rule.kind;
        let lost = taken
            .literals
            .iter()
            .find(|((k, l), _)| *k == kind && p.matches(l).is_some());
        if let Some(((_, lit), earlier)) = lost {
            let at = self.sources.locate(*earlier);
            let message = format!(
                "`{}` never gets `{lit}`: the rule at {at} takes that number first",
                p.text
            );
            self.warn("code-shadows-pattern", rule.span, message);
        }
        if rule.guard.is_none() {
            taken.patterns.push((kind, p.clone(), rule.span));
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
            (_, ast::Matcher::In(w)) => match self.list_setting(&w) {
                Some(id) => Matcher::In(id),
                None => return,
            },
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
        let names = self.names_for_rule(rule.kind, &matcher, &rule.body);
        let guard = rule.guard.as_ref().map(|g| self.resolve(g, &names));
        let program = self.lower_body(&rule.body, rule.kind, &names);
        let index = self.plan.programs.len();
        self.plan.programs.push(program);
        let compiled = Rule {
            matcher,
            guard,
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

    /// The index of a list setting named by `w`, or an error at `w`.
    pub(super) fn list_setting(&mut self, w: &ast::Word) -> Option<usize> {
        match self.plan.settings.get(&w.text) {
            Some(Value::List(_)) => self.plan.settings.id(&w.text),
            _ => {
                self.error(
                    "unknown-setting",
                    w.span,
                    format!("`{}` is not a list setting", w.text),
                );
                None
            }
        }
    }

    fn is_emergency(&self, digits: &str) -> bool {
        matches!(self.plan.settings.get("emergency"), Some(Value::List(l)) if l.iter().any(|v| v.as_text().as_deref() == Some(digits)))
    }
}
