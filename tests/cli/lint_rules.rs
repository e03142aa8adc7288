//! Each lint code's examples under `tests/lint/`: `CODE.bad.pbx` (a plan) or
//! `CODE.bad.yaml` (a config) has the problem and the code fires on it, alone (its
//! diagnostic and JSON are snapshots); `CODE.fixed.pbx` or `CODE.fixed.yaml` has it
//! mended and lints clean with `--deny-warnings`. `docs/lint.md` has a section for each
//! code, with its severity, and for no other.
//!
//! Other files there are what the examples need: a plan a config names
//! (`CODE.plan.pbx`), a file a plan includes (`CODE.part.pbx`), a hook's script.

use super::{pbxctl, root};
use std::collections::BTreeMap;

/// Each code with a bad example under `tests/lint/`, and that example's extension
/// (`pbx` or `yaml`).
fn examples() -> BTreeMap<String, &'static str> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("tests/lint")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        for ext in ["pbx", "yaml"] {
            if let Some(code) = name.strip_suffix(&format!(".bad.{ext}")) {
                let before = found.insert(code.to_owned(), ext);
                assert!(before.is_none(), "{code} has two bad examples");
            }
        }
    }
    found
}

/// Each code `docs/lint.md` has a section for (`### \`CODE\` (SEVERITY ..)`), and
/// the severity it gives.
fn documented() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("docs/lint.md")).unwrap();
    let mut found = BTreeMap::new();
    for rest in text.lines().filter_map(|line| line.strip_prefix("### `")) {
        let (code, after) = rest.split_once('`').expect("a code in backticks");
        let severity = after
            .trim()
            .strip_prefix('(')
            .and_then(|s| s.split([',', ')']).next())
            .unwrap_or_else(|| panic!("`{code}`: no (error) or (warning) after it"));
        let before = found.insert(code.to_owned(), severity.trim().to_owned());
        assert!(
            before.is_none(),
            "docs/lint.md has two sections for `{code}`"
        );
    }
    found
}

#[test]
fn every_lint_code_fires_on_its_bad_example_and_not_on_the_fixed_one() {
    let docs = documented();
    let codes = examples();
    assert!(codes.len() >= 40, "{codes:?}");
    for (code, ext) in codes {
        let bad = format!("tests/lint/{code}.bad.{ext}");
        let json = pbxctl(&root(), &["lint", "--format", "json", &bad]);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let list = doc["diagnostics"].as_array().unwrap();
        let found: Vec<&str> = list
            .iter()
            .map(|d| d["code"].as_str().unwrap_or_default())
            .collect();
        // Every code can be shown alone, so each bad example has exactly its finding.
        assert_eq!(found, [code.as_str()], "{}", json.stdout);
        let severity = list[0]["severity"].as_str().unwrap();
        assert_eq!(
            docs.get(&code).map(String::as_str),
            Some(severity),
            "docs/lint.md gives `{code}` as a {severity}"
        );
        insta::assert_json_snapshot!(format!("lint_rule_{code}_json"), doc);

        let run = pbxctl(&root(), &["lint", &bad]);
        insta::assert_snapshot!(format!("lint_rule_{code}"), run.stdout);
        let denied = pbxctl(&root(), &["lint", "--deny-warnings", &bad]);
        assert_eq!(denied.status, 1, "--deny-warnings fails on {code}");
        if severity == "error" {
            assert_eq!(run.status, 1, "an error fails lint: {}", run.stdout);
        } else {
            assert_eq!(run.status, 0, "warnings only: {}", run.stdout);
        }

        let fixed = format!("tests/lint/{code}.fixed.{ext}");
        let run = pbxctl(&root(), &["lint", "--deny-warnings", &fixed]);
        assert_eq!(run.status, 0, "{fixed}: {}", run.stdout);
        assert!(
            run.stdout.contains("0 errors, 0 warnings"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn every_documented_code_has_examples_and_every_example_is_documented() {
    let docs: Vec<String> = documented().into_keys().collect();
    let examples: Vec<String> = examples().into_keys().collect();
    let undocumented: Vec<&String> = examples.iter().filter(|c| !docs.contains(c)).collect();
    let without_example: Vec<&String> = docs.iter().filter(|c| !examples.contains(c)).collect();
    assert!(
        undocumented.is_empty(),
        "codes with a tests/lint/CODE.bad.* example but no section in docs/lint.md: {undocumented:?}"
    );
    assert!(
        without_example.is_empty(),
        "codes in docs/lint.md without a tests/lint/CODE.bad.pbx or .bad.yaml: {without_example:?}"
    );
}
