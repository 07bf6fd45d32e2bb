//! Faults and hostile input on real test hosts: nothing is lost, everything converges after.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{can_run, domform, domform_bin, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

fn estate(h: &TestHosts, name: &str, vms: &str) -> PathBuf {
    let dir = h.path().join(name);
    let _ = std::fs::create_dir(&dir);
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(dir.join("vms.yaml"), vms).expect("write");
    dir
}

fn vm(name: &str, host: &str, state: &str, mem: u32) -> String {
    format!("  {name}:\n    host: {host}\n    state: {state}\n    memory: {mem}MiB\n    vcpus: 1\n    force_stop: true\n    shutdown_timeout: 20\n    disks: [{{ name: system, size: 256MiB }}, {{ name: data, size: 128MiB }}]\n")
}

/// Every vm.cfg on host `i` parses; returns how many there are.
fn cfgs_parse(h: &TestHosts, i: usize) -> usize {
    let all = h.ssh_ok(i, "for f in /OVS/Repositories/*/VirtualMachines/*/vm.cfg; do [ -f \"$f\" ] && { echo '@@file'; cat \"$f\"; }; done; true");
    let files: Vec<&str> = all.split("@@file\n").skip(1).collect();
    for text in &files {
        let cfg = vmcfg::VmCfg::parse(text).unwrap_or_else(|e| panic!("h{i}: a vm.cfg does not parse: {e}\n{text}"));
        assert!(cfg.get("name").is_some() && cfg.get("memory").is_some(), "h{i}: partial vm.cfg: {text}");
    }
    files.len()
}

