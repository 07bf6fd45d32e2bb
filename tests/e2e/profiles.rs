//! The core scenarios on hosts that look like Oracle VM 3.0-3.2 (`ol5`) and 3.3/3.4 (`ol6`)
//! dom0s: their OpenSSH algorithm sets with RSA keys, and their userland (`scripts/testhosts
//! --profile`: no truncate/timeout/flock and dash as root's shell on ol5, `cp --reflink`
//! failing on both, OCFS2's `reflink` stand-in). One host per profile, two VMs, one scenario
//! function: observe and list, apply with bulk disks, grow a disk, pinning and its drift, stop
//! with a time limit (with and without force), snapshot and revert; on ol5 also through the
//! system ssh (`transport: openssh`, which sends long scripts to `sh -s` on stdin).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{can_run, domform, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// With `transport: openssh`, hosts.yaml for the system ssh: testhosts' algorithm lines move
/// into an ssh_config, as a user of `transport: openssh` would write them.
fn hosts_yaml(h: &TestHosts, openssh: bool) -> PathBuf {
    if !openssh {
        return h.hosts_yaml();
    }
    let config = h.path().join("ssh_config");
    std::fs::write(
        &config,
        "Host *\n  HostKeyAlgorithms +ssh-rsa\n  PubkeyAcceptedAlgorithms +ssh-rsa\n  KexAlgorithms +diffie-hellman-group14-sha1\n",
    )
    .expect("ssh_config");
    let mut out = String::new();
    for line in std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml").lines() {
        if !line.contains("_algorithms:") {
            out.push_str(&format!("{line}\n"));
        }
        if line.trim_start().starts_with("toolstack:") {
            out.push_str(&format!("    transport: openssh\n    ssh_config: {}\n", config.display()));
        }
    }
    let path = h.path().join("hosts-openssh.yaml");
    std::fs::write(&path, out).expect("write");
    path
}

