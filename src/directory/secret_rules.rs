//! What makes a secret acceptable under its policy (PG-5).

use crate::dsl::plan::Policy;

/// Checks length and digits only: what a provisioning file must meet (PP-1).
pub fn check_shape(policy: &Policy, secret: &str) -> Result<(), String> {
    if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be digits only (policy {})", policy.name));
    }
    let len = secret.len() as u32;
    if len < policy.min_len || len > policy.max_len {
        let want = if policy.min_len == policy.max_len {
            format!("{} digits", policy.min_len)
        } else {
            format!("{} to {} digits", policy.min_len, policy.max_len)
        };
        return Err(format!(
            "length must be {want}, not {len} (policy {})",
            policy.name
        ));
    }
    Ok(())
}

/// Checks everything a secret set by an administrator must meet: its shape and
/// no weak values (one digit repeated, a run up or down, the extension number).
pub fn check_strength(policy: &Policy, secret: &str, owner: &str) -> Result<(), String> {
    check_shape(policy, secret)?;
    let bytes = secret.as_bytes();
    if bytes.len() > 1 && bytes.iter().all(|&b| b == bytes[0]) {
        return Err(format!(
            "is one digit repeated; choose a less guessable value (policy {})",
            policy.name
        ));
    }
    let steps: Vec<i16> = bytes
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    if bytes.len() > 2 && steps.iter().all(|&s| s == 1) {
        return Err(format!(
            "is an ascending run like 1234; choose a less guessable value (policy {})",
            policy.name
        ));
    }
    if bytes.len() > 2 && steps.iter().all(|&s| s == -1) {
        return Err(format!(
            "is a descending run like 9876; choose a less guessable value (policy {})",
            policy.name
        ));
    }
    if secret == owner {
        return Err(format!(
            "equals the extension number; choose a less guessable value (policy {})",
            policy.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::plan::Lockout;

    fn policy() -> Policy {
        Policy {
            name: "voicemail".into(),
            owner: crate::dsl::ast::OwnerKind::Extension,
            secret: "voicemail".into(),
            min_len: 4,
            max_len: 10,
            attempts: 3,
            lockout: Lockout::Off,
            unlock_by: crate::dsl::ast::Unlocker::Admin,
            unlock_clears: false,
            span: Default::default(),
        }
    }

    #[test]
    fn weak_and_malformed_secrets_name_the_rule() {
        let p = policy();
        for (secret, rule) in [
            ("123", "length"),
            ("12345678901", "length"),
            ("12a4", "digits only"),
            ("5555", "one digit"),
            ("3456", "ascending"),
            ("9876", "descending"),
            ("1101", "extension number"),
        ] {
            let err = check_strength(&p, secret, "1101").unwrap_err();
            assert!(err.contains(rule), "{secret}: {err}");
        }
        assert!(check_strength(&p, "2580", "101").is_ok());
        assert!(check_shape(&p, "1234").is_ok());
    }
}
