//! The canonical layout of a dialplan, for `pbxctl fmt`.
//!
//! The grammar drops comments, so the layout is not printed from the syntax tree:
//! a small lexer splits the text into words, strings, hook bodies, braces and
//! comments, and the tokens are written again with canonical spacing and
//! indentation. The parse tree only says where statements start (for indentation
//! and the two spaces between statements sharing a line). Statements stay on the
//! lines they were on; the canonical form is:
//!
//! - two spaces of indentation per open `{`; a line that continues a statement
//!   (`ok {`, `busy {`, the rest of a long condition) one level more;
//! - `{` at the end of its head line, `}` on a line of its own, `} else {` joined;
//!   a block opened and closed on one line stays on that line;
//! - one space between tokens (none inside `f(a, b)` or `[a, b]`), two between
//!   statements on one line, policy clause and class line keywords in a column;
//! - comments kept; a trailing comment starts at column 35 (two spaces after longer
//!   code); runs of blank lines become one, none at the start or end of a block or file;
//! - hook bodies (`"""…"""`) byte for byte.
//!
//! Formatting is checked: the result must parse to the same tree with the same
//! comments, or the plan is refused rather than changed.

use super::diagnostic::Diagnostic;
use super::parse::{self, DialplanParser, Rule};
use super::span::FileId;
use pest::Parser as _;
use pest::iterators::Pair;
use std::collections::{HashMap, HashSet};

/// The 0-based column trailing comments start at, when the code leaves room.
pub const COMMENT_COLUMN: usize = 34;

/// Width of a policy clause keyword and its padding (`attempts` and a space).
const POLICY_KEYWORD_WIDTH: usize = 9;

/// Width of a class line's `allow`/`deny` and its padding.
const CLASS_VERB_WIDTH: usize = 6;

/// Formats one plan. A plan that does not parse gets the parser's diagnostics; a
/// result that would not mean the same as the input is refused with an error.
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    parse::parse(file, text)?;
    let tree = DialplanParser::parse(Rule::plan, text)
        .map_err(|_| vec![refusal("the parser accepted the plan once and not twice")])?;
    let layout = Layout::of(tree);
    let out = render(&lex(text), &layout);
    check_same(file, text, &out)?;
    Ok(out)
}

/// The formatter's own failure: never the plan's fault.
fn refusal(why: &str) -> Diagnostic {
    Diagnostic::unplaced(
        "format",
        format!("cannot format this plan safely ({why}); it is left as it is"),
    )
}

/// The formatted text must parse to the same tree and keep every comment.
fn check_same(file: FileId, before: &str, after: &str) -> Result<(), Vec<Diagnostic>> {
    if parse::parse(file, after).is_err() {
        return Err(vec![refusal("the result does not parse")]);
    }
    let same_tree = match (
        DialplanParser::parse(Rule::plan, before),
        DialplanParser::parse(Rule::plan, after),
    ) {
        (Ok(a), Ok(b)) => shape(a) == shape(b),
        _ => false,
    };
    if !same_tree {
        return Err(vec![refusal("the result parses differently")]);
    }
    if comments(before) != comments(after) {
        return Err(vec![refusal("the result loses or changes a comment")]);
    }
    Ok(())
}

/// A parse tree without its positions: each node's rule, child count, and a leaf's text.
/// Free text (strings, hook code) must match exactly; other leaves without whitespace and
/// comments, as a keyword leaf such as `retry` also spans the ones after it.
fn shape(pairs: pest::iterators::Pairs<'_, Rule>) -> Vec<(Rule, usize, String)> {
    pairs
        .flatten()
        .map(|p| {
            let children = p.clone().into_inner().count();
            let text = match p.as_rule() {
                _ if children > 0 => String::new(),
                Rule::str_inner | Rule::hook_code => p.as_str().to_string(),
                _ => without_layout(p.as_str()),
            };
            (p.as_rule(), children, text)
        })
        .collect()
}

/// A text's tokens without whitespace and comments (`[ ]` and `[]` are one empty list).
fn without_layout(text: &str) -> String {
    lex(text)
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Comment | Kind::Newline))
        .map(|t| t.text)
        .collect()
}

/// Every comment's text, in order.
fn comments(text: &str) -> Vec<&str> {
    lex(text)
        .into_iter()
        .filter(|t| t.kind == Kind::Comment)
        .map(|t| t.text)
        .collect()
}

