//! Values that expressions compute and settings hold.

use super::ast::LiteralValue;
use crate::clock::{Duration, Timestamp};
use std::fmt;

/// A runtime value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Nothing: an unset field or an unknown record.
    None,
    /// A truth value.
    Bool(bool),
    /// Digits, kept as text (`0911` is not `911`).
    Digits(String),
    /// Text.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A span of time.
    Duration(Duration),
    /// A point in time.
    Time(Timestamp),
    /// An inclusive numeric range.
    Range(u64, u64),
    /// A list.
    List(Vec<Value>),
}

impl Value {
    /// Whether the value counts as true in a condition.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Digits(s) | Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Duration(d) => d.0 != 0,
            Value::Time(_) | Value::Range(..) => true,
            Value::List(l) => !l.is_empty(),
        }
    }

    /// The value as a whole number, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Digits(s) | Value::Str(s) => s.parse().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The value as a duration; plain numbers are seconds.
    pub fn as_duration(&self) -> Option<Duration> {
        match self {
            Value::Duration(d) => Some(*d),
            other => other.as_int().map(Duration::seconds),
        }
    }

    /// The value as digit text, for numbers and dialing.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Digits(s) | Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// Whether `self` equals `other`, comparing numbers by value and digits as text.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Digits(a) | Value::Str(a), Value::Digits(b) | Value::Str(b)) => a == b,
            (Value::Int(_), _) | (_, Value::Int(_)) => match (self.as_int(), other.as_int()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (Value::Duration(_), _) | (_, Value::Duration(_)) => {
                self.as_duration() == other.as_duration()
            }
            _ => self == other,
        }
    }

    /// Orders two values when that makes sense (numbers, durations, times).
    pub fn order(&self, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
            (Value::Duration(_), _) | (_, Value::Duration(_)) => {
                Some(self.as_duration()?.cmp(&other.as_duration()?))
            }
            _ => Some(self.as_int()?.cmp(&other.as_int()?)),
        }
    }

    /// Whether `self` is a member of `container` (a list or a range).
    pub fn member_of(&self, container: &Value) -> bool {
        match container {
            Value::List(items) => items.iter().any(|i| i.same(self)),
            Value::Range(lo, hi) => self
                .as_text()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|n| {
                    (lo..=hi).contains(&&n)
                        && self
                            .as_text()
                            .is_some_and(|t| !t.starts_with('0') || t == "0")
                }),
            _ => false,
        }
    }

    /// A short name of the kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Bool(_) => "a true/false value",
            Value::Digits(_) => "digits",
            Value::Str(_) => "text",
            Value::Int(_) => "a number",
            Value::Duration(_) => "a duration",
            Value::Time(_) => "a time",
            Value::Range(..) => "a range",
            Value::List(_) => "a list",
        }
    }

    /// The value as JSON, for views and hooks.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::None => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Digits(s) | Value::Str(s) => s.clone().into(),
            Value::Int(i) => (*i).into(),
            Value::Duration(d) => d.to_string().into(),
            Value::Time(t) => t.rfc3339().into(),
            Value::Range(lo, hi) => format!("{lo}-{hi}").into(),
            Value::List(l) => l.iter().map(Value::to_json).collect(),
        }
    }
}

impl From<&LiteralValue> for Value {
    fn from(lit: &LiteralValue) -> Value {
        match lit {
            LiteralValue::Digits(s) => Value::Digits(s.clone()),
            LiteralValue::Str(s) => Value::Str(s.clone()),
            LiteralValue::Bool(b) => Value::Bool(*b),
            LiteralValue::None => Value::None,
            LiteralValue::Duration(d) => Value::Duration(*d),
            LiteralValue::Range(a, b) => Value::Range(*a, *b),
            LiteralValue::List(l) => Value::List(l.iter().map(|x| Value::from(&x.value)).collect()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("none"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Digits(s) | Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Duration(d) => write!(f, "{d}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::Range(a, b) => write!(f, "{a}-{b}"),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(Value::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_by_number_or_by_digits() {
        assert!(Value::Digits("5".into()).same(&Value::Int(5)));
        assert!(!Value::Digits("0911".into()).same(&Value::Digits("911".into())));
        assert!(
            Value::Digits("911".into()).member_of(&Value::List(vec![Value::Digits("911".into())]))
        );
        assert!(Value::Digits("101".into()).member_of(&Value::Range(100, 899)));
        assert!(!Value::Digits("0101".into()).member_of(&Value::Range(100, 899)));
        assert!(!Value::Digits("900".into()).member_of(&Value::Range(100, 899)));
        assert_eq!(
            Value::Int(3).order(&Value::Digits("5".into())),
            Some(std::cmp::Ordering::Less)
        );
    }
}
