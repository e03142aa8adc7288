//! Whether the switch thread is alive and serving, for `GET /health`. The thread says
//! so at every turn of its loop, which turns at least once a second, so one that has
//! stopped, or hangs, is told from one that is merely idle.

use crate::clock::{Duration, Timestamp};
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

/// A loop silent this long has stalled.
pub(super) const STALLED_AFTER: Duration = Duration(5_000);

const STARTING: u8 = 0;
const SERVING: u8 = 1;
const DRAINING: u8 = 2;
const STOPPED: u8 = 3;

/// The switch thread's state and the time of its last turn.
#[derive(Debug)]
pub(super) struct Health {
    state: AtomicU8,
    last_turn: AtomicI64,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            state: AtomicU8::new(STARTING),
            last_turn: AtomicI64::new(0),
        }
    }
}

impl Health {
    /// The switch is up and takes calls.
    pub fn serving(&self, now: Timestamp) {
        self.turned(now);
        let _ =
            self.state
                .compare_exchange(STARTING, SERVING, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The switch loop turned at `now`.
    pub fn turned(&self, now: Timestamp) {
        self.last_turn.store(now.0, Ordering::Relaxed);
    }

    /// A drain began: no new calls.
    pub fn draining(&self) {
        let _ =
            self.state
                .compare_exchange(SERVING, DRAINING, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The switch thread has ended (or is unwinding).
    pub fn stopped(&self) {
        self.state.store(STOPPED, Ordering::Relaxed);
    }

    /// `Ok` while serving at `now`; else why not, in a word.
    pub fn check(&self, now: Timestamp) -> Result<(), &'static str> {
        match self.state.load(Ordering::Relaxed) {
            STARTING => Err("starting"),
            DRAINING => Err("draining"),
            STOPPED => Err("stopped"),
            _ if now.since(Timestamp(self.last_turn.load(Ordering::Relaxed))) > STALLED_AFTER => {
                Err("stalled")
            }
            _ => Ok(()),
        }
    }
}

/// Marks the switch thread stopped when dropped: on its return and on a panic alike.
pub(super) struct StoppedOnDrop<'a>(pub &'a Health);

impl Drop for StoppedOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stopped();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn serving_only_between_start_and_drain_and_while_the_loop_turns() {
        let h = Health::default();
        assert_eq!(h.check(T0), Err("starting"));
        h.serving(T0);
        assert_eq!(h.check(T0.after(Duration(1_000))), Ok(()));
        let late = T0.after(Duration(STALLED_AFTER.0 + 1));
        assert_eq!(h.check(late), Err("stalled"));
        h.turned(late);
        assert_eq!(h.check(late), Ok(()));
        h.draining();
        assert_eq!(h.check(late), Err("draining"));
        // A drain is not undone by the loop turning on.
        h.serving(late);
        assert_eq!(h.check(late), Err("draining"));
        drop(StoppedOnDrop(&h));
        assert_eq!(h.check(late), Err("stopped"));
    }
}