// ---------------------------------------------------------------------------
// Tokens

/// What a token is, as far as layout cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A run of characters that is not one of the others: `dial`, `9<number>`, `caller.dnd`.
    Word,
    /// `"..."`, kept as written.
    Str,
    /// `"""..."""`, a hook's Rhai code, kept byte for byte.
    Hook,
    /// `{`.
    Open,
    /// `}`.
    Close,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `=`, `==`, `!=`, `<=`, `>=`.
    Op,
    /// `# ...` to the end of the line, trailing whitespace removed.
    Comment,
    /// A line break.
    Newline,
}

/// One token and where it starts in the text.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    at: usize,
}

/// Splits a plan into tokens. `#` starts a comment only where a token could start:
/// inside a word (a bare pattern such as `*#06`) it is part of the word, which is
/// written back unchanged either way.
fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let (kind, len) = match bytes[i] {
            b'\n' => (Kind::Newline, 1),
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => (Kind::Comment, rest.find('\n').unwrap_or(rest.len())),
            b'"' if rest.starts_with("\"\"\"") => {
                let end = rest[3..].find("\"\"\"").map_or(rest.len(), |e| e + 6);
                (Kind::Hook, end)
            }
            b'"' => (Kind::Str, string_len(rest)),
            b'{' => (Kind::Open, 1),
            b'}' => (Kind::Close, 1),
            b'(' => (Kind::LParen, 1),
            b')' => (Kind::RParen, 1),
            b',' => (Kind::Comma, 1),
            _ if operator_len(rest) > 0 => (Kind::Op, operator_len(rest)),
            _ => (Kind::Word, word_len(rest)),
        };
        let mut token = &text[i..i + len];
        if kind == Kind::Comment {
            token = token.trim_end();
        }
        tokens.push(Token {
            kind,
            text: token,
            at: i,
        });
        i += len;
    }
    tokens
}

/// Length of a `"..."` string at the start of `rest`, escapes included; an unclosed
/// string ends at the line's end.
fn string_len(rest: &str) -> usize {
    let mut escaped = false;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            '\n' => return i,
            '"' if !escaped => return i + 1,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    rest.len()
}

/// Length of a comparison or assignment operator at the start of `rest`, or 0.
fn operator_len(rest: &str) -> usize {
    if ["==", "!=", "<=", ">="]
        .iter()
        .any(|op| rest.starts_with(op))
    {
        2
    } else if rest.starts_with('=') {
        1
    } else {
        0
    }
}

/// Length of the word at the start of `rest`.
fn word_len(rest: &str) -> usize {
    rest.char_indices()
        .find(|&(i, c)| {
            i > 0
                && (c.is_whitespace()
                    || matches!(c, '"' | '{' | '}' | '(' | ')' | ',')
                    || operator_len(&rest[i..]) > 0)
        })
        .map_or(rest.len(), |(i, _)| i)
}

// ---------------------------------------------------------------------------
// What the parse tree tells the layout

/// Where statements start, and which words get padded to a column.
struct Layout {
    /// Offsets of items, statements, policy clauses and class lines.
    starts: HashSet<usize>,
    /// Offsets of words padded to a width: policy clause keywords, class verbs.
    padded: HashMap<usize, usize>,
}

impl Layout {
    /// Reads the layout facts from a parse tree.
    fn of(pairs: pest::iterators::Pairs<'_, Rule>) -> Layout {
        let mut layout = Layout {
            starts: HashSet::new(),
            padded: HashMap::new(),
        };
        for p in pairs {
            layout.visit(p, None);
        }
        layout
    }

    fn visit(&mut self, pair: Pair<'_, Rule>, parent: Option<Rule>) {
        let which = pair.as_rule();
        let at = pair.as_span().start();
        // `else if`: the inner `if` continues the statement it sits in.
        let else_if = which == Rule::s_if && parent == Some(Rule::s_if);
        if is_start(which) && !else_if {
            self.starts.insert(at);
        }
        match which {
            Rule::p_secret
            | Rule::p_length
            | Rule::p_attempts
            | Rule::p_lockout
            | Rule::p_unlock_by
            | Rule::p_unlock_does => {
                self.padded.insert(at, POLICY_KEYWORD_WIDTH);
            }
            Rule::class_line => {
                self.padded.insert(at, CLASS_VERB_WIDTH);
            }
            _ => {}
        }
        for child in pair.into_inner() {
            self.visit(child, Some(which));
        }
    }
}

