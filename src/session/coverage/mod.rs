//! `pbxctl test --coverage`: which rules, branches, hooks and lines of the dialplans
//! the sessions ran, merged per source file over every session and every plan that
//! reads the file (an included file counts once), and what never ran.

pub mod cobertura;
pub mod lcov;
pub mod points;
pub mod text;

use super::runner::Outcome;
use crate::dsl::Plan;
use crate::engine::coverage::{Arm, Ran};
use points::{Instance, Key, PointId};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Coverage of every dialplan file the sessions used, by path.
#[derive(Debug, Default)]
pub struct Coverage {
    /// The files, sorted by path.
    pub files: Vec<FileCoverage>,
}

/// One source file's coverage.
#[derive(Debug, Default)]
pub struct FileCoverage {
    /// The path, as the plans name it.
    pub path: String,
    /// Its rules, in file order.
    pub rules: Vec<Function>,
    /// Its hooks, in file order.
    pub hooks: Vec<Function>,
    /// Its branching statements, in file order.
    pub branches: Vec<Branch>,
    /// Lines holding statements, and how often each ran.
    pub lines: BTreeMap<usize, u32>,
    /// What never ran, by line: only what running its rule or branch would not
    /// already cover.
    pub never_ran: Vec<(usize, String)>,
}

/// A rule or a hook.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its head (`dial 9<number>`, `hook screen`).
    pub name: String,
    /// Its line.
    pub line: usize,
    /// Times a call entered it (for a hook: consulted it).
    pub hits: u32,
}

/// A branching statement and its arms.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Its line.
    pub line: usize,
    /// Times the statement ran.
    pub reached: u32,
    /// Each arm: what it is, and times taken.
    pub arms: Vec<(String, u32)>,
}

/// Covered and total counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ratio {
    /// How many ran.
    pub covered: usize,
    /// How many there are.
    pub total: usize,
}

impl Ratio {
    /// Counts the items that ran.
    fn of(hits: impl Iterator<Item = u32>) -> Ratio {
        hits.fold(Ratio::default(), |r, h| Ratio {
            covered: r.covered + usize::from(h > 0),
            total: r.total + 1,
        })
    }

    /// The covered share, 1 when there is nothing to cover.
    pub fn rate(self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.covered as f64 / self.total as f64
        }
    }
}

impl FileCoverage {
    /// Rules entered.
    pub fn rule_ratio(&self) -> Ratio {
        Ratio::of(self.rules.iter().map(|f| f.hits))
    }

    /// Hooks consulted.
    pub fn hook_ratio(&self) -> Ratio {
        Ratio::of(self.hooks.iter().map(|f| f.hits))
    }

    /// Branch arms taken.
    pub fn branch_ratio(&self) -> Ratio {
        Ratio::of(
            self.branches
                .iter()
                .flat_map(|b| b.arms.iter().map(|a| a.1)),
        )
    }

    /// Lines run.
    pub fn line_ratio(&self) -> Ratio {
        Ratio::of(self.lines.values().copied())
    }
}

/// What the outcomes' sessions ran, merged per plan, then per file.
pub fn gather(outcomes: &[Outcome]) -> Coverage {
    let mut plans: Vec<(Arc<Plan>, Ran)> = Vec::new();
    for (plan, ran) in outcomes.iter().filter_map(|o| o.ran.as_ref()) {
        match plans.iter_mut().find(|(p, _)| Arc::ptr_eq(p, plan)) {
            Some((_, total)) => total.merge(ran),
            None => plans.push((Arc::clone(plan), ran.clone())),
        }
    }
    let instances = plans
        .iter()
        .flat_map(|(plan, ran)| points::instances(plan, ran))
        .collect();
    merge(instances)
}

/// One point, summed over its instances.
struct Summed {
    instance: Instance,
    unexplained: bool,
}

