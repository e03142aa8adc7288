//! The call record a call leaves when it ends (CDR-1): one per call, whatever became
//! of it.

use super::event::CallStatus;
use super::leg::{Leg, Wait};
use crate::clock::Timestamp;
use crate::dsl::reason::RejectReason;
use crate::dsl::settings::EngineSettings;
use crate::store::{CallRecord, Store};

/// How the call `leg` (a caller's leg) ended.
pub(super) fn status(leg: &Leg) -> CallStatus {
    let o = &leg.outcome;
    match o.rejected {
        Some(RejectReason::Busy) => CallStatus::Busy,
        Some(RejectReason::Unavailable) if o.failed => CallStatus::Failed,
        Some(RejectReason::Unavailable) if o.unanswered => CallStatus::NoAnswer,
        Some(_) => CallStatus::Rejected,
        None if o.connected_at.is_some() || o.answered_by_pbx => CallStatus::Answered,
        None if o.busy => CallStatus::Busy,
        // The caller gave up while a phone rang or the far end had not answered.
        None if o.unanswered || matches!(leg.wait, Wait::Alerting(_) | Wait::Dialing { .. }) => {
            CallStatus::NoAnswer
        }
        None => CallStatus::Failed,
    }
}

/// The record of the call `leg` (a caller's leg) made, ending at `now`.
pub(super) fn call_record(
    leg: &Leg,
    now: Timestamp,
    settings: &EngineSettings,
    store: &dyn Store,
) -> CallRecord {
    let o = &leg.outcome;
    // The direction dialed, whether or not the call got out.
    let dialed_out = leg.caller_is_extension
        && settings.outside_number(&leg.dialed).is_some()
        && !matches!(store.extension(&leg.dialed), Ok(Some(_)));
    let kind = if o.external || dialed_out {
        "outbound"
    } else if !leg.caller_is_extension {
        "inbound"
    } else {
        "internal"
    };
    CallRecord {
        start: leg.start,
        from: leg.caller.clone(),
        to: leg.dialed.clone(),
        final_party: o.final_party.clone(),
        duration: o.connected_at.map_or(0, |at| now.since(at).as_seconds()),
        kind: kind.into(),
        status: status(leg).as_str().into(),
        reason: o.rejected.map(|r| r.name().to_string()),
        originator: leg.originator.clone().unwrap_or_else(|| leg.caller.clone()),
        via: leg.originator.as_ref().map(|_| leg.caller.clone()),
        billing: leg.billing.clone(),
    }
}