/// Whether a rule begins a line of its own kind: an item, statement, clause or class line.
fn is_start(which: Rule) -> bool {
    parse::is_statement(which)
        || parse::is_item(which)
        || parse::is_policy_clause(which)
        || which == Rule::class_line
}

// ---------------------------------------------------------------------------
// Lines

/// One output line: its tokens and a comment after them (alone, a comment line).
#[derive(Default)]
struct Line<'a> {
    tokens: Vec<Token<'a>>,
    comment: Option<&'a str>,
}

impl Line<'_> {
    fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.comment.is_none()
    }

    fn last_kind(&self) -> Option<Kind> {
        self.tokens.last().map(|t| t.kind)
    }
}

/// An output line or one blank line.
enum Row<'a> {
    Code(Line<'a>),
    Blank,
}

/// For each `{`, whether its block spans lines in the input (so it does in the output).
fn spans_lines(tokens: &[Token<'_>]) -> HashSet<usize> {
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut multi = HashSet::new();
    let mut line = 0;
    for t in tokens {
        match t.kind {
            Kind::Newline => line += 1,
            Kind::Hook => line += t.text.matches('\n').count(),
            Kind::Open => open.push((t.at, line)),
            Kind::Close => {
                if let Some((at, started)) = open.pop()
                    && started != line
                {
                    multi.insert(at);
                    multi.insert(t.at);
                }
            }
            _ => {}
        }
    }
    multi
}

/// Breaks the tokens into output lines (before indentation and spacing).
fn lines<'a>(tokens: &[Token<'a>]) -> Vec<Row<'a>> {
    let multi = spans_lines(tokens);
    let mut rows: Vec<Row<'a>> = Vec::new();
    let mut cur = Line::default();
    let mut blank = false;
    let mut previous: Option<Kind> = None;
    for (i, &t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::Newline => {
                if !cur.is_empty() {
                    rows.push(Row::Code(std::mem::take(&mut cur)));
                } else if matches!(previous, None | Some(Kind::Newline)) {
                    blank = true;
                }
            }
            Kind::Comment => {
                // A `{` pulled up to a commented head line: this comment goes below.
                if cur.comment.is_some() {
                    rows.push(Row::Code(std::mem::take(&mut cur)));
                }
                if cur.tokens.is_empty() && std::mem::take(&mut blank) {
                    rows.push(Row::Blank);
                }
                cur.comment = Some(t.text);
            }
            Kind::Open if cur.tokens.is_empty() && joins_head(&rows, multi.contains(&t.at)) => {
                // `{` goes up to the end of its head line.
                while matches!(rows.last(), Some(Row::Blank)) {
                    rows.pop();
                }
                if let Some(Row::Code(head)) = rows.pop() {
                    cur = head;
                }
                blank = false;
                cur.tokens.push(t);
            }
            Kind::Close if multi.contains(&t.at) => {
                if !cur.is_empty() {
                    rows.push(Row::Code(std::mem::take(&mut cur)));
                }
                blank = false;
                cur.tokens.push(t);
            }
            Kind::Word if t.text == "else" && cur.is_empty() && follows_close(&rows) => {
                // `}` newline `else` becomes `} else`.
                if let Some(Row::Code(close)) = rows.pop() {
                    cur = close;
                }
                blank = false;
                cur.tokens.push(t);
            }
            _ => {
                if cur.is_empty() && std::mem::take(&mut blank) {
                    rows.push(Row::Blank);
                }
                cur.tokens.push(t);
            }
        }
        if matches!(t.kind, Kind::Open | Kind::Close) && multi.contains(&t.at) {
            let next = tokens.get(i + 1);
            let keeps_line = next.is_none_or(|n| {
                matches!(n.kind, Kind::Newline | Kind::Comment)
                    || (t.kind == Kind::Close && n.kind == Kind::Word && n.text == "else")
            });
            if !keeps_line {
                rows.push(Row::Code(std::mem::take(&mut cur)));
            }
        }
        previous = Some(t.kind);
    }
    if !cur.is_empty() {
        rows.push(Row::Code(cur));
    }
    tidy_blanks(rows)
}

