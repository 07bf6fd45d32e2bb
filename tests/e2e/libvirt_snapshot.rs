//! Snapshots and consoles on a libvirt test host, over real SSH: a declared snapshot taken by
//! apply after the start; `domform snapshot create
//! --memory` keeps the domain's XML (mode 0600), its memory (`virsh save`, then the guest runs
//! on from `virsh restore`) and reflinked disks (shared XFS extents); `revert` brings the data
//! disk's bytes back and the guest running from that memory; `list` and `delete`. `domform vnc`
//! reaches the guest's VNC server through the tunnel, and `domform console`, driven through
//! tmux, shows the guest's serial text after a reset and detaches on Ctrl-].

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::console::Tmux;
use crate::harness::{can_run, domform, domform_bin, TestHosts};
use crate::libvirt_hosts::{boot_sector, state};

const VM: &str = "lv snap";

/// The VNC password (libvirt takes at most 8 characters): kept in the snapshot, in no output.
const PW: &str = "lvPw8x7q";

/// Where in the data disk the marker is written (inside the first allocated block).
const AT: u32 = 8192;

fn marker(h: &TestHosts, disk: &str, text: &str) {
    h.ssh_ok(1, &format!("printf '{text}' | dd of='{disk}' bs=1 seek={AT} conv=notrunc,fsync status=none"));
}

fn read_marker(h: &TestHosts, disk: &str) -> String {
    h.ssh_ok(1, &format!("dd if='{disk}' bs=1 skip={AT} count=9 status=none"))
}

