//! `transport: openssh`: the system's `ssh`, one ControlMaster connection per host.
//!
//! Why: datacentre dom0s sit behind bastions and are reached with what the admin's OpenSSH
//! already knows — ~/.ssh/config (HostName, User, Port, IdentityFile, ProxyJump,
//! UserKnownHostsFile, ...), certificates, Kerberos, agents, smart cards. Rather than re-implement
//! each of them on libssh2, domform runs `ssh` itself. The master connection is made once (the
//! handshake and authentication are the expensive part); every exec is a multiplexed session over
//! it (`ssh -S`), so observe is still one exec, one SSH channel, per host.
//!
//! Safety: host keys are always checked (`StrictHostKeyChecking=yes`, or `accept-new` when the
//! host says so) whatever the user's ssh_config says, and `BatchMode=yes` means ssh never asks
//! for a password or a passphrase on the terminal. Arguments are passed as an argv, never
//! through a local shell; the remote command is one argument, as the built-in SSH sends it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::algorithms::KINDS;
use super::limit;
use super::{Background, ExecOutput, Limit, Transport, TransportError};
use crate::model::{Host, HostKeyPolicy};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The ssh program (`DOMFORM_SSH` overrides, for a non-standard install).
fn ssh_program() -> String {
    std::env::var("DOMFORM_SSH").unwrap_or_else(|_| "ssh".into())
}

/// A host reached through a running `ssh` ControlMaster.
#[derive(Debug)]
pub struct OpensshTransport {
    name: String,
    /// Options every `ssh` call gets (control path included), then the destination.
    args: Vec<String>,
    dest: String,
    dir: PathBuf,
    execs: usize,
    background: Option<Child>,
    host_key: Option<String>,
}

/// The options domform gives `ssh` for `host` (without the control socket): what the YAML says
/// and the safety settings; everything else comes from the user's ssh_config.
pub fn options(host: &Host) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut o = |k: &str, v: &str| {
        a.push("-o".into());
        a.push(format!("{k}={v}"));
    };
    o("BatchMode", "yes");
    o(
        "StrictHostKeyChecking",
        match host.host_key_policy {
            HostKeyPolicy::Strict => "yes",
            HostKeyPolicy::AcceptNew => "accept-new",
        },
    );
    o("ConnectTimeout", &host.connect_timeout.as_secs().to_string());
    o("ServerAliveInterval", "15");
    o("ServerAliveCountMax", "3");
    if let Some(kh) = &host.known_hosts {
        o("UserKnownHostsFile", &kh.display().to_string());
    }
    if let Some(id) = &host.identity_file {
        o("IdentityFile", &id.display().to_string());
        o("IdentitiesOnly", "yes");
    }
    for kind in KINDS {
        if let Some(spec) = host.algorithms.get(kind) {
            o(kind.ssh_option(), spec);
        }
    }
    if let Some(j) = &host.proxy_jump {
        o("ProxyJump", j);
    }
    if host.port_given {
        o("Port", &host.port.to_string());
    }
    if host.user_given {
        o("User", &host.user);
    }
    if let Some(cfg) = &host.ssh_config {
        a.splice(0..0, ["-F".to_string(), cfg.display().to_string()]);
    }
    a
}

/// An `ssh` command straight to `host`, without a master (consoles, forwards).
pub fn direct(host: &Host, extra: &[&str], script: Option<&str>) -> Command {
    let mut c = Command::new(ssh_program());
    c.args(options(host)).args(extra).arg("--").arg(&host.address);
    if let Some(s) = script {
        c.arg(s);
    }
    c
}

