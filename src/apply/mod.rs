//! Executing a plan: per host, under the host lock, all changes in one batched exec.
//!
//! Steps, per host (hosts in parallel): take the lock and observe in the same round trip
//! ([`lock`]); plan, or check a saved plan's fingerprint; run the batch script ([`script`]);
//! read back which steps ran. A failure stops that host; the other hosts finish; the exit code
//! is 1. Nothing is retried behind the user's back: the next `apply` converges from what is there.

pub mod lock;
pub mod script;
pub mod secrets;
pub mod verify;

use serde::Serialize;

use std::time::Duration;

use crate::model::{Host, Toolstack, SHUTDOWN_STEP_MARGIN};
use crate::observe::{self, sections, ObserveRequest, Observed};
use crate::plan::{Change, HostPlan, Op};
use crate::transport::{Limit, Transport, TransportError};

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

/// Takes the host lock and observes in one round trip, within the host's `observe_timeout`.
/// The lock is held until the transport's background script is ended (or the transport dropped).
pub fn lock_and_observe(t: &mut dyn Transport, host: &Host, req: &ObserveRequest) -> Result<Observed, LockError> {
    let path = lock::lock_path(&host.repositories);
    let start = std::time::Instant::now();
    let limit = Limit::total(host.observe_timeout);
    let host_secs = Some(limit.host_secs());
    let (body, marker) =
        locked(t, &host.name, path, &limit, |marker| observe::script::build_limited(req, marker, host_secs)).map_err(
            |e| match e {
                Locked::Lock(e) => e,
                Locked::TimedOut { marker, output } => LockError::Transport(observe::timed_out(
                    &host.name,
                    "observe",
                    limit.after,
                    &observe::script::progress(req, &output, &marker),
                )),
            },
        )?;
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
    let limit = Limit::total(m.conn.observe_timeout);
    let (body, marker) =
        locked(t, &m.name, m.lock_path(), &limit, |marker| observe::manager::script(&m.domain, marker)).map_err(
            |e| match e {
                Locked::Lock(e) => e,
                Locked::TimedOut { .. } => LockError::Transport(observe::timed_out(
                    &m.name,
                    "observe",
                    limit.after,
                    &format!("while reading the WebLogic domain {}", m.domain),
                )),
            },
        )?;
    let mut obs = observe::manager::observed(&m.name, &m.domain, &body, &marker);
    obs.execs = 1;
    obs.elapsed = start.elapsed();
    Ok(obs)
}

/// Why [`locked`] failed.
enum Locked {
    Lock(LockError),
    /// The limit ran out before the observe part finished; what it printed so far.
    TimedOut {
        marker: String,
        output: String,
    },
}

impl From<TransportError> for Locked {
    fn from(e: TransportError) -> Self {
        Locked::Lock(LockError::Transport(e))
    }
}

