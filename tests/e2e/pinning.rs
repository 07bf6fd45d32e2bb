//! Hard partitioning on two topologies, with licence counts worked out by hand.
//!
//! Both hosts: 1 socket × 4 cores × 2 threads = CPUs 0-7, dom0 on CPUs 0-1.
//! - h1, adjacent siblings: core k = threads {2k, 2k+1}: core0 {0,1} core1 {2,3} core2 {4,5} core3 {6,7}.
//! - h2, split siblings (n / n+cores): core k = threads {k, k+4}: core0 {0,4} core1 {1,5} core2 {2,6} core3 {3,7}.
//!
//! Group `ee` = db1, db2 (h1) and db3 (h2); group `se` = web (h2, not pinned).
//! - h1: db1 "2-5" → cores {1,2}; db2 "4-7" → cores {2,3}; union {1,2,3} = 3 cores × 0.5 = 1.5 → 2 licences.
//! - h2: db3 "2-5" → threads 2,3,4,5 → cores {2,3,0,1} = 4 cores → 2 licences, and every core is
//!   only half taken (warning). With max_cores 3 the plan fails. db3 "2-3,6-7" → cores {2,3} = 2
//!   cores → 1 licence: within the cap.
//! - h2: web is unpinned → the whole server, 4 cores → 2 licences.

use crate::harness::{can_run, domform, TestHosts};

fn estate(h: &TestHosts, db3_cpus: &str, max_cores: u32) -> std::path::PathBuf {
    let dir = h.path().join(format!("estate-{}", db3_cpus.replace(',', "_")));
    let _ = std::fs::create_dir(&dir);
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    let vm = |name: &str, host: &str, cpus: Option<&str>| {
        let pin = cpus.map(|c| format!("    cpus: \"{c}\"\n")).unwrap_or_default();
        format!("  {name}:\n    host: {host}\n    memory: 512MiB\n    vcpus: 2\n{pin}")
    };
    let yaml = format!(
        "vms:\n{}{}{}{}licences:\n  ee: {{ vms: [db1, db2, db3], max_cores: {max_cores} }}\n  se: {{ vms: [web] }}\n",
        vm("db1", "h1", Some("2-5")),
        vm("db2", "h1", Some("4-7")),
        vm("db3", "h2", Some(db3_cpus)),
        vm("web", "h2", None)
    );
    std::fs::write(dir.join("vms.yaml"), yaml).expect("write");
    dir
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8")
}

