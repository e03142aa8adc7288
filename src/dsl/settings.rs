//! Settings: the plan's `set` values, in the order the plan declares them, with the
//! overrides of a config's `system:` section. Expressions name a setting by its index,
//! resolved when the plan is compiled; the engine reads its own settings from one
//! typed struct built once.

use super::value::Value;
use crate::clock::Duration;
use std::collections::HashMap;

/// Index of a setting in a [`SettingTable`].
pub type SettingId = usize;

/// The settings the engine reads itself, and their defaults for a plan that does not set
/// them. The one place these defaults are written.
pub fn engine_defaults() -> Vec<(&'static str, Value)> {
    let digits = |s: &str| Value::Digits(s.to_string());
    vec![
        (
            "emergency",
            Value::List(["911", "112", "9911", "9112"].map(digits).to_vec()),
        ),
        ("numbering", Value::Range(100, 899)),
        ("outside_prefix", digits("9")),
        ("digit_timeout", Value::Duration(Duration::seconds(5))),
        ("prompt_timeout", Value::Duration(Duration::seconds(10))),
        ("ring_timeout", Value::Duration(Duration::seconds(30))),
        ("disa", Value::List(Vec::new())),
    ]
}

/// The settings a plan declares, with their defaults.
#[derive(Debug, Clone, Default)]
pub struct SettingTable {
    names: Vec<String>,
    defaults: Vec<Value>,
    index: HashMap<String, SettingId>,
}

impl SettingTable {
    /// The table with the engine's own settings at their defaults.
    pub fn with_engine_defaults() -> SettingTable {
        let mut table = SettingTable::default();
        for (name, value) in engine_defaults() {
            table.set(name, value);
        }
        table
    }

    /// Declares a setting or gives it a new default (a later `set` wins).
    pub fn set(&mut self, name: &str, value: Value) -> SettingId {
        match self.index.get(name) {
            Some(&id) => {
                self.defaults[id] = value;
                id
            }
            None => {
                let id = self.names.len();
                self.names.push(name.to_owned());
                self.defaults.push(value);
                self.index.insert(name.to_owned(), id);
                id
            }
        }
    }

    /// A setting's index.
    pub fn id(&self, name: &str) -> Option<SettingId> {
        self.index.get(name).copied()
    }

    /// A setting's default.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.id(name).map(|id| &self.defaults[id])
    }

    /// A setting's name.
    pub fn name(&self, id: SettingId) -> &str {
        &self.names[id]
    }

    /// Names and defaults, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names.iter().map(String::as_str).zip(&self.defaults)
    }
}

/// Settings in force: the plan's defaults with the config's overrides.
#[derive(Debug, Clone)]
pub struct Settings {
    values: Vec<Value>,
    /// What the engine itself reads, typed.
    pub engine: EngineSettings,
}

/// The engine's own settings, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Numbers connected before any rule, from every state.
    pub emergency: Vec<String>,
    /// The extension numbering plan, inclusive.
    pub numbering: (u64, u64),
    /// The outside-line prefix, stripped before a call leaves.
    pub outside_prefix: String,
    /// Silence that ends dialed digits.
    pub digit_timeout: Duration,
    /// Silence after a prompt before it is repeated, then the call ends.
    pub prompt_timeout: Duration,
    /// How long `alert` rings when the plan gives no time.
    pub ring_timeout: Duration,
}

impl Settings {
    /// The settings of `table` with `overrides` (by name; the checker has matched their
    /// kinds to the defaults).
    pub fn new(table: &SettingTable, overrides: &[(SettingId, Value)]) -> Settings {
        let mut values = table.defaults.clone();
        for (id, value) in overrides {
            values[*id] = value.clone();
        }
        let engine = EngineSettings::read(table, &values);
        Settings { values, engine }
    }

    /// A setting's value.
    pub fn get(&self, id: SettingId) -> &Value {
        &self.values[id]
    }
}

impl EngineSettings {
    fn read(table: &SettingTable, values: &[Value]) -> EngineSettings {
        // The compiler checked every engine setting is there and of its default's kind.
        let value = |name: &str| &values[table.id(name).expect("an engine setting")];
        let duration = |name: &str| value(name).as_duration().unwrap_or(Duration(0));
        EngineSettings {
            emergency: match value("emergency") {
                Value::List(l) => l.iter().filter_map(Value::as_text).collect(),
                _ => Vec::new(),
            },
            numbering: match value("numbering") {
                Value::Range(a, b) => (*a, *b),
                _ => (0, u64::MAX),
            },
            outside_prefix: value("outside_prefix").as_text().unwrap_or_default(),
            digit_timeout: duration("digit_timeout"),
            prompt_timeout: duration("prompt_timeout"),
            ring_timeout: duration("ring_timeout"),
        }
    }

    /// Whether `digits` is an emergency number (matched exactly).
    pub fn is_emergency(&self, digits: &str) -> bool {
        self.emergency.iter().any(|e| e == digits)
    }

    /// The number outside the PBX that `digits` dials, if they start with the prefix.
    pub fn outside_number<'a>(&self, digits: &'a str) -> Option<&'a str> {
        if self.outside_prefix.is_empty() {
            return None;
        }
        digits
            .strip_prefix(self.outside_prefix.as_str())
            .filter(|rest| !rest.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_defaults_and_the_engine_reads_them_typed() {
        let mut table = SettingTable::with_engine_defaults();
        let lockout = table.set("mailbox_lockout", Value::Bool(true));
        let later = table.set("ring_timeout", Value::Duration(Duration::seconds(20)));
        assert_eq!(table.id("ring_timeout"), Some(later));
        let prefix = table.id("outside_prefix").unwrap();
        let settings = Settings::new(
            &table,
            &[
                (lockout, Value::Bool(false)),
                (prefix, Value::Digits("0".into())),
            ],
        );
        assert_eq!(settings.get(lockout), &Value::Bool(false));
        assert_eq!(settings.engine.ring_timeout, Duration::seconds(20));
        assert_eq!(settings.engine.outside_prefix, "0");
        assert_eq!(settings.engine.outside_number("05551234"), Some("5551234"));
        assert_eq!(settings.engine.outside_number("0"), None);
        assert!(settings.engine.is_emergency("112"));
        assert!(!settings.engine.is_emergency("1120"));
    }
}
