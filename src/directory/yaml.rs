//! YAML input with rustc-style errors: every YAML file pbxctl reads goes through here.

use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap, Span};
use serde::de::DeserializeOwned;

/// Parses a YAML file already in `sources`; errors point at its line and column.
pub fn parse<T: DeserializeOwned>(sources: &SourceMap, file: FileId) -> Result<T, Diagnostic> {
    let text = &sources.file(file).text;
    serde_saphyr::from_str_with_options(text, options(text)).map_err(|e| {
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

/// The library's default budget stops at 250,000 nodes: a directory of about 25,000
/// extensions. A node takes at least a byte of input, so allowing one per byte still
/// bounds the work by the file's size (which the budget caps at 256 MiB), and aliases,
/// the way a small file grows large, keep their own caps.
fn options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(text.len());
    budget.max_events = budget.max_events.max(2 * text.len());
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
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

/// The library's message without its own location prefix, snippet or advice
/// meant for programmers; the diagnostic draws the place.
fn first_line(message: &str) -> String {
    let mut line = message.lines().next().unwrap_or(message).trim();
    line = line.strip_prefix("error: ").unwrap_or(line);
    if line.starts_with("line ")
        && let Some((_, rest)) = line.split_once(": ")
    {
        line = rest;
    }
    if let Some(i) = line.find(" at line ") {
        line = &line[..i];
    }
    if let Some(key) = line.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        return format!("`{key}` is given twice");
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn library_messages_are_cleaned_for_people() {
        assert_eq!(
            first_line(
                "error: line 5 column 3: duplicate mapping key: 101, set DuplicateKeyPolicy in Options if acceptable"
            ),
            "`101` is given twice"
        );
        assert_eq!(
            first_line("error: line 2 column 1: unknown field `x`, expected `y`"),
            "unknown field `x`, expected `y`"
        );
    }
}
