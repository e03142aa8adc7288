//! The session file format: `name`, `dialplan`, `clock`, `given`, `steps`, `then`.

use crate::clock::{Duration, Timestamp};
use crate::directory::Directory;
use crate::directory::yaml;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap, Span};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    #[serde(default)]
    dialplan: Option<String>,
    #[serde(default)]
    clock: Option<Spanned<String>>,
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    given: Directory,
    steps: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    then: Option<serde_json::Value>,
    #[serde(default)]
    expect_error: Option<Vec<String>>,
}

/// A parsed session.
#[derive(Debug)]
pub struct SessionFile {
    /// The file.
    pub path: PathBuf,
    /// Its `name:`, starting with a behaviour ID.
    pub name: String,
    /// The plan named in the file, resolved against the file's folder.
    pub dialplan: Option<PathBuf>,
    /// Start of the virtual clock.
    pub clock: Timestamp,
    /// Skip nothing in `expect`.
    pub strict: bool,
    /// State before the first step.
    pub given: Directory,
    /// The steps.
    pub steps: Vec<Step>,
    /// JSON views to match afterwards.
    pub then: Option<serde_json::Value>,
    /// The `given` must be refused, with messages containing all of these.
    pub expect_error: Option<Vec<String>>,
    /// The file's text, for spans.
    pub sources: SourceMap,
    /// Its id in `sources`.
    pub file: FileId,
}

/// A step and where it is.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// 1-based line.
    pub line: usize,
    /// The step as written, for messages.
    pub text: String,
    /// Its span in the file.
    pub span: Span,
}

/// The step kinds of `sessions.md`.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `call: FROM -> TO`.
    Call {
        /// Calling number.
        from: String,
        /// Dialed digits.
        to: String,
        /// Leg name, if given with `as`.
        name: Option<String>,
    },
    /// `dtmf: DIGITS`.
    Dtmf {
        /// The keys.
        digits: String,
        /// Time between keys.
        gap: Duration,
        /// Another leg than the current one.
        leg: Option<String>,
    },
    /// `dtmf: {from: call.wav}`: presses found in a recording, with their offsets.
    Recording {
        /// The file, as written.
        from: String,
        /// (key, milliseconds from the step's start).
        presses: Vec<(char, u64)>,
        /// Another leg than the current one.
        leg: Option<String>,
    },
    /// `expect: EVENT`.
    Expect(String),
    /// `answer: EXT` or `answer: {ext: EXT, as: NAME}`: the phone ringing at EXT answers;
    /// its leg is named NAME (default: the extension).
    Answer {
        /// The extension.
        ext: String,
        /// The callee's leg name, if given.
        name: Option<String>,
    },
    /// `busy: EXT`: the phone ringing at EXT answers busy.
    Busy(String),
    /// `unreachable: EXT`: the phone ringing at EXT cannot be reached (nothing
    /// registered there, or it stopped ringing by itself).
    Unreachable(String),
    /// `hangup` or `hangup: LEG`.
    Hangup(Option<String>),
    /// `wait: DURATION`.
    Wait(Duration),
    /// `leg: NAME`.
    Leg(String),
    /// `pbxctl: ARGS`, optionally with stdin and expected output and status.
    Pbxctl {
        /// The command line after `pbxctl`.
        args: String,
        /// Standard input.
        stdin: String,
        /// A line the output must contain.
        output: Option<String>,
        /// The exit code expected (default 0).
        status: Option<i32>,
        /// Texts the output must not contain (secrets, for PG-4).
        output_lacks: Vec<String>,
    },
}

