//! Diagnostics: a span, a severity and a message, drawn like rustc or printed as JSON.

use super::span::{SourceMap, Span};
use codespan_reporting::diagnostic::{Diagnostic as Drawn, Label};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, Chars};
use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input cannot be used.
    Error,
    /// The input works but is probably wrong.
    Warning,
}

/// One finding about an input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short stable identifier, e.g. `syntax` or `unknown-policy`.
    pub code: &'static str,
    /// What is wrong, in one line.
    pub message: String,
    /// Where, if the input has a place for it.
    pub span: Option<Span>,
    /// A note under the caret.
    pub label: String,
}

impl Diagnostic {
    /// An error at a span.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: Some(span),
            label: String::new(),
        }
    }

    /// A warning at a span.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// An error about a whole file or no file at all.
    pub fn unplaced(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: String::new(),
        }
    }

    /// Adds the note shown under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Whether this diagnostic stops the input from being used.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Draws the diagnostic as rustc does: `file:line:col`, the line, a caret.
    pub fn render(&self, sources: &SourceMap) -> String {
        let drawn = match self.severity {
            Severity::Error => Drawn::error(),
            Severity::Warning => Drawn::warning(),
        }
        .with_code(self.code)
        .with_message(&self.message);
        let drawn = match self.span {
            Some(span) => drawn.with_labels(vec![
                Label::primary(span.file.0 as usize, span.range()).with_message(&self.label),
            ]),
            None => drawn,
        };
        let config = term::Config {
            chars: Chars::ascii(),
            ..term::Config::default()
        };
        term::emit_into_string(&config, &Drawable(sources), &drawn)
            .unwrap_or_else(|_| format!("{}: {}\n", self.severity_word(), self.message))
    }

    /// The same data as [`Diagnostic::render`], as a JSON object.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let place = self.span.map(|span| {
            let file = sources.file(span.file);
            let (line, column) = file.line_col(span.start as usize);
            let (end_line, end_column) = file.line_col(span.end as usize);
            serde_json::json!({
                "file": file.path.display().to_string(),
                "line": line, "column": column,
                "end_line": end_line, "end_column": end_column,
                "text": sources.text(span),
            })
        });
        serde_json::json!({
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "label": self.label,
            "location": place,
        })
    }

    /// `file:line:col: error: message`, for one-line output such as GitHub annotations.
    pub fn one_line(&self, sources: &SourceMap) -> String {
        match self.span {
            Some(span) => format!(
                "{}: {}: {}",
                sources.locate(span),
                self.severity_word(),
                self.message
            ),
            None => format!("{}: {}", self.severity_word(), self.message),
        }
    }

    fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The source map as codespan reads it. Lines come from the map's own index, so
/// drawing a diagnostic costs the lines it shows, not the size of the file.
struct Drawable<'a>(&'a SourceMap);

impl<'a> Files<'a> for Drawable<'a> {
    type FileId = usize;
    type Name = std::path::Display<'a>;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<Self::Name, FilesError> {
        Ok(self.file(id)?.path.display())
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.file(id)?.text.as_str())
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.file(id)?.line_index(byte_index))
    }

    fn line_range(
        &'a self,
        id: usize,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.file(id)?;
        file.line_range(line_index).ok_or(FilesError::LineTooLarge {
            given: line_index,
            max: file.line_index(file.text.len()),
        })
    }
}

impl<'a> Drawable<'a> {
    fn file(&self, id: usize) -> Result<&'a super::span::SourceFile, FilesError> {
        let map: &'a SourceMap = self.0;
        map.files()
            .nth(id)
            .map(|(_, f)| f)
            .ok_or(FilesError::FileMissing)
    }
}

/// A failed load: the diagnostics and the files they point into.
#[derive(Debug)]
pub struct Failure {
    /// Everything found, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// The files the spans refer to.
    pub sources: SourceMap,
}

impl Failure {
    /// All diagnostics drawn for a terminal.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.sources))
            .collect()
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let mut map = SourceMap::default();
        let id = map.add("plan.pbx", "dial *23 {\n  plya x\n}\n".into());
        let d = Diagnostic::error("syntax", Span::new(id, 13, 17), "expected a statement")
            .with_label("here");
        let text = d.render(&map);
        assert!(text.contains("plan.pbx:2:3"), "{text}");
        assert!(text.contains("^^^^ here"), "{text}");
        let json = d.to_json(&map);
        assert_eq!(json["location"]["line"], 2);
        assert_eq!(json["location"]["column"], 3);
        assert_eq!(json["location"]["text"], "plya");
    }
}
