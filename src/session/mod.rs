//! Recorded DTMF sessions (`sessions.md`): parse, replay against a plan on a
//! virtual clock, check, report, and rewrite expectations with `--update`.

pub mod coverage;
pub mod file;
pub mod matching;
pub mod record;
pub mod report;
pub mod runner;
pub mod update;

pub use file::SessionFile;
pub use runner::{Mode, Outcome, PlanCache, run_session};
