//! The directory: extensions, verification codes and system settings as an
//! administrator provisions them (`pbx.yaml`, or a session's `given`).

pub mod config;
pub mod entry;
pub mod secret_rules;
pub mod trunk;
pub mod validate;
pub mod yaml;

pub use config::Config;
pub use entry::{CodeEntry, Directory, ExtensionEntry};