impl SessionFile {
    /// Reads and parses a session file; errors carry file:line:col.
    pub fn load(path: &Path) -> Result<SessionFile, (SourceMap, Diagnostic)> {
        let mut sources = SourceMap::default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                return Err((
                    sources,
                    Diagnostic::unplaced("read", format!("cannot read {}: {e}", path.display())),
                ));
            }
        };
        let file = sources.add(path, text);
        let raw: Raw = match yaml::parse(&sources, file) {
            Ok(r) => r,
            Err(d) => return Err((sources, d)),
        };
        let clock = match &raw.clock {
            None => Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("valid default clock"),
            Some(c) => match Timestamp::parse_rfc3339(&c.value) {
                Ok(t) => t,
                Err(e) => {
                    let span = yaml::span_at(&sources, file, c.referenced);
                    return Err((sources, Diagnostic::error("clock", span, e)));
                }
            },
        };
        let mut steps = Vec::new();
        for s in &raw.steps {
            let span = yaml::span_at(&sources, file, s.referenced);
            let line = s.referenced.line() as usize;
            let text = line_text(&sources, file, line);
            match parse_step(&s.value, &text) {
                Ok(kind) => steps.push(Step {
                    kind,
                    line,
                    text: text.trim().trim_start_matches("- ").to_string(),
                    span,
                }),
                Err(message) => return Err((sources, Diagnostic::error("step", span, message))),
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for step in &mut steps {
            if let StepKind::Recording { from, presses, .. } = &mut step.kind {
                match crate::media::recording::presses(&base.join(&*from)) {
                    Ok(found) => *presses = found,
                    Err(e) => {
                        return Err((
                            sources,
                            Diagnostic::error("recording", step.span, format!("{from}: {e}")),
                        ));
                    }
                }
            }
        }
        Ok(SessionFile {
            path: path.to_path_buf(),
            name: raw.name,
            dialplan: raw.dialplan.map(|d| base.join(d)),
            clock,
            strict: raw.strict,
            given: raw.given,
            steps,
            then: raw.then,
            expect_error: raw.expect_error,
            sources,
            file,
        })
    }
}

fn line_text(sources: &SourceMap, file: FileId, line: usize) -> String {
    sources
        .file(file)
        .text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .to_string()
}

/// A scalar as text. Plain YAML numbers lose leading zeros, so digits are read
/// back from the source line when the value was parsed as a number.
fn scalar(v: &serde_json::Value, source_line: &str, key: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => {
            let raw = source_line
                .split_once(&format!("{key}:"))
                .map(|(_, rest)| {
                    rest.split('#')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .trim_end_matches(['}', ','])
                        .trim()
                        .to_string()
                })
                .filter(|r| r.bytes().all(|b| b.is_ascii_digit()) && !r.is_empty());
            Some(raw.unwrap_or_else(|| n.to_string()))
        }
        _ => None,
    }
}

