//! Time limits for one exec: a wedged xend must not keep `plan`, `list` or `apply` waiting.
//!
//! Real `xm` is a client of xend and a wedged xend never answers, so every exec that may call it
//! runs under a [`Limit`]. Two halves, because either side may be the stuck one:
//!
//! - **controller side** (every transport): [`Transport::exec_limited`](super::Transport::exec_limited)
//!   and `start_background` stop waiting when the limit runs out, give up the exec (close the SSH
//!   channel, kill the local process group) and return what arrived so far with `timed_out` set.
//!   A [`Deadline`] does the bookkeeping; with [`Limit::restart_on`] the clock starts again at
//!   every stdout line that begins with that text (apply: each step's marker line, so the limit
//!   is per step although all steps run in one exec).
//! - **host side** (the scripts): closing a channel does not stop a hung `xm` on the host, so
//!   the generated scripts define [`WATCHDOG_FNS`] and bracket their slow parts with
//!   `dfw_start SECONDS` … `dfw_stop`. When the watchdog fires it signals the exec's whole
//!   process group (sshd makes each session its own group; the local transport does the same),
//!   TERM then KILL. It is pure `sh` (`sleep`, `kill`, `wait`): OVM 3.0–3.2's coreutils 5.97 has
//!   no `timeout`. The host's limit is the controller's plus [`HOST_GRACE`], so the controller
//!   always decides first and reports, and the host cleans up shortly after.

use std::time::{Duration, Instant};

/// Seconds the host-side watchdog waits beyond the controller's limit.
pub const HOST_GRACE: Duration = Duration::from_secs(5);

/// A time limit for one exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// How long the exec may run (or, with `restart_on`, run since the last such line).
    pub after: Duration,
    /// When set, the clock restarts at every stdout line starting with this text.
    pub restart_on: Option<String>,
}

impl Limit {
    /// A limit for the whole exec.
    pub fn total(after: Duration) -> Limit {
        Limit { after, restart_on: None }
    }

    /// A limit that restarts at every stdout line starting with `prefix`.
    pub fn per_line(after: Duration, prefix: impl Into<String>) -> Limit {
        Limit { after, restart_on: Some(prefix.into()) }
    }

    /// Seconds the host-side watchdog should wait: the limit plus [`HOST_GRACE`], rounded up.
    pub fn host_secs(&self) -> u64 {
        (self.after + HOST_GRACE).as_secs() + u64::from((self.after + HOST_GRACE).subsec_nanos() > 0)
    }
}

/// Controller-side bookkeeping of one exec's limit; transports feed it what stdout delivers.
#[derive(Debug, Clone)]
pub struct Deadline {
    limit: Option<Limit>,
    since: Instant,
    line: Vec<u8>,
}

impl Deadline {
    /// Starts the clock now (`None`: no limit).
    pub fn new(limit: Option<&Limit>) -> Deadline {
        Deadline { limit: limit.cloned(), since: Instant::now(), line: Vec::new() }
    }

    /// Time left: `None` without a limit, `Some(ZERO)` when it ran out.
    pub fn remaining(&self) -> Option<Duration> {
        self.limit.as_ref().map(|l| l.after.saturating_sub(self.since.elapsed()))
    }

    /// The limit ran out.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// Notes stdout data: restarts the clock at each complete line starting with `restart_on`.
    pub fn saw_stdout(&mut self, chunk: &[u8]) {
        let Some(prefix) = self.limit.as_ref().and_then(|l| l.restart_on.as_deref()) else { return };
        for &b in chunk {
            if b == b'\n' {
                if self.line.starts_with(prefix.as_bytes()) {
                    self.since = Instant::now();
                }
                self.line.clear();
            } else if self.line.len() <= prefix.len() {
                self.line.push(b);
            }
        }
    }

    /// Milliseconds left for a blocking call (at least 1; `None` without a limit).
    pub fn remaining_ms(&self) -> Option<u32> {
        self.remaining().map(|r| u32::try_from(r.as_millis()).unwrap_or(u32::MAX).max(1))
    }
}

/// What a child process (the local `sh`, the system `ssh`) printed, read under a limit.
#[derive(Debug, Default)]
pub struct Collected {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit status (`None` when the limit ran out).
    pub status: Option<std::process::ExitStatus>,
    /// The limit ran out: `give_up` was called and the child reaped.
    pub timed_out: bool,
}

/// Reads a spawned child's piped stdout and stderr until it exits, or until the limit runs out;
/// then calls `give_up` (kill the child, or its process group) and reaps it. For transports
/// that run a local process per exec.
pub fn collect(
    child: &mut std::process::Child,
    limit: Option<&Limit>,
    give_up: impl FnOnce(&mut std::process::Child),
) -> std::io::Result<Collected> {
    use std::io::Read;
    use std::sync::mpsc;
    let mut deadline = Deadline::new(limit);
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = e.read_to_end(&mut buf);
            buf
        })
    });
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    if let Some(mut out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut chunk = [0u8; 16 * 1024];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
    } else {
        drop(tx);
    }
    let mut got = Collected::default();
    loop {
        let next = match deadline.remaining() {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(left) => rx.recv_timeout(left),
        };
        match next {
            Ok(chunk) => {
                deadline.saw_stdout(&chunk);
                got.stdout.extend_from_slice(&chunk);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                got.timed_out = true;
                break;
            }
        }
    }
    // stdout closed: the child is ending; it still gets the rest of its time to exit.
    while !got.timed_out && limit.is_some() {
        match child.try_wait()? {
            Some(_) => break,
            None if deadline.expired() => got.timed_out = true,
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    if got.timed_out {
        give_up(child);
    }
    let status = child.wait()?;
    got.status = (!got.timed_out).then_some(status);
    got.stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(got)
}

/// Reads a child's stdout until a line equal to `marker` (see
/// [`read_until_marker`](super::read_until_marker)) within the limit: `(found, output, timed_out)`.
/// On a timeout the output read so far is returned; the caller ends the child.
pub fn await_marker(
    child: &mut std::process::Child,
    marker: &str,
    limit: Option<&Limit>,
) -> std::io::Result<(bool, String, bool)> {
    use std::sync::{mpsc, Arc, Mutex};
    let Some(mut out) = child.stdout.take() else { return Ok((false, String::new(), false)) };
    let seen = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let shared = seen.clone();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        let mut reader = Copying { inner: &mut out, seen: shared };
        let mut output = String::new();
        let _ = tx.send(super::read_until_marker(&mut reader, &marker, &mut output).map(|f| (f, output)));
    });
    let deadline = Deadline::new(limit);
    let got = match deadline.remaining() {
        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        Some(left) => rx.recv_timeout(left),
    };
    match got {
        Ok(Ok((found, output))) => Ok((found, output, false)),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok((false, seen.lock().map(|s| s.clone()).unwrap_or_default(), true)),
    }
}

