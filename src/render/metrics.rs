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
/// With `shard` (`--shard 3/4` → `3/4`) every sample carries `shard="3/4"`, so the files of N
/// shard runners read by one node_exporter never collide.
pub fn text(r: &Reconciled, previous_success: Option<f64>, shard: Option<&str>) -> String {
    let mut reg = match shard {
        Some(s) => Registry::with_labels(std::iter::once(("shard".into(), s.to_string().into()))),
        None => Registry::default(),
    };
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

/// The last success time in a metrics file this module wrote (with or without labels).
pub fn previous_success(old: &str) -> Option<f64> {
    old.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let rest = l.strip_prefix(LAST_SUCCESS)?;
        let value = match rest.strip_prefix('{') {
            Some(labelled) => labelled.rsplit_once("} ")?.1,
            None => rest.strip_prefix(' ')?,
        };
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reconcile::{HostRun, LicenceRow};
    use crate::engine::sort::Sorted;
    use crate::model::policy::ChangeKind;
    use crate::plan::cause::Cause;

    fn run(exit_code: u8, hosts: Vec<HostRun>) -> Reconciled {
        Reconciled {
            format_version: 1,
            started_unix: 1_000,
            duration_seconds: 2.5,
            dry_run: false,
            outcome: "x",
            exit_code,
            hosts,
            licences: vec![LicenceRow { group: "ora \"db\"".into(), host: "h1".into(), licences: 2, violation: true }],
        }
    }

    fn host(name: &str, status: HostStatus) -> HostRun {
        let s = Sorted {
            id: "vm/db01".into(),
            name: "db01".into(),
            kinds: vec![ChangeKind::Memory, ChangeKind::Pinning],
            cause: Some(Cause::Drift),
            fields: vec![],
            why: None,
        };
        HostRun { host: name.into(), status, errors: vec![], observe_seconds: 0.5, fixed: vec![], left: vec![s] }
    }

    #[test]
    fn changes_count_once_per_kind_and_labels_are_escaped() {
        let t = text(&run(3, vec![host("h1", HostStatus::Ok), host("h2", HostStatus::Unreachable)]), None, None);
        for line in [
            "domform_reconcile_changes{host=\"h1\",kind=\"memory\",cause=\"drift\",result=\"left\"} 1",
            "domform_reconcile_changes{host=\"h2\",kind=\"pinning\",cause=\"drift\",result=\"left\"} 1",
            "domform_reconcile_hosts{status=\"unreachable\"} 1",
            "domform_reconcile_host_status{host=\"h2\",status=\"unreachable\"} 1",
            "domform_licence_violation{licence=\"ora \\\"db\\\"\",host=\"h1\"} 1",
            "domform_reconcile_last_success_timestamp_seconds 1002.5",
        ] {
            assert!(t.contains(line), "{line} missing:\n{t}");
        }
        assert!(t.ends_with("# EOF\n"), "{t}");
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_time() {
        let ok = text(&run(0, vec![]), None, None);
        assert_eq!(previous_success(&ok), Some(1002.5));
        let failed = text(&run(5, vec![]), previous_success(&ok), None);
        assert_eq!(previous_success(&failed), Some(1002.5));
        assert!(failed.contains("domform_reconcile_exit_code 5"), "{failed}");
        assert_eq!(previous_success(&text(&run(1, vec![]), None, None)), None, "never succeeded: no sample");
    }

    #[test]
    fn a_shard_labels_every_sample() {
        let t = text(&run(0, vec![host("h1", HostStatus::Ok)]), None, Some("3/4"));
        assert!(t.contains("domform_reconcile_exit_code{shard=\"3/4\"} 0"), "{t}");
        assert!(t.contains("domform_reconcile_hosts{shard=\"3/4\",status=\"ok\"} 1"), "{t}");
        let success = t.lines().find(|l| l.starts_with(LAST_SUCCESS)).unwrap_or_default();
        assert!(success.contains("shard=\"3/4\""), "{t}");
        assert_eq!(previous_success(&t), Some(1002.5), "read back with its label");
    }
}
