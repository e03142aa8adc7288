//! SIP digest authentication: RFC 3261 §22 with the algorithms of RFC 7616 and
//! SHA-256 in SIP per RFC 8760.
//!
//! The server never keeps a clear password, only [`StoredHa1`]: the realm and
//! `H(username:realm:password)` for MD5 and SHA-256 ([`secrets`] keeps them in the
//! store). A registrar answers a request like this:
//!
//! 1. no credentials: 401 with [`Authority::challenge`];
//! 2. [`Credentials::parse`] the Authorization header, look the user's HA1s up by
//!    `username`, and let [`Authority::judge`] decide: accepted, challenge again
//!    (`stale=true` for an expired, forgotten or replayed nonce), 400 for an answer
//!    that covers another Request-URI, or a failure for [`crate::sip::source_guard`].
//!
//! As a client (a trunk registering with its provider and calling through it) the
//! switch reads a 401/407 with [`Challenge::parse`] and answers it with a
//! [`DigestClient`], which counts the uses of a nonce.

mod algorithm;
mod authority;
mod challenge;
pub mod client;
mod credentials;
mod nonce;
mod nonce_counts;
mod response;
pub mod secrets;
mod stored;

pub use algorithm::{Algorithm, DEFAULT_ALGORITHMS};
pub use authority::{Authority, Judgement};
pub use challenge::Challenge;
pub use client::{DigestClient, Password};
pub use credentials::{Credentials, NonceCount};
pub use nonce::{NonceState, Nonces};
pub use stored::StoredHa1;
