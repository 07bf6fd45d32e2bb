//! libvirt test hosts (`scripts/testhosts up --toolstack libvirt`), the ground `toolstack:
//! libvirt` (issue 17) is built on: each host runs its own libvirtd and QEMU (TCG), and this
//! proves, over real SSH as domform will work, that they do what domform will ask of them:
//! define and start a guest, VNC through the SSH connection, live vCPU pinning, the serial
//! console on a pty, ACPI shutdown, save and restore. Then `down` must leave no libvirtd, no
//! QEMU and nothing in the machine's own namespace. The guest is a 512-byte boot sector from
//! `tests/fixtures/libvirt/acpi-guest.hex`: it prints to COM1 and powers off on the ACPI power
//! button, so a shutdown can be seen to work without booting an OS.

use crate::harness::{can_run, TestHosts};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const GUEST_HEX: &str = include_str!("../fixtures/libvirt/acpi-guest.hex");
const UP_TEXT: &str = "domform-guest: up, waiting for the ACPI power button";
const OFF_TEXT: &str = "domform-guest: power button pressed, powering off";
/// The ends of those lines, as a console shows them: SeaBIOS's last `.` and line break can land
/// in the middle of the guest's first words (`domform.\r\n-guest: up`), so match the tails.
const UP_SEEN: &str = "waiting for the ACPI power button\r\n";
const OFF_SEEN: &str = "power button pressed, powering off\r\n";

/// The boot sector: hex bytes, `#` comments, `@N` = zeros up to offset N.
pub fn boot_sector() -> Vec<u8> {
    let mut out = Vec::new();
    for line in GUEST_HEX.lines() {
        let code = line.split('#').next().unwrap_or("");
        for tok in code.split_whitespace() {
            if let Some(off) = tok.strip_prefix('@') {
                let off: usize = off.parse().expect("offset");
                assert!(off >= out.len(), "@{off} goes backwards");
                out.resize(off, 0);
            } else {
                out.push(u8::from_str_radix(tok, 16).expect("hex byte"));
            }
        }
    }
    out
}

#[test]
fn guest_fixture_is_a_boot_sector_with_both_messages() {
    let b = boot_sector();
    assert_eq!(b.len(), 512);
    assert_eq!(&b[510..], &[0x55, 0xaa]);
    let text = String::from_utf8_lossy(&b);
    assert!(text.contains(&format!("{UP_TEXT}\r\n\0")), "{text}");
    assert!(text.contains(&format!("{OFF_TEXT}\r\n\0")), "{text}");
    // `mov $msg,%si` loads the messages' addresses (linked at 0x7c00).
    let at = |needle: &str| {
        let pos = b.windows(needle.len()).position(|w| w == needle.as_bytes()).expect("message");
        0x7c00 + pos as u16
    };
    assert_eq!(&b[4..7], &[0xbe, at(UP_TEXT) as u8, (at(UP_TEXT) >> 8) as u8]);
    assert_eq!(&b[0x1c..0x1f], &[0xbe, at(OFF_TEXT) as u8, (at(OFF_TEXT) >> 8) as u8]);
}

/// A TCG guest: 128 MiB, 2 vCPUs, the boot sector as its disk, serial console on a pty,
/// SeaBIOS on the serial line, VNC on the host's 127.0.0.1.
fn domain_xml(name: &str, disk: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>
  <memory unit='MiB'>128</memory><currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/><bios useserial='yes'/></os>
  <features><acpi/><apic/></features><clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/><video><model type='vga'/></video>
  </devices></domain>"
    )
}

/// An interactive `virsh` over `ssh -tt`: what it prints arrives on a channel.
struct Console {
    child: Child,
    rx: Receiver<Vec<u8>>,
    seen: String,
}

impl Console {
    fn open(h: &TestHosts, i: usize, remote: &str) -> Console {
        let mut child = h
            .ssh_command(i)
            .arg("-tt")
            .arg(h.destination(i))
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh -tt");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Console { child, rx, seen: String::new() }
    }

