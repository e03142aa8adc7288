//! Administrator commands as scripts use them: in parallel, from shell scripts,
//! with an audit trail that holds every action and no secret.

use super::{pbxctl, pbxctl_stdin, root, write};
use std::path::Path;
use std::process::Command;

fn department_config(dir: &Path) {
    let plan = root().join("dialplans/default.pbx");
    let text = format!(
        "dialplan: {}\ndatabase: pbx.db\nextensions:\n\
         \x20 \"201\": {{ department: sales, voicemail: {{ enabled: true, pin: \"2580\" }} }}\n\
         \x20 \"202\": {{ department: sales }}\n\
         \x20 \"203\": {{ department: support }}\n",
        plan.display()
    );
    write(dir, "pbx.yaml", &text);
}

#[test]
fn parallel_writers_lose_no_update() {
    let tmp = tempfile::tempdir().unwrap();
    department_config(tmp.path());
    let writers: Vec<_> = ["201", "202", "203"]
        .into_iter()
        .map(|ext| {
            let dir = tmp.path().to_path_buf();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    for action in ["lock", "unlock"] {
                        let run = pbxctl(&dir, &["ext", action, ext]);
                        assert_eq!(run.status, 0, "{action} {ext}: {}", run.stderr);
                        assert!(!run.stderr.contains("locked"), "{}", run.stderr);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let audit = pbxctl(tmp.path(), &["audit", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&audit.stdout).unwrap();
    assert_eq!(rows.len(), 300);
    for ext in ["201", "202", "203"] {
        let results: Vec<&str> = rows
            .iter()
            .filter(|r| r["target"] == ext)
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        assert_eq!(results.len(), 100);
        for pair in results.chunks(2) {
            assert_eq!(
                pair,
                [
                    format!("extension {ext} locked"),
                    format!("extension {ext} unlocked")
                ]
            );
        }
    }
    // The runner sets USER=tester: a claim, kept apart from the real user.
    assert!(rows.iter().all(|r| r["claimed_user"] == "tester"));
    assert!(
        rows.iter()
            .all(|r| r["uid"].is_u64() && r["user"] != "tester")
    );
}

#[test]
fn the_example_scripts_work() {
    let tmp = tempfile::tempdir().unwrap();
    department_config(tmp.path());
    let mailer = write(
        tmp.path(),
        "fake-mail",
        "#!/bin/sh\n{ echo \"$@\"; cat; } > \"$(dirname \"$0\")/mail.out\"\n",
    );
    Command::new("chmod")
        .arg("+x")
        .arg(&mailer)
        .status()
        .unwrap();
    let script = |name: &str, args: &[&str]| {
        Command::new("bash")
            .arg(root().join("examples/scripts").join(name))
            .args(args)
            .current_dir(tmp.path())
            .env("PBXCTL", env!("CARGO_BIN_EXE_pbxctl"))
            .env("PBXCTL_CONFIG", tmp.path().join("pbx.yaml"))
            .env("MAILER", &mailer)
            .env("USER", "cron")
            .env("LOGNAME", "cron")
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    };
    let night = script("night-lock.sh", &["sales", "lock"]);
    assert!(
        night.status.success(),
        "{}",
        String::from_utf8_lossy(&night.stderr)
    );
    let list = pbxctl(tmp.path(), &["ext", "list", "--json"]);
    let views: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    let blocked: Vec<(&str, bool)> = views
        .iter()
        .map(|v| {
            (
                v["extension"].as_str().unwrap(),
                v["blocked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(blocked, [("201", true), ("202", true), ("203", false)]);

    let mail = script("reset-and-mail.sh", &["201", "alice@example.com"]);
    assert!(
        mail.status.success(),
        "{}",
        String::from_utf8_lossy(&mail.stderr)
    );
    let sent = std::fs::read_to_string(tmp.path().join("mail.out")).unwrap();
    assert!(
        sent.starts_with("-s New voicemail PIN for extension 201 alice@example.com\n"),
        "{sent}"
    );
    let pin: String = sent
        .split("is ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(
        pbxctl_stdin(tmp.path(), &["ext", "login", "201"], &pin).stdout,
        "OK\n"
    );

    // The audit log has every action and no secret.
    let audit = pbxctl(tmp.path(), &["audit"]);
    let json = pbxctl(tmp.path(), &["audit", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        rows.iter().filter(|r| r["claimed_user"] == "cron").count(),
        3,
        "{}",
        json.stdout
    );
    assert!(
        !audit.stdout.contains(&pin) && !audit.stdout.contains("2580"),
        "{}",
        audit.stdout
    );
}

#[test]
fn config_mistakes_are_refused_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = root().join("dialplans/default.pbx");
    let cases = [
        (
            "duplicate",
            "extensions:\n  \"101\": {}\n  \"101\": {}\n",
            "`101` is given twice\n  --> pbx.yaml:5:3",
        ),
        (
            "unknown key",
            "extensions:\n  \"101\": { colour: red }\n",
            "unknown field `colour`",
        ),
        (
            "wrong type",
            "extensions:\n  \"101\": { class: first }\n",
            "pbx.yaml:4:",
        ),
        (
            "unknown class",
            "extensions:\n  \"101\": { class: 9 }\n",
            "extension 101: class 9 is not declared",
        ),
    ];
    for (what, body, wanted) in cases {
        write(
            tmp.path(),
            "pbx.yaml",
            &format!("dialplan: {}\ndatabase: pbx.db\n{body}", plan.display()),
        );
        let run = pbxctl(tmp.path(), &["ext", "list"]);
        assert_eq!(run.status, 2, "{what}: {}", run.stderr);
        assert!(run.stderr.contains(wanted), "{what}: {}", run.stderr);
    }
    let missing = pbxctl(tmp.path(), &["ext", "list", "--config", "nope.yaml"]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("cannot read nope.yaml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn codes_follow_the_same_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = root().join("dialplans/default.pbx");
    write(
        tmp.path(),
        "pbx.yaml",
        &format!(
            "dialplan: {}\ndatabase: pbx.db\ncodes:\n  \"1111\": {{ name: Tom, pin: \"4826\", class: 2 }}\n",
            plan.display()
        ),
    );
    let d = tmp.path();
    assert_eq!(pbxctl(d, &["code", "show", "9999"]).status, 3);
    let show = pbxctl(d, &["code", "show", "1111", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(
        view,
        serde_json::json!({"code": "1111", "name": "Tom", "class": 2, "billing": null, "locked": false, "failures": 0, "pin_set": true})
    );
    let unlock = pbxctl(d, &["code", "unlock", "1111"]);
    assert_eq!(
        (unlock.status, unlock.stdout.as_str()),
        (0, "code 1111 was not locked; nothing changed\n")
    );
    let weak = pbxctl(d, &["code", "pin-reset", "1111", "--pin", "9876"]);
    assert_eq!(weak.status, 2);
    assert!(weak.stderr.contains("descending"), "{}", weak.stderr);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let d = root();
    for shell in ["bash", "zsh", "fish"] {
        let run = pbxctl(&d, &["completions", shell]);
        assert_eq!(run.status, 0);
        assert!(run.stdout.contains("pin-reset"), "{shell}");
    }
    let man = pbxctl(&d, &["man"]);
    assert_eq!(man.status, 0);
    assert!(man.stdout.contains(".TH pbxctl 1"), "{}", man.stdout);
}

/// `pbxctl cdr` from the shell: its exit codes, and CSV a spreadsheet takes.
#[test]
fn cdr_follows_the_cli_contract() {
    let tmp = tempfile::tempdir().unwrap();
    department_config(tmp.path());
    let d = tmp.path();
    let empty = pbxctl(d, &["cdr", "--csv"]);
    assert_eq!(empty.status, 0, "{}", empty.stderr);
    assert_eq!(
        empty.stdout,
        "start,from,to,final,duration,type,status,reason,originator,via,billing\n"
    );
    assert_eq!(pbxctl(d, &["cdr", "--json"]).stdout, "[]\n");
    for (args, wanted) in [
        (&["cdr", "--type", "sideways"][..], "sideways"),
        (
            &["cdr", "--since", "last tuesday"][..],
            "not an RFC 3339 time or a date",
        ),
        (&["cdr", "--json", "--csv"][..], "cannot be used with"),
    ] {
        let run = pbxctl(d, args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(wanted), "{args:?}: {}", run.stderr);
    }
    let missing = pbxctl(d, &["cdr", "--db", "/nonexistent/dir/pbx.db"]);
    assert_eq!(missing.status, 4, "{}", missing.stderr);
}

#[test]
fn vm_export_and_delete_work_on_the_audio_beside_the_database() {
    use pbxctl::clock::Timestamp;
    use pbxctl::store::SqliteStore;
    let tmp = tempfile::tempdir().unwrap();
    department_config(tmp.path());
    // Provisioned by a first command; then a message as `pbxctl run` leaves one.
    assert_eq!(pbxctl(tmp.path(), &["ext", "show", "201"]).status, 0);
    let audio = pbxctl::media::wav::encode_pcm(&vec![1000i16; 8000 * 2]);
    let file = "voicemail/201/1-a.wav";
    std::fs::create_dir_all(tmp.path().join("voicemail/201")).unwrap();
    std::fs::write(tmp.path().join(file), &audio).unwrap();
    let store = SqliteStore::open(&tmp.path().join("pbx.db")).unwrap();
    let id = pbxctl::engine::mailbox::deposit(
        &store,
        "201",
        "202",
        Timestamp(1_800_000_000_000),
        2,
        Some(file.into()),
    )
    .unwrap()
    .unwrap();
    drop(store);

    let list = pbxctl_stdin(tmp.path(), &["vm", "list", "201", "--json"], "2580\n");
    assert_eq!(list.status, 0, "{}", list.stderr);
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["from"], "202");
    assert_eq!(rows[0]["folder"], "new");
    assert!(!list.stdout.contains("2580"), "the passcode is not echoed");

    let id = id.to_string();
    let out = tmp.path().join("copy.wav");
    let export = pbxctl_stdin(
        tmp.path(),
        &["vm", "export", "201", &id, "-o", out.to_str().unwrap()],
        "2580",
    );
    assert_eq!(export.status, 0, "{}", export.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), audio);

    let wrong = pbxctl_stdin(tmp.path(), &["vm", "delete", "201", &id], "1111");
    assert_eq!((wrong.status, wrong.stdout.as_str()), (1, ""));
    assert!(
        wrong.stderr.contains("Invalid passcode"),
        "{}",
        wrong.stderr
    );
    assert!(
        tmp.path().join(file).exists(),
        "a wrong passcode deletes nothing"
    );
    let delete = pbxctl_stdin(tmp.path(), &["vm", "delete", "201", &id], "2580");
    assert_eq!(delete.status, 0, "{}", delete.stderr);
    assert!(
        !tmp.path().join(file).exists(),
        "the audio goes with the message"
    );
    let audit = pbxctl(tmp.path(), &["audit", "--json"]);
    assert!(audit.stdout.contains("vm delete"), "{}", audit.stdout);
    assert!(
        !audit.stdout.contains("2580"),
        "no passcode in the audit log"
    );
}

#[test]
fn bulk_lock_and_unlock_take_numbers_stdin_or_a_department() {
    let tmp = tempfile::tempdir().unwrap();
    department_config(tmp.path());
    let d = tmp.path();
    let lock = pbxctl(d, &["ext", "lock", "201", "999", "202", "201"]);
    assert_eq!(lock.status, 3, "the worst: an unknown extension");
    assert_eq!(
        lock.stdout,
        "extension 201 locked\nextension 202 locked\n\
         ext lock: 3 extensions: 2 locked, 1 unknown\n"
    );
    assert_eq!(lock.stderr, "error: unknown extension 999\n");

    let sales = pbxctl(d, &["ext", "lock", "--department", "sales"]);
    assert_eq!(sales.status, 0);
    assert_eq!(
        sales.stdout,
        "extension 201 is already locked; nothing changed\n\
         extension 202 is already locked; nothing changed\n\
         ext lock: 2 extensions: 2 already locked\n"
    );
    let nobody = pbxctl(d, &["ext", "lock", "--department", "Sales"]);
    assert_eq!(
        (nobody.status, nobody.stderr.as_str()),
        (3, "error: no extension is in department Sales\n")
    );

    let piped = pbxctl_stdin(d, &["ext", "unlock", "-"], "202\n203 201\n");
    assert_eq!(piped.status, 0, "{}", piped.stderr);
    assert_eq!(
        piped.stdout,
        "extension 202 unlocked\nextension 203 was not locked; nothing changed\n\
         extension 201 unlocked\next unlock: 3 extensions: 2 unlocked, 1 not locked\n"
    );
    let empty = pbxctl_stdin(d, &["ext", "unlock", "-"], "\n");
    assert_eq!(empty.status, 2);
    let both = pbxctl(d, &["ext", "lock", "201", "--department", "sales"]);
    assert_eq!(both.status, 2, "numbers or a department, not both");

    // One audit row per extension acted on; none for the unknown one.
    let audit = pbxctl(d, &["audit", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&audit.stdout).unwrap();
    let targets: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["201", "202", "201", "202", "202", "203", "201"]);
}
