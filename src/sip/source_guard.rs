//! Brute-force protection per source address: too many wrong answers to a
//! digest challenge within a window block the source for a while.
//!
//! The window slides: each source keeps the times of its recent failures
//! (at most `max_failures - 1` of them, as reaching `max_failures` blocks and
//! clears them), so the count is exact. A fixed window with a count and a start
//! would be smaller, but lets a guesser fit almost twice the limit across a
//! window boundary.
//!
//! Sources are normalised before use: an IPv4-mapped IPv6 address counts as its
//! IPv4 address (dual-stack sockets report those), and IPv6 addresses count per
//! /64, since one host usually controls a whole /64 and could otherwise rotate
//! through it for free.
//!
//! Over UDP the source address can be spoofed, so an attacker who holds a valid
//! nonce can get someone else blocked; binding nonces to the source address
//! closes that (a spoofer never sees the challenge sent to its victim).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::clock::{Duration, Timestamp};

/// How many failed authentications from one source within `window` earn a block of `block` length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Failures within `window` that start a block (0 behaves as 1).
    pub max_failures: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a block lasts.
    pub block: Duration,
}

/// The default cap on tracked sources.
pub const MAX_SOURCES: usize = 100_000;

#[derive(Clone, Debug, Default)]
struct Entry {
    /// Recent failures, oldest first, all within the window of the last one.
    failures: VecDeque<Timestamp>,
    /// When the current (or last) block ends.
    blocked_until: Option<Timestamp>,
    /// Last failure, for evicting the least recently active.
    last_seen: Timestamp,
}

impl Entry {
    fn blocked_at(&self, now: Timestamp) -> Option<Timestamp> {
        self.blocked_until.filter(|until| now < *until)
    }

    fn forget_before(&mut self, now: Timestamp, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.0.saturating_sub(t.0) >= window.0)
        {
            self.failures.pop_front();
        }
    }
}

/// Failed-authentication counts and blocks, keyed by source address.
#[derive(Clone, Debug)]
pub struct SourceGuard {
    policy: GuardPolicy,
    capacity: usize,
    sources: HashMap<IpAddr, Entry>,
}

