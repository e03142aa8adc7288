//! Calls out through a trunk: which trunk carries a call (an emergency call goes on to
//! the next trunk when one does not take it), the caller ID it shows, and the INVITE
//! sent again with our credentials when the trunk challenges it.

use super::outgoing::{ForkOutcome, via};
use super::{CallId, Switch};
use crate::clock::Timestamp;
use crate::engine::event::{LegId, Target};
use crate::sip::auth::Challenge;
use crate::sip::message::Response;
use crate::sip::registrar::Binding;
use crate::sip::transaction::{ClientKey, Peer, Transport};
use crate::sip::trunk::{CallerId, Trunk};
use crate::store::Store;
use tracing::{info, warn};

/// Where a trunk's call to `number` goes: its address, the number at its domain.
pub(super) fn trunk_binding(number: &str, trunk: &Trunk, now: Timestamp) -> Binding {
    Binding {
        contact: format!("sip:{number}@{}", trunk.domain),
        source: Peer {
            transport: Transport::Udp,
            addr: trunk.address,
        },
        expires_at: now,
    }
}

impl<S: Store + Clone> Switch<S> {
    /// The trunk that carries a call to `target` (none for an extension), and the
    /// names of those to try after it: for an emergency call, every other trunk.
    pub(super) fn trunks_for(&self, call: CallId, target: &Target) -> (Option<Trunk>, Vec<String>) {
        match target {
            Target::Extension(_) => (None, Vec::new()),
            Target::Outside(_) => (self.settings.trunks.outbound().cloned(), Vec::new()),
            Target::Emergency(number) => {
                let order = self.settings.trunks.for_emergency();
                match order.first() {
                    Some(t) => warn!(call, trunk = %t.name, number = %number, "emergency call"),
                    None => {
                        warn!(call, number = %number, "an emergency call, and no trunk to carry it")
                    }
                }
                let next = order.iter().skip(1).map(|t| t.name.clone()).collect();
                (order.first().map(|t| (*t).clone()), next)
            }
        }
    }

    /// Every INVITE of leg `id` failed: if the call has a trunk left to try (an
    /// emergency call), INVITE it there and say `true`.
    pub(super) fn next_trunk(&mut self, now: Timestamp, id: LegId) -> bool {
        loop {
            let Some(o) = self.outgoing.get_mut(&id) else {
                return false;
            };
            // The caller hung up (a CANCEL ended it): nothing to go on with.
            let cancelled = o
                .forks
                .iter()
                .any(|f| f.outcome == Some(ForkOutcome::Cancelled));
            let (Some(media), false, false) = (o.media, o.next_trunks.is_empty(), cancelled) else {
                return false;
            };
            let (Target::Outside(number) | Target::Emergency(number)) = o.target.clone() else {
                return false;
            };
            let name = o.next_trunks.remove(0);
            let Some(trunk) = self.settings.trunks.named(&name).cloned() else {
                continue; // gone in a reload
            };
            warn!(leg = id, trunk = %trunk.name, "the call goes on to the next trunk");
            let o = self.outgoing.get_mut(&id).expect("found above");
            o.trunk = Some(trunk.name.clone());
            o.digest = trunk.digest_client();
            // The same Call-ID and From tag, so the next CSeq.
            o.cseq += 1;
            if self.send_fork(now, id, &trunk_binding(&number, &trunk, now), media) {
                return true;
            }
        }
    }

    /// A trunk challenged our INVITE: the same INVITE again (next CSeq, same Call-ID
    /// and From tag) with our answer; challenged again means the credentials are
    /// wrong, unless only the nonce was stale.
    pub(super) fn invite_challenged(
        &mut self,
        now: Timestamp,
        id: LegId,
        key: &ClientKey,
        response: &Response,
    ) {
        let (challenge, write) = Challenge::of(response);
        let (local, branch, cnonce) = (self.settings.local, self.next_branch(), self.cnonce());
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        let Some(fork) = o.forks.iter_mut().find(|f| f.key == *key) else {
            return;
        };
        let answerable = challenge.filter(|c| c.worth_answering(fork.answered));
        let (Some(challenge), Some(client)) = (answerable, o.digest.as_mut()) else {
            let trunk = o.trunk.clone().unwrap_or_default();
            info!(leg = id, %trunk, status = response.status, "the trunk refused our credentials for the call");
            return self.fork_ended(now, id, key, ForkOutcome::Failed);
        };
        o.cseq += 1;
        let mut invite = fork.invite.clone();
        invite.headers.set("CSeq", format!("{} INVITE", o.cseq));
        invite.headers.set("Via", via(fork.peer, local, &branch));
        invite.headers.remove("Authorization");
        invite.headers.remove("Proxy-Authorization");
        let uri = invite.uri.to_string();
        invite
            .headers
            .push(write, client.answer(&challenge, "INVITE", &uri, &cnonce));
        fork.answered += 1;
        let peer = fork.peer;
        let Some(new_key) = self.transactions.request(now, peer, invite.clone()) else {
            return self.fork_ended(now, id, key, ForkOutcome::Failed);
        };
        self.fork_keys.remove(key);
        self.fork_keys.insert(new_key.clone(), id);
        if let Some(fork) = self
            .outgoing
            .get_mut(&id)
            .and_then(|o| o.forks.iter_mut().find(|f| f.key == *key))
        {
            fork.key = new_key;
            fork.invite = invite;
        }
    }

    /// The calling number a trunk's call shows: its fixed caller ID, or the calling
    /// extension's own (`caller_id`, else its number); an outside caller sent back out
    /// (a forward) keeps their number.
    pub(super) fn caller_id(&self, trunk: &Trunk, from: &str) -> String {
        match &trunk.caller_id {
            CallerId::Fixed(number) => number.clone(),
            CallerId::Extension => match self.store.extension(from) {
                Ok(Some(record)) => record.config.caller_id.unwrap_or_else(|| from.to_owned()),
                _ => from.to_owned(),
            },
        }
    }
}
