//! Classic pcap captures: the UDP payloads in them, with their capture times.

/// One UDP datagram from a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Capture time, microseconds since the epoch.
    pub at_us: u64,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// The UDP datagrams of a capture (Ethernet, Linux cooked or raw IP; IPv4 or IPv6).
pub fn udp_datagrams(bytes: &[u8]) -> Result<Vec<Datagram>, String> {
    if bytes.len() < 24 {
        return Err("not a pcap capture (too short)".into());
    }
    let magic = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
    let (big_endian, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xd4c3_b2a1 => (true, false),
        0xa1b2_3c4d => (false, true),
        0x4d3c_b2a1 => (true, true),
        _ => return Err("not a pcap capture (pcapng is not read; save as pcap)".into()),
    };
    let u32_at = |b: &[u8], i: usize| {
        let w: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
        if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let link = u32_at(bytes, 20);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        let secs = u64::from(u32_at(bytes, pos));
        let frac = u64::from(u32_at(bytes, pos + 4));
        let len = u32_at(bytes, pos + 8) as usize;
        let frame = bytes
            .get(pos + 16..pos + 16 + len)
            .ok_or("a pcap record runs past the end of the file")?;
        pos += 16 + len;
        let at_us = secs * 1_000_000 + if nanos { frac / 1000 } else { frac };
        if let Some(payload) = udp_payload(link, frame) {
            out.push(Datagram {
                at_us,
                payload: payload.to_vec(),
            });
        }
    }
    Ok(out)
}

fn udp_payload(link: u32, frame: &[u8]) -> Option<&[u8]> {
    let ip = match link {
        1 => {
            // Ethernet, maybe with one 802.1Q tag.
            let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            let mut at = 14;
            if ethertype == 0x8100 {
                ethertype = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
                at = 18;
            }
            matches!(ethertype, 0x0800 | 0x86dd).then_some(frame.get(at..)?)?
        }
        113 => frame.get(16..)?,
        101 | 12 | 228 | 229 => frame,
        _ => return None,
    };
    let udp = match ip.first()? >> 4 {
        4 => {
            let header = usize::from(ip[0] & 0x0f) * 4;
            if *ip.get(9)? != 17 {
                return None;
            }
            ip.get(header..)?
        }
        6 => {
            if *ip.get(6)? != 17 {
                return None;
            }
            ip.get(40..)?
        }
        _ => return None,
    };
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    udp.get(8..len.max(8).min(udp.len()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A little-endian microsecond pcap of Ethernet/IPv4/UDP frames.
    pub(crate) fn capture(datagrams: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (at_us, payload) in datagrams {
            let mut frame = vec![0u8; 12];
            frame.extend_from_slice(&[0x08, 0x00]);
            let total = (20 + 8 + payload.len()) as u16;
            frame.extend_from_slice(&[
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0,
                0,
                64,
                17,
                0,
                0,
                127,
                0,
                0,
                1,
                127,
                0,
                0,
                1,
            ]);
            let udp_len = (8 + payload.len()) as u16;
            frame.extend_from_slice(&[
                0x4e,
                0x20,
                0x4e,
                0x22,
                (udp_len >> 8) as u8,
                udp_len as u8,
                0,
                0,
            ]);
            frame.extend_from_slice(payload);
            for v in [
                (*at_us / 1_000_000) as u32,
                (*at_us % 1_000_000) as u32,
                frame.len() as u32,
                frame.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn udp_payloads_and_times_come_out() {
        let cap = capture(&[(1_000_000, vec![1, 2, 3]), (1_020_000, vec![4])]);
        let d = udp_datagrams(&cap).unwrap();
        assert_eq!(
            d,
            vec![
                Datagram {
                    at_us: 1_000_000,
                    payload: vec![1, 2, 3]
                },
                Datagram {
                    at_us: 1_020_000,
                    payload: vec![4]
                }
            ]
        );
        assert!(
            udp_datagrams(b"0123456789012345678901234567")
                .unwrap_err()
                .contains("not a pcap")
        );
    }
}
