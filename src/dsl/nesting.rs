//! How deep a plan may nest, checked on the text before pest sees it.
//!
//! The parser, the checks, the lowering and the engine's expression evaluator all
//! recurse once per level of nesting, so a plan nested thousands deep would overflow
//! the stack of whichever pass came first. Bounding the depth once, here, bounds
//! every later pass: each level of recursion anywhere goes through a `{`, `(` or `[`,
//! or through an `else if`, which the syntax tree nests inside the `else`.

use super::diagnostic::Diagnostic;
use super::span::{FileId, Span};

/// The deepest nesting a plan may have: blocks, parentheses, lists and `else if`
/// chains together. Real plans stay under ten.
pub const MAX_NESTING: usize = 64;

/// One open bracket, and the `else if`s of the chain running inside it.
struct Level {
    else_ifs: usize,
}

/// Finds the first place the text nests deeper than [`MAX_NESTING`].
///
/// Comments, strings and hook bodies are skipped as the grammar reads them; a
/// bracket that does not match is left for the parser to report.
pub fn check(file: FileId, text: &str) -> Result<(), Diagnostic> {
    let bytes = text.as_bytes();
    // The top level is a level too, so an `else if` chain there counts.
    let mut levels = vec![Level { else_ifs: 0 }];
    let mut depth = 0usize;
    let mut previous_word: &str = "";
    let mut after_close = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = find(bytes, i, b"\n").map_or(bytes.len(), |end| end + 1);
                continue;
            }
            _ => {}
        }
        // A `}` followed by anything but `else` ends the `else if` chain it closed.
        let word_end = if b.is_ascii_alphanumeric() || b == b'_' {
            let len = bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
                .count();
            i + len
        } else {
            i
        };
        let word = &text[i..word_end];
        if after_close && word != "else" {
            let top = levels.last_mut().expect("the top level stays");
            depth -= top.else_ifs;
            top.else_ifs = 0;
        }
        after_close = false;
        if word_end > i {
            if word == "if" && previous_word == "else" {
                levels.last_mut().expect("the top level stays").else_ifs += 1;
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(file, start, 2));
                }
            }
            previous_word = word;
            i = word_end;
            continue;
        }
        previous_word = "";
        match b {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i = find(bytes, i + 3, b"\"\"\"").map_or(bytes.len(), |end| end + 3);
            }
            b'"' => i = string_end(bytes, i + 1),
            b'{' | b'(' | b'[' => {
                levels.push(Level { else_ifs: 0 });
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(file, start, 1));
                }
                i += 1;
            }
            b'}' | b')' | b']' => {
                if levels.len() > 1 {
                    let level = levels.pop().expect("more than the top level");
                    depth -= level.else_ifs + 1;
                }
                after_close = b == b'}';
                i += 1;
            }
            _ => i += text[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    Ok(())
}

fn too_deep(file: FileId, at: usize, len: usize) -> Diagnostic {
    Diagnostic::error(
        "nesting",
        Span::new(file, at, at + len),
        format!(
            "nesting deeper than {MAX_NESTING} (blocks, parentheses, lists and `else if` chains together)"
        ),
    )
    .with_label("one level too deep")
}

/// The offset of `needle` at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// Just past the `"` that closes a string whose body starts at `from`; a string
/// ends at a newline too, as the grammar has it.
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while from < bytes.len() {
        match bytes[from] {
            b'\\' => from += 2,
            b'"' => return from + 1,
            b'\n' => return from,
            _ => from += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(text: &str) -> Option<(usize, usize)> {
        check(FileId(0), text)
            .err()
            .map(|d| (d.span.unwrap().start as usize, d.span.unwrap().end as usize))
    }

    fn nested_ifs(n: usize) -> String {
        format!(
            "dial 1 {{\n{}hangup\n{}}}\n",
            "if true {\n".repeat(n),
            "}\n".repeat(n)
        )
    }

    #[test]
    fn the_limit_is_exact() {
        // The rule's own block is one level.
        assert_eq!(depth_error(&nested_ifs(MAX_NESTING - 1)), None);
        let text = nested_ifs(MAX_NESTING);
        let (start, end) = depth_error(&text).expect("one level too deep");
        assert_eq!(&text[start..end], "{");
        assert_eq!(text[..start].matches('{').count(), MAX_NESTING);
    }

    #[test]
    fn every_kind_of_bracket_counts() {
        let n = MAX_NESTING + 1;
        for (open, close) in [("(", ")"), ("[", "]"), ("attempt {", "}")] {
            let text = format!("set x = {}1{}\n", open.repeat(n), close.repeat(n));
            assert!(depth_error(&text).is_some(), "{open}");
        }
        // Siblings do not add up.
        let siblings = "dial 1 { if a { } if b { } }\n".repeat(MAX_NESTING * 2);
        assert_eq!(depth_error(&siblings), None);
    }

    #[test]
    fn else_if_chains_count_until_they_end() {
        let chain = |n: usize| {
            format!(
                "dial 1 {{\n if a {{ }}{}\n hangup\n}}\n",
                " else if a { }".repeat(n)
            )
        };
        // The rule's block, the chain, and the last `else if`'s own block.
        assert_eq!(depth_error(&chain(MAX_NESTING - 2)), None);
        let text = chain(MAX_NESTING - 1);
        let (start, end) = depth_error(&text).expect("a chain one too long");
        assert_eq!(&text[start..end], "{");
        assert_eq!(text[..start].matches(" else if").count(), MAX_NESTING - 1);
        // Two chains one after the other are not one long chain.
        let half = chain(MAX_NESTING / 2 + 2);
        assert_eq!(depth_error(&format!("{half}{half}")), None);
        let inner = format!(
            "dial 1 {{ if a {{ }}{} hangup if a {{ }}{} }}\n",
            " else if a { }".repeat(MAX_NESTING - 4),
            " else if a { }".repeat(MAX_NESTING - 4)
        );
        assert_eq!(depth_error(&inner), None);
    }

    #[test]
    fn brackets_in_comments_strings_and_hooks_do_not_count() {
        let many = "{".repeat(MAX_NESTING * 2);
        for text in [
            format!("# {many}\ndial 1 {{ hangup }}\n"),
            format!("set x = \"{many}\"\n"),
            format!("set x = \"\\\"{many}\"\n"),
            format!("hook h \"\"\"\n{many}\n\"\"\"\n"),
        ] {
            assert_eq!(depth_error(&text), None, "{text}");
        }
        // Unbalanced text is the parser's to report, not ours to panic on.
        for text in ["}}}) ]", "{{{", "\"unterminated", "\"\"\"open", "é{ #"] {
            let _ = check(FileId(0), text);
        }
    }
}
