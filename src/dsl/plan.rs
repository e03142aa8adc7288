//! A checked plan: what the engine runs. Rule bodies are lowered to flat op lists
//! with jumps, so a call leg is just a program and a position, easy to suspend.

use super::ast::{OwnerKind, Unlocker};
use super::diagnostic::Diagnostic;
use super::expr::{Expr, Party};
use super::pattern::Pattern;
use super::reason::RejectReason;
use super::settings::{SettingId, SettingTable, Settings};
use super::span::{SourceMap, Span};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A loaded, checked dialplan.
#[derive(Debug)]
pub struct Plan {
    /// The files it came from.
    pub sources: SourceMap,
    /// Settings and their defaults.
    pub settings: SettingTable,
    /// Names of the leg variables, indexed by [`super::expr::VarId`].
    pub vars: Vec<String>,
    /// PIN policies, indexed by [`PolicyId`].
    pub policies: Vec<Policy>,
    /// Classes of service by number.
    pub classes: BTreeMap<u32, Class>,
    /// Rules, by kind, in order.
    pub rules: Rules,
    /// Lowered rule bodies, indexed by [`Rule::program`].
    pub programs: Vec<Program>,
    /// Rhai hooks by name.
    pub hooks: BTreeMap<String, HookCode>,
    /// Where each setting was last `set`, for findings about its value.
    pub setting_spans: BTreeMap<String, Span>,
    /// Findings that did not stop the plan from loading.
    pub warnings: Vec<Diagnostic>,
}

impl Plan {
    /// The plan's own settings, with no overrides.
    pub fn default_settings(&self) -> Settings {
        Settings::new(&self.settings, &[])
    }

    /// The slot of a leg variable.
    pub fn var(&self, name: &str) -> Option<super::expr::VarId> {
        self.vars.iter().position(|v| v == name)
    }

    /// The policy governing a secret.
    pub fn policy(&self, owner: OwnerKind, secret: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.owner == owner && p.secret == secret)
    }

    /// Every prompt the plan can play, each with where it is first used, in plan order.
    pub fn prompt_uses(&self) -> Vec<(&str, Span)> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for program in &self.programs {
            for (op, span) in program.ops.iter().zip(&program.spans) {
                if let Op::Play { prompt, .. } | Op::Ask { prompt, .. } = op
                    && seen.insert(prompt.as_str())
                {
                    out.push((prompt.as_str(), *span));
                }
                // The voicemail's own prompts, where the plan hands a call to it.
                let built_in = match op {
                    Op::Messages(_) => MAILBOX_PROMPTS,
                    Op::Voicemail(_) => DEPOSIT_PROMPTS,
                    _ => &[],
                };
                for prompt in built_in {
                    if seen.insert(prompt) {
                        out.push((prompt, *span));
                    }
                }
            }
        }
        out
    }
}

/// The prompts a caller leaving a message (`voicemail`) hears.
pub const DEPOSIT_PROMPTS: &[&str] = &["voicemail-greeting", "goodbye"];

/// The prompts the mailbox menu (`messages`) plays.
pub const MAILBOX_PROMPTS: &[&str] = &[
    "voicemail-menu",
    "new-messages",
    "saved-messages",
    "mailbox-options",
    "no-messages",
    "message-number",
    "message-options",
    "message-saved",
    "message-deleted",
    "no-more-messages",
    "goodbye",
];

/// Index into [`Plan::policies`].
pub type PolicyId = usize;

/// The four rule lists.
#[derive(Debug, Default)]
pub struct Rules {
    /// Digits dialed by an extension.
    pub dial: Vec<Rule>,
    /// Calls from outside.
    pub inbound: Vec<Rule>,
    /// Calls reaching an extension.
    pub incoming: Vec<Rule>,
    /// Digits pressed during an established call.
    pub incall: Vec<Rule>,
}

/// A rule: matcher, guard, program.
#[derive(Debug)]
pub struct Rule {
    /// What the rule takes.
    pub matcher: Matcher,
    /// `when COND`.
    pub guard: Option<Expr>,
    /// Index into [`Plan::programs`].
    pub program: usize,
    /// The rule's head.
    pub span: Span,
}

/// What a rule matches.
#[derive(Debug)]
pub enum Matcher {
    /// Everything.
    Any,
    /// A configured extension.
    Extension,
    /// A member of a list setting.
    In(SettingId),
    /// A dial pattern.
    Pattern(Pattern),
}

/// A secret policy (PG-1).
#[derive(Debug)]
pub struct Policy {
    /// Its name in the plan.
    pub name: String,
    /// Who owns the secret.
    pub owner: OwnerKind,
    /// Which secret (`password`, `voicemail`, `pin`).
    pub secret: String,
    /// Shortest allowed secret.
    pub min_len: u32,
    /// Longest allowed secret.
    pub max_len: u32,
    /// Wrong entries in one call before the call ends.
    pub attempts: u32,
    /// When the secret locks.
    pub lockout: Lockout,
    /// Who may unlock it from a phone.
    pub unlock_by: Unlocker,
    /// Whether unlocking clears the secret.
    pub unlock_clears: bool,
    /// The policy item.
    pub span: Span,
}

/// When failures lock a secret.
#[derive(Debug)]
pub enum Lockout {
    /// Never.
    Off,
    /// After `threshold` failures, counted across calls unless `per_call`, and only
    /// while `when` holds. Both read settings only (the checker sees to it), so the
    /// threshold is plain data for a phone and the CLI alike.
    After {
        threshold: Expr,
        per_call: bool,
        when: Option<Expr>,
    },
}