fn disks_on(h: &TestHosts, i: usize) -> Vec<String> {
    let mut v: Vec<String> = h.ssh_ok(i, "ls /OVS/Repositories/*/VirtualDisks/").lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn a_host_lost_mid_apply_does_not_stop_the_others_and_converges_later() {
    if !can_run("a_host_lost_mid_apply_does_not_stop_the_others_and_converges_later") {
        return;
    }
    let h = TestHosts::up(2, &["--shutdown-seconds", "6"]);
    let up = estate(&h, "up", &format!("vms:\n{}{}", vm("a1", "h1", "running", 512), vm("a2", "h2", "running", 512)));
    let (code, out, err) = domform(&["apply", "-f", s(&up), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    // Stopping both takes 6 s; h2's link goes down 2 s in.
    let down =
        estate(&h, "down", &format!("vms:\n{}{}", vm("a1", "h1", "stopped", 512), vm("a2", "h2", "stopped", 512)));
    let apply = Command::new(domform_bin())
        .args(["apply", "-f", s(&down), "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Cut the link once h2's shutdown has begun (a fixed delay once cut it before the step
    // started on a busy machine, and the report rightly said "not run").
    let polling = Instant::now();
    while !h.exec_ok(2, "cat /var/lib/xmsim/commands.log 2>/dev/null; true").contains(" shutdown") {
        assert!(polling.elapsed() < Duration::from_secs(60), "h2's shutdown never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let tag = std::fs::read_to_string(h.path().join("state"))
        .expect("state")
        .lines()
        .find_map(|l| l.strip_prefix("tag="))
        .expect("tag")
        .to_string();
    let veth = format!("dfv-{tag}-2");
    let st = Command::new("ip").args(["link", "set", &veth, "down"]).status().expect("ip");
    assert!(st.success());
    let started = Instant::now();
    let out = apply.wait_with_output().expect("wait");
    let took = started.elapsed();
    let _ = Command::new("ip").args(["link", "set", &veth, "up"]).status();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(took < Duration::from_secs(90), "a dead link is noticed (took {took:?})");
    assert!(text.contains("✓ power/a1"), "h1 finished: {text}");
    assert!(
        text.contains("connection to h2 lost") && text.contains("? power/a2 interrupted"),
        "the report says what was running on h2: {text}"
    );
    // Link back: the next apply converges, then nothing is left to do.
    let (code, out, err) = domform(&["apply", "-f", s(&down), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&down), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn sigkill_at_random_points_twenty_times_loses_nothing_and_converges() {
    if !can_run("sigkill_at_random_points_twenty_times_loses_nothing_and_converges") {
        return;
    }
    let h = TestHosts::up(2, &["--shutdown-seconds", "0.3"]);
    let states = ["running", "stopped", "paused"];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut disks_seen: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    let mut last = PathBuf::new();
    for round in 0..20 {
        let mut vms = String::from("vms:\n");
        for (i, host) in ["h1", "h2"].iter().enumerate() {
            for k in 0..2 {
                let state = states[rnd(3) as usize];
                vms.push_str(&vm(&format!("k{i}{k}"), host, state, 256 + 256 * (rnd(3) as u32)));
            }
        }
        last = estate(&h, &format!("round{round}"), &vms);
        let mut child = Command::new(domform_bin())
            .args(["apply", "-f", s(&last), "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(50 + rnd(900)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for i in 1..=2 {
            cfgs_parse(&h, i);
            let now = disks_on(&h, i);
            for d in &disks_seen[i - 1] {
                assert!(now.contains(d), "round {round}: disk {d} on h{i} was lost");
            }
            disks_seen[i - 1] = now;
        }
    }
    let (code, out, err) = domform(&["apply", "-f", s(&last), "--auto-approve"]);
    assert_eq!(code, 0, "final apply converges\n{out}{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&last), "--detailed-exitcode"]);
    assert_eq!(code, 0, "then nothing is left to do: {out}");
    assert_eq!(cfgs_parse(&h, 1) + cfgs_parse(&h, 2), 4);
}

#[test]
fn three_concurrent_applies_on_overlapping_hosts_corrupt_nothing() {
    if !can_run("three_concurrent_applies_on_overlapping_hosts_corrupt_nothing") {
        return;
    }
    // Every VM takes 5 s to shut down, so whichever apply locks a host first holds it for 5 s
    // while it stops the VM there: the three applies overlap however busy the machine is (they
    // once ran one after another on a loaded CI machine, and none found a lock taken).
    let h = TestHosts::up(2, &["--shutdown-seconds", "5"]);
    let up = estate(&h, "up", &format!("vms:\n{}{}", vm("c1", "h1", "running", 512), vm("c2", "h2", "running", 512)));
    let (code, out, err) = domform(&["apply", "-f", s(&up), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let both =
        estate(&h, "both", &format!("vms:\n{}{}", vm("c1", "h1", "stopped", 512), vm("c2", "h2", "stopped", 512)));
    let runs: Vec<(&str, Vec<&str>)> =
        vec![("both", vec![]), ("h1", vec!["--limit", "h1"]), ("h2", vec!["--limit", "h2"])];
    let children: Vec<_> = runs
        .iter()
        .map(|(_, extra)| {
            let mut args = vec!["apply", "-f", s(&both), "--auto-approve"];
            args.extend(extra.iter().copied());
            Command::new(domform_bin())
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    let mut locked = 0;
    for (o, (name, _)) in outs.iter().zip(&runs) {
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.code() == Some(1) {
            assert!(
                err.contains("locked by another apply (controller=")
                    && err.contains("pid=")
                    && err.contains("started="),
                "{name}: {err}"
            );
            locked += 1;
        } else {
            assert_eq!(o.status.code(), Some(0), "{name}: {err}");
        }
    }
    assert!(locked >= 1, "three applies on two hosts cannot all hold the locks at once");
    for i in 1..=2 {
        cfgs_parse(&h, i);
    }
    let (code, out, err) = domform(&["apply", "-f", s(&both), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&both), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(cfgs_parse(&h, 1) + cfgs_parse(&h, 2), 2, "exactly one vm.cfg per VM, no duplicates");
}

#[test]
fn hostile_values_are_quoted_never_executed() {
    if !can_run("hostile_values_are_quoted_never_executed") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let canary = "/tmp/domform-pwned-e2e";
    let _ = std::fs::remove_file(canary);
    h.ssh_ok(1, &format!("rm -f {canary}"));
    let long = "x".repeat(20_000);
    let yaml = format!(
        "vms:\n  h01:\n    host: h1\n    memory: 256MiB\n    vcpus: 1\n    extra_config:\n      OVM_description: \"$(touch {canary}); `touch {canary}`; it's \\\"q\\\" \\n line2 ✓ ünï\"\n      note_long: \"{long}\"\n"
    );
    let e = estate(&h, "hostile", &yaml);
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{}{err}", &out[..out.len().min(4000)]);
    let (code, _, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "the hostile values round-trip through vm.cfg");
    let cfg = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    let parsed = vmcfg::VmCfg::parse(&cfg).expect("parses");
    let desc = parsed.get("OVM_description").and_then(|v| v.as_str()).expect("description").to_string();
    assert!(desc.starts_with(&format!("$(touch {canary}); `touch {canary}`; it's \"q\" \n line2 ✓ ünï")), "{desc:?}");
    assert_eq!(parsed.get("note_long").and_then(|v| v.as_str()).map(str::len), Some(20_000));

    // A vm.cfg someone else wrote on the host, with hostile names.
    h.ssh_ok(
        1,
        "d=$(ls -d /OVS/Repositories/*)/VirtualMachines/evil; mkdir -p $d; printf \"%s\\n\" \"name = '\\$(touch /tmp/domform-pwned-e2e)'\" \"OVM_simple_name = 'x; touch /tmp/domform-pwned-e2e'\" \"memory = 256\" \"vcpus = 1\" \"disk = []\" > $d/vm.cfg; xm create $d/vm.cfg",
    );
    let (code, out, _) = domform(&["list", "-f", s(&h.hosts_yaml()), "--format", "json"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("x; touch /tmp/domform-pwned-e2e") && out.contains("$(touch /tmp/domform-pwned-e2e)"),
        "listed literally: {out}"
    );
    let (code, out, err) = domform(&[
        "stop",
        "x; touch /tmp/domform-pwned-e2e",
        "-f",
        s(&h.hosts_yaml()),
        "--force",
        "--timeout",
        "5",
        "--auto-approve",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let log = h.ssh_ok(1, "cat /var/lib/xmsim/commands.log");
    assert!(
        log.lines().any(|l| l.contains("shutdown") && l.contains("$(touch /tmp/domform-pwned-e2e)")),
        "xm got the name as one argument: {log}"
    );
    let (code, imported, _) = domform(&["import", "--host", "h1", "-f", s(&h.hosts_yaml())]);
    assert_eq!(code, 1, "an import that skipped a VM says so in its exit code");
    assert!(
        imported.contains("# skipped") && !imported.contains("\n  x; touch"),
        "unsafe names are not imported: {imported}"
    );
    assert!(!Path::new(canary).exists(), "nothing ran on the controller");
    assert_eq!(
        h.ssh_ok(1, &format!("[ -e {canary} ] && echo PWNED || echo clean")).trim(),
        "clean",
        "nothing ran on the host"
    );
}

#[test]
fn a_full_repository_fails_clearly_and_leaves_nothing_half_made() {
    if !can_run("a_full_repository_fails_clearly_and_leaves_nothing_half_made") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    // A small ext4 repository (no reflink, so snapshots are full copies that need space).
    let repo = h.ext4_repository(1, "small", 160);
    let hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts").replace(&h.repository(1), &repo);
    let mk = |name: &str, extra: &str| {
        let dir = h.path().join(name);
        let _ = std::fs::create_dir(&dir);
        std::fs::write(dir.join("hosts.yaml"), &hosts).expect("write");
        std::fs::write(dir.join("vms.yaml"), format!("vms:\n  f1:\n    host: h1\n    memory: 256MiB\n    vcpus: 1\n    disks: [{{ name: system, size: 64MiB }}]\n{extra}")).expect("write");
        dir
    };
    let e = mk("full", "");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    h.ssh_ok(
        1,
        &format!("dd if=/dev/urandom of={repo}/VirtualDisks/f1_system.img bs=1M count=64 conv=notrunc status=none"),
    );
    // Fill the file system to the last block.
    h.ssh_ok(1, &format!("dd if=/dev/zero of={repo}/filler bs=1M status=none 2>/dev/null; dd if=/dev/zero of={repo}/filler2 bs=1k status=none 2>/dev/null; sync; true"));
    let before = h.ssh_ok(1, &format!("cat {repo}/VirtualMachines/*/vm.cfg"));
    // A full snapshot copy needs 64 MiB: no space.
    let (code, out, err) = domform(&["snapshot", "create", "f1", "full", "--allow-full-copy", "-f", s(&e)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("No space left on device"), "{out}");
    assert_eq!(
        h.ssh_ok(1, &format!("ls -A {repo}/Snapshots/f1 2>/dev/null | wc -l")).trim(),
        "0",
        "no half-made snapshot"
    );
    assert!(!h.ssh_ok(1, "xm list").contains("--p---"), "the VM was unpaused after the failure");
    // A bigger vm.cfg cannot be written: the old file stays whole, no temp file is left.
    let bigger = mk("full2", &format!("    extra_config: {{ pad: \"{}\" }}\n", "p".repeat(200_000)));
    let (code, out, err) = domform(&["apply", "-f", s(&bigger), "--auto-approve"]);
    assert_eq!(code, 1, "{}{err}", &out[out.len().saturating_sub(3000)..]);
    assert!(out.contains("No space left on device"), "{}", &out[out.len().saturating_sub(3000)..]);
    assert_eq!(h.ssh_ok(1, &format!("cat {repo}/VirtualMachines/*/vm.cfg")), before, "the old vm.cfg is untouched");
    assert_eq!(h.ssh_ok(1, &format!("ls -A {repo}/VirtualMachines/*/ | grep -c domform-tmp || true")).trim(), "0");
    // Space back: everything converges.
    // (sync: ext4 reuses freed blocks only after its journal commits)
    h.ssh_ok(1, &format!("rm -f {repo}/filler {repo}/filler2; sync"));
    let (code, out, err) = domform(&["apply", "-f", s(&bigger), "--auto-approve"]);
    assert_eq!(code, 0, "{}{err}", &out[out.len().saturating_sub(3000)..]);
    let (code, out, err) = domform(&["snapshot", "create", "f1", "full", "--allow-full-copy", "-f", s(&bigger)]);
    assert_eq!(code, 0, "{out}{err}");
}
