//! The engine: everything between "the command line was parsed" and "the exit code".
//!
//! [`session`] owns a host's connection and lock. `cli/` only parses arguments and names an
//! intent; the engine observes, plans, renders, confirms, executes and reports.

pub mod confirm;
pub mod saved;
pub mod session;

pub use session::Session;
