//! `pbxctl fmt`: dialplans rewritten in their canonical layout, or `--check`ed for CI.

use super::{exit, files_under, print};
use crate::dsl::format::format;
use crate::dsl::span::SourceMap;
use std::path::PathBuf;

/// What `fmt` reads: a plan file, or standard input (`-`).
enum Input {
    File(PathBuf),
    Stdin,
}

/// How one input came out.
enum Outcome {
    /// Already canonical, or rewritten.
    Done,
    /// `--check` found it not canonical.
    Differs,
    /// Unreadable, unparsable or unwritable: reported on stderr.
    Bad,
}

/// Formats each plan in place, or with `check` shows what would change; `-` reads
/// standard input and writes the canonical form to standard output.
pub fn run(paths: &[PathBuf], check: bool) -> i32 {
    let mut outcomes = Vec::new();
    for input in inputs(paths, &mut outcomes) {
        outcomes.push(one(&input, check));
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Bad)) {
        exit::USAGE
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Differs)) {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// The inputs named: files as given, folders searched for `.pbx`, `-` for stdin.
/// A path that is missing or unreadable is reported and counted as bad.
fn inputs(paths: &[PathBuf], outcomes: &mut Vec<Outcome>) -> Vec<Input> {
    let mut found = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            found.push(Input::Stdin);
        } else if p.is_dir() {
            let mut plans = Vec::new();
            match files_under(p, &["pbx"], &mut plans) {
                Ok(()) => found.extend(plans.into_iter().map(Input::File)),
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", p.display());
                    outcomes.push(Outcome::Bad);
                }
            }
        } else if p.exists() {
            found.push(Input::File(p.clone()));
        } else {
            eprintln!("error: no such file or folder: {}", p.display());
            outcomes.push(Outcome::Bad);
        }
    }
    found
}

/// Formats one input.
fn one(input: &Input, check: bool) -> Outcome {
    let (name, read) = match input {
        Input::File(path) => (path.display().to_string(), std::fs::read_to_string(path)),
        Input::Stdin => (
            "<stdin>".to_string(),
            std::io::read_to_string(std::io::stdin()),
        ),
    };
    let text = match read {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return Outcome::Bad;
        }
    };
    let mut sources = SourceMap::default();
    let id = sources.add(&name, text.clone());
    let canonical = match format(id, &text) {
        Ok(c) => c,
        Err(errors) => {
            for d in &errors {
                if d.span.is_none() {
                    eprint!("{name}: ");
                }
                eprint!("{}", d.render(&sources));
            }
            return Outcome::Bad;
        }
    };
    if check {
        if canonical == text {
            return Outcome::Done;
        }
        print(&diff(&name, &text, &canonical));
        return Outcome::Differs;
    }
    match input {
        Input::Stdin => print(&canonical),
        Input::File(path) if canonical != text => {
            if let Err(e) = std::fs::write(path, &canonical) {
                eprintln!("error: cannot write {name}: {e}");
                return Outcome::Bad;
            }
        }
        Input::File(_) => {}
    }
    Outcome::Done
}

/// A unified diff from the file as it is to its canonical form.
fn diff(name: &str, text: &str, canonical: &str) -> String {
    similar::TextDiff::from_lines(text, canonical)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}
