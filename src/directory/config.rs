//! `pbx.yaml`: which dialplan, which database, SIP settings, and the directory.

use super::entry::{CodeEntry, Directory, ExtensionEntry};
use super::validate::{Settings, validate};
use super::yaml;
use crate::dsl::Plan;
use crate::dsl::diagnostic::{Diagnostic, Failure};
use crate::dsl::span::{FileId, SourceMap};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
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
    /// Extensions, codes, system settings.
    pub directory: Directory,
    /// The file's text, for diagnostics.
    pub sources: SourceMap,
    /// The file's id in `sources`.
    pub file: FileId,
}

/// `sip: { listen, rtp_ports, realm }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// RTP port range, `low-high`.
    #[serde(default = "default_rtp")]
    pub rtp_ports: String,
    /// Digest realm.
    #[serde(default = "default_realm")]
    pub realm: String,
}

impl Default for Sip {
    fn default() -> Sip {
        Sip {
            listen: default_listen(),
            rtp_ports: default_rtp(),
            realm: default_realm(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:5060".into()
}
fn default_rtp() -> String {
    "20000-20999".into()
}
fn default_realm() -> String {
    "pbx.local".into()
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
    system: BTreeMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    extensions: BTreeMap<String, Spanned<ExtensionEntry>>,
    #[serde(default)]
    codes: BTreeMap<String, Spanned<CodeEntry>>,
}

fn default_dialplan() -> String {
    "dialplans/default.pbx".into()
}
fn default_database() -> String {
    "pbx.db".into()
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
            directory: Directory {
                system: raw.system,
                extensions: raw.extensions,
                codes: raw.codes,
            },
            sources,
            file,
        })
    }

    /// Checks the directory against the plan; returns the settings in force.
    pub fn validate(&self, plan: &Plan) -> Result<Settings, Vec<Diagnostic>> {
        validate(&self.directory, plan, &self.sources, self.file)
    }
}
