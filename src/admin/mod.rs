//! Administrator actions (`pbxctl ext`, `pbxctl code`), shared by the command line
//! and by session files' `pbxctl:` steps, and the JSON views they print.

pub mod action;
pub mod command;
pub mod view;

pub use action::{Admin, Reply};
pub use command::{CallType, CdrQuery, CodeCommand, ExtCommand};
