//! The clap definitions of the admin commands: one definition for `--help`, the
//! man page, completions and session steps.

use clap::{Subcommand, ValueEnum};

/// `pbxctl ext ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum ExtCommand {
    /// Block terminals: no calls out (but emergency) or in (PP-7).
    #[command(
        after_help = "Several extensions are changed in one transaction, with a line and an audit row\neach and a summary; the exit code is the worst of theirs.\n\nExamples:\n  pbxctl ext lock 101\n  pbxctl ext lock 101 102 103\n  pbxctl ext lock --department sales\n  cut -d, -f1 night-shift.csv | pbxctl ext lock -"
    )]
    Lock {
        /// Which extensions.
        #[command(flatten)]
        targets: Extensions,
    },
    /// Unblock terminals and lift their PIN lockouts (VM-6).
    #[command(
        after_help = "Several extensions are changed in one transaction, with a line and an audit row\neach and a summary; the exit code is the worst of theirs.\n\nExamples:\n  pbxctl ext unlock 101\n  pbxctl ext unlock --department sales"
    )]
    Unlock {
        /// Which extensions.
        #[command(flatten)]
        targets: Extensions,
    },
    /// Set the voicemail PIN, or generate one and print it once; unlocks the mailbox.
    #[command(
        after_help = "Examples:\n  pbxctl ext pin-reset 101 --pin 2580\n  pbxctl ext pin-reset 101   # prints a new random PIN"
    )]
    PinReset {
        /// Extension number.
        ext: String,
        /// The new PIN (checked against the policy); omit to generate one.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Show an extension's state.
    #[command(after_help = "Examples:\n  pbxctl ext show 101\n  pbxctl ext show 101 --json")]
    Show {
        /// Extension number.
        ext: String,
        /// Print the JSON view.
        #[arg(long)]
        json: bool,
    },
    /// List extensions and their state.
    #[command(
        after_help = "Examples:\n  pbxctl ext list\n  pbxctl ext list --department sales --numbers   # one number a line, for scripts"
    )]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only extensions of this department.
        #[arg(long)]
        department: Option<String>,
        /// Print only the numbers, one a line.
        #[arg(long, conflicts_with = "json")]
        numbers: bool,
    },
    /// Check a voicemail passcode read from stdin, as a visual-voicemail login
    /// would (counts failures like the phone; VM-4).
    #[command(after_help = "Example:\n  printf 2580 | pbxctl ext login 101")]
    Login {
        /// Extension (mailbox) number.
        ext: String,
    },
}

/// The extensions a bulk action is for: numbers, `-` for numbers on stdin, or a
/// department.
#[derive(Debug, Clone, clap::Args)]
pub struct Extensions {
    /// Extension numbers; `-` reads more from stdin (separated by spaces or lines).
    #[arg(value_name = "EXT", required_unless_present = "department")]
    pub numbers: Vec<String>,
    /// Every extension of this department.
    #[arg(long, conflicts_with = "numbers")]
    pub department: Option<String>,
}

impl Extensions {
    /// Whether the numbers are to be read from stdin.
    pub fn reads_stdin(&self) -> bool {
        self.numbers.iter().any(|n| n == "-")
    }
}

/// `pbxctl vm ...`: a mailbox's messages. Each reads the mailbox's passcode from
/// stdin and checks it as the phone does: failures count, a locked mailbox says so
/// (VM-4's non-phone interface).
#[derive(Debug, Clone, Subcommand)]
pub enum VmCommand {
    /// List a mailbox's messages, oldest first.
    #[command(
        after_help = "Examples:\n  printf 2580 | pbxctl vm list 101\n  printf 2580 | pbxctl vm list 101 --json"
    )]
    List {
        /// Extension (mailbox) number.
        ext: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy a message's audio (WAV) out of the data folder.
    #[command(
        after_help = "Example:\n  printf 2580 | pbxctl vm export 101 3 --output message-3.wav"
    )]
    Export {
        /// Extension (mailbox) number.
        ext: String,
        /// The message's id (from `vm list`).
        id: i64,
        /// Where to write it (default `EXT-ID.wav` here).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Delete a message and its audio.
    #[command(after_help = "Example:\n  printf 2580 | pbxctl vm delete 101 3")]
    Delete {
        /// Extension (mailbox) number.
        ext: String,
        /// The message's id (from `vm list`).
        id: i64,
    },
}

/// `pbxctl code ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum CodeCommand {
    /// Unlock a verification code (clears its PIN when the policy says so; VC-5).
    #[command(after_help = "Example:\n  pbxctl code unlock 1111")]
    Unlock {
        /// The verification code.
        code: String,
    },
    /// Set a code's PIN, or generate one and print it once.
    #[command(after_help = "Example:\n  pbxctl code pin-reset 1111 --pin 4826")]
    PinReset {
        /// The verification code.
        code: String,
        /// The new PIN; omit to generate one.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Show a code.
    #[command(after_help = "Example:\n  pbxctl code show 1111 --json")]
    Show {
        /// The verification code.
        code: String,
        /// Print the JSON view.
        #[arg(long)]
        json: bool,
    },
}

/// `pbxctl cdr`: which call records, and how to print them (CDR-2).
#[derive(Debug, Clone, clap::Args)]
pub struct CdrQuery {
    /// Calls started at or after this time (RFC 3339, or a date: from its start, UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Calls started up to this time (RFC 3339), or through this date.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only calls of this type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<CallType>,
    /// Only calls from, to or finally reaching this number.
    #[arg(long)]
    pub number: Option<String>,
    /// Print JSON (the view of `sessions.md`).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV with a header line.
    #[arg(long)]
    pub csv: bool,
}

/// The call types of a call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CallType {
    /// Extension to extension.
    Internal,
    /// From outside.
    Inbound,
    /// To outside.
    Outbound,
}

impl CallType {
    /// The word records use.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Internal => "internal",
            CallType::Inbound => "inbound",
            CallType::Outbound => "outbound",
        }
    }
}
