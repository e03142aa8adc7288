//! Legs the PBX places (the user-agent-client half of the back-to-back user agent): an
//! INVITE to every registered contact of an extension at once, over the flow each one
//! registered on, or one INVITE to a trunk for a number outside; the first to answer
//! wins and the others are cancelled; then the dialog of the one that answered, until
//! either side ends it. What is particular to trunks is in `through_trunk`.

use super::through_trunk::trunk_binding;
use super::{ALLOW, CallId, Output, Switch};
use crate::clock::Timestamp;
use crate::engine::event::{self as leg, LegId, Progress, Target};
use crate::media::g711::Law;
use crate::media::stream::Format;
use crate::sip::auth::DigestClient;
use crate::sip::message::{self, Headers, Method, Request, Response, Uri};
use crate::sip::registrar::Binding;
use crate::sip::sdp::{self, Negotiated, Origin};
use crate::sip::transaction::{ClientKey, Peer, Transport};
use crate::sip::trunk::Trunk;
use crate::store::Store;
use std::net::SocketAddr;
use tracing::info;

/// A leg the PBX places.
pub(super) struct Outgoing {
    /// The engine (generation) whose leg it is.
    pub engine: u64,
    /// The caller's leg it was placed for.
    pub call: CallId,
    /// The calling party as the engine gave it (a trunk shows its caller ID for it).
    pub from: String,
    /// Where it rings.
    pub target: Target,
    /// The trunk it goes out on (a number outside), by name.
    pub trunk: Option<String>,
    /// Our account there, for its challenges.
    pub digest: Option<DigestClient>,
    /// The trunks to try next if this one does not take the call (an emergency call).
    pub next_trunks: Vec<String>,
    /// Our Call-ID and From tag for its dialog.
    pub call_id: String,
    pub local_tag: String,
    /// Our RTP address, once open.
    pub media: Option<SocketAddr>,
    /// The law the caller speaks, offered first so no conversion is needed.
    pub law: Law,
    /// Where to send the INVITEs once media is open.
    pub contacts: Vec<Binding>,
    /// The INVITEs sent, one per contact.
    pub forks: Vec<Fork>,
    /// The dialog of the contact that answered.
    pub dialog: Option<Dialog>,
    /// The callee's side is ringing (told to the engine once).
    pub ringing: bool,
    /// Our next CSeq in the dialog.
    pub cseq: u32,
    /// The version of our SDP (`o=`), raised when a re-INVITE changes our answer.
    pub sdp_version: u64,
}

/// One INVITE of an outgoing leg.
pub(super) struct Fork {
    pub key: ClientKey,
    pub invite: Request,
    pub peer: Peer,
    pub outcome: Option<ForkOutcome>,
    /// Challenges answered for it.
    pub answered: u8,
}

/// An INVITE cancelled after its leg was forgotten.
pub(super) struct Abandoned {
    invite: Request,
    peer: Peer,
    /// When its transaction has surely ended (64 * T1).
    pub until: Timestamp,
}

/// How a fork ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ForkOutcome {
    /// It won: its dialog is the leg's.
    Answered,
    Busy,
    Failed,
    Cancelled,
}

/// The dialog with the contact that answered (RFC 3261 §12.1.2).
pub(super) struct Dialog {
    /// The To header of the 2xx, with the callee's tag.
    pub to: String,
    /// Where in-dialog requests go: the 2xx's Contact.
    pub target: Uri,
    /// Over which flow.
    pub peer: Peer,
    /// The callee's side of the audio, kept for re-INVITEs.
    pub negotiated: Negotiated,
}

