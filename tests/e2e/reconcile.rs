//! `domform reconcile` over real SSH on a test host (issue 16's "done when"): vm.cfg memory and
//! the live pinning changed by hand on the host are both labelled drift; a `drift: [pinning]`
//! policy fixes the pinning and reports the memory (exit 3); the metrics file passes
//! `promtool check metrics`; an edited YAML is `intent` and is not applied.

use std::path::Path;

use crate::harness::{can_run, domform, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

fn write_vms(dir: &Path, memory: u32) {
    let vms = format!(
        "reconcile:\n  fix:\n    drift: [pinning]\nvms:\n  rc01:\n    host: h1\n    memory: {memory}MiB\n    vcpus: 2\n    \
         cpus: \"2-3\"\n    force_stop: true\n    disks: [{{ name: system, size: 64MiB }}]\n"
    );
    std::fs::write(dir.join("vms.yaml"), vms).expect("vms.yaml");
}

/// The Xen name of rc01 and each vCPU's affinity column from `xm vcpu-list` on the host.
fn affinity(h: &TestHosts) -> (String, Vec<String>) {
    let list = h.ssh_ok(1, "xm vcpu-list");
    let rows: Vec<Vec<String>> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r.first().is_some_and(|n| n != "Domain-0"))
        .collect();
    let name = rows.first().and_then(|r| r.first()).cloned().expect("rc01 runs");
    (name, rows.iter().filter_map(|r| r.last().cloned()).collect())
}

#[test]
fn reconcile_fixes_pinning_drift_reports_memory_drift_and_leaves_intent() {
    if !can_run("reconcile_fixes_pinning_drift_reports_memory_drift_and_leaves_intent") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("hosts");
    write_vms(&dir, 256);
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (dom, pins) = affinity(&h);
    assert!(pins.iter().all(|p| p == "2-3"), "{pins:?}");
    // By hand on the host: the live pinning and vm.cfg's memory.
    h.ssh_ok(1, &format!("xm vcpu-pin {dom} all 0-7"));
    h.ssh_ok(
        1,
        "for f in /OVS/Repositories/*/VirtualMachines/*/vm.cfg; do sed -i 's/^memory = .*/memory = 384/' \"$f\"; done",
    );
    let (code, out, err) = domform(&["plan", "-f", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Causes: 1 drift.") && out.contains("~ vm rc01 (update, drift)"), "{out}");
    let metrics = h.path().join("domform.prom");
    let report = h.path().join("report.json");
    let (code, out, err) = domform(&["reconcile", "-f", s(&dir), "--metrics", s(&metrics), "--report", s(&report)]);
    assert_eq!(code, 3, "drift left (the memory): {out}{err}");
    let (_, pins) = affinity(&h);
    assert!(pins.iter().all(|p| p == "2-3"), "the pinning is fixed over SSH: {pins:?}");
    let cfg = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    assert!(cfg.contains("memory = 384"), "the memory drift is only reported:\n{cfg}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("report JSON");
    let text = json.to_string();
    assert!(text.contains("drift") && text.contains("memory") && text.contains("pinning"), "{text}");
    let prom = std::fs::read_to_string(&metrics).expect("metrics");
    assert!(prom.contains("# TYPE") && prom.contains("h1"), "{prom}");
    match std::process::Command::new("promtool").args(["check", "metrics"]).stdin(std::process::Stdio::piped()).spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(prom.as_bytes()).expect("write");
            let done = child.wait_with_output().expect("promtool");
            assert!(done.status.success(), "promtool: {}", String::from_utf8_lossy(&done.stderr));
        }
        Err(e) => assert!(std::env::var("CI").is_err(), "promtool is needed under CI=true (.ci/run installs it): {e}"),
    }
    // The YAML changes in git: intent, reported, never applied unattended.
    write_vms(&dir, 512);
    let (code, out, err) = domform(&["reconcile", "-f", s(&dir)]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(format!("{out}{err}").contains("intent"), "{out}{err}");
    let cfg = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    assert!(cfg.contains("memory = 384") && !cfg.contains("memory = 512"), "intent is not applied:\n{cfg}");
}
