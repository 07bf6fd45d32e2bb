//! A limit on SSH handshakes in flight, separate from `--parallel`.
//!
//! Why: the handshake (key exchange, host-key check, authentication) is the CPU-heavy part of
//! reaching a host, for the controller and for the host; an exec afterwards costs little. With
//! `--parallel 64` on a small controller, 64 simultaneous handshakes starve each other until
//! libssh2's timeouts fire. Workers therefore wait for a slot before connecting and give it back
//! as soon as the connection is up, so many hosts can still be observed and applied at once.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

struct Gate {
    state: Mutex<(usize, usize)>, // (in flight, limit)
    freed: Condvar,
}

static GATE: Gate = Gate { state: Mutex::new((0, 0)), freed: Condvar::new() };

/// The default: four handshakes per core the controller has, at least four.
pub fn default_limit() -> usize {
    std::thread::available_parallelism().map(|n| n.get() * 4).unwrap_or(4).max(4)
}

/// Sets the limit for this process (`--max-handshakes`); 0 means the default.
pub fn set_limit(n: usize) {
    if let Ok(mut s) = GATE.state.lock() {
        s.1 = n;
    }
    GATE.freed.notify_all();
}

/// The limit in force.
pub fn limit() -> usize {
    GATE.state.lock().map(|s| if s.1 == 0 { default_limit() } else { s.1 }).unwrap_or_else(|_| default_limit())
}

/// A slot; the next waiter goes on when it is dropped.
pub struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut s) = GATE.state.lock() {
            s.0 = s.0.saturating_sub(1);
        }
        GATE.freed.notify_one();
    }
}

/// Waits for a free slot (logged at -vv when it had to wait).
pub fn enter(host: &str) -> Slot {
    let start = Instant::now();
    let max = limit();
    let Ok(mut s) = GATE.state.lock() else { return Slot };
    while s.0 >= max {
        s = match GATE.freed.wait(s) {
            Ok(g) => g,
            Err(_) => return Slot,
        };
    }
    s.0 += 1;
    let waited = start.elapsed();
    if waited.as_millis() >= 50 {
        tracing::debug!(host, "waited {:.1} s for a handshake slot ({max} at a time)", waited.as_secs_f64());
    }
    Slot
}

/// Handshakes in flight now (for tests).
pub fn in_flight() -> usize {
    GATE.state.lock().map(|s| s.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_the_limit_in_flight() {
        set_limit(3);
        let peak = AtomicUsize::new(0);
        let now = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for i in 0..24 {
                let (peak, now) = (&peak, &now);
                s.spawn(move || {
                    let _slot = enter(&format!("h{i}"));
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), 3, "the limit is reached and never passed");
        assert_eq!(in_flight(), 0, "every slot given back");
        set_limit(0);
        assert_eq!(limit(), default_limit());
    }
}