/// Whether a `{` first on its line can join the line before (its head): that line
/// has code, does not end a block, and, if the block stays on one line, has no
/// comment the block's code would have to follow.
fn joins_head(rows: &[Row<'_>], block_spans_lines: bool) -> bool {
    let head = rows.iter().rev().find(|r| !matches!(r, Row::Blank));
    match head {
        Some(Row::Code(line)) => {
            !line.tokens.is_empty()
                && !matches!(line.last_kind(), Some(Kind::Open | Kind::Close))
                && (block_spans_lines || line.comment.is_none())
        }
        _ => false,
    }
}

/// Whether the last line is a lone `}` with no comment, which an `else` joins.
fn follows_close(rows: &[Row<'_>]) -> bool {
    matches!(rows.last(), Some(Row::Code(line))
        if line.last_kind() == Some(Kind::Close) && line.comment.is_none())
}

/// Drops blank lines at the start and end of the file and of every block.
fn tidy_blanks(rows: Vec<Row<'_>>) -> Vec<Row<'_>> {
    let mut out: Vec<Row<'_>> = Vec::with_capacity(rows.len());
    for row in rows {
        match &row {
            Row::Blank => {
                let after_open = match out.last() {
                    None | Some(Row::Blank) => true,
                    Some(Row::Code(line)) => line.last_kind() == Some(Kind::Open),
                };
                if after_open {
                    continue;
                }
            }
            Row::Code(line) => {
                if line.tokens.first().map(|t| t.kind) == Some(Kind::Close)
                    && matches!(out.last(), Some(Row::Blank))
                {
                    out.pop();
                }
            }
        }
        out.push(row);
    }
    if matches!(out.last(), Some(Row::Blank)) {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------
// Writing

/// Writes the tokens in canonical form.
fn render(tokens: &[Token<'_>], layout: &Layout) -> String {
    let mut out = String::new();
    // The indentation of each open `{`'s line.
    let mut open: Vec<usize> = Vec::new();
    for row in lines(tokens) {
        let Row::Code(line) = row else {
            out.push('\n');
            continue;
        };
        let body = open.last().map_or(0, |&i| i + 1);
        let depth = match line.tokens.first() {
            None => body,
            Some(t) if t.kind == Kind::Close => open.last().copied().unwrap_or(0),
            // An `else` kept off its `}` (by a comment there) lines up with its `if`.
            Some(t) if layout.starts.contains(&t.at) || t.text == "else" => body,
            Some(_) => body + 1,
        };
        let mut text = "  ".repeat(depth);
        for (i, t) in line.tokens.iter().enumerate() {
            if i > 0 {
                text.push_str(&gap(&line.tokens[i - 1], t, i == 1, layout));
            }
            text.push_str(t.text);
            match t.kind {
                Kind::Open => open.push(depth),
                Kind::Close => {
                    open.pop();
                }
                _ => {}
            }
        }
        if let Some(comment) = line.comment {
            if !line.tokens.is_empty() {
                // A hook body's last line is what the comment follows.
                let width = text.rsplit('\n').next().unwrap_or("").chars().count();
                let pad = if width + 2 <= COMMENT_COLUMN {
                    COMMENT_COLUMN - width
                } else {
                    2
                };
                text.push_str(&" ".repeat(pad));
            }
            text.push_str(comment);
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// The whitespace between two tokens on a line.
fn gap(before: &Token<'_>, token: &Token<'_>, after_first: bool, layout: &Layout) -> String {
    // A lone `[` or `]` is a list's bracket (a pattern's `[1-5]` is inside a word).
    let glued = matches!(token.kind, Kind::Comma | Kind::RParen)
        || before.kind == Kind::LParen
        || (before.kind == Kind::Word && before.text == "[")
        || (token.kind == Kind::Word && token.text == "]")
        || (token.kind == Kind::LParen
            && before.kind == Kind::Word
            && matches!(before.text, "tally" | "extension" | "code"))
        || (before.kind == Kind::RParen && token.kind == Kind::Word && token.text.starts_with('.'));
    if glued {
        return String::new();
    }
    if layout.starts.contains(&token.at) && before.kind != Kind::Open {
        return "  ".to_string();
    }
    if after_first && let Some(&width) = layout.padded.get(&before.at) {
        return " ".repeat(width.saturating_sub(before.text.chars().count()).max(1));
    }
    " ".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        let out = format(FileId(0), text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let again = format(FileId(0), &out).unwrap();
        assert_eq!(out, again, "not idempotent");
        out
    }

    #[test]
    fn spaces_indents_and_puts_braces_in_place() {
        let text = "dial   *23\n{\n      play x\n  if  a==1{\n hangup }\n}";
        assert_eq!(
            fmt(text),
            "dial *23 {\n  play x\n  if a == 1 {\n    hangup\n  }\n}\n"
        );
    }

    #[test]
    fn a_hash_in_a_string_or_pattern_is_not_a_comment() {
        let text = "dial \"*#06\" { play x }   # shows the serial\ndial *#07 { hangup }\n";
        assert_eq!(
            fmt(text),
            "dial \"*#06\" { play x }            # shows the serial\ndial *#07 { hangup }\n"
        );
    }

    #[test]
    fn hook_bodies_are_kept_byte_for_byte() {
        let text = "hook   screen \"\"\"\n   if x   { \"#no\" }  \n\t\"\"\"   # trailing\n";
        assert_eq!(
            fmt(text),
            "hook screen \"\"\"\n   if x   { \"#no\" }  \n\t\"\"\"                              # trailing\n"
        );
    }

    #[test]
    fn comments_and_one_blank_line_survive() {
        let text = "\n\n# head\n\n\n\nset a=[ 1 ,2 ] # one\nset long_name_for_a_setting_here = 2 # two\n\n\n";
        assert_eq!(
            fmt(text),
            "# head\n\nset a = [1, 2]                    # one\nset long_name_for_a_setting_here = 2  # two\n"
        );
    }

    #[test]
    fn nested_blocks_else_if_and_branches() {
        let text = "sub s {\n\n  if a { play x }\n  else if b {\n  play y\n  }\n  else {\n\n hangup\n\n }\ncheck p against caller.pin\nok { hangup }\n  invalid {  play x  retry }\n}\n";
        assert_eq!(
            fmt(text),
            "sub s {\n  if a { play x } else if b {\n    play y\n  } else {\n    hangup\n  }\n  check p against caller.pin\n    ok { hangup }\n    invalid { play x  retry }\n}\n"
        );
    }

    #[test]
    fn an_else_after_a_commented_brace_lines_up_with_its_if() {
        let text = "dial 1 {\n if a { hangup } # c\n else {\n hangup\n }\n}\n";
        assert_eq!(
            fmt(text),
            "dial 1 {\n  if a { hangup }                 # c\n  else {\n    hangup\n  }\n}\n"
        );
    }

    #[test]
    fn calls_policies_and_classes_line_up() {
        let text = "policy p {\nsecret code.pin\nattempts 3 # three\n}\nclass 2 \"x\" { allow .\ndeny 011. }\ndial 1 { if tally ( f , caller , 1m ) >= 3 and extension( n ).exists { hangup } }\n";
        assert_eq!(
            fmt(text),
            "policy p {\n  secret   code.pin\n  attempts 3                      # three\n}\nclass 2 \"x\" {\n  allow .\n  deny  011.\n}\ndial 1 { if tally(f, caller, 1m) >= 3 and extension(n).exists { hangup } }\n"
        );
    }

    #[test]
    fn a_brace_moved_up_keeps_both_comments() {
        let text = "dial 1 # one\n\n{ # two\n  hangup\n}\n";
        assert_eq!(
            fmt(text),
            "dial 1 {                          # one\n  # two\n  hangup\n}\n"
        );
    }

    #[test]
    fn a_keyword_before_spaces_and_a_comment_is_the_same_statement() {
        let text =
            "dial 1 {\n  check p against caller.pin\n    invalid { retry   # again\n    }\n}\n";
        assert_eq!(
            fmt(text),
            "dial 1 {\n  check p against caller.pin\n    invalid {\n      retry                       # again\n    }\n}\n"
        );
    }

    #[test]
    fn a_plan_that_does_not_parse_is_refused_with_its_place() {
        let errors = format(FileId(0), "dial 1 {\n  plya x\n}\n").unwrap_err();
        assert!(errors[0].span.is_some(), "{errors:?}");
    }
}
