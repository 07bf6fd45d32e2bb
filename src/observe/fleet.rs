//! Observing many hosts at once: one thread per host, at most `parallel` at a time.
//!
//! Each worker connects (one SSH connection per host) and observes (one exec) within the host's
//! `observe_timeout`, as the name's target kind does it (`crate::target`: a Xen host, a Manager). A host that fails or times out yields its error; the others finish. Results come back in host-name order, so output
//! is deterministic.

use std::sync::Mutex;

use super::Observed;
use crate::engine::Session;
use crate::model::{Host, Model};
use crate::transport::{self, Transport, TransportError};

/// One host's outcome, with the open connection kept for later steps (apply).
pub struct HostResult {
    /// Host name.
    pub host: String,
    /// The facts, or why they could not be read.
    pub observed: Result<Observed, ObserveError>,
    /// The connection, when it opened; in [`Mode::Lock`] it holds the host lock until dropped.
    pub session: Option<Session>,
}

/// Why a host could not be observed.
pub type ObserveError = super::lock::LockError;

/// Opens a transport for a host; tests and `demo` substitute their own.
pub type Connector<'a> = dyn Fn(&Host) -> Result<Box<dyn Transport>, TransportError> + Sync + 'a;

/// The default connector: SSH or local, as the host declares.
pub fn default_connector(host: &Host) -> Result<Box<dyn Transport>, TransportError> {
    transport::ssh::open(host)
}

pub use crate::target::xen::extra_paths;

/// Read only, or under the host lock (for apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Observe only.
    Read,
    /// Take the host lock and observe in the same round trip; the lock is held by the returned transport.
    Lock,
    /// [`Mode::Lock`], but a lock another apply holds is tried again, with a growing wait,
    /// for up to this long (`reconcile --lock-timeout`: a schedule waits for a person).
    LockWaiting(std::time::Duration),
}

impl Mode {
    /// Whether the host lock is taken.
    pub fn locks(self) -> bool {
        self != Mode::Read
    }
}

/// The wait before trying a busy lock again: 1 s, 2 s, 4 s … at most 30 s, and never past the
/// deadline.
pub fn lock_backoff(attempt: u32, left: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << attempt.min(5)).min(std::time::Duration::from_secs(30)).min(left)
}

/// Observes `hosts` (names from the model), `parallel` at a time.
pub fn observe_hosts(model: &Model, hosts: &[String], parallel: usize, connect: &Connector<'_>) -> Vec<HostResult> {
    observe_hosts_with(model, hosts, parallel, connect, Mode::Read)
}

/// Like [`observe_hosts`], choosing the mode.
pub fn observe_hosts_with(
    model: &Model,
    hosts: &[String],
    parallel: usize,
    connect: &Connector<'_>,
    mode: Mode,
) -> Vec<HostResult> {
    observe_hosts_each(model, hosts, parallel, connect, mode, &|_| {})
}

/// Like [`observe_hosts_with`], calling `done` as each host finishes (for progress).
pub fn observe_hosts_each(
    model: &Model,
    hosts: &[String],
    parallel: usize,
    connect: &Connector<'_>,
    mode: Mode,
    done: &(dyn Fn(&HostResult) + Sync),
) -> Vec<HostResult> {
    let queue = Mutex::new(hosts.iter().collect::<Vec<_>>().into_iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, hosts.len().max(1)) {
            scope.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some(name) = next else { break };
                let result = observe_one(model, name, connect, mode);
                done(&result);
                if let Ok(mut r) = results.lock() {
                    r.push(result);
                }
            });
        }
    });
    let mut out = results.into_inner().unwrap_or_default();
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
}

/// Observing is read-only, so a transient failure (a connection refused, cut or too slow to
/// shake hands) is tried again: at most this many attempts in all.
pub const ATTEMPTS: u32 = 3;

/// The wait before attempt `n + 1` (0.5 s, 1 s, ...), spread a little so that hosts that failed
/// together do not come back together.
fn backoff(n: u32, host: &str) -> std::time::Duration {
    let spread = host.bytes().fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b))) % 250;
    std::time::Duration::from_millis(500 * (1u64 << (n - 1).min(4)) + spread)
}