/// A reader that also copies what it reads into `seen` (lossy text).
struct Copying<'a, R: std::io::Read> {
    inner: &'a mut R,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl<R: std::io::Read> std::io::Read for Copying<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut s) = self.seen.lock() {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Ok(n)
    }
}

/// Host-side watchdog, POSIX `sh` (bash 3.2, dash, busybox): `dfw_start SECONDS` starts it in
/// the background, `dfw_stop` ends it (and its `sleep`). When it fires it sends TERM, then
/// after 2 s KILL, to the exec's whole process group (`kill 0`), itself included.
///
/// Details that matter: `dfw_stop` signals with USR1, not TERM, because a freshly forked
/// subshell briefly runs its parent's traps (the scripts trap TERM to print their `timeout`
/// line), and the parent traps no USR1, so an early USR1 simply ends the watchdog. The watchdog
/// closes fd 9, the host lock's descriptor (`apply/lock.rs`), so it never holds the lock, and
/// its stdio is /dev/null so it never holds the SSH channel open.
pub const WATCHDOG_FNS: &str = "dfw_start() { ( trap 'kill $dfw_s 2>/dev/null; exit 0' USR1; sleep \"$1\" & dfw_s=$!; \
wait $dfw_s || exit 0; trap '' TERM; kill -TERM 0; sleep 2; kill -KILL 0 ) </dev/null >/dev/null 2>&1 9>&- & dfw=$!; }\n\
dfw_stop() { [ -z \"$dfw\" ] || { kill -USR1 $dfw 2>/dev/null; wait $dfw 2>/dev/null; }; dfw=; }\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;
    use crate::transport::Transport;

    #[test]
    fn restarts_only_at_whole_matching_lines() {
        let mut d = Deadline::new(Some(&Limit::per_line(Duration::from_millis(300), "@@m step ")));
        std::thread::sleep(Duration::from_millis(200));
        d.saw_stdout(b"x @@m step a\n@@m st");
        assert!(d.remaining().expect("limit") < Duration::from_millis(150), "a line not at the start restarted");
        d.saw_stdout(b"ep b\n");
        assert!(d.remaining().expect("limit") > Duration::from_millis(250), "a split marker line did not restart");
        assert_eq!(Deadline::new(None).remaining(), None);
        let gone = Deadline::new(Some(&Limit::total(Duration::ZERO)));
        assert!(gone.expired());
        assert_eq!(gone.remaining_ms(), Some(1));
    }

    #[test]
    fn host_secs_round_up_with_grace() {
        assert_eq!(Limit::total(Duration::from_secs(3)).host_secs(), 8);
        assert_eq!(Limit::total(Duration::from_millis(2500)).host_secs(), 8);
    }

    /// The host side alone (no controller limit): the watchdog ends what hangs, the script's
    /// own output up to then stays, and a script that finishes in time is left alone.
    #[test]
    fn watchdog_kills_the_process_group_and_leaves_quick_scripts_alone() {
        let mut t = LocalTransport::new("here");
        let hung = format!("{WATCHDOG_FNS}dfw_start 1\necho before; sleep 30; echo after\ndfw_stop\n");
        let start = Instant::now();
        let out = t.exec(&hung, &[]).expect("runs");
        assert!(start.elapsed() < Duration::from_secs(20), "the watchdog did not fire");
        assert_eq!(out.stdout_text(), "before\n");
        assert_ne!(out.status, 0);
        let quick = format!("{WATCHDOG_FNS}dfw_start 1\necho done\ndfw_stop\nsleep 2; echo still here\n");
        let out = t.exec(&quick, &[]).expect("runs");
        assert_eq!(out.stdout_text(), "done\nstill here\n", "a stopped watchdog fired");
        assert_eq!(out.status, 0);
    }

    /// Many quick steps, each with its own watchdog, under a TERM trap as the apply script has:
    /// stopping a watchdog the instant it started must never look like a timeout.
    #[test]
    fn quick_starts_and_stops_never_fire() {
        let mut t = LocalTransport::new("here");
        let mut script = format!("{WATCHDOG_FNS}trap 'echo TIMEOUT; exit 124' TERM\n");
        for i in 0..200 {
            script.push_str(&format!("dfw_start 600\n( true ); dfw_stop\necho {i}\n"));
        }
        let out = t.exec_limited(&script, &[], Some(&Limit::total(Duration::from_secs(60)))).expect("runs");
        assert!(!out.timed_out && !out.stdout_text().contains("TIMEOUT"), "a stopped watchdog fired: {out:?}");
        assert_eq!((out.status, out.stdout_text().lines().count()), (0, 200));
    }
}
