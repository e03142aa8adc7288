//! pbxctl: a PBX toolkit built around one dialplan language.
//!
//! Layers, lowest first; each imports only the ones above it in this list:
//! `clock` and `os` (facts about the process), `dsl` (language), `directory` (provisioning data), `store` (SQLite),
//! `hooks` (Rhai), `media` (G.711, RTP, DTMF detection), `lint` (what `pbxctl lint` reasons about), `engine` (sans-IO call
//! engine), `admin` (administrator actions), `session` (recorded-session runner),
//! `sip` (SIP signalling and calls for `pbxctl run`), `cli` (the command line).

pub mod admin;
pub mod cli;
pub mod clock;
pub mod directory;
pub mod dsl;
pub mod engine;
pub mod hooks;
pub mod lint;
pub mod media;
pub mod os;
pub mod session;
pub mod sip;
pub mod store;
