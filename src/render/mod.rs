//! Output for people and programs. The result goes to stdout; nothing else in domform prints
//! results (diagnostics and logs go to stderr through `tracing` and [`crate::cli`]).

pub mod escape;
pub mod licence;
pub mod list;
pub mod plan;
pub mod table;

/// Whether human output on stdout gets colour: `--color always|never`, else anstream's rules
/// (`NO_COLOR` off, `CLICOLOR_FORCE` on, a terminal on, anything else off).
pub fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// The same for stderr (logs).
pub fn stderr_color() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}
