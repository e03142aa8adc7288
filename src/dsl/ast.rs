//! The syntax tree of a dialplan file. Every node keeps the span it came from.

use super::pattern::Pattern;
use super::span::Span;
use crate::clock::Duration;

/// A word from the source: an identifier or a name such as `enter-pin`.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    /// The text.
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// A parsed file.
#[derive(Clone, Debug, Default)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug)]
pub enum Item {
    /// `include "path"`.
    Include { path: String, span: Span },
    /// `set NAME = VALUE`.
    Setting { name: Word, value: Literal },
    /// `policy NAME { .. }`.
    Policy(PolicyDef),
    /// `class N "label" { .. }`.
    Class(ClassDef),
    /// `hook NAME ..`.
    Hook(HookDef),
    /// `sub NAME { .. }`.
    Sub { name: Word, body: Block },
    /// `dial`, `inbound`, `incoming` or `incall` rule.
    Rule(RuleDef),
}

/// A constant value.
#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    /// The value.
    pub value: LiteralValue,
    /// Where it stands.
    pub span: Span,
}

/// The kinds of constant.
#[derive(Clone, Debug, PartialEq)]
pub enum LiteralValue {
    /// Digits (and `*`), kept as text so leading zeros survive.
    Digits(String),
    /// A quoted string.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `none`.
    None,
    /// `30s`.
    Duration(Duration),
    /// `100-899`.
    Range(u64, u64),
    /// `[911, 112]`.
    List(Vec<Literal>),
}

/// `policy NAME { .. }`: one clause each, all optional in the syntax.
#[derive(Clone, Debug)]
pub struct PolicyDef {
    /// The policy's name.
    pub name: Word,
    /// The whole item.
    pub span: Span,
    /// `secret extension.voicemail`.
    pub secret: Option<(OwnerKind, Word)>,
    /// `length 4 to 10`.
    pub length: Option<(u32, u32, Span)>,
    /// `attempts 3`.
    pub attempts: Option<(u32, Span)>,
    /// `lockout ..`.
    pub lockout: Option<LockoutDef>,
    /// `unlock by ..`.
    pub unlock_by: Option<(Unlocker, Span)>,
    /// `unlock clears|keeps secret`: true for clears.
    pub unlock_clears: Option<(bool, Span)>,
}

/// What owns a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// An extension (terminal password, voicemail PIN).
    Extension,
    /// A verification code.
    Code,
}

impl OwnerKind {
    /// The word used in plans and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Extension => "extension",
            OwnerKind::Code => "code",
        }
    }
}

/// `lockout off` or `lockout after N [per call] [when COND]`.
#[derive(Clone, Debug)]
pub enum LockoutDef {
    /// Never lock.
    Off(Span),
    /// Lock after a number of failures.
    After {
        threshold: Expr,
        per_call: bool,
        when: Option<Expr>,
        span: Span,
    },
}

/// Who may lift a lockout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlocker {
    /// Only an administrator, from the command line.
    Admin,
    /// A manager extension from a phone, or an administrator.
    Manager,
    /// The owner from their own phone, or an administrator.
    Owner,
}

/// `class N "label" { allow .. deny .. }`.
#[derive(Clone, Debug)]
pub struct ClassDef {
    /// The class number.
    pub number: u32,
    /// Its description.
    pub label: Option<String>,
    /// `allow` (true) or `deny` (false) lines.
    pub lines: Vec<(bool, Pattern)>,
    /// The whole item.
    pub span: Span,
}

/// `hook NAME from "file"` or an inline block.
#[derive(Clone, Debug)]
pub struct HookDef {
    /// The hook point or the name `run` calls.
    pub name: Word,
    /// Where its code is.
    pub source: HookSource,
}

/// The code of a hook.
#[derive(Clone, Debug)]
pub enum HookSource {
    /// A Rhai file, relative to the plan.
    File { path: String, span: Span },
    /// Rhai code inside the plan.
    Inline { code: String, span: Span },
}

/// Which calls a rule takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// Digits dialed by an extension.
    Dial,
    /// Calls arriving from outside.
    Inbound,
    /// A call reaching an extension.
    Incoming,
    /// Digits pressed during an established call.
    Incall,
}

impl RuleKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Dial => "dial",
            RuleKind::Inbound => "inbound",
            RuleKind::Incoming => "incoming",
            RuleKind::Incall => "incall",
        }
    }
}

/// What a rule matches.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// No matcher (`incoming`).
    Always,
    /// `any`.
    Any,
    /// `extension`: a configured extension number.
    Extension,
    /// `in SETTING`: one of a list setting's numbers.
    In(Word),
    /// A dial pattern.
    Pattern(Pattern),
}

