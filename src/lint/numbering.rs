//! Codes against the numbering plan: a code that is an extension's number, or the start
//! of some, takes those extensions' calls (or loses its own), and a code that starts an
//! emergency number can swallow the emergency call.

use super::emergency;
use crate::dsl::Plan;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::plan::Matcher;
use crate::dsl::settings::EngineSettings;
use std::collections::HashSet;

/// `numbering-collision` and `emergency-prefix` for the plan's dial codes.
pub fn check(plan: &Plan, engine: &EngineSettings) -> Vec<Diagnostic> {
    // A rule never used has nothing more to say (it has its `unreachable-rule`).
    let unused: HashSet<_> = (plan.warnings.iter())
        .filter(|w| w.code == "unreachable-rule")
        .filter_map(|w| w.span)
        .collect();
    let mut out = Vec::new();
    for rule in plan.rules.dial.iter().filter(|r| !unused.contains(&r.span)) {
        let Matcher::Pattern(p) = &rule.matcher else {
            continue;
        };
        let Some(code) = p.literal() else { continue };
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(e) = emergency::started_by(engine, &code) {
            let message = emergency::prefix_message(&format!("the code `{code}`"), e);
            out.push(Diagnostic::warning("emergency-prefix", rule.span, message));
        }
        let (low, high) = engine.numbering;
        if let Some((first, last)) = numbers_starting(&code, low, high) {
            let message = if first == last {
                format!(
                    "the code `{code}` is also extension number {code} of the numbering plan {low}-{high}: whichever rule comes first takes it, so either that extension or this code can never be dialed"
                )
            } else {
                format!(
                    "the code `{code}` is the start of extension numbers {first}-{last} of the numbering plan {low}-{high}: a phone that sends a number as soon as it matches (a digit map) sends `{code}`, so those extensions are reached only by dialing faster than the phone waits"
                )
            };
            out.push(Diagnostic::warning(
                "numbering-collision",
                rule.span,
                message,
            ));
        }
    }
    out
}

/// The first and last numbers in `low..=high` that are `code` or start with it.
fn numbers_starting(code: &str, low: u64, high: u64) -> Option<(u64, u64)> {
    if code.len() > 1 && code.starts_with('0') {
        return None; // numbers of the plan have no leading zero
    }
    let base: u64 = code.parse().ok()?;
    let digits_high = high.to_string().len();
    let mut found: Option<(u64, u64)> = None;
    for extra in 0..=digits_high.saturating_sub(code.len()) {
        let scale = 10u64.checked_pow(extra as u32)?;
        let (from, to) = (
            base.checked_mul(scale)?,
            base.checked_mul(scale)? + scale - 1,
        );
        let (from, to) = (from.max(low), to.min(high));
        if from <= to {
            found = Some(match found {
                None => (from, to),
                Some((a, b)) => (a.min(from), b.max(to)),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_inside_or_starting_the_numbering_plan_collides() {
        assert_eq!(numbers_starting("150", 100, 899), Some((150, 150)));
        assert_eq!(numbers_starting("15", 100, 899), Some((150, 159)));
        assert_eq!(numbers_starting("8888", 100, 899), None);
        assert_eq!(numbers_starting("9", 100, 899), None);
        assert_eq!(numbers_starting("05", 100, 899), None);
        assert_eq!(numbers_starting("1", 1000, 1999), Some((1000, 1999)));
    }

    #[test]
    fn the_default_plan_has_no_code_in_its_numbering() {
        let plan = crate::dsl::load(std::path::Path::new("dialplans/default.pbx")).unwrap();
        assert!(check(&plan, &plan.default_settings().engine).is_empty());
    }
}
