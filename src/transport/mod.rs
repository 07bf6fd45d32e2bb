//! The one seam between domform and a host: run a shell script, with stdin, get its output.
//!
//! Everything domform does on a host is an [`Transport::exec`]: observing is one generated
//! script, applying is a few batched scripts. Files are read and written atomically through the
//! same call (a temp file and `mv` in the same folder), so every transport (SSH, local, the
//! in-memory fake of the tests) behaves alike and every round trip is counted.
//! No module outside `transport/` spawns processes or opens sockets.

pub mod algorithms;
pub mod console;
pub mod fake;
pub mod forward;
pub mod gate;
pub mod limit;
pub mod local;
pub mod openssh;
pub mod shell;
pub mod ssh;
pub mod tty;

use std::fmt;

pub use limit::Limit;
pub use shell::quote;

/// What a script printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status (-1 when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The connection was lost before the script ended: what it printed so far is above, and
    /// `status` is -1. Apply uses this to report which steps ran.
    pub lost: Option<String>,
    /// The exec's [`Limit`] ran out: the transport gave it up (closed the channel, killed the
    /// local process group); what it printed so far is above, and `status` is -1.
    pub timed_out: bool,
}

impl ExecOutput {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (lossy), trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// What a background script printed before its marker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Background {
    /// Output (stdout) up to, not including, the marker line.
    pub output: String,
    /// `Some(status)` when the script ended before printing the marker.
    pub ended: Option<i32>,
    /// The [`Limit`] ran out before the marker (the script was given up; `ended` is `Some(-1)`).
    pub timed_out: bool,
}

/// Reads from `r` until a line equal to `marker`; `Ok(true)` if found, `Ok(false)` at EOF.
/// The script must print nothing after its marker line (it is not read). On a read error
/// (a time limit, a lost connection) `out` still gets what was read.
pub fn read_until_marker(r: &mut dyn std::io::Read, marker: &str, out: &mut String) -> std::io::Result<bool> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let needle = format!("{marker}\n");
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.push_str(&String::from_utf8_lossy(&buf));
                return Err(e);
            }
        };
        if n == 0 {
            out.push_str(&String::from_utf8_lossy(&buf));
            return Ok(false);
        }
        let from = buf.len().saturating_sub(needle.len());
        buf.extend_from_slice(&chunk[..n]);
        let hit = buf[from..]
            .windows(needle.len())
            .enumerate()
            .map(|(i, w)| (i + from, w))
            .find(|&(p, w)| w == needle.as_bytes() && (p == 0 || buf[p - 1] == b'\n'))
            .map(|(p, _)| p);
        if let Some(p) = hit {
            out.push_str(&String::from_utf8_lossy(&buf[..p]));
            return Ok(true);
        }
    }
}

/// A failure to reach a host or to run something on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// TCP connect, handshake or authentication failed; `message` names the phase, how long it
    /// ran and the limit that ran out, if one did.
    #[error("cannot connect to {host}: {message}")]
    Connect {
        /// Host name.
        host: String,
        /// Why.
        message: String,
        /// Another try may succeed (TCP connect, SSH handshake), as opposed to a wrong key, a
        /// refused authentication or a bad setting.
        transient: bool,
    },
    /// The host key is unknown or changed.
    #[error("host key check failed for {host}: {message}")]
    HostKey {
        /// Host name.
        host: String,
        /// Why.
        message: String,
    },
    /// A time limit ran out (`message` says which limit, after how long, and what ran).
    #[error("host {host}: {message}")]
    TimedOut {
        /// Host name.
        host: String,
        /// e.g. "observe timed out after 3 s (observe_timeout) while running `xm list -l`".
        message: String,
    },
    /// The exec failed in transit.
    #[error("{host}: running `{command}` failed: {message}")]
    Exec {
        /// Host name.
        host: String,
        /// The command's first line.
        command: String,
        /// Why.
        message: String,
    },
}

impl TransportError {
    /// Whether a read-only operation that failed with this error may be tried again: a
    /// connection that could not be made or was lost in transit. Never a host-key or
    /// authentication failure, and never a time limit (a wedged host stays wedged).
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Connect { transient, .. } => *transient,
            TransportError::Exec { .. } => true,
            TransportError::HostKey { .. } | TransportError::TimedOut { .. } => false,
        }
    }
}

/// A host that runs shell scripts.
///
/// Implementing it (the SSH, local and fake transports do): `exec_limited`, `start_background`
/// and `end_background` are the only methods that touch the host. A [`Limit`] is enforced on
/// the controller side as described in [`limit`]: keep a [`limit::Deadline`], feed it stdout as
/// it arrives, stop waiting when it expires, give the exec up (close the channel / kill the
/// process group), and return `Ok` with what arrived and `timed_out: true`. Never retry.
pub trait Transport: Send {
    /// The host's name as declared (for messages).
    fn host(&self) -> &str;

    /// Runs `script` with `sh` semantics, feeding `stdin`. One call is one round trip. With a
    /// `limit`, gives up when it runs out and returns the partial output with `timed_out` set.
    fn exec_limited(&mut self, script: &str, stdin: &[u8], limit: Option<&Limit>)
        -> Result<ExecOutput, TransportError>;

