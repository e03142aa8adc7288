//! Reading a plan: its file and the files it includes, parsed, in include order.

use super::ast::Item;
use super::diagnostic::Diagnostic;
use super::parse::parse;
use super::span::{FileId, SourceMap, Span};
use std::path::{Path, PathBuf};

/// A plan's items, each with the file it came from, and what went wrong reading them.
pub(super) struct Loaded {
    pub sources: SourceMap,
    pub items: Vec<(FileId, Item)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads `path` and, in its place, every file it includes.
pub(super) fn load_file(path: &Path) -> Loaded {
    let mut loaded = Loaded {
        sources: SourceMap::default(),
        items: Vec::new(),
        diagnostics: Vec::new(),
    };
    gather(path, None, &mut loaded, &mut Vec::new());
    loaded
}

/// Parses a plan given as text (includes in it are not followed).
pub(super) fn load_text(name: &str, text: &str) -> Loaded {
    let mut sources = SourceMap::default();
    let file = sources.add(name, text.to_string());
    let (items, diagnostics) = match parse(file, text) {
        Ok(f) => (f.items.into_iter().map(|i| (file, i)).collect(), Vec::new()),
        Err(d) => (Vec::new(), d),
    };
    Loaded {
        sources,
        items,
        diagnostics,
    }
}

fn gather(path: &Path, from: Option<Span>, loaded: &mut Loaded, stack: &mut Vec<PathBuf>) {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&canonical) {
        if let Some(span) = from {
            loaded.diagnostics.push(Diagnostic::error(
                "include-cycle",
                span,
                "this include comes back to a file that includes it",
            ));
        }
        return;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("cannot read {}: {e}", path.display());
            loaded.diagnostics.push(match from {
                Some(span) => Diagnostic::error("include", span, message),
                None => Diagnostic::unplaced("read", message),
            });
            return;
        }
    };
    let file = loaded.sources.add(path, text.clone());
    let parsed = match parse(file, &text) {
        Ok(f) => f,
        Err(d) => {
            loaded.diagnostics.extend(d);
            return;
        }
    };
    stack.push(canonical);
    for item in parsed.items {
        if let Item::Include { path: rel, span } = &item {
            let target = path.parent().unwrap_or(Path::new(".")).join(rel);
            gather(&target, Some(*span), loaded, stack);
        } else {
            loaded.items.push((file, item));
        }
    }
    stack.pop();
}
