//! A directory's entries as a PBX engineer would review them: guessable PINs, phones
//! that cannot register, numbers claimed twice, departments that differ by a typo,
//! trunks that trust an address alone, numbers that start an emergency number.

use super::emergency;
use crate::directory::Config;
use crate::directory::secret_rules::{check_shape, check_strength};
use crate::directory::yaml::span_at;
use crate::dsl::Plan;
use crate::dsl::ast::OwnerKind;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::settings::Settings;
use std::collections::BTreeMap;

/// Every directory finding; spans point into the config.
pub fn check(config: &Config, plan: &Plan, settings: &Settings) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    weak_secrets(config, plan, &mut out);
    missing_sip_secrets(config, &mut out);
    shared_dids(config, &mut out);
    departments(config, &mut out);
    trunks_without_credentials(config, &mut out);
    emergency_starts(config, settings, &mut out);
    out
}

fn at(config: &Config, loc: serde_saphyr::Location) -> crate::dsl::span::Span {
    span_at(&config.sources, config.file, loc)
}

/// `weak-secret`: a provisioned PIN of the right shape that is still easy to guess
/// (PG-5): one digit repeated, a run, the extension's own number.
fn weak_secrets(config: &Config, plan: &Plan, out: &mut Vec<Diagnostic>) {
    let policy = |owner: OwnerKind, secret: &str| {
        (plan.policies.iter()).find(|p| p.owner == owner && p.secret == secret)
    };
    let mut weak = |span, owner: &str, what: &str, secret: Option<&str>, policy: Option<_>| {
        if let (Some(secret), Some(policy)) = (secret, policy)
            && check_shape(policy, secret).is_ok()
            && let Err(why) = check_strength(policy, secret, owner)
        {
            out.push(Diagnostic::warning(
                "weak-secret",
                span,
                format!("{what} {why}"),
            ));
        }
    };
    for (number, entry) in &config.directory.extensions {
        let e = &entry.value;
        let span = at(config, entry.referenced);
        weak(
            span,
            number,
            &format!("extension {number}: the voicemail PIN"),
            e.voicemail.pin.as_deref(),
            policy(OwnerKind::Extension, "voicemail"),
        );
        weak(
            span,
            number,
            &format!("extension {number}: the terminal password"),
            e.password_protection.password.as_deref(),
            policy(OwnerKind::Extension, "password"),
        );
    }
    for (code, entry) in &config.directory.codes {
        weak(
            at(config, entry.referenced),
            code,
            &format!("code {code}: the PIN"),
            entry.value.pin.as_deref(),
            policy(OwnerKind::Code, "pin"),
        );
    }
}

/// `no-sip-secret`: an extension no phone can register as.
fn missing_sip_secrets(config: &Config, out: &mut Vec<Diagnostic>) {
    for (number, entry) in &config.directory.extensions {
        if entry.value.secret.is_none() {
            out.push(Diagnostic::warning(
                "no-sip-secret",
                at(config, entry.referenced),
                format!(
                    "extension {number} has no SIP `secret`: no phone can register as it, so it can neither call nor be called"
                ),
            ));
        }
    }
}

/// `duplicate-number`: a DID on two trunks; which trunk's mapping wins is an accident.
fn shared_dids(config: &Config, out: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, trunk) in crate::directory::trunk::in_file_order(&config.trunks) {
        let entry = &config.trunks[name];
        for did in trunk.dids.keys() {
            match first.get(did.as_str()) {
                Some(other) => out.push(Diagnostic::warning(
                    "duplicate-number",
                    at(config, entry.value.dids[did].referenced),
                    format!(
                        "trunk {name}: DID {did} is also on trunk {other}: a call to it is taken by whichever trunk it arrives from, and the two may ring different places"
                    ),
                )),
                None => {
                    first.insert(did, name);
                }
            }
        }
    }
}

/// `unknown-department`: departments that differ only in case or spacing: `ext list
/// --department` and the plan's comparisons treat them as two.
fn departments(config: &Config, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for (number, entry) in &config.directory.extensions {
        let Some(dept) = entry.value.department.as_deref() else {
            continue;
        };
        let key = dept.trim().to_lowercase();
        match seen.get(&key) {
            Some((other_dept, other)) if *other_dept != dept => {
                out.push(Diagnostic::warning(
                    "unknown-department",
                    at(config, entry.referenced),
                    format!(
                        "extension {number}: department `{dept}` is not `{other_dept}` (extension {other}), though it differs only in case or spacing: they count as two departments"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(key, (dept, number));
            }
        }
    }
}

/// `trunk-without-credentials`: a trunk that takes calls and sends them on the word of
/// its address alone.
fn trunks_without_credentials(config: &Config, out: &mut Vec<Diagnostic>) {
    for (name, entry) in &config.trunks {
        let t = &entry.value;
        if t.username.is_none() && t.secret.is_none() {
            out.push(Diagnostic::warning(
                "trunk-without-credentials",
                at(config, entry.referenced),
                format!(
                    "trunk {name} has no `username` and `secret`: the provider must trust this PBX by its address, and a challenge from it fails every call"
                ),
            ));
        }
    }
}

/// `emergency-prefix`: an extension, code or DID that an emergency number starts with,
/// or a DID that is an emergency number.
fn emergency_starts(config: &Config, settings: &Settings, out: &mut Vec<Diagnostic>) {
    let engine = &settings.engine;
    let d = &config.directory;
    let numbers = (d
        .extensions
        .iter()
        .map(|(n, e)| (format!("extension {n}"), n, e.referenced)))
    .chain(
        d.codes
            .iter()
            .map(|(n, c)| (format!("code {n}"), n, c.referenced)),
    );
    for (what, number, loc) in numbers {
        if let Some(e) = emergency::started_by(engine, number) {
            let message = emergency::prefix_message(&what, e);
            out.push(Diagnostic::warning(
                "emergency-prefix",
                at(config, loc),
                message,
            ));
        }
    }
    for (name, entry) in &config.trunks {
        for (did, target) in &entry.value.dids {
            let message = if engine.is_emergency(did) {
                format!(
                    "trunk {name}: DID {did} is an emergency number: a carrier never delivers a call to it, and a caller who dials it from here reaches the emergency service instead"
                )
            } else if let Some(e) = emergency::started_by(engine, did) {
                emergency::prefix_message(&format!("trunk {name}: DID {did}"), e)
            } else {
                continue;
            };
            out.push(Diagnostic::warning(
                "emergency-prefix",
                at(config, target.referenced),
                message,
            ));
        }
    }
}
