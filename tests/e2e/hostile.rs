//! Hostile repositories and failed steps on real test hosts (issue 14): a planted manifest
//! cannot choose what a revert overwrites; a planted link is refused; a revert whose safety
//! snapshot fails leaves the VM running; a block-attach that failed is planned again.

use std::path::{Path, PathBuf};

use crate::harness::{can_run, domform, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

fn estate(h: &TestHosts, repo: &str, name: &str, vms: &str) -> PathBuf {
    let dir = h.path().join(name);
    let _ = std::fs::create_dir(&dir);
    let hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml").replace(&h.repository(1), repo);
    std::fs::write(dir.join("hosts.yaml"), hosts).expect("write");
    std::fs::write(dir.join("vms.yaml"), vms).expect("write");
    dir
}

const V1: &str =
    "vms:\n  v1:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n    disks:\n      - { name: system, size: 16MiB }\n";

#[test]
fn planted_manifests_and_links_are_refused_and_a_failed_safety_snapshot_leaves_the_vm_running() {
    if !can_run("planted_manifests_and_links_are_refused_and_a_failed_safety_snapshot_leaves_the_vm_running") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    // ext4: no reflinks, so a safety snapshot (never a full copy) fails.
    let repo = h.ext4_repository(1, "ext4", 256);
    let e = estate(&h, &repo, "hostile", V1);
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = domform(&["snapshot", "create", "v1", "s1", "-f", s(&e), "--allow-full-copy"]);
    assert_eq!(code, 0, "{out}{err}");

    // A manifest planted next to it names a file outside the VM's disks.
    h.ssh_ok(1, "echo precious > /root/victim");
    h.ssh_ok(
        1,
        &format!("mkdir -p {repo}/Snapshots/v1/evil/disks && echo owned > {repo}/Snapshots/v1/evil/disks/00-victim"),
    );
    h.ssh_ok(1, &format!("printf 'made_by=domform\\nvm=v1\\nname=evil\\ndisk=/root/victim|disks/00-victim|6\\n' > {repo}/Snapshots/v1/evil/manifest"));
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "evil", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("/root/victim") && err.contains("not a disk of"), "{out}{err}");
    assert_eq!(h.ssh_ok(1, "cat /root/victim").trim(), "precious");

    // The safety snapshot fails (no reflink): the VM stopped for the revert runs again.
    let (code, out, err) = domform(&["snapshot", "revert", "v1", "s1", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("does not support reflinks"), "{out}");
    let list = h.ssh_ok(1, "xm list");
    assert_eq!(list.lines().count(), 3, "v1 runs again after the failed safety snapshot:\n{list}\n{out}");

    // A dangling link planted where a new disk goes: refused, nothing made outside.
    h.ssh_ok(1, &format!("ln -s /root/planted.img {repo}/VirtualDisks/v1_data.img"));
    let more = format!("{V1}      - {{ name: data, size: 16MiB }}\n");
    std::fs::write(e.join("vms.yaml"), more).expect("write");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains("symbolic link"), "{out}{err}");
    assert_eq!(h.ssh_ok(1, "ls /root/planted.img 2>/dev/null | wc -l").trim(), "0");
}

#[test]
fn a_failed_block_attach_is_planned_again() {
    if !can_run("a_failed_block_attach_is_planned_again") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let repo = h.repository(1);
    let e = estate(&h, &repo, "attach", V1);
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    // vm.cfg gets the new disk, but the live attach never happens (as when block-attach fails).
    let more = format!("{V1}      - {{ name: data, size: 16MiB }}\n");
    std::fs::write(e.join("vms.yaml"), &more).expect("write");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let dom = h.ssh_ok(1, "xm list | awk 'NR==3 {print $1}'").trim().to_string();
    h.ssh_ok(1, &format!("xm block-detach {dom} xvdb"));
    let (code, out, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 2, "the missing live disk is a change: {out}");
    assert!(out.contains("disk (live)") && out.contains("v1_data.img"), "{out}");
    let (code, out, err) = domform(&["apply", "-f", s(&e), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = domform(&["plan", "-f", s(&e), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged: {out}");
}
