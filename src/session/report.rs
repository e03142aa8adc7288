//! Test reports: human, JSON and JUnit XML.

use super::runner::{Outcome, Verdict};

/// Counts of a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Sessions that passed.
    pub passed: usize,
    /// Sessions that failed.
    pub failed: usize,
    /// Sessions that could not run.
    pub broken: usize,
}

/// Tallies outcomes.
pub fn totals(outcomes: &[Outcome]) -> Totals {
    let mut t = Totals::default();
    for o in outcomes {
        match o.verdict {
            Verdict::Passed => t.passed += 1,
            Verdict::Failed(_) => t.failed += 1,
            Verdict::Broken(_) => t.broken += 1,
        }
    }
    t
}

/// The human report: a line per session, details for failures, a closing count.
pub fn human(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let (word, detail) = match &o.verdict {
            Verdict::Passed => ("PASS", None),
            Verdict::Failed(d) => ("FAIL", Some(d)),
            Verdict::Broken(d) => ("ERROR", Some(d)),
        };
        out += &format!("{word:<5} {}  {}\n", o.name, o.path.display());
        if let Some(d) = detail {
            for line in d.lines() {
                out += &format!("      {line}\n");
            }
        }
    }
    let t = totals(outcomes);
    if t.broken > 0 {
        out += &format!("{} sessions could not run\n", t.broken);
    }
    out += &format!("{} passed, {} failed\n", t.passed, t.failed + t.broken);
    out
}

/// The JSON report, with a `coverage` object when one is given.
pub fn json(outcomes: &[Outcome], coverage: Option<serde_json::Value>) -> String {
    let t = totals(outcomes);
    let sessions: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let (status, detail) = match &o.verdict {
                Verdict::Passed => ("passed", None),
                Verdict::Failed(d) => ("failed", Some(d.clone())),
                Verdict::Broken(d) => ("error", Some(d.clone())),
            };
            serde_json::json!({"name": o.name, "file": o.path.display().to_string(), "status": status, "steps": o.steps, "detail": detail})
        })
        .collect();
    let mut doc = serde_json::json!({"passed": t.passed, "failed": t.failed, "errors": t.broken, "sessions": sessions});
    if let Some(c) = coverage {
        doc["coverage"] = c;
    }
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

/// The JUnit XML report.
pub fn junit(outcomes: &[Outcome]) -> String {
    let t = totals(outcomes);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"pbxctl\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
        outcomes.len(),
        t.failed,
        t.broken
    );
    for o in outcomes {
        out += &format!(
            "  <testcase name=\"{}\" classname=\"{}\"",
            xml(&o.name),
            xml(&o.path.display().to_string())
        );
        match &o.verdict {
            Verdict::Passed => out += "/>\n",
            Verdict::Failed(d) => {
                out += &format!(
                    ">\n    <failure message=\"session failed\">{}</failure>\n  </testcase>\n",
                    xml(d)
                )
            }
            Verdict::Broken(d) => {
                out += &format!(
                    ">\n    <error message=\"session could not run\">{}</error>\n  </testcase>\n",
                    xml(d)
                )
            }
        }
    }
    out += "</testsuite>\n";
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
