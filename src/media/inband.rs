//! In-band DTMF detection with the Goertzel algorithm (Q.24 tones): blocks of
//! 106 samples (13.25 ms at 8 kHz), a digit when two blocks in a row agree, so a
//! 40 ms tone is heard whatever its alignment and a 40 ms gap separates presses.

const RATE: f64 = 8000.0;
/// Samples per analysis block.
pub const BLOCK: usize = 106;
const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Least block energy (mean square) for a tone: about -40 dBm0.
const MIN_ENERGY: f64 = 40_000.0;
/// Share of the block's energy the two tones must hold: speech and noise spread theirs.
const MIN_PURITY: f64 = 0.70;
/// Each tone must beat the others of its group by this power ratio (6 dB).
const GROUP_MARGIN: f64 = 4.0;
/// Column tone weaker than the row tone by at most 8 dB (normal twist) ...
const MAX_NORMAL_TWIST: f64 = 6.3;
/// ... or stronger by at most 4 dB (reverse twist).
const MAX_REVERSE_TWIST: f64 = 2.5;

/// A detected key press.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Press {
    /// The key.
    pub digit: char,
    /// Milliseconds from the start of the audio to the start of the tone.
    pub at_ms: u64,
}

/// Feeds audio in, takes key presses out.
#[derive(Debug, Default)]
pub struct Detector {
    pending: Vec<i16>,
    blocks: u64,
    candidate: Option<(char, u64)>,
    heard: Option<char>,
    presses: Vec<Press>,
}

impl Detector {
    /// A detector at time zero.
    pub fn new() -> Detector {
        Detector::default()
    }

    /// Adds samples (8 kHz linear).
    pub fn push(&mut self, samples: &[i16]) {
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / BLOCK * BLOCK;
        let blocks: Vec<Option<char>> = self.pending[..whole].chunks(BLOCK).map(classify).collect();
        self.pending.drain(..whole);
        for key in blocks {
            self.step(key);
        }
    }

    fn step(&mut self, key: Option<char>) {
        let block = self.blocks;
        self.blocks += 1;
        match (key, self.candidate) {
            (Some(k), Some((c, start))) if k == c => {
                if self.heard != Some(k) {
                    self.heard = Some(k);
                    self.presses.push(Press {
                        digit: k,
                        at_ms: start * BLOCK as u64 * 1000 / RATE as u64,
                    });
                }
            }
            (Some(k), _) => {
                self.candidate = Some((k, block));
                self.heard = None;
            }
            (None, _) => {
                self.candidate = None;
                self.heard = None;
            }
        }
    }

    /// Presses detected so far, in order.
    pub fn take(&mut self) -> Vec<Press> {
        std::mem::take(&mut self.presses)
    }
}

/// Presses in a whole recording.
pub fn detect(samples: &[i16]) -> Vec<Press> {
    let mut d = Detector::new();
    d.push(samples);
    d.push(&vec![0; BLOCK]);
    d.take()
}

/// `digits` as DTMF tones of `on_ms` each, after and between `off_ms` of silence.
pub fn generate(digits: &str, on_ms: usize, off_ms: usize) -> Vec<i16> {
    generate_with_twist(digits, on_ms, off_ms, 0.0)
}

/// As [`generate`], with the column tone `twist_db` weaker than the row tone.
fn generate_with_twist(digits: &str, on_ms: usize, off_ms: usize, twist_db: f64) -> Vec<i16> {
    let mut out = vec![0i16; off_ms * 8];
    for d in digits.chars() {
        let Some((r, c)) = (0..4)
            .flat_map(|r| (0..4).map(move |c| (r, c)))
            .find(|&(r, c)| KEYS[r][c] == d)
        else {
            continue;
        };
        let col_amp = 8000.0 * 10f64.powf(-twist_db / 20.0);
        for i in 0..on_ms * 8 {
            let t = i as f64 / RATE;
            let v = 8000.0 * (2.0 * std::f64::consts::PI * ROWS[r] * t).sin()
                + col_amp * (2.0 * std::f64::consts::PI * COLS[c] * t).sin();
            out.push(v as i16);
        }
        out.extend(std::iter::repeat_n(0, off_ms * 8));
    }
    out
}

