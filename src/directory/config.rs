//! `pbx.yaml`: which dialplan, which database, SIP settings, trunks, and the directory.

use super::entry::{CodeEntry, Directory, ExtensionEntry};
use super::trunk::{self, TrunkEntry};
use super::validate::{Settings, validate};
use super::yaml;
use crate::clock::Duration;
use crate::dsl::Plan;
use crate::dsl::diagnostic::{Diagnostic, Failure};
use crate::dsl::span::{FileId, SourceMap};
use crate::dsl::value::Value;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The parsed configuration file.
#[derive(Debug)]
pub struct Config {
    /// Where the file is; relative paths in it are taken from its folder.
    pub path: PathBuf,
    /// The dialplan, resolved.
    pub dialplan: PathBuf,
    /// The SQLite database, resolved.
    pub database: PathBuf,
    /// SIP listener settings (used by `pbxctl run`).
    pub sip: Sip,
    /// Where `pbxctl run` serves metrics and its health check; `None`: nowhere.
    pub metrics: Option<Metrics>,
    /// The prompt set: a folder with one WAV per prompt ID, resolved.
    pub prompts: PathBuf,
    /// Extensions, codes, system settings.
    pub directory: Directory,
    /// SIP providers by name (`trunks:`).
    pub trunks: BTreeMap<String, Spanned<TrunkEntry>>,
    /// The file's text, for diagnostics.
    pub sources: SourceMap,
    /// The file's id in `sources`.
    pub file: FileId,
}

/// `sip: { listen, rtp_ports, realm, media_address, nonce_lifetime, drain, auth_guard,
/// digest, tcp }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    /// Address and port to listen on (UDP and TCP).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// RTP port range, `low-high`, inclusive.
    #[serde(default = "default_rtp", deserialize_with = "port_range")]
    pub rtp_ports: (u16, u16),
    /// Digest realm.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The address put in SDP and Contact when `listen` is a wildcard.
    #[serde(default)]
    pub media_address: Option<IpAddr>,
    /// How long a digest nonce may be used.
    #[serde(default = "default_nonce_lifetime", deserialize_with = "duration")]
    pub nonce_lifetime: Duration,
    /// How long running calls may go on after SIGTERM.
    #[serde(default = "default_drain", deserialize_with = "duration")]
    pub drain: Duration,
    /// Brute-force protection for digest authentication.
    #[serde(default)]
    pub auth_guard: AuthGuard,
    /// Digest algorithms offered, most preferred first (`SHA-256`, `MD5`).
    #[serde(default = "default_digest", deserialize_with = "digest_algorithms")]
    pub digest: Vec<String>,
    /// Limits on SIP over TCP.
    #[serde(default)]
    pub tcp: TcpLimits,
}

/// `metrics: { listen }`: the HTTP address of `GET /metrics` (Prometheus text format)
/// and `GET /health`. Absent, `pbxctl run` serves neither.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Address and port, e.g. `127.0.0.1:9464`: no authentication, so keep it private.
    #[serde(deserialize_with = "metrics_listen")]
    pub listen: SocketAddr,
}

/// `metrics.listen`: an IP address and a port; a host name is refused, since what it
/// resolves to could change under a running server.
fn metrics_listen<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "metrics.listen `{text}` is not an IP address and port like 127.0.0.1:9464"
        ))
    })
}

/// `tcp: { max_connections, per_source, idle, message_timeout, write_queue }`: what one
/// client, and all of them together, may hold of the server over TCP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpLimits {
    /// Connections open at once, from everyone.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Connections open at once from one address (IPv6: one /64).
    #[serde(default = "default_per_source")]
    pub per_source: u32,
    /// How long a connection may stay silent between messages (CRLF keep-alives count).
    #[serde(default = "default_idle", deserialize_with = "duration")]
    pub idle: Duration,
    /// How long a message may take to arrive once its first byte has, and a new
    /// connection to send its first message.
    #[serde(default = "default_message_timeout", deserialize_with = "duration")]
    pub message_timeout: Duration,
    /// Bytes queued to a client that does not read them before it is disconnected.
    #[serde(default = "default_write_queue", deserialize_with = "byte_size")]
    pub write_queue: usize,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            max_connections: default_max_connections(),
            per_source: default_per_source(),
            idle: default_idle(),
            message_timeout: default_message_timeout(),
            write_queue: default_write_queue(),
        }
    }
}

/// `auth_guard: { failures, window, block }`: so many failed authentications from one
/// address within `window` block it for `block`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthGuard {
    /// Failures that trigger a block.
    #[serde(default = "default_failures")]
    pub failures: u32,
    /// The window they are counted in.
    #[serde(default = "default_window", deserialize_with = "duration")]
    pub window: Duration,
    /// How long the source is refused.
    #[serde(default = "default_block", deserialize_with = "duration")]
    pub block: Duration,
}

