//! The run loop, the same for every command that changes or could change a host:
//!
//! 1. lock and observe (or only observe, for `plan`), hosts in parallel, each in one exec;
//! 2. plan: make the plan, or take a saved one and check it, or let an imperative command make
//!    its changes from the VM it names;
//! 3. render it; 4. confirm; 5. execute, host by host over its [`Session`](super::Session);
//! 6. report. The [`Intent`] says which variant of steps 2-4 to take and where to stop.
//!
//! Every step that refuses prints why and returns [`Outcome::Failed`]; locks are released when
//! the sessions are dropped, whatever step the loop stopped at.

use std::io::Write;
use std::path::Path;

use super::locate::{self, Found};
use super::outcome::Outcome;
use super::progress::Progress;
use crate::apply::HostReport;
use crate::model::Model;
use crate::observe::fleet::{observe_hosts_each, Connector, HostResult, Mode};
use crate::observe::lock::LockError;
use crate::plan::{self, Change, HostPlan, Plan};
use crate::render::plan as render;
use crate::transport::TransportError;

/// What the run works on.
pub struct Request<'a> {
    /// The desired state (secrets already read, see `ops::resolve_secrets`).
    pub model: &'a Model,
    /// Hosts and managers to observe, by name.
    pub hosts: Vec<String>,
    /// Only changes of these VMs (`--target`); empty: all.
    pub targets: &'a [String],
    /// Hosts worked on at the same time.
    pub parallel: usize,
    /// How to reach a host (SSH by default; `demo` and tests bring their own).
    pub connect: &'a Connector<'a>,
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Human,
    /// Versioned JSON (docs/plan-format.md).
    Json,
    /// For a pull-request comment.
    Markdown,
}

/// What the imperative command made of the VM it names.
pub enum Made {
    /// Run these changes on its host, after asking `confirm` when it is set.
    Run {
        /// The changes, in order.
        changes: Vec<Change>,
        /// Print them as a plan first.
        show: bool,
        /// The question to ask first (a destructive command without `--auto-approve`).
        confirm: Option<String>,
    },
    /// Nothing to run (already in that state, or a read-only subcommand that printed its answer).
    Nothing,
}

/// Makes an imperative command's changes from the VM found; `Err` is printed as an error.
pub type MakeChanges<'a> = dyn Fn(&Found<'_>) -> Result<Made, String> + 'a;

/// What the run is for.
pub enum Intent<'a> {
    /// Observe and print the plan (`plan`); stop there.
    Plan {
        /// Output format.
        format: Format,
        /// Also save the plan (JSON) here.
        out: Option<&'a Path>,
        /// Report pending changes as [`Outcome::Pending`].
        detailed: bool,
        /// Markdown only: cut to this many characters (`render::comment`).
        max_chars: Option<usize>,
    },
    /// Make the plan (or check `saved`) under the locks, confirm, execute (`apply`).
    Apply {
        /// A plan saved with `plan -o`.
        saved: Option<Plan>,
        /// Do not ask.
        auto_approve: bool,
    },
    /// Find one VM by name, let the command make changes for it, run them on its host.
    Changes {
        /// The VM's name.
        vm: &'a str,
        /// Take the host locks (every command that changes something).
        lock: bool,
        /// The command's part.
        make: &'a MakeChanges<'a>,
    },
    /// Lock and observe (read only when `dry_run`), plan, make what the `reconcile:` policy
    /// allows, report the rest (`reconcile`, [`super::reconcile`]); `done` gets the run report.
    Reconcile {
        /// Plan and report only.
        dry_run: bool,
        /// Wait this long for a host lock another apply holds (`--lock-timeout`).
        lock_wait: std::time::Duration,
        /// Receives the run report (to save it and its metrics).
        done: &'a dyn Fn(&super::reconcile::Reconciled),
    },
}

/// Step 2's result: the plan to run, and the question to ask before running it.
struct Planned {
    plan: Plan,
    confirm: Option<String>,
    show: bool,
}

/// Runs the loop for `intent`.
pub fn run(req: &Request<'_>, intent: &Intent<'_>) -> Outcome {
    let started = (super::reconcile::unix_now(), std::time::Instant::now());
    let mode = match intent {
        Intent::Plan { .. } | Intent::Changes { lock: false, .. } | Intent::Reconcile { dry_run: true, .. } => {
            Mode::Read
        }
        Intent::Apply { .. } | Intent::Changes { lock: true, .. } => Mode::Lock,
        Intent::Reconcile { lock_wait, .. } => Mode::LockWaiting(*lock_wait),
    };
    let phase = if mode == Mode::Read { "observing" } else { "locking and observing" };
    let progress = Progress::new(phase, req.hosts.len());
    let results = observe_hosts_each(req.model, &req.hosts, req.parallel, req.connect, mode, &|r| {
        progress.host_done(&r.host, r.observed.is_err())
    });
    progress.finish();
    if let Intent::Reconcile { dry_run, done, .. } = intent {
        return super::reconcile::finish(req, results, *dry_run, started, *done);
    }
    let planned = match plan_step(req, intent, &results) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Intent::Plan { format, out, detailed, max_chars } = intent {
        return finish_plan(&planned.plan, *format, *out, *detailed, *max_chars);
    }
    if planned.show {
        print(&render::human(&planned.plan, crate::render::stdout_color()));
    }
    let (plan, skipped) = match leave_out_timed_out(planned.plan, &results) {
        Ok(x) => x,
        Err(outcome) => return outcome,
    };
    if plan.is_empty() {
        if skipped.is_empty() {
            return Outcome::Ok;
        }
        print(&crate::render::report::text(&skipped).0);
        return Outcome::Failed;
    }
    if let Some(question) = &planned.confirm {
        if let Err(e) = super::confirm::confirm(question, false) {
            return fail(&e);
        }
    }
    let busy = plan.hosts.iter().filter(|h| !h.changes.is_empty()).count();
    let progress = Progress::new("applying", busy);
    let mut reports =
        super::execute::execute(req.model, &plan, results, req.parallel, &|r| progress.host_done(&r.host, !r.ok()));
    progress.finish();
    reports.extend(skipped);
    reports.sort_by(|a, b| a.host.cmp(&b.host));
    let (text, ok) = crate::render::report::text(&reports);
    print(&text);
    Outcome::from_ok(ok)
}

