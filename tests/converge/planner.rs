//! Convergence at the planner level: a host is brought to a desired state, the desired state
//! is edited (memory, disks, pinning, power, removal) or the host drifts by hand, and each time
//! observe → plan → apply on the stateful fake host must leave a plan that is empty. The unit
//! tests in tests/planner.rs check what a plan says; these check that doing it gets there.

use domform::plan::{HostPlan, Impact};

use crate::simhost::{load, SimHost, Topology};

const HOST: &str = "h1";
const REPO_ID: &str = "0004fb00000300000000000000c0ffee";
const MIB: u64 = 1 << 20;

fn host() -> SimHost {
    SimHost::new(REPO_ID, &Topology::default())
}

fn yaml(sim: &SimHost, vms: &str) -> String {
    format!(
        "hosts:\n  {HOST}:\n    transport: local\n    repository: {}\n    reserved_cpus: \"0-1\"\nvms:\n{vms}",
        sim.repo().display()
    )
}

/// `web01` with the given state, memory, pinning and disks (YAML flow entries).
fn web(state: &str, memory: &str, cpus: &str, disks: &[&str]) -> String {
    format!(
        "  web01:\n    host: {HOST}\n    state: {state}\n    memory: {memory}\n    vcpus: 2\n    cpus: {cpus}\n    \
         disks:\n{}    networks:\n      - {{ bridge: xenbr0, mac: \"00:21:f6:00:00:01\" }}\n",
        disks.iter().map(|d| format!("      - {d}\n")).collect::<String>()
    )
}

fn ids(hp: &HostPlan) -> Vec<String> {
    hp.changes.iter().map(|c| c.id.clone()).collect()
}

/// Applies `vms` and checks that the plan afterwards is empty; returns the plan applied.
fn converge(sim: &SimHost, vms: &str) -> HostPlan {
    let model = load(&yaml(sim, vms));
    let applied = sim.apply(&model, HOST, usize::MAX);
    let again = sim.plan(&model, HOST);
    assert!(
        again.changes.is_empty() && again.errors.is_empty(),
        "apply, then plan is not empty.\napplied: {:?}\nagain: {:?} {:?}\n{vms}",
        ids(&applied),
        ids(&again),
        again.errors
    );
    applied
}

/// The running domain of `name`: (Xen name, memory MiB) from `xm list`.
fn live(sim: &SimHost, name: &str) -> Option<(String, u64)> {
    let (_, cfg) = sim.vm_cfg(name)?;
    let xen = cfg.get("name")?.as_str()?.to_string();
    let (_, text) = sim.xm(&["list"]);
    let doms = domform::xen::parse_xm_list(&text).expect("xm list parses");
    doms.into_iter().find(|d| d.name == xen).map(|d| (xen, d.memory_mib))
}

/// Each vCPU's live affinity, from `xm vcpu-list`.
fn affinity(sim: &SimHost, xen: &str) -> Vec<String> {
    let (code, text) = sim.xm(&["vcpu-list", xen]);
    assert_eq!(code, 0, "{text}");
    let rows = domform::xen::parse_vcpu_list(&text, 32).expect("xm vcpu-list parses");
    rows.iter().map(|r| r.affinity.to_string()).collect()
}

fn cfg_int(sim: &SimHost, name: &str, key: &str) -> Option<i64> {
    sim.vm_cfg(name)?.1.get(key)?.as_int()
}

#[test]
fn memory_changes_converge_in_vm_cfg_and_live() {
    let sim = host();
    let vm = |state: &str, memory: &str| web(state, memory, "\"2-3\"", &["{ name: system, size: 16MiB }"]);
    converge(&sim, &vm("running", "1GiB"));
    assert_eq!(live(&sim, "web01").map(|l| l.1), Some(1024));
    // Below the boot-time maxmem: vm.cfg and `xm mem-set`, live.
    let applied = converge(&sim, &vm("running", "768MiB"));
    assert_eq!((ids(&applied), applied.changes[0].impact), (vec!["vm/web01".to_string()], Impact::Live));
    assert_eq!((cfg_int(&sim, "web01", "memory"), live(&sim, "web01").map(|l| l.1)), (Some(768), Some(768)));
    // Above it: vm.cfg only, the running domain keeps its memory until it restarts.
    let applied = converge(&sim, &vm("running", "2GiB"));
    assert_eq!(applied.changes[0].impact, Impact::NeedsRestart);
    assert_eq!((cfg_int(&sim, "web01", "memory"), live(&sim, "web01").map(|l| l.1)), (Some(2048), Some(768)));
    converge(&sim, &vm("stopped", "2GiB"));
    converge(&sim, &vm("running", "2GiB"));
    assert_eq!(live(&sim, "web01").map(|l| l.1), Some(2048));
}

