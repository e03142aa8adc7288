//! The pbxctl binary from the outside: exit codes, diagnostics, help, the suite.

#[path = "cli/admin.rs"]
mod admin;
#[path = "cli/coverage.rs"]
mod coverage;
#[path = "cli/fmt.rs"]
mod fmt;
#[path = "cli/hardening.rs"]
mod hardening;
#[path = "cli/lint_rules.rs"]
mod lint_rules;
#[path = "cli/provisioning.rs"]
mod provisioning;
#[path = "cli/route.rs"]
mod route;
#[path = "cli/systemd.rs"]
mod systemd;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One run of the binary.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn pbxctl(dir: &Path, args: &[&str]) -> Run {
    pbxctl_stdin(dir, args, "")
}

fn pbxctl_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxctl"))
        .args(args)
        .current_dir(dir)
        .env("USER", "tester")
        .env_remove("PBXCTL_CONFIG")
        .env_remove("PBXCTL_DB")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pbxctl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn default_plan() -> String {
    std::fs::read_to_string(root().join("dialplans/default.pbx")).unwrap()
}

#[test]
fn the_session_suite_passes() {
    let run = pbxctl(&root(), &["test", "tests/sessions"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(" passed, 0 failed"), "{}", run.stdout);
}

#[test]
fn help_output() {
    let dir = root();
    insta::assert_snapshot!("help", pbxctl(&dir, &["--help"]).stdout);
    insta::assert_snapshot!("help_lint", pbxctl(&dir, &["lint", "--help"]).stdout);
    insta::assert_snapshot!("help_test", pbxctl(&dir, &["test", "--help"]).stdout);
    insta::assert_snapshot!("help_ext", pbxctl(&dir, &["ext", "--help"]).stdout);
    insta::assert_snapshot!(
        "help_ext_lock",
        pbxctl(&dir, &["ext", "lock", "--help"]).stdout
    );
    insta::assert_snapshot!("help_vm", pbxctl(&dir, &["vm", "--help"]).stdout);
}

#[test]
fn a_plan_syntax_error_names_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "bad.pbx",
        "# a plan\ndial *11 {\n  plya enter-password\n}\n",
    );
    let run = pbxctl(tmp.path(), &["lint", "bad.pbx"]);
    assert_eq!(run.status, 1);
    insta::assert_snapshot!("lint_syntax_error", run.stdout);
    let json = pbxctl(tmp.path(), &["lint", "--format", "json", "bad.pbx"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["diagnostics"][0]["location"]["line"], 3);
    assert_eq!(doc["diagnostics"][0]["location"]["column"], 3);
    let gh = pbxctl(tmp.path(), &["lint", "--format", "github", "bad.pbx"]);
    assert!(
        gh.stdout.starts_with("::error file=bad.pbx,line=3,col=3::"),
        "{}",
        gh.stdout
    );
}

#[test]
fn plan_checks_report_every_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = "policy pin {\n  secret extension.voicemail\n  length 4 to 6\n  lockout after 3\n}\n\
                dial 911 { hangup }\n\
                dial *1 {\n  ask enter-pin into p\n  check p against caller.voicemail\n    ok { hangup }\n    invalid { retry }\n}\n\
                dial *2 { reject nope  play x }\n\
                dial *3 { play x caller.colour }\n";
    write(tmp.path(), "checks.pbx", plan);
    let run = pbxctl(tmp.path(), &["lint", "checks.pbx"]);
    assert_eq!(run.status, 1);
    insta::assert_snapshot!("lint_checks", run.stdout);
}

