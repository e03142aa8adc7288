//! `pbxctl fmt`: the canonical layout, `--check`, stdin, refusals, and every shipped
//! plan already canonical and stable under formatting.

use super::{pbxctl, pbxctl_stdin, root, write};
use pbxctl::dsl::format::format;
use pbxctl::dsl::span::FileId;
use std::path::{Path, PathBuf};

/// A plan written carelessly: odd spacing, `{` and `else` on lines of their own,
/// runs of blank lines, comments everywhere, a `#` inside a quoted code, a hook.
const MESSY: &str = "

# A messy plan.



set   pin_lockout=true   # keep it on
set blacklist = [ ]

policy pin
{
secret extension.voicemail
    length 4 to 10      # PN-6
attempts 3
}

class 2 \"no international\" { allow .  deny 011. }

hook screen \"\"\"
    if leg.caller == \"103\" {   \"blacklisted\" }   
\"\"\"

dial \"*#06\"   { play serial-number }  # not a comment: # inside quotes
dial *11 {
    # toggle the terminal


    if caller.blocked { set caller.blocked=false }
    else
    {
          set caller.blocked = true
    }
  check pin against caller.voicemail
  ok { hangup }
  invalid { play pin-invalid retry }

}
";

#[test]
fn check_shows_the_diff_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "messy.pbx", MESSY);
    let run = pbxctl(tmp.path(), &["fmt", "--check", "messy.pbx"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("--- messy.pbx\n+++ messy.pbx (formatted)\n")
    );
    insta::assert_snapshot!("fmt_check_diff", run.stdout);
    assert_eq!(std::fs::read_to_string(path).unwrap(), MESSY);
}

#[test]
fn formats_in_place_once_and_then_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "messy.pbx", MESSY);
    let run = pbxctl(tmp.path(), &["fmt", "messy.pbx"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let formatted = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("fmt_messy_formatted", formatted);
    for comment in [
        "# A messy plan.",
        "# keep it on",
        "# PN-6",
        "# not a comment: # inside quotes",
        "# toggle the terminal",
    ] {
        assert!(formatted.contains(comment), "{comment} lost:\n{formatted}");
    }
    assert!(
        formatted.contains("\n\nset pin_lockout"),
        "blank lines kept"
    );
    assert!(!formatted.contains("\n\n\n"), "blank runs are one line");

    let again = pbxctl(tmp.path(), &["fmt", "messy.pbx"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), formatted);
    let check = pbxctl(tmp.path(), &["fmt", "--check", "messy.pbx"]);
    assert_eq!((check.status, check.stdout.as_str()), (0, ""));
}

#[test]
fn a_dash_formats_stdin_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let run = pbxctl_stdin(tmp.path(), &["fmt", "-"], "dial  1 {hangup}");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "dial 1 { hangup }\n");
}

#[test]
fn an_unparsable_plan_is_located_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = "# a plan\ndial *11   {\n  plya enter-password\n}\n";
    let path = write(tmp.path(), "bad.pbx", bad);
    let good = write(tmp.path(), "good.pbx", "dial  1 { hangup }\n");
    let run = pbxctl(tmp.path(), &["fmt", "bad.pbx", "good.pbx"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("bad.pbx:3:3"), "{}", run.stderr);
    assert!(run.stderr.contains("^^^^"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(path).unwrap(), bad);
    // The others are still formatted.
    assert_eq!(
        std::fs::read_to_string(good).unwrap(),
        "dial 1 { hangup }\n"
    );

    let missing = pbxctl(tmp.path(), &["fmt", "--check", "nowhere.pbx"]);
    assert_eq!(missing.status, 2);
    assert!(missing.stderr.contains("nowhere.pbx"), "{}", missing.stderr);
}

#[test]
fn the_shipped_plans_are_canonical() {
    let run = pbxctl(&root(), &["fmt", "--check", "dialplans", "examples"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    for path in test_plans() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Ok(formatted) = format(FileId(0), &text) {
            assert_eq!(formatted, text, "{} is not canonical", path.display());
        }
    }
}

/// Every `.pbx` file under a folder.
fn plans(dir: &Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            plans(&p, found);
        } else if p.extension().is_some_and(|x| x == "pbx") {
            found.push(p);
        }
    }
}

/// The plans under `tests/`, without the lint examples that must not parse.
fn test_plans() -> Vec<PathBuf> {
    let mut found = Vec::new();
    plans(&root().join("tests"), &mut found);
    found.retain(|p| {
        let text = std::fs::read_to_string(p).unwrap();
        let bad_example = p.to_string_lossy().ends_with(".bad.pbx");
        !bad_example || format(FileId(0), &text).is_ok()
    });
    found
}

#[test]
fn formatting_every_plan_twice_changes_nothing_the_second_time() {
    let mut found = test_plans();
    for dir in ["dialplans", "examples"] {
        plans(&root().join(dir), &mut found);
    }
    assert!(found.len() >= 8, "{found:?}");
    for path in found {
        let text = std::fs::read_to_string(&path).unwrap();
        // `format` itself refuses a result that parses differently or drops a comment.
        let once = format(FileId(0), &text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let twice = format(FileId(0), &once).unwrap();
        assert_eq!(once, twice, "{}", path.display());
    }
}

#[test]
fn help() {
    insta::assert_snapshot!("help_fmt", pbxctl(&root(), &["fmt", "--help"]).stdout);
}