    /// Waits until `needle` has been printed; false after `limit`.
    fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while !self.seen.contains(needle) {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return false,
            }
        }
        true
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(bytes).and_then(|()| stdin.flush()).expect("write to console");
    }

    /// The exit code once ssh ends, or None after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first 12 bytes of a TCP connection to the host's 127.0.0.1:`port`, through `ssh -W`.
fn banner_through_ssh(h: &TestHosts, i: usize, port: u16) -> String {
    let mut child = h
        .ssh_command(i)
        .args(["-W", &format!("127.0.0.1:{port}")])
        .arg(h.destination(i))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh -W");
    let mut out = child.stdout.take().expect("stdout");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 12];
        let _ = tx.send(out.read_exact(&mut buf).map(|()| buf));
    });
    let got = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let buf = got.expect("no VNC banner within 20 s").expect("read the VNC banner");
    String::from_utf8_lossy(&buf).into_owned()
}

/// `LC_ALL=C virsh domstate --reason DOM` on host `i`, e.g. `running (booted)`.
pub fn state(h: &TestHosts, i: usize, dom: &str) -> String {
    h.ssh_ok(i, &format!("LC_ALL=C virsh domstate --reason {dom}")).trim().to_string()
}

/// The affinity (`taskset -pc` list) of each vCPU thread of DOM's QEMU, in vCPU order.
pub fn vcpu_affinity(h: &TestHosts, i: usize, dom: &str) -> Vec<String> {
    let out = h.ssh_ok(
        i,
        &format!(
            "pid=$(cat /run/libvirt/qemu/{dom}.pid) && for n in 0 1; do for t in /proc/$pid/task/*; do \
             case \"$(cat $t/comm)\" in \"CPU $n/TCG\"|\"CPU $n/KVM\") taskset -pc ${{t##*/}};; esac; done; done; :"
        ),
    );
    // "pid 1234's current affinity list: 1"
    out.lines().map(|l| l.rsplit(": ").next().unwrap_or("").to_string()).collect()
}

/// `virsh shutdown`, sent again every ~2 s until the domain is shut off (an ACPI event right
/// after a restore is sometimes lost: docs/libvirt-research.md); returns the number sent.
fn shutdown(h: &TestHosts, i: usize, dom: &str, rounds: u32) -> u32 {
    let out = h.ssh_ok(
        i,
        &format!(
            "n=0; while [ $n -lt {rounds} ]; do n=$((n+1)); virsh -q shutdown {dom} >/dev/null 2>&1; \
             for t in 1 2 3 4 5 6 7 8 9 10; do [ \"$(LC_ALL=C virsh domstate {dom})\" = 'shut off' ] \
             && {{ echo $n; exit 0; }}; sleep 0.1; done; done; echo never; exit 1"
        ),
    );
    out.trim().parse().expect("number of shutdowns sent")
}

/// Boots DOM with its console attached: SeaBIOS and the guest's line come over the pty; `^]`
/// leaves the console (exit 0) and the guest keeps running.
fn start_with_console(h: &TestHosts, i: usize, dom: &str) {
    let mut con = Console::open(h, i, &format!("LC_ALL=C virsh start {dom} --console"));
    assert!(con.wait_for(UP_SEEN, Duration::from_secs(60)), "h{i}: guest text not seen: {:?}", con.seen);
    assert!(con.seen.contains("SeaBIOS (version"), "h{i}: {:?}", con.seen);
    con.send(&[0x1d]);
    assert_eq!(con.wait_exit(Duration::from_secs(20)), Some(0), "h{i}: console did not end on ^]: {:?}", con.seen);
    assert_eq!(state(h, i, dom), "running (booted)");
}

