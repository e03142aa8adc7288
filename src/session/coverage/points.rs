//! What one plan offers to cover, and how often each piece ran: its rules, the arms of
//! its branches, its hooks and the lines its ops stand on. A sub is inlined wherever
//! `do` runs it, so one source point may have several instances; each instance says
//! which enclosing point (its rule, or the arm it sits in) explains it not running.

use crate::dsl::Plan;
use crate::dsl::plan::{Op, Program};
use crate::dsl::span::Span;
use crate::engine::coverage::{Arm, Ran};
use std::ops::Range;

/// A point of a source file, the same in every plan that reads the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A rule, by where its head starts.
    Rule(usize),
    /// A hook, by where its item starts.
    Hook(usize),
    /// One arm of a branching statement, by where the statement starts.
    Arm(usize, Arm),
    /// A 1-based line holding ops.
    Line(usize),
}

/// A point anywhere: its file, as the plan names it, and the point.
pub type PointId = (String, Key);

/// A point in a file, with what it reads like.
#[derive(Debug, Clone)]
pub struct Point {
    /// The file, as the plan names it.
    pub file: String,
    /// The point.
    pub key: Key,
    /// Its 1-based line (an arm's is its statement's).
    pub line: usize,
    /// The line to show it at: an arm written on a line of its own is shown there.
    pub shown_at: usize,
    /// How it reads: a rule's or hook's head, a branch's description, a line's text.
    pub label: String,
}

/// One instance of a point in one plan, and how often it ran.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The point.
    pub point: Point,
    /// Times it ran (for an arm: taken).
    pub hits: u32,
    /// For an arm: times its statement ran, so a branch never reached differs from
    /// one never taken.
    pub reached: u32,
    /// The enclosing points (its rule, the arms it sits in) whose not running
    /// explains this one's; none for a rule or a hook.
    pub parents: Vec<PointId>,
}

/// Every coverable point of `plan`, with what `ran` counted.
pub fn instances(plan: &Plan, ran: &Ran) -> Vec<Instance> {
    let mut out = Vec::new();
    let rules = [
        &plan.rules.dial,
        &plan.rules.inbound,
        &plan.rules.incoming,
        &plan.rules.incall,
    ];
    for rule in rules.into_iter().flatten() {
        let point = point(plan, rule.span, Key::Rule(rule.span.start as usize), head);
        let hits = ran.entered.get(rule.program).copied().unwrap_or(0);
        let rule_key = (point.file.clone(), point.key.clone());
        out.push(Instance {
            point,
            hits,
            reached: hits,
            parents: Vec::new(),
        });
        let program = &plan.programs[rule.program];
        let counts = ran.ops.get(rule.program).map_or(&[][..], Vec::as_slice);
        program_instances(plan, program, rule.program, counts, ran, rule_key, &mut out);
    }
    for hook in plan.hooks.values() {
        let point = point(plan, hook.span, Key::Hook(hook.span.start as usize), |_| {
            format!("hook {}", hook.name)
        });
        let hits = ran.hooks.get(&hook.name).copied().unwrap_or(0);
        out.push(Instance {
            point,
            hits,
            reached: hits,
            parents: Vec::new(),
        });
    }
    out
}

/// An arm of a branching op: which way, what it is called, and the ops it covers.
struct ArmOf {
    arm: Arm,
    label: String,
    ops: Range<usize>,
    /// Where the arm is written, when it is a block of its own (`ok { .. }`).
    written: Option<Span>,
}

fn program_instances(
    plan: &Plan,
    program: &Program,
    index: usize,
    counts: &[u32],
    ran: &Ran,
    rule: PointId,
    out: &mut Vec<Instance>,
) {
    let count = |pc: usize| counts.get(pc).copied().unwrap_or(0);
    // Arms hold ranges of ops; the innermost arm holding an op explains it.
    let mut regions: Vec<(Range<usize>, PointId)> = Vec::new();
    let mut arms = Vec::new();
    for (pc, span) in program.spans.iter().enumerate() {
        for a in arms_of(plan, program, pc) {
            let mut point = point(plan, *span, Key::Arm(span.start as usize, a.arm), |_| {
                a.label.clone()
            });
            if let Some(written) = a.written {
                point.shown_at = point_line(plan, written);
            }
            regions.push((a.ops.clone(), (point.file.clone(), point.key.clone())));
            let hits = ran.arms.get(&(index, pc, a.arm)).copied().unwrap_or(0);
            arms.push((pc, point, hits));
        }
    }
    let line_key = |span: Span| {
        let p = point(plan, span, Key::Line(0), |_| String::new());
        (p.file, Key::Line(p.line))
    };
    let parent_of = |pc: usize| {
        regions
            .iter()
            .filter(|(r, _)| r.contains(&pc))
            .min_by_key(|(r, _)| r.len())
            .map_or_else(|| rule.clone(), |(_, key)| key.clone())
    };
    for (pc, point, hits) in arms {
        // An arm whose statement never ran is explained by the statement's line.
        out.push(Instance {
            point,
            hits,
            reached: count(pc),
            parents: vec![line_key(program.spans[pc])],
        });
    }
    // A line ran as often as its busiest op; it is explained when every op on it is.
    let mut lines: Vec<Instance> = Vec::new();
    for (pc, (op, span)) in program.ops.iter().zip(&program.spans).enumerate() {
        // A jump is the plan's plumbing, not a statement: it has no line of its own.
        if matches!(op, Op::Jump(_)) {
            continue;
        }
        let (file, key) = line_key(*span);
        let parent = parent_of(pc);
        match lines
            .iter_mut()
            .find(|l| l.point.file == file && l.point.key == key)
        {
            Some(line) => {
                line.hits = line.hits.max(count(pc));
                line.reached = line.hits;
                if !line.parents.contains(&parent) {
                    line.parents.push(parent);
                }
            }
            None => lines.push(Instance {
                point: point(plan, *span, key, line_text),
                hits: count(pc),
                reached: count(pc),
                parents: vec![parent],
            }),
        }
    }
    out.extend(lines);
}