fn control_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    // Short: a unix socket path has at most 107 bytes.
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("domform-ssh.{}.{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

impl OpensshTransport {
    /// Starts the master connection (host key checked, authenticated) and returns when it is up.
    pub fn connect(host: &Host) -> Result<OpensshTransport, TransportError> {
        let t0 = std::time::Instant::now();
        let conn_err = |m: String| TransportError::Connect {
            host: host.name.clone(),
            message: format!("ssh failed after {:.1} s: {m}", t0.elapsed().as_secs_f64()),
            // ssh exits 255 for every failure; a refused key or host key says so in its log.
            transient: !m.contains("Permission denied") && !m.contains("Bad configuration"),
        };
        let dir = control_dir().map_err(|e| conn_err(format!("cannot make a control folder: {e}")))?;
        let mut args = options(host);
        args.push("-S".into());
        args.push(dir.join("c").display().to_string());
        let t = OpensshTransport {
            name: host.name.clone(),
            args,
            dest: host.address.clone(),
            dir,
            execs: 0,
            background: None,
            host_key: None,
        };
        // `-f`: ssh goes to the background once authenticated, so its exit status says whether
        // the connection is up. It logs to a file, so no pipe of ours stays open in it.
        // ControlPersist bounds how long a master outlives a domform that was killed.
        let log = t.dir.join("master.log");
        let mut t = t;
        let status = Command::new(ssh_program())
            .args(["-v", "-f", "-N", "-M", "-o", "ControlPersist=300", "-E"])
            .arg(&log)
            .args(&t.args)
            .arg("--")
            .arg(&t.dest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| conn_err(format!("cannot run `{}`: {e}", ssh_program())))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        // `-v` logs the key it verified: "debug1: Server host key: ssh-ed25519 SHA256:...".
        t.host_key = text.lines().find_map(|l| l.split_once("Server host key: ").map(|(_, k)| k.trim().to_string()));
        if !status.success() {
            let why =
                text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("debug")).collect::<Vec<_>>().join("; ");
            let err = if why.contains("Host key verification failed") || why.contains("HOST IDENTIFICATION HAS CHANGED")
            {
                TransportError::HostKey { host: host.name.clone(), message: format!("ssh: {why}") }
            } else {
                conn_err(format!("ssh exited with {}: {why}", status.code().unwrap_or(-1)))
            };
            return Err(err);
        }
        Ok(t)
    }

    /// An `ssh` command through the master, for `script` (`None`: no remote command).
    pub fn command(&self, extra: &[&str], script: Option<&str>) -> Command {
        let mut c = Command::new(ssh_program());
        c.args(&self.args).args(["-o", "ControlMaster=no"]).args(extra).arg("--").arg(&self.dest);
        if let Some(s) = script {
            c.arg(s);
        }
        c
    }

    fn master_alive(&self) -> bool {
        let mut c = Command::new(ssh_program());
        c.args(&self.args).args(["-O", "check", "--"]).arg(&self.dest);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        c.status().map(|s| s.success()).unwrap_or(false)
    }

    /// The control folder (for tests: it must be gone after drop).
    pub fn control_dir(&self) -> &Path {
        &self.dir
    }
}

impl Transport for OpensshTransport {
    fn host(&self) -> &str {
        &self.name
    }

    /// A limit that runs out kills the local `ssh` client: that closes its session on the
    /// master, and the host-side watchdog in domform's scripts ends what still runs there.
    fn exec_limited(
        &mut self,
        script: &str,
        stdin: &[u8],
        limit: Option<&Limit>,
    ) -> Result<ExecOutput, TransportError> {
        self.execs += 1;
        let first_line: String = script.lines().next().unwrap_or_default().chars().take(80).collect();
        let err = |m: String| TransportError::Exec { host: self.name.clone(), command: first_line.clone(), message: m };
        let (command, input) = super::command_and_input(script, stdin).map_err(err)?;
        let mut child = self
            .command(&["-T"], Some(command))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot run `{}`: {e}", ssh_program())))?;
        let writer = child.stdin.take().map(|mut pipe| {
            // A thread, so a script that prints a lot before reading stdin cannot deadlock us.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            })
        });
        let out = limit::collect(&mut child, limit, |c| {
            let _ = c.kill();
        })
        .map_err(|e| err(e.to_string()))?;
        if let Some(w) = writer {
            let _ = w.join();
        }
        if out.timed_out {
            return Ok(ExecOutput { status: -1, stdout: out.stdout, stderr: out.stderr, lost: None, timed_out: true });
        }
        let status = out.status.and_then(|s| s.code()).unwrap_or(-1);
        // 255 is ssh's own failure (or a script's `exit 255`): the master tells which.
        let lost = (status == 255 && !self.master_alive())
            .then(|| format!("connection to {} lost: {}", self.name, String::from_utf8_lossy(&out.stderr).trim()));
        Ok(ExecOutput {
            status: if lost.is_some() { -1 } else { status },
            stdout: out.stdout,
            stderr: out.stderr,
            lost,
            timed_out: false,
        })
    }

    fn exec_count(&self) -> usize {
        self.execs
    }

    fn host_key(&self) -> Option<String> {
        self.host_key.clone()
    }

    fn start_background(
        &mut self,
        script: &str,
        marker: &str,
        limit: Option<&Limit>,
    ) -> Result<Background, TransportError> {
        self.end_background();
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: "background script".into(),
            message: m,
        };
        let mut child = self
            .command(&["-T"], Some(script))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("cannot run `{}`: {e}", ssh_program())))?;
        // At EOF, read_until_marker has read everything the script printed.
        let (found, output, timed_out) =
            limit::await_marker(&mut child, marker, limit).map_err(|e| err(e.to_string()))?;
        if found {
            self.background = Some(child);
            return Ok(Background { output, ended: None, timed_out: false });
        }
        if timed_out {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|e| err(e.to_string()))?;
        let ended = if timed_out { -1 } else { status.code().unwrap_or(-1) };
        Ok(Background { output, ended: Some(ended), timed_out })
    }

    fn end_background(&mut self) {
        if let Some(mut child) = self.background.take() {
            // Closing stdin ends the script (and releases the host lock it holds).
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

impl Drop for OpensshTransport {
    fn drop(&mut self) {
        self.end_background();
        let mut c = Command::new(ssh_program());
        c.args(&self.args).args(["-O", "exit", "--"]).arg(&self.dest);
        let _ = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
