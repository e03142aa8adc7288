//! The server's clock: the wall-clock time at start, carried on by a monotonic clock,
//! so a wall clock stepped back or forward (NTP, an operator) cannot move timers, nonce
//! ages or ring times while the server runs.

use crate::clock::Timestamp;
use std::sync::OnceLock;
use std::time::Instant;

/// The wall-clock time and the monotonic instant the server started at.
static START: OnceLock<(Timestamp, Instant)> = OnceLock::new();

/// Now, as the sans-IO switch and engine are told it.
pub fn now() -> Timestamp {
    let (wall, start) = START.get_or_init(|| (Timestamp::now(), Instant::now()));
    let elapsed = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
    Timestamp(wall.0.saturating_add(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_runs_forward_from_the_wall_clock_at_start() {
        let first = now();
        assert!(first.0.abs_diff(Timestamp::now().0) < 60_000);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(now().0 >= first.0 + 5);
    }
}
