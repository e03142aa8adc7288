//! What of a plan ran, for `pbxctl test --coverage`: the rules entered, the ops run,
//! the way each branch went and the hooks consulted. The engine keeps it only when its
//! driver asks ([`super::Engine::record_coverage`]); counts, no clock, no IO.

use crate::dsl::Plan;
use std::collections::BTreeMap;

/// The ways a branching op can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arm {
    /// A `check` found the right secret.
    Ok,
    /// A `check` found the secret locked.
    Locked,
    /// A `check` found a wrong secret.
    Invalid,
    /// An `if` condition held.
    Then,
    /// An `if` condition did not hold.
    Else,
    /// A `retry` went back for another attempt.
    Again,
    /// A `retry` found the attempts used up.
    Exhausted,
    /// An `alert` found the phone busy and took its `busy` block.
    Busy,
    /// An `alert` went unanswered and the program went on.
    Unanswered,
}

/// Counts of what ran, per program of one plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ran {
    /// Per program: times a rule started it.
    pub entered: Vec<u32>,
    /// Per program, per op: times the op ran.
    pub ops: Vec<Vec<u32>>,
    /// Times each (program, op) branched each way.
    pub arms: BTreeMap<(usize, usize, Arm), u32>,
    /// Times each hook was consulted, by name.
    pub hooks: BTreeMap<String, u32>,
}

impl Ran {
    /// Nothing run yet of `plan`.
    pub fn new(plan: &Plan) -> Ran {
        Ran {
            entered: vec![0; plan.programs.len()],
            ops: plan.programs.iter().map(|p| vec![0; p.ops.len()]).collect(),
            arms: BTreeMap::new(),
            hooks: BTreeMap::new(),
        }
    }

    /// A rule started `program`.
    pub fn enter(&mut self, program: usize) {
        if let Some(n) = self.entered.get_mut(program) {
            *n += 1;
        }
    }

    /// The op at `pc` of `program` ran.
    pub fn op(&mut self, program: usize, pc: usize) {
        if let Some(n) = self.ops.get_mut(program).and_then(|p| p.get_mut(pc)) {
            *n += 1;
        }
    }

    /// The branching op at `pc` of `program` went `arm`.
    pub fn arm(&mut self, program: usize, pc: usize, arm: Arm) {
        *self.arms.entry((program, pc, arm)).or_insert(0) += 1;
    }

    /// The engine consulted hook `name`.
    pub fn hook(&mut self, name: &str) {
        *self.hooks.entry(name.to_string()).or_insert(0) += 1;
    }

    /// Adds another run of the same plan to this one.
    pub fn merge(&mut self, other: &Ran) {
        for (a, b) in self.entered.iter_mut().zip(&other.entered) {
            *a += b;
        }
        for (a, b) in self.ops.iter_mut().zip(&other.ops) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (k, n) in &other.arms {
            *self.arms.entry(*k).or_insert(0) += n;
        }
        for (k, n) in &other.hooks {
            *self.hooks.entry(k.clone()).or_insert(0) += n;
        }
    }
}