impl Default for AuthGuard {
    fn default() -> AuthGuard {
        AuthGuard {
            failures: default_failures(),
            window: default_window(),
            block: default_block(),
        }
    }
}

impl Default for Sip {
    fn default() -> Sip {
        Sip {
            listen: default_listen(),
            rtp_ports: default_rtp(),
            realm: default_realm(),
            media_address: None,
            nonce_lifetime: default_nonce_lifetime(),
            drain: default_drain(),
            auth_guard: AuthGuard::default(),
            digest: default_digest(),
            tcp: TcpLimits::default(),
        }
    }
}

/// A duration written as in the language (`30s`, `5m`); a bare number is seconds.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u32),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(n) => Ok(Duration::seconds(i64::from(n))),
        Raw::Text(t) => Duration::parse(&t).map_err(serde::de::Error::custom),
    }
}

/// A size in bytes: a number, or a number with `KiB` or `MiB`.
fn byte_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(usize),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Bytes(n) => return Ok(n),
        Raw::Text(t) => t,
    };
    let (number, unit) = match text.trim() {
        t if t.ends_with("MiB") => (&t[..t.len() - 3], 1 << 20),
        t if t.ends_with("KiB") => (&t[..t.len() - 3], 1 << 10),
        t => (t, 1),
    };
    number
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a size like 65536, 64KiB or 1MiB"))
        })
}

/// `low-high`, with room for at least one call (two ports).
fn port_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(u16, u16), D::Error> {
    let text = String::deserialize(d)?;
    let bad = || serde::de::Error::custom(format!("`{text}` is not a port range like 20000-20999"));
    let (low, high) = text.split_once('-').ok_or_else(bad)?;
    let (low, high): (u16, u16) = (
        low.trim().parse().map_err(|_| bad())?,
        high.trim().parse().map_err(|_| bad())?,
    );
    if low == 0 || high < low + 1 {
        return Err(serde::de::Error::custom(format!(
            "`{text}`: the range needs a low port above 0 and at least two ports"
        )));
    }
    Ok((low, high))
}

/// A non-empty list of `SHA-256` and `MD5`, without repeats.
fn digest_algorithms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let canonical = match n.to_ascii_uppercase().as_str() {
            "SHA-256" => "SHA-256",
            "MD5" => "MD5",
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "`{n}` is not a digest algorithm pbxctl offers (SHA-256, MD5)"
                )));
            }
        };
        if out.iter().any(|o| o == canonical) {
            return Err(serde::de::Error::custom(format!("`{n}` is listed twice")));
        }
        out.push(canonical.to_owned());
    }
    if out.is_empty() {
        return Err(serde::de::Error::custom(
            "name at least one digest algorithm",
        ));
    }
    Ok(out)
}

fn default_digest() -> Vec<String> {
    vec!["SHA-256".into(), "MD5".into()]
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}
fn default_rtp() -> (u16, u16) {
    (20000, 20999)
}
fn default_realm() -> String {
    "pbx.local".into()
}
fn default_nonce_lifetime() -> Duration {
    Duration::seconds(300)
}
fn default_drain() -> Duration {
    Duration::seconds(30)
}
fn default_max_connections() -> u32 {
    4096
}
fn default_per_source() -> u32 {
    128
}
/// A registration's longest life (3,600 s) and a margin: a phone that registers over
/// TCP and sends no keep-alives keeps its connection until it registers again.
fn default_idle() -> Duration {
    Duration::seconds(3_900)
}
fn default_message_timeout() -> Duration {
    Duration::seconds(10)
}
fn default_write_queue() -> usize {
    1 << 20
}
fn default_failures() -> u32 {
    5
}
fn default_window() -> Duration {
    Duration::seconds(60)
}
fn default_block() -> Duration {
    Duration::seconds(300)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_dialplan")]
    dialplan: String,
    #[serde(default = "default_database")]
    database: String,
    #[serde(default)]
    sip: Option<Sip>,
    #[serde(default)]
    metrics: Option<Metrics>,
    #[serde(default = "default_prompts")]
    prompts: String,
    #[serde(default)]
    system: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    extensions: BTreeMap<String, Spanned<ExtensionEntry>>,
    #[serde(default)]
    codes: BTreeMap<String, Spanned<CodeEntry>>,
    #[serde(default)]
    trunks: BTreeMap<String, Spanned<TrunkEntry>>,
}