impl<S: Store + Clone> Switch<S> {
    /// `Output::Place` from an engine: open the leg's RTP first (its address goes in
    /// the offer), then INVITE every contact. An extension with no phone registered, or
    /// a target this build cannot reach, fails at once.
    pub(super) fn place(
        &mut self,
        now: Timestamp,
        index: usize,
        (leg, call): (LegId, CallId),
        from: String,
        target: Target,
    ) {
        let (trunk, next_trunks) = self.trunks_for(call, &target);
        let contacts = match (&target, &trunk) {
            (Target::Extension(ext), _) => self.registrar.bindings(ext, now),
            (Target::Outside(number) | Target::Emergency(number), Some(t)) => {
                vec![trunk_binding(number, t, now)]
            }
            (_, None) => Vec::new(),
        };
        if contacts.is_empty() {
            info!(call, %target, "nowhere to ring: no phone registered or no trunk");
            let progress = Progress::Failed;
            self.feed(now, index, leg::Input::Progress { leg, progress });
            return;
        }
        let law = self
            .calls
            .get(&call)
            .map_or(Law::Mu, |c| c.negotiated.format.law);
        let local_tag = self.tag(leg);
        let engine = self.engines[index].0;
        let call_id = format!("{local_tag}@{}", self.settings.local.ip());
        if let Some(t) = &trunk {
            let caller_id = self.caller_id(t, &from);
            info!(call, leg, trunk = %t.name, %target, %caller_id, "calling out");
        }
        self.outgoing.insert(
            leg,
            Outgoing {
                engine,
                call,
                from,
                target,
                digest: trunk.as_ref().and_then(Trunk::digest_client),
                trunk: trunk.map(|t| t.name),
                next_trunks,
                call_id: call_id.clone(),
                local_tag,
                media: None,
                law,
                contacts,
                forks: Vec::new(),
                dialog: None,
                ringing: false,
                cseq: 1,
                sdp_version: 1,
            },
        );
        self.out_dialogs.insert(call_id, leg);
        let format = Format {
            law,
            telephone_event: Some(sdp::OFFERED_EVENTS),
        };
        self.out.push_back(Output::OpenMedia {
            call: leg,
            remote: None,
            format,
        });
    }

    /// The placed leg's RTP is open: INVITE every contact.
    pub(super) fn invite_contacts(&mut self, now: Timestamp, id: LegId, local: SocketAddr) {
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        o.media = Some(local);
        let contacts = std::mem::take(&mut o.contacts);
        for binding in contacts {
            self.send_fork(now, id, &binding, local);
        }
    }

    /// INVITEs one contact for leg `id`, whose RTP is at `media`; `false` if it could
    /// not be sent.
    pub(super) fn send_fork(
        &mut self,
        now: Timestamp,
        id: LegId,
        binding: &Binding,
        media: SocketAddr,
    ) -> bool {
        let invite = self.invite_for(id, binding, media);
        let Some(key) = self
            .transactions
            .request(now, binding.source, invite.clone())
        else {
            return false;
        };
        self.fork_keys.insert(key.clone(), id);
        if let Some(o) = self.outgoing.get_mut(&id) {
            o.forks.push(Fork {
                key,
                invite,
                peer: binding.source,
                outcome: None,
                answered: 0,
            });
        }
        true
    }

