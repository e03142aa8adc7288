//! What the switch counts for operators: plain numbers the sans-IO switch keeps where
//! things happen, and the edge reads and publishes as metrics.

use crate::engine::event::CallStatus;
use std::collections::BTreeMap;

/// Counts since the switch started, and what is up now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Callers' legs up now: calls in progress.
    pub calls_up: u64,
    /// Legs up now: callers' and the ones the PBX placed for them.
    pub legs_up: u64,
    /// Calls ended, by the status of their call record, in [`CallStatus::ALL`] order.
    pub calls_ended: [u64; CallStatus::ALL.len()],
    /// Contacts registered now.
    pub registrations: u64,
    /// REGISTER requests accepted (removals too).
    pub registers_accepted: u64,
    /// Failed digest authentications: wrong answers, not the first challenge.
    pub auth_failures: u64,
    /// Sources the auth guard refuses now.
    pub blocked_sources: u64,
    /// Blocks the auth guard has started.
    pub source_blocks: u64,
    /// Secrets locked by wrong entries, by kind (`password`, `voicemail`, `pin`).
    pub lockouts: BTreeMap<String, u64>,
}

impl Tally {
    /// A call ended with `status`.
    pub fn call_ended(&mut self, status: CallStatus) {
        self.calls_ended[status as usize] += 1;
    }

    /// Calls ended with `status` so far.
    pub fn calls_ended(&self, status: CallStatus) -> u64 {
        self.calls_ended[status as usize]
    }

    /// A secret of kind `secret` locked.
    pub fn locked_out(&mut self, secret: String) {
        *self.lockouts.entry(secret).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_under_their_own_status() {
        let mut t = Tally::default();
        t.call_ended(CallStatus::Busy);
        t.call_ended(CallStatus::Busy);
        t.call_ended(CallStatus::Rejected);
        let counts: Vec<u64> = CallStatus::ALL.iter().map(|s| t.calls_ended(*s)).collect();
        assert_eq!(counts, [0, 0, 2, 0, 1]);
    }
}
