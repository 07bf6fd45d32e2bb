//! `domform reconcile`: arguments to an [`Intent::Reconcile`] run, and the run report and
//! metrics files it leaves for whoever scheduled it (a systemd timer, cron, a pipeline).
//! Both files are written atomically (a temp file in the same folder, renamed), so a monitor
//! reading them never sees half a run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{load_or_report, select_targets};
use crate::engine::reconcile::Reconciled;
use crate::engine::{self, Intent, Outcome, Request};
use crate::observe::fleet::default_connector;

/// `reconcile`'s options.
pub struct Args<'a> {
    /// Desired-state files.
    pub files: &'a [PathBuf],
    /// Which hosts.
    pub choose: &'a super::Choose,
    /// Only changes of these VMs.
    pub target: &'a [String],
    /// Plan and report only.
    pub dry_run: bool,
    /// Write the JSON run report here.
    pub report: Option<&'a Path>,
    /// Write Prometheus text format here.
    pub metrics: Option<&'a Path>,
    /// Seconds to wait for a busy host lock.
    pub lock_timeout: u64,
    /// Hosts worked on at the same time.
    pub parallel: usize,
}

/// Runs `reconcile`.
pub fn run(a: &Args<'_>) -> Outcome {
    let started = (engine::reconcile::unix_now(), std::time::Instant::now());
    // A run that cannot start (a YAML error, an unknown host) still leaves its report and
    // metrics, so monitoring sees a broken schedule as an error, not as silence.
    let broken = || {
        let mut r = Reconciled::empty(started, a.dry_run);
        r.outcome = "error";
        r.exit_code = Outcome::Failed.code();
        save(&r, a);
        Outcome::Failed
    };
    let Some(mut model) = load_or_report(a.files) else { return broken() };
    crate::ops::resolve_secrets(&mut model);
    if super::check_targets(&model, a.target).is_err() {
        return broken();
    }
    let Ok(hosts) = select_targets(&model, &a.choose.selection()) else { return broken() };
    let written = std::cell::Cell::new(true);
    let done = |r: &Reconciled| written.set(save(r, a));
    let req = Request { model: &model, hosts, targets: a.target, parallel: a.parallel, connect: &default_connector };
    let intent = Intent::Reconcile { dry_run: a.dry_run, lock_wait: Duration::from_secs(a.lock_timeout), done: &done };
    let outcome = engine::run(&req, &intent);
    if written.get() {
        outcome
    } else {
        Outcome::Failed
    }
}

/// Writes the report and metrics asked for; false (after saying why) when one could not be.
fn save(r: &Reconciled, a: &Args<'_>) -> bool {
    let mut ok = true;
    if let Some(path) = a.report {
        let text = serde_json::to_string_pretty(r).unwrap_or_default() + "\n";
        ok &= written(super::write_atomic(path, &text));
    }
    if let Some(path) = a.metrics {
        let old = std::fs::read_to_string(path).ok();
        let prev = old.as_deref().and_then(crate::render::metrics::previous_success);
        let shard = a.choose.shard.map(|s| format!("{}/{}", s.index, s.total));
        ok &= written(super::write_atomic(path, &crate::render::metrics::text(r, prev, shard.as_deref())));
    }
    ok
}

fn written(r: Result<(), String>) -> bool {
    r.map_err(|e| engine::error(&format!("cannot write {e}"))).is_ok()
}
