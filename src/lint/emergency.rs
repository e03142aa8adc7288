//! Safety: every emergency call must reach the trunk, whatever the caller dials first
//! and whatever the caller's class or state.

use crate::dsl::settings::EngineSettings;

/// `emergency-refusable`: emergency numbers that, dialed the way callers dial them, go
/// through the dial rules instead, where a class, a blocked terminal, a `when` or a
/// hook can refuse them.
pub fn refusable(engine: &EngineSettings) -> Vec<String> {
    if engine.emergency.is_empty() {
        return vec![
            "no emergency numbers are set: 911 or 112 go through the dial rules like any number, where a class, a blocked terminal, a `when` or a hook can refuse them".into(),
        ];
    }
    let prefix = &engine.outside_prefix;
    if prefix.is_empty() {
        return Vec::new();
    }
    engine
        .emergency
        .iter()
        .filter(|e| {
            // `9911` is itself the prefixed form of `911`.
            let prefixed_form = engine
                .outside_number(e)
                .is_some_and(|rest| engine.is_emergency(rest));
            !prefixed_form && !engine.is_emergency(&format!("{prefix}{e}"))
        })
        .map(|e| {
            format!(
                "`{prefix}{e}` (the outside prefix, then {e}) is not an emergency number: a caller used to dialing `{prefix}` first reaches the dial rules, where a class, a blocked terminal, a `when` or a hook can refuse the call; add `{prefix}{e}` to `emergency`"
            )
        })
        .collect()
}

/// The emergency number that `number` is the start of, if any (`91` of `911`).
pub fn started_by<'a>(engine: &'a EngineSettings, number: &str) -> Option<&'a str> {
    engine
        .emergency
        .iter()
        .find(|e| e.len() > number.len() && e.starts_with(number))
        .map(String::as_str)
}

/// `emergency-prefix`: the message for a number that starts an emergency number.
pub fn prefix_message(what: &str, emergency: &str) -> String {
    format!(
        "{what} is the start of the emergency number {emergency}: a phone that sends a number as soon as it matches (a digit map) sends it before the caller has finished dialing {emergency}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::value::Value;

    fn engine(emergency: &[&str], prefix: &str) -> EngineSettings {
        let plan = crate::dsl::compile_str("t.pbx", "").unwrap();
        let list = Value::List(
            emergency
                .iter()
                .map(|e| Value::Digits(e.to_string()))
                .collect(),
        );
        let overrides = [
            (plan.settings.id("emergency").unwrap(), list),
            (
                plan.settings.id("outside_prefix").unwrap(),
                Value::Digits(prefix.into()),
            ),
        ];
        crate::dsl::settings::Settings::new(&plan.settings, &overrides).engine
    }

    #[test]
    fn the_shipped_list_covers_the_prefixed_forms() {
        assert!(refusable(&engine(&["911", "112", "9911", "9112"], "9")).is_empty());
    }

    #[test]
    fn a_new_prefix_without_the_prefixed_forms_is_refusable() {
        let found = refusable(&engine(&["911", "112", "9911", "9112"], "0"));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("`0911`"), "{found:?}");
        assert_eq!(refusable(&engine(&[], "9")).len(), 1);
    }

    #[test]
    fn a_code_that_starts_an_emergency_number_is_found() {
        let e = engine(&["911", "112"], "9");
        assert_eq!(started_by(&e, "91"), Some("911"));
        assert_eq!(started_by(&e, "911"), None);
        assert_eq!(started_by(&e, "12"), None);
    }
}
