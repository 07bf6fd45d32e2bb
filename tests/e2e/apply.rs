//! plan / apply on real SSH test hosts: every example converges, kills and races are safe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::{can_run, domform, domform_bin, repo_root, TestHosts};

/// A copy of an example whose hosts point at test hosts (h1, h2, … in declaration order),
/// with the example's repository paths rewritten to the test hosts' repositories.
fn retarget(example: &str, h: &TestHosts, out_dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("examples").join(example)).expect("example");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let hosts_yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml")).expect("yaml");
    let mut text_out = text.clone();
    let names: Vec<String> =
        doc["hosts"].as_mapping().expect("hosts").keys().filter_map(|k| k.as_str().map(str::to_string)).collect();
    for (i, name) in names.iter().enumerate() {
        let test = &hosts_yaml["hosts"][format!("h{}", i + 1).as_str()];
        let old_repo = doc["hosts"][name.as_str()]["repository"].as_str().expect("repository").to_string();
        let new_repo = test["repository"].as_str().expect("repository").to_string();
        text_out = text_out.replace(&old_repo, &new_repo);
        // Pre-create existing-path disks the example expects to find.
        for vm in doc["vms"].as_mapping().expect("vms").values() {
            for d in vm["disks"].as_sequence().into_iter().flatten() {
                if let Some(p) = d["path"].as_str() {
                    h.ssh_ok(i + 1, &format!("truncate -s 1G {}", p.replace(&old_repo, &new_repo)));
                }
            }
        }
    }
    doc = serde_yaml::from_str(&text_out).expect("yaml");
    for (i, name) in names.iter().enumerate() {
        let test = hosts_yaml["hosts"][format!("h{}", i + 1).as_str()].clone();
        let host = &mut doc["hosts"][name.as_str()];
        for key in ["address", "port", "user", "identity_file", "known_hosts", "repository"] {
            host[key] = test[key].clone();
        }
        if let Some(m) = host.as_mapping_mut() {
            m.remove("host_key_policy");
        }
    }
    let path = out_dir.join(example);
    std::fs::write(&path, serde_yaml::to_string(&doc).expect("yaml")).expect("write");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Applies an example on a fresh test host, then asserts the next plan is empty.