/// Sums instances of the same point and sorts them into files.
pub fn merge(instances: Vec<Instance>) -> Coverage {
    let mut summed: BTreeMap<PointId, Summed> = BTreeMap::new();
    let mut parents: Vec<(PointId, Vec<PointId>)> = Vec::new();
    for i in instances {
        let key = (i.point.file.clone(), i.point.key.clone());
        parents.push((key.clone(), i.parents.clone()));
        match summed.get_mut(&key) {
            Some(s) => {
                s.instance.hits += i.hits;
                s.instance.reached += i.reached;
            }
            None => {
                summed.insert(
                    key,
                    Summed {
                        instance: i,
                        unexplained: false,
                    },
                );
            }
        }
    }
    // A point that never ran is worth listing when some instance of it sat where the
    // calls went: no enclosing rule or arm that never ran accounts for it.
    for (id, ps) in parents {
        let ran = |p: &PointId| summed.get(p).is_some_and(|s| s.instance.hits > 0);
        if (ps.is_empty() || ps.iter().any(ran))
            && let Some(s) = summed.get_mut(&id)
        {
            s.unexplained = true;
        }
    }
    let mut files: BTreeMap<String, FileCoverage> = BTreeMap::new();
    let mut branches: BTreeMap<(String, usize), Branch> = BTreeMap::new();
    for ((path, key), s) in summed {
        let Summed {
            instance: i,
            unexplained,
        } = s;
        let file = files.entry(path.clone()).or_insert_with(|| FileCoverage {
            path: path.clone(),
            ..FileCoverage::default()
        });
        if i.hits == 0 && unexplained {
            let what = match key {
                Key::Rule(_) => format!("rule `{}`", i.point.label),
                Key::Hook(_) => format!("`{}`", i.point.label),
                Key::Arm(..) => i.point.label.clone(),
                Key::Line(_) => format!("`{}`", i.point.label),
            };
            file.never_ran.push((i.point.shown_at, what));
        }
        let function = Function {
            name: i.point.label.clone(),
            line: i.point.line,
            hits: i.hits,
        };
        match key {
            Key::Rule(_) => file.rules.push(function),
            Key::Hook(_) => file.hooks.push(function),
            Key::Line(line) => {
                file.lines.insert(line, i.hits);
            }
            Key::Arm(at, arm) => {
                let branch = branches.entry((path, at)).or_insert_with(|| Branch {
                    line: i.point.line,
                    reached: 0,
                    arms: Vec::new(),
                });
                // Every arm counts its statement's runs; one is enough.
                if arm == first_arm(arm) {
                    branch.reached = i.reached;
                }
                branch.arms.push((i.point.label, i.hits));
            }
        }
    }
    for ((path, _), branch) in branches {
        if let Some(file) = files.get_mut(&path) {
            file.branches.push(branch);
        }
    }
    for file in files.values_mut() {
        file.rules.sort_by_key(|f| f.line);
        file.hooks.sort_by_key(|f| f.line);
        file.branches.sort_by_key(|b| b.line);
        // Stable: on one line, a rule before its branches before the line itself.
        file.never_ran.sort_by_key(|(line, _)| *line);
    }
    Coverage {
        files: files.into_values().collect(),
    }
}

/// The arm every branching statement of its kind has.
fn first_arm(arm: Arm) -> Arm {
    match arm {
        Arm::Ok | Arm::Locked | Arm::Invalid => Arm::Ok,
        Arm::Then | Arm::Else => Arm::Then,
        Arm::Again | Arm::Exhausted => Arm::Again,
        Arm::Busy | Arm::Unanswered => Arm::Busy,
    }
}

/// A path for reports: `a/b/../c` as `a/c`, so a file reached through an include
/// and directly reads the same.
pub fn display_path(path: &Path) -> String {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::compile_str;

    const PLAN: &str = r#"
sub goodbye {
  play goodbye
  hangup
}

dial 501 {
  if caller.dnd { reject dnd }
  do goodbye
}

dial 502 {
  do goodbye
}
"#;

    fn coverage(ran: impl Fn(&Plan, &mut Ran)) -> FileCoverage {
        let plan = compile_str("t.pbx", PLAN).expect("the plan compiles");
        let mut counts = Ran::new(&plan);
        ran(&plan, &mut counts);
        let mut c = merge(points::instances(&plan, &counts));
        assert_eq!(c.files.len(), 1);
        c.files.remove(0)
    }

    #[test]
    fn a_rule_never_entered_is_listed_alone() {
        let file = coverage(|_, _| {});
        assert_eq!(
            file.never_ran,
            [
                (7, "rule `dial 501`".to_string()),
                (12, "rule `dial 502`".to_string())
            ]
        );
        assert_eq!(
            file.rule_ratio(),
            Ratio {
                covered: 0,
                total: 2
            }
        );
        assert_eq!(
            file.branch_ratio(),
            Ratio {
                covered: 0,
                total: 2
            }
        );
    }

    #[test]
    fn a_sub_run_from_one_rule_is_covered_and_the_other_rule_listed() {
        let file = coverage(|plan, ran| {
            let first = plan.rules.dial[0].program;
            ran.enter(first);
            for pc in 0..plan.programs[first].ops.len() {
                ran.op(first, pc);
            }
            ran.arm(first, 0, Arm::Else);
        });
        assert_eq!(file.lines.get(&3), Some(&1), "{:?}", file.lines);
        assert_eq!(file.lines.get(&4), Some(&1), "{:?}", file.lines);
        assert_eq!(
            file.never_ran,
            [
                (8, "the body of `if caller.dnd`".to_string()),
                (12, "rule `dial 502`".to_string())
            ]
        );
        assert_eq!(
            file.branch_ratio(),
            Ratio {
                covered: 1,
                total: 2
            }
        );
    }

    #[test]
    fn a_path_through_an_include_reads_as_the_file() {
        let path = Path::new("tests/sessions/pp/../../../dialplans/default.pbx");
        assert_eq!(display_path(path), "dialplans/default.pbx");
        assert_eq!(display_path(Path::new("../a/./b/../c.pbx")), "../a/c.pbx");
    }
}
