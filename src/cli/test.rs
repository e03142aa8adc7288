//! `pbxctl test`.

use super::{TestFormat, exit, files_under, print};
use crate::session::coverage::{self, cobertura, lcov};
use crate::session::report;
use crate::session::runner::{Mode, PlanCache, Verdict, run_session};
use crate::session::{SessionFile, update};
use std::path::{Path, PathBuf};

/// Finds session files: files as given, folders searched for `.yaml`/`.yml`, sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            files_under(p, &["yaml", "yml"], &mut found)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        } else if p.exists() {
            found.push(p.clone());
        } else {
            return Err(format!("no such file or folder: {}", p.display()));
        }
    }
    Ok(found)
}

/// What `--coverage` and its files ask for.
#[derive(Debug, Default)]
pub struct CoverageArgs {
    /// `--coverage`: in the report.
    pub report: bool,
    /// `--coverage-lcov FILE`.
    pub lcov: Option<PathBuf>,
    /// `--coverage-cobertura FILE`.
    pub cobertura: Option<PathBuf>,
}

impl CoverageArgs {
    /// Whether the sessions count what ran at all.
    fn wanted(&self) -> bool {
        self.report || self.lcov.is_some() || self.cobertura.is_some()
    }
}

/// Runs the sessions and prints the report.
pub fn run(
    paths: &[PathBuf],
    dialplan: Option<&Path>,
    filter: Option<&str>,
    format: TestFormat,
    update: bool,
    cover: &CoverageArgs,
) -> i32 {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let check = if cover.wanted() {
        Mode::Cover
    } else {
        Mode::Check
    };
    let mut plans = PlanCache::default();
    let mut outcomes = Vec::new();
    for path in &files {
        let outcome = run_session(path, &mut plans, dialplan, check);
        if filter.is_some_and(|f| !outcome.name.contains(f)) {
            continue;
        }
        if update && matches!(outcome.verdict, Verdict::Failed(_)) {
            let recorded = run_session(path, &mut plans, dialplan, Mode::Record);
            match SessionFile::load(path) {
                Ok(session) => {
                    let text = &session.sources.file(session.file).text;
                    let new = update::rewrite(text, &session.steps, &recorded.caused);
                    if let Err(e) = std::fs::write(path, new) {
                        eprintln!("error: cannot rewrite {}: {e}", path.display());
                        return exit::USAGE;
                    }
                    eprintln!("updated {}", path.display());
                    outcomes.push(run_session(path, &mut plans, dialplan, check));
                    continue;
                }
                Err((sources, d)) => eprint!("{}", d.render(&sources)),
            }
        }
        outcomes.push(outcome);
    }
    let covered = cover.wanted().then(|| coverage::gather(&outcomes));
    let shown = covered.as_ref().filter(|_| cover.report);
    print(&match format {
        TestFormat::Human => {
            let listing: String = shown.map(coverage::text::human).unwrap_or_default();
            report::human(&outcomes) + listing.as_str()
        }
        TestFormat::Json => report::json(&outcomes, shown.map(coverage::text::json)),
        TestFormat::Junit => report::junit(&outcomes),
    });
    if let Some(c) = &covered {
        let files = [
            (
                &cover.lcov,
                lcov::tracefile as fn(&coverage::Coverage) -> String,
            ),
            (&cover.cobertura, cobertura::report),
        ];
        for (path, write) in files {
            let Some(path) = path else { continue };
            if let Err(e) = std::fs::write(path, write(c)) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return exit::USAGE;
            }
        }
    }
    let t = report::totals(&outcomes);
    if t.broken > 0 {
        exit::USAGE
    } else if t.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}