fn observe_one(model: &Model, name: &str, connect: &Connector<'_>, mode: Mode) -> HostResult {
    let Mode::LockWaiting(wait) = mode else { return observe_retrying(model, name, connect, mode) };
    let deadline = std::time::Instant::now() + wait;
    let mut attempt = 0;
    loop {
        let result = observe_retrying(model, name, connect, mode);
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !matches!(result.observed, Err(ObserveError::Busy { .. })) || left.is_zero() {
            return result;
        }
        drop(result);
        let pause = lock_backoff(attempt, left);
        tracing::info!(host = %name, "locked by another apply; trying again in {} s", pause.as_secs());
        std::thread::sleep(pause);
        attempt += 1;
    }
}

/// One observe, a transient failure tried again up to [`ATTEMPTS`] times.
fn observe_retrying(model: &Model, name: &str, connect: &Connector<'_>, mode: Mode) -> HostResult {
    let mut attempt = 1;
    loop {
        let result = observe_once(model, name, connect, mode);
        let transient = match &result.observed {
            Err(ObserveError::Transport(e)) if e.is_transient() => Some(e.to_string()),
            _ => None,
        };
        match transient {
            Some(why) if attempt < ATTEMPTS => {
                let wait = backoff(attempt, name);
                tracing::info!(host = %name, "attempt {attempt} of {ATTEMPTS} failed: {why}; trying again in {:.1} s", wait.as_secs_f64());
                drop(result);
                std::thread::sleep(wait);
                attempt += 1;
            }
            Some(_) if attempt > 1 => {
                let mut r = result;
                if let Err(ObserveError::Transport(e)) = &mut r.observed {
                    append(e, &format!(" (after {attempt} attempts)"));
                }
                return r;
            }
            _ => {
                if attempt > 1 {
                    tracing::info!(host = %name, "attempt {attempt} of {ATTEMPTS} succeeded");
                }
                return result;
            }
        }
    }
}

fn append(e: &mut TransportError, text: &str) {
    match e {
        TransportError::Connect { message, .. }
        | TransportError::HostKey { message, .. }
        | TransportError::TimedOut { message, .. }
        | TransportError::Exec { message, .. } => message.push_str(text),
    }
}

fn observe_once(model: &Model, name: &str, connect: &Connector<'_>, mode: Mode) -> HostResult {
    let Some(target) = crate::target::resolve(model, name) else {
        return HostResult {
            host: name.to_string(),
            observed: Err(ObserveError::Transport(TransportError::Connect {
                host: name.to_string(),
                message: "not declared in the desired state".into(),
                transient: false,
            })),
            session: None,
        };
    };
    let span = tracing::info_span!("observe", host = %name);
    let _g = span.enter();
    match connect(target.conn()) {
        Ok(mut t) => {
            let observed = match mode {
                Mode::Read => target.observe(t.as_mut()).map_err(ObserveError::Transport),
                Mode::Lock | Mode::LockWaiting(_) => crate::target::lock_and_observe(t.as_mut(), target.as_ref()),
            };
            tracing::debug!(execs = t.exec_count(), "observed");
            HostResult { host: name.to_string(), session: Some(session(name, t, mode, &observed)), observed }
        }
        Err(e) => HostResult { host: name.to_string(), observed: Err(ObserveError::Transport(e)), session: None },
    }
}

/// The session a host's connection becomes: it holds the lock when the lock was asked for
/// and taken (the lock script observed), so dropping it frees the lock.
fn session(name: &str, t: Box<dyn Transport>, mode: Mode, observed: &Result<Observed, ObserveError>) -> Session {
    match (mode, observed) {
        (m, Ok(_)) if m.locks() => Session::locked(name, t),
        _ => Session::open(name, t),
    }
}

#[cfg(test)]
mod lock_wait_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_lock_wait_grows_to_30_seconds_and_stops_at_the_deadline() {
        let waits: Vec<u64> = (0..7).map(|n| lock_backoff(n, Duration::from_secs(600)).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(lock_backoff(4, Duration::from_millis(1500)), Duration::from_millis(1500));
        assert!(Mode::LockWaiting(Duration::ZERO).locks() && Mode::Lock.locks() && !Mode::Read.locks());
    }
}
