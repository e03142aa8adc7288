//! One secret check for every interface (phone, CLI, any future API), so failures
//! and lockouts are counted the same way everywhere (PG-2, PG-3).

use super::eval::{Fault, Scope};
use crate::dsl::plan::{Lockout, Policy};
use crate::dsl::span::Span;
use crate::store::{SecretHasher, SecretId, SecretRecord, Store};

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Right secret, not locked.
    Ok,
    /// Right secret, but locked: only now may the lock be revealed.
    Locked,
    /// Anything else. `locked_now` is set when this failure locked the secret.
    Invalid {
        /// This failure reached the lockout threshold.
        locked_now: Option<SecretRecord>,
    },
}

/// Checks `entered` against a secret. `secret` is `None` when the owner does not
/// exist: that is answered like a wrong secret, after the same work.
/// `failures_this_call` counts earlier wrong entries in the same call.
pub fn check_secret(
    store: &dyn Store,
    hasher: &SecretHasher,
    policy: &Policy,
    scope: &Scope<'_>,
    secret: Option<&SecretId>,
    entered: &str,
    failures_this_call: u32,
) -> Result<Verdict, Fault> {
    let store_err = |e: crate::store::StoreError| Fault::at(policy.span, e.to_string());
    let record = match secret {
        Some(s) => store.secret(s).map_err(store_err)?.unwrap_or_default(),
        None => SecretRecord::default(),
    };
    let matched = hasher.verify(entered, record.hash.as_deref());
    match (matched, record.locked, secret) {
        (true, false, Some(s)) => {
            store.record_success(s).map_err(store_err)?;
            Ok(Verdict::Ok)
        }
        (true, true, _) => Ok(Verdict::Locked),
        (_, _, Some(s)) => {
            let lock_at = lock_threshold(policy, scope, failures_this_call + 1)?;
            let after = store.record_failure(s, lock_at).map_err(store_err)?;
            let locked_now = (after.locked && !record.locked).then_some(after);
            Ok(Verdict::Invalid { locked_now })
        }
        _ => Ok(Verdict::Invalid { locked_now: None }),
    }
}

/// The failure count at which the store should lock, if lockout is on now.
fn lock_threshold(
    policy: &Policy,
    scope: &Scope<'_>,
    failures_this_call: u32,
) -> Result<Option<u32>, Fault> {
    let Lockout::After {
        threshold,
        per_call,
        when,
    } = &policy.lockout
    else {
        return Ok(None);
    };
    if let Some(w) = when
        && !scope.eval(w)?.truthy()
    {
        return Ok(None);
    }
    let n = scope
        .eval(threshold)?
        .as_int()
        .ok_or_else(|| Fault::at(Span { ..threshold.span }, "a lockout threshold is a number"))?;
    let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    Ok(if *per_call {
        // Counted within the call: lock now if this call has reached it.
        (failures_this_call >= n).then_some(1)
    } else {
        Some(n)
    })
}
