//! The phases of plan and apply, in order: observe (or lock and observe) → plan → execute.
//! The command line calls these; `demo` and the tests call them with their own connectors.

use std::sync::Mutex;

use crate::apply::{self, HostReport};
use crate::model::Model;
use crate::observe::fleet::{observe_hosts_with, Connector, HostResult, Mode};
use crate::plan::{self, HostPlan, Plan};

/// Reads every declared VNC password (environment variable or file) into the model, with its
/// tag, before planning: the planner is pure, so secrets are I/O done here, at the edge. The
/// planner compares the value with the host's in memory and puts only a reference and the tag
/// in the plan (`plan::secrets`). A source that cannot be read becomes an error the planner
/// reports for that VM (naming the variable or file, never a value); nothing is printed here.
pub fn resolve_secrets(model: &mut Model) {
    for vm in model.vms.values_mut() {
        let (name, host) = (vm.name.clone(), vm.host.clone());
        if let Some(vnc) = vm.console.vnc.as_mut() {
            vnc.password_value = vnc.password.as_ref().map(|src| {
                crate::model::secret::read_vnc_password(src)
                    .map(|s| s.tagged(src, &host))
                    .map_err(|e| format!("VM `{name}`: VNC password: {e}"))
            });
        }
    }
}

/// Observes (or locks and observes) and plans. Hosts that could not be read become host plans
/// with an error, so the plan says why and `apply` refuses.
pub fn observe_and_plan(
    model: &Model,
    hosts: &[String],
    parallel: usize,
    connect: &Connector<'_>,
    mode: Mode,
) -> (Plan, Vec<HostResult>) {
    let results = observe_hosts_with(model, hosts, parallel, connect, mode);
    let plans = results
        .iter()
        .map(|r| match &r.observed {
            Ok(obs) => plan::plan_host(model, obs),
            Err(e) => HostPlan {
                host: r.host.clone(),
                fingerprint: String::new(),
                changes: Vec::new(),
                errors: vec![e.to_string()],
                notes: Vec::new(),
                warnings: Vec::new(),
            },
        })
        .collect();
    (Plan { format_version: plan::FORMAT_VERSION, hosts: plans }, results)
}

/// Runs every host's changes, `parallel` hosts at a time, each over its own (locked) transport.
pub fn execute(model: &Model, plan: &Plan, results: Vec<HostResult>, parallel: usize) -> Vec<HostReport> {
    let work: Vec<(HostResult, &HostPlan)> =
        results.into_iter().filter_map(|r| plan.hosts.iter().find(|h| h.host == r.host).map(|hp| (r, hp))).collect();
    // Progress on stderr when a person watches (each host runs its changes in one exec, so a
    // line per finished host is the finest honest granularity).
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let total: usize = work.iter().map(|(_, hp)| hp.changes.len()).sum();
    if progress && total > 0 {
        eprintln!(
            "Applying {total} change(s) on {} host(s)…",
            work.iter().filter(|(_, hp)| !hp.changes.is_empty()).count()
        );
    }
    let queue = Mutex::new(work.into_iter());
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((mut r, hp)) = next else { break };
                let toolstack = model.hosts.get(&r.host).map(|h| h.toolstack).unwrap_or_default();
                let conn = model.hosts.get(&r.host).or_else(|| model.managers.get(&r.host).map(|m| &m.conn));
                let step_timeout = Some(conn.map_or(crate::model::DEFAULT_STEP_TIMEOUT, |h| h.step_timeout));
                // Secrets become values here, at the edge, and only in this copy of the plan.
                let resolved = apply::secrets::resolve(hp, r.observed.as_ref().ok());
                let report = match (r.transport.as_mut(), resolved) {
                    (_, Err(e)) => HostReport { host: r.host.clone(), steps: Vec::new(), error: Some(e), execs: 0 },
                    (Some(t), Ok(hp_real)) => {
                        let hp = &hp_real;
                        let span = tracing::info_span!("apply", host = %r.host);
                        let _g = span.enter();
                        let started = std::time::Instant::now();
                        let rep = apply::apply_host_limited(t.as_mut(), hp, toolstack, step_timeout);
                        t.end_background();
                        tracing::info!(execs = rep.execs, ok = rep.ok(), "applied");
                        if progress && !hp.changes.is_empty() {
                            let state = if rep.ok() { "done" } else { "FAILED" };
                            eprintln!(
                                "  {}: {} change(s) {state} in {:.1} s",
                                r.host,
                                hp.changes.len(),
                                started.elapsed().as_secs_f64()
                            );
                        }
                        rep
                    }
                    (None, Ok(_)) => HostReport {
                        host: r.host.clone(),
                        steps: Vec::new(),
                        error: Some("not connected".into()),
                        execs: 0,
                    },
                };
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
