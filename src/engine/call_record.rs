//! The call record a call leaves when it ends (CDR-1): one per call, whatever became
//! of it.

use super::leg::{Leg, Wait};
use crate::clock::Timestamp;
use crate::dsl::reason::RejectReason;
use crate::dsl::settings::EngineSettings;
use crate::store::{CallRecord, Store};

/// The record of the call `leg` (a caller's leg) made, ending at `now`.
pub(super) fn call_record(
    leg: &Leg,
    now: Timestamp,
    settings: &EngineSettings,
    store: &dyn Store,
) -> CallRecord {
    let o = &leg.outcome;
    let status = match o.rejected {
        Some(RejectReason::Busy) => "busy",
        Some(RejectReason::Unavailable) if o.failed => "failed",
        Some(RejectReason::Unavailable) if o.unanswered => "no-answer",
        Some(_) => "rejected",
        None if o.connected_at.is_some() || o.answered_by_pbx => "answered",
        None if o.busy => "busy",
        // The caller gave up while a phone rang or the far end had not answered.
        None if o.unanswered || matches!(leg.wait, Wait::Alerting(_) | Wait::Dialing { .. }) => {
            "no-answer"
        }
        None => "failed",
    };
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
        status: status.into(),
        reason: o.rejected.map(|r| r.name().to_string()),
        originator: leg.originator.clone().unwrap_or_else(|| leg.caller.clone()),
        via: leg.originator.as_ref().map(|_| leg.caller.clone()),
        billing: leg.billing.clone(),
    }
}
