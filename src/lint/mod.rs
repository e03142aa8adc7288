//! What `pbxctl lint` reasons about beyond what loading a plan checks: safety of
//! emergency calls, toll fraud, the directory, and definitions nothing uses. Each rule
//! has a stable code and a page in `docs/lint.md`.

pub mod allow;
mod directory;
mod emergency;
mod files;
mod flow;
mod fraud;
mod numbering;
mod unused;

use crate::directory::Config;
use crate::directory::yaml::span_at;
use crate::dsl::Plan;
use crate::dsl::diagnostic::{Diagnostic, Severity};
use crate::dsl::settings::Settings;
use crate::dsl::span::Span;
use crate::hooks::Hooks;

pub use files::files;

/// Codes only a config can raise: a plan linted alone cannot judge an allow for them.
pub const CONFIG_CODES: &[&str] = &[
    "international-for-all",
    "forward-denied",
    "unused-class",
    "weak-secret",
    "no-sip-secret",
    "duplicate-number",
    "unknown-department",
    "trunk-without-credentials",
];

/// Findings, by the file they point into.
#[derive(Debug, Default)]
pub struct Findings {
    /// Spans in the plan's sources.
    pub plan: Vec<Diagnostic>,
    /// Spans in the config's sources.
    pub config: Vec<Diagnostic>,
}

/// Checks a plan under `settings` (its own, or a config's with its overrides), and,
/// given a config, the directory it serves. `hooks`: the plan's compiled hooks, if they
/// compiled.
pub fn check(
    plan: &Plan,
    hooks: Option<&Hooks>,
    config: Option<&Config>,
    settings: &Settings,
) -> Findings {
    let mut found = Findings::default();
    for (finding, setting) in fraud::unlocked_secrets(plan, settings) {
        match setting.and_then(|name| given_at(plan, config, &[name.as_str()])) {
            Some(at) => at.put(finding, &mut found),
            None => found.plan.push(finding),
        }
    }
    emergency_settings(plan, config, settings, &mut found);
    let in_plan = &mut found.plan;
    in_plan.extend(numbering::check(plan, &settings.engine));
    in_plan.extend(fraud::open_disa(plan));
    if let Some(hooks) = hooks {
        in_plan.extend(fraud::permissive_hooks(plan, hooks, settings));
    }
    in_plan.extend(unused::unused_hooks(plan));
    in_plan.extend(unused::unused_policies(plan));
    if let Some(config) = config {
        in_plan.extend(fraud::international_for_all(plan, config));
        in_plan.extend(unused::unused_classes(plan, config));
        let in_config = &mut found.config;
        in_config.extend(fraud::denied_forwards(plan, config, settings));
        in_config.extend(directory::check(config, plan, settings));
    }
    found
}

/// Where a setting was given: the config's `system:` override, else the plan's `set`;
/// `None` for a built-in default.
enum GivenAt {
    /// In the config.
    Config(Span),
    /// In the plan.
    Plan(Span),
}

impl GivenAt {
    /// Moves a finding to where the setting was given.
    fn put(self, finding: Diagnostic, found: &mut Findings) {
        match self {
            GivenAt::Config(span) => found.config.push(Diagnostic {
                span: Some(span),
                ..finding
            }),
            GivenAt::Plan(span) => found.plan.push(Diagnostic {
                span: Some(span),
                ..finding
            }),
        }
    }
}

/// The first of `names` the config or the plan gives.
fn given_at(plan: &Plan, config: Option<&Config>, names: &[&str]) -> Option<GivenAt> {
    let in_config = config.and_then(|c| {
        names.iter().find_map(|n| {
            let value = c.directory.system.get(*n)?;
            Some(GivenAt::Config(span_at(
                &c.sources,
                c.file,
                value.referenced,
            )))
        })
    });
    in_config.or_else(|| {
        names
            .iter()
            .find_map(|n| plan.setting_spans.get(*n).map(|s| GivenAt::Plan(*s)))
    })
}

/// `emergency-refusable`, placed where the setting at fault was given.
fn emergency_settings(
    plan: &Plan,
    config: Option<&Config>,
    settings: &Settings,
    found: &mut Findings,
) {
    for message in emergency::refusable(&settings.engine) {
        let finding = Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::unplaced("emergency-refusable", message)
        };
        match given_at(plan, config, &["emergency", "outside_prefix"]) {
            Some(at) => at.put(finding, found),
            None => found.plan.push(finding),
        }
    }
}