fn snapshot(args: &[&str], f: &str) -> String {
    let mut all = vec!["snapshot"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-f", f]);
    let (code, out, err) = domform(&all);
    assert_eq!(code, 0, "domform {all:?}:\n{out}\n{err}");
    out
}

#[test]
fn libvirt_snapshots_revert_with_memory_and_consoles_reach_the_guest() {
    if !can_run("libvirt_snapshots_revert_with_memory_and_consoles_reach_the_guest") {
        return;
    }
    let t0 = Instant::now();
    let h = TestHosts::up(1, &["--toolstack", "libvirt"]);
    let repo = h.repository(1);
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    let pw_file = h.path().join("vnc.pw");
    std::fs::write(&pw_file, format!("{PW}\n")).expect("password file");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(
        dir.join("vms.yaml"),
        format!(
            "vms:\n  {VM}:\n    host: h1\n    memory: 128MiB\n    vcpus: 1\n    disks:\n      - {{ path: {repo}/VirtualDisks/boot.img }}\n      \
             - {{ name: data, size: 64MiB }}\n    snapshots: {{ present: [base] }}\n    console:\n      serial: true\n      vnc: {{ listen: 127.0.0.1, password: {{ file: {pw} }} }}\n",
            pw = pw_file.display()
        ),
    )
    .expect("vms.yaml");
    let f = dir.display().to_string();
    let mut img = boot_sector();
    img.resize(1 << 20, 0);
    let local = h.path().join("boot.img");
    std::fs::write(&local, img).expect("boot disk");
    h.ssh_ok(1, &format!("cp {} {repo}/VirtualDisks/boot.img", local.display()));
    let (code, out, err) = domform(&["apply", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "apply:\n{out}\n{err}");
    let dom = format!("'{VM}'");
    // The declared snapshot was taken after the start (suspended around it), and is not planned again.
    h.ssh_ok(
        1,
        &format!(
            "test -s '{repo}/Snapshots/{VM}/base/domain.xml' && test ! -e '{repo}/Snapshots/{VM}/base/memory.save'"
        ),
    );
    assert_eq!(state(&h, 1, &dom), "running (unpaused)");
    let (code, out, err) = domform(&["plan", "-f", &f, "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged, snapshot included:\n{out}\n{err}");
    let data = format!("{repo}/VirtualDisks/{VM}_data.img");
    marker(&h, &data, "BEFORE-S1");

    // A snapshot with memory: the guest is saved, its disks cloned, and it runs on restored.
    let out = snapshot(&["create", VM, "s1", "--memory"], &f);
    assert!(out.contains("s1") && !out.contains(PW), "{out}");
    assert_eq!(state(&h, 1, &dom), "running (restored)");
    let s1 = format!("{repo}/Snapshots/{VM}/s1");
    check_folder(&h, &s1);

    console_shows_the_guest_and_detaches(&h, &f, &dom);
    vnc_banner(&f);

    // Revert: the data disk's bytes come back and the guest runs from the saved memory.
    marker(&h, &data, "AFTER--S1");
    let (code, out, err) = domform(&["snapshot", "revert", VM, "s1", "-f", &f, "--auto-approve", "--timeout", "60"]);
    assert_eq!(code, 0, "revert:\n{out}\n{err}");
    assert_eq!(read_marker(&h, &data), "BEFORE-S1");
    assert!(!format!("{out}{err}").contains(PW), "no password in the revert's output");
    let defined = h.ssh_ok(1, &format!("virsh dumpxml --inactive --security-info --domain {dom}"));
    assert!(defined.contains(&format!("passwd='{PW}'")), "redefined with its password");
    assert_eq!(state(&h, 1, &dom), "running (restored)");
    let list = snapshot(&["list", VM], &f);
    assert!(
        list.contains("base") && list.contains("s1") && list.contains("auto-"),
        "base, s1 and the safety copy: {list}"
    );
    snapshot(&["delete", VM, "s1", "--auto-approve"], &f);
    h.ssh_ok(1, &format!("test ! -e '{s1}'"));
    assert!(!snapshot(&["list", VM], &f).contains("s1 "), "s1 is gone");
    eprintln!("libvirt snapshot e2e: {:.1} s", t0.elapsed().as_secs_f64());
}

/// A memory snapshot's folder: its XML private, its memory, its disks reflinked and sparse.
fn check_folder(h: &TestHosts, s1: &str) {
    let ls = h.ssh_ok(1, &format!("cd '{s1}' && stat -c '%a %n' domain.xml && test -s memory.save && ls disks"));
    assert!(ls.starts_with("600 domain.xml\n"), "domain.xml is root's only: {ls}");
    assert!(ls.contains("00-boot.img") && ls.contains(&format!("01-{VM}_data.img")), "{ls}");
    let xml = h.ssh_ok(1, &format!("cat '{s1}/domain.xml'"));
    assert!(xml.contains(&format!("<name>{VM}</name>")) && xml.contains("<graphics type='vnc'"), "{xml}");
    assert!(xml.contains(&format!("passwd='{PW}'")), "the VNC password is kept (--security-info)");
    let manifest = h.ssh_ok(1, &format!("cat '{s1}/manifest'"));
    assert!(manifest.contains(&format!("domain={VM}\n")) && manifest.contains("memory=memory.save"), "{manifest}");
    // Reflinked: the copy's extents are shared with the disk's (XFS reflink), not new blocks.
    let frag = h.ssh_ok(1, &format!("filefrag -v '{s1}/disks/01-{VM}_data.img'"));
    assert!(frag.contains("shared"), "the data disk's copy shares its extents:\n{frag}");
    let (blocks, size): (u64, u64) = {
        let st = h.ssh_ok(1, &format!("stat -c '%b %s' '{s1}/disks/01-{VM}_data.img'"));
        let mut it = st.split_whitespace().map(|n| n.parse::<u64>().expect("number"));
        (it.next().expect("blocks"), it.next().expect("size"))
    };
    assert_eq!(size, 64 << 20);
    assert!(blocks * 512 < 1 << 20, "a sparse 64 MiB copy allocates little: {blocks} blocks");
}

/// `domform console` in a tmux pane: the guest is reset, its SeaBIOS and boot-sector text come
/// over the console, Ctrl-] detaches with status 0 and the guest keeps running.
fn console_shows_the_guest_and_detaches(h: &TestHosts, f: &str, dom: &str) {
    let script = h.path().join("console.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{} console '{VM}' -f '{f}'\necho \"domform-rc=$?\"\nsleep 60\n", domform_bin().display()),
    )
    .expect("script");
    let tmux = Tmux { socket: format!("domform-lvsnap-{}", std::process::id()) };
    let started =
        tmux.cmd(&["new-session", "-d", "-s", "s", "-x", "150", "-y", "50", &format!("sh {}", script.display())]);
    assert!(started.status.success(), "tmux: {}", String::from_utf8_lossy(&started.stderr));
    tmux.wait_for("Escape character");
    h.ssh_ok(1, &format!("virsh -q reset --domain {dom}"));
    let pane = tmux.wait_for("waiting for the ACPI power button");
    assert!(pane.contains("SeaBIOS"), "{pane}");
    assert!(tmux.cmd(&["send-keys", "-t", "s", "C-]"]).status.success());
    tmux.wait_for("domform-rc=0");
    let st = state(h, 1, dom);
    assert!(st.starts_with("running"), "the guest runs on after the detach: {st}");
}

/// `domform vnc --once`: the tunnel's local port answers with the guest's RFB banner.
fn vnc_banner(f: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut child = Command::new(domform_bin())
        .args(["vnc", VM, "-f", f, "--once", "--local-port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("domform vnc");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the forward");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut banner = [0u8; 12];
    tcp.read_exact(&mut banner).expect("banner");
    assert_eq!(&banner, b"RFB 003.008\n");
    drop(tcp);
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("domform vnc --once did not exit after its connection");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