/// VNC answers through the SSH connection; vCPU 0 pinned live to CPU 1 is what its thread runs on.
fn vnc_and_pinning(h: &TestHosts, i: usize, dom: &str) {
    let display = h.ssh_ok(i, &format!("virsh vncdisplay {dom}"));
    let n: u16 = display.trim().rsplit(':').next().and_then(|d| d.parse().ok()).expect("display number");
    assert_eq!(banner_through_ssh(h, i, 5900 + n), "RFB 003.008\n", "h{i}");
    let before = vcpu_affinity(h, i, dom);
    assert_eq!(before.len(), 2, "h{i}: two vCPU threads: {before:?}");
    h.ssh_ok(i, &format!("virsh -q vcpupin {dom} 0 1 --live"));
    let after = vcpu_affinity(h, i, dom);
    assert_eq!(after[0], "1", "h{i}: vCPU 0 after vcpupin: {after:?}");
    assert_eq!(after[1], before[1], "h{i}: vCPU 1 untouched: {after:?}");
}

/// Save and restore keep the guest and its live pinning.
fn save_restore(h: &TestHosts, i: usize, dom: &str, repo: &str) {
    let image = format!("{repo}/VirtualMachines/{dom}.save");
    h.ssh_ok(i, &format!("virsh -q save {dom} {image}"));
    assert_eq!(state(h, i, dom), "shut off (saved)");
    h.ssh_ok(i, &format!("test -s {image} && virsh -q restore {image}"));
    assert_eq!(state(h, i, dom), "running (restored)");
    assert_eq!(vcpu_affinity(h, i, dom)[0], "1", "h{i}: pinning after restore");
}

/// ACPI shutdown, watched on a second console: the guest's power-off line, then `shut off`.
fn acpi_shutdown(h: &TestHosts, i: usize, dom: &str) {
    let mut con = Console::open(h, i, &format!("LC_ALL=C virsh console {dom}"));
    assert!(con.wait_for("Escape character", Duration::from_secs(20)), "h{i}: console: {:?}", con.seen);
    let t = Instant::now();
    let sent = shutdown(h, i, dom, 15);
    eprintln!("h{i}: shut off after {sent} shutdown(s), {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(state(h, i, dom), "shut off (shutdown)");
    assert!(con.wait_for(OFF_SEEN, Duration::from_secs(10)), "h{i}: power-off text not seen: {:?}", con.seen);
}

/// Everything on host `i`; leaves DOM running and returns the pids `down` must end
/// (libvirtd and the running QEMU).
fn exercise_host(h: &TestHosts, i: usize, dom: &str) -> Vec<u32> {
    let repo = h.repository(i);
    let disk = format!("{repo}/VirtualDisks/{dom}.img");
    let local = h.path().join(format!("{dom}-h{i}.img"));
    let mut img = boot_sector();
    img.resize(1 << 20, 0);
    std::fs::write(&local, img).expect("write the guest disk");
    let xml = domain_xml(dom, &disk);
    h.ssh_ok(
        i,
        &format!("cp {} {disk} && cat >{repo}/VirtualMachines/{dom}.xml <<'XML'\n{xml}\nXML\n", local.display()),
    );
    h.ssh_ok(i, &format!("virsh -q define {repo}/VirtualMachines/{dom}.xml"));
    assert_eq!(state(h, i, dom), "shut off (unknown)");
    start_with_console(h, i, dom);
    vnc_and_pinning(h, i, dom);
    save_restore(h, i, dom, &repo);
    acpi_shutdown(h, i, dom);
    h.ssh_ok(i, &format!("virsh -q start {dom}"));
    let pids =
        h.ssh_ok(i, &format!("for f in /run/libvirt/libvirtd.pid /run/libvirt/qemu/{dom}.pid; do cat $f; echo; done"));
    let pids: Vec<u32> = pids.split_whitespace().map(|p| p.parse().expect("pid")).collect();
    assert_eq!(pids.len(), 2, "h{i}: libvirtd and QEMU pids: {pids:?}");
    pids
}

/// Whether `pid` is still a process; with `zombie_ok`, an exited one not yet reaped is gone too.
fn alive(pid: u32, zombie_ok: bool) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !(zombie_ok && stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))),
    }
}

