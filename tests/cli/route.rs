//! `pbxctl route`: what digits do from an extension, explained on the shipped plan,
//! with the database left as it was.

use super::{pbxctl, root, write};
use std::path::Path;

/// Fixed, so the explanation (grants, the time it names) does not depend on the clock.
const AT: &str = "2026-03-01T09:00:00Z";

/// Alice (class 1), Bob (class 2, PIN-protected outbound), the lobby (class 4), a carrier
/// for outside calls and a PSAP trunk for emergency calls.
fn setup(dir: &Path) {
    let plan = root().join("dialplans/default.pbx");
    let text = format!(
        "dialplan: {}\ndatabase: pbx.db\n\
         trunks:\n\
         \x20 carrier: {{ address: \"127.0.0.1:5090\", username: pbx01, secret: \"trunk-secret\" }}\n\
         \x20 psap: {{ address: \"127.0.0.1:5091\", emergency: true, outbound: false }}\n\
         extensions:\n\
         \x20 \"101\": {{ name: Alice, class: 1, voicemail: {{ enabled: true, pin: \"2580\" }},\n\
         \x20          password_protection: {{ enabled: true, password: \"4321\" }} }}\n\
         \x20 \"102\": {{ name: Bob, class: 2, voicemail: {{ enabled: true, pin: \"1357\" }},\n\
         \x20          pin_protect: {{ enabled: true, duration: 3600 }} }}\n\
         \x20 \"103\": {{ name: Lobby, class: 4 }}\n",
        plan.display()
    );
    write(dir, "pbx.yaml", &text);
}

/// `pbxctl route DIGITS --from EXT --at AT`, human and JSON: both must succeed.
fn route(dir: &Path, digits: &str, from: &str) -> (String, serde_json::Value, String) {
    let human = pbxctl(dir, &["route", digits, "--from", from, "--at", AT]);
    assert_eq!(human.status, 0, "{}", human.stderr);
    let json = pbxctl(
        dir,
        &["route", digits, "--from", from, "--at", AT, "--json"],
    );
    assert_eq!(json.status, 0, "{}", json.stderr);
    let doc = serde_json::from_str(&json.stdout).expect("route --json prints JSON");
    (human.stdout, doc, json.stdout)
}

/// The verdict of the rule with this head.
fn verdict<'a>(doc: &'a serde_json::Value, head: &str) -> &'a str {
    doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["head"] == head)
        .unwrap_or_else(|| panic!("no rule {head}"))["verdict"]
        .as_str()
        .unwrap()
}

#[test]
fn an_internal_call_rings_the_extension() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let (human, doc, json) = route(tmp.path(), "102", "101");
    assert_eq!(doc["outcome"]["kind"], "extension");
    assert_eq!(doc["outcome"]["extension"], "102");
    assert_eq!(verdict(&doc, "dial extension"), "matched");
    assert_eq!(verdict(&doc, "dial any"), "shadowed");
    insta::assert_snapshot!("route_internal", human);
    insta::assert_snapshot!("route_internal_json", json);
}

#[test]
fn an_outside_number_names_the_trunk_and_the_number_sent() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let (human, doc, json) = route(tmp.path(), "95551234", "101");
    assert_eq!(doc["outcome"]["kind"], "outbound");
    assert_eq!(doc["trunk"], "carrier");
    assert_eq!(doc["number_sent"], "5551234");
    assert!(!json.contains("trunk-secret") && !human.contains("trunk-secret"));
    insta::assert_snapshot!("route_outbound", human);
    insta::assert_snapshot!("route_outbound_json", json);
}

#[test]
fn the_same_number_from_a_class_that_denies_it_is_restricted() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let (human, doc, json) = route(tmp.path(), "95551234", "103");
    assert_eq!(doc["outcome"]["kind"], "rejected");
    assert_eq!(doc["outcome"]["reason"], "restricted");
    assert_eq!(doc["trunk"], serde_json::Value::Null);
    let class = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "class")
        .unwrap();
    assert_eq!(class["passed"], false);
    insta::assert_snapshot!("route_restricted", human);
    insta::assert_snapshot!("route_restricted_json", json);
}

#[test]
fn pin_protection_without_a_grant_stops_the_call() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let (human, doc, _) = route(tmp.path(), "95551234", "102");
    assert_eq!(doc["outcome"]["reason"], "pin-required");
    insta::assert_snapshot!("route_pin_required", human);
}

#[test]
fn a_code_that_asks_for_a_pin_stops_at_the_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let (human, doc, json) = route(tmp.path(), "7777", "102");
    assert_eq!(doc["outcome"]["kind"], "prompt");
    assert_eq!(doc["outcome"]["prompt"], "enter-pin");
    assert_eq!(
        doc["outcome"]["then"][0],
        "check pin against caller.voicemail"
    );
    for secret in ["1357", "2580", "4321"] {
        assert!(
            !json.contains(secret) && !human.contains(secret),
            "{secret}"
        );
    }
    insta::assert_snapshot!("route_pin_prompt", human);
    insta::assert_snapshot!("route_pin_prompt_json", json);
    // A code login: two prompts, then the code's PIN.
    let (human, _, _) = route(tmp.path(), "*47", "101");
    insta::assert_snapshot!("route_code_login", human);
}