    /// [`exec_limited`](Self::exec_limited) without a limit.
    fn exec(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.exec_limited(script, stdin, None)
    }

    /// Round trips made so far (execs, background ones included).
    fn exec_count(&self) -> usize;

    /// The host key this connection verified, OpenSSH style (`ssh-ed25519 SHA256:...`);
    /// `None` where there is none (local) or it is not known.
    fn host_key(&self) -> Option<String> {
        None
    }

    /// Starts `script` and keeps it running (its stdin stays open); returns what it printed up
    /// to a line equal to `marker`, or everything and its exit status if it ended first.
    /// Holds the host lock for a whole apply: when domform ends, or dies, stdin closes, the
    /// script exits and the kernel releases the lock. With a `limit`, gives up waiting for the
    /// marker when it runs out (the script is ended, `timed_out` set).
    fn start_background(
        &mut self,
        script: &str,
        marker: &str,
        limit: Option<&Limit>,
    ) -> Result<Background, TransportError>;

    /// Ends the background script (closes its stdin) and waits for it.
    fn end_background(&mut self);

    /// Reads a file; `None` when it does not exist.
    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let q = quote(path);
        let out = self.exec(&format!("if [ -e {q} ]; then cat -- {q}; else exit 3; fi"), &[])?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            3 => Ok(None),
            _ => Err(self.exec_error(&format!("cat {path}"), &out)),
        }
    }

    /// Writes a file atomically: a temp file in the same folder, then `mv`. With `backup`, the
    /// previous file is kept as `<path>.domform-bak` first.
    fn write_file_atomic(&mut self, path: &str, content: &[u8], backup: bool) -> Result<(), TransportError> {
        let script = write_atomic_script(path, backup);
        let out = self.exec(&script, content)?;
        if out.status == 0 {
            Ok(())
        } else {
            Err(self.exec_error(&format!("write {path}"), &out))
        }
    }

    /// An [`TransportError::Exec`] from a failed output.
    fn exec_error(&self, what: &str, out: &ExecOutput) -> TransportError {
        TransportError::Exec {
            host: self.host().to_string(),
            command: what.to_string(),
            message: format!("exit status {}: {}", out.status, out.stderr_text()),
        }
    }
}

/// Scripts longer than this are sent on stdin to `sh -s` instead of as the command itself: SSH
/// servers refuse large exec requests, and one execve argument holds at most 128 KiB (an apply
/// batch for a VM with 100 disks is larger).
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The command to run and what to write to its stdin: the script itself and `stdin`, or, for a
/// script longer than [`MAX_COMMAND_BYTES`], `sh -s` reading the script (which then cannot also
/// take stdin: that is an error, naming the script's size).
pub fn command_and_input<'a>(script: &'a str, stdin: &[u8]) -> Result<(&'a str, Vec<u8>), String> {
    if script.len() <= MAX_COMMAND_BYTES {
        return Ok((script, stdin.to_vec()));
    }
    if !stdin.is_empty() {
        return Err(format!("script of {} bytes cannot also take stdin", script.len()));
    }
    Ok(("sh -s", script.as_bytes().to_vec()))
}

/// The shell script behind [`Transport::write_file_atomic`]: content on stdin.
pub fn write_atomic_script(path: &str, backup: bool) -> String {
    let q = quote(path);
    // The quoted path and a bare suffix concatenate in sh, so `$$` (the shell's pid) expands.
    let tmp = format!("{q}.domform-tmp.$$");
    let bak = if backup {
        format!("if [ -e {q} ]; then cp -p -- {q} {}; fi && ", quote(&format!("{path}.domform-bak")))
    } else {
        String::new()
    };
    // `sync FILE` flushes just FILE only from coreutils 8.24 (its --help then lists
    // --file-system); older ones (OL5 5.97, OL6 8.4) ignore FILE and flush every file system
    // of a busy dom0, so there the rename relies on the file system's ordering alone.
    let sync = "if sync --help 2>/dev/null | grep -q -e --file-system; then sync -- \"$t\" || true; fi";
    format!("set -e; t={tmp}; trap 'rm -f -- \"$t\"' EXIT; cat > \"$t\"; {sync}; {bak}mv -f -- \"$t\" {q}; trap - EXIT")
}

/// OpenSSH's fingerprint form of a SHA-256 digest: `SHA256:` and unpadded base64.
pub fn sha256_fingerprint(digest: &[u8]) -> String {
    use base64::Engine as _;
    format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest))
}

impl fmt::Display for ExecOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}: {}", self.status, self.stderr_text())
    }
}

#[cfg(test)]
mod tests {
    use super::read_until_marker;

    #[test]
    fn marker_must_be_a_whole_line() {
        let mut out = String::new();
        let mut input: &[u8] = b"a\nx@@m\n@@m\nlater";
        assert!(read_until_marker(&mut input, "@@m", &mut out).expect("read"));
        assert_eq!(out, "a\nx@@m\n");
        let mut out = String::new();
        let mut input: &[u8] = b"no marker\n";
        assert!(!read_until_marker(&mut input, "@@m", &mut out).expect("read"));
        assert_eq!(out, "no marker\n");
    }
}
