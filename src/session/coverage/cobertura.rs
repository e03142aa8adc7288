//! Coverage as Cobertura XML, for CI tools that show it on merge requests: a class
//! per dialplan file, its rules and hooks as methods, statements as lines, and the
//! arms of a line's branching statements as its condition coverage.

use super::{Coverage, FileCoverage, Function, Ratio};
use std::collections::BTreeMap;

/// The report.
pub fn report(coverage: &Coverage) -> String {
    let mut lines = Ratio::default();
    let mut branches = Ratio::default();
    for file in &coverage.files {
        add(&mut lines, file.line_ratio());
        add(&mut branches, file.branch_ratio());
    }
    let mut out = String::from("<?xml version=\"1.0\" ?>\n");
    out += "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n";
    out += &format!(
        "<coverage line-rate=\"{}\" branch-rate=\"{}\" lines-covered=\"{}\" lines-valid=\"{}\" branches-covered=\"{}\" branches-valid=\"{}\" complexity=\"0\" version=\"pbxctl {}\" timestamp=\"0\">\n",
        rate(lines),
        rate(branches),
        lines.covered,
        lines.total,
        branches.covered,
        branches.total,
        env!("CARGO_PKG_VERSION"),
    );
    out += "  <sources>\n    <source>.</source>\n  </sources>\n  <packages>\n";
    out += &format!(
        "    <package name=\"dialplans\" line-rate=\"{}\" branch-rate=\"{}\" complexity=\"0\">\n      <classes>\n",
        rate(lines),
        rate(branches)
    );
    for file in &coverage.files {
        out += &class(file);
    }
    out += "      </classes>\n    </package>\n  </packages>\n</coverage>\n";
    out
}

fn class(file: &FileCoverage) -> String {
    let mut out = format!(
        "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"{}\" complexity=\"0\">\n          <methods>\n",
        xml(&file.path),
        xml(&file.path),
        rate(file.line_ratio()),
        rate(file.branch_ratio())
    );
    for f in file.rules.iter().chain(&file.hooks) {
        out += &method(f);
    }
    out += "          </methods>\n          <lines>\n";
    // Arms taken and arms there are, per line.
    let mut arms: BTreeMap<usize, Ratio> = BTreeMap::new();
    for b in &file.branches {
        let r = arms.entry(b.line).or_default();
        add(r, Ratio::of(b.arms.iter().map(|a| a.1)));
    }
    for (line, hits) in &file.lines {
        out += &match arms.get(line) {
            Some(r) => format!(
                "            <line number=\"{line}\" hits=\"{hits}\" branch=\"true\" condition-coverage=\"{}% ({}/{})\"/>\n",
                (r.rate() * 100.0).floor(),
                r.covered,
                r.total
            ),
            None => {
                format!("            <line number=\"{line}\" hits=\"{hits}\" branch=\"false\"/>\n")
            }
        };
    }
    out += "          </lines>\n        </class>\n";
    out
}

/// A rule or hook: one line, its head, run or not.
fn method(f: &Function) -> String {
    let ran = if f.hits > 0 { 1 } else { 0 };
    format!(
        "            <method name=\"{}\" signature=\"\" line-rate=\"{ran}\" branch-rate=\"1\" complexity=\"0\">\n              <lines>\n                <line number=\"{}\" hits=\"{}\" branch=\"false\"/>\n              </lines>\n            </method>\n",
        xml(&f.name),
        f.line,
        f.hits
    )
}

fn add(total: &mut Ratio, r: Ratio) {
    total.covered += r.covered;
    total.total += r.total;
}

fn rate(r: Ratio) -> String {
    format!("{:.4}", r.rate())
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
