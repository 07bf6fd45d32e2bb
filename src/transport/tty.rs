//! The local terminal while a console is attached: raw mode in, the saved mode back out.
//!
//! A guest console wants every key as typed (Ctrl-C goes to the guest, as with `xm console`),
//! so the terminal is put in raw mode without echo for the session and restored afterwards by a
//! guard, on every way out: detach, remote exit, error, panic. `stty` does the work (no extra
//! crate, no unsafe code); it runs here because processes are spawned only in `transport/`.

use std::io::IsTerminal;
use std::process::{Command, Stdio};

/// Runs `stty ARGS` on our stdin; its stdout when it succeeded.
fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty").args(args).stdin(Stdio::inherit()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The terminal in raw mode until dropped.
#[derive(Debug)]
pub struct RawMode {
    saved: Option<String>,
}

impl RawMode {
    /// Raw mode without echo when stdin is a terminal; otherwise a guard that does nothing.
    pub fn enter() -> RawMode {
        if !std::io::stdin().is_terminal() {
            return RawMode { saved: None };
        }
        let saved = stty(&["-g"]);
        if stty(&["raw", "-echo"]).is_none() {
            return RawMode { saved: None };
        }
        RawMode { saved: Some(saved.unwrap_or_default()) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // The exact saved settings; `sane` if they cannot be put back.
            if saved.is_empty() || stty(&[&saved]).is_none() {
                let _ = stty(&["sane"]);
            }
        }
    }
}

/// The terminal's (columns, rows), or 80×24 when stdin is not a terminal.
pub fn size() -> (u32, u32) {
    let parsed = std::io::stdin().is_terminal().then(|| stty(&["size"])).flatten().and_then(|s| {
        let mut it = s.split_whitespace().map(|n| n.parse::<u32>().ok());
        let rows = it.next()??;
        let cols = it.next()??;
        (rows > 0 && cols > 0).then_some((cols, rows))
    });
    parsed.unwrap_or((80, 24))
}
