//! Consoles on real SSH test hosts: an interactive `domform console` driven through tmux (login
//! prompt, Ctrl-] detach, the terminal sane afterwards), `domform vnc` forwarding bytes to the
//! simulator's VNC port, and a VNC password that reaches vm.cfg but no output of domform.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{can_run, domform, domform_bin, TestHosts};

/// The unique password: it must be in vm.cfg on the host and in no output.
const PW: &str = "Pw-7f3a9";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A folder with the test hosts' inventory and `vms` (the `vms:` body).
fn estate(h: &TestHosts, vms: &str) -> PathBuf {
    let dir = h.path().join("estate");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(dir.join("vms.yaml"), format!("vms:\n{vms}")).expect("write");
    dir
}

const PV_BOX: &str = "  pvbox:\n    host: h1\n    type: pv\n    memory: 512MiB\n    vcpus: 1\n    \
                      disks: [ { name: system, size: 1GiB } ]\n    \
                      console:\n      serial: true\n      vnc: { keymap: en-us }\n";

fn apply(dir: &Path) {
    let (code, out, err) = domform(&["apply", "-f", s(dir), "--auto-approve"]);
    assert_eq!(code, 0, "apply\n{out}\n{err}");
}

/// domform with extra environment variables (and without `VNC_PW` unless given).
fn domform_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(domform_bin());
    c.args(args).env_remove("VNC_PW");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run domform")
}

/// A tmux server of its own, killed on drop (also when the test fails).
pub(crate) struct Tmux {
    pub(crate) socket: String,
}

impl Tmux {
    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("run tmux")
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "s"]).stdout).into_owned()
    }

    pub(crate) fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no `{text}` in the pane:\n{pane}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn console_logs_in_and_detaches_with_ctrl_bracket() {
    if !can_run("console_logs_in_and_detaches_with_ctrl_bracket") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let dir = estate(&h, PV_BOX);
    apply(&dir);
    let cfg = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    assert!(cfg.contains("extra = 'console=hvc0'") && cfg.contains("serial = 'pty'"), "{cfg}");
    // After the console: its exit status and the terminal's modes, in the same pane.
    let script = h.path().join("attach.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{} console pvbox -f {}\necho \"domform-rc=$?\"\nstty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo | sed 's/^/mode-/'\nsleep 60\n",
            domform_bin().display(),
            dir.display()
        ),
    )
    .expect("write script");
    let tmux = Tmux { socket: format!("domform-e2e-{}", std::process::id()) };
    let started =
        tmux.cmd(&["new-session", "-d", "-s", "s", "-x", "120", "-y", "40", &format!("sh {}", script.display())]);
    assert!(started.status.success(), "tmux: {}", String::from_utf8_lossy(&started.stderr));
    tmux.wait_for("login:");
    assert!(tmux.cmd(&["send-keys", "-t", "s", "root", "Enter"]).status.success());
    tmux.wait_for("Password:");
    assert!(tmux.cmd(&["send-keys", "-t", "s", "C-]"]).status.success());
    let pane = tmux.wait_for("mode-echo");
    assert!(pane.contains("domform-rc=0"), "{pane}");
    assert!(pane.contains("mode-icanon"), "canonical mode is back:\n{pane}");
}

#[test]
fn vnc_forwards_a_local_port_to_the_vms_vnc_server() {
    if !can_run("vnc_forwards_a_local_port_to_the_vms_vnc_server") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let hvm = "  hvmbox:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n    \
               disks: [ { name: system, size: 1GiB } ]\n    console:\n      vnc: { port: 5907 }\n";
    let dir = estate(&h, &format!("{PV_BOX}{hvm}"));
    apply(&dir);
    let long = h.ssh_ok(1, "xm list -l");
    assert!(long.contains("(location 127.0.0.1:5907)"), "fixed port: {long}");
    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged\n{out}\n{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut child = Command::new(domform_bin())
        .args(["vnc", "pvbox", "-f", s(&dir), "--once", "--local-port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start domform vnc");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    assert_eq!(
        line,
        format!("VNC for pvbox: connect your viewer to 127.0.0.1:{port} (exits after the first connection)\n")
    );
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the forward");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut greeting = [0u8; 12];
    tcp.read_exact(&mut greeting).expect("greeting");
    assert_eq!(&greeting, b"RFB 003.008\n");
    let payload = b"hello through ssh \x00\xff".repeat(1000);
    tcp.write_all(&payload).expect("send");
    let mut back = vec![0u8; payload.len()];
    tcp.read_exact(&mut back).expect("echo");
    assert_eq!(back, payload);
    drop(tcp);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("domform vnc --once did not exit after the connection closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert!(status.success(), "{err}");
}

#[test]
fn vnc_password_reaches_vm_cfg_and_no_output() {
    if !can_run("vnc_password_reaches_vm_cfg_and_no_output") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let vms = "  secret1:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n    \
               disks: [ { name: system, size: 1GiB } ]\n    \
               console:\n      vnc: { keymap: en-us, password: { env: VNC_PW } }\n  \
               secret2:\n    host: h1\n    type: pv\n    memory: 512MiB\n    vcpus: 1\n    \
               disks: [ { name: system, size: 1GiB } ]\n    \
               console:\n      vnc: { password: { env: VNC_PW } }\n";
    let dir = estate(&h, vms);
    let env = [("VNC_PW", PW)];
    let planfile = h.path().join("plan.json");
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for format in ["human", "json", "markdown"] {
        outputs
            .push((format!("plan {format}"), domform_env(&["-vv", "plan", "-f", s(&dir), "--format", format], &env)));
    }
    outputs.push(("plan -o".into(), domform_env(&["-vv", "plan", "-f", s(&dir), "-o", s(&planfile)], &env)));
    let apply = domform_env(&["-vv", "apply", s(&planfile), "-f", s(&dir)], &env);
    assert!(apply.status.success(), "apply of the saved plan: {}", String::from_utf8_lossy(&apply.stderr));
    outputs.push(("apply PLANFILE".into(), apply));
    outputs.push(("plan after".into(), domform_env(&["-vv", "plan", "-f", s(&dir), "--detailed-exitcode"], &env)));
    outputs.push(("list".into(), domform_env(&["-vv", "list", "-f", s(&dir), "--format", "json"], &env)));
    let saved = std::fs::read_to_string(&planfile).expect("saved plan");
    assert!(!saved.contains(PW), "saved plan: {saved}");
    // The plan names the secret, never holds it, and ran as saved.
    assert!(
        saved.contains("vncpasswd = '(secret: env VNC_PW)'") && saved.contains("vncpasswd=(secret: env VNC_PW)"),
        "{saved}"
    );
    for (what, o) in &outputs {
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!out.contains(PW) && !err.contains(PW), "{what} leaked the password:\n{out}\n{err}");
    }
    let after = &outputs[outputs.len() - 2].1;
    assert_eq!(after.status.code(), Some(0), "converged: {}", String::from_utf8_lossy(&after.stdout));
    let cfgs = h.ssh_ok(1, "cat /OVS/Repositories/*/VirtualMachines/*/vm.cfg");
    assert!(cfgs.contains(&format!("vncpasswd = '{PW}'")), "HVM key on the host: {cfgs}");
    assert!(cfgs.contains(&format!("vfb = ['type=vnc,vncunused=1,vnclisten=127.0.0.1,vncpasswd={PW}']")), "{cfgs}");

    // Without the variable: a plan error naming the VM and the variable, nothing else.
    let o = domform_env(&["plan", "-f", s(&dir)], &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("VM `secret1`: VNC password: environment variable `VNC_PW` is not set"), "{text}");
}