/// The arms of the op at `pc`, if it branches.
fn arms_of(plan: &Plan, program: &Program, pc: usize) -> Vec<ArmOf> {
    let ops = &program.ops;
    let span = program.spans[pc];
    let head = head(plan.sources.text(span));
    let arm = |arm, label: String, ops: Range<usize>| ArmOf {
        arm,
        label,
        ops,
        written: None,
    };
    let jump_target = |at: usize| match ops.get(at) {
        Some(Op::Jump(to)) => Some(*to),
        _ => None,
    };
    match &ops[pc] {
        Op::Check {
            ok,
            locked,
            invalid,
            ..
        } => {
            // Without a `locked` branch a locked secret goes where a wrong one does.
            let mut starts = vec![(*ok, Arm::Ok, "ok"), (*invalid, Arm::Invalid, "invalid")];
            if locked != invalid {
                starts.push((*locked, Arm::Locked, "locked"));
            }
            starts.sort();
            // Every branch ends in a jump past the last one.
            let end = starts
                .get(1)
                .and_then(|(s, ..)| jump_target(s - 1))
                .unwrap_or(ops.len());
            let mut arms: Vec<ArmOf> = starts
                .iter()
                .enumerate()
                .map(|(i, (start, a, name))| {
                    let stop = starts.get(i + 1).map_or(end, |(s, ..)| *s);
                    // Each branch ends in a jump that carries the branch's own span.
                    ArmOf {
                        written: program.spans.get(stop.wrapping_sub(1)).copied(),
                        ..arm(*a, format!("the `{name}` branch of `{head}`"), *start..stop)
                    }
                })
                .collect();
            arms.sort_by_key(|a| a.arm);
            arms
        }
        Op::JumpUnless(_, target) => {
            let else_end = match jump_target(target - 1) {
                Some(end) if program.spans[target - 1] == span && target - 1 > pc => Some(end),
                _ => None,
            };
            let otherwise = match else_end {
                Some(end) => arm(
                    Arm::Else,
                    format!("the `else` branch of `{head}`"),
                    *target..end,
                ),
                None => arm(
                    Arm::Else,
                    format!("`{head}` with its condition false"),
                    *target..*target,
                ),
            };
            vec![
                arm(Arm::Then, format!("the body of `{head}`"), pc + 1..*target),
                otherwise,
            ]
        }
        Op::Retry { exhausted, .. } => {
            let again = arm(Arm::Again, "`retry` trying again".into(), pc..pc);
            let out_of = match exhausted {
                Some(start) => {
                    // The `else` block ends with the hangup lowered for the `retry`.
                    let end = (*start..ops.len())
                        .find(|&i| matches!(ops[i], Op::Hangup) && program.spans[i] == span)
                        .map_or(ops.len(), |i| i + 1);
                    let label = "the `else` branch of `retry` (attempts used up)".into();
                    arm(Arm::Exhausted, label, *start..end)
                }
                None => arm(
                    Arm::Exhausted,
                    "`retry` with its attempts used up".into(),
                    pc..pc,
                ),
            };
            vec![again, out_of]
        }
        Op::Alert {
            busy: Some(start), ..
        } => {
            let end = jump_target(pc + 1).unwrap_or(ops.len());
            vec![
                arm(
                    Arm::Busy,
                    format!("the `busy` branch of `{head}`"),
                    *start..end,
                ),
                arm(
                    Arm::Unanswered,
                    format!("`{head}` going unanswered"),
                    pc..pc,
                ),
            ]
        }
        _ => Vec::new(),
    }
}

