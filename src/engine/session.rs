//! One host's connection and, in lock mode, its lock: a value with one owner.
//!
//! The host lock is a background script left running on the connection by the lock-and-observe
//! exec (`observe::lock`); it is freed when that script ends. Before, whichever caller
//! remembered called `end_background()`. Now the lock is a guard inside the `Session`: it is
//! released when the session is dropped (or earlier, with [`Session::release`]), so no path
//! through the code (an error, an early return, a panic) can forget it. This module depends
//! only on `transport`, so every layer may hold a session.

use crate::transport::Transport;

/// A host's open connection, and its lock when it was taken.
pub struct Session {
    host: String,
    transport: Box<dyn Transport>,
    lock: Option<LockGuard>,
}

/// Proof that the host lock is held by this session's background script.
#[derive(Debug)]
struct LockGuard;

impl Session {
    /// A connection without the lock (read-only work).
    pub fn open(host: impl Into<String>, transport: Box<dyn Transport>) -> Self {
        Session { host: host.into(), transport, lock: None }
    }

    /// A connection on which the lock-and-observe script succeeded: the lock is held until
    /// the session is dropped or [`release`](Self::release)d.
    pub fn locked(host: impl Into<String>, transport: Box<dyn Transport>) -> Self {
        Session { host: host.into(), transport, lock: Some(LockGuard) }
    }

    /// The host's name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// True while this session holds the host lock.
    pub fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }

    /// The connection, for execs.
    pub fn transport(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }

    /// Frees the host lock now (ends the lock script); the connection stays open. Idempotent.
    pub fn release(&mut self) {
        if self.lock.take().is_some() {
            self.transport.end_background();
            tracing::debug!(host = %self.host, "lock released");
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.release();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("host", &self.host).field("locked", &self.lock.is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Background, ExecOutput, Limit, TransportError};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts how often the background (lock) script was ended.
    struct Counting(Arc<AtomicUsize>);

    impl Transport for Counting {
        fn host(&self) -> &str {
            "h1"
        }
        fn exec_limited(&mut self, _: &str, _: &[u8], _: Option<&Limit>) -> Result<ExecOutput, TransportError> {
            Ok(ExecOutput::default())
        }
        fn exec_count(&self) -> usize {
            0
        }
        fn start_background(&mut self, _: &str, _: &str, _: Option<&Limit>) -> Result<Background, TransportError> {
            Ok(Background { output: String::new(), ended: None, timed_out: false })
        }
        fn end_background(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_locked_session_releases_its_lock_once_on_drop() {
        let ended = Arc::new(AtomicUsize::new(0));
        let s = Session::locked("h1", Box::new(Counting(ended.clone())));
        assert!(s.holds_lock());
        drop(s);
        assert_eq!(ended.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_early_release_is_not_repeated_by_drop() {
        let ended = Arc::new(AtomicUsize::new(0));
        let mut s = Session::locked("h1", Box::new(Counting(ended.clone())));
        s.release();
        assert!(!s.holds_lock());
        s.release();
        drop(s);
        assert_eq!(ended.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_read_session_has_no_lock_to_release() {
        let ended = Arc::new(AtomicUsize::new(0));
        drop(Session::open("h1", Box::new(Counting(ended.clone()))));
        assert_eq!(ended.load(Ordering::SeqCst), 0);
    }
}