fn parse_step(v: &serde_json::Value, line: &str) -> Result<StepKind, String> {
    use serde_json::Value as J;
    if let J::String(s) = v {
        return match s.as_str() {
            "hangup" => Ok(StepKind::Hangup(None)),
            other => Err(format!(
                "`{other}` is not a step (steps: call, dtmf, expect, answer, busy, hangup, wait, leg, pbxctl)"
            )),
        };
    }
    let J::Object(map) = v else {
        return Err("a step is a one-key map such as `dtmf: 1234#`".into());
    };
    if map.len() != 1 {
        return Err(
            "a step has exactly one key (call, dtmf, expect, answer, busy, hangup, wait, leg, pbxctl)"
                .into(),
        );
    }
    let (key, value) = map.iter().next().expect("one entry");
    let text = |what: &str| scalar(value, line, key).ok_or_else(|| format!("`{key}` takes {what}"));
    match key.as_str() {
        "call" => match value {
            J::Object(m) => {
                let get = |k: &str| m.get(k).and_then(|v| scalar(v, line, k));
                Ok(StepKind::Call {
                    from: get("from").ok_or("`call` needs `from`")?,
                    to: get("to").ok_or("`call` needs `to`")?,
                    name: get("as"),
                })
            }
            _ => {
                let t = text("`FROM -> TO`")?;
                let (from, to) = t.split_once("->").ok_or("`call` takes `FROM -> TO`")?;
                Ok(StepKind::Call {
                    from: from.trim().into(),
                    to: to.trim().into(),
                    name: None,
                })
            }
        },
        "dtmf" => match value {
            J::Object(m) => {
                if let Some(from) = m.get("from").and_then(|v| scalar(v, line, "from")) {
                    let leg = m.get("leg").and_then(|v| scalar(v, line, "leg"));
                    return Ok(StepKind::Recording {
                        from,
                        presses: Vec::new(),
                        leg,
                    });
                }
                let digits = m
                    .get("digits")
                    .and_then(|v| scalar(v, line, "digits"))
                    .ok_or("`dtmf` needs `digits`")?;
                let gap = match m.get("gap").and_then(|v| scalar(v, line, "gap")) {
                    Some(g) => Duration::parse(&g)?,
                    None => Duration(100),
                };
                let leg = m.get("leg").and_then(|v| scalar(v, line, "leg"));
                check_digits(&digits)?;
                Ok(StepKind::Dtmf { digits, gap, leg })
            }
            _ => {
                let digits = text("digits")?;
                check_digits(&digits)?;
                Ok(StepKind::Dtmf {
                    digits,
                    gap: Duration(100),
                    leg: None,
                })
            }
        },
        "expect" => Ok(StepKind::Expect(
            text("an event such as `prompt enter-pin`")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "answer" => match value {
            J::Object(m) => {
                let get = |k: &str| m.get(k).and_then(|v| scalar(v, line, k));
                Ok(StepKind::Answer {
                    ext: get("ext").ok_or("`answer` needs `ext`")?,
                    name: get("as"),
                })
            }
            _ => Ok(StepKind::Answer {
                ext: text("an extension")?,
                name: None,
            }),
        },
        "busy" => Ok(StepKind::Busy(text("an extension")?)),
        "unreachable" => Ok(StepKind::Unreachable(text("an extension")?)),
        "hangup" => Ok(StepKind::Hangup(Some(text("a leg name")?))),
        "wait" => Ok(StepKind::Wait(Duration::parse(&text("a duration")?)?)),
        "leg" => Ok(StepKind::Leg(text("a leg name")?)),
        "pbxctl" => match value {
            J::Object(m) => {
                const KEYS: [&str; 5] = ["run", "stdin", "output", "status", "output_lacks"];
                if let Some(k) = m.keys().find(|k| !KEYS.contains(&k.as_str())) {
                    return Err(format!(
                        "`pbxctl` has no key `{k}` (keys: {})",
                        KEYS.join(", ")
                    ));
                }
                let output_lacks = match m.get("output_lacks") {
                    None => Vec::new(),
                    Some(J::Array(items)) => items
                        .iter()
                        .map(|i| scalar(i, "", "").ok_or("`output_lacks` is a list of texts"))
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err("`output_lacks` is a list of texts".into()),
                };
                Ok(StepKind::Pbxctl {
                    args: m
                        .get("run")
                        .and_then(J::as_str)
                        .ok_or("`pbxctl` needs `run: ARGS`")?
                        .to_string(),
                    stdin: m
                        .get("stdin")
                        .and_then(|v| scalar(v, line, "stdin"))
                        .unwrap_or_default(),
                    output: m.get("output").and_then(|v| scalar(v, line, "output")),
                    status: m.get("status").and_then(J::as_i64).map(|s| s as i32),
                    output_lacks,
                })
            }
            _ => Ok(StepKind::Pbxctl {
                args: text("arguments")?,
                stdin: String::new(),
                output: None,
                status: None,
                output_lacks: Vec::new(),
            }),
        },
        other => Err(format!(
            "`{other}` is not a step (steps: call, dtmf, expect, answer, busy, hangup, wait, leg, pbxctl)"
        )),
    }
}

fn check_digits(digits: &str) -> Result<(), String> {
    match digits.chars().find(|c| !matches!(c, '0'..='9' | '*' | '#')) {
        Some(c) => Err(format!("`{c}` is not a key on a phone (0-9, *, #)")),
        None if digits.is_empty() => Err("`dtmf` needs at least one key".into()),
        None => Ok(()),
    }
}