fn example_converges(example: &str) -> Option<TestHosts> {
    if !can_run(example) {
        return None;
    }
    let h = TestHosts::up(1, &["--cpus", "16", "--dom0-cpus", "0-3", "--memory", "262144"]);
    let file = retarget(example, &h, h.path());
    let (code, out, err) = domform(&["plan", "-f", s(&file), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{example}: changes pending\n{out}\n{err}");
    let (code, out, err) = domform(&["apply", "-f", s(&file), "--auto-approve"]);
    assert_eq!(code, 0, "{example}: apply\n{out}\n{err}");
    assert!(out.contains("Apply complete"), "{out}");
    let (code, out, err) = domform(&["plan", "-f", s(&file), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{example}: plan after apply must be empty\n{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");
    Some(h)
}

#[test]
fn example_basic_converges() {
    let Some(h) = example_converges("basic.yaml") else { return };
    let list = h.ssh_ok(1, "xm list");
    assert_eq!(list.lines().count(), 3, "header, Domain-0 and web01 (app01 is declared stopped): {list}");
}

#[test]
fn example_pinned_database_converges() {
    let Some(h) = example_converges("pinned-database.yaml") else { return };
    let vcpus = h.ssh_ok(1, "xm vcpu-list");
    assert!(
        vcpus.lines().filter(|l| l.trim_end().ends_with("4-11")).count() == 8,
        "db01's 8 vCPUs pinned to 4-11: {vcpus}"
    );
    assert!(vcpus.lines().filter(|l| l.trim_end().ends_with("12-13")).count() == 2, "db02 per-vCPU pins: {vcpus}");
}

#[test]
fn example_bulk_disks_converges() {
    let Some(h) = example_converges("bulk-disks.yaml") else { return };
    let repo = h.repository(1);
    let n = h.ssh_ok(1, &format!("ls {repo}/VirtualDisks | grep -c '^storage01_lun'"));
    assert_eq!(n.trim(), "100", "100 bulk disks");
    let du = h.ssh_ok(1, &format!("du -sk {repo}/VirtualDisks | cut -f1"));
    assert!(du.trim().parse::<u64>().expect("number") < 10_240, "sparse files: {du} KiB");
    let shared =
        h.ssh_ok(1, &format!("grep -l 'shared-quorum.img,xvd[a-z]*,w!' {repo}/VirtualMachines/*/vm.cfg | wc -l"));
    assert_eq!(shared.trim(), "2", "the quorum disk is attached to both VMs");
}

#[test]
fn a_failing_host_does_not_stop_the_others() {
    if !can_run("a_failing_host_does_not_stop_the_others") {
        return;
    }
    let h = TestHosts::up(2, &["--cpus", "8"]);
    // Host 2 has too little memory for the VM: its `xm create` step fails.
    h.ssh_ok(2, "sed -i 's/^total_memory_mib.*/total_memory_mib = 3072/' /var/lib/xmsim/topology.conf");
    let vms = "vms:\n  a1:\n    host: h1\n    memory: 2GiB\n    vcpus: 1\n    disks: [{ name: s, size: 1GiB }]\n  a2:\n    host: h2\n    memory: 2GiB\n    vcpus: 1\n    disks: [{ name: s, size: 1GiB }]\n";
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(dir.join("vms.yaml"), vms).expect("write");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("✗ power/a2 failed"), "the failed step is named: {out}");
    assert!(out.contains("memory"), "with the simulator's message: {out}");
    assert!(out.contains("✓ power/a1"), "host 1 finished: {out}");
    assert!(h.ssh_ok(1, "xm list").lines().count() == 3, "a1 runs on h1");
    // After fixing host 2, the next apply converges.
    h.ssh_ok(2, "sed -i 's/^total_memory_mib.*/total_memory_mib = 65536/' /var/lib/xmsim/topology.conf");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ power/a2") && !out.contains("vm/a1"), "only what was missing: {out}");
}

#[test]
fn plan_sends_no_mutating_command() {
    if !can_run("plan_sends_no_mutating_command") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "16", "--dom0-cpus", "0-3", "--memory", "262144"]);
    let file = retarget("basic.yaml", &h, h.path());
    h.ssh_ok(1, ": > /var/lib/xmsim/commands.log");
    let (code, _, err) = domform(&["plan", "-f", s(&file)]);
    assert_eq!(code, 0, "{err}");
    let log = h.ssh_ok(1, "cat /var/lib/xmsim/commands.log");
    let verbs: Vec<&str> = log.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(!verbs.is_empty(), "the simulator logged the reads: {log}");
    assert!(verbs.iter().all(|v| *v == "info" || *v == "list"), "plan ran only reads: {log}");
    let files = h.ssh_ok(
        1,
        &format!("find {} -newer /var/lib/xmsim/topology.conf -type f | grep -v '.ovsrepo' | wc -l", h.repository(1)),
    );
    assert_eq!(files.trim(), "0", "plan wrote no file");
}

#[test]
fn killed_apply_converges_and_concurrent_apply_names_the_holder() {
    if !can_run("killed_apply_converges_and_concurrent_apply_names_the_holder") {
        return;
    }
    // Slow shutdowns make the apply long enough to race with.
    let h = TestHosts::up(1, &["--cpus", "16", "--dom0-cpus", "0-3", "--memory", "262144", "--shutdown-seconds", "3"]);
    let file = retarget("basic.yaml", &h, h.path());
    let (code, _, err) = domform(&["apply", "-f", s(&file), "--auto-approve"]);
    assert_eq!(code, 0, "{err}");
    // Now stop web01 (3 s shutdown) and, meanwhile, try a second apply.
    let text = std::fs::read_to_string(&file).expect("read");
    let stopped = text.replacen("state: running", "state: stopped", 1);
    assert_ne!(stopped, text);
    let file2 = h.path().join("stopped.yaml");
    std::fs::write(&file2, &stopped).expect("write");
    let mut first = Command::new(domform_bin())
        .args(["apply", "-f", s(&file2), "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let (code, _, err) = domform(&["apply", "-f", s(&file2), "--auto-approve"]);
    assert_eq!(code, 1, "the second apply fails fast: {err}");
    assert!(err.contains("locked by another apply") && err.contains("pid=") && err.contains("started="), "{err}");
    // Kill the first one in the middle of its shutdown step.
    first.kill().expect("kill -9");
    let _ = first.wait();
    let cfgs =
        h.ssh_ok(1, &format!("for f in {}/VirtualMachines/*/vm.cfg; do echo '@@file'; cat $f; done", h.repository(1)));
    for text in cfgs.split("@@file\n").skip(1) {
        let cfg = vmcfg::VmCfg::parse(text).unwrap_or_else(|e| panic!("a vm.cfg was left broken: {e}\n{text}"));
        assert!(cfg.get("memory").is_some() && cfg.get("name").is_some(), "a vm.cfg was left partial: {text}");
    }
    // The lock died with the process: a new apply converges, then plan is empty.
    let (code, out, err) = domform(&["apply", "-f", s(&file2), "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&file2), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn stale_saved_plan_is_refused_and_fresh_one_applies() {
    if !can_run("stale_saved_plan_is_refused_and_fresh_one_applies") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "16", "--dom0-cpus", "0-3", "--memory", "262144"]);
    let file = retarget("basic.yaml", &h, h.path());
    let planfile = h.path().join("plan.json");
    let (code, _, err) = domform(&["plan", "-f", s(&file), "-o", s(&planfile)]);
    assert_eq!(code, 0, "{err}");
    // Someone changes the host behind our back.
    h.ssh_ok(1, &format!("truncate -s 5M {}/VirtualDisks/web01_system.img", h.repository(1)));
    let (code, _, err) = domform(&["apply", s(&planfile), "-f", s(&file)]);
    assert_eq!(code, 1);
    assert!(err.contains("stale") && err.contains("ovs1"), "{err}");
    h.ssh_ok(1, &format!("rm {}/VirtualDisks/web01_system.img", h.repository(1)));
    let (code, out, err) = domform(&["apply", s(&planfile), "-f", s(&file)]);
    assert_eq!(code, 0, "an unchanged host takes the saved plan without a prompt\n{out}\n{err}");
    let (code, _, _) = domform(&["plan", "-f", s(&file), "--detailed-exitcode"]);
    assert_eq!(code, 0);
}

#[test]
fn import_then_plan_shows_no_changes_and_power_helpers_work() {
    if !can_run("import_then_plan_shows_no_changes_and_power_helpers_work") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "8"]);
    let repo = h.repository(1);
    // A VM made "by OVM Manager": OVM id, simple name, file:/// disk, quoted memory.
    h.ssh_ok(
        1,
        &format!(
            "d={repo}/VirtualMachines/0004fb0000060000cfe2da48f9e2120e; mkdir -p $d; truncate -s 1G {repo}/VirtualDisks/0004fb00001200009d2574fd9b824a84.img
cat > $d/vm.cfg <<'EOF'
vif = ['mac=00:21:f6:5b:b5:f7,bridge=10238073c2']
OVM_simple_name = 'ESXi-01'
serial = 'pty'
disk = ['file://{repo}/VirtualDisks/0004fb00001200009d2574fd9b824a84.img,xvda,w']
uuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'
memory = '4096'
maxvcpus = 2
OVM_high_availability = False
name = '0004fb0000060000cfe2da48f9e2120e'
builder = 'hvm'
vcpus = 2
cpus = '4-5'
EOF
xm create $d/vm.cfg"
        ),
    );
    let imported = h.path().join("imported.yaml");
    let (code, _, err) = domform(&["import", "--host", "h1", "-f", s(&h.hosts_yaml()), "-o", s(&imported)]);
    assert_eq!(code, 0, "{err}");
    let yaml = std::fs::read_to_string(&imported).expect("written");
    assert!(yaml.contains("ESXi-01:") && yaml.contains("cpus: 4-5"), "{yaml}");
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::copy(&imported, dir.join("vms.yaml")).expect("copy");
    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "import then plan is empty\n{out}\n{err}");
    let before = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");

    let (code, out, err) = domform(&["stop", "ESXi-01", "-f", s(&h.hosts_yaml())]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!h.ssh_ok(1, "xm list").contains("0004fb0000060000cfe2da48f9e2120e"));
    let (code, out, err) = domform(&["start", "ESXi-01", "-f", s(&h.hosts_yaml())]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = domform(&["restart", "ESXi-01", "-f", s(&h.hosts_yaml())]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(h.ssh_ok(1, "xm list").contains("0004fb0000060000cfe2da48f9e2120e"));
    assert_eq!(
        before,
        h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg"),
        "power helpers never touch vm.cfg"
    );
    let (code, _, err) = domform(&["stop", "nope", "-f", s(&h.hosts_yaml())]);
    assert_eq!(code, 1);
    assert!(err.contains("no VM named `nope`"), "{err}");
}
