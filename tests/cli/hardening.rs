//! Regressions from the hardening probe (issue 8), each named after what it pins:
//! inputs built to crash, stall or slow the tools get a located error instead.

use super::{pbxctl, root, write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A plan whose one rule nests `depth` deep with `open` ... `}`.
fn deep_plan(open: &str, depth: usize) -> String {
    format!(
        "dial 1234 {{\n{}hangup\n{}}}\n",
        format!("{open} {{\n").repeat(depth),
        "}\n".repeat(depth)
    )
}

/// A config that serves `plan`, and a session that runs against it.
fn config_and_session(dir: &Path, plan: &str) {
    write(dir, "deep.pbx", plan);
    write(
        dir,
        "pbx.yaml",
        "dialplan: deep.pbx\ndatabase: pbx.db\nextensions:\n  \"101\": {}\n",
    );
    write(
        dir,
        "session.yaml",
        "name: deep\ndialplan: deep.pbx\ngiven:\n  extensions:\n    \"101\": {}\nsteps:\n  - call: 101 -> 1234\n  - expect: hangup\n",
    );
}

#[test]
fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
    for open in ["if true", "attempt"] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        config_and_session(d, &deep_plan(open, 5_000));
        // The 65th level is on line 65: the rule's block is the first.
        let place = "deep.pbx:65:";
        let message = "nesting deeper than 64";

        let lint = pbxctl(d, &["lint", "deep.pbx"]);
        assert_eq!(lint.status, 1, "{open}: {}{}", lint.stdout, lint.stderr);
        assert!(
            lint.stdout.contains(message) && lint.stdout.contains(place),
            "{}",
            lint.stdout
        );

        let json = pbxctl(d, &["lint", "--format", "json", "deep.pbx"]);
        let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let found = &parsed["diagnostics"][0];
        assert_eq!(found["code"], "nesting");
        assert_eq!(found["location"]["line"], 65);

        for args in [
            &["test", "session.yaml"][..],
            &["ext", "list", "--config", "pbx.yaml"][..],
        ] {
            let run = pbxctl(d, args);
            assert_eq!(
                run.status, 2,
                "{open} {args:?}: {}{}",
                run.stdout, run.stderr
            );
            let text = run.stdout.clone() + run.stderr.as_str();
            assert!(
                text.contains(message) && text.contains(place),
                "{args:?}: {text}"
            );
            assert!(!text.contains("overflow"), "{text}");
        }
    }
}

/// Runs `pbxctl ARGS` in `dir`, killing it after `limit`: `None` if it had to be killed.
fn run_within(dir: &Path, args: &[&str], limit: Duration) -> Option<(i32, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxctl"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status.code().unwrap_or(-1), reader.join().unwrap()));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lint drew each warning with a fresh copy of the whole file, so 100,000 unreachable
/// rules took 124 s. The figure lives in `cargo bench --bench lint`; this test only
/// stops a quadratic lint (minutes for 50,000 rules, even unoptimised) from landing:
/// the limit is ten times what a linear lint needs in a debug build.
#[test]
fn lint_stays_linear_in_unreachable_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(root().join("dialplans/default.pbx")).unwrap();
    let rules: String = (0..50_000)
        .map(|i| format!("dial *{i} {{ hangup }}\n"))
        .collect();
    write(tmp.path(), "big.pbx", &(base.clone() + rules.as_str()));
    let first_rule_line = base.lines().count() + 1;
    let Some((status, stdout)) =
        run_within(tmp.path(), &["lint", "big.pbx"], Duration::from_secs(60))
    else {
        panic!("lint of 50,000 unreachable rules ran over a minute: it is no longer linear");
    };
    assert_eq!(
        status,
        0,
        "{}",
        &stdout[stdout.len().saturating_sub(2000)..]
    );
    // Every generated rule is unreachable (some twice over: `*74` is also a code).
    let summary = stdout.lines().last().unwrap_or_default();
    let warnings: usize = summary
        .strip_prefix("1 files checked: 0 errors, ")
        .and_then(|rest| rest.strip_suffix(" warnings"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(warnings >= 50_000, "{summary}");
    assert!(stdout.contains(&format!("big.pbx:{}:1", first_rule_line + 49_999)));
}

#[test]
fn a_hook_that_sleeps_is_refused_before_it_can_stall() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let plan = format!(
        "include \"{}\"\nhook before-outbound \"\"\"\n  sleep(100); true\n\"\"\"\n",
        root().join("dialplans/default.pbx").display()
    );
    config_and_session(d, &plan);
    let lint = pbxctl(d, &["lint", "deep.pbx"]);
    assert_eq!(lint.status, 1, "{}", lint.stdout);
    assert!(
        lint.stdout
            .contains("hook `before-outbound` calls `sleep`, which hooks do not have, at")
            && lint.stdout.contains("deep.pbx:3:3"),
        "{}",
        lint.stdout
    );
    let Some((status, _)) = run_within(d, &["test", "session.yaml"], Duration::from_secs(30))
    else {
        panic!("`pbxctl test` with a sleeping hook hung");
    };
    assert_eq!(status, 2);
}

/// The audit log named whoever `$USER` or `$LOGNAME` said, and `unknown` when both
/// were unset: anyone could sign an action with another's name.
#[test]
fn the_audit_log_names_the_real_uid_not_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "pbx.yaml",
        &format!(
            "dialplan: {}\ndatabase: pbx.db\nextensions:\n  \"103\": {{}}\n",
            root().join("dialplans/default.pbx").display()
        ),
    );
    let real_name = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let real_uid: u64 = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let unlock = |env: &[(&str, &str)], unset: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pbxctl"));
        cmd.args(["ext", "unlock", "103"]).current_dir(d);
        for (k, v) in env {
            cmd.env(k, v);
        }
        for k in unset {
            cmd.env_remove(k);
        }
        assert!(cmd.output().unwrap().status.success());
    };
    unlock(&[("LOGNAME", "alice"), ("USER", "alice")], &["SUDO_USER"]);
    unlock(&[], &["LOGNAME", "USER", "SUDO_USER"]);
    let audit = pbxctl(d, &["audit", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&audit.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["user"], real_name.as_str(), "{row}");
        assert_eq!(row["uid"], real_uid, "{row}");
    }
    if real_name != "alice" {
        assert_eq!(rows[0]["claimed_user"], "alice");
    }
    assert!(rows[1].get("claimed_user").is_none(), "{}", rows[1]);
}
