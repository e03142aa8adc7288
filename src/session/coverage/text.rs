//! Coverage for people and for `--format json`: a summary line per file, then what
//! never ran, line by line.

use super::{Coverage, FileCoverage, Ratio};

/// The summary of one file: `rules 3/4, branches 5/8, hooks 1/1, lines 20/24 (83%)`.
pub fn summary(file: &FileCoverage) -> String {
    let ratio = |r: Ratio| format!("{}/{}", r.covered, r.total);
    let lines = file.line_ratio();
    format!(
        "rules {}, branches {}, hooks {}, lines {} ({:.0}%)",
        ratio(file.rule_ratio()),
        ratio(file.branch_ratio()),
        ratio(file.hook_ratio()),
        ratio(lines),
        (lines.rate() * 100.0).floor()
    )
}

/// The human report: per file its summary, then `file:line: never ran: ...`.
pub fn human(coverage: &Coverage) -> String {
    let mut out = String::new();
    for file in &coverage.files {
        out += &format!("coverage {}: {}\n", file.path, summary(file));
        for (line, what) in &file.never_ran {
            out += &format!("  {}:{line}: never ran: {what}\n", file.path);
        }
    }
    out
}

/// The `coverage` object of the JSON report.
pub fn json(coverage: &Coverage) -> serde_json::Value {
    let ratio = |r: Ratio| serde_json::json!({"covered": r.covered, "total": r.total});
    let files: Vec<serde_json::Value> = coverage
        .files
        .iter()
        .map(|f| {
            let never_ran: Vec<serde_json::Value> = f
                .never_ran
                .iter()
                .map(|(line, what)| serde_json::json!({"line": line, "what": what}))
                .collect();
            serde_json::json!({
                "file": f.path,
                "rules": ratio(f.rule_ratio()),
                "branches": ratio(f.branch_ratio()),
                "hooks": ratio(f.hook_ratio()),
                "lines": ratio(f.line_ratio()),
                "never_ran": never_ran,
            })
        })
        .collect();
    serde_json::json!({ "files": files })
}
