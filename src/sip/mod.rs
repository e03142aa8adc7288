//! SIP at the edge: messages, transactions, dialogs, the registrar and calls.
//!
//! Everything here is sans-IO except `transport`; the tokio driver lives in `cli::run`.

pub mod digest;
pub mod message;
pub mod source_guard;