/// A rule.
#[derive(Clone, Debug)]
pub struct RuleDef {
    /// dial, inbound, incoming or incall.
    pub kind: RuleKind,
    /// What it matches.
    pub matcher: Matcher,
    /// `when COND`.
    pub guard: Option<Expr>,
    /// What it does.
    pub body: Block,
    /// The rule's head, for messages.
    pub span: Span,
}

/// `{ stmt* }`.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// The braces and all between.
    pub span: Span,
}

/// A statement and its place.
#[derive(Clone, Debug)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// Where it stands.
    pub span: Span,
}

/// Which outcome of a `check` a branch handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BranchKind {
    /// The secret matched and is not locked.
    Ok,
    /// The secret matched but is locked (PG-3).
    Locked,
    /// Anything else: wrong, unknown, unset, or locked and wrong.
    Invalid,
}

/// The statements.
#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `play PROMPT [ARG]`.
    Play { prompt: Word, arg: Option<Expr> },
    /// `tone ID`.
    Tone(Word),
    /// `ask PROMPT into VAR`.
    Ask { prompt: Word, var: Word },
    /// `check INPUT against SECRET ok {} locked {} invalid {}`.
    Check {
        input: Expr,
        secret: SecretRef,
        branches: Vec<(BranchKind, Block, Span)>,
    },
    /// `if COND {} else {}`.
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// `set OBJECT.FIELD = VALUE`.
    Set {
        object: Object,
        field: Vec<Word>,
        value: Expr,
    },
    /// `let VAR = VALUE`.
    Let { var: Word, value: Expr },
    /// `grant WHAT to OBJECT for DURATION`.
    Grant {
        what: Word,
        object: Object,
        duration: Expr,
    },
    /// `unlock SECRET`.
    Unlock(SecretRef),
    /// `ring EXT`.
    Ring(Expr),
    /// `alert TARGET [for DURATION] [busy {}]`.
    Alert {
        target: Expr,
        timeout: Option<Expr>,
        busy: Option<Block>,
    },
    /// `forward TARGET`.
    Forward(Expr),
    /// `add VALUE to LIST`.
    ListAdd { value: Expr, list: Word },
    /// `remove VALUE from LIST`.
    ListRemove { value: Expr, list: Word },
    /// `outbound NUMBER`.
    Outbound(Expr),
    /// `voicemail MAILBOX`.
    Voicemail(Expr),
    /// `messages MAILBOX`.
    Messages(Expr),
    /// `reject REASON`.
    Reject(Word),
    /// `hangup`.
    Hangup,
    /// `retry [else {}]`.
    Retry { otherwise: Option<Block> },
    /// `attempt {}`.
    Attempt(Block),
    /// `dial NUMBER [as OBJECT]`.
    Dial {
        number: Expr,
        as_object: Option<Object>,
    },
    /// `tally NAME for KEY`.
    Tally { name: Word, key: Expr },
    /// `run HOOK`.
    Run(Word),
    /// `wait DURATION`.
    Wait(Expr),
    /// `do SUB`.
    Do(Word),
}

/// `OBJECT.SECRET`, e.g. `code(c).pin`.
#[derive(Clone, Debug)]
pub struct SecretRef {
    /// Whose secret.
    pub object: Object,
    /// Which secret.
    pub secret: Word,
    /// The whole reference.
    pub span: Span,
}

/// Something with fields: a leg's party, a variable, or a looked-up record.
#[derive(Clone, Debug)]
pub enum Object {
    /// `caller`, `callee`, a variable or a setting.
    Named(Word),
    /// `extension(EXPR)`.
    Extension(Box<Expr>, Span),
    /// `code(EXPR)`.
    Code(Box<Expr>, Span),
}

impl Object {
    /// Where the object stands.
    pub fn span(&self) -> Span {
        match self {
            Object::Named(w) => w.span,
            Object::Extension(_, s) | Object::Code(_, s) => *s,
        }
    }
}

/// An expression and its place.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`: membership in a list.
    In,
}

/// The expressions.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A constant.
    Literal(LiteralValue),
    /// `object.field.field`.
    Path { object: Object, fields: Vec<Word> },
    /// `not E`.
    Not(Box<Expr>),
    /// `A and B and ...`: a flat list, so a long chain is not a deep tree.
    And(Vec<Expr>),
    /// `A or B or ...`: a flat list, so a long chain is not a deep tree.
    Or(Vec<Expr>),
    /// `A op B`.
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// `tally(NAME, KEY, WINDOW)`.
    Tally {
        name: Word,
        key: Box<Expr>,
        window: Box<Expr>,
    },
}
