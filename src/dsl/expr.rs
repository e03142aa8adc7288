//! Expressions as the engine evaluates them: every name resolved when the plan is
//! compiled (a party, a leg variable's slot, a setting's index, a field), so nothing
//! is looked up by its text while a call runs.

use super::ast::CompareOp;
use super::settings::SettingId;
use super::span::Span;
use super::value::Value;

/// Index of a leg variable (`ask`, `let`, captures, `dialed`) in [`super::Plan::vars`].
pub type VarId = usize;

/// A compiled expression and its place.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// The compiled expressions.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A constant.
    Const(Value),
    /// A leg variable.
    Var(VarId),
    /// A setting.
    Setting(SettingId),
    /// The time the engine was given.
    Now,
    /// The number or code a party names.
    Key(Party),
    /// A field of what a party names.
    Field(Party, Field),
    /// `not E`.
    Not(Box<Expr>),
    /// `A and B and ...`.
    And(Vec<Expr>),
    /// `A or B or ...`.
    Or(Vec<Expr>),
    /// `A op B`.
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// `tally(NAME, KEY, WINDOW)`.
    Tally {
        /// The tally's name.
        name: String,
        /// Whose events.
        key: Box<Expr>,
        /// How far back.
        window: Box<Expr>,
    },
}

/// Whom an expression or statement is about.
#[derive(Clone, Debug)]
pub enum Party {
    /// The leg's caller.
    Caller,
    /// The extension being called (inside `incoming` rules).
    Callee,
    /// `extension(EXPR)`.
    Extension(Box<Expr>),
    /// `code(EXPR)`.
    Code(Box<Expr>),
}

impl Party {
    /// Whether the party is a verification code rather than an extension.
    pub fn is_code(&self) -> bool {
        matches!(self, Party::Code(_))
    }
}

/// A field of an extension or a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Of an extension.
    Extension(ExtensionField),
    /// Of a verification code.
    Code(CodeField),
}

macro_rules! field_table {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every field.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The dotted name plans use.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// Looks a dotted name up.
            pub fn parse(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|f| f.name() == name)
            }

            /// The names, for messages.
            pub fn list() -> String {
                Self::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

field_table! {
    /// Fields of an extension that expressions may read.
    ExtensionField {
        /// Its number.
        Extension = "extension",
        /// Whether it is configured.
        Exists = "exists",
        /// Display name.
        Name = "name",
        /// Class of service.
        Class = "class",
        /// Department.
        Department = "department",
        /// May unlock codes from a phone.
        Manager = "manager",
        /// May listen in on calls.
        Spy = "spy",
        /// Queue agent kind.
        Agent = "agent",
        /// `extension` or `admin` mailbox.
        MailboxType = "mailbox_type",
        /// Has a mailbox.
        VoicemailEnabled = "voicemail.enabled",
        /// Terminal password protection on.
        PasswordProtectionEnabled = "password_protection.enabled",
        /// Outbound calls need a grant.
        PinProtectEnabled = "pin_protect.enabled",
        /// How long a grant lasts.
        PinProtectDuration = "pin_protect.duration",
        /// Terminal blocked.
        Blocked = "blocked",
        /// Do not disturb.
        Dnd = "dnd",
        /// Forward-all target.
        ForwardAll = "forward.all",
        /// Forward-on-busy target.
        ForwardBusy = "forward.busy",
        /// Forward-on-no-answer target.
        ForwardNoAnswer = "forward.no_answer",
        /// An outbound grant is open now.
        OutboundGranted = "outbound_granted",
        /// When the outbound grant ends.
        OutboundGrantUntil = "outbound_grant_until",
        /// In an answered call now (FW-1).
        Busy = "busy",
        /// Follow me on.
        FollowMeEnabled = "follow_me.enabled",
        /// How long the extension itself rings under follow me.
        FollowMeRingDuration = "follow_me.ring_duration",
        /// The follow-me numbers, each with its ring time.
        FollowMeList = "follow_me.list",
        /// The outside number that last called it (FC-3).
        LastExternalCaller = "last_external_caller",
    }
}

field_table! {
    /// Fields of a verification code that expressions may read.
    CodeField {
        /// The code.
        Code = "code",
        /// Whether it is configured.
        Exists = "exists",
        /// Whose it is.
        Name = "name",
        /// Its class of service.
        Class = "class",
        /// Its billing code.
        Billing = "billing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip() {
        for f in ExtensionField::ALL {
            assert_eq!(ExtensionField::parse(f.name()), Some(*f));
        }
        for f in CodeField::ALL {
            assert_eq!(CodeField::parse(f.name()), Some(*f));
        }
        assert_eq!(ExtensionField::parse("forward.sideways"), None);
        assert!(ExtensionField::list().contains("follow_me.list"));
    }
}
