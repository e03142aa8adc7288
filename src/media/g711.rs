//! G.711 μ-law and A-law (ITU-T G.711), sample by sample.

use std::sync::OnceLock;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// μ-law byte to 16-bit linear.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = i32::from((u >> 4) & 0x07);
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// 16-bit linear to μ-law byte.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let exponent = (0..8).rev().find(|e| s & (0x80 << e) != 0).unwrap_or(0);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// A-law byte to 16-bit linear.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = i32::from((a >> 4) & 0x07);
    let mantissa = i32::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// 16-bit linear to A-law byte.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 { (0x80, s) } else { (0, -s - 1) };
    let magnitude = magnitude.min(0x7fff);
    let exponent = (1..8)
        .rev()
        .find(|e| magnitude >= (0x100 << (e - 1)))
        .unwrap_or(0);
    let mantissa = if exponent == 0 {
        (magnitude >> 4) & 0x0f
    } else {
        (magnitude >> (exponent + 3)) & 0x0f
    };
    ((sign | (exponent << 4) | mantissa) as u8) ^ 0x55
}

/// A G.711 companding law, as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law, PCMU, static payload type 0.
    Mu = 0,
    /// A-law, PCMA, static payload type 8.
    A = 1,
}

impl Law {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Law::Mu => "PCMU",
            Law::A => "PCMA",
        }
    }

    /// Encodes one linear sample (a table look-up: playout encodes ~8,000 samples a
    /// second per call, and the computed form was the hottest code at 1,000 calls).
    pub fn encode(self, sample: i16) -> u8 {
        static TABLES: OnceLock<[Box<[u8]>; 2]> = OnceLock::new();
        let tables = TABLES.get_or_init(|| {
            let table = |f: fn(i16) -> u8| (i16::MIN..=i16::MAX).map(f).collect::<Box<[u8]>>();
            [table(linear_to_ulaw), table(linear_to_alaw)]
        });
        let index = (i32::from(sample) - i32::from(i16::MIN)) as usize;
        tables[self as usize][index]
    }

    /// Decodes one byte.
    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::Mu => ulaw_to_linear(byte),
            Law::A => alaw_to_linear(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encode_tables_agree_with_the_formulas() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(Law::Mu.encode(s), linear_to_ulaw(s));
            assert_eq!(Law::A.encode(s), linear_to_alaw(s));
        }
    }

    #[test]
    fn known_code_points() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x80), 32_124);
        assert_eq!(ulaw_to_linear(0x00), -32_124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32_256);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for b in 0..=255u8 {
            let u = ulaw_to_linear(b);
            assert_eq!(ulaw_to_linear(linear_to_ulaw(u)), u, "μ-law {b:#04x}");
            let a = alaw_to_linear(b);
            assert_eq!(linear_to_alaw(a), b, "A-law {b:#04x}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_a_step() {
        for s in (-32_000..32_000i16).step_by(97) {
            let err = (i32::from(ulaw_to_linear(linear_to_ulaw(s))) - i32::from(s)).abs();
            assert!(err <= (i32::from(s).abs() / 16).max(8), "{s}: {err}");
            let err = (i32::from(alaw_to_linear(linear_to_alaw(s))) - i32::from(s)).abs();
            assert!(err <= (i32::from(s).abs() / 16).max(16), "{s}: {err}");
        }
    }
}
