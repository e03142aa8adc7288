//! `trunks:` in pbx.yaml: the SIP providers the PBX registers with, calls out through
//! and takes calls from, as written, and the checks that make them usable.

use super::entry::Directory;
use super::yaml::span_at;
use crate::dsl::diagnostic::Diagnostic;
use crate::dsl::span::{FileId, SourceMap};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// The port a trunk's address means when it names none.
pub const SIP_PORT: u16 = 5060;

/// One trunk, as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkEntry {
    /// `host:port` (or `host`, port 5060) where its requests go and come from.
    pub address: Spanned<String>,
    /// Our user name there, for its digest challenges.
    #[serde(default)]
    pub username: Option<String>,
    /// Our password there: in the config only; never logged, printed or stored.
    #[serde(default)]
    pub secret: Option<String>,
    /// Whether to register with it.
    #[serde(default)]
    pub register: bool,
    /// `extension` (the calling extension's caller ID) or a fixed number.
    #[serde(default)]
    pub caller_id: Option<Spanned<String>>,
    /// Inbound numbers: each to an extension or to `disa`.
    #[serde(default)]
    pub dids: BTreeMap<String, Spanned<serde_json::Value>>,
    /// Emergency calls use this trunk (at most one says so).
    #[serde(default)]
    pub emergency: bool,
    /// Outside calls use this trunk (the first in the file that says so).
    #[serde(default = "yes")]
    pub outbound: bool,
}

fn yes() -> bool {
    true
}

// By hand, so the secret never reaches a log line.
impl fmt::Debug for TrunkEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrunkEntry")
            .field("address", &self.address.value)
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("register", &self.register)
            .field("caller_id", &self.caller_id.as_ref().map(|c| &c.value))
            .field("dids", &self.dids.keys().collect::<Vec<_>>())
            .field("emergency", &self.emergency)
            .field("outbound", &self.outbound)
            .finish()
    }
}

/// What a DID rings, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DidTarget {
    /// An extension.
    Extension(String),
    /// Direct inward system access.
    Disa,
}

impl TrunkEntry {
    /// The host and port of `address`, if it is `host:port` or `host`.
    pub fn host_port(&self) -> Option<(String, u16)> {
        host_port(&self.address.value)
    }

    /// The fixed caller ID, or `None` for `extension` (the default).
    pub fn fixed_caller_id(&self) -> Option<&str> {
        self.caller_id
            .as_ref()
            .map(|c| c.value.as_str())
            .filter(|c| *c != "extension")
    }

    /// The DIDs and what each rings (as checked: digits, an extension or `disa`).
    pub fn did_targets(&self) -> impl Iterator<Item = (&str, DidTarget)> {
        self.dids
            .iter()
            .filter_map(|(did, target)| Some((did.as_str(), did_target(&target.value)?)))
    }
}

/// `host:port`, `host`, `[v6]:port` or `[v6]`.
fn host_port(address: &str) -> Option<(String, u16)> {
    let address = address.trim();
    if let Ok(a) = address.parse::<std::net::SocketAddr>() {
        return Some((a.ip().to_string(), a.port()));
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse().ok()?),
        _ => (address, SIP_PORT),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name_like = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    (name_like && port != 0).then(|| (bare.to_owned(), port))
}

/// An extension number (digits, as a YAML string or number) or `disa`.
fn did_target(value: &serde_json::Value) -> Option<DidTarget> {
    match value {
        serde_json::Value::String(s) if s == "disa" => Some(DidTarget::Disa),
        serde_json::Value::String(s) if is_number(s) => Some(DidTarget::Extension(s.clone())),
        serde_json::Value::Number(n) if n.is_u64() => Some(DidTarget::Extension(n.to_string())),
        _ => None,
    }
}

