//! Rhai hooks, sandboxed: bounded operations, depth and sizes; no modules, no
//! `eval`, no files, network or processes. A hook that fails decides "deny".
//! The only module that sees rhai.

use crate::dsl::Plan;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::plan::HookCode;
use std::collections::BTreeMap;

/// What a hook decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Go on.
    Allow,
    /// Stop, with a reject reason.
    Deny(String),
}

/// A hook that failed: its location and what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct HookFailure {
    /// The hook's name.
    pub hook: String,
    /// `file:line:col` in the hook's source.
    pub location: String,
    /// Rhai's message.
    pub message: String,
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: hook `{}` failed: {}",
            self.location, self.hook, self.message
        )
    }
}

/// Limits on one hook call.
const MAX_OPERATIONS: u64 = 50_000;
const MAX_CALL_LEVELS: usize = 16;
const MAX_STRING: usize = 4_096;
const MAX_ARRAY: usize = 1_024;
const MAX_MAP: usize = 256;

/// The compiled hooks of a plan.
pub struct Hooks {
    engine: rhai::Engine,
    compiled: BTreeMap<String, (rhai::AST, HookCode)>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("hooks", &self.compiled.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn sandbox() -> rhai::Engine {
    let mut engine = rhai::Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(MAX_STRING);
    engine.set_max_array_size(MAX_ARRAY);
    engine.set_max_map_size(MAX_MAP);
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    // Hooks may not write to the server's stdout; print and debug are dropped.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine
}

impl Hooks {
    /// Compiles every hook of a plan; syntax errors point into the hook's file.
    pub fn compile(plan: &Plan) -> Result<Hooks, Vec<Diagnostic>> {
        let engine = sandbox();
        let mut compiled = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, code) in &plan.hooks {
            match engine.compile(&code.code) {
                Ok(ast) => {
                    compiled.insert(name.clone(), (ast, code.clone()));
                }
                Err(e) => {
                    let location = locate(code, e.1);
                    errors.push(
                        Diagnostic::error(
                            "hook-syntax",
                            code.span,
                            format!("hook `{name}` does not compile: {} at {location}", e.0),
                        )
                        .with_label("in this hook"),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(Hooks { engine, compiled })
        } else {
            Err(errors)
        }
    }

    /// Whether a hook of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.compiled.contains_key(name)
    }

    /// Runs a hook with `leg` bound to `facts`. `Ok(None)`: no such hook.
    /// A hook returns `true` or nothing to allow, `false` or a reason string to deny.
    pub fn call(
        &self,
        name: &str,
        facts: &serde_json::Value,
    ) -> Result<Option<Decision>, HookFailure> {
        let Some((ast, code)) = self.compiled.get(name) else {
            return Ok(None);
        };
        let fail = |message: String, pos: rhai::Position| HookFailure {
            hook: name.to_string(),
            location: locate(code, pos),
            message,
        };
        let facts_value: rhai::Dynamic = rhai::serde::to_dynamic(facts)
            .map_err(|e| fail(e.to_string(), rhai::Position::NONE))?;
        let mut scope = rhai::Scope::new();
        scope.push_constant("leg", facts_value);
        let result = self
            .engine
            .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, ast)
            .map_err(|e| fail(e.to_string(), e.position()))?;
        if result.is_unit() {
            return Ok(Some(Decision::Allow));
        }
        if let Some(b) = result.clone().try_cast::<bool>() {
            return Ok(Some(if b {
                Decision::Allow
            } else {
                Decision::Deny("restricted".into())
            }));
        }
        if let Some(reason) = result.clone().try_cast::<rhai::ImmutableString>() {
            return Ok(Some(Decision::Deny(reason.to_string())));
        }
        Err(fail(
            format!(
                "returned {}; a hook returns true, false or a reject reason",
                result.type_name()
            ),
            rhai::Position::NONE,
        ))
    }
}

fn locate(code: &HookCode, pos: rhai::Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), col) => format!(
            "{}:{}:{}",
            code.path.display(),
            line + code.line_offset,
            col.unwrap_or(1)
        ),
        _ => code.path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(plan_text: &str) -> Hooks {
        let plan = crate::dsl::compile_str("t.pbx", plan_text)
            .unwrap_or_else(|f| panic!("{}", f.render()));
        Hooks::compile(&plan).unwrap()
    }

    #[test]
    fn decisions_follow_the_return_value() {
        let h = hooks(
            "hook before-outbound \"\"\"\nif leg.number.starts_with(\"1900\") { \"restricted\" } else { true }\n\"\"\"\nhook quiet \"\"\"\n\"\"\"",
        );
        let facts = serde_json::json!({"number": "19005551234"});
        assert_eq!(
            h.call("before-outbound", &facts).unwrap(),
            Some(Decision::Deny("restricted".into()))
        );
        let facts = serde_json::json!({"number": "5551234"});
        assert_eq!(
            h.call("before-outbound", &facts).unwrap(),
            Some(Decision::Allow)
        );
        assert_eq!(h.call("quiet", &facts).unwrap(), Some(Decision::Allow));
        assert_eq!(h.call("absent", &facts).unwrap(), None);
    }

    #[test]
    fn runaway_and_escaping_hooks_fail_with_their_line() {
        let h = hooks(
            "# a plan\nhook spin \"\"\"\nlet x = 0;\nloop { x += 1; }\n\"\"\"\nhook grab \"\"\"\nimport \"secrets\" as s;\n\"\"\"\nhook big \"\"\"\nlet s = \"x\"; loop { s += s; }\n\"\"\"",
        );
        let facts = serde_json::json!({});
        let spin = h.call("spin", &facts).unwrap_err();
        assert!(
            spin.message.to_lowercase().contains("too many operations"),
            "{spin}"
        );
        assert!(spin.location.starts_with("t.pbx:4:"), "{spin}");
        let grab = h.call("grab", &facts).unwrap_err();
        assert!(grab.location.starts_with("t.pbx:7:"), "{grab}");
        let big = h.call("big", &facts).unwrap_err();
        assert!(big.message.to_lowercase().contains("string"), "{big}");
    }

    #[test]
    fn a_hook_file_reports_failures_at_its_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("screen.rhai"),
            "// screening\nlet n = leg.number;\nn.no_such_method()\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("plan.pbx"),
            "hook screen from \"screen.rhai\"\n",
        )
        .unwrap();
        let plan = crate::dsl::load(&dir.path().join("plan.pbx")).unwrap();
        let hooks = Hooks::compile(&plan).unwrap();
        let failure = hooks
            .call("screen", &serde_json::json!({"number": "5551234"}))
            .unwrap_err();
        let expected = format!("{}:3:", dir.path().join("screen.rhai").display());
        assert!(failure.location.starts_with(&expected), "{failure}");
    }

    #[test]
    fn syntax_errors_name_the_hook() {
        let plan = crate::dsl::compile_str("t.pbx", "hook bad \"\"\"\nlet = ;\n\"\"\"").unwrap();
        let errs = Hooks::compile(&plan).unwrap_err();
        assert!(
            errs[0].message.contains("hook `bad` does not compile"),
            "{:?}",
            errs
        );
        assert!(errs[0].message.contains("t.pbx:2:"), "{:?}", errs);
    }
}
