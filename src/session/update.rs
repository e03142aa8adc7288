//! `pbxctl test --update`: rewrite a session's `expect` steps from what happened.
//! Every other line of the file is kept as written.

use super::file::{Step, StepKind};
use super::runner::leg_letter;
use crate::engine::event::Event;

/// The new text of a session file whose steps caused `caused` (one list per step).
pub fn rewrite(text: &str, steps: &[Step], caused: &[Vec<(String, Event)>]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = steps.first() else {
        return text.to_string();
    };
    let start = first.line - 1;
    // The steps end where the next top-level key starts.
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| !l.is_empty() && !l.starts_with([' ', '\t', '-', '#']))
        .map_or(lines.len(), |(i, _)| i);
    let indent: String = lines[start]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    let mut current = String::from("a");
    let mut legs_seen = 0;
    for (i, step) in steps.iter().enumerate() {
        let from = step.line - 1;
        let to = steps.get(i + 1).map_or(end, |s| s.line - 1);
        if !matches!(step.kind, StepKind::Expect(_)) {
            out.extend(lines[from..to].iter().map(|l| l.to_string()));
        }
        match &step.kind {
            StepKind::Call { name, .. } => {
                current = name.clone().unwrap_or_else(|| leg_letter(legs_seen));
                legs_seen += 1;
            }
            StepKind::Leg(n) => current = n.clone(),
            _ => {}
        }
        let events = caused.get(i).map(Vec::as_slice).unwrap_or_default();
        let mut shown = current.clone();
        for (leg, event) in events {
            if *leg != shown {
                out.push(format!("{indent}- leg: {leg}"));
                shown = leg.clone();
            }
            out.push(format!("{indent}- expect: {event}"));
        }
        if shown != current {
            out.push(format!("{indent}- leg: {current}"));
        }
    }
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}
