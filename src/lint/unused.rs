//! Hygiene: definitions nothing uses. Each is text a reader must understand for no
//! effect, and often the sign of a typo elsewhere.

use crate::directory::Config;
use crate::dsl::Plan;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::plan::{HOOK_POINTS, Op};
use std::collections::BTreeSet;

/// Hooks never run: not `run` by any rule and not a hook point the engine calls.
pub fn unused_hooks(plan: &Plan) -> Vec<Diagnostic> {
    let run: BTreeSet<&str> = plan
        .programs
        .iter()
        .flat_map(|p| &p.ops)
        .filter_map(|op| match op {
            Op::Run(h) => Some(h.as_str()),
            _ => None,
        })
        .collect();
    plan.hooks
        .iter()
        .filter(|(name, _)| !run.contains(name.as_str()) && !HOOK_POINTS.contains(&name.as_str()))
        .map(|(name, code)| {
            Diagnostic::warning(
                "unused-hook",
                code.name_span,
                format!(
                    "hook `{name}` is never consulted: no rule says `run {name}` and it is not one of the engine's hook points ({})",
                    HOOK_POINTS.join(", ")
                ),
            )
        })
        .collect()
}

/// Policies no `check`, `unlock` or `retry` names.
pub fn unused_policies(plan: &Plan) -> Vec<Diagnostic> {
    let used: BTreeSet<usize> = plan
        .programs
        .iter()
        .flat_map(|p| &p.ops)
        .filter_map(|op| match op {
            Op::Check { secret, .. } | Op::Unlock(secret) => Some(secret.policy),
            Op::Retry { policy, .. } => Some(*policy),
            _ => None,
        })
        .collect();
    plan.policies
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, p)| {
            Diagnostic::warning(
                "unused-policy",
                plan.sources.first_line(p.span),
                format!(
                    "policy `{}` governs {}.{}, but no `check` in the plan reads that secret: it only shapes PINs set with `pbxctl`",
                    p.name,
                    p.owner.as_str(),
                    p.secret
                ),
            )
        })
        .collect()
}

/// Classes no extension or code of the directory has.
pub fn unused_classes(plan: &Plan, config: &Config) -> Vec<Diagnostic> {
    let d = &config.directory;
    if d.extensions.is_empty() && d.codes.is_empty() {
        return Vec::new(); // a config still being written
    }
    let used: BTreeSet<u32> = (d.extensions.values().map(|e| e.value.class))
        .chain(d.codes.values().map(|c| c.value.class))
        .collect();
    plan.classes
        .values()
        .filter(|c| !used.contains(&c.number))
        .map(|c| {
            Diagnostic::warning(
                "unused-class",
                plan.sources.first_line(c.span),
                format!(
                    "class {} is given to no extension or code of {}",
                    c.number,
                    config.path.display()
                ),
            )
        })
        .collect()
}
