//! `# lint: allow(CODE, ...)` on its own line silences those warnings on the line below
//! it; an allow that silences nothing is itself reported (`unused-allow`), so stale
//! ones do not pile up. Errors cannot be silenced.

use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap, Span};

/// One allow comment.
struct Allow {
    /// The file and the 1-based line it silences.
    target: (FileId, usize),
    /// The codes it names.
    codes: Vec<String>,
    /// The comment, for `unused-allow`.
    span: Span,
    /// Which codes silenced something.
    used: Vec<bool>,
}

/// The allow comments of every file in `sources`.
fn allows(sources: &SourceMap) -> Vec<Allow> {
    let mut out = Vec::new();
    for (file, source) in sources.files() {
        let mut offset = 0;
        for (index, line) in source.text.split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start();
            let start = offset + (line.len() - trimmed.len());
            offset += line.len();
            let Some(rest) = trimmed.strip_prefix('#') else {
                continue;
            };
            let Some(list) = rest.trim_start().strip_prefix("lint:") else {
                continue;
            };
            let Some(list) = list.trim_start().strip_prefix("allow(") else {
                continue;
            };
            let Some((list, _)) = list.split_once(')') else {
                continue;
            };
            let codes: Vec<String> = list
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            let end = start
                + trimmed
                    .find(')')
                    .map_or(trimmed.trim_end().len(), |i| i + 1);
            out.push(Allow {
                target: (file, index + 2),
                used: vec![false; codes.len()],
                codes,
                span: Span::new(file, start, end),
            });
        }
    }
    out
}

/// Drops the warnings an allow comment silences and adds an `unused-allow` warning for
/// each code an allow names but that silenced nothing. `judged` says whether a code
/// could have fired in this run (a config-only rule cannot when a plan is linted alone).
pub fn apply(
    diagnostics: Vec<Diagnostic>,
    sources: &SourceMap,
    judged: impl Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let mut allows = allows(sources);
    if allows.is_empty() {
        return diagnostics;
    }
    let mut kept: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(|d| {
            let Some(span) = d.span.filter(|_| !d.is_error()) else {
                return true;
            };
            let (line, _) = sources.file(span.file).line_col(span.start as usize);
            let mut silenced = false;
            for allow in allows.iter_mut().filter(|a| a.target == (span.file, line)) {
                for (code, used) in allow.codes.iter().zip(&mut allow.used) {
                    if code == d.code {
                        *used = true;
                        silenced = true;
                    }
                }
            }
            !silenced
        })
        .collect();
    for allow in &allows {
        for (code, used) in allow.codes.iter().zip(&allow.used) {
            if !used && judged(code) {
                kept.push(Diagnostic::warning(
                    "unused-allow",
                    allow.span,
                    format!(
                        "`allow({code})` silences nothing: no `{code}` warning on the next line"
                    ),
                ));
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(text: &str) -> Vec<(String, usize)> {
        let plan = crate::dsl::compile_str("t.pbx", text).unwrap();
        apply(plan.warnings.clone(), &plan.sources, |_| true)
            .into_iter()
            .map(|d| {
                let span = d.span.unwrap();
                (
                    d.code.to_string(),
                    plan.sources.file(span.file).line_col(span.start as usize).0,
                )
            })
            .collect()
    }

    const PLAN: &str = "dial *8 {\n  hangup\n}\n";

    #[test]
    fn an_allow_silences_the_warning_on_the_next_line_only() {
        let bad = format!("{PLAN}# lint: allow(prefix-code)\ndial *888 {{\n  hangup\n}}\n");
        assert_eq!(lint(&bad), []);
        let far = format!("{PLAN}# lint: allow(prefix-code)\n\ndial *888 {{\n  hangup\n}}\n");
        let found = lint(&far);
        assert!(found.contains(&("prefix-code".into(), 6)), "{found:?}");
        assert!(found.contains(&("unused-allow".into(), 4)), "{found:?}");
    }

    #[test]
    fn an_allow_for_another_code_is_reported_unused() {
        let text = format!(
            "{PLAN}# lint: allow(unreachable-rule, prefix-code)\ndial *888 {{\n  hangup\n}}\n"
        );
        assert_eq!(lint(&text), [("unused-allow".to_string(), 4)]);
    }
}
