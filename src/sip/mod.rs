//! SIP at the edge: messages, transactions, the registrar, trunks, and the switch that
//! turns calls into engine legs.
//!
//! Everything here is sans-IO except `edge`, which owns the sockets and the clock.

pub mod auth;
pub mod edge;
pub mod log_budget;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod source_guard;
pub mod switch;
pub mod tally;
pub mod tcp_admission;
pub mod transaction;
pub mod trunk;
