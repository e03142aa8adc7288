//! RTP packets (RFC 3550): just the header fields pbxctl reads, and the payload.

/// A parsed RTP packet, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, padding removed.
    pub payload: &'a [u8],
}

/// Parses an RTP packet; `None` if it is not RTP version 2 or is cut short.
pub fn parse(bytes: &[u8]) -> Option<Packet<'_>> {
    if bytes.len() < 12 || bytes[0] >> 6 != 2 {
        return None;
    }
    let csrc = usize::from(bytes[0] & 0x0f);
    let mut start = 12 + 4 * csrc;
    if bytes[0] & 0x10 != 0 {
        let words = usize::from(u16::from_be_bytes([
            *bytes.get(start + 2)?,
            *bytes.get(start + 3)?,
        ]));
        start += 4 + 4 * words;
    }
    let mut end = bytes.len();
    if bytes[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*bytes.last()?))?;
    }
    Some(Packet {
        marker: bytes[1] & 0x80 != 0,
        payload_type: bytes[1] & 0x7f,
        sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
        timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        payload: bytes.get(start..end)?,
    })
}

/// Encodes an RTP version 2 packet with no CSRCs, extension or padding.
pub fn build(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + payload.len());
    out.push(0x80);
    out.push(payload_type & 0x7f | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_packet_parses_back() {
        let b = build(101, true, 65535, 0xdead_beef, 7, &[1, 2, 3]);
        let p = parse(&b).unwrap();
        assert_eq!(
            (
                p.marker,
                p.payload_type,
                p.sequence,
                p.timestamp,
                p.ssrc,
                p.payload
            ),
            (true, 101, 65535, 0xdead_beef, 7, &[1u8, 2, 3][..])
        );
    }

    #[test]
    fn header_fields_and_payload() {
        let mut b = vec![
            0x80, 0xe5, 0x00, 0x07, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef,
        ];
        b.extend_from_slice(&[1, 0x8a, 0x01, 0x40]);
        let p = parse(&b).unwrap();
        assert!(p.marker);
        assert_eq!(
            (p.payload_type, p.sequence, p.timestamp, p.ssrc),
            (101, 7, 800, 0xdead_beef)
        );
        assert_eq!(p.payload, &[1, 0x8a, 0x01, 0x40]);
        assert_eq!(parse(&b[..8]), None);
        let mut v1 = b.clone();
        v1[0] = 0x40;
        assert_eq!(parse(&v1), None);
    }
}
