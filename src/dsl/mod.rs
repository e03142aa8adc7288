//! The dialplan language: grammar, syntax tree, checks, and the compiled [`Plan`].

mod analyze;
pub mod ast;
pub mod compile;
pub mod diagnostic;
pub mod expr;
pub mod format;
mod load;
mod lower;
pub mod nesting;
pub mod parse;
pub mod pattern;
pub mod plan;
pub mod reason;
mod resolve;
pub mod settings;
pub mod span;
pub mod value;

pub use compile::{compile_str, load};
pub use diagnostic::{Diagnostic, Failure, Severity};
pub use plan::Plan;
