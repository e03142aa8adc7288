//! Replay protection: the highest nonce count each recent nonce was used with.
//!
//! A fixed table of slots, one per nonce serial modulo its size, so memory stays the
//! same under any flood. Minting a nonce claims its slot; a later nonce whose serial
//! falls on the same slot takes it over, and the older nonce is then answered as
//! stale: the phone retries on a fresh challenge without asking its user. Only
//! answers that verified are counted, so a forged answer cannot use up a phone's nonce.

/// What [`NonceCounts::take`] decided about one use of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUse {
    /// First use of this count: go on.
    Fresh,
    /// This nonce was used with this count or a higher one already: a replay.
    Replayed,
    /// The table no longer remembers this nonce: treat it as stale.
    Forgotten,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The serial plus one; 0 is an empty slot.
    serial: u64,
    /// The highest count used; `u32::MAX` once a nonce without qop was used.
    count: u32,
}

/// Nonce counts of the last `capacity` nonces minted.
pub struct NonceCounts {
    slots: Box<[Slot]>,
}

/// Slots by default: 16 bytes each, 1 MiB in all; at 6,000 challenges a second a
/// nonce is remembered for about 11 s, and phones answer a challenge in milliseconds.
pub const DEFAULT_CAPACITY: usize = 1 << 16;

impl NonceCounts {
    /// A table with room for `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> NonceCounts {
        NonceCounts {
            slots: vec![Slot::default(); capacity.max(1)].into_boxed_slice(),
        }
    }

    fn slot(&mut self, serial: u64) -> &mut Slot {
        let len = self.slots.len() as u64;
        &mut self.slots[(serial % len) as usize]
    }

    /// A nonce with this serial was just minted.
    pub fn issued(&mut self, serial: u64) {
        *self.slot(serial) = Slot {
            serial: serial.wrapping_add(1),
            count: 0,
        };
    }

    /// Records one verified use of the nonce `serial` with nonce count `nc` (`None`: the
    /// RFC 2069 form without qop, which may use a nonce once).
    pub fn take(&mut self, serial: u64, nc: Option<u32>) -> NonceUse {
        let slot = self.slot(serial);
        if slot.serial != serial.wrapping_add(1) {
            return NonceUse::Forgotten;
        }
        let count = nc.unwrap_or(u32::MAX);
        if count == 0 || count <= slot.count {
            return NonceUse::Replayed;
        }
        slot.count = count;
        NonceUse::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_rise() {
        let mut counts = NonceCounts::new(8);
        counts.issued(3);
        assert_eq!(counts.take(3, Some(1)), NonceUse::Fresh);
        assert_eq!(counts.take(3, Some(1)), NonceUse::Replayed);
        assert_eq!(counts.take(3, Some(2)), NonceUse::Fresh);
        // A phone may skip counts, never go back.
        assert_eq!(counts.take(3, Some(9)), NonceUse::Fresh);
        assert_eq!(counts.take(3, Some(5)), NonceUse::Replayed);
        assert_eq!(counts.take(3, Some(0)), NonceUse::Replayed);
    }

    #[test]
    fn without_qop_a_nonce_is_good_once() {
        let mut counts = NonceCounts::new(8);
        counts.issued(1);
        assert_eq!(counts.take(1, None), NonceUse::Fresh);
        assert_eq!(counts.take(1, None), NonceUse::Replayed);
        assert_eq!(counts.take(1, Some(7)), NonceUse::Replayed);
    }

    #[test]
    fn a_newer_nonce_takes_the_slot_and_the_older_is_forgotten() {
        let mut counts = NonceCounts::new(4);
        counts.issued(2);
        counts.issued(6); // the same slot
        assert_eq!(counts.take(2, Some(1)), NonceUse::Forgotten);
        assert_eq!(counts.take(6, Some(1)), NonceUse::Fresh);
        // Never issued, or issued by another process with another key: not ours to count.
        assert_eq!(counts.take(1, Some(1)), NonceUse::Forgotten);
        // A flood of mints leaves the table its size.
        for serial in 0..100_000 {
            counts.issued(serial);
        }
        assert_eq!(counts.slots.len(), 4);
        assert_eq!(counts.take(99_999, Some(1)), NonceUse::Fresh);
        assert_eq!(counts.take(6, Some(2)), NonceUse::Forgotten);
    }
}
