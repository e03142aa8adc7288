//! examples/pbxctl.service and examples/pbx.systemd.yaml: the unit runs `pbxctl run`
//! as it should (unprivileged, the database in its state directory, reload on SIGHUP,
//! a stop that outlasts the drain), the config agrees with it, and `systemd-analyze
//! verify` accepts the unit where it is installed.

use super::root;
use std::process::Command;

/// The unit's `Key=Value` settings, in order (a key may repeat).
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The one value of `key`; panics if it is missing or repeated.
fn one<'a>(all: &'a [(String, String)], key: &str) -> &'a str {
    let values: Vec<&str> = all
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect();
    match values[..] {
        [v] => v,
        _ => panic!("{key} should be set once in the unit, is {values:?}"),
    }
}

/// Seconds in a systemd time span like `45s`, `2min` or `90`.
fn seconds(span: &str) -> i64 {
    let digits: String = span.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("not a time span: {span}"));
    match &span[digits.len()..] {
        "" | "s" => n,
        "min" | "m" => n * 60,
        unit => panic!("unexpected unit `{unit}` in {span}"),
    }
}

#[test]
fn the_unit_runs_the_server_unprivileged_with_its_state_in_one_place() {
    let unit = std::fs::read_to_string(root().join("examples/pbxctl.service")).unwrap();
    let all = settings(&unit);
    let config = pbxctl::directory::Config::load(&root().join("examples/pbx.systemd.yaml"))
        .unwrap_or_else(|f| panic!("{}", f.render()));

    assert_eq!(one(&all, "User"), "pbxctl");
    let state = one(&all, "StateDirectory");
    assert_eq!(state.split_whitespace().next(), Some("pbxctl"), "{state}");
    let exec = one(&all, "ExecStart");
    assert!(exec.starts_with("/usr/local/bin/pbxctl run "), "{exec}");
    assert!(exec.contains(" --config /etc/pbxctl/pbx.yaml"), "{exec}");
    assert!(exec.ends_with(" --db ${STATE_DIRECTORY}/pbx.db"), "{exec}");
    // The config names the same file, so `pbxctl ext` run by an administrator finds it.
    assert_eq!(
        config.database,
        std::path::Path::new("/var/lib/pbxctl/pbx.db")
    );
    assert_eq!(one(&all, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one(&all, "KillSignal"), "SIGTERM");
    let stop = seconds(one(&all, "TimeoutStopSec"));
    let drain = config.sip.drain.as_seconds();
    assert!(
        stop >= drain + 5,
        "TimeoutStopSec ({stop}s) must outlast sip.drain ({drain}s)"
    );
    assert_eq!(one(&all, "Restart"), "on-failure");

    // SIP on 5060 needs no capability; the unit keeps none.
    assert!(config.sip.listen.port() > 1024);
    assert_eq!(one(&all, "AmbientCapabilities"), "");
    assert_eq!(one(&all, "CapabilityBoundingSet"), "");
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ] {
        assert_eq!(one(&all, key), value, "{key}");
    }
    // Room for every RTP socket, every TCP client the config allows, and some spare.
    let files: u64 = one(&all, "LimitNOFILE").parse().unwrap();
    let (low, high) = config.sip.rtp_ports;
    let needed = u64::from(high - low) / 2 + 1 + u64::from(config.sip.tcp.max_connections) + 256;
    assert!(files >= needed, "LimitNOFILE {files} < {needed}");

    let metrics = config.metrics.expect("the systemd config serves metrics");
    assert!(metrics.listen.ip().is_loopback(), "{}", metrics.listen);
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("systemd-analyze is not installed: the unit is not verified by systemd");
        return;
    }
    // Verify checks that the programs exist: this build stands in for the installed one.
    let unit = std::fs::read_to_string(root().join("examples/pbxctl.service"))
        .unwrap()
        .replace("/usr/local/bin/pbxctl", env!("CARGO_BIN_EXE_pbxctl"));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("pbxctl.service");
    std::fs::write(&path, unit).unwrap();
    // --man=no: the man page (`pbxctl man`) is not installed here.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    // verify exits 0 on settings it ignores, and names them: both must be clean.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify ({}):\n{said}",
        out.status
    );
}

#[test]
fn the_config_the_unit_points_at_lints_clean() {
    // Installed, the config sits beside its dialplan in /etc/pbxctl and the prompts in
    // /usr/local/share; here the repository's copies stand in for both.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("examples/pbx.systemd.yaml")).unwrap();
    let installed = "prompts: /usr/local/share/pbxctl/prompts/en";
    assert!(text.contains(installed), "{text}");
    let prompts = format!("prompts: {}", root().join("prompts/en").display());
    super::write(tmp.path(), "pbx.yaml", &text.replace(installed, &prompts));
    std::fs::copy(
        root().join("dialplans/default.pbx"),
        tmp.path().join("default.pbx"),
    )
    .unwrap();
    let lint = super::pbxctl(tmp.path(), &["lint", "--deny-warnings", "pbx.yaml"]);
    assert_eq!(lint.status, 0, "{}{}", lint.stdout, lint.stderr);
    assert!(
        lint.stdout.contains("0 errors, 0 warnings"),
        "{}",
        lint.stdout
    );
}