fn default_dialplan() -> String {
    "dialplans/default.pbx".into()
}
fn default_database() -> String {
    "pbx.db".into()
}
fn default_prompts() -> String {
    "prompts/en".into()
}

/// The database a config names on a plain top-level `database:` line (or the default,
/// `pbx.db`, when no line says), resolved like [`Config::load`] does, read off the text
/// without parsing it: a guess for callers that confirm it, since flow style or a
/// multi-line value can hide the real key. `None` when the key is there twice or its
/// value is not a plain or simply quoted scalar.
pub fn named_database(path: &Path, text: &str) -> Option<PathBuf> {
    let mut named = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("database:") else {
            continue;
        };
        if named.is_some() {
            return None;
        }
        let value = match rest.find(" #") {
            Some(comment) => &rest[..comment],
            None => rest,
        }
        .trim();
        let unquoted = ['"', '\'']
            .into_iter()
            .find_map(|quote| value.strip_prefix(quote)?.strip_suffix(quote));
        let value = match unquoted {
            Some(inner) if !inner.contains(['\\', '"', '\'']) => inner,
            Some(_) => return None,
            None if value.is_empty()
                || value.starts_with(['"', '\'', '[', '{', '&', '*', '!', '|', '>']) =>
            {
                return None;
            }
            None => value,
        };
        named = Some(value.to_owned());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    Some(base.join(named.unwrap_or_else(default_database)))
}

impl Config {
    /// Reads and parses a config file (the directory is checked against the plan later).
    pub fn load(path: &Path) -> Result<Config, Failure> {
        let mut sources = SourceMap::default();
        let text = std::fs::read_to_string(path).map_err(|e| Failure {
            diagnostics: vec![Diagnostic::unplaced(
                "read",
                format!("cannot read {}: {e}", path.display()),
            )],
            sources: SourceMap::default(),
        })?;
        let file = sources.add(path, text);
        let raw: RawConfig = match yaml::parse(&sources, file) {
            Ok(raw) => raw,
            Err(d) => {
                return Err(Failure {
                    diagnostics: vec![d],
                    sources,
                });
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Config {
            path: path.to_path_buf(),
            dialplan: base.join(raw.dialplan),
            database: base.join(raw.database),
            sip: raw.sip.unwrap_or_default(),
            metrics: raw.metrics,
            prompts: base.join(raw.prompts),
            directory: Directory {
                system: raw.system,
                extensions: raw.extensions,
                codes: raw.codes,
            },
            trunks: raw.trunks,
            sources,
            file,
        })
    }

    /// Checks the directory and the trunks against the plan; returns the settings in
    /// force.
    pub fn validate(&self, plan: &Plan) -> Result<Settings, Vec<Diagnostic>> {
        let settings = validate(&self.directory, plan, &self.sources, self.file);
        // The DISA numbers in force, for the trunks' DIDs (the plan's when the
        // directory did not check out, so every finding is still reported).
        let disa_of = |s: &Settings| match plan.settings.id("disa").map(|id| s.get(id)) {
            Some(Value::List(numbers)) => numbers.iter().filter_map(Value::as_text).collect(),
            _ => Vec::new(),
        };
        let disa: Vec<String> = match &settings {
            Ok(s) => disa_of(s),
            Err(_) => disa_of(&plan.default_settings()),
        };
        let trunk_errors = trunk::check(
            &self.trunks,
            &self.directory,
            &disa,
            &self.sources,
            self.file,
        );
        match settings {
            Ok(s) if trunk_errors.is_empty() => Ok(s),
            Ok(_) => Err(trunk_errors),
            Err(mut errors) => {
                errors.extend(trunk_errors);
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_database_is_read_off_a_plain_top_level_line() {
        let at = |text| named_database(Path::new("/etc/pbx/pbx.yaml"), text);
        let path = |p: &str| Some(PathBuf::from(p));
        assert_eq!(at("database: pbx.db\n"), path("/etc/pbx/pbx.db"));
        assert_eq!(
            at("dialplan: a.pbx\ndatabase: \"/var/lib/pbx/site.db\"   # here\n"),
            path("/var/lib/pbx/site.db")
        );
        assert_eq!(at("database: 'data/p.db'"), path("/etc/pbx/data/p.db"));
        assert_eq!(
            at("sip:\n  database: nested.db\n"),
            path("/etc/pbx/pbx.db"),
            "the default"
        );
        assert_eq!(at("database: a.db\ndatabase: b.db\n"), None, "twice");
        assert_eq!(at("database: \"a\\tb.db\"\n"), None, "an escape");
        assert_eq!(at("database: *anchor\n"), None, "an alias");
        assert_eq!(at("database:\n  x.db\n"), None, "on the next line");
    }
}
