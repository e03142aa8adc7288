//! Dial patterns: `*23`, `9<number>`, `NXXXXXX`, `011.`, `[1-5]XX`.

use std::cmp::Ordering;

/// One position of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Exactly this character (`0`-`9`, `*`, `#`).
    Exact(u8),
    /// One digit from a set (bit n set: digit n allowed): `X`, `Z`, `N`, `[..]`.
    OneOf(u16),
    /// `.`: one or more characters.
    Rest,
    /// `<name>`: one or more digits, bound to a variable.
    Capture(String),
}

/// A parsed dial pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The positions in order.
    pub parts: Vec<Part>,
    /// The source text, for messages.
    pub text: String,
}

/// Why a pattern's text is not a pattern.
#[derive(Debug, PartialEq, Eq)]
pub struct PatternError(pub String);

const ALL_DIGITS: u16 = 0b11_1111_1111;

impl Pattern {
    /// Parses pattern text (already known to be well-formed by the grammar, but
    /// ranges are checked here).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'0'..=b'9' | b'*' | b'#' => parts.push(Part::Exact(c)),
                b'X' => parts.push(Part::OneOf(ALL_DIGITS)),
                b'Z' => parts.push(Part::OneOf(ALL_DIGITS & !1)),
                b'N' => parts.push(Part::OneOf(ALL_DIGITS & !0b11)),
                b'.' => parts.push(Part::Rest),
                b'[' => {
                    let close = text[i..]
                        .find(']')
                        .ok_or_else(|| PatternError("`[` without `]`".into()))?;
                    let mut mask = 0u16;
                    let inner = &bytes[i + 1..i + close];
                    let mut j = 0;
                    while j < inner.len() {
                        let lo = inner[j] - b'0';
                        if inner.get(j + 1) == Some(&b'-') {
                            let hi = inner[j + 2] - b'0';
                            if hi < lo {
                                return Err(PatternError(format!(
                                    "range {lo}-{hi} runs backwards"
                                )));
                            }
                            (lo..=hi).for_each(|d| mask |= 1 << d);
                            j += 3;
                        } else {
                            mask |= 1 << lo;
                            j += 1;
                        }
                    }
                    parts.push(Part::OneOf(mask));
                    i += close;
                }
                b'<' => {
                    let close = text[i..]
                        .find('>')
                        .ok_or_else(|| PatternError("`<` without `>`".into()))?;
                    parts.push(Part::Capture(text[i + 1..i + close].to_string()));
                    i += close;
                }
                other => {
                    return Err(PatternError(format!(
                        "`{}` cannot stand in a dial pattern",
                        other as char
                    )));
                }
            }
            i += 1;
        }
        if parts.is_empty() {
            return Err(PatternError("an empty pattern matches nothing".into()));
        }
        Ok(Pattern {
            parts,
            text: text.to_string(),
        })
    }

    /// The digits if the pattern has no wildcards.
    pub fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Exact(c) => Some(*c as char),
                _ => None,
            })
            .collect()
    }

    /// Names of the captures, in order.
    pub fn captures(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Capture(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Matches the whole of `digits`; on success returns the captures.
    pub fn matches(&self, digits: &str) -> Option<Vec<(String, String)>> {
        let mut caps = Vec::new();
        match_from(&self.parts, digits.as_bytes(), &mut caps).then_some(caps)
    }

    /// Orders two patterns by specificity: `Less` means `self` is more specific.
    /// Position by position, the smaller set of characters wins; `.` is the widest.
    pub fn specificity_cmp(&self, other: &Pattern) -> Ordering {
        fn width(p: &Part) -> u32 {
            match p {
                Part::Exact(_) => 1,
                Part::OneOf(mask) => mask.count_ones(),
                Part::Rest | Part::Capture(_) => u32::MAX,
            }
        }
        for (a, b) in self.parts.iter().zip(&other.parts) {
            match width(a).cmp(&width(b)) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        // Same widths as far as both go: the longer pattern pins more positions.
        other.parts.len().cmp(&self.parts.len())
    }
}

fn match_from(parts: &[Part], input: &[u8], caps: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return input.is_empty();
    };
    match first {
        Part::Exact(c) => input.first() == Some(c) && match_from(rest, &input[1..], caps),
        Part::OneOf(mask) => match input.first() {
            Some(d @ b'0'..=b'9') if mask & (1 << (d - b'0')) != 0 => {
                match_from(rest, &input[1..], caps)
            }
            _ => false,
        },
        Part::Rest | Part::Capture(_) => {
            let digits_only = matches!(first, Part::Capture(_));
            // Greedy, backing off one character at a time.
            let longest = if digits_only {
                input.iter().take_while(|b| b.is_ascii_digit()).count()
            } else {
                input.len()
            };
            for take in (1..=longest).rev() {
                let mark = caps.len();
                if let Part::Capture(name) = first {
                    caps.push((
                        name.clone(),
                        String::from_utf8_lossy(&input[..take]).into_owned(),
                    ));
                }
                if match_from(rest, &input[take..], caps) {
                    return true;
                }
                caps.truncate(mark);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            ("*23", "*23", true),
            ("*23", "*233", false),
            ("*23", "*1", false),
            ("NXXXXXX", "5551234", true),
            ("NXXXXXX", "1551234", false),
            ("NXXXXXX", "555123", false),
            ("Z", "0", false),
            ("Z", "1", true),
            ("N", "1", false),
            ("[1-5]X", "59", true),
            ("[1-5]X", "69", false),
            ("[13]X", "29", false),
            ("011.", "011", false),
            ("011.", "0114420", true),
            (".", "1", true),
            (".", "", false),
            ("9<number>", "95551234", true),
            ("9<number>", "9", false),
            ("9<number>", "9*1", false),
        ];
        for (pattern, input, expected) in table {
            assert_eq!(
                p(pattern).matches(input).is_some(),
                *expected,
                "{pattern} ~ {input}"
            );
        }
    }

    #[test]
    fn captures_bind_digits() {
        let caps = p("*24<number>").matches("*24102").unwrap();
        assert_eq!(caps, vec![("number".to_string(), "102".to_string())]);
        let caps = p("<a>*<b>").matches("12*34").unwrap();
        assert_eq!(
            caps,
            vec![("a".into(), "12".into()), ("b".into(), "34".into())]
        );
    }

    #[test]
    fn specificity_prefers_narrower_sets_then_length() {
        assert_eq!(p("011.").specificity_cmp(&p(".")), Ordering::Less);
        assert_eq!(p("NXXXXXX").specificity_cmp(&p(".")), Ordering::Less);
        assert_eq!(
            p("1NXXNXXXXXX").specificity_cmp(&p("NXXNXXXXXX")),
            Ordering::Less
        );
        assert_eq!(p("00.").specificity_cmp(&p("0.")), Ordering::Less);
        assert_eq!(p("[1-2]X").specificity_cmp(&p("ZX")), Ordering::Less);
        assert_eq!(p("X").specificity_cmp(&p("X")), Ordering::Equal);
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::parse("[5-1]").is_err());
        assert!(Pattern::parse("").is_err());
        assert_eq!(p("*23").literal().as_deref(), Some("*23"));
        assert_eq!(p("9<n>").literal(), None);
    }
}
