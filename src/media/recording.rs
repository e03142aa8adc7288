//! Key presses in a recording (`dtmf: {from: ...}` in sessions): a WAV of
//! in-band tones, or a pcap of RTP carrying RFC 4733 events or G.711 audio.

use super::{g711, inband, pcap, rtp, telephone_event, wav};
use std::collections::BTreeMap;
use std::path::Path;

/// Presses as (key, milliseconds from the recording's start), in order.
pub fn presses(path: &Path) -> Result<Vec<(char, u64)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => Ok(inband::detect(&wav::decode(&bytes)?)
            .into_iter()
            .map(|p| (p.digit, p.at_ms))
            .collect()),
        Some("pcap") => from_rtp(&pcap::udp_datagrams(&bytes)?),
        _ => Err("a recording is a .wav (8 kHz PCM, μ-law or A-law) or a .pcap of RTP".into()),
    }
}

/// RTP in a capture: payload types 0 and 8 are G.711 audio for the in-band
/// detector; dynamic types (96-127) carrying 4-byte events are telephone-events.
fn from_rtp(datagrams: &[pcap::Datagram]) -> Result<Vec<(char, u64)>, String> {
    let Some(first) = datagrams.first() else {
        return Ok(Vec::new());
    };
    let start = first.at_us;
    let mut found = Vec::new();
    let mut events: BTreeMap<u32, telephone_event::Receiver> = BTreeMap::new();
    let mut audio: BTreeMap<u32, (u64, inband::Detector)> = BTreeMap::new();
    for d in datagrams {
        let Some(p) = rtp::parse(&d.payload) else {
            continue;
        };
        let at_ms = (d.at_us - start) / 1000;
        match p.payload_type {
            0 | 8 => {
                let samples: Vec<i16> = p
                    .payload
                    .iter()
                    .map(|&b| {
                        if p.payload_type == 0 {
                            g711::ulaw_to_linear(b)
                        } else {
                            g711::alaw_to_linear(b)
                        }
                    })
                    .collect();
                let (t0, det) = audio
                    .entry(p.ssrc)
                    .or_insert_with(|| (at_ms, inband::Detector::new()));
                det.push(&samples);
                found.extend(det.take().into_iter().map(|k| (k.digit, *t0 + k.at_ms)));
            }
            96..=127 if p.payload.len() % 4 == 0 && !p.payload.is_empty() => {
                if let Some(key) = events.entry(p.ssrc).or_default().packet(&p) {
                    found.push((key, at_ms));
                }
            }
            _ => {}
        }
    }
    for (t0, det) in audio.values_mut() {
        det.push(&[0; inband::BLOCK]);
        found.extend(det.take().into_iter().map(|k| (k.digit, *t0 + k.at_ms)));
    }
    found.sort_by_key(|&(_, at)| at);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0x80, pt, (seq >> 8) as u8, seq as u8];
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&0x1234u32.to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn telephone_events_and_inband_audio_in_captures() {
        // "4" then "2" as RFC 4733 events, each end packet sent three times.
        let mut dgrams = Vec::new();
        let mut seq = 0;
        for (i, event) in [4u8, 2].into_iter().enumerate() {
            let ts = 8000 * (i as u32 + 1);
            for (n, (end, dur)) in [
                (false, 160u16),
                (false, 320),
                (true, 480),
                (true, 480),
                (true, 480),
            ]
            .into_iter()
            .enumerate()
            {
                seq += 1;
                let at = 1_000_000 * (i as u64 + 1) + 20_000 * n as u64;
                dgrams.push((
                    at,
                    rtp(
                        101,
                        seq,
                        ts,
                        &[
                            event,
                            if end { 0x8a } else { 0x0a },
                            (dur >> 8) as u8,
                            dur as u8,
                        ],
                    ),
                ));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.pcap");
        std::fs::write(&path, pcap::tests::capture(&dgrams)).unwrap();
        assert_eq!(presses(&path).unwrap(), vec![('4', 0), ('2', 1000)]);

        // "7" as μ-law audio in 20 ms packets.
        let samples = inband::generate("7", 60, 40);
        let dgrams: Vec<(u64, Vec<u8>)> = samples
            .chunks(160)
            .enumerate()
            .map(|(i, c)| {
                let payload: Vec<u8> = c.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
                (
                    2_000_000 + 20_000 * i as u64,
                    rtp(0, i as u16, 160 * i as u32, &payload),
                )
            })
            .collect();
        let path = dir.path().join("audio.pcap");
        std::fs::write(&path, pcap::tests::capture(&dgrams)).unwrap();
        let found = presses(&path).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, '7');
        assert!((35..=60).contains(&found[0].1), "{found:?}");
    }
}