    fn invite_for(&mut self, id: LegId, binding: &Binding, media: SocketAddr) -> Request {
        let local = self.settings.local;
        let branch = self.next_branch();
        let o = &self.outgoing[&id];
        // A trunk's calls are in its domain, as its user; a phone's in our realm.
        let trunk = o
            .trunk
            .as_deref()
            .and_then(|t| self.settings.trunks.named(t));
        let domain = trunk.map_or(self.settings.realm.as_str(), |t| t.domain.as_str());
        let contact_user = trunk.map_or("pbx", Trunk::user);
        let from = match trunk {
            Some(t) => self.caller_id(t, &o.from),
            None => o.from.clone(),
        };
        let uri = Uri::parse(&binding.contact).unwrap_or_else(|| Uri {
            scheme: "sip".into(),
            host: binding.source.addr.to_string(),
            ..Uri::default()
        });
        let target = match &o.target {
            Target::Extension(e) | Target::Outside(e) | Target::Emergency(e) => e.clone(),
        };
        let mut headers = Headers::default();
        headers.push("Via", via(binding.source, local, &branch));
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("<sip:{from}@{domain}>;tag={}", o.local_tag));
        headers.push("To", format!("<sip:{target}@{domain}>"));
        headers.push("Call-ID", o.call_id.clone());
        headers.push("CSeq", format!("{} INVITE", o.cseq));
        headers.push("Contact", contact(binding.source, local, contact_user));
        headers.push("Allow", ALLOW);
        headers.push("Content-Type", "application/sdp");
        Request {
            method: Method::Invite,
            uri,
            headers,
            body: sdp::offer(o.origin(media), o.law),
        }
    }

    /// A response to one of our INVITEs (or to the CANCELs and BYEs of our dialogs).
    pub(super) fn fork_response(&mut self, now: Timestamp, key: ClientKey, response: Response) {
        let Some(&id) = self.fork_keys.get(&key) else {
            return self.abandoned_response(now, &key, &response);
        };
        let is_invite = response.cseq().is_some_and(|c| c.method == Method::Invite);
        if !is_invite {
            return;
        }
        let status = response.status;
        match status {
            100 => {}
            101..=199 => {
                let ringing = self
                    .outgoing
                    .get_mut(&id)
                    .map(|o| std::mem::replace(&mut o.ringing, true));
                if ringing == Some(false) {
                    self.progress(now, id, Progress::Ringing);
                }
            }
            200..=299 => self.answered(now, id, &key, &response),
            401 | 407 if self.outgoing.get(&id).is_some_and(|o| o.trunk.is_some()) => {
                self.invite_challenged(now, id, &key, &response);
            }
            _ => {
                if let Some(trunk) = self.outgoing.get(&id).and_then(|o| o.trunk.as_deref()) {
                    info!(leg = id, trunk, status, "the trunk did not take the call");
                }
                let outcome = match status {
                    486 | 600 | 603 => ForkOutcome::Busy,
                    487 => ForkOutcome::Cancelled,
                    _ => ForkOutcome::Failed,
                };
                self.fork_ended(now, id, &key, outcome);
            }
        }
    }

    /// A 2xx to an INVITE whose leg is gone is acknowledged and hung up at once.
    fn abandoned_response(&mut self, now: Timestamp, key: &ClientKey, response: &Response) {
        if response.status < 200 {
            return;
        }
        let Some(a) = self.abandoned.remove(key) else {
            return;
        };
        if response.status >= 300 {
            return;
        }
        let local = self.settings.local;
        let to = response.headers.get("To").unwrap_or_default().to_owned();
        let target = response
            .contacts()
            .into_iter()
            .next()
            .map_or_else(|| a.invite.uri.clone(), |c| c.uri);
        let ack = ack_2xx(&a.invite, &to, &target, a.peer, local, self.next_branch());
        self.transactions.send_stateless(a.peer, &ack);
        let mut bye = ack;
        bye.method = Method::Bye;
        let seq = a.invite.cseq().map_or(1, |c| c.seq) + 1;
        bye.headers.set("CSeq", format!("{seq} BYE"));
        bye.headers
            .set("Via", via(a.peer, local, &self.next_branch()));
        self.transactions.request(now, a.peer, bye);
    }

    /// A client transaction that never got a final answer (timer B or F).
    pub(super) fn fork_timeout(&mut self, now: Timestamp, key: ClientKey) {
        if let Some(&id) = self.fork_keys.get(&key) {
            self.fork_ended(now, id, &key, ForkOutcome::Failed);
        }
    }

    pub(super) fn fork_ended(
        &mut self,
        now: Timestamp,
        id: LegId,
        key: &ClientKey,
        outcome: ForkOutcome,
    ) {
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        if let Some(f) = o.forks.iter_mut().find(|f| f.key == *key) {
            f.outcome.get_or_insert(outcome);
        }
        self.fork_keys.remove(key);
        if o.dialog.is_some() || o.forks.iter().any(|f| f.outcome.is_none()) {
            return;
        }
        if self.next_trunk(now, id) {
            return;
        }
        let Some(o) = self.outgoing.get(&id) else {
            return;
        };
        // Every contact refused: busy if any said so.
        let busy = o.forks.iter().any(|f| f.outcome == Some(ForkOutcome::Busy));
        let progress = if busy {
            Progress::Busy
        } else {
            Progress::Failed
        };
        self.progress(now, id, progress);
        self.forget_outgoing(now, id);
    }

    /// A 2xx: the first wins (ACK, media, the other forks cancelled); a later one from
    /// another contact is acknowledged and hung up at once.
    fn answered(&mut self, now: Timestamp, id: LegId, key: &ClientKey, response: &Response) {
        let local = self.settings.local;
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        let Some(fork) = o.forks.iter().find(|f| f.key == *key) else {
            return;
        };
        let (peer, invite) = (fork.peer, fork.invite.clone());
        let target = response
            .contacts()
            .into_iter()
            .next()
            .map(|c| c.uri)
            .unwrap_or_else(|| invite.uri.clone());
        let to = response.headers.get("To").unwrap_or_default().to_owned();
        let already = o.dialog.as_ref().is_some_and(|d| d.to == to);
        let ack = ack_2xx(&invite, &to, &target, peer, local, self.next_branch());
        self.transactions.send_stateless(peer, &ack);
        if already {
            return; // a retransmitted 2xx: ACKed again, nothing more
        }
        let o = self.outgoing.get_mut(&id).expect("found above");
        let answer = sdp::negotiate(&response.body);
        if o.dialog.is_some() || answer.is_err() {
            // Another contact answered too late, or with audio we cannot take: it is
            // hung up (RFC 3261 section 13.2.2.4 wants the ACK first, sent above).
            if let Err(e) = &answer {
                info!(call = id, error = %e.0, "the callee's answer is not acceptable");
            }
            let mut late = Dialog {
                to,
                target,
                peer,
                negotiated: Negotiated {
                    remote: peer.addr,
                    format: Format {
                        law: o.law,
                        telephone_event: None,
                    },
                    direction: sdp::Direction::Inactive,
                },
            };
            let bye = self.bye_in(id, &mut late);
            self.transactions.request(now, peer, bye);
            if answer.is_err() {
                self.fork_ended(now, id, key, ForkOutcome::Failed);
            }
            return;
        }
        let n = answer.expect("checked");
        self.out.push_back(Output::UpdateMedia {
            call: id,
            remote: n.remote,
            format: n.format,
            sending: n.direction.receives(),
        });
        o.dialog = Some(Dialog {
            to,
            target,
            peer,
            negotiated: n,
        });
        if let Some(f) = o.forks.iter_mut().find(|f| f.key == *key) {
            f.outcome = Some(ForkOutcome::Answered);
        }
        // The other contacts stop ringing.
        let pending: Vec<Fork> = o
            .forks
            .iter()
            .filter(|f| f.key != *key && f.outcome.is_none())
            .map(|f| Fork {
                key: f.key.clone(),
                invite: f.invite.clone(),
                peer: f.peer,
                outcome: None,
                answered: f.answered,
            })
            .collect();
        for f in pending {
            self.cancel_fork(now, &f);
        }
        // The key stays until the leg is forgotten: a retransmitted 2xx is ACKed again.
        info!(
            call = self.outgoing[&id].call,
            leg = id,
            "the callee answered"
        );
        self.progress(now, id, Progress::Answered);
    }

    fn cancel_fork(&mut self, now: Timestamp, fork: &Fork) {
        let cancel = cancel_for(&fork.invite);
        self.transactions.request(now, fork.peer, cancel);
    }

    /// `Output::End` from an engine: CANCEL what still rings, BYE what answered.
    pub(super) fn end_outgoing(&mut self, now: Timestamp, id: LegId) {
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        if let Some(mut dialog) = o.dialog.take() {
            let peer = dialog.peer;
            let bye = self.bye_in(id, &mut dialog);
            self.transactions.request(now, peer, bye);
        } else {
            let pending: Vec<(Request, Peer)> = o
                .forks
                .iter()
                .filter(|f| f.outcome.is_none())
                .map(|f| (f.invite.clone(), f.peer))
                .collect();
            for (invite, peer) in pending {
                self.transactions.request(now, peer, cancel_for(&invite));
            }
        }
        self.forget_outgoing(now, id);
    }

    /// A request in one of our dialogs as the caller side (BYE, INFO, re-INVITE).
    pub(super) fn outgoing_dialog(&self, request: &Request) -> Option<LegId> {
        let id = *self.out_dialogs.get(request.call_id()?)?;
        let o = self.outgoing.get(&id)?;
        // In our dialog the callee's requests carry our tag in From... as To.
        let ours = request.to().and_then(|t| t.tag().map(str::to_owned));
        (ours.as_deref() == Some(o.local_tag.as_str())).then_some(id)
    }

    /// The callee hung up.
    pub(super) fn outgoing_bye(&mut self, now: Timestamp, id: LegId) {
        info!(call = id, "the callee hung up");
        // Told while the leg is known, so the engine's answer reaches the right engine.
        if let Some(o) = self.outgoing.get_mut(&id) {
            o.dialog = None;
        }
        self.placed_hangup(now, id);
        self.forget_outgoing(now, id);
    }

    /// A re-INVITE from the callee (hold, resume, a session refresh): answered with the
    /// same SDP; a new address or format is taken.
    pub(super) fn outgoing_reinvite(
        &mut self,
        now: Timestamp,
        key: &crate::sip::transaction::ServerKey,
        request: &Request,
        id: LegId,
    ) {
        let contact = format!("<sip:pbx@{}>", self.settings.local);
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        let (Some(media), Some(dialog)) = (o.media, o.dialog.as_mut()) else {
            return self.respond(now, key, request, 491);
        };
        let offered = match sdp::renegotiate(&request.body, dialog.negotiated) {
            Ok(n) => n,
            Err(e) => return self.refuse_offer(now, key, request, &e),
        };
        let n = super::renegotiated(&mut dialog.negotiated, &mut o.sdp_version, offered);
        let mut r = message::response_to(request, 200, "OK", Some(&o.local_tag));
        r.headers.push("Contact", contact);
        r.headers.push("Content-Type", "application/sdp");
        r.body = sdp::answer(o.origin(media), n.format, n.direction);
        self.transactions.respond(now, key, r);
        self.out.push_back(Output::UpdateMedia {
            call: id,
            remote: n.remote,
            format: n.format,
            sending: n.direction.receives(),
        });
    }

    /// Forgets an outgoing leg and closes its RTP.
    pub(super) fn forget_outgoing(&mut self, now: Timestamp, id: LegId) {
        self.unbridge(id);
        if let Some(o) = self.outgoing.remove(&id) {
            self.out_dialogs.remove(&o.call_id);
            let until = now.after(crate::clock::Duration(64 * 500));
            for f in o.forks {
                self.fork_keys.remove(&f.key);
                if f.outcome.is_none() {
                    let (invite, peer) = (f.invite, f.peer);
                    self.abandoned.insert(
                        f.key,
                        Abandoned {
                            invite,
                            peer,
                            until,
                        },
                    );
                }
            }
            if o.media.is_some() {
                self.out.push_back(Output::CloseMedia { call: id });
            }
        }
    }

    /// A BYE in our dialog with the callee.
    fn bye_in(&mut self, id: LegId, dialog: &mut Dialog) -> Request {
        let local = self.settings.local;
        let branch = self.next_branch();
        let o = self.outgoing.get_mut(&id).expect("the leg is ours");
        o.cseq += 1;
        let mut headers = Headers::default();
        headers.push("Via", via(dialog.peer, local, &branch));
        headers.push("Max-Forwards", "70");
        let from = o
            .forks
            .first()
            .and_then(|f| f.invite.headers.get("From"))
            .unwrap_or_default();
        headers.push("From", from);
        headers.push("To", dialog.to.clone());
        headers.push("Call-ID", o.call_id.clone());
        headers.push("CSeq", format!("{} BYE", o.cseq));
        Request {
            method: Method::Bye,
            uri: dialog.target.clone(),
            headers,
            body: Vec::new(),
        }
    }
}

