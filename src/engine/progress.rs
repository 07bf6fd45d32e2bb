//! Progress on stderr while a run works on many hosts: the phase (observing, applying), hosts
//! done out of the total, the last host finished, and the time elapsed (indicatif).
//!
//! Only for a person watching: hidden when stderr is not a terminal (logs and CI stay clean)
//! and with `-q`. Each host reads or applies everything in one exec, so a finished host is the
//! finest honest step; the bar never guesses inside a host.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q`: no progress at all.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// One phase's progress over a number of hosts.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Progress of `phase` over `total` hosts, on stderr when it is a terminal, unless `-q`.
    pub fn new(phase: &str, total: usize) -> Self {
        let watched = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !QUIET.load(Ordering::Relaxed);
        Self::with_target(phase, total, watched.then(ProgressDrawTarget::stderr))
    }

    /// [`new`](Self::new) drawing on `target` (`None`: hidden). A single host shows nothing:
    /// its own output follows at once.
    pub fn with_target(phase: &str, total: usize, target: Option<ProgressDrawTarget>) -> Self {
        let bar = match target {
            Some(t) if total > 1 => {
                let bar = ProgressBar::with_draw_target(Some(total as u64), t);
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} {prefix}: {pos}/{len} hosts [{elapsed}] {msg}")
                {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            }
            _ => ProgressBar::hidden(),
        };
        bar.set_prefix(phase.to_string());
        Progress { bar }
    }

    /// One host is done; `failed` when it did not succeed.
    pub fn host_done(&self, host: &str, failed: bool) {
        self.bar.inc(1);
        let host = crate::render::escape::line(host);
        self.bar.set_message(if failed { format!("{host} FAILED") } else { format!("{host} done") });
    }

    /// Hosts done so far.
    pub fn done(&self) -> u64 {
        self.bar.position()
    }

    /// Removes the bar (before the run prints its result on stdout).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what was drawn.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if let Ok(mut t) = self.0.lock() {
                t.push_str(s);
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn shows_phase_hosts_done_and_the_last_host() {
        let screen = Screen::default();
        let p = Progress::with_target("applying", 3, Some(ProgressDrawTarget::term_like(Box::new(screen.clone()))));
        p.host_done("h1", false);
        p.host_done("h\x1b[2J2", true);
        p.bar.tick();
        assert_eq!(p.done(), 2);
        let drawn = screen.0.lock().map(|s| s.clone()).unwrap_or_default();
        assert!(drawn.contains("applying: 2/3 hosts"), "{drawn:?}");
        assert!(drawn.contains("FAILED") && !drawn.contains('\x1b'), "host names are escaped: {drawn:?}");
    }

    #[test]
    fn hidden_without_a_terminal_or_for_one_host() {
        for (target, total) in [(None, 5), (Some(ProgressDrawTarget::term_like(Box::new(Screen::default()))), 1)] {
            let p = Progress::with_target("observing", total, target);
            p.host_done("h1", false);
            assert!(p.bar.is_hidden());
        }
    }
}
