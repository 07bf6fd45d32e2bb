//! `domform reconcile`: the run loop for schedules. It observes under the host locks (read only
//! with `--dry-run`), plans, then makes only what the `reconcile:` policy lets it make
//! unattended ([`super::sort`]) and reports the rest, host by host, as a value
//! ([`Reconciled`]) that the command line prints, saves as JSON and as Prometheus metrics.
//!
//! Hosts are independent here, unlike `apply`: a host that is unreachable, locked by a person's
//! apply or whose plan has errors is reported and the others still reconcile, because a
//! schedule that stops at the first bad host never fixes anything in a large estate.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::outcome::Outcome;
use super::run::{plan_all, Request};
use super::sort::{sort_host, Sorted};
use crate::apply::{HostReport, StepStatus};
use crate::observe::fleet::HostResult;
use crate::observe::lock::LockError;
use crate::plan::{HostPlan, Plan};

/// Version of the run report (`--report`, docs/reconcile.md).
pub const REPORT_VERSION: u32 = 1;

/// How a host fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostStatus {
    /// Observed and planned (its changes were made or left by the policy).
    Ok,
    /// Could not be reached or read in time.
    Unreachable,
    /// Another apply held its lock (past `--lock-timeout`).
    Locked,
    /// Its plan had errors, or a change failed.
    Error,
}

impl HostStatus {
    /// The word used in reports and metrics.
    pub fn word(self) -> &'static str {
        match self {
            HostStatus::Ok => "ok",
            HostStatus::Unreachable => "unreachable",
            HostStatus::Locked => "locked",
            HostStatus::Error => "error",
        }
    }
}

/// One host's run.
#[derive(Debug, Clone, Serialize)]
pub struct HostRun {
    /// Host (or manager) name.
    pub host: String,
    /// How it fared.
    pub status: HostStatus,
    /// Why, when not `ok`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Seconds observing it took (0 when it was not reached).
    pub observe_seconds: f64,
    /// Changes made (with `--dry-run`: none).
    pub fixed: Vec<Sorted>,
    /// Changes left, each with the reason.
    pub left: Vec<Sorted>,
}

/// A licence group's compliance on a host, as observed before any change.
#[derive(Debug, Clone, Serialize)]
pub struct LicenceRow {
    /// Licence group.
    pub group: String,
    /// Host.
    pub host: String,
    /// Licences the group's pinning needs there.
    pub licences: u32,
    /// Over its `max_cores`, or a VM unpinned.
    pub violation: bool,
}

/// The whole run, as `--report` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciled {
    /// Report format ([`REPORT_VERSION`]).
    pub format_version: u32,
    /// Seconds since the epoch when the run started.
    pub started_unix: u64,
    /// Seconds the run took.
    pub duration_seconds: f64,
    /// Nothing was changed on purpose.
    pub dry_run: bool,
    /// `converged`, `changes-left`, `locked`, `unreachable` or `error`.
    pub outcome: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// Per host, by name.
    pub hosts: Vec<HostRun>,
    /// Licence compliance per group and host.
    pub licences: Vec<LicenceRow>,
}

impl Reconciled {
    /// A run with no hosts yet, converged until something says otherwise.
    pub fn empty(started: (u64, Instant), dry_run: bool) -> Reconciled {
        Reconciled {
            format_version: REPORT_VERSION,
            started_unix: started.0,
            duration_seconds: started.1.elapsed().as_secs_f64(),
            dry_run,
            outcome: "converged",
            exit_code: 0,
            hosts: Vec::new(),
            licences: Vec::new(),
        }
    }
}

/// Now, in seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Steps 2 to 6 for `reconcile`, after the observe step of [`super::run`].
pub fn finish(
    req: &Request<'_>,
    results: Vec<HostResult>,
    dry_run: bool,
    started: (u64, Instant),
    done: &dyn Fn(&Reconciled),
) -> Outcome {
    let mut plan = plan_all(req.model, &results);
    plan.retain_targets(req.targets);
    let mut hosts = Vec::new();
    let mut to_run = Plan { format_version: plan.format_version, hosts: Vec::new() };
    for hp in &plan.hosts {
        let r = results.iter().find(|r| r.host == hp.host);
        let (run, changes) = sort_one(req, r, hp, dry_run);
        if !changes.is_empty() {
            to_run.hosts.push(HostPlan { changes, ..hp.clone() });
        }
        hosts.push(run);
    }
    let licences = licences(req, &results);
    let reports = if to_run.hosts.is_empty() {
        Vec::new()
    } else {
        super::execute::execute(req.model, &to_run, results, req.parallel, &|_| {})
    };
    for rep in &reports {
        if let Some(h) = hosts.iter_mut().find(|h| h.host == rep.host) {
            failed_steps(h, rep);
        }
    }
    let outcome = outcome_of(&hosts);
    let rec = Reconciled {
        outcome: outcome_word(outcome),
        exit_code: outcome.code(),
        hosts,
        licences,
        ..Reconciled::empty(started, dry_run)
    };
    print(&crate::render::reconcile::text(&rec));
    done(&rec);
    outcome
}

