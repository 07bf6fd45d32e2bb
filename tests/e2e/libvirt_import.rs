//! The road from Oracle VM to KVM, end to end on a libvirt test host: an OVM vm.cfg (the shape
//! OVM Manager writes, from the shared samples) becomes a libvirt declaration with
//! `import --from-vm-cfg`, which plans, applies and runs on the host, bridge and pinning
//! included; then `import --host` reads the host back into YAML that plans as "No changes", and
//! `list` and `licence` read the host as they read a Xen one.

use crate::harness::{can_run, domform};
use crate::libvirt_hosts::{host_with_boot_disk, state, vcpu_affinity};

/// An HVM guest's vm.cfg as OVM Manager writes it (the shape of the shared sample-01: its keys and
/// order), its disk the test host's boot sector, on bridge xenbr0, pinned to CPU 1.
fn ovm_vm_cfg(repo: &str) -> String {
    format!(
        "vif = ['mac=00:21:f6:5b:b5:f7,bridge=xenbr0']\nOVM_simple_name = 'ESXi 01'\nvnclisten = '127.0.0.1'\nserial = 'pty'\n\
disk = ['file:{repo}/VirtualDisks/boot.img,xvda,w']\nvncunused = 1\nuuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'\n\
on_reboot = 'restart'\nboot = 'dc'\ncpu_weight = 27500\nmemory = 128\ncpu_cap = 0\nmaxvcpus = 2\ncpus = '1'\n\
OVM_high_availability = False\nvnc = 1\nOVM_description = ''\non_poweroff = 'destroy'\non_crash = 'restart'\n\
guest_os_type = 'linux'\nname = '0004fb0000060000cfe2da48f9e2120e'\nbuilder = 'hvm'\nvcpus = 2\nkeymap = 'en-us'\n\
OVM_os_type = 'Other Linux'\nOVM_cpu_compat_group = ''\nOVM_domain_type = 'xen_hvm'\n"
    )
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = domform(args);
    assert_eq!(code, 0, "domform {args:?}:\n{out}\n{err}");
    out
}

