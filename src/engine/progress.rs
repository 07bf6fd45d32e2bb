//! Progress on stderr while a run works on many hosts. Silent when stderr is not a terminal.

use std::io::IsTerminal;

use crate::apply::HostReport;

/// Progress of one phase (observe, apply) over `total` hosts.
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Progress over `total` hosts; shown only on a terminal and when there is work.
    pub fn new(total: usize) -> Self {
        Progress { shown: total > 0 && std::io::stderr().is_terminal() }
    }

    /// The phase now running.
    pub fn phase(&self, what: &str) {
        if self.shown && what == "applying" {
            eprintln!("Applying…");
        }
    }

    /// One host finished its changes.
    pub fn host_done(&self, r: &HostReport) {
        if self.shown && !r.steps.is_empty() {
            let state = if r.ok() { "done" } else { "FAILED" };
            eprintln!("  {}: {} step(s) {state}", crate::render::escape::line(&r.host), r.steps.len());
        }
    }

    /// The phase is over.
    pub fn clear(&self) {}
}
