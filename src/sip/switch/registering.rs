//! The switch's side of trunk registrations: each registering trunk's REGISTER goes
//! out on a client transaction when it is due, and what comes of it goes back to that
//! trunk's [`Registration`].

use super::Switch;
use crate::clock::Timestamp;
use crate::sip::message::Response;
use crate::sip::transaction::{ClientKey, Peer, Transport};
use crate::sip::trunk::registration::{Fresh, Next, Registration};
use crate::sip::trunk::{Trunk, Trunks};
use crate::store::Store;

impl<S: Store + Clone> Switch<S> {
    /// A registration for every trunk that registers; one whose trunk did not change
    /// (address, account) in a reload goes on as it was.
    pub(super) fn renew_registrations(&mut self, old: &Trunks) {
        let trunks = self.settings.trunks.clone();
        let mut kept = std::mem::take(&mut self.registrations);
        for trunk in trunks.0.iter().filter(|t| t.register) {
            let same = old.named(&trunk.name).is_some_and(|o| {
                o.register && o.address == trunk.address && o.account == trunk.account
            });
            let registration = match kept.remove(&trunk.name) {
                Some(r) if same => r,
                _ => {
                    let tag = self.token(&format!("register {}", trunk.name));
                    let call_id = format!("{tag}@{}", self.settings.local.ip());
                    Registration::new(trunk, call_id, tag)
                }
            };
            self.registrations.insert(trunk.name.clone(), registration);
        }
        // REGISTERs under way for a trunk gone or changed are no one's any more.
        let live = &self.registrations;
        self.register_keys.retain(|_, name| live.contains_key(name));
    }

    /// The earliest REGISTER due.
    pub(super) fn registrations_due(&self) -> Option<Timestamp> {
        self.registrations.values().filter_map(|r| r.due()).min()
    }

    /// Sends every REGISTER that is due.
    pub(super) fn send_due_registers(&mut self, now: Timestamp) {
        let due: Vec<String> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.due().is_some_and(|d| d <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let Some(trunk) = self.settings.trunks.named(&name).cloned() else {
                continue;
            };
            let fresh = self.fresh();
            let Some(r) = self.registrations.get_mut(&name) else {
                continue;
            };
            let request = r.request(&trunk, &fresh);
            self.send_register(now, &trunk, request);
        }
    }

    /// A response to one of our REGISTERs; `false` if the key is not one of theirs.
    pub(super) fn register_response(
        &mut self,
        now: Timestamp,
        key: &ClientKey,
        response: &Response,
    ) -> bool {
        let Some(name) = self.register_keys.get(key).cloned() else {
            return false;
        };
        if response.status < 200 {
            return true;
        }
        self.register_keys.remove(key);
        let Some(trunk) = self.settings.trunks.named(&name).cloned() else {
            return true;
        };
        let fresh = self.fresh();
        let Some(r) = self.registrations.get_mut(&name) else {
            return true;
        };
        if let Next::Send(request) = r.response(now, &trunk, response, &fresh) {
            self.send_register(now, &trunk, request);
        }
        true
    }

    /// A REGISTER got no final answer; `false` if the key is not one of theirs.
    pub(super) fn register_timeout(&mut self, now: Timestamp, key: &ClientKey) -> bool {
        let Some(name) = self.register_keys.remove(key) else {
            return false;
        };
        if let (Some(trunk), Some(r)) = (
            self.settings.trunks.named(&name),
            self.registrations.get_mut(&name),
        ) {
            r.timeout(now, trunk);
        }
        true
    }

    /// Takes every binding away (the PBX is stopping): due at once.
    pub(super) fn unregister_all(&mut self) {
        for r in self.registrations.values_mut() {
            r.unregister();
        }
    }

    fn send_register(
        &mut self,
        now: Timestamp,
        trunk: &Trunk,
        request: crate::sip::message::Request,
    ) {
        let peer = Peer {
            transport: Transport::Udp,
            addr: trunk.address,
        };
        match self.transactions.request(now, peer, request) {
            Some(key) => {
                self.register_keys.insert(key, trunk.name.clone());
            }
            // Not sendable (it has a branch, so this does not happen): try again later
            // rather than never.
            None => {
                if let Some(r) = self.registrations.get_mut(&trunk.name) {
                    r.timeout(now, trunk);
                }
            }
        }
    }

    /// Our address, a new branch and a new client nonce.
    fn fresh(&mut self) -> Fresh {
        Fresh {
            local: self.settings.local,
            branch: self.next_branch(),
            cnonce: self.cnonce(),
        }
    }
}