#[test]
fn an_ovm_vm_cfg_moves_to_libvirt_and_the_host_imports_back_unchanged() {
    if !can_run("an_ovm_vm_cfg_moves_to_libvirt_and_the_host_imports_back_unchanged") {
        return;
    }
    let (h, dir, hosts, repo) = host_with_boot_disk("ip link add xenbr0 type bridge && ip link set xenbr0 up");

    let cfg = dir.path().join("vm.cfg");
    std::fs::write(&cfg, ovm_vm_cfg(&repo)).expect("vm.cfg");
    let moved = dir.path().join("moved.yaml").display().to_string();
    let cfg_arg = cfg.display().to_string();
    let (code, out, err) = domform(&["import", "--from-vm-cfg", &cfg_arg, "--host", "h1", "-f", &hosts, "-o", &moved]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(&moved).expect("moved.yaml");
    for want in
        ["ESXi 01:", "host: h1", &format!("path: {repo}/VirtualDisks/boot.img"), "bridge: xenbr0", "00:21:f6:5b:b5:f7"]
    {
        assert!(yaml.contains(want), "`{want}` in:\n{yaml}");
    }
    assert!(yaml.contains("# ") && yaml.contains("cpu_weight"), "keys with no libvirt meaning are named: {yaml}");

    let (code, out, err) = domform(&["plan", "-f", &hosts, "-f", &moved, "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    ok(&["apply", "-f", &hosts, "-f", &moved, "--auto-approve"]);
    assert_eq!(state(&h, 1, "'ESXi 01'"), "running (booted)");
    assert_eq!(vcpu_affinity(&h, 1, "'ESXi 01'"), ["1", "1"]);
    let tap = h.ssh_ok(1, "ls /sys/class/net/xenbr0/brif/");
    assert!(tap.trim().starts_with("vnet"), "the guest's NIC is on the bridge: {tap}");
    assert_eq!(domform(&["plan", "-f", &hosts, "-f", &moved, "--detailed-exitcode"]).0, 0);

    // The host read back: the import plans as no changes.
    let back = dir.path().join("back.yaml").display().to_string();
    ok(&["import", "--host", "h1", "-f", &hosts, "-o", &back]);
    let (code, out, err) = domform(&["plan", "-f", &hosts, "-f", &back, "--detailed-exitcode"]);
    assert_eq!(
        code,
        0,
        "import --host plans as No changes:\n{out}\n{err}\n{}",
        std::fs::read_to_string(&back).unwrap_or_default()
    );

    // Observe is one exec (one SSH round trip) for the whole host, virsh calls included.
    let model = domform::manifest::load(&[h.hosts_yaml()]).expect("hosts.yaml loads");
    let mut t = domform::transport::ssh::SshTransport::connect(&model.hosts["h1"]).expect("ssh");
    let target = domform::target::resolve(&model, "h1").expect("h1 is a libvirt target");
    let obs = target.observe(&mut t).expect("observe");
    use domform::transport::Transport;
    assert_eq!(t.exec_count(), 1, "one round trip for the whole observe phase");
    let lv = obs.libvirt.as_ref().expect("libvirt facts");
    assert_eq!(lv.domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["ESXi 01"]);
    let nproc: u32 = h.ssh_ok(1, "nproc --all").trim().parse().expect("nproc");
    assert_eq!(obs.info.as_ref().map(|i| i.nr_cpus), Some(nproc), "the topology from virsh capabilities");
    assert!(obs.problems.is_empty(), "{:?}", obs.problems);

    let list = ok(&["list", "-f", &hosts, "-f", &back]);
    let row = list.lines().find(|l| l.contains("ESXi 01")).unwrap_or_else(|| panic!("a row for the VM:\n{list}"));
    assert!(row.contains("running") && row.contains("128"), "{row}");
    // The licence count from the host's real topology (virsh capabilities): pinned to CPU 1 of
    // the host's single-thread cores (a test host is this machine's CPUs), one core, one licence.
    let lic = dir.path().join("lic.yaml");
    std::fs::write(&lic, "licences:\n  oracle-ee:\n    vms: ['ESXi 01']\n    max_cores: 1\n").expect("lic.yaml");
    let licence = ok(&["licence", "-f", &hosts, "-f", &back, "-f", &lic.display().to_string(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&licence).expect("licence JSON");
    let g = &v["groups"][0];
    assert_eq!((g["host"].as_str(), g["group"].as_str()), (Some("h1"), Some("oracle-ee")), "{licence}");
    assert_eq!(
        (g["threads"].as_str(), g["cores"].as_u64(), g["host_cores"].as_u64()),
        (Some("1"), Some(1), Some(u64::from(nproc))),
        "{licence}"
    );
    assert_eq!(g["licences"].as_u64(), Some(1), "{licence}");

    evidence_pack_verifies(dir.path(), &[&hosts, &back, &lic.display().to_string()]);
}

/// `licence --evidence` of the host with the declarations in `files`: the pack verifies with
/// `sha256sum -c` and holds the topology and the VM's configured and live pinning.
fn evidence_pack_verifies(dir: &std::path::Path, files: &[&str]) {
    // The audit pack: the topology and the domain's pinning as virsh printed them, checkable.
    let pack = dir.join("pack");
    let pack_arg = pack.display().to_string();
    let mut args = vec!["licence", "--evidence", &pack_arg];
    for f in files {
        args.extend(["-f", f]);
    }
    ok(&args);
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "MANIFEST.sha256"])
        .current_dir(&pack)
        .output()
        .expect("sha256sum");
    assert!(check.status.success(), "the pack verifies: {}", String::from_utf8_lossy(&check.stdout));
    let read = |f: &str| std::fs::read_to_string(pack.join("hosts/h1").join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert!(read("capabilities.xml").contains("<topology"), "the host's topology");
    assert!(read("vm-ESXi_01/domain.xml").contains("<vcpupin vcpu='0' cpuset='1'/>"), "the configured pins");
    assert!(read("vm-ESXi_01/vcpuinfo.txt").contains("CPU Affinity:   -y"), "the live affinity: CPU 1");
}