/// One host's status and sorted changes, and the changes to run on it.
fn sort_one(
    req: &Request<'_>,
    r: Option<&HostResult>,
    hp: &HostPlan,
    dry_run: bool,
) -> (HostRun, Vec<crate::plan::Change>) {
    let mut run = HostRun {
        host: hp.host.clone(),
        status: HostStatus::Ok,
        errors: Vec::new(),
        observe_seconds: 0.0,
        fixed: Vec::new(),
        left: Vec::new(),
    };
    let obs = match r.map(|r| &r.observed) {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            run.status = match e {
                LockError::Busy { .. } => HostStatus::Locked,
                LockError::Transport(_) => HostStatus::Unreachable,
                LockError::Failed { .. } => HostStatus::Error,
            };
            run.errors.push(e.to_string());
            return (run, Vec::new());
        }
        None => {
            run.status = HostStatus::Unreachable;
            run.errors.push(format!("{}: not observed", hp.host));
            return (run, Vec::new());
        }
    };
    run.observe_seconds = obs.elapsed.as_secs_f64();
    if !hp.errors.is_empty() {
        run.status = HostStatus::Error;
        run.errors.clone_from(&hp.errors);
        return (run, Vec::new());
    }
    let sorted = sort_host(req.model, Some(obs), hp, &req.model.reconcile);
    run.left = sorted.left;
    if dry_run {
        run.left.extend(sorted.fixed.into_iter().map(|mut s| {
            s.why = Some("--dry-run (the policy would fix it)".into());
            s
        }));
        return (run, Vec::new());
    }
    run.fixed = sorted.fixed;
    (run, sorted.run)
}

/// A change whose step did not succeed moves from `fixed` to `left`; the host is in error.
fn failed_steps(h: &mut HostRun, rep: &HostReport) {
    if let Some(e) = &rep.error {
        h.status = HostStatus::Error;
        h.errors.push(e.clone());
    }
    for step in rep.steps.iter().filter(|s| s.status != StepStatus::Done) {
        h.status = HostStatus::Error;
        let why = match &step.status {
            StepStatus::Failed { output, .. } => format!("failed: {}", output.trim()),
            other => format!("{other:?}").to_lowercase(),
        };
        h.errors.push(format!("{}: {why}", step.id));
        if let Some(i) = h.fixed.iter().position(|f| f.id == step.id) {
            let mut s = h.fixed.remove(i);
            s.why = Some(why);
            h.left.push(s);
        }
    }
}

/// The run's outcome: an error wins, then unreachable hosts, locked hosts, changes left.
pub fn outcome_of(hosts: &[HostRun]) -> Outcome {
    let any = |s: HostStatus| hosts.iter().any(|h| h.status == s);
    if any(HostStatus::Error) {
        Outcome::Failed
    } else if any(HostStatus::Unreachable) {
        Outcome::Unreachable
    } else if any(HostStatus::Locked) {
        Outcome::Locked
    } else if hosts.iter().any(|h| !h.left.is_empty()) {
        Outcome::ChangesLeft
    } else {
        Outcome::Ok
    }
}

/// The report's name for an outcome.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "converged",
        Outcome::ChangesLeft | Outcome::Pending => "changes-left",
        Outcome::Locked => "locked",
        Outcome::Unreachable => "unreachable",
        Outcome::Failed => "error",
    }
}

/// Licence compliance from the hosts observed (as they were before this run's changes).
fn licences(req: &Request<'_>, results: &[HostResult]) -> Vec<LicenceRow> {
    if req.model.licences.is_empty() {
        return Vec::new();
    }
    let observed: Vec<&crate::observe::Observed> = results.iter().filter_map(|r| r.observed.as_ref().ok()).collect();
    crate::licence::report(req.model, &observed)
        .into_iter()
        .map(|g| LicenceRow { group: g.group, host: g.host, licences: g.licences, violation: g.violation })
        .collect()
}

fn print(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(status: HostStatus, left: usize) -> HostRun {
        let s = Sorted { id: "vm/a".into(), name: "a".into(), kinds: vec![], cause: None, fields: vec![], why: None };
        HostRun { host: "h".into(), status, errors: vec![], observe_seconds: 0.0, fixed: vec![], left: vec![s; left] }
    }

    #[test]
    fn the_worst_host_decides_the_exit_code() {
        let ok = host(HostStatus::Ok, 0);
        let left = host(HostStatus::Ok, 1);
        let code = |hosts: Vec<HostRun>| outcome_of(&hosts).code();
        assert_eq!(code(vec![ok.clone()]), 0);
        assert_eq!(code(vec![]), 0);
        assert_eq!(code(vec![ok.clone(), left.clone()]), 3);
        assert_eq!(code(vec![left.clone(), host(HostStatus::Locked, 0)]), 4);
        assert_eq!(code(vec![host(HostStatus::Locked, 0), host(HostStatus::Unreachable, 0)]), 5);
        assert_eq!(code(vec![host(HostStatus::Unreachable, 0), host(HostStatus::Error, 0)]), 1);
        assert_eq!(outcome_word(outcome_of(&[left])), "changes-left");
    }
}
