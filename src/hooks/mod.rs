//! Rhai hooks, sandboxed ([`sandbox`]): bounded operations, wall time, depth and
//! sizes; no clock, no sleep, no modules, no `eval`, no files, network or processes.
//! A hook that fails decides "deny". The only module that sees rhai.

pub mod sandbox;

use crate::clock::Timestamp;
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

pub use sandbox::Limits;

/// What a hook sees of a leg, as `leg`: the one shape both the engine and `lint`'s
/// probes build.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The calling number.
    pub caller: &'a str,
    /// The digits dialed.
    pub dialed: &'a str,
    /// The outside number at stake (prefix stripped), if any.
    pub number: Option<&'a str>,
    /// The leg's class of service.
    pub class: Option<u32>,
    /// Who the call is made for (a verification code's owner, else the caller).
    pub originator: &'a str,
    /// The billing code.
    pub billing: Option<&'a str>,
}

impl Facts<'_> {
    /// The JSON object bound to `leg`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "caller": self.caller,
            "dialed": self.dialed,
            "number": self.number,
            "class": self.class,
            "originator": self.originator,
            "billing": self.billing,
        })
    }
}

/// The compiled hooks of a plan.
pub struct Hooks {
    engine: rhai::Engine,
    limits: Limits,
    compiled: BTreeMap<String, (rhai::AST, HookCode)>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("hooks", &self.compiled.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Hooks {
    /// Compiles every hook of a plan under the default limits; syntax errors and calls
    /// of functions the sandbox does not have point into the hook's file.
    pub fn compile(plan: &Plan) -> Result<Hooks, Vec<Diagnostic>> {
        Hooks::compile_with(plan, Limits::default())
    }

    /// Compiles every hook of a plan under `limits`.
    pub fn compile_with(plan: &Plan, limits: Limits) -> Result<Hooks, Vec<Diagnostic>> {
        let engine = sandbox::engine(limits);
        let mut compiled = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, code) in &plan.hooks {
            match engine.compile(&code.code) {
                Ok(ast) => {
                    for (function, pos) in sandbox::unknown_calls(&engine, &ast) {
                        let location = locate(code, pos);
                        errors.push(
                            Diagnostic::error(
                                "hook-call",
                                code.span,
                                format!(
                                    "hook `{name}` calls `{function}`, which hooks do not have, at {location}"
                                ),
                            )
                            .with_label("in this hook"),
                        );
                    }
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
            Ok(Hooks {
                engine,
                limits,
                compiled,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether a hook of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.compiled.contains_key(name)
    }

    /// Runs a hook with `leg` bound to `facts` and `now` to the engine's time (ms since
    /// the Unix epoch). `Ok(None)`: no such hook.
    /// A hook returns `true` or nothing to allow, `false` or a reason string to deny.
    pub fn call(
        &self,
        name: &str,
        facts: &serde_json::Value,
        now: Timestamp,
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
        scope.push_constant("now", now.0);
        let result = sandbox::with_deadline(self.limits, || {
            self.engine
                .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, ast)
        })
        .map_err(|e| {
            // A run stopped by the wall-time guard carries the guard's own message.
            let message = match &*e {
                rhai::EvalAltResult::ErrorTerminated(why, _) => why.to_string(),
                other => other.to_string(),
            };
            fail(message, e.position())
        })?;
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

    const T: Timestamp = Timestamp(1_772_355_600_000);

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
            h.call("before-outbound", &facts, T).unwrap(),
            Some(Decision::Deny("restricted".into()))
        );
        let facts = serde_json::json!({"number": "5551234"});
        assert_eq!(
            h.call("before-outbound", &facts, T).unwrap(),
            Some(Decision::Allow)
        );
        assert_eq!(h.call("quiet", &facts, T).unwrap(), Some(Decision::Allow));
        assert_eq!(h.call("absent", &facts, T).unwrap(), None);
    }

    #[test]
    fn runaway_and_escaping_hooks_fail_with_their_line() {
        let h = hooks(
            "# a plan\nhook spin \"\"\"\nlet x = 0;\nloop { x += 1; }\n\"\"\"\nhook grab \"\"\"\nimport \"secrets\" as s;\n\"\"\"\nhook big \"\"\"\nlet s = \"x\"; loop { s += s; }\n\"\"\"",
        );
        let facts = serde_json::json!({});
        let spin = h.call("spin", &facts, T).unwrap_err();
        assert!(
            spin.message.to_lowercase().contains("too many operations"),
            "{spin}"
        );
        assert!(spin.location.starts_with("t.pbx:4:"), "{spin}");
        let grab = h.call("grab", &facts, T).unwrap_err();
        assert!(grab.location.starts_with("t.pbx:7:"), "{grab}");
        let big = h.call("big", &facts, T).unwrap_err();
        assert!(big.message.to_lowercase().contains("string"), "{big}");
    }

    #[test]
    fn a_hook_file_reports_failures_at_its_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("screen.rhai"),
            "// screening\nlet n = leg.number.len();\nn / 0\n",
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
            .call("screen", &serde_json::json!({"number": "5551234"}), T)
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

    #[test]
    fn hooks_have_no_clock_sleep_or_exit() {
        let plan = crate::dsl::compile_str(
            "t.pbx",
            "hook nap \"\"\"\nsleep(8); true\n\"\"\"\nhook clock \"\"\"\nlet t = timestamp();\nexit(1)\n\"\"\"",
        )
        .unwrap();
        let errs = Hooks::compile(&plan).unwrap_err();
        let messages: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(errs.len(), 3, "{messages:?}");
        assert!(messages[0].contains("calls `timestamp`") && messages[0].contains("t.pbx:5:"));
        assert!(messages[1].contains("calls `exit`") && messages[1].contains("t.pbx:6:"));
        assert!(messages[2].contains("calls `sleep`") && messages[2].contains("t.pbx:2:"));
        assert!(errs.iter().all(|d| d.code == "hook-call"));

        // Reached another way, `sleep` still does not exist: the hook fails at once.
        let h = hooks("hook nap \"\"\"\nlet f = Fn(\"sleep\");\nf.call(100); true\n\"\"\"");
        let failure = h.call("nap", &serde_json::json!({}), T).unwrap_err();
        assert!(failure.message.contains("sleep"), "{failure}");
    }

    #[test]
    fn now_is_the_time_the_engine_was_given() {
        let h = hooks(
            "hook night \"\"\"\nlet hour = (now / 3600000) % 24;\nif hour >= 20 || hour < 7 { \"restricted\" } else { true }\n\"\"\"",
        );
        // T is 09:00 UTC.
        let facts = serde_json::json!({});
        assert_eq!(h.call("night", &facts, T).unwrap(), Some(Decision::Allow));
        let late = Timestamp(T.0 + 12 * 3_600_000);
        assert_eq!(
            h.call("night", &facts, late).unwrap(),
            Some(Decision::Deny("restricted".into()))
        );
    }

    #[test]
    fn wall_time_is_bounded_as_well_as_operations() {
        let plan = crate::dsl::compile_str("t.pbx", "hook spin \"\"\"\nloop { }\n\"\"\"").unwrap();
        let limits = Limits {
            operations: 0, // unlimited: only the wall clock can stop it
            wall: std::time::Duration::from_millis(20),
        };
        let h = Hooks::compile_with(&plan, limits).unwrap();
        let failure = h.call("spin", &serde_json::json!({}), T).unwrap_err();
        assert!(
            failure.message.contains("ran longer than 20 ms"),
            "{failure}"
        );
    }
}
