//! Administrator actions (`pbxctl ext`, `pbxctl code`, `pbxctl vm`), shared by the command line
//! and by session files' `pbxctl:` steps, and the JSON views they print.

pub mod action;
pub mod block;
pub mod command;
pub mod view;
pub mod voicemail;

pub use action::{Admin, Reply};
pub use command::{CallType, CdrQuery, CodeCommand, ExtCommand, Extensions, VmCommand};
