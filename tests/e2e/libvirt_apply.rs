//! `toolstack: libvirt` end to end: domform plans and applies a declared VM on a libvirt test
//! host (its own libvirtd and QEMU, TCG) over real SSH, then plans it again as "No changes";
//! moves its pinning live (checked on the QEMU vCPU threads with `taskset`), stops it with the
//! ACPI guest's cooperation, and undefines it only with `allow_destroy`. The guest is the
//! checked-in boot sector (`tests/fixtures/libvirt/acpi-guest.hex`), declared by `path:`.

use crate::harness::{can_run, domform, TestHosts};
use crate::libvirt_hosts::{host_with_boot_disk, state, vcpu_affinity};

fn desired(h: &TestHosts, dir: &std::path::Path, vm: &str, extra: &str) -> String {
    let repo = h.repository(1);
    let yaml = format!(
        "vms:\n  {vm}:\n    host: h1\n    memory: 128MiB\n    vcpus: 2\n{extra}    disks:\n      - {{ path: {repo}/VirtualDisks/boot.img }}\n      - {{ name: data, size: 64MiB }}\n    console:\n      serial: true\n      vnc: {{ listen: 127.0.0.1 }}\n"
    );
    let f = dir.join("vms.yaml");
    std::fs::write(&f, yaml).expect("write vms.yaml");
    f.display().to_string()
}

fn plan(hosts: &str, vms: &str) -> (i32, String, String) {
    domform(&["plan", "-f", hosts, "-f", vms, "--detailed-exitcode"])
}

fn apply(hosts: &str, vms: &str) {
    let (code, out, err) = domform(&["apply", "-f", hosts, "-f", vms, "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
}

#[test]
fn a_declared_vm_is_defined_started_pinned_stopped_and_undefined_on_libvirt() {
    if !can_run("a_declared_vm_is_defined_started_pinned_stopped_and_undefined_on_libvirt") {
        return;
    }
    let (h, dir, hosts, repo) = host_with_boot_disk("");
    let vm = "lv web 1";

    let vms = desired(&h, dir.path(), vm, "    cpus: \"1\"\n");
    let (code, out, err) = plan(&hosts, &vms);
    assert_eq!(code, 2, "a new VM is a pending change:\n{out}\n{err}");
    assert!(out.contains(&format!("<name>{vm}</name>")) && out.contains(&format!("power {vm} (start, new)")), "{out}");
    apply(&hosts, &vms);
    assert_eq!(state(&h, 1, &format!("'{vm}'")), "running (booted)");
    assert_eq!(vcpu_affinity(&h, 1, &qemu_pid_name(vm)), vec!["1", "1"], "both vCPU threads on CPU 1");
    let data = h.ssh_ok(1, &format!("stat -c '%s %b' '{repo}/VirtualDisks/{vm}_data.img'"));
    assert_eq!(data.split_whitespace().next(), Some("67108864"), "a 64 MiB data disk: {data}");
    let (code, out, err) = plan(&hosts, &vms);
    assert_eq!(code, 0, "applied, so nothing is left to do:\n{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");

    // A pin moved by hand is drift (the YAML did not change since the last apply).
    h.ssh_ok(1, &format!("virsh vcpupin --domain '{vm}' --vcpu 0 --cpulist 0 --live"));
    let (code, out, err) = domform(&["plan", "-f", &hosts, "-f", &vms, "--format", "json", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("plan JSON");
    let live = &json["hosts"][0]["changes"][0];
    assert_eq!((live["id"].as_str(), live["cause"].as_str()), (Some(&*format!("live/{vm}")), Some("drift")), "{out}");

    // Pinning moves live, and the persistent XML follows.
    let vms = desired(&h, dir.path(), vm, "    cpus: \"0\"\n");
    let (code, out, _) = plan(&hosts, &vms);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("vcpupin"), "a live pin is planned: {out}");
    apply(&hosts, &vms);
    assert_eq!(vcpu_affinity(&h, 1, &qemu_pid_name(vm)), vec!["0", "0"]);
    let xml = h.ssh_ok(1, &format!("virsh dumpxml --inactive --domain '{vm}'"));
    assert!(xml.contains("<vcpupin vcpu='0' cpuset='0'/>"), "{xml}");
    assert_eq!(plan(&hosts, &vms).0, 0, "converged after the live pin");

    // Stopped: the ACPI guest powers off within the time limit.
    let vms = desired(&h, dir.path(), vm, "    cpus: \"0\"\n    state: stopped\n    shutdown_timeout: 60\n");
    apply(&hosts, &vms);
    assert_eq!(state(&h, 1, &format!("'{vm}'")), "shut off (shutdown)");
    assert_eq!(plan(&hosts, &vms).0, 0);

    // Absent needs allow_destroy; then the domain goes and its disks stay.
    let vms = desired(&h, dir.path(), vm, "    state: absent\n");
    let (code, out, err) = plan(&hosts, &vms);
    assert_eq!(code, 1, "absent without allow_destroy is refused:\n{out}\n{err}");
    assert!(format!("{out}{err}").contains("allow_destroy"), "{out}{err}");
    let vms = desired(&h, dir.path(), vm, "    state: absent\n    allow_destroy: true\n");
    apply(&hosts, &vms);
    let listed = h.ssh_ok(1, "virsh list --all --name");
    assert!(!listed.contains(vm), "undefined: {listed}");
    h.ssh_ok(1, &format!("test -f '{repo}/VirtualDisks/{vm}_data.img'"));
    assert_eq!(plan(&hosts, &vms).0, 0);
}

/// libvirt names a domain's pid file after the domain.
fn qemu_pid_name(vm: &str) -> String {
    format!("'{vm}'")
}
