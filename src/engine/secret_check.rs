//! One secret check for every interface (phone, CLI, any future API), so failures and
//! lockouts are counted the same way everywhere (PG-2, PG-3). A check is two halves
//! around the slow part: [`begin`] reads the stored secret, the driver verifies the
//! entry against its hash, and [`conclude`] counts the result and says what it means.

use super::eval::{Fault, Scope};
use crate::dsl::plan::{Lockout, Policy, PolicyId};
use crate::store::{SecretId, SecretRecord, Store, StoreError};

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

/// A check waiting for its verify.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The governing policy.
    pub policy: PolicyId,
    /// The secret, or `None` when its owner does not exist.
    pub secret: Option<SecretId>,
    /// What the store held when the check began.
    pub record: SecretRecord,
    /// Where the program goes for ok, locked and invalid.
    pub branches: (usize, usize, usize),
}

/// Reads the secret to check. `secret` is `None` when the owner does not exist: that
/// is verified like a wrong secret, with the same work, and answered alike.
pub fn begin(store: &dyn Store, secret: Option<&SecretId>) -> Result<SecretRecord, StoreError> {
    Ok(match secret {
        Some(s) => store.secret(s)?.unwrap_or_default(),
        None => SecretRecord::default(),
    })
}

/// Counts a verified entry and says what it means. `lock_at` is the failure count at
/// which this failure locks the secret ([`lock_threshold`]).
pub fn conclude(
    store: &dyn Store,
    secret: Option<&SecretId>,
    record: &SecretRecord,
    matched: bool,
    lock_at: Option<u32>,
) -> Result<Verdict, StoreError> {
    match (matched, record.locked, secret) {
        (true, false, Some(s)) => {
            store.record_success(s)?;
            Ok(Verdict::Ok)
        }
        (true, true, _) => Ok(Verdict::Locked),
        (_, _, Some(s)) => {
            let after = store.record_failure(s, lock_at)?;
            let locked_now = (after.locked && !record.locked).then_some(after);
            Ok(Verdict::Invalid { locked_now })
        }
        _ => Ok(Verdict::Invalid { locked_now: None }),
    }
}

/// The failure count at which the store should lock, if lockout is on now; the
/// policy's clauses read settings only. `failures_this_call` counts this failure.
pub fn lock_threshold(
    policy: &Policy,
    settings: &Scope<'_>,
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
        && !settings.eval(w)?.truthy()
    {
        return Ok(None);
    }
    let n = settings
        .eval(threshold)?
        .as_int()
        .ok_or_else(|| Fault::at(threshold.span, "a lockout threshold is a number"))?;
    let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    Ok(if *per_call {
        // Counted within the call: lock now if this call has reached it.
        (failures_this_call >= n).then_some(1)
    } else {
        Some(n)
    })
}