#[test]
fn added_and_grown_disks_converge() {
    let sim = host();
    converge(&sim, &web("running", "512MiB", "\"2-3\"", &["{ name: system, size: 16MiB }"]));
    let disks = ["{ name: system, size: 32MiB }", "{ name: \"data{1..2}\", size: 8MiB }"];
    let applied = converge(&sim, &web("running", "512MiB", "\"2-3\"", &disks));
    assert!(applied.changes.len() >= 3, "a grow, two creates and the VM: {:?}", ids(&applied));
    let size = |n: &str| std::fs::metadata(sim.repo().join(format!("VirtualDisks/web01_{n}.img"))).map(|m| m.len());
    assert_eq!(size("system").ok(), Some(32 * MIB));
    assert_eq!((size("data1").ok(), size("data2").ok()), (Some(8 * MIB), Some(8 * MIB)));
}

#[test]
fn pinning_changes_converge_in_vm_cfg_and_live() {
    let sim = host();
    let disks = ["{ name: system, size: 16MiB }"];
    converge(&sim, &web("running", "512MiB", "\"2-3\"", &disks));
    let (xen, _) = live(&sim, "web01").expect("runs");
    assert_eq!(affinity(&sim, &xen), ["2-3", "2-3"]);
    converge(&sim, &web("running", "512MiB", "\"4-7\"", &disks));
    assert_eq!(affinity(&sim, &xen), ["4-7", "4-7"]);
    converge(&sim, &web("running", "512MiB", "[\"8\", \"10-11\"]", &disks));
    assert_eq!(affinity(&sim, &xen), ["8", "10-11"]);
}

#[test]
fn a_vcpu_repinned_by_hand_is_put_back() {
    let sim = host();
    let vms = web("running", "512MiB", "\"4-5\"", &["{ name: system, size: 16MiB }"]);
    converge(&sim, &vms);
    let (xen, _) = live(&sim, "web01").expect("runs");
    let (code, out) = sim.xm(&["vcpu-pin", &xen, "1", "0-1"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(affinity(&sim, &xen), ["4-5", "0-1"]);
    let applied = converge(&sim, &vms);
    assert!(!applied.changes.is_empty(), "the drift was planned");
    assert_eq!(affinity(&sim, &xen), ["4-5", "4-5"]);
}

#[test]
fn power_changes_converge() {
    let sim = host();
    let disks = ["{ name: system, size: 16MiB }"];
    for state in ["running", "stopped", "paused", "running", "paused", "stopped"] {
        converge(&sim, &web(state, "512MiB", "\"2-3\"", &disks));
        let (_, list) = sim.xm(&["list"]);
        let shown = live(&sim, "web01").map(|(xen, _)| {
            let line = list.lines().find(|l| l.starts_with(&xen)).expect("listed").to_string();
            if line.contains("--p--") || line.contains("p-----") {
                "paused"
            } else {
                "running"
            }
        });
        assert_eq!(shown.unwrap_or("stopped"), state, "{list}");
    }
}

#[test]
fn removal_with_allow_destroy_converges() {
    let sim = host();
    let disks = ["{ name: system, size: 16MiB }"];
    converge(&sim, &web("running", "512MiB", "\"2-3\"", &disks));
    let vms = web("absent", "512MiB", "\"2-3\"", &disks)
        .replace("    state: absent\n", "    state: absent\n    allow_destroy: true\n");
    converge(&sim, &vms);
    assert!(sim.vm_cfg("web01").is_none() && live(&sim, "web01").is_none());
}

/// A run killed after any step leaves a host the next apply converges from (design §6): each
/// prefix of a first apply's ordered changes is run on a fresh host, then a full apply.
#[test]
fn a_run_killed_after_any_step_converges_on_the_next_apply() {
    let vms = |sim: &SimHost| {
        let mut v =
            web("running", "512MiB", "\"2-3\"", &["{ name: system, size: 16MiB }", "{ name: data, size: 8MiB }"]);
        v.push_str(&format!(
            "  db01:\n    host: {HOST}\n    state: stopped\n    memory: 1GiB\n    vcpus: 2\n    cpus: [\"4\", \"5\"]\n    \
             disks:\n      - {{ name: system, size: 16MiB }}\n    snapshots: {{ present: [base] }}\n"
        ));
        load(&yaml(sim, &v))
    };
    let probe = host();
    let steps = probe.plan(&vms(&probe), HOST).changes.len();
    assert!(steps >= 6, "enough steps to cut: {steps}");
    for cut in 1..steps {
        let sim = host();
        let model = vms(&sim);
        sim.apply(&model, HOST, cut);
        let finished = sim.apply(&model, HOST, usize::MAX);
        let again = sim.plan(&model, HOST);
        assert!(
            again.changes.is_empty(),
            "killed after {cut} of {steps} steps; the next apply ran {:?} and left {:?}",
            ids(&finished),
            ids(&again)
        );
    }
}
