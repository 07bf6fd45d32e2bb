//! An in-memory host for tests: scripted replies, and a record of every script it was sent.
//!
//! Lets tests assert the exact command sequence (kube's `ApiServerVerifier` habit) and that
//! `plan` sends nothing that mutates.

use std::sync::{Arc, Mutex};

use super::{Background, ExecOutput, Limit, Transport, TransportError};

type Responder = dyn Fn(&str, &[u8]) -> ExecOutput + Send + Sync;

/// A scripted host. Clones share the record.
#[derive(Clone)]
pub struct FakeTransport {
    name: String,
    respond: Arc<Responder>,
    log: Arc<Mutex<Vec<String>>>,
    limits: Arc<Mutex<Vec<Option<Limit>>>>,
}

impl FakeTransport {
    /// A host whose replies come from `respond(script, stdin)`.
    pub fn new(name: impl Into<String>, respond: impl Fn(&str, &[u8]) -> ExecOutput + Send + Sync + 'static) -> Self {
        FakeTransport { name: name.into(), respond: Arc::new(respond), log: Arc::default(), limits: Arc::default() }
    }

    /// The time limit each script was sent with, in order.
    pub fn limits(&self) -> Vec<Option<Limit>> {
        self.limits.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every script sent, in order.
    pub fn scripts(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Transport for FakeTransport {
    fn host(&self) -> &str {
        &self.name
    }

    /// The responder plays the host, a timeout included: it returns `timed_out: true` (and
    /// the output so far) to act as a host where the limit ran out.
    fn exec_limited(
        &mut self,
        script: &str,
        stdin: &[u8],
        limit: Option<&Limit>,
    ) -> Result<ExecOutput, TransportError> {
        if let Ok(mut l) = self.log.lock() {
            l.push(script.to_string());
        }
        if let Ok(mut l) = self.limits.lock() {
            l.push(limit.cloned());
        }
        Ok((self.respond)(script, stdin))
    }

    fn exec_count(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or_default()
    }

    /// The responder answers the background script like any other; output up to the marker
    /// is returned, and the script counts as still running when the marker was printed.
    fn start_background(
        &mut self,
        script: &str,
        marker: &str,
        limit: Option<&Limit>,
    ) -> Result<Background, TransportError> {
        let out = self.exec_limited(script, &[], limit)?;
        let text = out.stdout_text();
        match text.split_once(&format!("{marker}\n")) {
            Some((before, _)) => Ok(Background { output: before.to_string(), ended: None, timed_out: false }),
            None => Ok(Background { output: text, ended: Some(out.status), timed_out: out.timed_out }),
        }
    }

    fn end_background(&mut self) {}
}
