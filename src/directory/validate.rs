//! Checks a directory against the plan that will serve it: numbering, emergency
//! numbers, classes, secret shapes (PP-1), settings. All findings, not the first.

use super::entry::Directory;
use super::secret_rules::check_shape;
use super::yaml::span_at;
use crate::dsl::Plan;
use crate::dsl::ast::OwnerKind;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap};
use crate::dsl::value::Value;

pub use crate::dsl::settings::Settings;

/// Checks the directory; returns the plan's settings with the directory's overrides.
pub fn validate(
    dir: &Directory,
    plan: &Plan,
    sources: &SourceMap,
    file: FileId,
) -> Result<Settings, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let at = |loc: serde_saphyr::Location| span_at(sources, file, loc);
    let system = dir.system.iter().map(|(name, v)| (name, &v.value));
    let (settings, faults) = settings(plan, system);
    for (name, code, message) in faults {
        errors.push(Diagnostic::error(
            code,
            at(dir.system[name].referenced),
            message,
        ));
    }
    let emergency = Value::List(
        settings
            .engine
            .emergency
            .iter()
            .cloned()
            .map(Value::Digits)
            .collect(),
    );
    let (low, high) = settings.engine.numbering;
    let numbering = Value::Range(low, high);
    let policy = |owner: OwnerKind, secret: &str| {
        plan.policies
            .iter()
            .find(|p| p.owner == owner && p.secret == secret)
    };
    for (number, entry) in &dir.extensions {
        let span = at(entry.referenced);
        let e = &entry.value;
        let num = Value::Digits(number.clone());
        if !number.bytes().all(|b| b.is_ascii_digit()) || number.is_empty() {
            errors.push(Diagnostic::error(
                "extension",
                span,
                format!("extension `{number}`: an extension number is digits only"),
            ));
            continue;
        }
        if num.member_of(&emergency) {
            errors.push(Diagnostic::error(
                "emergency-collision",
                span,
                format!("extension {number}: collides with an emergency number"),
            ));
        }
        if !num.member_of(&numbering) {
            errors.push(Diagnostic::error(
                "numbering",
                span,
                format!("extension {number}: outside the numbering plan {numbering}"),
            ));
        }
        if !plan.classes.contains_key(&e.class) {
            errors.push(Diagnostic::error(
                "unknown-class",
                span,
                format!(
                    "extension {number}: class {} is not declared in the dialplan",
                    e.class
                ),
            ));
        }
        if let Some(id) = &e.caller_id
            && !super::trunk::is_number(id)
        {
            errors.push(Diagnostic::error(
                "caller-id",
                span,
                format!("extension {number}: caller_id `{id}` is not a number"),
            ));
        }
        let secrets = [
            (
                "password",
                e.password_protection.password.as_deref(),
                e.password_protection.enabled,
            ),
            ("voicemail", e.voicemail.pin.as_deref(), false),
        ];
        for (kind, value, required) in secrets {
            match (value, policy(OwnerKind::Extension, kind)) {
                (Some(v), Some(p)) => {
                    if let Err(why) = check_shape(p, v) {
                        errors.push(Diagnostic::error(
                            "secret",
                            span,
                            format!("extension {number}: {kind} {why}"),
                        ));
                    }
                }
                (None, _) if required => errors.push(Diagnostic::error(
                    "secret",
                    span,
                    format!(
                        "extension {number}: password protection is enabled but no password is set"
                    ),
                )),
                _ => {}
            }
        }
    }
    for (code, entry) in &dir.codes {
        let span = at(entry.referenced);
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(Diagnostic::error(
                "code",
                span,
                format!("code `{code}`: a verification code is digits only"),
            ));
            continue;
        }
        if Value::Digits(code.clone()).member_of(&emergency) {
            errors.push(Diagnostic::error(
                "emergency-collision",
                span,
                format!("code {code}: collides with an emergency number"),
            ));
        }
        if !plan.classes.contains_key(&entry.value.class) {
            errors.push(Diagnostic::error(
                "unknown-class",
                span,
                format!(
                    "code {code}: class {} is not declared in the dialplan",
                    entry.value.class
                ),
            ));
        }
        if let (Some(pin), Some(p)) = (entry.value.pin.as_deref(), policy(OwnerKind::Code, "pin"))
            && let Err(why) = check_shape(p, pin)
        {
            errors.push(Diagnostic::error(
                "secret",
                span,
                format!("code {code}: PIN {why}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// Converts a YAML value to the kind of the setting's default.
/// The plan's settings with the `system:` overrides that fit, and every one that does
/// not, named with its diagnostic code and message.
pub fn settings<'a>(
    plan: &Plan,
    system: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> (Settings, Vec<(&'a String, &'static str, String)>) {
    let mut faults = Vec::new();
    let mut overrides = Vec::new();
    for (name, value) in system {
        match plan.settings.id(name) {
            None => faults.push((
                name,
                "unknown-setting",
                format!(
                    "the dialplan has no setting `{name}` (settings: {})",
                    plan.settings
                        .iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(id) => match convert(value, plan.settings.get(name).expect("declared")) {
                Ok(v) => overrides.push((id, v)),
                Err(e) => faults.push((name, "setting-type", format!("system.{name}: {e}"))),
            },
        }
    }
    (Settings::new(&plan.settings, &overrides), faults)
}

fn convert(value: &serde_json::Value, default: &Value) -> Result<Value, String> {
    use serde_json::Value as J;
    let digits = |v: &J| match v {
        J::String(s) if s.bytes().all(|b| b.is_ascii_digit() || b == b'*') && !s.is_empty() => {
            Some(s.clone())
        }
        J::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    };
    match (default, value) {
        (Value::Bool(_), J::Bool(b)) => Ok(Value::Bool(*b)),
        (Value::Digits(_), v) => digits(v)
            .map(Value::Digits)
            .ok_or_else(|| "expected digits".into()),
        (Value::Str(_), J::String(s)) => Ok(Value::Str(s.clone())),
        (Value::Duration(_), J::Number(n)) if n.is_u64() => Ok(Value::Duration(
            crate::clock::Duration::seconds(n.as_u64().unwrap_or(0) as i64),
        )),
        (Value::Duration(_), J::String(s)) => crate::clock::Duration::parse(s).map(Value::Duration),
        (Value::List(_), J::Array(items)) => items
            .iter()
            .map(|i| {
                digits(i)
                    .map(Value::Digits)
                    .ok_or_else(|| "expected a list of numbers".to_string())
            })
            .collect::<Result<_, _>>()
            .map(Value::List),
        (Value::Range(..), J::String(s)) => s
            .split_once('-')
            .and_then(|(a, b)| Some(Value::Range(a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| "expected a range like 100-899".into()),
        (d, _) => Err(format!("expected {}", d.kind())),
    }
}
