//! Output for people and programs. The result goes to stdout; nothing else in domform prints
//! results (diagnostics and logs go to stderr through `tracing` and [`crate::cli`]).

pub mod escape;
pub mod licence;
pub mod list;
pub mod plan;
pub mod table;
