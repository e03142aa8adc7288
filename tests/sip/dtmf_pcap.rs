//! DTMF as pcap captures for SIPp's `<exec play_pcap_audio="..."/>`: classic
//! little-endian microsecond pcap, Ethernet/IPv4/UDP frames carrying RTP. SIPp
//! rewrites the addresses and ports and keeps the RTP header and the timing.
//!
//! The one-digit pcaps Debian ships each restart sequence and timestamp, so a
//! chain of them runs backwards; these are one stream per file.

use pbxctl::media::{g711, inband};

/// Capture time of the first packet (any fixed time will do; SIPp keeps only the gaps).
const START_US: u64 = 1_700_000_000_000_000;
/// One RTP packet every 20 ms, 160 samples at 8 kHz.
const PACKET_MS: u64 = 20;
const SAMPLES: u32 = 160;
/// RFC 4733: each key held this long (5 packets) ...
const TONE_MS: u64 = 100;
/// ... and this much silence after it before the next key.
const GAP_MS: u64 = 100;
const SSRC: u32 = 0x5ca1_ab1e;

/// `digits` as RFC 4733 telephone-events with payload type `pt`, one key every
/// 200 ms from the start.
pub fn rfc4733(digits: &str, pt: u8) -> Vec<u8> {
    rfc4733_groups(&[(0, digits)], pt)
}

/// Groups of keys as RFC 4733 events, each group starting `ms` after the capture starts.
pub fn rfc4733_groups(groups: &[(u64, &str)], pt: u8) -> Vec<u8> {
    let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut seq: u16 = 0x1200;
    for &(group_ms, digits) in groups {
        for (i, key) in digits.chars().enumerate() {
            let event = event_code(key);
            let start_ms = group_ms + i as u64 * (TONE_MS + GAP_MS);
            // The RTP timestamp of an event is its start, the same in every packet of it.
            let timestamp = (start_ms * 8) as u32;
            let steps = TONE_MS / PACKET_MS;
            for n in 1..=steps {
                let end = n == steps;
                let duration = (n as u32 * SAMPLES) as u16;
                // The end packet goes three times, 20 ms apart.
                for repeat in 0..if end { 3 } else { 1 } {
                    let at = start_ms + (n - 1 + repeat) * PACKET_MS;
                    let payload = [
                        event,
                        if end { 0x80 } else { 0 } | 10, // E bit, volume -10 dBm0
                        (duration >> 8) as u8,
                        duration as u8,
                    ];
                    packets.push((at, rtp(n == 1, pt, seq, timestamp, &payload)));
                    seq = seq.wrapping_add(1);
                }
            }
        }
    }
    packets.sort_by_key(|&(at, _)| at);
    capture(&packets)
}

/// `digits` as in-band DTMF tones in PCMU (payload type 0), 20 ms packets:
/// 100 ms of silence, then each key 100 ms on and 100 ms off.
pub fn inband_pcmu(digits: &str) -> Vec<u8> {
    inband_pcmu_groups(&[(0, digits)])
}

/// Groups of keys as in-band tones, each group starting `ms` after the capture
/// starts; silence fills the time between, as a phone keeps sending audio.
pub fn inband_pcmu_groups(groups: &[(u64, &str)]) -> Vec<u8> {
    let mut samples: Vec<i16> = Vec::new();
    for &(group_ms, digits) in groups {
        samples.resize((group_ms * 8) as usize, 0);
        samples.extend(inband::generate(digits, TONE_MS as usize, GAP_MS as usize));
    }
    let per_packet = SAMPLES as usize;
    samples.resize(samples.len().div_ceil(per_packet) * per_packet, 0);
    let packets: Vec<(u64, Vec<u8>)> = samples
        .chunks(per_packet)
        .enumerate()
        .map(|(i, chunk)| {
            let payload: Vec<u8> = chunk.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
            let seq = 0x0400u16.wrapping_add(i as u16);
            let timestamp = 0x0001_0000u32.wrapping_add(i as u32 * SAMPLES);
            (
                i as u64 * PACKET_MS,
                rtp(i == 0, 0, seq, timestamp, &payload),
            )
        })
        .collect();
    capture(&packets)
}

fn event_code(key: char) -> u8 {
    match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => 12 + (key as u8 - b'A'),
        _ => panic!("{key:?} is not a DTMF key"),
    }
}

