//! Why a call is refused: the reasons of `sessions.md`, each knowing its SIP status, so
//! the checker, the engine and the switch share one table.

use std::fmt;

/// A reason a call may be rejected with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The terminal is blocked (PP-4, PP-5).
    Blocked,
    /// Do not disturb (FC-1).
    Dnd,
    /// The caller is on the blacklist (FC-3).
    Blacklisted,
    /// The class of service or a hook forbids it (VC-7).
    Restricted,
    /// Outbound calling needs a grant (PN-2).
    PinRequired,
    /// Too many failed attempts from this caller (VC-6).
    RateLimited,
    /// Nothing answers to these digits.
    NotFound,
    /// The callee is busy (FW-1).
    Busy,
    /// Nobody could take the call.
    Unavailable,
}

impl RejectReason {
    /// Every reason, in the order `sessions.md` lists them.
    pub const ALL: [RejectReason; 9] = [
        RejectReason::Blocked,
        RejectReason::Dnd,
        RejectReason::Blacklisted,
        RejectReason::Restricted,
        RejectReason::PinRequired,
        RejectReason::RateLimited,
        RejectReason::NotFound,
        RejectReason::Busy,
        RejectReason::Unavailable,
    ];

    /// The word plans and sessions use.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::Blocked => "blocked",
            RejectReason::Dnd => "dnd",
            RejectReason::Blacklisted => "blacklisted",
            RejectReason::Restricted => "restricted",
            RejectReason::PinRequired => "pin-required",
            RejectReason::RateLimited => "rate-limited",
            RejectReason::NotFound => "not-found",
            RejectReason::Busy => "busy",
            RejectReason::Unavailable => "unavailable",
        }
    }

    /// Looks a word up.
    pub fn parse(name: &str) -> Option<RejectReason> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The SIP final response a call refused for this reason gets.
    pub fn sip_status(self) -> u16 {
        match self {
            RejectReason::NotFound => 404,
            RejectReason::Busy | RejectReason::Dnd => 486,
            RejectReason::Blacklisted => 603,
            RejectReason::Unavailable => 480,
            RejectReason::Blocked
            | RejectReason::Restricted
            | RejectReason::PinRequired
            | RejectReason::RateLimited => 403,
        }
    }

    /// The reasons as a list for messages.
    pub fn list() -> String {
        Self::ALL.map(RejectReason::name).join(", ")
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_to_sip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.name()), Some(r));
            assert!((400..700).contains(&r.sip_status()));
        }
        assert_eq!(RejectReason::parse("nope"), None);
        assert_eq!(RejectReason::Blacklisted.sip_status(), 603);
        assert_eq!(RejectReason::Dnd.sip_status(), 486);
    }
}
