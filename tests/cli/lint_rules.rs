//! Each lint rule of `tests/lint/`: `CODE.bad.pbx` has the problem and the rule fires on
//! it (its diagnostic and JSON are snapshots), `CODE.fixed.pbx` has it mended and lints
//! clean with `--deny-warnings`.

use super::{pbxctl, root};

/// The rules with a bad and a fixed plan under `tests/lint/`.
fn rules() -> Vec<String> {
    let mut codes: Vec<String> = std::fs::read_dir(root().join("tests/lint"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".bad.pbx").map(str::to_owned)
        })
        .collect();
    codes.sort();
    codes
}

#[test]
fn every_dialing_rule_fires_on_its_bad_plan_and_not_on_the_fixed_one() {
    let codes = rules();
    assert!(codes.len() >= 3, "{codes:?}");
    for code in codes {
        let bad = format!("tests/lint/{code}.bad.pbx");
        let run = pbxctl(&root(), &["lint", &bad]);
        assert_eq!(run.status, 0, "warnings only: {}", run.stdout);
        insta::assert_snapshot!(format!("lint_rule_{code}"), run.stdout);
        let json = pbxctl(&root(), &["lint", "--format", "json", &bad]);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let found: Vec<&str> = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(found, [code.as_str()], "{}", json.stdout);
        insta::assert_json_snapshot!(format!("lint_rule_{code}_json"), doc);
        let denied = pbxctl(&root(), &["lint", "--deny-warnings", &bad]);
        assert_eq!(denied.status, 1, "--deny-warnings fails on {code}");

        let fixed = format!("tests/lint/{code}.fixed.pbx");
        let run = pbxctl(&root(), &["lint", "--deny-warnings", &fixed]);
        assert_eq!(run.status, 0, "{fixed}: {}", run.stdout);
        assert!(
            run.stdout.contains("0 errors, 0 warnings"),
            "{}",
            run.stdout
        );
    }
}
