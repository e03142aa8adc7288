//! `pbxctl test --coverage`: a session that takes a `check`'s `ok` branch and never its
//! `invalid` one, seen in the summary, the never-ran listing, lcov and Cobertura.

use super::{pbxctl, write};
use std::path::Path;

const PLAN: &str = r#"class 1 "all" {
  allow .
}

policy voicemail {
  secret   extension.voicemail
  length   4 to 10
  attempts 3
  lockout  off
  unlock   by admin
}

dial *60 {
  if caller.dnd {
    reject dnd
  }
  ask enter-passcode into passcode
  check passcode against caller.voicemail
    ok      { play outbound-granted  hangup }
    invalid { play pin-invalid  retry }
}

dial any {
  reject not-found
}
"#;

/// The right passcode: `ok`, never `invalid`.
const SESSION: &str = r#"name: "the right passcode"
dialplan: plan.pbx
given:
  extensions:
    "101": { voicemail: { enabled: true, pin: "2580" } }
steps:
  - call: 101 -> *60
  - expect: prompt enter-passcode
  - dtmf: 2580#
  - expect: prompt outbound-granted
  - expect: hangup
"#;

fn suite(dir: &Path) {
    write(dir, "plan.pbx", PLAN);
    write(
        dir,
        "sessions/ok.yaml",
        &SESSION.replace("plan.pbx", "../plan.pbx"),
    );
}

#[test]
fn coverage_lists_what_the_sessions_never_ran() {
    let tmp = tempfile::tempdir().unwrap();
    suite(tmp.path());
    let run = pbxctl(tmp.path(), &["test", "sessions", "--coverage"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!("coverage_human", run.stdout);
}

#[test]
fn coverage_files_for_ci() {
    let tmp = tempfile::tempdir().unwrap();
    suite(tmp.path());
    let args = [
        "test",
        "sessions",
        "--coverage-lcov",
        "lcov.info",
        "--coverage-cobertura",
        "coverage.xml",
    ];
    let run = pbxctl(tmp.path(), &args);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains("coverage"),
        "the files alone do not print it: {}",
        run.stdout
    );
    let lcov = std::fs::read_to_string(tmp.path().join("lcov.info")).unwrap();
    insta::assert_snapshot!("coverage_lcov", lcov);

    let xml = std::fs::read_to_string(tmp.path().join("coverage.xml")).unwrap();
    well_formed(&xml);
    // 4 of 7 lines; the `if` went one way, the `check` one way, the `retry` never ran.
    let top = xml.lines().find(|l| l.starts_with("<coverage ")).unwrap();
    assert_eq!(attr(top, "line-rate"), "0.5714", "{top}");
    assert_eq!(attr(top, "branch-rate"), "0.3333", "{top}");
    assert_eq!(attr(top, "lines-valid"), "7", "{top}");
    assert_eq!(attr(top, "branches-covered"), "2", "{top}");
    let check = xml
        .lines()
        .find(|l| l.contains("<line number=\"18\""))
        .unwrap();
    assert_eq!(attr(check, "branch"), "true", "{check}");
    assert_eq!(attr(check, "condition-coverage"), "50% (1/2)", "{check}");
}

#[test]
fn coverage_goes_in_the_json_report_and_keeps_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    suite(tmp.path());
    let wrong = SESSION
        .replace("plan.pbx", "../plan.pbx")
        .replace("prompt outbound-granted", "prompt pin-invalid");
    write(tmp.path(), "sessions/wrong.yaml", &wrong);
    let run = pbxctl(
        tmp.path(),
        &["test", "sessions", "--coverage", "--format", "json"],
    );
    assert_eq!(
        run.status, 1,
        "a failing session still fails: {}",
        run.stdout
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let file = &doc["coverage"]["files"][0];
    assert_eq!(file["file"], "plan.pbx");
    assert_eq!(file["rules"], serde_json::json!({"covered": 1, "total": 2}));
    let never: Vec<&str> = file["never_ran"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["what"].as_str().unwrap())
        .collect();
    assert!(
        never.contains(&"the `invalid` branch of `check passcode against caller.voicemail`"),
        "{never:?}"
    );
}

/// The value of `name="..."` in a tag.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    let len = tag[start..].find('"').unwrap();
    &tag[start..start + len]
}

/// Every element closes, in order, and the document has one root.
fn well_formed(xml: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = xml;
    while let Some(at) = rest.find('<') {
        let end = rest[at..].find('>').expect("a tag ends") + at;
        let tag = &rest[at + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes in <{tag}>");
        let name = tag
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap();
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(closing.trim()), "</{closing}> closes");
        } else {
            if open.is_empty() {
                roots += 1;
            }
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    assert_eq!(roots, 1);
}
