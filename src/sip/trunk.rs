//! A trunk as the switch uses it: a SIP provider at one address, our account with it,
//! what its inbound numbers (DIDs) ring, and which calls go out through it. Built by
//! `pbxctl run` from `trunks:` in the config, with the address resolved.

pub mod registration;

use super::auth::{DigestClient, Password};
use crate::directory::trunk::{Carrier, emergency_order, outbound_trunk};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One SIP provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Trunk {
    /// Its name in the config (logs say it).
    pub name: String,
    /// Where its requests go and where its requests come from (IP and port).
    pub address: SocketAddr,
    /// The host (and port) as written: the host part of Request-URI, From and To.
    pub domain: String,
    /// Our user name and password there, if it challenges us.
    pub account: Option<(String, Password)>,
    /// Whether we register with it.
    pub register: bool,
    /// How the calling number is written in From on calls out.
    pub caller_id: CallerId,
    /// Its inbound numbers, and what each one rings.
    pub dids: BTreeMap<String, Did>,
    /// Outside calls use it (the first such trunk).
    pub outbound: bool,
    /// Emergency calls use it (else the outbound trunk).
    pub emergency: bool,
}

/// How a call out shows who calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerId {
    /// The calling extension's `caller_id`, else its number (an outside caller
    /// forwarded back out keeps their own number).
    Extension,
    /// This number, for every call.
    Fixed(String),
}

/// What an inbound number rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Did {
    /// An extension, through the plan's `inbound` rules.
    Extension(String),
    /// Direct inward system access: the plan's `inbound in disa` rule takes the DID.
    Disa,
}

impl Trunk {
    /// A digest client for our account here, if we have one.
    pub fn digest_client(&self) -> Option<DigestClient> {
        self.account
            .as_ref()
            .map(|(user, password)| DigestClient::new(user.clone(), password.clone()))
    }

    /// The user we appear as here: the account's name, else `pbx`.
    pub fn user(&self) -> &str {
        self.account.as_ref().map_or("pbx", |(u, _)| u.as_str())
    }

    /// The number dialed by an inbound INVITE: its Request-URI user if that is one of
    /// our DIDs, else its To user if that is.
    pub fn did_of<'a>(
        &self,
        request_user: Option<&'a str>,
        to_user: Option<&'a str>,
    ) -> Option<(&'a str, &Did)> {
        [request_user, to_user]
            .into_iter()
            .flatten()
            .find_map(|user| self.dids.get(user).map(|did| (user, did)))
    }
}

impl Carrier for Trunk {
    fn name(&self) -> &str {
        &self.name
    }
    fn outbound(&self) -> bool {
        self.outbound
    }
    fn emergency(&self) -> bool {
        self.emergency
    }
}

/// The trunks, in the config's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trunks(pub Vec<Trunk>);

impl Trunks {
    /// The trunk whose address `source` is (requests from it are not challenged).
    pub fn at(&self, source: SocketAddr) -> Option<&Trunk> {
        self.0.iter().find(|t| t.address == source)
    }

    /// The trunk outside calls use: the first marked `outbound`.
    pub fn outbound(&self) -> Option<&Trunk> {
        outbound_trunk(&self.0)
    }

    /// The trunks an emergency call tries, in turn until one takes it (see
    /// [`emergency_order`]).
    pub fn for_emergency(&self) -> Vec<&Trunk> {
        emergency_order(&self.0)
    }

    /// A trunk by name.
    pub fn named(&self, name: &str) -> Option<&Trunk> {
        self.0.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str, port: u16, outbound: bool, emergency: bool) -> Trunk {
        Trunk {
            name: name.into(),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            domain: format!("127.0.0.1:{port}"),
            account: None,
            register: false,
            caller_id: CallerId::Extension,
            dids: BTreeMap::from([
                ("5550101".to_string(), Did::Extension("101".into())),
                ("5550100".to_string(), Did::Disa),
            ]),
            outbound,
            emergency,
        }
    }

    #[test]
    fn emergency_calls_try_the_marked_trunk_then_the_outbound_one_then_the_rest() {
        let both = Trunks(vec![
            trunk("backup", 5070, false, false),
            trunk("carrier", 5080, true, false),
            trunk("psap", 5090, false, true),
        ]);
        let names = |ts: &Trunks| -> Vec<String> {
            ts.for_emergency().iter().map(|t| t.name.clone()).collect()
        };
        assert_eq!(both.outbound().unwrap().name, "carrier");
        assert_eq!(names(&both), ["psap", "carrier", "backup"]);
        let one = Trunks(vec![trunk("carrier", 5080, true, false)]);
        assert_eq!(names(&one), ["carrier"]);
        assert!(Trunks::default().for_emergency().is_empty());
        assert_eq!(
            both.at("127.0.0.1:5090".parse().unwrap()).unwrap().name,
            "psap"
        );
        assert!(both.at("127.0.0.1:5091".parse().unwrap()).is_none());
    }

    #[test]
    fn the_did_is_the_request_uri_user_else_the_to_user() {
        let t = trunk("carrier", 5080, true, false);
        assert_eq!(
            t.did_of(Some("5550101"), Some("x")),
            Some(("5550101", &Did::Extension("101".into())))
        );
        assert_eq!(
            t.did_of(Some("pbx01"), Some("5550100")),
            Some(("5550100", &Did::Disa))
        );
        assert_eq!(t.did_of(Some("5559999"), None), None);
    }
}