/// hosts.yaml plus db1 (pinned, a system disk and data01..data10) and web1.
fn estate(hosts: &Path, db1_cpus: &str, data01: &str) -> PathBuf {
    let dir = hosts.with_file_name("estate");
    let _ = std::fs::create_dir(&dir);
    std::fs::copy(hosts, dir.join("hosts.yaml")).expect("copy");
    std::fs::write(
        dir.join("vms.yaml"),
        format!(
            "vms:
  db1:
    host: h1
    memory: 512MiB
    vcpus: 2
    cpus: \"{db1_cpus}\"
    disks:
      - {{ name: system, size: 64MiB }}
      - {{ name: data01, size: {data01} }}
      - {{ name: \"data{{02..10}}\", size: 16MiB }}
  web1:
    host: h1
    memory: 256MiB
    vcpus: 1
    disks:
      - {{ name: system, size: 32MiB }}
"
        ),
    )
    .expect("write");
    dir
}

/// The Xen name of a VM from its vm.cfg.
fn xen_name(h: &TestHosts, vm: &str) -> String {
    let cfg =
        h.ssh_ok(1, &format!("grep -l \"OVM_simple_name = '{vm}'\" /OVS/Repositories/*/VirtualMachines/*/vm.cfg"));
    let cfg = h.ssh_ok(1, &format!("cat {}", cfg.trim()));
    cfg.lines()
        .find_map(|l| l.strip_prefix("name = '"))
        .map(|n| n.trim_end_matches('\'').to_string())
        .expect("name in vm.cfg")
}

fn size_and_blocks(h: &TestHosts, path: &str) -> (u64, u64) {
    let out = h.ssh_ok(1, &format!("stat -c '%s %b' {path}"));
    let mut it = out.split_whitespace().map(|n| n.parse::<u64>().expect("number"));
    (it.next().expect("size"), it.next().expect("blocks"))
}

fn write_at0(h: &TestHosts, path: &str, text: &str) {
    h.ssh_ok(1, &format!("printf '{text}' | dd of={path} conv=notrunc status=none"));
}

fn used_bytes(h: &TestHosts) -> u64 {
    h.ssh_ok(1, "sync; df -B1 --output=used /OVS | tail -n 1").trim().parse().expect("bytes")
}

/// The host lock: another process holding flock(2) on the lock file (here Python, as
/// domform's fallback does) keeps an apply out, whether it locks with flock(1) or Python.
fn lock_keeps_an_apply_out(h: &TestHosts, profile: &str, repo: &str, e: &Path) {
    let lock = format!("{repo}/.domform.lock");
    h.ssh_ok(1, &format!("rm -f {lock}.holder"));
    let holder = std::thread::scope(|sc| {
        let held = sc.spawn(|| {
            h.ssh_ok(
                1,
                &format!(
                    "exec 9>>{lock}; python -c 'import fcntl; fcntl.flock(9, fcntl.LOCK_EX)'; \
echo 'controller=held-by-test pid=1' > {lock}.holder; echo held; sleep 6"
                ),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !h.ssh_ok(1, &format!("cat {lock}.holder 2>/dev/null; true")).contains("held-by-test") {
            assert!(Instant::now() < deadline, "{profile}: the test's lock holder never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        let (code, out, err) = domform(&["apply", "-f", s(e), "--auto-approve"]);
        assert_eq!(code, 1, "{profile}: apply while the lock is held\n{out}{err}");
        assert!(format!("{out}{err}").contains("locked by another apply (controller=held-by-test"), "{out}{err}");
        held.join().expect("holder")
    });
    assert_eq!(holder.trim(), "held");
}

/// Stop with a time limit of 1 s (the watchdog fires within 1-2 s): shutdowns take 4 s now.
fn stop_with_a_time_limit(h: &TestHosts, profile: &str, e: &Path) {
    let shutdown_seconds = |secs: &str| {
        h.ssh_ok(1, &format!("sed -i 's/^shutdown_seconds.*/shutdown_seconds = {secs}/' /var/lib/xmsim/topology.conf"))
    };
    shutdown_seconds("4");
    let web1 = xen_name(h, "web1");
    let start = Instant::now();
    let (code, out, err) = domform(&["stop", "web1", "-f", s(e), "--timeout", "1"]);
    let took = start.elapsed();
    assert_eq!(code, 1, "{profile}: stop without force fails\n{out}{err}");
    assert!(out.contains("did not stop within 1s"), "{out}{err}");
    assert!(took < Duration::from_secs(10), "{profile}: the watchdog ended the step ({took:?})");
    let state = |h: &TestHosts| h.ssh_ok(1, "xm list");
    let deadline = Instant::now() + Duration::from_secs(20);
    while state(h).contains(&web1) {
        assert!(Instant::now() < deadline, "{profile}: the interrupted shutdown never finished");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out, err) = domform(&["start", "web1", "-f", s(e)]);
    assert_eq!(code, 0, "{profile}: start\n{out}{err}");
    let (code, out, err) = domform(&["stop", "web1", "-f", s(e), "--timeout", "1", "--force", "--auto-approve"]);
    assert_eq!(code, 0, "{profile}: stop --force\n{out}{err}");
    assert!(!state(h).contains(&web1), "{profile}: destroyed after the limit");
    let log = h.ssh_ok(1, "cat /var/lib/xmsim/commands.log");
    assert!(log.contains(&format!("xm destroy {web1}")), "{profile}: {log}");
    let (code, out, err) = domform(&["start", "web1", "-f", s(e)]);
    assert_eq!(code, 0, "{profile}: start again\n{out}{err}");
    shutdown_seconds("0.2");
}

/// Snapshot: a clone through OCFS2's reflink (cp --reflink is refused), sharing blocks; then
/// revert: the bytes come back, db1 runs again, nothing left to plan.
fn snapshot_and_revert(h: &TestHosts, profile: &str, repo: &str, e: &Path, db1: &str) {
    let system = format!("{repo}/VirtualDisks/db1_system.img");
    h.ssh_ok(1, &format!("dd if=/dev/urandom of={system} bs=1M count=32 conv=notrunc,fsync status=none"));
    write_at0(h, &system, "ORIGINAL");
    let before = used_bytes(h);
    let (code, out, err) = domform(&["snapshot", "create", "db1", "s1", "-f", s(e)]);
    assert_eq!(code, 0, "{profile}: snapshot\n{out}{err}");
    let grew = used_bytes(h).saturating_sub(before);
    assert!(grew < 8 << 20, "{profile}: 32 MiB of data cloned with {grew} bytes");
    let tools = h.ssh_ok(1, "cat /usr/local/sbin/.userland/tools.log");
    assert!(
        tools.contains("reflink ") && tools.contains("db1_system.img"),
        "{profile}: reflink made the clone: {tools}"
    );
    let (code, list, _) = domform(&["snapshot", "list", "db1", "-f", s(e)]);
    assert_eq!(code, 0);
    assert!(list.contains("s1"), "{list}");
    // The observe script's find -printf read the folder's sizes on this userland too.
    let s1: Vec<&str> =
        list.lines().find(|l| l.split_whitespace().nth(1) == Some("s1")).expect("s1").split_whitespace().collect();
    assert!(s1.get(7).is_some_and(|used| *used != "?" && used.ends_with('B')), "{profile}: USED read: {list}");

    // Revert: the bytes come back, db1 runs again, nothing left to plan.
    write_at0(h, &system, "CHANGED!");
    let (code, out, err) = domform(&["snapshot", "revert", "db1", "s1", "-f", s(e), "--auto-approve"]);
    assert_eq!(code, 0, "{profile}: revert\n{out}{err}");
    assert_eq!(h.ssh_ok(1, &format!("head -c 8 {system}")), "ORIGINAL", "{profile}: reverted");
    assert!(h.ssh_ok(1, "xm list").contains(db1), "{profile}: db1 runs again");
    let (code, out, _) = domform(&["plan", "-f", s(e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{profile}: converged after the revert\n{out}");
}

fn scenario(profile: &str, openssh: bool) {
    let h = TestHosts::up(1, &["--profile", profile, "--cpus", "8", "--dom0-cpus", "0-1"]);
    let repo = h.repository(1);
    let hosts = hosts_yaml(&h, openssh);
    // The profile really is in force (testhosts checks it too; a silent regression there would
    // make this test prove nothing).
    let tools = h.ssh_ok(1, "for t in truncate timeout flock; do command -v $t >/dev/null && echo $t; done; true");
    let refused = h.ssh(1, "cp --reflink=always /etc/hostname /OVS/.probe; r=$?; rm -f /OVS/.probe; exit $r");
    assert!(!refused.status.success(), "{profile}: cp --reflink=always must fail");
    match profile {
        "ol5" => assert_eq!(tools.trim(), "", "ol5 has none of them"),
        _ => assert_eq!(tools.split_whitespace().count(), 3, "ol6 has all three: {tools}"),
    }

    // Observe: list (one exec) shows dom0.
    let (code, out, err) = domform(&["list", "-f", s(&hosts)]);
    assert_eq!(code, 0, "{profile}: list\n{out}{err}");
    assert!(out.contains("Domain-0"), "{out}");

    // Apply with bulk disks: exact sizes, sparse, then nothing left to do.
    let e = estate(&hosts, "2-3", "16MiB");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{profile}: apply\n{out}{err}");
    let n = h.ssh_ok(1, &format!("ls {repo}/VirtualDisks | grep -c '^db1_data'"));
    assert_eq!(n.trim(), "10", "{profile}: data01..data10");
    let (size, blocks) = size_and_blocks(&h, &format!("{repo}/VirtualDisks/db1_data07.img"));
    assert_eq!((size, blocks), (16 << 20, 0), "{profile}: a 16 MiB sparse file");
    let (code, out, err) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{profile}: converged\n{out}{err}");
    let db1 = xen_name(&h, "db1");
    let vcpus = h.ssh_ok(1, &format!("xm vcpu-list {db1}"));
    assert_eq!(vcpus.lines().skip(1).filter(|l| l.trim_end().ends_with("2-3")).count(), 2, "{profile}: {vcpus}");

    lock_keeps_an_apply_out(&h, profile, &repo, &e);

    // Import reads the same host back.
    let (code, out, err) = domform(&["import", "--host", "h1", "-f", s(&hosts)]);
    assert_eq!(code, 0, "{profile}: import\n{err}");
    assert!(out.contains("db1:") && out.contains("web1:"), "{out}");

    // A disk grows (never truncated: its data stays), pinning moves, live drift converges.
    write_at0(&h, &format!("{repo}/VirtualDisks/db1_data01.img"), "KEEP-ME");
    h.ssh_ok(1, &format!("xm vcpu-pin {db1} all 0-7"));
    let e = estate(&hosts, "4-5", "48MiB");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{profile}: grow and re-pin\n{out}{err}");
    assert!(out.contains("✓ verify/pinning"), "{out}");
    let (size, _) = size_and_blocks(&h, &format!("{repo}/VirtualDisks/db1_data01.img"));
    assert_eq!(size, 48 << 20, "{profile}: grown");
    assert_eq!(h.ssh_ok(1, &format!("head -c 7 {repo}/VirtualDisks/db1_data01.img")), "KEEP-ME");
    let vcpus = h.ssh_ok(1, &format!("xm vcpu-list {db1}"));
    assert_eq!(vcpus.lines().skip(1).filter(|l| l.trim_end().ends_with("4-5")).count(), 2, "{profile}: {vcpus}");
    let (code, out, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{profile}: converged again\n{out}");

    stop_with_a_time_limit(&h, profile, &e);

    snapshot_and_revert(&h, profile, &repo, &e, &db1);
}

#[test]
fn core_scenarios_on_an_ovm_3_0_to_3_2_host_ol5() {
    if !can_run("core_scenarios_on_an_ovm_3_0_to_3_2_host_ol5") {
        return;
    }
    scenario("ol5", false);
}

#[test]
fn core_scenarios_on_ol5_through_the_system_ssh() {
    if !can_run("core_scenarios_on_ol5_through_the_system_ssh") {
        return;
    }
    scenario("ol5", true);
}

#[test]
fn core_scenarios_on_an_ovm_3_3_to_3_4_host_ol6() {
    if !can_run("core_scenarios_on_an_ovm_3_3_to_3_4_host_ol6") {
        return;
    }
    scenario("ol6", false);
}
