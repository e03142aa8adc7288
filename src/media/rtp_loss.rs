//! Packets lost on a received RTP stream, from gaps in its sequence numbers (after
//! RFC 3550 appendix A.1, without its probation). A packet that arrives after a later
//! one was counted lost when the gap showed and stays counted: a relay sends on what
//! comes and waits for nothing. A new SSRC, or a jump no loss explains, starts the count
//! afresh rather than calling thousands of packets lost.

use super::rtp;

/// A jump ahead by more than this many packets is a sender that restarted its
/// sequence, not a loss (RFC 3550's MAX_DROPOUT: a minute of 20 ms packets).
pub const MAX_DROPOUT: u16 = 3_000;
/// A packet at most this far behind the newest is late; further behind, a restart
/// (RFC 3550's MAX_MISORDER).
pub const MAX_MISORDER: u16 = 100;

/// The newest sequence number seen, per the stream's SSRC.
#[derive(Debug, Default, Clone)]
pub struct LossCounter {
    newest: Option<(u32, u16)>,
}

impl LossCounter {
    /// Takes a received datagram; returns how many packets its arrival shows lost (0 for
    /// anything that is not RTP).
    pub fn observe(&mut self, datagram: &[u8]) -> u64 {
        rtp::parse(datagram).map_or(0, |p| self.sequence(p.ssrc, p.sequence))
    }

    /// Takes a packet's SSRC and sequence number; returns how many packets it shows lost.
    pub fn sequence(&mut self, ssrc: u32, sequence: u16) -> u64 {
        let Some((_, newest)) = self.newest.filter(|(s, _)| *s == ssrc) else {
            self.newest = Some((ssrc, sequence));
            return 0;
        };
        let ahead = sequence.wrapping_sub(newest);
        let behind = newest.wrapping_sub(sequence);
        if ahead == 0 || (1..=MAX_MISORDER).contains(&behind) {
            // A duplicate, or a late packet already counted in a gap.
            return 0;
        }
        self.newest = Some((ssrc, sequence));
        if ahead <= MAX_DROPOUT {
            u64::from(ahead - 1)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Total lost over a run of sequence numbers from one SSRC.
    fn lost(sequences: &[u16]) -> u64 {
        let mut c = LossCounter::default();
        sequences.iter().map(|s| c.sequence(7, *s)).sum()
    }

    #[test]
    fn gaps_count_and_nothing_else_does() {
        let cases: &[(&str, &[u16], u64)] = &[
            ("in order", &[10, 11, 12, 13], 0),
            ("one gap of three", &[10, 11, 15, 16], 3),
            ("two gaps", &[1, 3, 4, 7], 3),
            ("across the wrap", &[65_534, 65_535, 1, 2], 1),
            ("a duplicate", &[5, 6, 6, 7], 0),
            ("a late packet stays counted", &[5, 7, 6, 8], 1),
            ("a restart ahead", &[100, 101, 20_000, 20_001], 0),
            ("a restart behind", &[20_000, 20_001, 100, 101, 103], 1),
        ];
        for (name, sequences, expected) in cases {
            assert_eq!(lost(sequences), *expected, "{name}");
        }
    }

    #[test]
    fn a_new_ssrc_starts_afresh() {
        let mut c = LossCounter::default();
        assert_eq!(c.sequence(1, 10), 0);
        assert_eq!(c.sequence(2, 500), 0);
        assert_eq!(c.sequence(2, 502), 1);
    }

    #[test]
    fn datagrams_are_read_as_rtp() {
        let mut c = LossCounter::default();
        let packet = |seq| rtp::build(0, false, seq, 0, 9, &[0xff; 160]);
        assert_eq!(c.observe(&packet(1)), 0);
        assert_eq!(c.observe(b"not rtp"), 0);
        assert_eq!(c.observe(&packet(5)), 3);
    }
}
