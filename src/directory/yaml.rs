//! YAML input with rustc-style errors: every YAML file pbxctl reads goes through here.

use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap, Span};
use serde::de::DeserializeOwned;

/// Parses a YAML file already in `sources`; errors point at its line and column.
pub fn parse<T: DeserializeOwned>(sources: &SourceMap, file: FileId) -> Result<T, Diagnostic> {
    let text = &sources.file(file).text;
    serde_saphyr::from_str(text).map_err(|e| {
        let message = first_line(&e.to_string());
        match e.location() {
            Some(loc) => {
                let span = span_at(sources, file, loc);
                Diagnostic::error("yaml", span, message)
            }
            None => Diagnostic::unplaced(
                "yaml",
                format!("{}: {message}", sources.file(file).path.display()),
            ),
        }
    })
}

/// A one-character span at a YAML location (extended to the end of the word).
pub fn span_at(sources: &SourceMap, file: FileId, loc: serde_saphyr::Location) -> Span {
    let f = sources.file(file);
    let start = f.offset(loc.line() as usize, loc.column() as usize);
    let rest = &f.text[start..];
    let len = rest
        .find(['\n', ',', '}', ']'])
        .unwrap_or(rest.len())
        .max(1)
        .min(rest.len());
    Span::new(file, start, start + len.min(rest.trim_end().len().max(1)))
}

fn first_line(message: &str) -> String {
    // serde-saphyr appends its own snippet; ours is drawn by the diagnostic.
    let line = message.lines().next().unwrap_or(message);
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}