/// The key a source is counted under (see the module docs).
pub(in crate::sip) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl SourceGuard {
    /// Takes a reloaded policy; failures already counted stay.
    pub fn set_policy(&mut self, policy: GuardPolicy) {
        self.policy = policy;
    }

    /// A guard tracking at most [`MAX_SOURCES`] sources.
    pub fn new(policy: GuardPolicy) -> Self {
        Self::with_capacity(policy, MAX_SOURCES)
    }

    /// A guard tracking at most `capacity` sources (at least 1).
    pub fn with_capacity(policy: GuardPolicy, capacity: usize) -> Self {
        SourceGuard {
            policy,
            capacity: capacity.max(1),
            sources: HashMap::new(),
        }
    }

    /// Whether requests from `ip` are refused right now (returns the instant the block ends).
    pub fn blocked(&self, ip: IpAddr, now: Timestamp) -> Option<Timestamp> {
        self.sources.get(&source_key(ip))?.blocked_at(now)
    }

    /// Records a failed authentication (a wrong answer to a challenge — NOT the normal first 401); returns Some(until) when this failure starts a block.
    ///
    /// A failure while already blocked changes nothing and returns `None`, so
    /// the block is logged once and cannot be stretched by hammering.
    pub fn failure(&mut self, ip: IpAddr, now: Timestamp) -> Option<Timestamp> {
        let key = source_key(ip);
        if !self.sources.contains_key(&key) && self.sources.len() >= self.capacity {
            self.make_room(now);
        }
        let policy = self.policy;
        let entry = self.sources.entry(key).or_default();
        if entry.blocked_at(now).is_some() {
            return None;
        }
        entry.blocked_until = None;
        entry.last_seen = now;
        entry.forget_before(now, policy.window);
        entry.failures.push_back(now);
        if entry.failures.len() < policy.max_failures.max(1) as usize {
            return None;
        }
        let until = now.after(policy.block);
        entry.failures.clear();
        entry.blocked_until = Some(until);
        Some(until)
    }

    /// A success clears the source's failures (an active block stays: blocked sources are not asked).
    pub fn success(&mut self, ip: IpAddr) {
        let key = source_key(ip);
        if let Some(entry) = self.sources.get_mut(&key) {
            entry.failures.clear();
            if entry.blocked_until.is_none() {
                self.sources.remove(&key);
            }
        }
    }

    /// Forgets entries with neither an active block nor a failure in the window (call periodically).
    pub fn sweep(&mut self, now: Timestamp) {
        let window = self.policy.window;
        self.sources.retain(|_, entry| {
            entry.forget_before(now, window);
            if entry.blocked_at(now).is_none() {
                entry.blocked_until = None;
            }
            entry.blocked_until.is_some() || !entry.failures.is_empty()
        });
    }

    /// How many sources are blocked at `now`.
    pub fn blocked_count(&self, now: Timestamp) -> u64 {
        let blocked = self
            .sources
            .values()
            .filter(|e| e.blocked_at(now).is_some());
        blocked.count() as u64
    }

    /// How many sources are tracked.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Called when the table is full: sweeps, then evicts a tenth of the table
    /// at once so a spray of new sources costs amortised O(1) per failure
    /// rather than a full scan each. Unblocked sources go first, least
    /// recently active first, so a spray cannot easily wash out a block.
    fn make_room(&mut self, now: Timestamp) {
        self.sweep(now);
        if self.sources.len() < self.capacity {
            return;
        }
        let evict = (self.capacity / 10).max(1);
        let mut order: Vec<(bool, Timestamp, IpAddr)> = self
            .sources
            .iter()
            .map(|(ip, e)| (e.blocked_until.is_some(), e.last_seen, *ip))
            .collect();
        order.select_nth_unstable(evict - 1);
        for (_, _, ip) in &order[..evict] {
            self.sources.remove(ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const POLICY: GuardPolicy = GuardPolicy {
        max_failures: 5,
        window: Duration::seconds(60),
        block: Duration::seconds(600),
    };
    const T0: Timestamp = Timestamp(1_772_355_600_000);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn at(seconds: i64) -> Timestamp {
        T0.after(Duration::seconds(seconds))
    }

    #[test]
    fn nth_failure_blocks_until_exactly_block_later() {
        let mut guard = SourceGuard::new(POLICY);
        for i in 0..4 {
            assert_eq!(guard.failure(ip(1), at(i)), None);
            assert_eq!(guard.blocked(ip(1), at(i)), None);
        }
        let until = at(4 + 600);
        assert_eq!(guard.failure(ip(1), at(4)), Some(until));
        assert_eq!(guard.blocked(ip(1), at(4)), Some(until));
        assert_eq!(guard.blocked(ip(1), Timestamp(until.0 - 1)), Some(until));
        assert_eq!(guard.blocked(ip(1), until), None);

        // More failures while blocked neither re-announce nor extend the block.
        assert_eq!(guard.failure(ip(1), at(10)), None);
        assert_eq!(guard.blocked(ip(1), at(11)), Some(until));

        // After the block the count starts afresh.
        for i in 0..4 {
            assert_eq!(guard.failure(ip(1), until.after(Duration(i))), None);
        }
        assert!(guard.failure(ip(1), until.after(Duration(4))).is_some());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let mut guard = SourceGuard::new(POLICY);
        for i in 0..4 {
            assert_eq!(guard.failure(ip(1), at(i)), None);
        }
        // At 60 s the first failure (at 0 s) has just left the window: four.
        assert_eq!(guard.failure(ip(1), at(60)), None);
        assert_eq!(guard.blocked(ip(1), at(60)), None);
        // Half a second later the one at 1 s is still inside: five, a block.
        let t = at(60).after(Duration(500));
        assert_eq!(guard.failure(ip(1), t), Some(t.after(POLICY.block)));
    }

    #[test]
    fn spread_out_failures_never_block() {
        let mut guard = SourceGuard::new(POLICY);
        for i in 0..100 {
            assert_eq!(guard.failure(ip(1), at(i * 15)), None);
        }
    }

    #[test]
    fn success_resets() {
        let mut guard = SourceGuard::new(POLICY);
        for i in 0..4 {
            guard.failure(ip(1), at(i));
        }
        guard.success(ip(1));
        assert!(guard.is_empty());
        for i in 0..4 {
            assert_eq!(guard.failure(ip(1), at(10 + i)), None);
        }
        assert!(guard.failure(ip(1), at(20)).is_some());
        // A success does not lift an active block.
        guard.success(ip(1));
        assert!(guard.blocked(ip(1), at(21)).is_some());
    }

    #[test]
    fn sources_are_independent() {
        let mut guard = SourceGuard::new(POLICY);
        for i in 0..4 {
            guard.failure(ip(1), at(i));
            guard.failure(ip(2), at(i));
        }
        assert!(guard.failure(ip(1), at(5)).is_some());
        assert_eq!(guard.blocked(ip(2), at(5)), None);
        assert_eq!(guard.blocked(ip(3), at(5)), None);
        assert!(guard.failure(ip(2), at(6)).is_some());
    }

    #[test]
    fn addresses_are_normalised() {
        let mut guard = SourceGuard::new(GuardPolicy {
            max_failures: 2,
            ..POLICY
        });
        // An IPv4-mapped address is the IPv4 source.
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        guard.failure(mapped, at(0));
        assert!(guard.failure(ip(1), at(1)).is_some());
        assert!(guard.blocked(mapped, at(2)).is_some());

        // One /64 is one source; the next /64 is another.
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        guard.failure(IpAddr::V6(a), at(0));
        assert!(guard.failure(IpAddr::V6(b), at(1)).is_some());
        assert!(guard.blocked(IpAddr::V6(a), at(2)).is_some());
        assert_eq!(guard.blocked(IpAddr::V6(c), at(2)), None);
    }

    #[test]
    fn sweep_drops_old_entries() {
        let mut guard = SourceGuard::new(POLICY);
        guard.failure(ip(1), at(0));
        for i in 0..5 {
            guard.failure(ip(2), at(i));
        }
        guard.failure(ip(3), at(50));
        assert_eq!(guard.len(), 3);

        guard.sweep(at(59));
        assert_eq!(guard.len(), 3);
        guard.sweep(at(60));
        // ip(1)'s failure left the window; ip(2) is blocked; ip(3) is recent.
        assert_eq!(guard.len(), 2);
        assert!(guard.blocked(ip(2), at(60)).is_some());
        guard.sweep(at(110));
        assert_eq!(guard.len(), 1);
        guard.sweep(at(604));
        assert!(guard.is_empty());
    }

    #[test]
    fn the_cap_holds() {
        let mut guard = SourceGuard::with_capacity(
            GuardPolicy {
                max_failures: 2,
                ..POLICY
            },
            100,
        );
        // A blocked source survives a spray of new addresses.
        guard.failure(ip(1), at(0));
        let until = guard.failure(ip(1), at(0)).unwrap();
        for n in 0..10_000u32 {
            let spray = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            guard.failure(spray, at(1).after(Duration(i64::from(n))));
            assert!(guard.len() <= 100);
        }
        assert_eq!(guard.blocked(ip(1), at(20)), Some(until));
        // The most recent sprayed source is still tracked.
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999));
        assert!(guard.failure(last, at(20)).is_some());
    }

    #[test]
    fn zero_max_failures_blocks_on_the_first() {
        let mut guard = SourceGuard::new(GuardPolicy {
            max_failures: 0,
            ..POLICY
        });
        assert_eq!(guard.failure(ip(1), at(0)), Some(at(600)));
    }
}
