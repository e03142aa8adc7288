//! Provisioning as a large site sees it: an unchanged config and plan are not read
//! again, a changed one is, in full; hashing reports its progress and its time, and
//! an interrupted run leaves a database the next command finishes.

use super::{pbxctl, pbxctl_stdin, root, write};
use pbxctl::dsl::ast::OwnerKind;
use pbxctl::store::{SecretId, SqliteStore, Store};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// A config of `count` extensions from 10000, each with voicemail PIN 25xx..., and
/// `extra` appended.
fn site(dir: &Path, count: usize, extra: &str) {
    let mut text = String::from(
        "dialplan: plan.pbx\ndatabase: pbx.db\nsystem:\n  numbering: \"10000-19999\"\nextensions:\n",
    );
    for i in 0..count {
        text += &format!(
            "  \"{}\": {{ department: d{}, voicemail: {{ enabled: true, pin: \"{}\" }} }}\n",
            10000 + i,
            i % 2,
            pin(i)
        );
    }
    write(dir, "pbx.yaml", &(text + extra));
    write(
        dir,
        "plan.pbx",
        &std::fs::read_to_string(root().join("dialplans/default.pbx")).unwrap(),
    );
}

fn pin(i: usize) -> String {
    format!("{}", 40_000_000 + i * 7919)
}

fn voicemail(ext: usize) -> SecretId {
    SecretId {
        owner_kind: OwnerKind::Extension,
        owner: (10000 + ext).to_string(),
        kind: "voicemail".into(),
    }
}

#[test]
fn an_unchanged_config_is_not_provisioned_again_and_a_changed_one_is() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // `blocked: false` is an initial state: provisioning sets it.
    site(d, 2, "");
    let config = std::fs::read_to_string(d.join("pbx.yaml")).unwrap();
    let initial = config.replace("\"10000\": {", "\"10000\": { blocked: false,");
    write(d, "pbx.yaml", &initial);
    assert_eq!(pbxctl(d, &["ext", "lock", "10000"]).status, 0);
    let blocked = |d: &Path| {
        let show = pbxctl(d, &["ext", "show", "10000", "--json"]);
        assert_eq!(show.status, 0, "{}", show.stderr);
        serde_json::from_str::<serde_json::Value>(&show.stdout).unwrap()["blocked"].clone()
    };
    assert_eq!(blocked(d), true, "the same config is not provisioned again");

    // A config that no longer checks out changes nothing, and says where it is wrong.
    write(
        d,
        "pbx.yaml",
        &initial.replace("department: d1", "department: d1, class: 9"),
    );
    let refused = pbxctl(d, &["ext", "show", "10001"]);
    assert_eq!(refused.status, 2);
    assert!(refused.stderr.contains("pbx.yaml:"), "{}", refused.stderr);
    write(d, "pbx.yaml", &initial);
    assert_eq!(
        blocked(d),
        true,
        "back to the provisioned bytes: nothing to do"
    );

    // An edit, however small, is provisioned in full: the initial state applies again.
    write(d, "pbx.yaml", &format!("{initial}# edited\n"));
    assert_eq!(blocked(d), false);

    // So is an edit of the plan: here one that breaks it.
    assert_eq!(pbxctl(d, &["ext", "lock", "10000"]).status, 0);
    let plan = std::fs::read_to_string(d.join("plan.pbx")).unwrap();
    write(d, "plan.pbx", &plan.replace("attempts 3", "attempts three"));
    let broken = pbxctl(d, &["ext", "show", "10000"]);
    assert_eq!(broken.status, 2);
    assert!(broken.stderr.contains("plan.pbx:"), "{}", broken.stderr);
    write(d, "plan.pbx", &plan);
    assert_eq!(blocked(d), true, "the plan as provisioned: nothing to do");

    // The same config through another path, and another database, are another source.
    let other = pbxctl(d, &["ext", "show", "10000", "--db", "other.db"]);
    assert_eq!(other.status, 0, "{}", other.stderr);
    assert!(d.join("other.db").is_file());
}

#[test]
fn provisioning_says_what_it_does_unless_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    site(d, 100, "");
    let loud = pbxctl(d, &["ext", "show", "10000"]);
    assert_eq!(loud.status, 0, "{}", loud.stderr);
    let lines: Vec<&str> = loud.stderr.lines().collect();
    assert!(
        lines[0].starts_with("provisioning: hashing 100 new secrets on "),
        "{}",
        loud.stderr
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("provisioning: 50 of 100 hashed (50%), ")),
        "{}",
        loud.stderr
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("provisioning: 100 new secrets hashed and stored in "),
        "{}",
        loud.stderr
    );
    let quiet = pbxctl(d, &["ext", "show", "10000", "--db", "quiet.db", "--quiet"]);
    assert_eq!((quiet.status, quiet.stderr.as_str()), (0, ""));
    let again = pbxctl(d, &["ext", "show", "10000"]);
    assert_eq!(again.stderr, "", "nothing new: nothing to say");
}

#[test]
fn an_interrupted_provisioning_is_finished_by_the_next_command() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    site(d, 120, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxctl"))
        .args(["ext", "lock", "10000"])
        .current_dir(d)
        .env_remove("PBXCTL_CONFIG")
        .env_remove("PBXCTL_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    // Ctrl-C once a tenth is hashed.
    while !said.contains("hashed (10%)") {
        assert_ne!(stderr.read_line(&mut said).unwrap(), 0, "{said}");
    }
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    stderr.read_to_string(&mut said).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(said.contains("error: interrupted: "), "{said}");

    let stored: Vec<Option<String>> = {
        let store = SqliteStore::open(&d.join("pbx.db")).unwrap();
        (0..120)
            .map(|i| store.secret(&voicemail(i)).unwrap().and_then(|s| s.hash))
            .collect()
    };
    let kept = stored.iter().flatten().count();
    assert!((12..120).contains(&kept), "{kept} stored; {said}");
    assert!(
        said.contains(&format!(
            "{kept} new secrets stored, {} to hash",
            120 - kept
        )),
        "{said}"
    );

    // The next command hashes only what is missing, then does its work.
    let next = pbxctl(d, &["ext", "lock", "10000"]);
    assert_eq!(next.status, 0, "{}", next.stderr);
    assert_eq!(next.stdout, "extension 10000 locked\n");
    let store = SqliteStore::open(&d.join("pbx.db")).unwrap();
    for (i, before) in stored.iter().enumerate() {
        let now = store.secret(&voicemail(i)).unwrap().and_then(|s| s.hash);
        assert!(now.is_some(), "extension {} lost its PIN", 10000 + i);
        if before.is_some() {
            assert_eq!(&now, before, "extension {} hashed twice", 10000 + i);
        }
    }
    let login = pbxctl_stdin(d, &["ext", "login", "10119"], &pin(119));
    assert_eq!(login.stdout, "OK\n");
}
