//! Time as a value: the engine never reads a clock, it is handed a [`Timestamp`].

use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// A span of time in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

impl Timestamp {
    /// The current wall-clock time; only drivers (CLI, server) call this.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    /// Parses an RFC 3339 time such as `2026-03-01T09:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
        let ts: jiff::Timestamp = text
            .parse()
            .map_err(|e: jiff::Error| format!("not an RFC 3339 time: {e}"))?;
        Ok(Timestamp(ts.as_millisecond()))
    }

    /// Parses a date such as `2026-03-01`: its first instant, UTC.
    pub fn parse_date(text: &str) -> Result<Timestamp, String> {
        let date: jiff::civil::Date = text
            .parse()
            .map_err(|e: jiff::Error| format!("not a date like 2026-03-01: {e}"))?;
        let start = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?;
        Ok(Timestamp(start.timestamp().as_millisecond()))
    }

    /// Formats as RFC 3339 in UTC, with milliseconds only when there are some.
    pub fn rfc3339(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) if self.0 % 1000 == 0 => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// This time plus a duration.
    pub fn after(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }

    /// This time less a duration.
    pub fn before(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.0))
    }

    /// Milliseconds from `earlier` to this time.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0 - earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Duration {
    /// A duration of whole seconds.
    pub const fn seconds(s: i64) -> Duration {
        Duration(s * 1000)
    }

    /// Parses `500ms`, `30s`, `10m`, `2h`, `1d`; a bare number is seconds.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (num, unit) = text.split_at(split);
        let n: i64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (like 500ms, 30s, 10m, 2h)"))?;
        let scale = match unit {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown unit `{unit}` (use ms, s, m, h or d)"
                ));
            }
        };
        n.checked_mul(scale)
            .map(Duration)
            .ok_or_else(|| format!("`{text}` is too long a duration"))
    }

    /// Whole seconds, rounded down.
    pub fn as_seconds(self) -> i64 {
        self.0 / 1000
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms % 3_600_000 == 0 && ms != 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 && ms != 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (text, ms, shown) in [
            ("500ms", 500, "500ms"),
            ("30s", 30_000, "30s"),
            ("10m", 600_000, "10m"),
            ("2h", 7_200_000, "2h"),
            ("90", 90_000, "90s"),
        ] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.0, ms, "{text}");
            assert_eq!(d.to_string(), shown);
        }
        assert!(Duration::parse("5 parsecs").is_err());
        assert!(Duration::parse("").is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-03-01T09:00:00Z").unwrap();
        assert_eq!(t.rfc3339(), "2026-03-01T09:00:00Z");
        assert_eq!(
            t.after(Duration(1500)).rfc3339(),
            "2026-03-01T09:00:01.500Z"
        );
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
