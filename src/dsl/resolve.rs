//! Names in expressions, resolved once: `caller` and `callee` become parties, a
//! variable its slot, a setting its index, `a.b.c` a typed field. What cannot be
//! resolved is reported where it stands (and compiles to `none`, so checking goes on).

use super::ast::{self, ExprKind as Ast, Object, RuleKind, StmtKind};
use super::compile::Compiler;
use super::expr::{CodeField, Expr, ExprKind, ExtensionField, Field, Party, VarId};
use super::plan::Matcher;
use super::span::Span;
use super::value::Value;
use std::collections::{HashMap, HashSet};

/// The names a rule body (or a policy) may use.
pub(super) struct Names {
    /// `caller`, and `callee` in `incoming` rules.
    parties: &'static [&'static str],
    /// Leg variables the body sets, and `dialed` and captures.
    vars: HashSet<String>,
    /// Only settings and constants (policy clauses).
    settings_only: bool,
}

impl Names {
    /// For policy clauses: settings and constants only.
    pub(super) fn settings_only() -> Names {
        Names {
            parties: &[],
            vars: HashSet::new(),
            settings_only: true,
        }
    }

    fn party(&self, name: &str) -> bool {
        self.parties.contains(&name)
    }
}

impl Compiler<'_> {
    /// The names a rule's body may use: variables are leg-wide, so any `ask`, `let` or
    /// capture in the body (or a sub it runs) may be read anywhere in it.
    pub(super) fn names_for_rule(
        &mut self,
        kind: RuleKind,
        matcher: &Matcher,
        body: &ast::Block,
    ) -> Names {
        let parties: &'static [&'static str] = match kind {
            RuleKind::Incoming => &["caller", "callee"],
            _ => &["caller"],
        };
        let mut vars: HashSet<String> = HashSet::from(["dialed".to_string()]);
        if let Matcher::Pattern(p) = matcher {
            vars.extend(p.captures().map(String::from));
        }
        collect_vars(body, &self.subs, &mut HashSet::new(), &mut vars);
        for var in &vars {
            self.var_slot(var);
        }
        Names {
            parties,
            vars,
            settings_only: false,
        }
    }

    /// The slot of a leg variable, made on first use.
    pub(super) fn var_slot(&mut self, name: &str) -> VarId {
        match self.plan.var(name) {
            Some(id) => id,
            None => {
                self.plan.vars.push(name.to_owned());
                self.plan.vars.len() - 1
            }
        }
    }

    /// Compiles an expression, reporting every name it cannot resolve.
    pub(super) fn resolve(&mut self, expr: &ast::Expr, names: &Names) -> Expr {
        let span = expr.span;
        let kind = match &expr.kind {
            Ast::Literal(lit) => ExprKind::Const(Value::from(lit)),
            Ast::Not(e) => ExprKind::Not(Box::new(self.resolve(e, names))),
            Ast::And(parts) => {
                ExprKind::And(parts.iter().map(|p| self.resolve(p, names)).collect())
            }
            Ast::Or(parts) => ExprKind::Or(parts.iter().map(|p| self.resolve(p, names)).collect()),
            Ast::Compare(op, a, b) => ExprKind::Compare(
                *op,
                Box::new(self.resolve(a, names)),
                Box::new(self.resolve(b, names)),
            ),
            Ast::Tally { name, key, window } => ExprKind::Tally {
                name: name.text.clone(),
                key: Box::new(self.resolve(key, names)),
                window: Box::new(self.resolve(window, names)),
            },
            Ast::Path { object, fields } => self.resolve_path(object, fields, names),
        };
        Expr { kind, span }
    }

    fn resolve_path(&mut self, object: &Object, fields: &[ast::Word], names: &Names) -> ExprKind {
        let party = match object {
            Object::Named(w) if !names.party(&w.text) => {
                if !fields.is_empty() && self.name_value(w, names).is_some() {
                    self.error(
                        "no-fields",
                        fields[0].span,
                        format!("`{}` is a plain value; it has no fields", w.text),
                    );
                    return ExprKind::Const(Value::None);
                }
                return self.name_value(w, names).unwrap_or_else(|| {
                    self.error(
                        "unknown-name",
                        w.span,
                        format!(
                            "`{}` is not a variable, a setting, `caller` or `callee`",
                            w.text
                        ),
                    );
                    ExprKind::Const(Value::None)
                });
            }
            _ => match self.resolve_party(object, names) {
                Some(p) => p,
                None => return ExprKind::Const(Value::None),
            },
        };
        if fields.is_empty() {
            return ExprKind::Key(party);
        }
        let dotted = fields
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let field = if party.is_code() {
            CodeField::parse(&dotted).map(Field::Code)
        } else {
            ExtensionField::parse(&dotted).map(Field::Extension)
        };
        match field {
            Some(f) => ExprKind::Field(party, f),
            None => {
                let at = Span {
                    start: fields[0].span.start,
                    ..fields[fields.len() - 1].span
                };
                let (what, list) = if party.is_code() {
                    ("a code", CodeField::list())
                } else {
                    ("an extension", ExtensionField::list())
                };
                self.error(
                    "unknown-field",
                    at,
                    format!("{what} has no field `{dotted}` (fields: {list})"),
                );
                ExprKind::Const(Value::None)
            }
        }
    }

    /// A plain name: `now`, a variable, or a setting.
    fn name_value(&mut self, w: &ast::Word, names: &Names) -> Option<ExprKind> {
        if !names.settings_only {
            if w.text == "now" {
                return Some(ExprKind::Now);
            }
            if names.vars.contains(&w.text) {
                return Some(ExprKind::Var(self.var_slot(&w.text)));
            }
        }
        self.plan.settings.id(&w.text).map(ExprKind::Setting)
    }

    /// The party an object names, checking its argument.
    pub(super) fn resolve_party(&mut self, object: &Object, names: &Names) -> Option<Party> {
        match object {
            Object::Extension(arg, _) => Some(Party::Extension(Box::new(self.resolve(arg, names)))),
            Object::Code(arg, _) => Some(Party::Code(Box::new(self.resolve(arg, names)))),
            Object::Named(w) if names.party(&w.text) && w.text == "callee" => Some(Party::Callee),
            Object::Named(w) if names.party(&w.text) => Some(Party::Caller),
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

    /// The party an object names, which must be an extension.
    pub(super) fn resolve_extension(&mut self, object: &Object, names: &Names) -> Option<Party> {
        let party = self.resolve_party(object, names)?;
        if party.is_code() {
            self.error("not-a-record", object.span(), "expected extension");
            return None;
        }
        Some(party)
    }
}

/// Every variable a block (and the subs it runs) sets.
fn collect_vars(
    block: &ast::Block,
    subs: &HashMap<String, ast::Block>,
    visited: &mut HashSet<String>,
    vars: &mut HashSet<String>,
) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Ask { var, .. } | StmtKind::Let { var, .. } => {
                vars.insert(var.text.clone());
            }
            StmtKind::Check { branches, .. } => {
                for (_, b, _) in branches {
                    collect_vars(b, subs, visited, vars);
                }
            }
            StmtKind::If {
                then, otherwise, ..
            } => {
                collect_vars(then, subs, visited, vars);
                if let Some(o) = otherwise {
                    collect_vars(o, subs, visited, vars);
                }
            }
            StmtKind::Retry { otherwise: Some(b) }
            | StmtKind::Attempt(b)
            | StmtKind::Alert { busy: Some(b), .. } => collect_vars(b, subs, visited, vars),
            StmtKind::Do(name) => {
                if visited.insert(name.text.clone())
                    && let Some(body) = subs.get(&name.text)
                {
                    collect_vars(body, subs, visited, vars);
                }
            }
            _ => {}
        }
    }
}
