//! Reflink snapshots on real XFS (reflink=1) test hosts: data comes back, space is shared,
//! a file system without reflink fails clearly, a failed revert leaves the disks intact.

use std::path::{Path, PathBuf};

use crate::harness::{can_run, domform, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// hosts.yaml (optionally with another repository) + one VM `v1` with two disks.
fn estate(h: &TestHosts, repo: Option<&str>, extra: &str) -> PathBuf {
    let dir = h.path().join(format!("estate{}", repo.map(|_| "-other").unwrap_or_default()));
    let _ = std::fs::create_dir(&dir);
    let mut hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    if let Some(r) = repo {
        hosts = hosts.replace(&h.repository(1), r);
    }
    std::fs::write(dir.join("hosts.yaml"), hosts).expect("write");
    std::fs::write(
        dir.join("vms.yaml"),
        format!("vms:\n  v1:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n    disks:\n      - {{ name: system, size: 64MiB }}\n      - {{ name: data, size: 32MiB }}\n{extra}"),
    )
    .expect("write");
    dir
}

fn disk(repo: &str, name: &str) -> String {
    format!("{repo}/VirtualDisks/v1_{name}.img")
}

fn write_at0(h: &TestHosts, path: &str, text: &str) {
    h.ssh_ok(1, &format!("printf '{text}' | dd of={path} conv=notrunc status=none"));
}

fn read_at0(h: &TestHosts, path: &str, n: usize) -> String {
    h.ssh_ok(1, &format!("head -c {n} {path}"))
}

#[test]
fn snapshot_then_revert_brings_the_original_bytes_back() {
    if !can_run("snapshot_then_revert_brings_the_original_bytes_back") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let repo = h.repository(1);
    let e = estate(&h, None, "");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    write_at0(&h, &disk(&repo, "system"), "ORIGINAL");
    write_at0(&h, &disk(&repo, "data"), "DATA-ONE");
    h.ssh_ok(1, ": > /var/lib/xmsim/commands.log");

    let (code, out, err) = domform(&["snapshot", "create", "v1", "s1", "-f", s(&e)]);
    assert_eq!(code, 0, "{out}{err}");
    let log = h.ssh_ok(1, "cat /var/lib/xmsim/commands.log");
    let verbs: Vec<&str> =
        log.lines().filter_map(|l| l.split_whitespace().nth(2)).filter(|v| *v == "pause" || *v == "unpause").collect();
    assert_eq!(verbs, ["pause", "unpause"], "the running VM was paused for the copies: {log}");
    let manifest = h.ssh_ok(1, &format!("cat {repo}/Snapshots/v1/s1/manifest"));
    assert!(
        manifest.contains("made_by=domform")
            && manifest.contains("running=true")
            && manifest.contains("v1_system.img|disks/00-v1_system.img|67108864"),
        "{manifest}"
    );

    write_at0(&h, &disk(&repo, "system"), "CHANGED!");
    write_at0(&h, &disk(&repo, "data"), "DATA-TWO");
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "s1", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("power v1 (stop)") && out.contains("snapshot v1/auto-<time> (safety copy"),
        "the plan says it stops and saves first: {out}"
    );
    assert_eq!(read_at0(&h, &disk(&repo, "system"), 8), "ORIGINAL");
    assert_eq!(read_at0(&h, &disk(&repo, "data"), 8), "DATA-ONE");
    assert!(h.ssh_ok(1, "xm list").lines().count() == 3, "v1 runs again");
    let (code, list, _) = domform(&["snapshot", "list", "v1", "-f", s(&e)]);
    assert_eq!(code, 0);
    assert!(list.contains("s1") && list.contains("auto-"), "the safety snapshot is listed: {list}");
    // SIZE is the apparent size of the folder's files (64 + 32 MiB of disks, manifest, vm.cfg);
    // USED what they allocate: reflinked sparse disks with 8 bytes written, a few KiB.
    let head: Vec<&str> = list.lines().next().expect("header").split_whitespace().collect();
    assert_eq!(head.get(7..9), Some(&["SIZE", "USED"][..]), "{list}");
    let s1: Vec<&str> =
        list.lines().find(|l| l.split_whitespace().nth(1) == Some("s1")).expect("s1 row").split_whitespace().collect();
    assert_eq!(s1[6], "96MiB", "{list}");
    assert!(s1[7].ends_with("KiB"), "a few KiB used: {list}");
    // The safety snapshot holds the state from before the revert.
    let safety = h.ssh_ok(1, &format!("ls -d {repo}/Snapshots/v1/auto-*")).trim().to_string();
    assert_eq!(read_at0(&h, &format!("{safety}/disks/00-v1_system.img"), 8), "CHANGED!");
    // And the declared state still plans clean.
    let (code, out, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_snapshot_of_a_1gib_disk_takes_almost_no_space() {
    if !can_run("a_snapshot_of_a_1gib_disk_takes_almost_no_space") {
        return;
    }
    let h = TestHosts::up(1, &["--disk-size", "3G"]);
    let repo = h.repository(1);
    let e = h.path().join("big");
    std::fs::create_dir(&e).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), e.join("hosts.yaml")).expect("copy");
    std::fs::write(e.join("vms.yaml"), "vms:\n  big:\n    host: h1\n    state: stopped\n    memory: 512MiB\n    vcpus: 1\n    disks: [{ name: system, size: 1GiB }]\n").expect("write");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let img = format!("{repo}/VirtualDisks/big_system.img");
    h.ssh_ok(1, &format!("dd if=/dev/zero of={img} bs=1M count=1024 conv=notrunc,fsync status=none"));
    let used = |h: &TestHosts| -> u64 {
        h.ssh_ok(1, "sync; df -B1 --output=used /OVS | tail -n 1").trim().parse().expect("bytes")
    };
    let before = used(&h);
    let (code, out, err) = domform(&["snapshot", "create", "big", "cow", "-f", s(&e)]);
    assert_eq!(code, 0, "{out}{err}");
    let after = used(&h);
    let grew = after.saturating_sub(before);
    assert!(h
        .ssh_ok(1, &format!("du -B1 --apparent-size {repo}/Snapshots/big/cow/disks/00-big_system.img"))
        .starts_with("1073741824"));
    assert!(grew < 16 << 20, "a reflink copy of 1 GiB used {grew} bytes (before {before}, after {after})");
    eprintln!("snapshot of a 1 GiB disk: file system usage grew by {grew} bytes");
}

