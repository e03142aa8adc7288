//! What provisioning says on stderr while it hashes secrets: a progress bar on a
//! terminal, a line at each tenth otherwise (logs, CI), nothing with `--quiet`, and
//! the time it took at the end. The only module that sees indicatif.

use crate::store::{ProvisionProgress, Provisioned};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Fewer new secrets than this hash in a second or two: nothing is said about them.
pub const REPORT_FROM: usize = 100;

enum Shown {
    /// Nothing: `--quiet`, or too little work to mention.
    Nothing,
    /// A line at each tenth of the work.
    Lines { tenths: usize },
    /// A bar, redrawn in place.
    Bar(ProgressBar),
}

/// Reports provisioning on stderr.
pub struct Progress {
    quiet: bool,
    shown: Shown,
    total: usize,
    started: Instant,
}

impl Progress {
    /// Reports unless `quiet`.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            shown: Shown::Nothing,
            total: 0,
            started: Instant::now(),
        }
    }

    /// Says how provisioning ended, and how long it took, if it said it began.
    pub fn finish(&mut self, outcome: Provisioned) {
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
        if matches!(self.shown, Shown::Nothing) {
            return;
        }
        let took = took(self.started.elapsed());
        match outcome {
            Provisioned::Done { hashed } => {
                eprintln!("provisioning: {hashed} new secrets hashed and stored in {took}");
            }
            Provisioned::Interrupted { stored, left } => eprintln!(
                "provisioning: interrupted after {took}: {stored} new secrets stored, {left} left for the next command"
            ),
        }
    }
}

impl ProvisionProgress for Progress {
    fn hashing(&mut self, total: usize, workers: usize) {
        self.total = total;
        self.started = Instant::now();
        if self.quiet || total < REPORT_FROM {
            return;
        }
        let cores = if workers == 1 { "core" } else { "cores" };
        if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            // Short enough for an 80-column terminal, where a wrapped bar redraws badly.
            bar.set_style(
                ProgressStyle::with_template(
                    "provisioning [{bar:24}] {pos}/{len} secrets, {msg}, {elapsed} (~{eta} left)",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_message(format!("{workers} {cores}"));
            self.shown = Shown::Bar(bar);
        } else {
            eprintln!("provisioning: hashing {total} new secrets on {workers} {cores}");
            self.shown = Shown::Lines { tenths: 0 };
        }
    }

    fn hashed(&mut self, done: usize) {
        match &mut self.shown {
            Shown::Nothing => {}
            Shown::Bar(bar) => bar.set_position(done as u64),
            Shown::Lines { tenths } => {
                let now = done * 10 / self.total.max(1);
                if now > *tenths && done < self.total {
                    *tenths = now;
                    eprintln!(
                        "provisioning: {done} of {} hashed ({}%), {}",
                        self.total,
                        now * 10,
                        took(self.started.elapsed())
                    );
                }
            }
        }
    }
}

/// `850 ms`, `12.4 s`, `3 min 27 s`.
fn took(d: Duration) -> String {
    match d.as_secs() {
        0 => format!("{} ms", d.as_millis()),
        s if s < 60 => format!("{:.1} s", d.as_secs_f64()),
        s => format!("{} min {} s", s / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(took(Duration::from_millis(850)), "850 ms");
        assert_eq!(took(Duration::from_millis(12_440)), "12.4 s");
        assert_eq!(took(Duration::from_secs(207)), "3 min 27 s");
    }
}
