//! `pbxctl test`.

use super::{TestFormat, exit, print};
use crate::session::report;
use crate::session::runner::{Mode, PlanCache, Verdict, run_session};
use crate::session::{SessionFile, update};
use std::path::{Path, PathBuf};

/// Finds session files: files as given, folders searched for `.yaml`/`.yml`, sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut found).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        } else if p.exists() {
            found.push(p.clone());
        } else {
            return Err(format!("no such file or folder: {}", p.display()));
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, found)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            found.push(p);
        }
    }
    Ok(())
}

/// Runs the sessions and prints the report.
pub fn run(
    paths: &[PathBuf],
    dialplan: Option<&Path>,
    filter: Option<&str>,
    format: TestFormat,
    update: bool,
) -> i32 {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut plans = PlanCache::default();
    let mut outcomes = Vec::new();
    for path in &files {
        let outcome = run_session(path, &mut plans, dialplan, Mode::Check);
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
                    outcomes.push(run_session(path, &mut plans, dialplan, Mode::Check));
                    continue;
                }
                Err((sources, d)) => eprint!("{}", d.render(&sources)),
            }
        }
        outcomes.push(outcome);
    }
    print(&match format {
        TestFormat::Human => report::human(&outcomes),
        TestFormat::Json => report::json(&outcomes),
        TestFormat::Junit => report::junit(&outcomes),
    });
    let t = report::totals(&outcomes);
    if t.broken > 0 {
        exit::USAGE
    } else if t.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}
