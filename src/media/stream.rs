//! One call leg's RTP stream, sans-IO: audio queued for playout goes out as 20 ms G.711
//! packets, key presses come in as RFC 4733 events or in-band tones, and while the leg is
//! bridged the other leg's packets go out as this leg's own (its payload types, its SSRC,
//! its sequence and timestamps), the moment they arrive.

use super::g711::Law;
use super::inband::{self, Detector};
use super::rtp;
use super::telephone_event::{self, Receiver};
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
    /// Bridged: no silence of our own between prompts; the other leg's audio instead.
    bridged: bool,
    /// For relayed packets: (their SSRC, what to add to their timestamps), so a relayed
    /// stream continues this one's timeline. Dropped after our own playout.
    relay_base: Option<(u32, u32)>,
    /// Telephone-event payloads still to send for key presses, one per tick.
    events_out: VecDeque<(bool, [u8; 4])>,
    /// The timestamp of the press being sent.
    event_press: u32,
    /// Presses in relayed events, for a leg that takes tones instead.
    relayed_events: Receiver,
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
            bridged: false,
            relay_base: None,
            events_out: VecDeque::new(),
            event_press: 0,
            relayed_events: Receiver::new(),
        }
    }

    /// Presses `key` towards the peer (a key pressed on the other leg by SIP INFO, say):
    /// as telephone-events if the peer takes them, else as a tone.
    pub fn send_key(&mut self, key: char) {
        if self.format.telephone_event.is_none() {
            self.play(&inband::generate(&key.to_string(), 100, 50));
            return;
        }
        if let Some(payloads) = telephone_event::press(key) {
            let packets = payloads.into_iter().enumerate();
            self.events_out.extend(packets.map(|(n, p)| (n == 0, p)));
        }
    }

    /// The next telephone-event packet of a press being sent, if any.
    fn next_event(&mut self) -> Option<Vec<u8>> {
        let pt = self.format.telephone_event?;
        let (starts, payload) = self.events_out.pop_front()?;
        if starts {
            self.event_press = self.timestamp;
        }
        let start = self.event_press;
        let out = rtp::build(pt, starts, self.sequence, start, self.ssrc, &payload);
        self.sequence = self.sequence.wrapping_add(1);
        let ended = payload[1] & 0x80 != 0;
        if ended && self.events_out.front().is_none_or(|(s, _)| *s) {
            // The press is over: our timeline moves past it.
            let duration = u16::from_be_bytes([payload[2], payload[3]]);
            self.timestamp = start.wrapping_add(u32::from(duration));
        }
        Some(out)
    }

    /// The format changed (the far end answered, or re-negotiated).
    pub fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// Bridged or not: while bridged the stream sends only prompts and relayed packets.
    pub fn set_bridged(&mut self, bridged: bool) {
        self.bridged = bridged;
        self.relay_base = None;
    }

    /// The packet due on this 20 ms tick, if any: queued audio; else silence, unless
    /// the leg is bridged (the other leg's audio then fills the stream).
    pub fn tick(&mut self) -> Option<Vec<u8>> {
        if let Some(event) = self.next_event() {
            return Some(event);
        }
        if self.bridged && !self.playing() {
            return None;
        }
        self.relay_base = None;
        Some(self.next_packet())
    }

    /// A packet from the other leg of a bridge, in `from` (that leg's format), made this
    /// leg's: the audio law converted if the two differ, telephone-events under this
    /// leg's payload type (dropped if it has none), other payloads dropped. `None` while
    /// a prompt plays to this leg: the prompt has the stream.
    pub fn relay(&mut self, datagram: &[u8], from: Format) -> Option<Vec<u8>> {
        if self.playing() || !self.events_out.is_empty() {
            return None;
        }
        let packet = rtp::parse(datagram)?;
        let (payload_type, payload) = if Some(packet.payload_type) == from.telephone_event {
            let Some(pt) = self.format.telephone_event else {
                // This leg takes tones: each press becomes one.
                if let Some(key) = self.relayed_events.packet(&packet) {
                    self.send_key(key);
                }
                return None;
            };
            (pt, packet.payload.to_vec())
        } else {
            let law = match packet.payload_type {
                0 => Law::Mu,
                8 => Law::A,
                _ => return None,
            };
            let out = self.format.law;
            let payload = if law == out {
                packet.payload.to_vec()
            } else {
                packet
                    .payload
                    .iter()
                    .map(|b| out.encode(law.decode(*b)))
                    .collect()
            };
            (out.payload_type(), payload)
        };
        let offset = match self.relay_base {
            Some((ssrc, offset)) if ssrc == packet.ssrc => offset,
            _ => {
                // A new source: its first packet lands where our stream is now.
                let offset = self.timestamp.wrapping_sub(packet.timestamp);
                self.relay_base = Some((packet.ssrc, offset));
                offset
            }
        };
        let timestamp = packet.timestamp.wrapping_add(offset);
        let out = rtp::build(
            payload_type,
            packet.marker,
            self.sequence,
            timestamp,
            self.ssrc,
            &payload,
        );
        self.sequence = self.sequence.wrapping_add(1);
        if payload_type != self.format.telephone_event.unwrap_or(u8::MAX) {
            let samples = u32::try_from(payload.len()).unwrap_or(0);
            self.timestamp = timestamp.wrapping_add(samples);
        }
        Some(out)
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

    /// Whether `tick` has nothing to send: bridged, with no prompt and no key of its own
    /// to send, so the driver need not tick it (a thousand bridged legs would otherwise
    /// wake 50,000 times a second for nothing).
    pub fn idle(&self) -> bool {
        self.bridged
            && !self.playing()
            && (self.events_out.is_empty() || self.format.telephone_event.is_none())
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

    /// The audio in a received datagram, decoded (nothing for events or other payloads).
    pub fn audio(&self, datagram: &[u8]) -> Vec<i16> {
        let Some(packet) = rtp::parse(datagram) else {
            return Vec::new();
        };
        let law = match packet.payload_type {
            0 => Law::Mu,
            8 => Law::A,
            _ => return Vec::new(),
        };
        packet.payload.iter().map(|b| law.decode(*b)).collect()
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

    fn bridged(law: Law, te: Option<u8>) -> Stream {
        let mut s = Stream::new(
            Format {
                law,
                telephone_event: te,
            },
            77,
            10,
            5_000,
        );
        s.set_bridged(true);
        s
    }

    #[test]
    fn a_bridged_stream_is_idle_only_with_nothing_of_its_own_to_send() {
        let mut s = bridged(Law::Mu, Some(101));
        assert!(s.idle());
        s.send_key('5');
        assert!(!s.idle(), "a key to send as events");
        while s.tick().is_some() {}
        assert!(s.idle(), "the key sent");
        s.play(&[0; 320]);
        assert!(!s.idle(), "a prompt to play");
        while s.tick().is_some() {}
        assert!(s.idle(), "the prompt played");
        s.set_bridged(false);
        assert!(!s.idle(), "unbridged, it sends silence");
        assert!(s.tick().is_some());
    }

    #[test]
    fn a_bridged_stream_sends_the_other_legs_audio_as_its_own() {
        let mut s = bridged(Law::Mu, Some(101));
        assert_eq!(s.tick(), None, "no silence of its own while bridged");
        let from = Format {
            law: Law::Mu,
            telephone_event: Some(96),
        };
        let a = s
            .relay(&rtp::build(0, true, 900, 40_000, 4242, &[0x55; 160]), from)
            .unwrap();
        let a = rtp::parse(&a).unwrap();
        assert_eq!(
            (a.payload_type, a.marker, a.sequence, a.timestamp, a.ssrc),
            (0, true, 10, 5_000, 77)
        );
        assert_eq!(a.payload, &[0x55; 160]);
        let b = s
            .relay(&rtp::build(0, false, 901, 40_160, 4242, &[0x55; 160]), from)
            .unwrap();
        let b = rtp::parse(&b).unwrap();
        assert_eq!(
            (b.sequence, b.timestamp),
            (11, 5_160),
            "its timeline, continued"
        );
        // Telephone-events under this leg's payload type; unknown payloads dropped.
        let e = s
            .relay(
                &rtp::build(96, true, 902, 40_320, 4242, &[5, 10, 0, 160]),
                from,
            )
            .unwrap();
        assert_eq!(rtp::parse(&e).unwrap().payload_type, 101);
        assert_eq!(
            s.relay(&rtp::build(13, false, 903, 40_480, 4242, &[1]), from),
            None
        );
    }

    #[test]
    fn laws_are_converted_and_events_dropped_where_not_negotiated() {
        let mut s = bridged(Law::A, None);
        let from = Format {
            law: Law::Mu,
            telephone_event: Some(101),
        };
        let mu: Vec<u8> = [1000i16, -2000, 0]
            .iter()
            .map(|v| Law::Mu.encode(*v))
            .collect();
        let out = s.relay(&rtp::build(0, false, 1, 0, 9, &mu), from).unwrap();
        let p = rtp::parse(&out).unwrap();
        assert_eq!(p.payload_type, 8);
        let back: Vec<i16> = p.payload.iter().map(|b| Law::A.decode(*b)).collect();
        for (got, want) in back.iter().zip([1000i16, -2000, 0]) {
            assert!((got - want).abs() <= 64, "{got} vs {want}");
        }
        assert_eq!(
            s.relay(&rtp::build(101, true, 2, 0, 9, &[1, 0, 0, 1]), from),
            None
        );
    }

    #[test]
    fn a_prompt_has_the_stream_while_it_plays() {
        let mut s = bridged(Law::Mu, None);
        s.play(&[0; 320]);
        let from = s.format();
        assert!(s.tick().is_some());
        assert_eq!(
            s.relay(&rtp::build(0, false, 1, 0, 9, &[0; 160]), from),
            None
        );
        assert!(s.tick().is_some());
        assert_eq!(s.tick(), None, "the prompt is over");
        assert!(
            s.relay(&rtp::build(0, false, 2, 160, 9, &[0; 160]), from)
                .is_some()
        );
    }

    #[test]
    fn garbage_is_ignored() {
        let mut s = stream(Some(101));
        assert!(s.receive(b"not rtp").is_empty());
        assert!(s.receive(&rtp::build(101, false, 1, 1, 1, &[1])).is_empty());
    }

    #[test]
    fn a_key_goes_out_as_events_where_negotiated_else_as_a_tone() {
        let mut s = bridged(Law::Mu, Some(101));
        s.send_key('7');
        let packets: Vec<Vec<u8>> = std::iter::from_fn(|| s.tick()).collect();
        assert_eq!(packets.len(), 7, "four updates, then the end three times");
        let parsed: Vec<_> = packets.iter().map(|p| rtp::parse(p).unwrap()).collect();
        assert!(parsed[0].marker && !parsed[1].marker);
        assert!(
            parsed
                .iter()
                .all(|p| p.payload_type == 101 && p.timestamp == 5_000)
        );
        let mut r = Receiver::new();
        let keys: String = parsed.iter().filter_map(|p| r.packet(p)).collect();
        assert_eq!(keys, "7");
        s.play(&[0; 160]);
        let after = rtp::parse(&s.tick().unwrap()).unwrap().timestamp;
        assert_eq!(after, 5_800, "the timeline moves past the press");

        let mut s = bridged(Law::Mu, None);
        s.send_key('7');
        let mut tone = Vec::new();
        while let Some(p) = s.tick() {
            let p = rtp::parse(&p).unwrap();
            tone.extend(p.payload.iter().map(|b| Law::Mu.decode(*b)));
        }
        assert_eq!(
            inband::detect(&tone)
                .iter()
                .map(|p| p.digit)
                .collect::<String>(),
            "7"
        );
    }

    #[test]
    fn relayed_events_become_tones_for_a_leg_without_them() {
        let mut s = bridged(Law::Mu, None);
        let from = Format {
            law: Law::Mu,
            telephone_event: Some(101),
        };
        assert_eq!(s.relay(&event(101, 100, 9, false, 160), from), None);
        assert_eq!(s.relay(&event(101, 100, 9, true, 800), from), None);
        assert!(s.playing(), "the press plays as a tone");
    }
}