#[test]
fn a_file_system_without_reflink_fails_clearly_unless_full_copies_are_allowed() {
    if !can_run("a_file_system_without_reflink_fails_clearly_unless_full_copies_are_allowed") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    // An ext4 repository inside host 1's mount namespace: ext4 cannot reflink.
    let repo = h.ext4_repository(1, "ext4", 256);
    let e = estate(&h, Some(&repo), "");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = domform(&["snapshot", "create", "v1", "nope", "-f", s(&e)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("does not support reflinks") && out.contains("allow_full_copy"), "{out}");
    let left = h.ssh_ok(1, &format!("ls -A {repo}/Snapshots/v1/ 2>/dev/null | wc -l"));
    assert_eq!(left.trim(), "0", "nothing half-made is left behind");
    assert!(!h.ssh_ok(1, "xm list").contains("--p---"), "the VM was unpaused after the failure");
    let (code, out, err) = domform(&["snapshot", "create", "v1", "full", "-f", s(&e), "--allow-full-copy"]);
    assert_eq!(code, 0, "an explicit opt-in makes a full sparse copy: {out}{err}");
}

#[test]
fn a_failure_half_way_through_a_revert_leaves_the_original_disks_intact() {
    if !can_run("a_failure_half_way_through_a_revert_leaves_the_original_disks_intact") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let repo = h.repository(1);
    let e = estate(&h, None, "");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    write_at0(&h, &disk(&repo, "system"), "ORIGINAL");
    write_at0(&h, &disk(&repo, "data"), "DATA-ONE");
    let (code, out, err) = domform(&["snapshot", "create", "v1", "s1", "-f", s(&e)]);
    assert_eq!(code, 0, "{out}{err}");
    write_at0(&h, &disk(&repo, "system"), "CHANGED!");
    write_at0(&h, &disk(&repo, "data"), "DATA-TWO");
    // Fault: something is in the way of the second disk's temporary copy.
    h.ssh_ok(1, &format!("mkdir {}.domform-revert", disk(&repo, "data")));
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "s1", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("✗ revert/v1/s1 failed") && out.contains("before touching any original disk"), "{out}");
    assert_eq!(read_at0(&h, &disk(&repo, "system"), 8), "CHANGED!", "disk 1 was not half-reverted");
    assert_eq!(read_at0(&h, &disk(&repo, "data"), 8), "DATA-TWO");
    let tmps = h.ssh_ok(1, &format!("find {repo}/VirtualDisks -name '*.domform-revert' -type f | wc -l"));
    assert_eq!(tmps.trim(), "0", "temporary copies are cleaned up");
    // Remove the obstacle: the revert then completes.
    h.ssh_ok(1, &format!("rmdir {}.domform-revert", disk(&repo, "data")));
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "s1", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(read_at0(&h, &disk(&repo, "system"), 8), "ORIGINAL");
    assert_eq!(read_at0(&h, &disk(&repo, "data"), 8), "DATA-ONE");
}

#[test]
fn declared_snapshots_are_created_and_pruned_and_memory_checkpoints_restore() {
    if !can_run("declared_snapshots_are_created_and_pruned_and_memory_checkpoints_restore") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let repo = h.repository(1);
    let e = estate(&h, None, "    snapshots: { present: [baseline], keep: 1 }\n");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("✓ snapshot/v1/baseline"), "{out}");
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let (code, out, err) = domform(&["snapshot", "create", "v1", "-f", s(&e)]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out.matches("- snapshot v1/auto-").count(),
        2,
        "keep 1: the two oldest auto snapshots go, baseline stays: {out}"
    );
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let left = h.ssh_ok(1, &format!("ls {repo}/Snapshots/v1"));
    assert_eq!(left.lines().count(), 2, "baseline and the newest auto: {left}");
    assert!(left.contains("baseline"));

    // A memory checkpoint: revert restores the running domain from it.
    let (code, out, err) = domform(&["snapshot", "create", "v1", "mem", "--memory", "-f", s(&e)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(h.ssh_ok(1, &format!("cat {repo}/Snapshots/v1/mem/manifest")).contains("memory=memory.save"));
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "mem", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let log = h.ssh_ok(1, "tail -n 3 /var/lib/xmsim/commands.log");
    assert!(log.contains("restore"), "started with xm restore: {log}");
    assert!(h.ssh_ok(1, "xm list").lines().count() == 3, "v1 runs again");
}
