//! How fast the simulated xend answers: a per-call delay and a hang mode.
//!
//! Real `xm` is a client of xend (Python, XML-RPC): every call takes from a fraction of a
//! second to seconds on a busy host, and a wedged xend never answers at all. domform's time
//! limits and its concurrent observe script are tested against that, so the simulator can
//! behave the same way, per test host, switched at runtime by files in its state folder:
//!
//! - `<root>/delay`: a number of seconds (`1`, `0.25`); every `xm`/`xl` call sleeps that long
//!   before it answers. Calls do not queue behind each other (xend serves requests in threads):
//!   the delay is spent before the state lock is taken.
//! - `<root>/hang`: while this file exists, every call that starts sleeps forever (until killed),
//!   like a call into a wedged xend. Removing the file does not wake calls already hung. When
//!   the file lists sub-commands (`create`, `shutdown`, … separated by blanks), only those hang,
//!   so a test can let observe through and wedge a step of an apply.
//!
//! Only the real binary paces itself ([`crate::run`]); [`crate::run_with_io`], which tests and
//! domform's demo call in-process, never sleeps.

use std::path::Path;
use std::time::Duration;

/// File holding the per-call delay in seconds.
pub const DELAY_FILE: &str = "delay";
/// File whose presence makes every call hang.
pub const HANG_FILE: &str = "hang";

/// The delay configured under `root`: `None` when absent, empty or not a finite,
/// non-negative number (a typo must not turn into a hang).
pub fn delay(root: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(root.join(DELAY_FILE)).ok()?;
    let secs: f64 = text.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs < 86_400.0).then(|| Duration::from_secs_f64(secs))
}

/// Hang mode is on under `root` for the sub-command `cmd` (`list`, `create`, …).
pub fn hanging(root: &Path, cmd: &str) -> bool {
    match std::fs::read_to_string(root.join(HANG_FILE)) {
        Ok(text) => text.split_whitespace().next().is_none() || text.split_whitespace().any(|c| c == cmd),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Sleeps as configured under `root` for a call of `cmd`: forever in hang mode, else the delay.
pub fn wait(root: &Path, cmd: &str) {
    if hanging(root, cmd) {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if let Some(d) = delay(root) {
        std::thread::sleep(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_read_from_the_state_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(delay(dir.path()), None);
        std::fs::write(dir.path().join(DELAY_FILE), "0.25\n").expect("write");
        assert_eq!(delay(dir.path()), Some(Duration::from_millis(250)));
        std::fs::write(dir.path().join(DELAY_FILE), "2").expect("write");
        assert_eq!(delay(dir.path()), Some(Duration::from_secs(2)));
        for bad in ["", "x", "-1", "NaN", "inf", "0"] {
            std::fs::write(dir.path().join(DELAY_FILE), bad).expect("write");
            assert_eq!(delay(dir.path()), None, "{bad:?}");
        }
    }

    #[test]
    fn hang_mode_follows_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!hanging(dir.path(), "list"));
        std::fs::write(dir.path().join(HANG_FILE), "").expect("write");
        assert!(hanging(dir.path(), "list") && hanging(dir.path(), "create"));
        std::fs::write(dir.path().join(HANG_FILE), "create shutdown\n").expect("write");
        assert!(hanging(dir.path(), "create") && hanging(dir.path(), "shutdown"));
        assert!(!hanging(dir.path(), "list"), "only the listed sub-commands hang");
    }
}