/// Nothing of the domain in the machine's own namespace: libvirt's files live in the hosts'
/// private directories, and no cgroup was made for it.
fn assert_nothing_in_root_namespace(dom: &str) {
    for f in [
        format!("/etc/libvirt/qemu/{dom}.xml"),
        format!("/run/libvirt/qemu/{dom}.pid"),
        "/run/libvirt/libvirt-sock".into(),
    ] {
        assert!(!std::path::Path::new(&f).exists(), "{f} exists in the root mount namespace");
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        for sub in ["machine", "machine.slice"] {
            for e in std::fs::read_dir(ctl.path().join(sub)).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(!name.contains(dom), "cgroup {} was made for the test's domain", e.path().display());
            }
        }
    }
}

#[test]
fn libvirt_hosts_run_tcg_guests_over_ssh_and_down_leaves_nothing() {
    if !can_run("libvirt_hosts_run_tcg_guests_over_ssh_and_down_leaves_nothing") {
        return;
    }
    let h = TestHosts::up(2, &["--toolstack", "libvirt"]);
    assert_eq!(h.host_value(1, "toolstack"), "libvirt");
    let tag = std::fs::read_to_string(h.path().join("state")).expect("state");
    let tag = tag.lines().find_map(|l| l.strip_prefix("tag=")).expect("tag").to_string();
    let dom = format!("e2e-{tag}");
    let pids: Vec<u32> = std::thread::scope(|s| {
        let hosts: Vec<_> = (1..=2)
            .map(|i| {
                s.spawn({
                    let (h, dom) = (&h, &dom);
                    move || exercise_host(h, i, dom)
                })
            })
            .collect();
        hosts.into_iter().flat_map(|t| t.join().expect("host thread")).collect()
    });
    let reapers: Vec<u32> = (1..=2)
        .map(|i| {
            let f = h.path().join(format!("h{i}/reaper.pid"));
            std::fs::read_to_string(f).expect("reaper.pid").trim().parse().expect("pid")
        })
        .collect();
    assert_nothing_in_root_namespace(&dom);
    let dir = h.path().to_path_buf();
    let t = Instant::now();
    drop(h);
    eprintln!("down with 2 running guests: {:.1} s", t.elapsed().as_secs_f64());
    // libvirtd and QEMU are reaped by the host's reaper before it goes; the reaper itself is
    // PID 1's to reap, which may take a moment, so only it may be a zombie.
    let left: Vec<_> = pids.iter().filter(|&&p| alive(p, false)).collect();
    assert!(left.is_empty(), "libvirtd or QEMU still there after down (zombies count): {left:?}");
    let left: Vec<_> = reapers.iter().filter(|&&p| alive(p, true)).collect();
    assert!(left.is_empty(), "a reaper still runs after down: {left:?}");
    let netns = Command::new("ip").args(["netns", "list"]).output().expect("ip netns");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(&tag), "a namespace of the test is left");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(dir.to_str().expect("utf-8")), "a mount of the test is left:\n{mounts}");
    assert_nothing_in_root_namespace(&dom);
}

/// One libvirt test host whose repository holds `VirtualDisks/boot.img` (the boot-sector guest,
/// 1 MiB) and a local temp folder; `then` runs on the host after the copy (`""`: nothing).
/// Returns the host, the folder, the hosts.yaml path and the repository.
pub fn host_with_boot_disk(then: &str) -> (TestHosts, tempfile::TempDir, String, String) {
    let h = TestHosts::up(1, &["--toolstack", "libvirt"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = h.hosts_yaml().display().to_string();
    let repo = h.repository(1);
    let mut img = boot_sector();
    img.resize(1 << 20, 0);
    let local = dir.path().join("boot.img");
    std::fs::write(&local, img).expect("boot disk");
    let then = if then.is_empty() { String::new() } else { format!(" && {then}") };
    h.ssh_ok(1, &format!("cp {} {repo}/VirtualDisks/boot.img{then}", local.display()));
    (h, dir, hosts, repo)
}
