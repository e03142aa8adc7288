//! Linting files: a plan alone, or a config with the plan it names. Every finding of
//! every phase, with the source map its span points into.

use super::{CONFIG_CODES, allow};
use crate::directory::Config;
use crate::dsl::diagnostic::{Diagnostic, Failure};
use crate::dsl::span::SourceMap;
use crate::hooks::Hooks;
use crate::media::prompt_set;
use std::path::{Path, PathBuf};

/// Checks each file; a `.yaml` file is a config, checked with its dialplan.
pub fn files(files: &[PathBuf]) -> Vec<(Diagnostic, SourceMap)> {
    let mut found = Vec::new();
    for f in files {
        let is_config = matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"));
        let result = if is_config { config(f) } else { plan(f) };
        match result {
            Ok(list) | Err(list) => found.extend(list),
        }
    }
    found
}

type Findings = Result<Vec<(Diagnostic, SourceMap)>, Vec<(Diagnostic, SourceMap)>>;

fn from_failure(f: Failure) -> Vec<(Diagnostic, SourceMap)> {
    f.diagnostics
        .into_iter()
        .map(|d| (d, f.sources.clone()))
        .collect()
}

fn plan(path: &Path) -> Findings {
    let plan = crate::dsl::load(path).map_err(from_failure)?;
    let settings = plan.default_settings();
    let (mut found, hooks) = plan_findings(&plan);
    let reasoned = super::check(&plan, hooks.as_ref(), None, &settings);
    found.extend(reasoned.plan);
    // A plan alone cannot judge an allow for a rule only a config raises.
    let judged = |code: &str| !CONFIG_CODES.contains(&code);
    Ok(paired(
        allow::apply(found, &plan.sources, judged),
        &plan.sources,
    ))
}

/// A loaded plan's warnings and its hooks' compile errors, and the hooks if they compiled.
fn plan_findings(plan: &crate::dsl::Plan) -> (Vec<Diagnostic>, Option<Hooks>) {
    let mut out = plan.warnings.clone();
    let hooks = match Hooks::compile(plan) {
        Ok(hooks) => Some(hooks),
        Err(errs) => {
            out.extend(errs);
            None
        }
    };
    (out, hooks)
}

fn paired(list: Vec<Diagnostic>, sources: &SourceMap) -> Vec<(Diagnostic, SourceMap)> {
    list.into_iter().map(|d| (d, sources.clone())).collect()
}

fn config(path: &Path) -> Findings {
    let config = Config::load(path).map_err(from_failure)?;
    let plan = crate::dsl::load(&config.dialplan).map_err(from_failure)?;
    let (mut in_plan, hooks) = plan_findings(&plan);
    let mut in_config = Vec::new();
    let validated = match config.validate(&plan) {
        Ok(settings) => {
            let reasoned = super::check(&plan, hooks.as_ref(), Some(&config), &settings);
            in_plan.extend(reasoned.plan);
            in_config.extend(reasoned.config);
            true
        }
        Err(errs) => {
            in_config.extend(errs);
            false
        }
    };
    in_plan.extend(missing_prompts(&plan, &config.prompts));
    // A directory that did not validate was not reasoned about: its rules cannot judge
    // an allow.
    let judged = |code: &str| validated || !CONFIG_CODES.contains(&code);
    // A plan serves many configs: whether one of them uses a class is no reason to
    // report the plan's allow for it as unused.
    let in_plan_judged = |code: &str| !CONFIG_CODES.contains(&code);
    let mut out = paired(
        allow::apply(in_plan, &plan.sources, in_plan_judged),
        &plan.sources,
    );
    out.extend(paired(
        allow::apply(in_config, &config.sources, judged),
        &config.sources,
    ));
    Ok(out)
}

/// A prompt the plan plays with no audio file in the config's prompt set (issue 4).
fn missing_prompts(plan: &crate::dsl::Plan, folder: &Path) -> Vec<Diagnostic> {
    if !folder.is_dir() {
        return vec![Diagnostic::unplaced(
            "prompt-set",
            format!("the prompt set {} is not a folder", folder.display()),
        )];
    }
    plan.prompt_uses()
        .into_iter()
        .filter(|(id, _)| !prompt_set::file_for(folder, id).is_file())
        .map(|(id, span)| {
            Diagnostic::error(
                "missing-prompt",
                span,
                format!(
                    "prompt `{id}` has no audio: {} does not exist",
                    prompt_set::file_for(folder, id).display()
                ),
            )
        })
        .collect()
}
