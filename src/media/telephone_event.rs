//! RFC 4733 telephone-events in, key presses out, and key presses out as events. Real
//! phones are sloppy: the marker bit may be missing, end packets lost or sent three
//! times. A press is taken from the first packet of an event (a new RTP timestamp, or
//! a restart of the duration), so retransmitted ends never repeat it and two presses
//! of one key never merge.

use super::rtp::Packet;

/// Keys by event code (0-15).
const EVENTS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

#[derive(Debug, Clone, Copy)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    duration: u16,
    ended: bool,
}

/// Follows one stream's telephone-events.
#[derive(Debug, Default)]
pub struct Receiver {
    current: Option<Current>,
}

impl Receiver {
    /// A receiver with no event in progress.
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Takes one telephone-event packet; returns the key if a new press starts.
    pub fn packet(&mut self, p: &Packet<'_>) -> Option<char> {
        let payload = p.payload;
        if payload.len() < 4 {
            return None;
        }
        let event = payload[0];
        let ended = payload[1] & 0x80 != 0;
        let duration = u16::from_be_bytes([payload[2], payload[3]]);
        let key = *EVENTS.get(usize::from(event))?;
        let same = self.current.is_some_and(|c| {
            c.ssrc == p.ssrc
                && c.timestamp == p.timestamp
                && c.event == event
                // A reused timestamp after an end, or a duration that starts
                // again, is a new press on a sloppy phone.
                && (!c.ended || ended)
                && duration >= c.duration
        });
        self.current = Some(Current {
            ssrc: p.ssrc,
            timestamp: p.timestamp,
            event,
            duration,
            ended,
        });
        (!same).then_some(key)
    }

    /// Forgets the event in progress, as when its end packets were lost.
    pub fn timeout(&mut self) {
        self.current = None;
    }
}

/// Packets in one press we send: 100 ms of tone in 20 ms updates.
const PRESS_PACKETS: u16 = 5;
/// The end packet goes three times (RFC 4733 section 2.5.1.4).
const END_REPEATS: usize = 3;
/// Volume of the events we send: -10 dBm0.
const VOLUME: u8 = 10;

/// The payloads of one press of `key`, one per 20 ms packet (the first carries the
/// marker; all share the press's timestamp).
pub fn press(key: char) -> Option<Vec<[u8; 4]>> {
    let event = u8::try_from(EVENTS.iter().position(|k| *k == key)?).ok()?;
    let payload = |duration: u16, end: bool| {
        let [hi, lo] = duration.to_be_bytes();
        [event, VOLUME | if end { 0x80 } else { 0 }, hi, lo]
    };
    let full = PRESS_PACKETS * 160;
    let mut out: Vec<[u8; 4]> = (1..PRESS_PACKETS)
        .map(|n| payload(n * 160, false))
        .collect();
    out.extend(std::iter::repeat_n(payload(full, true), END_REPEATS));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ts: u32, event: u8, end: bool, duration: u16, marker: bool) -> Vec<u8> {
        let mut b = vec![0x80, if marker { 0xe5 } else { 0x65 }, 0, 1];
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&7u32.to_be_bytes());
        b.extend_from_slice(&[event, if end { 0x8a } else { 0x0a }]);
        b.extend_from_slice(&duration.to_be_bytes());
        b
    }

    fn keys(packets: &[Vec<u8>]) -> String {
        let mut r = Receiver::new();
        packets
            .iter()
            .filter_map(|b| r.packet(&super::super::rtp::parse(b).unwrap()))
            .collect()
    }

    #[test]
    fn one_press_however_many_packets_and_ends() {
        let p = [
            pkt(800, 5, false, 160, true),
            pkt(800, 5, false, 320, false),
            pkt(800, 5, true, 480, false),
            pkt(800, 5, true, 480, false),
            pkt(800, 5, true, 480, false),
        ];
        assert_eq!(keys(&p), "5");
    }

    #[test]
    fn presses_of_one_key_never_merge() {
        let p = [
            pkt(800, 1, false, 160, false),
            pkt(800, 1, true, 320, false),
            pkt(2400, 1, false, 160, false),
            pkt(2400, 1, true, 320, false),
        ];
        assert_eq!(keys(&p), "11");
        // A phone that reuses the timestamp: the duration starts again.
        let p = [
            pkt(800, 1, false, 320, false),
            pkt(800, 1, true, 480, false),
            pkt(800, 1, false, 160, false),
        ];
        assert_eq!(keys(&p), "11");
    }

    #[test]
    fn lost_end_packets_and_missing_markers_are_tolerated() {
        let p = [
            pkt(800, 4, false, 160, false),
            pkt(800, 4, false, 320, false),
            pkt(1600, 2, false, 160, false),
            pkt(1600, 2, true, 320, false),
        ];
        assert_eq!(keys(&p), "42");
        let p = [
            pkt(800, 11, false, 160, false),
            pkt(0, 10, true, 160, false),
        ];
        assert_eq!(keys(&p), "#*");
    }

    #[test]
    fn a_press_we_send_is_one_press_to_a_receiver() {
        let payloads = press('#').unwrap();
        assert_eq!(payloads.len(), 7);
        let packets: Vec<Vec<u8>> = payloads
            .iter()
            .enumerate()
            .map(|(n, p)| super::super::rtp::build(101, n == 0, n as u16, 4000, 7, p))
            .collect();
        assert_eq!(keys(&packets), "#");
        assert_eq!(payloads.last().unwrap()[1] & 0x80, 0x80, "it ends");
        assert!(press('x').is_none());
    }
}
