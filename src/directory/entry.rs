//! Provisioning records, as written in YAML.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// Extensions, codes and system settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Overrides of the plan's `set` values.
    #[serde(default)]
    pub system: BTreeMap<String, Spanned<serde_json::Value>>,
    /// Extensions by number.
    #[serde(default)]
    pub extensions: BTreeMap<String, Spanned<ExtensionEntry>>,
    /// Verification codes by code.
    #[serde(default)]
    pub codes: BTreeMap<String, Spanned<CodeEntry>>,
}

/// One extension.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionEntry {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SIP registration secret (provisioning value; never shown).
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    /// The number shown outside on calls through a trunk (its `caller_id: extension`);
    /// the extension's number when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// Class of service.
    #[serde(default = "default_class")]
    pub class: u32,
    /// Department, for pickup groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// May unlock codes from a phone.
    #[serde(default)]
    pub manager: bool,
    /// May listen in on calls.
    #[serde(default)]
    pub spy: bool,
    /// Queue agent kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentKind>,
    /// Extension or administrator mailbox.
    #[serde(default)]
    pub mailbox_type: MailboxType,
    /// Voicemail and its PIN.
    #[serde(default)]
    pub voicemail: Voicemail,
    /// Terminal password protection (PP).
    #[serde(default)]
    pub password_protection: PasswordProtection,
    /// PIN-protected outbound calling (PN).
    #[serde(default)]
    pub pin_protect: PinProtect,
    /// Follow me (FW-2).
    #[serde(default)]
    pub follow_me: FollowMe,
    /// Initial state: terminal blocked.
    #[serde(default, skip_serializing)]
    pub blocked: Option<bool>,
    /// Initial state: do not disturb.
    #[serde(default, skip_serializing)]
    pub dnd: Option<bool>,
    /// Initial state: forwarding targets.
    #[serde(default, skip_serializing)]
    pub forward: Option<Forward>,
}

fn default_class() -> u32 {
    1
}

/// Static or dynamic queue agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// Always in the queue.
    Static,
    /// Logs in and out.
    Dynamic,
}

/// Mailbox type (VM-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxType {
    /// An ordinary extension mailbox.
    #[default]
    Extension,
    /// The administrator mailbox.
    Admin,
}

/// `voicemail: { enabled, pin }`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// Whether the extension has a mailbox.
    #[serde(default)]
    pub enabled: bool,
    /// The voicemail PIN (provisioning value).
    #[serde(default, skip_serializing)]
    pub pin: Option<String>,
}

/// `password_protection: { enabled, password }`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordProtection {
    /// Whether the terminal-password feature works for this extension.
    #[serde(default)]
    pub enabled: bool,
    /// The terminal password (provisioning value).
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
}

/// `pin_protect: { enabled, duration }`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PinProtect {
    /// Whether outbound calls need a grant.
    #[serde(default)]
    pub enabled: bool,
    /// Grant length in seconds.
    #[serde(default)]
    pub duration: u64,
}

/// `follow_me: { enabled, ring_duration, list: [{number, ring_time}] }` (seconds).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowMe {
    /// Whether follow me is on.
    #[serde(default)]
    pub enabled: bool,
    /// How long the extension itself rings first.
    #[serde(default = "default_ring_duration")]
    pub ring_duration: u64,
    /// The numbers rung next, in order; outside ones with the outside prefix.
    #[serde(default)]
    pub list: Vec<FollowMeStep>,
}

impl Default for FollowMe {
    fn default() -> FollowMe {
        FollowMe {
            enabled: false,
            ring_duration: default_ring_duration(),
            list: Vec::new(),
        }
    }
}

fn default_ring_duration() -> u64 {
    30
}

/// One follow-me number and how long it rings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowMeStep {
    /// An extension, or an outside number with the outside prefix.
    pub number: String,
    /// Seconds it rings.
    #[serde(default = "default_ring_duration")]
    pub ring_time: u64,
}

/// `forward: { all, busy, no_answer }`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// Forward every call.
    #[serde(default)]
    pub all: Option<String>,
    /// Forward when busy.
    #[serde(default)]
    pub busy: Option<String>,
    /// Forward when unanswered.
    #[serde(default)]
    pub no_answer: Option<String>,
}

/// One verification code (VC-1).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// Who the code belongs to.
    #[serde(default)]
    pub name: String,
    /// The code's PIN (provisioning value).
    #[serde(default, skip_serializing)]
    pub pin: Option<String>,
    /// Class of service for calls made with the code.
    #[serde(default = "default_class")]
    pub class: u32,
    /// Billing code for call records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<String>,
}
