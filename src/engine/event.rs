//! What goes into the engine and what comes out.

use std::fmt;

/// Identifies a call leg; the driver picks the numbers.
pub type LegId = u64;

/// Something that happened to a call, handed to [`super::Engine::handle`].
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
    /// The caller pressed a key.
    Digit {
        /// The leg.
        leg: LegId,
        /// `0`-`9`, `*`, `#`.
        digit: char,
    },
    /// An extension picked up the call ringing there.
    Answer {
        /// The extension.
        extension: String,
    },
    /// The caller hung up.
    Hangup {
        /// The leg.
        leg: LegId,
    },
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
    /// `reject REASON`.
    Reject(String),
    /// `hangup`.
    Hangup,
}

impl Event {
    /// Whether this event decides the call (never skipped by `expect`).
    pub fn is_outcome(&self) -> bool {
        !matches!(self, Event::Prompt { .. } | Event::Tone(_))
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
            Event::Reject(r) => write!(f, "reject {r}"),
            Event::Hangup => write!(f, "hangup"),
        }
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
    /// A problem worth logging: a failed hook, a store error, a plan fault.
    Warning {
        /// The leg it happened on.
        leg: Option<LegId>,
        /// `file:line:col: message`.
        message: String,
    },
}