impl Outgoing {
    /// Our side of the SDP, with RTP at `local`.
    fn origin(&self, local: SocketAddr) -> Origin {
        Origin {
            rtp: local,
            session: super::session_id(&self.local_tag),
            version: self.sdp_version,
        }
    }
}

/// Our Via for a request to `peer`, asking for `rport` (RFC 3581).
pub(super) fn via(peer: Peer, local: SocketAddr, branch: &str) -> String {
    format!(
        "SIP/2.0/{} {local};branch={branch};rport",
        peer.transport.as_str()
    )
}

/// Our Contact as `user`, reachable over the transport the peer uses.
pub(super) fn contact(peer: Peer, local: SocketAddr, user: &str) -> String {
    match peer.transport {
        Transport::Udp => format!("<sip:{user}@{local}>"),
        Transport::Tcp => format!("<sip:{user}@{local};transport=tcp>"),
    }
}

/// The ACK of a 2xx (RFC 3261 §13.2.2.4): a request of its own, to the dialog's
/// target, with the INVITE's CSeq number and a fresh branch.
fn ack_2xx(
    invite: &Request,
    to: &str,
    target: &Uri,
    peer: Peer,
    local: SocketAddr,
    branch: String,
) -> Request {
    let mut headers = Headers::default();
    headers.push("Via", via(peer, local, &branch));
    headers.push("Max-Forwards", "70");
    headers.push("From", invite.headers.get("From").unwrap_or_default());
    headers.push("To", to);
    headers.push("Call-ID", invite.call_id().unwrap_or_default());
    let seq = invite.cseq().map_or(1, |c| c.seq);
    headers.push("CSeq", format!("{seq} ACK"));
    Request {
        method: Method::Ack,
        uri: target.clone(),
        headers,
        body: Vec::new(),
    }
}

/// The CANCEL of an INVITE (RFC 3261 §9.1): its Request-URI, Call-ID, From, To, top
/// Via and CSeq number.
fn cancel_for(invite: &Request) -> Request {
    let mut headers = Headers::default();
    for name in ["Via", "From", "To", "Call-ID"] {
        if let Some(v) = invite.headers.get(name) {
            headers.push(name, v);
        }
    }
    headers.push("Max-Forwards", "70");
    let seq = invite.cseq().map_or(1, |c| c.seq);
    headers.push("CSeq", format!("{seq} CANCEL"));
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        headers,
        body: Vec::new(),
    }
}