/// Digits, with an optional leading `+` (E.164 as carriers send it).
pub fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The trunks in the order the file gives them (the first outbound one carries
/// outside calls).
pub fn in_file_order(trunks: &BTreeMap<String, Spanned<TrunkEntry>>) -> Vec<(&str, &TrunkEntry)> {
    let mut list: Vec<_> = trunks.iter().collect();
    list.sort_by_key(|(_, t)| (t.referenced.line(), t.referenced.column()));
    list.into_iter()
        .map(|(name, t)| (name.as_str(), &t.value))
        .collect()
}

/// A trunk as the choice of carrier sees it: its name and the flags that say which
/// calls it takes. The config's entries and the switch's resolved trunks both are.
pub trait Carrier {
    /// Its name in the config.
    fn name(&self) -> &str;
    /// Outside calls may use it.
    fn outbound(&self) -> bool;
    /// Emergency calls use it first.
    fn emergency(&self) -> bool;
}

impl Carrier for (&str, &TrunkEntry) {
    fn name(&self) -> &str {
        self.0
    }
    fn outbound(&self) -> bool {
        self.1.outbound
    }
    fn emergency(&self) -> bool {
        self.1.emergency
    }
}

/// The trunk outside calls use: the first (in file order) marked `outbound`.
pub fn outbound_trunk<T: Carrier>(trunks: &[T]) -> Option<&T> {
    trunks.iter().find(|t| t.outbound())
}

/// The trunks an emergency call tries, in turn until one takes it: the one marked
/// `emergency`, the outbound one, then every other (no trunk may refuse it for being
/// the wrong one).
pub fn emergency_order<T: Carrier>(trunks: &[T]) -> Vec<&T> {
    let mut order: Vec<&T> = trunks.iter().filter(|t| t.emergency()).collect();
    order.extend(outbound_trunk(trunks));
    for t in trunks {
        if !order.iter().any(|o| o.name() == t.name()) {
            order.push(t);
        }
    }
    order
}

/// Checks every trunk: address, credentials, caller ID, DIDs against the directory and
/// the DISA numbers in force, at most one emergency trunk. All findings.
pub fn check(
    trunks: &BTreeMap<String, Spanned<TrunkEntry>>,
    directory: &Directory,
    disa: &[String],
    sources: &SourceMap,
    file: FileId,
) -> Vec<Diagnostic> {
    let at = |loc: serde_saphyr::Location| span_at(sources, file, loc);
    let mut errors = Vec::new();
    let mut emergency: Option<&str> = None;
    let mut ordered: Vec<_> = trunks.iter().collect();
    ordered.sort_by_key(|(_, t)| (t.referenced.line(), t.referenced.column()));
    for (name, entry) in ordered {
        let t = &entry.value;
        let mut error = |loc, message: String| {
            errors.push(Diagnostic::error(
                "trunk",
                at(loc),
                format!("trunk {name}: {message}"),
            ));
        };
        if t.host_port().is_none() {
            error(
                t.address.referenced,
                format!(
                    "address `{}` is not host:port (an IP address or a host name, and a port)",
                    t.address.value
                ),
            );
        }
        match (&t.username, &t.secret) {
            (Some(_), None) | (None, Some(_)) => error(
                entry.referenced,
                "`username` and `secret` go together: give both or neither".into(),
            ),
            (None, None) if t.register => error(
                entry.referenced,
                "`register: true` needs a `username` and a `secret`".into(),
            ),
            _ => {}
        }
        if let Some(c) = &t.caller_id
            && c.value != "extension"
            && !is_number(&c.value)
        {
            error(
                c.referenced,
                format!("caller_id is `extension` or a number, not `{}`", c.value),
            );
        }
        for (did, target) in &t.dids {
            let loc = target.referenced;
            if !is_number(did) {
                error(loc, format!("DID `{did}` is not a number"));
                continue;
            }
            match did_target(&target.value) {
                None => error(
                    loc,
                    format!("DID {did} maps to an extension number or `disa`"),
                ),
                Some(DidTarget::Extension(ext)) if !directory.extensions.contains_key(&ext) => {
                    error(
                        loc,
                        format!("DID {did} maps to {ext}, which is not an extension"),
                    );
                }
                Some(DidTarget::Disa) if !disa.iter().any(|d| d == did) => error(
                    loc,
                    format!(
                        "DID {did} is DISA but not in system.disa ({}): add it there so the plan's `inbound in disa` rule takes it",
                        if disa.is_empty() {
                            "empty".to_owned()
                        } else {
                            disa.join(", ")
                        }
                    ),
                ),
                Some(_) => {}
            }
        }
        if t.emergency {
            match emergency {
                Some(first) => error(
                    entry.referenced,
                    format!("only one trunk may say `emergency: true`, and {first} does already"),
                ),
                None => emergency = Some(name),
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        let ok = [
            ("sip.example.net:5080", ("sip.example.net", 5080)),
            ("sip.example.net", ("sip.example.net", 5060)),
            ("127.0.0.1:5070", ("127.0.0.1", 5070)),
            ("[::1]:5070", ("::1", 5070)),
            ("[::1]", ("::1", 5060)),
        ];
        for (text, (host, port)) in ok {
            assert_eq!(host_port(text), Some((host.to_owned(), port)), "{text}");
        }
        for bad in ["", ":5060", "host:port", "host:0", "a b:5060", "sip:host"] {
            assert_eq!(host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let entry: TrunkEntry = serde_saphyr::from_str(
            "address: \"127.0.0.1:5080\"\nusername: pbx01\nsecret: \"trunk-secret\"\n",
        )
        .unwrap();
        assert_eq!(entry.secret.as_deref(), Some("trunk-secret"));
        let shown = format!("{entry:?}");
        assert!(
            shown.contains("pbx01") && !shown.contains("trunk-secret"),
            "{shown}"
        );
    }

    #[test]
    fn dids_ring_extensions_or_disa() {
        use serde_json::json;
        assert_eq!(did_target(&json!("disa")), Some(DidTarget::Disa));
        assert_eq!(
            did_target(&json!(101)),
            Some(DidTarget::Extension("101".into()))
        );
        assert_eq!(did_target(&json!("ext101")), None);
        assert!(is_number("+15550101") && !is_number("+") && !is_number("55-01"));
    }
}
