//! Executing a plan: per host, under the host lock, all changes in one batched exec.
//!
//! Steps, per host (hosts in parallel): take the lock and observe in the same round trip
//! ([`crate::observe::lock`], held by the engine's `Session`); plan, or check a saved plan's
//! fingerprint; run the batch script ([`script`]); read back which steps ran. A failure stops that host; the other hosts finish; the exit code
//! is 1. Nothing is retried behind the user's back: the next `apply` converges from what is there.

pub mod script;
pub mod secrets;
pub mod verify;

use serde::Serialize;

use std::time::Duration;

use crate::model::{Tool, SHUTDOWN_STEP_MARGIN};
use crate::observe::{self, sections};
use crate::plan::{Change, HostPlan, Op};
use crate::transport::{Limit, Transport};

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
pub fn apply_host(t: &mut dyn Transport, hp: &HostPlan, tool: &Tool) -> HostReport {
    apply_host_limited(t, hp, tool, None)
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
    tool: &Tool,
    step_timeout: Option<Duration>,
) -> HostReport {
    let mut report = HostReport { host: hp.host.clone(), steps: Vec::new(), error: None, execs: 0 };
    if hp.changes.is_empty() {
        return report;
    }
    let marker = observe::script::new_marker();
    let per_step = |c: &Change| step_timeout.map(|st| Limit::total(step_limit(c, st)));
    let text = script::build_limited(&hp.changes, tool, &marker, |c| per_step(c).map(|l| l.host_secs()));
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
        let status = match verify::verify(t, tool, &pins, step_timeout.map(Limit::total).as_ref()) {
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