/// A point at `span`, its label made from the source text of the span's first line.
fn point(plan: &Plan, span: Span, key: Key, label: impl Fn(&str) -> String) -> Point {
    let file = plan.sources.file(span.file);
    let line = file.line_index(span.start as usize);
    // A line reads as the whole line; anything else from where it starts.
    let from = match key {
        Key::Line(_) => file.line_range(line).map_or(0, |r| r.start),
        _ => span.start as usize,
    };
    let text = file
        .line_range(line)
        .map_or("", |r| &file.text[from..r.end]);
    Point {
        file: super::display_path(&file.path),
        key,
        line: line + 1,
        shown_at: line + 1,
        label: label(text),
    }
}

/// The 1-based line a span starts on.
fn point_line(plan: &Plan, span: Span) -> usize {
    plan.sources.file(span.file).line_index(span.start as usize) + 1
}

/// A statement's head: its first line up to a block, without a comment.
fn head(text: &str) -> String {
    let first = line_text(text);
    let end = code_end(&first, '{');
    first[..end].trim_end().to_string()
}

/// A line's code, without its comment, shortened past 60 characters.
fn line_text(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let code = line[..code_end(line, '#')].trim();
    match code.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &code[..i]),
        None => code.to_string(),
    }
}

/// Where `stop` first occurs outside a quoted string, or the end.
fn code_end(line: &str, stop: char) -> usize {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == stop && !quoted => return i,
            _ => {}
        }
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::compile_str;

    const PLAN: &str = r#"
policy code-pin {
  secret   code.pin
  length   4 to 10
  attempts 3
  lockout  after 5
  unlock   by admin
}

hook screen """
  true
"""

dial 547 {
  ask enter-code into code
  ask enter-pin into pin
  check pin against code(code).pin
    ok { play code-accepted }
    locked { play pin-locked  hangup }
    invalid {
      play pin-invalid
      retry else { hangup }
    }
  if caller.manager {
    play feature-unavailable
  }
  if caller.dnd { play forward-on } else { play forward-off }
}

dial any {
  run screen
  reject not-found
}
"#;

    fn points() -> Vec<Instance> {
        let plan = compile_str("t.pbx", PLAN).expect("the plan compiles");
        instances(&plan, &Ran::new(&plan))
    }

    fn labels(of: impl Fn(&Key) -> bool) -> Vec<String> {
        points()
            .into_iter()
            .filter(|i| of(&i.point.key))
            .map(|i| format!("{}: {}", i.point.shown_at, i.point.label))
            .collect()
    }

    #[test]
    fn every_branch_arm_is_a_point_with_its_line() {
        assert_eq!(
            labels(|k| matches!(k, Key::Arm(..))),
            [
                "18: the `ok` branch of `check pin against code(code).pin`",
                "19: the `locked` branch of `check pin against code(code).pin`",
                "20: the `invalid` branch of `check pin against code(code).pin`",
                "22: `retry` trying again",
                "22: the `else` branch of `retry` (attempts used up)",
                "24: the body of `if caller.manager`",
                "24: `if caller.manager` with its condition false",
                "27: the body of `if caller.dnd`",
                "27: the `else` branch of `if caller.dnd`",
            ]
        );
    }

    #[test]
    fn rules_and_hooks_are_points_named_by_their_heads() {
        assert_eq!(
            labels(|k| matches!(k, Key::Rule(_) | Key::Hook(_))),
            ["14: dial 547", "30: dial any", "10: hook screen"]
        );
    }

    #[test]
    fn lines_are_the_statements_not_the_braces() {
        let mut lines = labels(|k| matches!(k, Key::Line(_)));
        lines.dedup();
        assert_eq!(
            lines,
            [
                "15: ask enter-code into code",
                "16: ask enter-pin into pin",
                "17: check pin against code(code).pin",
                "18: ok { play code-accepted }",
                "19: locked { play pin-locked  hangup }",
                "21: play pin-invalid",
                "22: retry else { hangup }",
                "24: if caller.manager {",
                "25: play feature-unavailable",
                "27: if caller.dnd { play forward-on } else { play forward-off }",
                "31: run screen",
                "32: reject not-found",
            ]
        );
    }

    #[test]
    fn a_line_in_a_branch_is_explained_by_that_branch() {
        let all = points();
        let play = all
            .iter()
            .find(|i| i.point.label == "play pin-invalid")
            .expect("the line is a point");
        let [(_, Key::Arm(_, arm))] = play.parents.as_slice() else {
            panic!("explained by an arm, not {:?}", play.parents);
        };
        assert_eq!(*arm, Arm::Invalid);
        let ask = all
            .iter()
            .find(|i| i.point.label == "ask enter-code into code")
            .expect("the line is a point");
        assert!(matches!(ask.parents.as_slice(), [(_, Key::Rule(_))]));
    }
}