fn goertzel(block: &[f64], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / RATE).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in block {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The key a block holds, if it holds exactly one clean DTMF pair.
fn classify(block: &[i16]) -> Option<char> {
    let x: Vec<f64> = block.iter().map(|&s| f64::from(s)).collect();
    let n = x.len() as f64;
    let energy: f64 = x.iter().map(|v| v * v).sum();
    if energy / n < MIN_ENERGY {
        return None;
    }
    // Normalised so a pure tone holding all the energy scores about 1.
    let share = |f: f64| 2.0 * goertzel(&x, f) / (n * energy);
    let rows: Vec<f64> = ROWS.iter().map(|&f| share(f)).collect();
    let cols: Vec<f64> = COLS.iter().map(|&f| share(f)).collect();
    let (r, row) = strongest(&rows)?;
    let (c, col) = strongest(&cols)?;
    if row + col < MIN_PURITY || row / col > MAX_NORMAL_TWIST || col / row > MAX_REVERSE_TWIST {
        return None;
    }
    Some(KEYS[r][c])
}

/// The index and value of the strongest tone, if it stands out from its group.
fn strongest(group: &[f64]) -> Option<(usize, f64)> {
    let (i, &best) = group.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    group
        .iter()
        .enumerate()
        .all(|(j, &v)| j == i || best >= v * GROUP_MARGIN)
        .then_some((i, best))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tones(digits: &str, on_ms: usize, off_ms: usize, twist_db: f64) -> Vec<i16> {
        generate_with_twist(digits, on_ms, off_ms, twist_db)
    }

    fn digits(samples: &[i16]) -> String {
        detect(samples).iter().map(|p| p.digit).collect()
    }

    #[test]
    fn every_key_at_40_ms_on_40_ms_off() {
        assert_eq!(
            digits(&tones("1234567890*#ABCD", 40, 40, 0.0)),
            "1234567890*#ABCD"
        );
    }

    #[test]
    fn repeated_presses_of_one_key_stay_apart() {
        assert_eq!(digits(&tones("5555", 40, 40, 0.0)), "5555");
        assert_eq!(digits(&tones("11", 200, 60, 0.0)), "11");
    }

    #[test]
    fn twist_within_limits_is_accepted_and_beyond_refused() {
        assert_eq!(digits(&tones("7", 60, 40, 6.0)), "7");
        assert_eq!(digits(&tones("7", 60, 40, -3.0)), "7");
        assert_eq!(digits(&tones("7", 60, 40, 12.0)), "");
        assert_eq!(digits(&tones("7", 60, 40, -8.0)), "");
    }

    #[test]
    fn a_tone_shorter_than_two_blocks_is_not_a_press() {
        assert_eq!(digits(&tones("3", 20, 40, 0.0)), "");
    }

    #[test]
    fn press_times_follow_the_audio() {
        let presses = detect(&tones("12", 100, 100, 0.0));
        assert_eq!(presses.len(), 2);
        assert!((95..=115).contains(&presses[0].at_ms), "{presses:?}");
        assert!((295..=315).contains(&presses[1].at_ms), "{presses:?}");
    }

    #[test]
    fn speech_like_sound_and_noise_are_ignored() {
        // A voiced sound: 150 Hz fundamental with falling harmonics up to 3 kHz,
        // gliding in pitch as speech does.
        let mut voice = Vec::new();
        for i in 0..16_000 {
            let t = i as f64 / RATE;
            let f0 = 150.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            let v: f64 = (1..20)
                .map(|h| 6000.0 / h as f64 * (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin())
                .sum();
            voice.push(v.clamp(-32_000.0, 32_000.0) as i16);
        }
        assert_eq!(digits(&voice), "");
        // White noise from a fixed-seed generator.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<i16> = (0..16_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 20_000) as i16 - 10_000
            })
            .collect();
        assert_eq!(digits(&noise), "");
        // A single tone is not a key.
        let single: Vec<i16> = (0..8000)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * 770.0 * i as f64 / RATE).sin()) as i16)
            .collect();
        assert_eq!(digits(&single), "");
    }
}
