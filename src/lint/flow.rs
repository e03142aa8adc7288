//! Where a rule's program can go: the lowered ops as a graph, so lint can ask what a
//! caller reaches from a point without running a call.

use crate::dsl::plan::{Op, Program};

/// Whether an op lets a caller reach the outside: a call out, a grant that opens
/// outbound calling, or digits dialed again (which may take the outside prefix).
pub fn reaches_outside(op: &Op) -> bool {
    matches!(
        op,
        Op::Outbound(_) | Op::Dial { .. } | Op::GrantOutbound { .. }
    )
}

/// The ops a program may run next after `at`. A `check` leads to its three branches
/// unless `through_checks` is false, so a walk can ask what is open without a secret.
fn next(program: &Program, at: usize, through_checks: bool) -> Vec<usize> {
    let after = at + 1;
    match &program.ops[at] {
        Op::Jump(to) => vec![*to],
        Op::JumpUnless(_, to) => vec![after, *to],
        Op::Check {
            ok,
            locked,
            invalid,
            ..
        } => {
            if through_checks {
                vec![*ok, *locked, *invalid]
            } else {
                Vec::new()
            }
        }
        Op::Retry {
            target, exhausted, ..
        } => std::iter::once(*target).chain(*exhausted).collect(),
        Op::Alert { busy, .. } => std::iter::once(after).chain(*busy).collect(),
        // These end the call or hand it to other rules.
        Op::Hangup
        | Op::Reject(_)
        | Op::Outbound(_)
        | Op::Voicemail(_)
        | Op::Messages(_)
        | Op::Ring(_)
        | Op::Dial { .. } => Vec::new(),
        _ => vec![after],
    }
}

/// The ops reachable from `start` (itself included), as one flag per op.
pub fn reachable(program: &Program, start: usize, through_checks: bool) -> Vec<bool> {
    let mut seen = vec![false; program.ops.len()];
    let mut todo = vec![start];
    while let Some(at) = todo.pop() {
        if at >= program.ops.len() || seen[at] {
            continue;
        }
        seen[at] = true;
        todo.extend(next(program, at, through_checks));
    }
    seen
}

/// The first op reachable from `start` that reaches the outside.
pub fn first_outside(program: &Program, start: usize, through_checks: bool) -> Option<usize> {
    let seen = reachable(program, start, through_checks);
    (0..program.ops.len()).find(|&i| seen[i] && reaches_outside(&program.ops[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first op of the plan's first dial rule that reaches the outside.
    fn outside(text: &str, through_checks: bool) -> Option<usize> {
        let plan =
            crate::dsl::compile_str("t.pbx", text).unwrap_or_else(|f| panic!("{}", f.render()));
        let program = &plan.programs[plan.rules.dial[0].program];
        first_outside(program, 0, through_checks)
    }

    #[test]
    fn a_check_guards_what_only_its_ok_branch_reaches() {
        let plan = "policy p { secret code.pin length 4 }\n\
             dial *5 { ask enter-pin into pin check pin against code(pin).pin ok { outbound pin } invalid { hangup } }";
        assert_eq!(outside(plan, false), None);
        assert!(outside(plan, true).is_some());
    }

    #[test]
    fn both_sides_of_an_if_are_followed() {
        assert!(outside("dial 9<n> { if n == 1 { hangup } outbound n }", false).is_some());
        assert_eq!(outside("dial 9<n> { hangup }", false), None);
    }
}
