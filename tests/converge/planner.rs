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

/// vCPUs, NICs, consoles, pass-through keys and snapshots, edited one after another.
#[test]
fn every_other_field_edit_converges() {
    let sim = host();
    let secret = sim.root().join("vnc-password");
    std::fs::write(&secret, "s1mpass\n").expect("password file");
    let base = web("running", "512MiB", "\"2-5\"", &["{ name: system, size: 16MiB }"]);
    let nic2 = "      - { bridge: xenbr1, mac: \"00:21:f6:00:00:02\" }\n";
    let with_nic = base.clone() + nic2;
    let vnc = format!(
        "    console: {{ serial: true, vnc: {{ listen: 127.0.0.1, port: 5977, password: {{ file: {} }} }} }}\n",
        secret.display()
    );
    let edits = [
        base.clone(),
        base.replace("vcpus: 2", "vcpus: 1"),
        base.replace("vcpus: 2", "vcpus: 4"),
        with_nic.clone(),
        with_nic.clone() + &vnc,
        with_nic.clone() + &vnc + "    extra_config: { on_crash: preserve, OVM_high_availability: false }\n",
        with_nic.clone() + "    snapshots: { present: [a, b] }\n",
        with_nic.clone() + "    snapshots: { present: [c], keep: 1 }\n",
        base.replace("state: running", "state: stopped").replace("vcpus: 2", "vcpus: 3"),
        base,
    ];
    for vms in &edits {
        assert!(!converge(&sim, vms).changes.is_empty(), "each edit changes something:\n{vms}");
    }
    let snaps: Vec<String> = std::fs::read_dir(sim.repo().join("Snapshots/web01"))
        .expect("snapshots")
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    assert!(snaps.contains(&"c".to_string()), "{snaps:?}");
}

/// A VM OVM Manager made (its vm.cfg as published, paths moved to this host), running, is
/// adopted by its simple name and edited; the keys domform does not own stay as they were.
#[test]
fn an_ovm_manager_vm_is_adopted_edited_and_converges() {
    let sim = host();
    let sample = include_str!("../fixtures/vm.cfg/sample-01.cfg");
    let repo = sim.repo().display().to_string();
    let text: String = sample
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let l = l.replace("/OVS/Repositories/0004fb00000300001e4ee7d261313647", &repo);
            l.replace("/OVS/Repositories/0004fb0000030000598e525857751f9a", &repo) + "\n"
        })
        .collect();
    let xen = "0004fb0000060000cfe2da48f9e2120e";
    let dir = sim.repo().join("VirtualMachines").join(xen);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("vm.cfg"), &text).expect("vm.cfg");
    let cfg = vmcfg::VmCfg::parse(&text).expect("parses");
    for entry in cfg.get("disk").and_then(|v| v.as_list()).expect("disks") {
        let spec = vmcfg::devices::DiskSpec::parse(entry.as_str().expect("str")).expect("disk");
        std::fs::create_dir_all(std::path::Path::new(&spec.path).parent().expect("parent")).expect("mkdir");
        std::fs::File::create(&spec.path).and_then(|f| f.set_len(64 * MIB)).expect("disk file");
    }
    let (code, out) = sim.xm(&["create", &dir.join("vm.cfg").display().to_string()]);
    assert_eq!(code, 0, "{out}");
    let vms = format!(
        "  ESXi-01:\n    host: {HOST}\n    memory: 3GiB\n    vcpus: 2\n    cpus: \"6-7\"\n    extra_config: {{ on_crash: preserve }}\n"
    );
    let applied = converge(&sim, &vms);
    assert_eq!(ids(&applied), ["vm/ESXi-01"]);
    assert_eq!(live(&sim, "ESXi-01").map(|l| l.1), Some(3072));
    assert_eq!(affinity(&sim, xen), ["6-7", "6-7"]);
    let now = std::fs::read_to_string(dir.join("vm.cfg")).expect("vm.cfg");
    let changed: Vec<&str> = now.lines().filter(|l| !text.lines().any(|o| o == *l)).collect();
    assert_eq!(changed.len(), 3, "memory, cpus and on_crash only:\n{changed:?}");
}
