//! One call leg: who called what, where its program is, what it waits for, and what
//! became of it for the call record.

use super::event::{LegId, Target, VerifyId};
use super::secret_check::Pending;
use crate::clock::{Duration, Timestamp};
use crate::dsl::expr::VarId;
use crate::dsl::plan::PolicyId;
use crate::dsl::reason::RejectReason;
use crate::dsl::value::Value;
use std::collections::{HashMap, VecDeque};

/// Whether a leg called in or was placed by the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// It called the PBX: its call is its own.
    Caller,
    /// The engine placed it for the caller's leg `call`.
    Placed {
        /// The caller's leg.
        call: LegId,
        /// Where it rings.
        target: Target,
    },
}

/// One number to ring in an `alert`, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct RingStep {
    /// An extension, or an outside number with the prefix.
    pub number: String,
    /// How long it rings.
    pub time: Duration,
}

/// An `alert` under way on a caller's leg.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerting {
    /// The leg ringing now, if any.
    pub placed: Option<LegId>,
    /// What it rings, as the caller is told.
    pub target: Option<Target>,
    /// Numbers still to ring, in order.
    pub rest: VecDeque<RingStep>,
    /// Where the program goes when the phone is busy, if it says.
    pub busy_branch: Option<usize>,
    /// The last phone rung said busy.
    pub busy: bool,
}

/// What a leg is waiting for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// Not waiting: the program runs.
    Running,
    /// Collecting digits for `ask`.
    Collect {
        /// The variable to fill.
        var: VarId,
        /// The prompt, to repeat once on silence.
        prompt: String,
        /// Digits so far.
        digits: String,
        /// Whether the prompt was already repeated.
        repeated: bool,
    },
    /// The driver is verifying a secret.
    Verify {
        /// The request.
        request: VerifyId,
        /// What the check needs when the answer comes.
        pending: Box<Pending>,
    },
    /// Ringing phones for `alert`.
    Alerting(Alerting),
    /// Calling out (`outbound`, an emergency number, an outside forward).
    Dialing {
        /// The outside leg.
        placed: LegId,
        /// Where, as the caller is told.
        target: Target,
    },
    /// A placed leg: ringing until it answers.
    Offered,
    /// Pausing (`wait`).
    Sleep,
    /// Bridged ([`Leg::bridged`]); in-call digits go to the `incall` rules.
    Connected,
    /// Leaving a message.
    Voicemail,
    /// In a mailbox's menu (`messages`).
    Mailbox(Box<super::mailbox::Menu>),
}

/// How the call went, for its call record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Who finally took the call.
    pub final_party: Option<String>,
    /// When it was connected.
    pub connected_at: Option<Timestamp>,
    /// The reject reason.
    pub rejected: Option<RejectReason>,
    /// The last phone rung did not answer.
    pub unanswered: bool,
    /// The last phone rung, or the far end, was busy.
    pub busy: bool,
    /// A leg could not be placed.
    pub failed: bool,
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
    /// Caller or placed.
    pub role: Role,
    /// Calling number (for a placed leg to an extension: that extension, so in-call
    /// codes pressed there are its own).
    pub caller: String,
    /// Whether `caller` is a configured extension.
    pub caller_is_extension: bool,
    /// The digits first dialed.
    pub dialed: String,
    /// When it started.
    pub start: Timestamp,
    /// The running program and position.
    pub program: usize,
    /// Next op.
    pub pc: usize,
    /// Leg variables, by slot.
    pub vars: Vec<Value>,
    /// The extension being called, inside `incoming` rules.
    pub callee: Option<String>,
    /// Extensions the call was rung or forwarded through, in order (FC-2).
    pub chain: Vec<String>,
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
    /// The leg it is bridged to, while it is.
    pub bridged: Option<LegId>,
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
    /// A new leg; `vars` slots for every variable the plan has.
    pub fn new(
        id: LegId,
        role: Role,
        (caller, is_extension): (String, bool),
        dialed: String,
        start: Timestamp,
        vars: usize,
    ) -> Leg {
        Leg {
            id,
            role,
            caller,
            caller_is_extension: is_extension,
            dialed,
            start,
            program: 0,
            pc: 0,
            vars: vec![Value::None; vars],
            callee: None,
            chain: Vec::new(),
            class_override: None,
            originator: None,
            billing: None,
            attempts: HashMap::new(),
            wait: Wait::Running,
            bridged: None,
            deadline: None,
            incall_digits: String::new(),
            in_incall: false,
            outcome: Outcome::default(),
        }
    }

    /// The caller's leg this leg belongs to (itself for a caller).
    pub fn call(&self) -> LegId {
        match &self.role {
            Role::Caller => self.id,
            Role::Placed { call, .. } => *call,
        }
    }

    /// The extension this leg puts in a call: its caller's, or the one it rings.
    pub fn extension(&self) -> Option<&str> {
        match &self.role {
            Role::Placed {
                target: Target::Extension(e),
                ..
            } => Some(e),
            Role::Placed { .. } => None,
            Role::Caller => self.caller_is_extension.then_some(self.caller.as_str()),
        }
    }
}
