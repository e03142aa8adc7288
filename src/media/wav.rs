//! WAV files as phones record them: 8 kHz, 16-bit PCM, μ-law or A-law.

use super::g711;

/// Reads a WAV file's first channel as 8 kHz linear samples.
pub fn decode(bytes: &[u8]) -> Result<Vec<i16>, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a WAV file (no RIFF/WAVE header)".into());
    }
    let mut format = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes")) as usize;
        let body = bytes
            .get(pos + 8..pos + 8 + len)
            .ok_or("a WAV chunk runs past the end of the file")?;
        match id {
            b"fmt " => {
                if body.len() < 16 {
                    return Err("the WAV format chunk is too short".into());
                }
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                let rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
                format = Some((u16_at(0), u16_at(2).max(1) as usize, rate, u16_at(14)));
            }
            b"data" => {
                let (code, channels, rate, bits) =
                    format.ok_or("the WAV data comes before its format")?;
                if rate != 8000 {
                    return Err(format!("the WAV is {rate} Hz; telephone audio is 8000 Hz"));
                }
                return match (code, bits) {
                    (1, 16) => Ok(body
                        .chunks_exact(2 * channels)
                        .map(|f| i16::from_le_bytes([f[0], f[1]]))
                        .collect()),
                    (6, 8) => Ok(body
                        .chunks_exact(channels)
                        .map(|f| g711::alaw_to_linear(f[0]))
                        .collect()),
                    (7, 8) => Ok(body
                        .chunks_exact(channels)
                        .map(|f| g711::ulaw_to_linear(f[0]))
                        .collect()),
                    _ => Err(format!(
                        "WAV format {code} with {bits}-bit samples; use 16-bit PCM, μ-law or A-law"
                    )),
                };
            }
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    Err("the WAV file has no data".into())
}

/// Writes 8 kHz mono 16-bit PCM, for tests and generated prompts.
pub fn encode_pcm(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    samples
        .iter()
        .for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_round_trips_and_bad_files_are_named() {
        let samples = vec![0, 1000, -1000, i16::MAX, i16::MIN];
        assert_eq!(decode(&encode_pcm(&samples)).unwrap(), samples);
        assert!(decode(b"hello").unwrap_err().contains("not a WAV"));
        let mut wide = encode_pcm(&samples);
        wide[24..28].copy_from_slice(&44_100u32.to_le_bytes());
        assert!(decode(&wide).unwrap_err().contains("44100 Hz"));
    }
}