/// Starts the lock script around `observe(marker)`; returns what the observe part printed.
fn locked(
    t: &mut dyn Transport,
    name: &str,
    path: String,
    limit: &Limit,
    observe: impl FnOnce(&str) -> String,
) -> Result<(String, String), Locked> {
    let marker = observe::script::new_marker();
    let text = lock::script(&path, &lock::holder_info(), &marker, &observe(&marker));
    let (locked, observed) = lock::markers(&marker);
    let bg = t.start_background(&text, &observed, Some(limit))?;
    if bg.timed_out || observe::timed_out_on_host(&bg.output, &marker) {
        t.end_background();
        let output = bg.output.split_once(&format!("{locked}\n")).map(|(_, rest)| rest).unwrap_or_default();
        return Err(Locked::TimedOut { marker, output: output.to_string() });
    }
    if let Some(status) = bg.ended {
        let busy = format!("{marker} busy\n");
        return Err(Locked::Lock(match bg.output.split_once(&busy) {
            Some((_, holder)) => LockError::Busy { host: name.to_string(), holder: holder.trim().to_string() },
            None => LockError::Failed {
                host: name.to_string(),
                path,
                message: format!("exit status {status}: {}", bg.output.trim()),
            },
        }));
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
    /// Ran longer than its limit (`step_timeout`) and was stopped (what ran on the host was
    /// killed; it may have run in part). Later steps were not run; nothing is retried.
    TimedOut {
        /// The limit, in seconds.
        after_secs: u64,
    },
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

/// Runs a host's changes in one exec and reports each (no time limits).
pub fn apply_host(t: &mut dyn Transport, hp: &HostPlan, toolstack: Toolstack) -> HostReport {
    apply_host_limited(t, hp, toolstack, None)
}

/// How long one step may run: `step_timeout`, but a step that shuts a VM down gets at least
/// its shutdown timeout plus [`SHUTDOWN_STEP_MARGIN`], so its own timeout decides first.
pub fn step_limit(c: &Change, step_timeout: Duration) -> Duration {
    c.ops
        .iter()
        .filter_map(|o| match o {
            Op::Shutdown { timeout_secs, .. } => Some(Duration::from_secs(*timeout_secs) + SHUTDOWN_STEP_MARGIN),
            _ => None,
        })
        .fold(step_timeout, Duration::max)
}

/// Runs a host's changes in one exec and reports each; with `step_timeout`, every step has
/// that long ([`step_limit`]) on both sides (controller and host watchdog). A step that runs
/// out is reported as timed out with what ran before it; the rest of the host's steps do not run.
pub fn apply_host_limited(
    t: &mut dyn Transport,
    hp: &HostPlan,
    toolstack: Toolstack,
    step_timeout: Option<Duration>,
) -> HostReport {
    let mut report = HostReport { host: hp.host.clone(), steps: Vec::new(), error: None, execs: 0 };
    if hp.changes.is_empty() {
        return report;
    }
    let marker = observe::script::new_marker();
    let per_step = |c: &Change| step_timeout.map(|st| Limit::total(step_limit(c, st)));
    let text = script::build_limited(&hp.changes, toolstack, &marker, |c| per_step(c).map(|l| l.host_secs()));
    // The controller's clock restarts at each step line; it allows the longest step's limit.
    let limit = hp
        .changes
        .iter()
        .filter_map(|c| per_step(c).map(|l| l.after))
        .max()
        .map(|after| Limit::per_line(after, format!("{marker} step ")));
    let before = t.exec_count();
    let result = t.exec_limited(&text, &[], limit.as_ref());
    report.execs = t.exec_count() - before;
    let (stdout, timed_out) = match result {
        Ok(out) => {
            if let Some(lost) = &out.lost {
                report.error = Some(format!("{lost}; the steps above show what ran before"));
            }
            let stdout = out.stdout_text();
            let timed_out = out.timed_out || observe::timed_out_on_host(&stdout, &marker);
            (stdout, timed_out)
        }
        Err(e) => {
            report.error = Some(e.to_string());
            (String::new(), false)
        }
    };
    let ran = sections::split(&stdout, &marker);
    for c in &hp.changes {
        let status = match ran.iter().find(|s| s.kind == "step" && s.arg == c.id) {
            Some(s) if s.status == Some(0) => StepStatus::Done,
            Some(s) if s.status.is_none() && timed_out => {
                StepStatus::TimedOut { after_secs: per_step(c).map(|l| l.after.as_secs()).unwrap_or_default() }
            }
            Some(s) if s.status.is_none() => StepStatus::Interrupted,
            Some(s) => StepStatus::Failed { exit_status: s.status, output: s.body.trim().to_string() },
            None => StepStatus::NotRun,
        };
        report.steps.push(StepReport { id: c.id.clone(), status });
    }
    if timed_out {
        report.error = Some(timeout_message(&hp.host, &report.steps));
    }
    if report.error.is_none() && ran.iter().any(|s| s.status.is_none()) {
        report.error = Some(format!("{}: the connection ended during a step", hp.host));
    }
    let pins = verify::expected(&hp.changes);
    if report.ok() && !pins.is_empty() {
        let status = match verify::verify(t, toolstack, &pins, step_timeout.map(Limit::total).as_ref()) {
            Ok(bad) if bad.is_empty() => StepStatus::Done,
            Ok(bad) => StepStatus::Failed { exit_status: None, output: bad.join("\n") },
            Err(e) => StepStatus::Failed { exit_status: None, output: e },
        };
        report.execs += 1;
        report.steps.push(StepReport { id: "verify/pinning".into(), status });
    }
    report
}

/// `host X: apply timed out after N s (step_timeout) in step `id`; done before it: …; not run: …`.
fn timeout_message(host: &str, steps: &[StepReport]) -> String {
    let ids = |f: &dyn Fn(&StepStatus) -> bool| -> String {
        let v: Vec<String> = steps.iter().filter(|s| f(&s.status)).map(|s| format!("`{}`", s.id)).collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    };
    let running = steps.iter().find_map(|s| match s.status {
        StepStatus::TimedOut { after_secs } => Some((s.id.as_str(), after_secs)),
        _ => None,
    });
    let head = match running {
        Some((id, secs)) => format!("apply timed out after {secs} s (step_timeout) in step `{id}`"),
        None => "apply timed out (step_timeout) between steps".to_string(),
    };
    format!(
        "host {host}: {head}; done before it: {}; not run: {}; the next plan shows what is left",
        ids(&|s| *s == StepStatus::Done),
        ids(&|s| *s == StepStatus::NotRun)
    )
}