#[test]
fn a_broken_session_or_plan_exits_2_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = root().join("dialplans/default.pbx");
    let session = format!(
        "name: \"x\"\ndialplan: {}\nsteps:\n  - call: 101 -> 102\n  - dance: 3\n",
        plan.display()
    );
    write(tmp.path(), "s.yaml", &session);
    let run = pbxctl(tmp.path(), &["test", "s.yaml"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("s.yaml:5:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("`dance` is not a step"),
        "{}",
        run.stdout
    );

    write(tmp.path(), "bad.pbx", "dial *11 {");
    write(
        tmp.path(),
        "t.yaml",
        "name: \"y\"\ndialplan: bad.pbx\nsteps:\n  - call: 101 -> 102\n",
    );
    let run = pbxctl(tmp.path(), &["test", "t.yaml"]);
    assert_eq!(run.status, 2);
    assert!(run.stdout.contains("bad.pbx:1:11"), "{}", run.stdout);
}

#[test]
fn a_failing_session_shows_the_step_and_the_legs_events() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "plan.pbx", &default_plan());
    let session = "name: \"PP-2 wrong expectation\"\ndialplan: plan.pbx\nclock: 2026-03-01T09:00:00Z\n\
                   given:\n  extensions:\n    \"101\": { password_protection: { enabled: true, password: \"4321\" } }\n\
                   steps:\n  - call: 101 -> *11\n  - dtmf: 4321#\n  - expect: prompt terminal-unblocked\n";
    write(tmp.path(), "fail.yaml", session);
    let run = pbxctl(tmp.path(), &["test", "fail.yaml"]);
    assert_eq!(run.status, 1);
    insta::assert_snapshot!("failing_transcript", run.stdout);
    let junit = pbxctl(tmp.path(), &["test", "--format", "junit", "fail.yaml"]);
    assert!(
        junit
            .stdout
            .contains("<testsuite name=\"pbxctl\" tests=\"1\" failures=\"1\" errors=\"0\">")
    );
    // --update rewrites the expectation from what happened, and then it passes.
    let update = pbxctl(tmp.path(), &["test", "--update", "fail.yaml"]);
    assert_eq!(update.status, 0, "{}", update.stdout);
    let rewritten = std::fs::read_to_string(tmp.path().join("fail.yaml")).unwrap();
    assert!(
        rewritten.contains("  - expect: prompt terminal-blocked\n  - expect: hangup\n"),
        "{rewritten}"
    );
    assert!(!rewritten.contains("terminal-unblocked"));
}

#[test]
fn feature_digits_live_in_the_plan_not_in_rust() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    // Unit-test files (`tests.rs` and those under a `tests/` folder) dial feature codes
    // the way a phone would; they match nothing.
    files.retain(|f| {
        let in_tests = |p: &Path| p.file_name().is_some_and(|n| n == "tests");
        f.file_name().is_none_or(|n| n != "tests.rs") && !f.parent().is_some_and(in_tests)
    });
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for code in [
            "*11", "7777", "*47", "*48", "*60", "*61", "*74", "*074", "*71", "*72", "*73", "*071",
            "*072", "*073", "*75", "*075", "*76",
        ] {
            assert!(
                !text.contains(code),
                "{} mentions the feature code {code}",
                f.display()
            );
        }
    }
}