#[test]
fn an_emergency_number_is_decided_before_any_rule() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    // From the lobby, whose class allows nothing outside.
    let (human, doc, json) = route(tmp.path(), "911", "103");
    assert_eq!(doc["emergency"], true);
    assert_eq!(doc["outcome"]["kind"], "emergency");
    assert_eq!(doc["trunk"], "psap");
    assert_eq!(doc["next_trunks"], serde_json::json!(["carrier"]));
    assert!(
        doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"] == "not-reached")
    );
    insta::assert_snapshot!("route_emergency", human);
    insta::assert_snapshot!("route_emergency_json", json);
}

#[test]
fn a_guard_that_holds_beats_the_rules_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    assert_eq!(pbxctl(tmp.path(), &["ext", "lock", "101"]).status, 0);
    let (human, doc, json) = route(tmp.path(), "102", "101");
    assert_eq!(verdict(&doc, "dial any when caller.blocked"), "matched");
    assert_eq!(verdict(&doc, "dial extension"), "shadowed");
    assert_eq!(doc["outcome"]["reason"], "blocked");
    insta::assert_snapshot!("route_blocked", human);
    insta::assert_snapshot!("route_blocked_json", json);
    // Unlocked, the guard is false and the extension rule takes the call.
    assert_eq!(pbxctl(tmp.path(), &["ext", "unlock", "101"]).status, 0);
    let (_, doc, _) = route(tmp.path(), "102", "101");
    assert_eq!(verdict(&doc, "dial any when caller.blocked"), "guard-false");
    assert_eq!(verdict(&doc, "dial extension"), "matched");
}

#[test]
fn the_database_keeps_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let d = tmp.path();
    assert_eq!(pbxctl(d, &["ext", "show", "101"]).status, 0);
    let files =
        |d: &Path| ["pbx.db", "pbx.db-wal"].map(|f| std::fs::read(d.join(f)).unwrap_or_default());
    let before = files(d);
    // *74 turns do not disturb on: in the copy, and said so.
    let (human, doc, _) = route(d, "*74", "101");
    assert_eq!(doc["changes"], serde_json::json!(["dnd: off -> on"]));
    assert!(human.contains("changes:  dnd: off -> on"), "{human}");
    assert_eq!(files(d), before, "route wrote to the database");
    let show = pbxctl(d, &["ext", "show", "101", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(view["dnd"], false);
}

#[test]
fn bad_input_exits_with_the_cli_codes() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let d = tmp.path();
    let unknown = pbxctl(d, &["route", "102", "--from", "999", "--at", AT]);
    assert_eq!(unknown.status, 3);
    insta::assert_snapshot!("route_unknown_from", unknown.stderr);
    let digits = pbxctl(d, &["route", "12a", "--from", "101"]);
    assert_eq!(digits.status, 2);
    assert!(
        digits.stderr.contains("`12a` cannot be dialed"),
        "{}",
        digits.stderr
    );
    let at = pbxctl(d, &["route", "102", "--from", "101", "--at", "25:00"]);
    assert_eq!(at.status, 2);
    assert!(at.stderr.contains("--at 25:00"), "{}", at.stderr);
    // HH:MM is today, local time.
    let today = pbxctl(d, &["route", "102", "--from", "101", "--at", "09:30"]);
    assert_eq!(today.status, 0, "{}", today.stderr);
    let not_db = write(
        d,
        "garbage.db",
        "not a database, only text, long enough to look\n",
    );
    let garbage = not_db.display().to_string();
    let db = pbxctl(d, &["route", "102", "--from", "101", "--db", &garbage]);
    assert_eq!(db.status, 4, "{}", db.stderr);
    write(d, "broken.yaml", "dialplan: nowhere.pbx\n");
    let config = pbxctl(
        d,
        &["route", "102", "--from", "101", "--config", "broken.yaml"],
    );
    assert_eq!(config.status, 2, "{}", config.stderr);
}

#[test]
fn route_help() {
    insta::assert_snapshot!("help_route", pbxctl(&root(), &["route", "--help"]).stdout);
}

#[test]
fn the_readme_example_is_what_route_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let command =
        "$ pbxctl route 95551234 --from 102 --config examples/pbx.yaml --at 2026-03-01T09:00:00Z\n";
    let shown = readme
        .split(command)
        .nth(1)
        .expect("the README shows route")
        .split("```")
        .next()
        .unwrap();
    // A database of its own, so a local examples/pbx.db's state does not count.
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("none.db").display().to_string();
    let args = [
        "route",
        "95551234",
        "--from",
        "102",
        "--config",
        "examples/pbx.yaml",
        "--at",
        AT,
        "--db",
        &db,
    ];
    let run = pbxctl(&root(), &args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, shown);
}