#[test]
fn licence_counts_on_adjacent_and_split_siblings() {
    if !can_run("licence_counts_on_adjacent_and_split_siblings") {
        return;
    }
    let h = TestHosts::up(2, &["--cpus", "8", "--dom0-cpus", "0-1"]);
    h.ssh_ok(2, "sed -i 's/^siblings.*/siblings = split/' /var/lib/xmsim/topology.conf");
    assert!(h.ssh_ok(2, "xm info -n").contains("  4:       0        0        0"), "h2: CPU 4 is core 0");

    // With db3 on four half cores, the `ee` cap of 3 cores is broken on h2: the plan fails.
    let bad = estate(&h, "2-5", 3);
    let (code, out, err) = domform(&["plan", "-f", s(&bad)]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("licence group `ee` would use 4 cores on h2 but max_cores is 3"), "{err}");
    assert!(out.contains("VM `db3` takes only part of core(s)"), "half-core warning: {out}");
    let (code, _, _) = domform(&["apply", "-f", s(&bad), "--auto-approve"]);
    assert_eq!(code, 1, "apply refuses a plan that breaks the policy");

    // Pinning whole cores fixes it.
    let good = estate(&h, "2-3,6-7", 3);
    let (code, out, err) = domform(&["apply", "-f", s(&good), "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ verify/pinning"), "pins were read back: {out}");
    assert!(!out.contains("takes only part"), "whole cores, no warning: {out}");

    let (code, json, err) = domform(&["licence", "-f", s(&good), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let row = |host: &str, group: &str| {
        doc["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["host"] == host && g["group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("{host}/{group}: {json}"))
    };
    let ee1 = row("h1", "ee");
    assert_eq!(
        (ee1["cores"].as_u64(), ee1["licences"].as_u64(), ee1["threads"].as_str()),
        (Some(3), Some(2), Some("2-7"))
    );
    let ee2 = row("h2", "ee");
    assert_eq!(
        (ee2["cores"].as_u64(), ee2["licences"].as_u64(), ee2["threads"].as_str()),
        (Some(2), Some(1), Some("2-3,6-7"))
    );
    let se2 = row("h2", "se");
    assert_eq!((se2["cores"].as_u64(), se2["licences"].as_u64()), (Some(4), Some(2)));
    assert_eq!(se2["unpinned"], serde_json::json!(["web"]));
    assert_eq!(ee1["violation"], false);

    let (code, csv, _) = domform(&["licence", "-f", s(&good), "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(csv.lines().any(|l| l.starts_with("h1,ee,db1 db2,,2-7,3,4,0.5,2,3,false")), "{csv}");
    let (_, table, _) = domform(&["licence", "-f", s(&good)]);
    assert!(table.contains("Total: 5 processor licence(s)"), "2 + 1 + 2: {table}");
}

#[test]
fn live_and_configured_pinning_drift_both_converge() {
    if !can_run("live_and_configured_pinning_drift_both_converge") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "8", "--dom0-cpus", "0-1"]);
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(
        dir.join("vms.yaml"),
        "vms:\n  db1:\n    host: h1\n    memory: 512MiB\n    vcpus: 2\n    maxvcpus: 2\n    cpus: [\"2-3\", \"4-5\"]\n",
    )
    .expect("write");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let cfg = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    assert!(cfg.contains("cpus = ['2-3', '4-5']"), "per-vCPU list of strings: {cfg}");

    // Someone pins by hand: live drift only.
    let dom = cfg
        .lines()
        .find_map(|l| l.strip_prefix("name = '"))
        .map(|n| n.trim_end_matches('\''))
        .expect("name")
        .to_string();
    h.ssh_ok(1, &format!("xm vcpu-pin {dom} all 0-7"));
    let (code, out, _) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cpus (live)"), "live drift is shown separately: {out}");
    assert!(!out.contains("vm.cfg /"), "vm.cfg is not rewritten for live drift: {out}");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("✓ verify/pinning"), "{out}");

    // OVM Manager rewrites vm.cfg: configured drift only (live still right).
    h.ssh_ok(1, "sed -i \"s/^cpus = .*/cpus = '0-7'/\" /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    let (code, out, _) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cpus: 0-7 → ['2-3', '4-5']") || out.contains("cpus: 0-7 →"), "configured drift: {out}");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "both converged: {out}");
    let vcpus = h.ssh_ok(1, &format!("xm vcpu-list {dom}"));
    assert!(
        vcpus.lines().nth(1).is_some_and(|l| l.trim_end().ends_with("2-3"))
            && vcpus.lines().nth(2).is_some_and(|l| l.trim_end().ends_with("4-5")),
        "{vcpus}"
    );
}

#[test]
fn pinning_on_dom0_or_missing_cpus_is_refused() {
    if !can_run("pinning_on_dom0_or_missing_cpus_is_refused") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "8", "--dom0-cpus", "0-1"]);
    for (cpus, needle) in [("1-2", "which dom0 uses on h1"), ("6-9", "CPUs 0-7 only")] {
        let dir = h.path().join(format!("e{}", cpus));
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
        std::fs::write(
            dir.join("vms.yaml"),
            format!("vms:\n  x:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n    cpus: \"{cpus}\"\n"),
        )
        .expect("write");
        let (code, _, err) = domform(&["plan", "-f", s(&dir)]);
        assert_eq!(code, 1, "{cpus}");
        assert!(err.contains(needle), "{cpus}: {err}");
    }
}