#[test]
fn renaming_a_code_in_the_plan_moves_the_feature() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "moved.pbx",
        &default_plan().replace("dial *11 {", "dial *12 {"),
    );
    let session = "name: \"PP-2 moved\"\ndialplan: moved.pbx\n\
                   given:\n  extensions:\n    \"101\": { password_protection: { enabled: true, password: \"4321\" } }\n\
                   steps:\n  - call: 101 -> *12\n  - expect: prompt enter-password\n  - dtmf: 4321#\n  - expect: prompt terminal-blocked\n\
                   \x20 - pbxctl: ext unlock 101\n  - call: 101 -> *11\n  - expect: reject not-found\n";
    write(tmp.path(), "moved.yaml", session);
    let run = pbxctl(tmp.path(), &["test", "moved.yaml"]);
    assert_eq!(run.status, 0, "{}", run.stdout);

    // The same for a code of a multi-leg feature: DND moves from *74 to *78.
    write(
        tmp.path(),
        "dnd.pbx",
        &default_plan().replace("dial *74 {", "dial *78 {"),
    );
    let session = "name: \"FC-1 moved\"\ndialplan: dnd.pbx\n\
                   given:\n  extensions:\n    \"101\": {}\n    \"102\": {}\n\
                   steps:\n  - call: 101 -> *78\n  - expect: tone confirm\n\
                   \x20 - call: 102 -> 101\n  - expect: reject dnd\n\
                   \x20 - call: 101 -> *74\n  - expect: reject not-found\n";
    write(tmp.path(), "dnd.yaml", session);
    let run = pbxctl(tmp.path(), &["test", "dnd.yaml"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let plan = root().join("dialplans/default.pbx");
    let text = format!(
        "dialplan: {}\ndatabase: pbx.db\nextensions:\n  \"101\": {{ voicemail: {{ enabled: true, pin: \"2580\" }}, password_protection: {{ enabled: true, password: \"4321\" }} }}\n{extra}",
        plan.display()
    );
    write(dir, "pbx.yaml", &text)
}

#[test]
fn admin_exit_codes_follow_the_cli_contract() {
    let tmp = tempfile::tempdir().unwrap();
    config(tmp.path(), "");
    let d = tmp.path();
    let lock = pbxctl(d, &["ext", "lock", "101"]);
    assert_eq!(
        (lock.status, lock.stdout.as_str()),
        (0, "extension 101 locked\n")
    );
    let again = pbxctl(d, &["ext", "lock", "101"]);
    assert_eq!(again.status, 0);
    assert!(again.stdout.contains("already locked"));
    assert_eq!(pbxctl(d, &["ext", "lock", "999"]).status, 3);
    let weak = pbxctl(d, &["ext", "pin-reset", "101", "--pin", "1111"]);
    assert_eq!(weak.status, 2);
    assert!(
        weak.stderr.contains("one digit repeated"),
        "{}",
        weak.stderr
    );
    let generated = pbxctl(d, &["ext", "pin-reset", "101"]);
    assert_eq!(generated.status, 0);
    let pin = generated.stdout.trim().to_string();
    assert!(
        pin.len() >= 6 && pin.bytes().all(|b| b.is_ascii_digit()),
        "{pin}"
    );
    let login = pbxctl_stdin(d, &["ext", "login", "101"], &pin);
    assert_eq!((login.status, login.stdout.as_str()), (0, "OK\n"));
    let show = pbxctl(d, &["ext", "show", "101", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(view["blocked"], true);
    assert_eq!(
        pbxctl(
            d,
            &["ext", "show", "101", "--db", "/nonexistent/dir/pbx.db"]
        )
        .status,
        4
    );
    // Nothing secret is in the database file, in clear.
    let mut bytes = std::fs::read(d.join("pbx.db")).unwrap();
    if let Ok(wal) = std::fs::read(d.join("pbx.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["2580", "4321", pin.as_str()] {
        assert!(!text.contains(secret), "{secret} stored in clear");
    }
    assert!(!show.stdout.contains(&pin));
}

#[test]
fn a_bad_config_names_the_extension_and_the_rule() {
    let tmp = tempfile::tempdir().unwrap();
    config(
        tmp.path(),
        "  \"102\": { password_protection: { enabled: true, password: \"12\" } }\n  \"112\": {}\n",
    );
    let run = pbxctl(tmp.path(), &["ext", "show", "101"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains(
            "extension 102: password length must be 3 to 12 digits, not 2 (policy password)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("extension 112: collides with an emergency number"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("pbx.yaml:6:"), "{}", run.stderr);
    assert!(
        !tmp.path().join("pbx.db").exists(),
        "nothing is written from a bad config"
    );
}

#[test]
fn a_bad_metrics_address_is_a_located_error() {
    let tmp = tempfile::tempdir().unwrap();
    config(tmp.path(), "metrics: { listen: \"localhost:metrics\" }\n");
    let run = pbxctl(tmp.path(), &["run"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("pbx.yaml:5:"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("metrics.listen `localhost:metrics` is not an IP address and port"),
        "{}",
        run.stderr
    );
    config(tmp.path(), "metrics: { port: 9464 }\n");
    let run = pbxctl(tmp.path(), &["run"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("pbx.yaml:5:"), "{}", run.stderr);
}

#[test]
fn the_readme_tour_is_a_valid_plan() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let tour = readme
        .split("## A short tour of the language")
        .nth(1)
        .unwrap();
    let code = tour.split("```").nth(1).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "tour.pbx", code);
    let run = pbxctl(tmp.path(), &["lint", "--deny-warnings", "tour.pbx"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
}

#[test]
fn a_session_can_take_its_digits_from_a_recording() {
    use pbxctl::media::{inband, wav};
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("password.wav"),
        wav::encode_pcm(&inband::generate("4321#", 40, 40)),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("speech.wav"),
        wav::encode_pcm(&vec![0; 8000]),
    )
    .unwrap();
    let plan = root().join("dialplans/default.pbx");
    let session = format!(
        "name: \"PP-2 from a recording\"\ndialplan: {}\nstrict: true\n\
         given:\n  extensions:\n    \"101\": {{ password_protection: {{ enabled: true, password: \"4321\" }} }}\n\
         steps:\n  - call: 101 -> *11\n  - expect: prompt enter-password\n  - dtmf: {{from: password.wav}}\n\
         \x20 - expect: prompt terminal-blocked\n  - expect: hangup\n\
         then:\n  extensions:\n    \"101\": {{ blocked: true }}\n",
        plan.display()
    );
    write(tmp.path(), "rec.yaml", &session);
    let run = pbxctl(tmp.path(), &["test", "rec.yaml"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    write(
        tmp.path(),
        "missing.yaml",
        &session.replace("password.wav", "nope.wav"),
    );
    let run = pbxctl(tmp.path(), &["test", "missing.yaml"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("missing.yaml:10:5") && run.stdout.contains("nope.wav: cannot read"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_bad_trunk_names_the_trunk_the_key_and_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    config(
        tmp.path(),
        "system:\n  disa: [\"5550100\"]\ntrunks:\n  carrier:\n    address: \"sip.example.net:five\"\n    \
         register: true\n    caller_id: \"Alice\"\n    dids: { \"5550101\": \"105\", \"5550199\": disa }\n  \
         psap: { address: \"127.0.0.1:5090\", emergency: true, outbound: false }\n  \
         backup: { address: \"127.0.0.1:5091\", emergency: true, username: pbx01 }\n",
    );
    // `run` refuses it before opening anything.
    let run = pbxctl(tmp.path(), &["run"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        !tmp.path().join("pbx.db").exists(),
        "nothing is written from a bad config"
    );
    insta::assert_snapshot!("bad_trunk", run.stderr);
}

#[test]
fn the_example_config_is_valid_with_its_trunk_uncommented() {
    let text = std::fs::read_to_string(root().join("examples/pbx.yaml")).unwrap();
    let mut uncommented = String::new();
    let mut in_trunks = false;
    for line in text.lines() {
        if line.starts_with("# trunks:") {
            in_trunks = true;
        } else if !line.starts_with('#') {
            in_trunks = false;
        }
        let line = match line.strip_prefix("# ") {
            Some(rest) if in_trunks && !rest.trim_start().starts_with('#') => rest,
            _ => line,
        };
        uncommented.push_str(line);
        uncommented.push('\n');
    }
    assert!(
        uncommented.contains("\ntrunks:\n  carrier:"),
        "{uncommented}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let examples = root().join("examples");
    let text = uncommented
        .replace(
            "../dialplans",
            &examples.join("../dialplans").display().to_string(),
        )
        .replace(
            "../prompts",
            &examples.join("../prompts").display().to_string(),
        );
    write(tmp.path(), "pbx.yaml", &text);
    let run = pbxctl(tmp.path(), &["lint", "pbx.yaml"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("trunk-secret") && !run.stderr.contains("trunk-secret"));
}
