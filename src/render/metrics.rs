//! The reconcile run as Prometheus text format (`--metrics FILE`), for node_exporter's textfile
//! collector: one file rewritten atomically per run, so a scrape never reads half of one.
//!
//! Built with `prometheus-client`, so names, escaping and the `# EOF` trailer follow the format
//! without hand-written string formatting. The last success time must survive failed runs, so
//! it is carried over from the file being replaced.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::engine::reconcile::{HostStatus, Reconciled};

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

/// The metric holding the last successful run's time (read back from the previous file).
pub const LAST_SUCCESS: &str = "domform_reconcile_last_success_timestamp_seconds";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: f64) {
    let g = FGauge::default();
    g.set(v);
    reg.register(name, help, g);
}

/// A run succeeded when every host was reached and planned (exit 0 or 3).
pub fn succeeded(r: &Reconciled) -> bool {
    matches!(r.exit_code, 0 | 3)
}

/// The text for `r`; `previous_success` is the last success time of the file it replaces.
pub fn text(r: &Reconciled, previous_success: Option<f64>) -> String {
    let mut reg = Registry::default();
    let changes = Family::<Labels, FGauge>::default();
    for h in &r.hosts {
        for (result, list) in [("fixed", &h.fixed), ("left", &h.left)] {
            for s in list {
                let cause = s.cause.map_or("none", |c| c.word());
                for k in &s.kinds {
                    let l = labels(&[("host", &h.host), ("kind", k.word()), ("cause", cause), ("result", result)]);
                    changes.get_or_create(&l).inc();
                }
            }
        }
    }
    reg.register(
        "domform_reconcile_changes",
        "Changes planned, by host, kind, cause and whether fixed or left",
        changes.clone(),
    );
    let hosts = Family::<Labels, FGauge>::default();
    for s in [HostStatus::Ok, HostStatus::Unreachable, HostStatus::Locked, HostStatus::Error] {
        let n = r.hosts.iter().filter(|h| h.status == s).count();
        hosts.get_or_create(&labels(&[("status", s.word())])).set(n as f64);
    }
    reg.register("domform_reconcile_hosts", "Hosts by how the run fared on them", hosts.clone());
    let status = Family::<Labels, FGauge>::default();
    let observe = Family::<Labels, FGauge>::default();
    for h in &r.hosts {
        status.get_or_create(&labels(&[("host", &h.host), ("status", h.status.word())])).set(1.0);
        observe.get_or_create(&labels(&[("host", &h.host)])).set(h.observe_seconds);
    }
    reg.register("domform_reconcile_host_status", "1 for each host's status in the last run", status.clone());
    reg.register("domform_reconcile_observe_duration_seconds", "Seconds observing each host took", observe.clone());
    let lic = Family::<Labels, FGauge>::default();
    let need = Family::<Labels, FGauge>::default();
    for l in &r.licences {
        let ls = labels(&[("licence", &l.group), ("host", &l.host)]);
        lic.get_or_create(&ls).set(if l.violation { 1.0 } else { 0.0 });
        need.get_or_create(&ls).set(f64::from(l.licences));
    }
    reg.register(
        "domform_licence_violation",
        "1 when a licence group breaks its hard-partitioning policy on a host",
        lic.clone(),
    );
    reg.register("domform_licence_licences", "Licences a group's pinning needs on a host", need.clone());
    let now = r.started_unix as f64 + r.duration_seconds;
    gauge(&mut reg, "domform_reconcile_duration_seconds", "Seconds the last run took", r.duration_seconds);
    gauge(&mut reg, "domform_reconcile_last_run_timestamp_seconds", "When the last run ended (Unix time)", now);
    gauge(
        &mut reg,
        "domform_reconcile_exit_code",
        "The last run's exit code (docs/reconcile.md)",
        f64::from(r.exit_code),
    );
    gauge(
        &mut reg,
        "domform_reconcile_dry_run",
        "1 when the last run was a dry run",
        if r.dry_run { 1.0 } else { 0.0 },
    );
    let success = if succeeded(r) { Some(now) } else { previous_success };
    if let Some(t) = success {
        gauge(&mut reg, LAST_SUCCESS, "When a run last reached and planned every host (Unix time)", t);
    }
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out.clear();
    }
    out
}

/// The last success time in a metrics file this module wrote.
pub fn previous_success(old: &str) -> Option<f64> {
    old.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?.trim().parse().ok())
}
