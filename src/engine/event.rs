//! What goes into the engine and what comes out.

use crate::dsl::reason::RejectReason;
use std::fmt;

/// Identifies a call leg. Drivers number the legs they bring (`Input::Call`) below
/// [`PLACED_LEGS`]; the engine numbers the legs it asks the driver to place from there.
pub type LegId = u64;

/// The first id of the legs the engine places.
pub const PLACED_LEGS: LegId = 1 << 62;

/// Identifies a secret check the engine asked its driver to verify.
pub type VerifyId = u64;

/// Something that happened, handed to [`super::Engine::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A new leg dials `to`.
    Call {
        /// The new leg's id.
        leg: LegId,
        /// Calling number: an extension, or an outside number.
        from: String,
        /// Dialed digits.
        to: String,
    },
    /// A call from outside (a trunk) for `to`: the `inbound` rules take it, even when
    /// the calling number happens to be an extension's.
    Inbound {
        /// The new leg's id.
        leg: LegId,
        /// The calling number the carrier sent.
        from: String,
        /// The number called (an extension, or a DISA number).
        to: String,
    },
    /// A key was pressed on a leg.
    Digit {
        /// The leg.
        leg: LegId,
        /// `0`-`9`, `*`, `#`.
        digit: char,
    },
    /// What came of a leg the engine placed.
    Progress {
        /// The placed leg.
        leg: LegId,
        /// How it went.
        progress: Progress,
    },
    /// A leg hung up (its phone, or the far end of the trunk).
    Hangup {
        /// The leg.
        leg: LegId,
    },
    /// The driver's answer to an [`Output::Verify`].
    Verified {
        /// The request answered.
        request: VerifyId,
        /// Whether the entered digits are the secret.
        matched: bool,
    },
}

/// How a placed leg is getting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// It rings.
    Ringing,
    /// It answered.
    Answered,
    /// The phone or the far end is busy.
    Busy,
    /// It could not be reached.
    Failed,
}

/// How a call ended: the `status` of its call record (CDR-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Someone answered: a phone, the far end, or the PBX itself.
    Answered,
    /// Nobody answered, or the caller gave up first.
    NoAnswer,
    /// The callee was busy.
    Busy,
    /// The call could not be put through.
    Failed,
    /// The plan refused it.
    Rejected,
}

impl CallStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [CallStatus; 5] = [
        CallStatus::Answered,
        CallStatus::NoAnswer,
        CallStatus::Busy,
        CallStatus::Failed,
        CallStatus::Rejected,
    ];

    /// The name a call record stores (`answered`, `no-answer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Answered => "answered",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::Rejected => "rejected",
        }
    }
}

/// Where a placed leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An extension's phones.
    Extension(String),
    /// A number outside the PBX (prefix already stripped).
    Outside(String),
    /// An emergency number: out on the emergency trunk, never refused.
    Emergency(String),
}

impl Target {
    /// The number called: the extension's, or the outside (or emergency) number.
    pub fn number(&self) -> &str {
        match self {
            Target::Extension(n) | Target::Outside(n) | Target::Emergency(n) => n,
        }
    }
}

impl fmt::Display for Target {
    /// `101` or `external:5551234` (an emergency number too), as sessions write a
    /// connected party.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Extension(e) => f.write_str(e),
            Target::Outside(n) | Target::Emergency(n) => write!(f, "external:{n}"),
        }
    }
}

/// What the PBX did on a leg (the vocabulary of `sessions.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `prompt ID [ARG]`.
    Prompt {
        /// Prompt ID.
        id: String,
        /// Its argument.
        arg: Option<String>,
    },
    /// `tone ID`.
    Tone(String),
    /// `ringing EXT`.
    Ringing(String),
    /// `connect TARGET` (`101` or `external:5551234`).
    Connect(String),
    /// `voicemail MAILBOX`.
    Voicemail(String),
    /// `message ID`: a voicemail message plays (its audio is `file`, under the data
    /// directory; none in a replay).
    Message {
        /// The message's id in the store.
        id: i64,
        /// Its WAV file.
        file: Option<String>,
    },
    /// `reject REASON`.
    Reject(RejectReason),
    /// `hangup`.
    Hangup,
}

impl Event {
    /// Whether this event decides the call (never skipped by `expect`).
    pub fn is_outcome(&self) -> bool {
        !matches!(
            self,
            Event::Prompt { .. } | Event::Tone(_) | Event::Message { .. }
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Prompt { id, arg: None } => write!(f, "prompt {id}"),
            Event::Prompt { id, arg: Some(a) } => write!(f, "prompt {id} {a}"),
            Event::Tone(t) => write!(f, "tone {t}"),
            Event::Ringing(e) => write!(f, "ringing {e}"),
            Event::Connect(t) => write!(f, "connect {t}"),
            Event::Voicemail(m) => write!(f, "voicemail {m}"),
            Event::Message { id, .. } => write!(f, "message {id}"),
            Event::Reject(r) => write!(f, "reject {r}"),
            Event::Hangup => write!(f, "hangup"),
        }
    }
}

/// Digits a caller entered for a secret: passed to the driver to verify, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Entered(pub String);

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entered(<redacted>)")
    }
}

/// What the engine asks its driver to do or know.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Something happened on a leg.
    Event {
        /// The leg.
        leg: LegId,
        /// What.
        event: Event,
    },
    /// Place a new leg: ring an extension's phones, or call out. Answer with
    /// [`Input::Progress`] (and [`Input::Hangup`] when it ends).
    Place {
        /// The new leg's id.
        leg: LegId,
        /// The caller's leg, whose call it joins.
        call: LegId,
        /// The calling number to show.
        from: String,
        /// Where to.
        target: Target,
    },
    /// Connect the media of two legs.
    Bridge {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// A mailbox's messages changed (one was heard or saved): its phones' message
    /// lights may need to change.
    MailboxChanged {
        /// The mailbox.
        mailbox: String,
    },
    /// A message was deleted from a mailbox: its audio file goes too.
    MessageDeleted {
        /// The mailbox.
        mailbox: String,
        /// The file, under the data directory.
        file: Option<String>,
    },
    /// Hang up a leg the engine placed (it stops ringing, or its call ended).
    End {
        /// The leg.
        leg: LegId,
    },
    /// Verify `entered` against a stored hash (`None`: no secret; verify anyway, so
    /// timing reveals nothing) and answer with [`Input::Verified`]. Slow by design.
    Verify {
        /// The request, to answer.
        request: VerifyId,
        /// The leg waiting.
        leg: LegId,
        /// What the caller entered.
        entered: Entered,
        /// The stored PHC hash.
        hash: Option<String>,
        /// Whose secret it is (`None`: no such owner; verified anyway).
        secret: Option<crate::store::SecretId>,
    },
    /// A call ended and left its record with this status: drivers that count calls
    /// count what the call records say.
    CallEnded {
        /// The caller's leg.
        leg: LegId,
        /// The record's status.
        status: CallStatus,
    },
    /// Wrong entries locked a secret (PG-3). Names the kind of secret only: never its
    /// owner, never what was entered.
    LockedOut {
        /// The leg whose entry locked it.
        leg: LegId,
        /// Its kind (`password`, `voicemail`, `pin`).
        secret: String,
    },
    /// A problem worth logging: a failed hook, a store error, a plan fault.
    Warning {
        /// The leg it happened on.
        leg: Option<LegId>,
        /// `file:line:col: message`.
        message: String,
    },
}
