//! One call's RTP stream, sans-IO: audio queued for playout goes out as 20 ms G.711
//! packets, and key presses come in as RFC 4733 events or in-band tones.

use super::g711::Law;
use super::inband::Detector;
use super::rtp;
use super::telephone_event::Receiver;
use std::collections::VecDeque;

/// Samples in one 20 ms packet at 8 kHz.
pub const FRAME: usize = 160;

/// What was negotiated for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The audio law (and so its payload type).
    pub law: Law,
    /// The telephone-event payload type the peer offered, if any.
    pub telephone_event: Option<u8>,
}

/// Playout and key detection for one call.
pub struct Stream {
    format: Format,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    queue: VecDeque<i16>,
    events: Receiver,
    inband: Detector,
    /// Once a peer sends telephone-events, its audio is not searched for tones: a
    /// phone that sends both would otherwise press every key twice.
    events_seen: bool,
}

impl Stream {
    /// A stream with a random-looking start (`ssrc`, `sequence`, `timestamp` from the caller).
    pub fn new(format: Format, ssrc: u32, sequence: u16, timestamp: u32) -> Stream {
        Stream {
            format,
            ssrc,
            sequence,
            timestamp,
            queue: VecDeque::new(),
            events: Receiver::new(),
            inband: Detector::new(),
            events_seen: false,
        }
    }

    /// The negotiated format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Queues audio after whatever is playing.
    pub fn play(&mut self, samples: &[i16]) {
        self.queue.extend(samples);
    }

    /// Drops queued audio (the caller pressed a key: prompts are barge-in).
    pub fn stop(&mut self) {
        self.queue.clear();
    }

    /// Whether audio is still queued.
    pub fn playing(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The next 20 ms packet: queued audio, or silence so the peer's jitter buffer
    /// and NAT binding stay alive.
    pub fn next_packet(&mut self) -> Vec<u8> {
        let law = self.format.law;
        let silence = law.encode(0);
        let payload: Vec<u8> = (0..FRAME)
            .map(|_| self.queue.pop_front().map_or(silence, |s| law.encode(s)))
            .collect();
        let packet = rtp::build(
            law.payload_type(),
            false,
            self.sequence,
            self.timestamp,
            self.ssrc,
            &payload,
        );
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
        packet
    }

    /// Takes one received datagram; returns the keys whose presses start in it.
    pub fn receive(&mut self, datagram: &[u8]) -> Vec<char> {
        let Some(packet) = rtp::parse(datagram) else {
            return Vec::new();
        };
        if Some(packet.payload_type) == self.format.telephone_event {
            self.events_seen = true;
            return self.events.packet(&packet).into_iter().collect();
        }
        // Either law is decoded: some phones switch law mid-call despite the answer.
        let law = match packet.payload_type {
            0 => Law::Mu,
            8 => Law::A,
            _ => return Vec::new(),
        };
        if self.events_seen {
            return Vec::new();
        }
        let samples: Vec<i16> = packet.payload.iter().map(|b| law.decode(*b)).collect();
        self.inband.push(&samples);
        self.inband.take().into_iter().map(|p| p.digit).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::inband::generate;

    fn stream(te: Option<u8>) -> Stream {
        Stream::new(
            Format {
                law: Law::Mu,
                telephone_event: te,
            },
            9,
            65_534,
            1_000,
        )
    }

    fn event(pt: u8, ts: u32, key: u8, end: bool, duration: u16) -> Vec<u8> {
        let payload = [
            key,
            if end { 0x80 } else { 0 } | 10,
            (duration >> 8) as u8,
            duration as u8,
        ];
        rtp::build(pt, false, 1, ts, 5, &payload)
    }

    #[test]
    fn playout_is_paced_in_20_ms_packets_then_silence() {
        let mut s = stream(None);
        s.play(&[1000; 200]);
        let first = s.next_packet();
        let p = rtp::parse(&first).unwrap();
        assert_eq!(
            (p.payload_type, p.sequence, p.timestamp, p.payload.len()),
            (0, 65_534, 1_000, 160)
        );
        assert!(s.playing());
        let second = s.next_packet();
        let p = rtp::parse(&second).unwrap();
        assert_eq!((p.sequence, p.timestamp), (65_535, 1_160));
        assert_eq!(p.payload[39], Law::Mu.encode(1000));
        assert_eq!(p.payload[40], Law::Mu.encode(0), "silence after the audio");
        assert!(!s.playing());
        let third = rtp::parse(&s.next_packet()).unwrap().sequence;
        assert_eq!(third, 0, "the sequence wraps");
    }

    #[test]
    fn events_take_their_payload_type_from_the_offer() {
        let mut s = stream(Some(96));
        assert_eq!(s.receive(&event(96, 100, 4, false, 160)), ['4']);
        assert!(s.receive(&event(96, 100, 4, true, 800)).is_empty());
        assert!(
            s.receive(&event(96, 100, 4, true, 800)).is_empty(),
            "a repeated end"
        );
        assert_eq!(
            s.receive(&event(96, 900, 4, false, 160)),
            ['4'],
            "the same key again"
        );
        assert!(
            s.receive(&event(101, 1700, 5, false, 160)).is_empty(),
            "101 is not negotiated"
        );
    }

    #[test]
    fn inband_tones_in_pcmu_are_keys() {
        let mut s = stream(None);
        let audio = generate("43#", 60, 60);
        let mut keys = Vec::new();
        for chunk in audio.chunks(FRAME).chain([[0i16; FRAME].as_slice()]) {
            let payload: Vec<u8> = chunk.iter().map(|v| Law::Mu.encode(*v)).collect();
            keys.extend(s.receive(&rtp::build(0, false, 1, 0, 5, &payload)));
        }
        assert_eq!(keys, ['4', '3', '#']);
    }

    #[test]
    fn after_an_event_the_audio_is_not_searched_for_tones() {
        let mut s = stream(Some(101));
        assert_eq!(s.receive(&event(101, 100, 1, false, 160)), ['1']);
        let audio = generate("1", 80, 0);
        let mut keys = Vec::new();
        for chunk in audio.chunks(FRAME) {
            let payload: Vec<u8> = chunk.iter().map(|v| Law::Mu.encode(*v)).collect();
            keys.extend(s.receive(&rtp::build(0, false, 1, 0, 5, &payload)));
        }
        assert!(keys.is_empty());
    }

    #[test]
    fn garbage_is_ignored() {
        let mut s = stream(Some(101));
        assert!(s.receive(b"not rtp").is_empty());
        assert!(s.receive(&rtp::build(101, false, 1, 1, 1, &[1])).is_empty());
    }
}
