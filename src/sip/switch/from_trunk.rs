//! Calls in from a trunk: the number called must be one of its DIDs, and the call
//! enters the plan's `inbound` rules as a call from outside, to the DID's extension or,
//! for DISA, to the DID itself.

use crate::engine::event::{Input, LegId};
use crate::sip::message::Request;
use crate::sip::trunk::{Did, Trunk};
use tracing::info;

/// The calling number and the engine's input for `request` from `trunk`, as leg
/// `leg`; `None` when it calls a number that is not one of the trunk's DIDs.
pub(super) fn inbound(trunk: &Trunk, request: &Request, leg: LegId) -> Option<(String, Input)> {
    let call_id = request.call_id().unwrap_or_default();
    let to_user = request.to().and_then(|t| t.uri.user);
    let Some((did, target)) = trunk.did_of(request.uri.user.as_deref(), to_user.as_deref()) else {
        info!(trunk = %trunk.name, %call_id, "a call from the trunk to a number that is not one of its DIDs");
        return None;
    };
    // Carriers send the caller's number as From's user; none means withheld.
    let caller = request
        .from()
        .and_then(|f| f.uri.user)
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "anonymous".into());
    let to = match target {
        Did::Extension(ext) => ext.clone(),
        Did::Disa => did.to_owned(),
    };
    info!(call = leg, %call_id, trunk = %trunk.name, %caller, did, "call from the trunk");
    let input = Input::Inbound {
        leg,
        from: caller.clone(),
        to,
    };
    Some((caller, input))
}
