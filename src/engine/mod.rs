//! The engine: everything between "the command line was parsed" and "the exit code".
//!
//! `cli/` parses arguments and names an [`Intent`]; [`run`] observes (under the host locks when
//! it will change something), plans, renders, confirms, executes and reports, and returns an
//! [`Outcome`] that `cli` maps to the exit code. A [`Session`] owns each host's connection and
//! lock, so the lock is released when the session goes, whichever step the run stopped at.

pub mod confirm;
pub mod execute;
pub mod locate;
pub mod outcome;
pub mod progress;
pub mod reconcile;
pub mod run;
pub mod saved;
pub mod session;
pub mod sort;

pub use outcome::Outcome;
pub use run::{run, Format, Intent, Made, Request};
pub use session::Session;

/// Prints `error: <msg>` on stderr: once (a message that already starts with `error: ` is not
/// prefixed again) and escaped, since messages carry names from hosts (render::escape).
pub fn error(msg: &str) {
    use std::io::Write;
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    let _ = writeln!(std::io::stderr().lock(), "error: {}", crate::render::escape::indented(msg, "  "));
}
