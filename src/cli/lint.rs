//! `pbxctl lint`: dialplans and configs, every finding, as text, JSON or GitHub annotations.

use super::{LintFormat, exit, print};
use crate::lint;
use std::path::PathBuf;

/// Checks each file; a `.yaml` file is a config, checked with its dialplan.
pub fn run(files: &[PathBuf], format: LintFormat, deny_warnings: bool) -> i32 {
    let files = if files.is_empty() {
        vec![PathBuf::from("pbx.yaml")]
    } else {
        files.to_vec()
    };
    let found = lint::files(&files);
    let errors = found
        .iter()
        .filter(|(d, _)| d.is_error() || deny_warnings)
        .count();
    print(&match format {
        LintFormat::Human => {
            let mut out: String = found.iter().map(|(d, s)| d.render(s)).collect();
            out += &format!(
                "{} files checked: {} errors, {} warnings\n",
                files.len(),
                found.iter().filter(|(d, _)| d.is_error()).count(),
                found.iter().filter(|(d, _)| !d.is_error()).count()
            );
            out
        }
        LintFormat::Json => {
            let list: Vec<_> = found.iter().map(|(d, s)| d.to_json(s)).collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({"diagnostics": list}))
                    .unwrap_or_default()
            )
        }
        LintFormat::Github => found
            .iter()
            .map(|(d, s)| {
                let level = if d.is_error() { "error" } else { "warning" };
                match d.span {
                    Some(span) => {
                        let f = s.file(span.file);
                        let (line, col) = f.line_col(span.start as usize);
                        format!(
                            "::{level} file={},line={line},col={col}::{}\n",
                            f.path.display(),
                            d.message
                        )
                    }
                    None => format!("::{level}::{}\n", d.message),
                }
            })
            .collect(),
    });
    if errors > 0 { exit::FAILED } else { exit::OK }
}