/// Step 2 for each intent.
fn plan_step(req: &Request<'_>, intent: &Intent<'_>, results: &[HostResult]) -> Result<Planned, String> {
    match intent {
        Intent::Plan { .. } | Intent::Apply { .. } | Intent::Reconcile { .. } => {
            let fresh = {
                let mut p = plan_all(req.model, results);
                p.retain_targets(req.targets);
                p
            };
            let (saved, auto_approve) = match intent {
                Intent::Apply { saved, auto_approve } => (saved.as_ref(), *auto_approve),
                _ => (None, true),
            };
            let plan = match saved {
                Some(saved) => super::saved::to_run(saved, fresh)?,
                None => fresh,
            };
            let ask = saved.is_none() && !auto_approve;
            Ok(Planned { plan, confirm: ask.then(|| "Do you want to perform these actions".into()), show: true })
        }
        Intent::Changes { vm, make, .. } => {
            let found = locate::find(results, vm)?;
            let (changes, show, confirm) = match make(&found)? {
                Made::Run { changes, show, confirm } => (changes, show, confirm),
                Made::Nothing => (Vec::new(), false, None),
            };
            // Every path these changes write must be inside the repository (or a declared
            // `path:` disk) and reach no planted link: a snapshot folder's manifest is untrusted.
            let repos = req.model.hosts.get(found.host).map(|h| h.repositories.clone()).unwrap_or_default();
            let declared = plan::declared_paths(req.model, found.host);
            let refused = plan::paths::check(&changes, &repos, &declared, &found.observed.links);
            if !refused.is_empty() {
                return Err(refused.join("\n"));
            }
            let hosts = if changes.is_empty() { vec![] } else { vec![HostPlan::of_changes(found.host, changes)] };
            Ok(Planned { plan: Plan { format_version: plan::FORMAT_VERSION, hosts }, confirm, show })
        }
    }
}

/// Plans every observed host. A host that could not be read gets a plan with its error, so the
/// plan says why and `apply` refuses.
pub fn plan_all(model: &Model, results: &[HostResult]) -> Plan {
    let hosts = results
        .iter()
        .map(|r| match &r.observed {
            Ok(obs) => plan::plan_host(model, obs),
            Err(e) => HostPlan::failed(&r.host, e.to_string()),
        })
        .collect();
    Plan { format_version: plan::FORMAT_VERSION, hosts }
}

/// A host that ran out of time while being read (a wedged xend) is left out, named, and fails
/// the run; the other hosts still apply. Any other error in the plan stops everything.
fn leave_out_timed_out(mut plan: Plan, results: &[HostResult]) -> Result<(Plan, Vec<HostReport>), Outcome> {
    let timed_out: Vec<HostReport> = results
        .iter()
        .filter_map(|r| match &r.observed {
            Err(LockError::Transport(e @ TransportError::TimedOut { .. }))
                if plan.hosts.iter().any(|h| h.host == r.host) =>
            {
                Some(HostReport { host: r.host.clone(), steps: Vec::new(), error: Some(e.to_string()), execs: 1 })
            }
            _ => None,
        })
        .collect();
    let skipped = |host: &str| timed_out.iter().any(|t| t.host == host);
    if plan.hosts.iter().any(|h| !h.errors.is_empty() && !skipped(&h.host)) {
        for e in plan.hosts.iter().flat_map(|h| &h.errors) {
            super::error(e);
        }
        super::error("the plan has errors; nothing was applied");
        return Err(Outcome::Failed);
    }
    for t in &timed_out {
        super::error(&format!(
            "{}; that host is left out, the others are applied",
            t.error.as_deref().unwrap_or_default()
        ));
    }
    plan.hosts.retain(|h| !skipped(&h.host));
    Ok((plan, timed_out))
}

/// `plan`'s end: print in `format`, save when asked, and say whether anything would change.
fn finish_plan(plan: &Plan, format: Format, out: Option<&Path>, detailed: bool, max_chars: Option<usize>) -> Outcome {
    print(&match format {
        Format::Human => render::human(plan, crate::render::stdout_color()),
        Format::Json => render::json(plan) + "\n",
        Format::Markdown => crate::render::comment::markdown(plan, max_chars),
    });
    if let Some(path) = out {
        if let Err(e) = std::fs::write(path, crate::render::comment::saved_bytes(plan)) {
            return fail(&format!("cannot write the plan to {}: {e}", path.display()));
        }
        let p = path.display();
        let _ = writeln!(std::io::stderr(), "Saved the plan to {p}; apply it with: domform apply {p}");
    }
    if plan.has_errors() {
        for e in plan.hosts.iter().flat_map(|h| &h.errors) {
            super::error(e);
        }
        Outcome::Failed
    } else if detailed && !plan.is_empty() {
        Outcome::Pending
    } else {
        Outcome::Ok
    }
}

fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn fail(msg: &str) -> Outcome {
    super::error(msg);
    Outcome::Failed
}
