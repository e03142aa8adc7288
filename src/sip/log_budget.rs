//! Log lines an attacker can cause, rationed: each kind may log so many lines a
//! minute, and the lines it could not log are counted and reported once the minute is
//! up, so a flood of bad packets costs a few lines of disk, not one line each.

use crate::clock::{Duration, Timestamp};
use std::collections::BTreeMap;

/// How many lines of one kind a window may log.
pub const LINES_PER_WINDOW: u32 = 10;
/// The window lines are counted in.
pub const WINDOW: Duration = Duration(60_000);

/// Whether a line may be logged now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ration {
    /// Log it; `held_back` lines of its kind went unlogged in the window that just
    /// ended (log that count too when it is not 0).
    Log {
        /// Lines not logged before this one.
        held_back: u64,
    },
    /// Do not; it is counted for the next summary.
    Quiet,
}

#[derive(Clone, Copy, Debug)]
struct Tally {
    window_start: Timestamp,
    logged: u32,
    quiet: u64,
}

/// Rations log lines by kind (a short static name such as `malformed`).
#[derive(Debug, Default)]
pub struct LogBudget {
    kinds: BTreeMap<&'static str, Tally>,
}

impl LogBudget {
    /// Asks to log one line of `kind` at `now`.
    pub fn ration(&mut self, now: Timestamp, kind: &'static str) -> Ration {
        let tally = self.kinds.entry(kind).or_insert(Tally {
            window_start: now,
            logged: 0,
            quiet: 0,
        });
        let mut held_back = 0;
        if now.since(tally.window_start) >= WINDOW {
            held_back = tally.quiet;
            *tally = Tally {
                window_start: now,
                logged: 0,
                quiet: 0,
            };
        }
        if tally.logged < LINES_PER_WINDOW {
            tally.logged += 1;
            Ration::Log { held_back }
        } else {
            tally.quiet += 1;
            Ration::Quiet
        }
    }

    /// Whether a line of `kind` may be logged at `now`; logs what the window that just
    /// ended held back, if anything.
    pub fn admit(&mut self, now: Timestamp, kind: &'static str) -> bool {
        match self.ration(now, kind) {
            Ration::Log { held_back } => {
                if held_back > 0 {
                    held_back_line(kind, held_back);
                }
                true
            }
            Ration::Quiet => false,
        }
    }

    /// Logs, for each kind whose window has ended with lines held back, how many;
    /// call it now and then (the switch does on its sweep).
    pub fn report(&mut self, now: Timestamp) {
        for (kind, count) in self.summaries(now) {
            held_back_line(kind, count);
        }
    }

    /// For each kind whose window has ended with lines held back: the kind and how
    /// many. The kind's window starts again.
    pub fn summaries(&mut self, now: Timestamp) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        for (kind, tally) in &mut self.kinds {
            if now.since(tally.window_start) >= WINDOW && tally.quiet > 0 {
                out.push((*kind, tally.quiet));
                *tally = Tally {
                    window_start: now,
                    logged: 0,
                    quiet: 0,
                };
            }
        }
        out
    }
}

fn held_back_line(kind: &str, count: u64) {
    tracing::info!(
        kind,
        count,
        "log lines of this kind held back in the last minute"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn a_flood_logs_a_few_lines_and_a_count() {
        let mut budget = LogBudget::default();
        let mut now = T0;
        let mut logged = 0;
        for _ in 0..22_471 {
            if matches!(budget.ration(now, "malformed"), Ration::Log { .. }) {
                logged += 1;
            }
            now = now.after(Duration(1));
        }
        // 22.5 s of flood: one window's lines, the rest held back until it ends.
        assert_eq!(logged, LINES_PER_WINDOW);
        assert!(budget.summaries(now).is_empty(), "the window is still open");
        let end = T0.after(WINDOW);
        assert_eq!(
            budget.summaries(end),
            [("malformed", 22_471 - u64::from(LINES_PER_WINDOW))]
        );
        // A new window logs again, and the summary is not repeated.
        assert_eq!(
            budget.ration(end, "malformed"),
            Ration::Log { held_back: 0 }
        );
        assert!(budget.summaries(end.after(WINDOW)).is_empty());
        // A line in a new window carries the count no summary reported yet.
        for _ in 0..LINES_PER_WINDOW + 5 {
            budget.ration(end, "malformed");
        }
        assert_eq!(
            budget.ration(end.after(WINDOW), "malformed"),
            Ration::Log { held_back: 6 }
        );
    }

    #[test]
    fn kinds_are_rationed_apart_and_quiet_times_reset() {
        let mut budget = LogBudget::default();
        let log = Ration::Log { held_back: 0 };
        for _ in 0..LINES_PER_WINDOW {
            assert_eq!(budget.ration(T0, "malformed"), log);
        }
        assert_eq!(budget.ration(T0, "malformed"), Ration::Quiet);
        assert_eq!(budget.ration(T0, "auth-failure"), log);
        // With nothing held back, a later line starts a new window at once.
        let mut quiet = LogBudget::default();
        for _ in 0..LINES_PER_WINDOW {
            quiet.ration(T0, "tcp");
        }
        assert_eq!(quiet.ration(T0.after(WINDOW), "tcp"), log);
    }
}
