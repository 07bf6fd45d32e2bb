//! Executing a plan: per host, under the host lock, all changes in one batched exec.
//!
//! Steps, per host (hosts in parallel): take the lock and observe in the same round trip
//! ([`lock`]); plan, or check a saved plan's fingerprint; run the batch script ([`script`]);
//! read back which steps ran. A failure stops that host; the other hosts finish; the exit code
//! is 1. Nothing is retried behind the user's back: the next `apply` converges from what is there.

pub mod lock;
pub mod script;
pub mod verify;

use serde::Serialize;

use crate::model::{Host, Toolstack};
use crate::observe::{self, sections, ObserveRequest, Observed};
use crate::plan::HostPlan;
use crate::transport::{Transport, TransportError};

/// Why a host could not be locked and observed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another apply holds the lock.
    #[error("{host} is locked by another apply ({holder}); try again when it has finished")]
    Busy {
        /// Host.
        host: String,
        /// Holder line (controller, pid, start time).
        holder: String,
    },
    /// The lock could not be taken for another reason.
    #[error("{host}: cannot take the lock {path}: {message}")]
    Failed {
        /// Host.
        host: String,
        /// Lock file.
        path: String,
        /// Output.
        message: String,
    },
    /// The host could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Takes the host lock and observes in one round trip. The lock is held until the
/// transport's background script is ended (or the transport dropped).
pub fn lock_and_observe(t: &mut dyn Transport, host: &Host, req: &ObserveRequest) -> Result<Observed, LockError> {
    let path = lock::lock_path(&host.repositories);
    let start = std::time::Instant::now();
    let (body, marker) = locked(t, &host.name, path, |marker| observe::script::build(req, marker))?;
    let mut obs = observe::parse(&host.name, &body, &marker, req);
    obs.execs = 1;
    obs.elapsed = start.elapsed();
    Ok(obs)
}

/// [`lock_and_observe`] for an Oracle VM Manager host: the lock is `<domain>/.domform.lock`.
pub fn lock_and_observe_manager(
    t: &mut dyn Transport,
    m: &crate::model::manager::Manager,
) -> Result<Observed, LockError> {
    let start = std::time::Instant::now();
    let (body, marker) = locked(t, &m.name, m.lock_path(), |marker| observe::manager::script(&m.domain, marker))?;
    let mut obs = observe::manager::observed(&m.name, &m.domain, &body, &marker);
    obs.execs = 1;
    obs.elapsed = start.elapsed();
    Ok(obs)
}

/// Starts the lock script around `observe(marker)`; returns what the observe part printed.
fn locked(
    t: &mut dyn Transport,
    name: &str,
    path: String,
    observe: impl FnOnce(&str) -> String,
) -> Result<(String, String), LockError> {
    let marker = observe::script::new_marker();
    let text = lock::script(&path, &lock::holder_info(), &marker, &observe(&marker));
    let (locked, observed) = lock::markers(&marker);
    let bg = t.start_background(&text, &observed)?;
    if let Some(status) = bg.ended {
        let busy = format!("{marker} busy\n");
        return Err(match bg.output.split_once(&busy) {
            Some((_, holder)) => LockError::Busy { host: name.to_string(), holder: holder.trim().to_string() },
            None => LockError::Failed {
                host: name.to_string(),
                path,
                message: format!("exit status {status}: {}", bg.output.trim()),
            },
        });
    }
    let body = bg.output.split_once(&format!("{locked}\n")).map(|(_, rest)| rest).unwrap_or(&bg.output);
    Ok((body.to_string(), marker))
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum StepStatus {
    /// Ran and succeeded.
    Done,
    /// Ran and failed.
    Failed {
        /// Exit status.
        exit_status: Option<i32>,
        /// What the commands printed.
        output: String,
    },
    /// Started, but the connection to the host was lost before it reported: it may have run
    /// in part. The next plan shows what is left.
    Interrupted,
    /// Not run (an earlier step failed, or the host was lost).
    NotRun,
}

/// One change's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Change id.
    pub id: String,
    /// Outcome.
    #[serde(flatten)]
    pub status: StepStatus,
}

/// One host's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// Host.
    pub host: String,
    /// Per change, in plan order.
    pub steps: Vec<StepReport>,
    /// A host-level failure (lost connection, …).
    pub error: Option<String>,
    /// Execs used for the changes.
    pub execs: usize,
}

impl HostReport {
    /// True when every change ran and nothing failed.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(|s| s.status == StepStatus::Done)
    }
}

/// Runs a host's changes in one exec and reports each.
pub fn apply_host(t: &mut dyn Transport, hp: &HostPlan, toolstack: Toolstack) -> HostReport {
    let mut report = HostReport { host: hp.host.clone(), steps: Vec::new(), error: None, execs: 0 };
    if hp.changes.is_empty() {
        return report;
    }
    let marker = observe::script::new_marker();
    let text = script::build(&hp.changes, toolstack, &marker);
    let before = t.exec_count();
    let result = t.exec(&text, &[]);
    report.execs = t.exec_count() - before;
    let stdout = match result {
        Ok(out) => {
            if let Some(lost) = &out.lost {
                report.error = Some(format!("{lost}; the steps above show what ran before"));
            }
            out.stdout_text()
        }
        Err(e) => {
            report.error = Some(e.to_string());
            String::new()
        }
    };
    let ran = sections::split(&stdout, &marker);
    for c in &hp.changes {
        let status = match ran.iter().find(|s| s.kind == "step" && s.arg == c.id) {
            Some(s) if s.status == Some(0) => StepStatus::Done,
            Some(s) if s.status.is_none() => StepStatus::Interrupted,
            Some(s) => StepStatus::Failed { exit_status: s.status, output: s.body.trim().to_string() },
            None => StepStatus::NotRun,
        };
        report.steps.push(StepReport { id: c.id.clone(), status });
    }
    if report.error.is_none() && ran.iter().any(|s| s.status.is_none()) {
        report.error = Some(format!("{}: the connection ended during a step", hp.host));
    }
    let pins = verify::expected(&hp.changes);
    if report.ok() && !pins.is_empty() {
        let status = match verify::verify(t, toolstack, &pins) {
            Ok(bad) if bad.is_empty() => StepStatus::Done,
            Ok(bad) => StepStatus::Failed { exit_status: None, output: bad.join("\n") },
            Err(e) => StepStatus::Failed { exit_status: None, output: e },
        };
        report.execs += 1;
        report.steps.push(StepReport { id: "verify/pinning".into(), status });
    }
    report
}
