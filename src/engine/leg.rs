//! One call leg: who called what, where its program is, and what it waits for.

use super::event::LegId;
use crate::clock::Timestamp;
use crate::dsl::plan::PolicyId;
use crate::dsl::value::Value;
use std::collections::HashMap;

/// What a leg is waiting for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// Not waiting: the program runs.
    Running,
    /// Collecting digits for `ask`.
    Collect {
        /// The variable to fill.
        var: String,
        /// The prompt, to repeat once on silence.
        prompt: String,
        /// Digits so far.
        digits: String,
        /// Whether the prompt was already repeated.
        repeated: bool,
    },
    /// Ringing an extension (`alert`).
    Alert {
        /// The extension.
        extension: String,
    },
    /// Pausing (`wait`).
    Sleep,
    /// Bridged; in-call digits go to the `incall` rules.
    Connected,
    /// Leaving a message.
    Voicemail,
    /// Over.
    Done,
}

/// How the call ended, for its call record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Who finally took the call.
    pub final_party: Option<String>,
    /// When it was connected.
    pub connected_at: Option<Timestamp>,
    /// The reject reason.
    pub rejected: Option<String>,
    /// An `alert` ran out.
    pub unanswered: bool,
    /// The PBX itself answered (played a prompt).
    pub answered_by_pbx: bool,
    /// Left through the trunk.
    pub external: bool,
}

/// A call leg.
#[derive(Debug, Clone)]
pub struct Leg {
    /// Its id.
    pub id: LegId,
    /// Calling number.
    pub caller: String,
    /// Whether the caller is a configured extension.
    pub caller_is_extension: bool,
    /// The digits first dialed.
    pub dialed: String,
    /// When it started.
    pub start: Timestamp,
    /// The running program and position.
    pub program: usize,
    /// Next op.
    pub pc: usize,
    /// Leg variables (`ask`, `let`, captures, `dialed`).
    pub vars: HashMap<String, Value>,
    /// The extension being called, inside `incoming` rules.
    pub callee: Option<String>,
    /// Class of service in force, if not the caller's own (VC-2).
    pub class_override: Option<u32>,
    /// `code:<code>` when a verification code is in use.
    pub originator: Option<String>,
    /// Billing code of that verification code.
    pub billing: Option<String>,
    /// Wrong entries in this call, by policy.
    pub attempts: HashMap<PolicyId, u32>,
    /// What it waits for.
    pub wait: Wait,
    /// When its timer fires.
    pub deadline: Option<Timestamp>,
    /// Digits pressed while connected, not yet a complete in-call code.
    pub incall_digits: String,
    /// Whether the program running is an in-call code (it returns to the call).
    pub in_incall: bool,
    /// For the call record.
    pub outcome: Outcome,
}

impl Leg {
    /// A new leg about to run its first rule.
    pub fn new(
        id: LegId,
        caller: String,
        caller_is_extension: bool,
        dialed: String,
        start: Timestamp,
    ) -> Leg {
        Leg {
            id,
            caller,
            caller_is_extension,
            dialed,
            start,
            program: 0,
            pc: 0,
            vars: HashMap::new(),
            callee: None,
            class_override: None,
            originator: None,
            billing: None,
            attempts: HashMap::new(),
            wait: Wait::Running,
            deadline: None,
            incall_digits: String::new(),
            in_incall: false,
            outcome: Outcome::default(),
        }
    }
}
