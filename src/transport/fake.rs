//! An in-memory host for tests: scripted replies, and a record of every script it was sent.
//!
//! Lets tests assert the exact command sequence (kube's `ApiServerVerifier` habit) and that
//! `plan` sends nothing that mutates.

use std::sync::{Arc, Mutex};

use super::{Background, ExecOutput, Transport, TransportError};

type Responder = dyn Fn(&str, &[u8]) -> ExecOutput + Send + Sync;

/// A scripted host. Clones share the record.
#[derive(Clone)]
pub struct FakeTransport {
    name: String,
    respond: Arc<Responder>,
    log: Arc<Mutex<Vec<String>>>,
}

impl FakeTransport {
    /// A host whose replies come from `respond(script, stdin)`.
    pub fn new(name: impl Into<String>, respond: impl Fn(&str, &[u8]) -> ExecOutput + Send + Sync + 'static) -> Self {
        FakeTransport { name: name.into(), respond: Arc::new(respond), log: Arc::default() }
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

    fn exec(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        if let Ok(mut l) = self.log.lock() {
            l.push(script.to_string());
        }
        Ok((self.respond)(script, stdin))
    }

    fn exec_count(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or_default()
    }

    /// The responder answers the background script like any other; output up to the marker
    /// is returned, and the script counts as still running when the marker was printed.
    fn start_background(&mut self, script: &str, marker: &str) -> Result<Background, TransportError> {
        let out = self.exec(script, &[])?;
        let text = out.stdout_text();
        match text.split_once(&format!("{marker}\n")) {
            Some((before, _)) => Ok(Background { output: before.to_string(), ended: None }),
            None => Ok(Background { output: text, ended: Some(out.status) }),
        }
    }

    fn end_background(&mut self) {}
}
