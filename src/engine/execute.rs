//! The execute step: every host's changes over its own session, `parallel` hosts at a time.
//! Each host runs all its changes in one exec, as its target kind runs them (`crate::target`);
//! its lock is released as soon as it is done.

use std::sync::Mutex;

use crate::apply::{self, HostReport};
use crate::model::Model;
use crate::observe::fleet::HostResult;
use crate::plan::{HostPlan, Plan};

/// Runs the changes of every host in `plan` over the sessions in `results`. `done` is called
/// once per finished host (for progress). Reports come back sorted by host.
pub fn execute(
    model: &Model,
    plan: &Plan,
    results: Vec<HostResult>,
    parallel: usize,
    done: &(dyn Fn(&HostReport) + Sync),
) -> Vec<HostReport> {
    let work: Vec<(HostResult, &HostPlan)> =
        results.into_iter().filter_map(|r| plan.hosts.iter().find(|h| h.host == r.host).map(|hp| (r, hp))).collect();
    let queue = Mutex::new(work.into_iter());
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((r, hp)) = next else { break };
                let report = one(model, r, hp);
                done(&report);
                if let Ok(mut v) = reports.lock() {
                    v.push(report);
                }
            });
        }
    });
    let mut out = reports.into_inner().unwrap_or_default();
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
}

/// One host: its changes, then its lock released (the session is dropped here at the latest).
fn one(model: &Model, r: HostResult, hp: &HostPlan) -> HostReport {
    let Some(mut session) = r.session else {
        return HostReport { host: r.host, steps: Vec::new(), error: Some("not connected".into()), execs: 0 };
    };
    let Some(target) = crate::target::resolve(model, &r.host) else {
        let error = Some("not declared in the desired state".into());
        return HostReport { host: r.host, steps: Vec::new(), error, execs: 0 };
    };
    let step_timeout = Some(target.conn().step_timeout);
    // Secrets become values here, at the edge, and only in this copy of the host's plan.
    let hp = match apply::secrets::resolve(hp, r.observed.as_ref().ok()) {
        Ok(hp) => hp,
        Err(e) => return HostReport { host: r.host, steps: Vec::new(), error: Some(e), execs: 0 },
    };
    let span = tracing::info_span!("apply", host = %r.host);
    let _g = span.enter();
    let rep = target.apply(session.transport(), &hp, step_timeout);
    session.release();
    tracing::info!(execs = rep.execs, ok = rep.ok(), "applied");
    rep
}