/// A class of service (VC-7).
#[derive(Debug)]
pub struct Class {
    /// Its number.
    pub number: u32,
    /// Its description.
    pub label: String,
    /// `allow` (true) and `deny` (false) patterns.
    pub lines: Vec<(bool, Pattern)>,
    /// The class item.
    pub span: Span,
}

impl Class {
    /// Whether a number (outside prefix already stripped) may be dialed: the most
    /// specific matching pattern decides, a tie goes to `deny`, no match denies.
    pub fn permits(&self, number: &str) -> bool {
        self.decides(number).is_some_and(|(allow, _)| *allow)
    }

    /// The line that decides a number: the most specific matching pattern, `deny` on
    /// a tie; `None` when no line matches (which denies).
    pub fn decides(&self, number: &str) -> Option<&(bool, Pattern)> {
        let mut best: Option<&(bool, Pattern)> = None;
        for line in self
            .lines
            .iter()
            .filter(|(_, p)| p.matches(number).is_some())
        {
            best = match best {
                None => Some(line),
                Some(cur) => match line.1.specificity_cmp(&cur.1) {
                    std::cmp::Ordering::Less => Some(line),
                    std::cmp::Ordering::Equal if !line.0 => Some(line),
                    _ => Some(cur),
                },
            };
        }
        best
    }
}

/// Rhai source for a hook, with where it came from.
#[derive(Debug, Clone)]
pub struct HookCode {
    /// The hook's name.
    pub name: String,
    /// The Rhai code.
    pub code: String,
    /// The file the code is in.
    pub path: PathBuf,
    /// Line in `path` of the code's first line, minus one.
    pub line_offset: usize,
    /// The hook item, for messages.
    pub span: Span,
    /// The hook's name where it is defined, for findings about the hook as a whole.
    pub name_span: Span,
}

/// A lowered rule body.
#[derive(Debug, Default)]
pub struct Program {
    /// The ops.
    pub ops: Vec<Op>,
    /// The source of each op.
    pub spans: Vec<Span>,
}

/// Extension state that `set` may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateField {
    /// The terminal is blocked (PP).
    Blocked,
    /// Do not disturb.
    Dnd,
    /// Forward all calls.
    ForwardAll,
    /// Forward on busy.
    ForwardBusy,
    /// Forward on no answer.
    ForwardNoAnswer,
}

impl StateField {
    /// The field's dotted name.
    pub fn name(self) -> &'static str {
        match self {
            StateField::Blocked => "blocked",
            StateField::Dnd => "dnd",
            StateField::ForwardAll => "forward.all",
            StateField::ForwardBusy => "forward.busy",
            StateField::ForwardNoAnswer => "forward.no_answer",
        }
    }

    /// Looks a dotted name up.
    pub fn from_name(name: &str) -> Option<StateField> {
        [
            Self::Blocked,
            Self::Dnd,
            Self::ForwardAll,
            Self::ForwardBusy,
            Self::ForwardNoAnswer,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

/// A secret as the program names it: a party and the policy that governs it.
#[derive(Debug, Clone)]
pub struct SecretTarget {
    /// Whose secret (`caller`, `extension(m)`, `code(c)`).
    pub party: Party,
    /// The governing policy.
    pub policy: PolicyId,
}

/// One step of a program.
#[derive(Debug, Clone)]
pub enum Op {
    /// Play a prompt.
    Play { prompt: String, arg: Option<Expr> },
    /// Play a tone.
    Tone(String),
    /// Play a prompt and collect digits into a variable.
    Ask {
        prompt: String,
        var: super::expr::VarId,
    },
    /// Check a secret; jump to one of three places.
    Check {
        input: Expr,
        secret: SecretTarget,
        ok: usize,
        locked: usize,
        invalid: usize,
    },
    /// Go to an op.
    Jump(usize),
    /// Go to an op unless the condition holds.
    JumpUnless(Expr, usize),
    /// Change extension state.
    Set {
        party: Party,
        field: StateField,
        value: Expr,
    },
    /// Bind a variable.
    Let {
        var: super::expr::VarId,
        value: Expr,
    },
    /// Open the outbound window for an extension.
    GrantOutbound { party: Party, duration: Expr },
    /// Lift a lockout.
    Unlock(SecretTarget),
    /// Deliver to an extension through the `incoming` rules.
    Ring(Expr),
    /// Ring a phone (or a follow-me list in turn); continue after it on no answer, or
    /// at `busy` when the phone is busy and the plan says where to go.
    Alert {
        target: Expr,
        timeout: Option<Expr>,
        busy: Option<usize>,
    },
    /// Pass the call on as the callee's forward (FC-2).
    Forward(Expr),
    /// Add a number to a list setting.
    ListAdd { list: SettingId, value: Expr },
    /// Take a number out of a list setting.
    ListRemove { list: SettingId, value: Expr },
    /// Leave through the trunk.
    Outbound(Expr),
    /// Leave a message.
    Voicemail(Expr),
    /// Hear and handle a mailbox's messages.
    Messages(Expr),
    /// Refuse the call.
    Reject(RejectReason),
    /// End the call.
    Hangup,
    /// Try again from `target` while the policy's attempts last.
    Retry {
        policy: PolicyId,
        target: usize,
        exhausted: Option<usize>,
    },
    /// Run the dial rules on new digits, optionally as a verification code.
    Dial { number: Expr, as_code: Option<Expr> },
    /// Count an event.
    Tally { name: String, key: Expr },
    /// Ask a hook for a decision.
    Run(String),
    /// Pause.
    Wait(Expr),
}

/// Tones a plan may play.
pub const TONES: &[&str] = &["confirm", "error", "dialtone", "ringback", "busy"];

/// Hook points the engine calls by itself.
pub const HOOK_POINTS: &[&str] = &["on-lockout", "before-outbound"];