fn rtp(marker: bool, pt: u8, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x80, if marker { 0x80 } else { 0 } | pt];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&SSRC.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A pcap of (milliseconds from the start, UDP payload) records.
fn capture(packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    // Magic, version 2.4, zone, accuracy, snap length, link type 1 (Ethernet).
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (id, (at_ms, payload)) in packets.iter().enumerate() {
        let frame = frame(id as u16, payload);
        let at_us = START_US + at_ms * 1000;
        for v in [
            (at_us / 1_000_000) as u32,
            (at_us % 1_000_000) as u32,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

/// Ethernet + IPv4 (127.0.0.1 to itself) + UDP (port 6000 to 6000, no checksum).
fn frame(id: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    let udp_len = (8 + payload.len()) as u16;
    let total = 20 + udp_len;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&6000u16.to_be_bytes());
    f.extend_from_slice(&6000u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbxctl::media::recording::presses;
    use std::path::PathBuf;

    fn read_back(name: &str, pcap: &[u8]) -> Vec<(char, u64)> {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, pcap).unwrap();
        presses(&path).unwrap()
    }

    fn keys(found: &[(char, u64)]) -> String {
        found.iter().map(|&(k, _)| k).collect()
    }

    #[test]
    fn rfc4733_pcap_reads_back_as_the_keys_at_their_times() {
        for pt in [101, 96] {
            let found = read_back("events.pcap", &rfc4733("*4321#0", pt));
            assert_eq!(keys(&found), "*4321#0", "PT {pt}: {found:?}");
            let times: Vec<u64> = found.iter().map(|&(_, at)| at).collect();
            assert_eq!(times, vec![0, 200, 400, 600, 800, 1000, 1200]);
        }
    }

    #[test]
    fn rfc4733_pcap_has_one_marker_and_three_ends_per_key() {
        let pcap = rfc4733("55", 101);
        let dgrams = pbxctl::media::pcap::udp_datagrams(&pcap).unwrap();
        assert_eq!(dgrams.len(), 2 * 7);
        let parsed: Vec<_> = dgrams
            .iter()
            .map(|d| pbxctl::media::rtp::parse(&d.payload).unwrap())
            .collect();
        assert!(parsed.iter().all(|p| p.payload_type == 101));
        assert!(
            parsed
                .windows(2)
                .all(|w| w[1].sequence == w[0].sequence + 1)
        );
        for event in parsed.chunks(7) {
            assert!(event[0].marker && event[1..].iter().all(|p| !p.marker));
            assert!(event.iter().all(|p| p.timestamp == event[0].timestamp));
            let durations: Vec<u16> = event
                .iter()
                .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
                .collect();
            assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
            let ends = event.iter().filter(|p| p.payload[1] & 0x80 != 0).count();
            assert_eq!(ends, 3);
        }
        // Two presses of one key are two events.
        assert_eq!(
            keys(&read_back("twice.pcap", &pcap)),
            "55",
            "{:?}",
            read_back("twice.pcap", &pcap)
        );
    }

    #[test]
    fn rfc4733_groups_start_when_told() {
        let pcap = rfc4733_groups(&[(0, "99#"), (4500, "12#")], 101);
        let found = read_back("groups.pcap", &pcap);
        assert_eq!(keys(&found), "99#12#");
        assert_eq!(found[3].1, 4500);
    }

    #[test]
    fn inband_pcmu_pcap_reads_back_as_the_keys() {
        let found = read_back("tones.pcap", &inband_pcmu("4321#"));
        assert_eq!(keys(&found), "4321#", "{found:?}");
        // 100 ms of silence first, then one key every 200 ms (the detector
        // may place a tone up to a block late).
        for (i, &(_, at)) in found.iter().enumerate() {
            let expected = 100 + 200 * i as u64;
            assert!((expected..=expected + 30).contains(&at), "{i}: {found:?}");
        }
        let dgrams = pbxctl::media::pcap::udp_datagrams(&inband_pcmu("1")).unwrap();
        let p = pbxctl::media::rtp::parse(&dgrams[0].payload).unwrap();
        assert_eq!((p.payload_type, p.payload.len(), p.marker), (0, 160, true));
    }

    #[test]
    fn inband_pcmu_groups_keep_the_stream_going_between_groups() {
        let pcap = inband_pcmu_groups(&[(0, "9#"), (3000, "9#")]);
        let dgrams = pbxctl::media::pcap::udp_datagrams(&pcap).unwrap();
        let found = read_back("groups.pcap", &pcap);
        assert_eq!(keys(&found), "9#9#", "{found:?}");
        assert!((3100..=3130).contains(&found[2].1), "{found:?}");
        // No hole in the stream: one packet every 20 ms.
        let at: Vec<u64> = dgrams.iter().map(|d| d.at_us).collect();
        assert!(at.windows(2).all(|w| w[1] - w[0] == 20_000));
    }
}
