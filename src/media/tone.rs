//! Call-progress tones, synthesised (North American frequencies, ITU-T E.180 cadences).

use std::f64::consts::TAU;

const RATE: f64 = 8000.0;

/// One on/off step of a cadence: frequencies in Hz (empty = silence) and length in ms.
type Step = (&'static [f64], u32);

fn cadence(id: &str) -> Option<&'static [Step]> {
    Some(match id {
        "confirm" => &[
            (&[1400.0], 100),
            (&[], 100),
            (&[1400.0], 100),
            (&[], 100),
            (&[1400.0], 100),
        ],
        // The special information tone rises: 950, 1400, 1800 Hz.
        "error" => &[
            (&[950.0], 330),
            (&[1400.0], 330),
            (&[1800.0], 330),
            (&[], 300),
        ],
        "dialtone" => &[(&[350.0, 440.0], 3000)],
        // Before a voicemail message: speak now.
        "beep" => &[(&[], 200), (&[1000.0], 500)],
        "ringback" => &[(&[440.0, 480.0], 2000), (&[], 4000)],
        "busy" => &[
            (&[480.0, 620.0], 500),
            (&[], 500),
            (&[480.0, 620.0], 500),
            (&[], 500),
            (&[480.0, 620.0], 500),
            (&[], 500),
        ],
        _ => return None,
    })
}

/// The 8 kHz samples of tone `id` (one cadence), or `None` for an unknown tone.
pub fn samples(id: &str) -> Option<Vec<i16>> {
    let mut out = Vec::new();
    for (freqs, ms) in cadence(id)? {
        let n = (RATE as u32 * ms / 1000) as usize;
        out.extend((0..n).map(|i| {
            let t = i as f64 / RATE;
            // -10 dBm0-ish per component, so two components never clip.
            let v: f64 = freqs.iter().map(|f| (TAU * f * t).sin() * 5000.0).sum();
            v as i16
        }));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tone_of_the_language_has_a_sound() {
        for id in crate::dsl::plan::TONES {
            let s = samples(id).unwrap_or_else(|| panic!("tone {id}"));
            assert!(s.len() >= 4000, "{id} lasts at least half a second");
            assert!(s.iter().any(|v| v.abs() > 3000), "{id} is audible");
        }
        assert!(samples("siren").is_none());
    }

    #[test]
    fn tones_are_not_mistaken_for_key_presses() {
        for id in crate::dsl::plan::TONES {
            let s = samples(id).unwrap();
            assert!(crate::media::inband::detect(&s).is_empty(), "{id}");
        }
    }
}
