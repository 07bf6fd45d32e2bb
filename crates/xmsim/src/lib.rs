//! xmsim: a simulator of Oracle VM 3's `xm` (and a little of `xl`).
//!
//! Xen cannot run on domform's CI machines, yet domform drives real hosts
//! over SSH and parses what `xm` prints. Its integration tests therefore
//! run real sshd instances whose PATH has this simulator installed as `xm`.
//! The simulator keeps "hypervisor" state in a directory (`$XMSIM_ROOT`,
//! default `/var/lib/xmsim`, see [`state`]) and reproduces xm's output
//! layouts, error texts, exit codes and timing (slow graceful shutdowns), so
//! that domform's parsers and reconcile loops meet realistic behaviour; a
//! per-call delay and a hang mode ([`pace`]) play a slow or wedged xend.
//!
//! The entry point is [`run`]; tests use [`run_with_io`] to capture output.

pub mod commands;
pub mod console;
pub mod cpuset;
pub mod create;
pub mod format;
pub mod opts;
pub mod pace;
pub mod state;
pub mod sxp;
pub mod topology;
pub mod vnc;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// The default state directory when `XMSIM_ROOT` is not set.
pub const DEFAULT_ROOT: &str = "/var/lib/xmsim";

/// The I/O a command talks to, abstracted so tests can capture it.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// stdin is a terminal: `console` switches it to raw mode.
    pub tty: bool,
}

/// Runs one `xm` invocation against the real stdin/stdout/stderr.
///
/// `argv0` decides the flavour (`xl` prints xl's list format), `args` are the
/// arguments after the program name, `env_root` overrides the state dir
/// (otherwise `$XMSIM_ROOT`, then [`DEFAULT_ROOT`]). Returns the exit code.
pub fn run(argv0: &str, args: &[String], env_root: Option<PathBuf>) -> i32 {
    let root = env_root
        .or_else(|| std::env::var_os("XMSIM_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
    if let Some(rest) = args.strip_prefix(&[vnc::SERVE_CMD.to_string()]) {
        return vnc::serve(&root, rest);
    }
    // A slow or wedged xend, when the test host asks for one (see `pace`).
    pace::wait(&root, args.first().map(String::as_str).unwrap_or_default());
    // A real process: domains with a framebuffer get a VNC port that answers.
    vnc::enable();
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut inp = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut io = Io { stdin: &mut inp, stdout: &mut out, stderr: &mut err, tty };
    run_with_io(argv0, args, &root, &mut io)
}

/// Runs one invocation with explicit state dir and I/O. Never panics on bad
/// input: every failure becomes an `Error: ...` line on stderr and exit 1.
pub fn run_with_io(argv0: &str, args: &[String], root: &Path, io: &mut Io<'_>) -> i32 {
    let prog = Path::new(argv0).file_name().and_then(|s| s.to_str()).unwrap_or("xm");
    let prog = if prog == "xl" { "xl" } else { "xm" };
    let code = match commands::dispatch(prog, args, root, io) {
        Ok(()) => 0,
        Err(commands::Fail(text, out)) => {
            let _ = io.stdout.write_all(out.as_bytes());
            if !text.is_empty() {
                let nl = if text.ends_with('\n') { "" } else { "\n" };
                let _ = write!(io.stderr, "{text}{nl}");
            }
            1
        }
    };
    let _ = io.stdout.flush();
    let _ = io.stderr.flush();
    code
}
