//! Compiling a plan, one phase per file: [`super::load`] reads the files,
//! [`super::analyze`] gathers the definitions and checks the rules' heads,
//! [`super::resolve`] turns names in expressions into slots and fields, and
//! [`super::lower`] turns rule bodies into flat programs. Every phase adds to one list
//! of diagnostics; loading fails only after all of them have run.

use super::diagnostic::{Diagnostic, Failure};
use super::load::{Loaded, load_file, load_text};
use super::plan::{Plan, Rules};
use super::settings::SettingTable;
use super::span::{SourceMap, Span};
use super::{ast, ast::Item};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Reads, parses and checks a plan file and the files it includes.
pub fn load(path: &Path) -> Result<Plan, Failure> {
    finish(load_file(path))
}

/// Checks a plan given as text (no includes are resolved relative to a real file).
pub fn compile_str(name: &str, text: &str) -> Result<Plan, Failure> {
    finish(load_text(name, text))
}

fn finish(loaded: Loaded) -> Result<Plan, Failure> {
    let Loaded {
        sources,
        items,
        mut diagnostics,
    } = loaded;
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

/// What every phase shares: the sources, the findings, and the plan being built.
pub(super) struct Compiler<'a> {
    pub sources: &'a SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    pub plan: Plan,
    /// `sub` bodies by name, inlined where `do` runs them.
    pub subs: HashMap<String, ast::Block>,
    /// Where each `sub` is named, for `unused-sub`.
    pub sub_spans: BTreeMap<String, Span>,
    /// The subs some `do` runs.
    pub subs_done: HashSet<String>,
}

impl<'a> Compiler<'a> {
    fn new(sources: &'a SourceMap, diags: &'a mut Vec<Diagnostic>) -> Self {
        let plan = Plan {
            sources: SourceMap::default(),
            settings: SettingTable::with_engine_defaults(),
            vars: Vec::new(),
            policies: Vec::new(),
            classes: BTreeMap::new(),
            rules: Rules::default(),
            programs: Vec::new(),
            hooks: BTreeMap::new(),
            setting_spans: BTreeMap::new(),
            warnings: Vec::new(),
        };
        Compiler {
            sources,
            diags,
            plan,
            subs: HashMap::new(),
            sub_spans: BTreeMap::new(),
            subs_done: HashSet::new(),
        }
    }

    pub fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, message));
    }

    pub fn warn(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(code, span, message));
    }

    fn run(mut self, items: Vec<(super::span::FileId, Item)>) -> Plan {
        let rules = self.define(items);
        self.add_rules(rules);
        self.check_unused_subs();
        self.plan
    }

    /// `unused-sub`: a sub no `do` runs is dead text that still has to be read.
    fn check_unused_subs(&mut self) {
        let unused: Vec<_> = (self.sub_spans.iter())
            .filter(|(name, _)| !self.subs_done.contains(*name))
            .map(|(name, span)| (name.clone(), *span))
            .collect();
        for (name, span) in unused {
            self.warn(
                "unused-sub",
                span,
                format!("`sub {name}` is never run: no `do {name}` in any rule"),
            );
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
