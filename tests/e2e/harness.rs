//! Test hosts for end-to-end tests: real sshd in network namespaces (scripts/testhosts).
//!
//! Needs root. Outside CI a test without root skips with a loud message; under `CI=true` it
//! fails instead, so CI can never pass by skipping. Hosts are torn down on drop, also when the
//! test panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn domform_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_domform"))
}

/// The simulator binary, built by `cargo build --workspace` next to domform.
pub fn xm_bin() -> PathBuf {
    let p = domform_bin().with_file_name("xm");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` first (scripts/test does)", p.display());
    p
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Whether root-only tests can run; panics under CI when they cannot.
pub fn can_run(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: end-to-end tests need root under CI=true");
    }
    eprintln!("\n!!! SKIPPED {test}: needs root for network namespaces and loop mounts (runs under CI=true) !!!\n");
    false
}

/// Running test hosts.
pub struct TestHosts {
    pub dir: tempfile::TempDir,
}

impl TestHosts {
    /// Starts `n` hosts with extra `scripts/testhosts up` options.
    pub fn up(n: usize, opts: &[&str]) -> TestHosts {
        let dir = tempfile::Builder::new().prefix("domform-e2e-").tempdir().expect("tempdir");
        let hosts = TestHosts { dir };
        // 100..=249, spread by pid; a net another run holds is refused by testhosts: try the next.
        let mut last = String::new();
        for _ in 0..12 {
            let net = 100 + (std::process::id() * 7 + NEXT_NET.fetch_add(1, Ordering::SeqCst)) % 150;
            let out = Command::new(repo_root().join("scripts/testhosts"))
                .args(["up", &n.to_string(), "--dir"])
                .arg(hosts.dir.path())
                .arg("--xm")
                .arg(xm_bin())
                .args(["--net", &net.to_string()])
                .args(opts)
                .output()
                .expect("run scripts/testhosts");
            if out.status.success() {
                return hosts;
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            if !last.contains("already in use") {
                break;
            }
        }
        panic!("testhosts up failed:\n{last}");
    }

    pub fn hosts_yaml(&self) -> PathBuf {
        self.dir.path().join("hosts.yaml")
    }

    /// Runs a command on host `i` (1-based) over real ssh.
    pub fn ssh(&self, i: usize, cmd: &str) -> Output {
        Command::new(repo_root().join("scripts/testhosts"))
            .args(["ssh", "--dir"])
            .arg(self.dir.path())
            .args([&i.to_string(), "--", cmd])
            .output()
            .expect("testhosts ssh")
    }

    /// Like [`ssh`](Self::ssh), asserting success; returns stdout.
    pub fn ssh_ok(&self, i: usize, cmd: &str) -> String {
        let out = self.ssh(i, cmd);
        assert!(out.status.success(), "h{i}: `{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The repository path of host `i`, from hosts.yaml.
    pub fn repository(&self, i: usize) -> String {
        self.host_value(i, "repository")
    }

    /// The value of `key` in host `i`'s entry of hosts.yaml.
    pub fn host_value(&self, i: usize, key: &str) -> String {
        let text = std::fs::read_to_string(self.hosts_yaml()).expect("hosts.yaml");
        let mut in_host = false;
        for line in text.lines() {
            if line.trim_end() == format!("  h{i}:") {
                in_host = true;
            } else if in_host && line.trim_start().starts_with(&format!("{key}:")) {
                return line.split_once(':').map(|x| x.1.trim().to_string()).expect("value");
            }
        }
        panic!("no {key} for h{i} in hosts.yaml")
    }

    /// An OpenSSH client command for host `i` (profile `current`), options first: append ssh
    /// options such as `-W` or `-tt`, then `root@<address>` from [`destination`](Self::destination).
    pub fn ssh_command(&self, i: usize) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(self.host_value(i, "identity_file"))
            .args(["-o", "IdentitiesOnly=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.host_value(i, "known_hosts")))
            .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]);
        c
    }

    /// `root@<address of host i>`.
    pub fn destination(&self, i: usize) -> String {
        format!("root@{}", self.host_value(i, "address"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `sh -c cmd` inside host `i`'s namespaces (`testhosts exec`, no ssh); asserts success.
    pub fn exec_ok(&self, i: usize, cmd: &str) -> String {
        let out = Command::new(repo_root().join("scripts/testhosts"))
            .args(["exec", "--dir"])
            .arg(self.path())
            .args([&i.to_string(), "--", "sh", "-c", cmd])
            .output()
            .expect("testhosts exec");
        assert!(out.status.success(), "h{i}: `{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Mounts a fresh ext4 file system (no reflink) of `mib` MiB inside host `i`'s mount
    /// namespace at `<dir>/<name>`, with an empty repository `<mount>/r`; returns the repository.
    /// The mount dies with the host's namespace; the image lives in the test's folder.
    pub fn ext4_repository(&self, i: usize, name: &str, mib: u32) -> String {
        let mnt = self.path().join(name);
        std::fs::create_dir(&mnt).expect("mkdir");
        let img = self.path().join(format!("{name}.img"));
        let out = Command::new(repo_root().join("scripts/testhosts"))
            .args(["exec", "--dir"])
            .arg(self.path())
            .args([&i.to_string(), "--", "sh", "-c"])
            .arg(format!(
                "truncate -s {mib}M {i} && mkfs.ext4 -q -F -m 0 {i} && mount -o loop {i} {m} && mkdir -p {m}/r/VirtualMachines {m}/r/VirtualDisks",
                i = img.display(),
                m = mnt.display()
            ))
            .output()
            .expect("testhosts exec");
        assert!(out.status.success(), "ext4 repository: {}", String::from_utf8_lossy(&out.stderr));
        format!("{}/r", mnt.display())
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let out =
            Command::new(repo_root().join("scripts/testhosts")).args(["down", "--dir"]).arg(self.dir.path()).output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!("testhosts down failed: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
    }
}

/// Runs domform with args; returns (exit code, stdout, stderr).
/// The examples' secrets come from the environment, as in real use (examples/bulk-disks.yaml).
pub const EXAMPLE_VNC_PASSWORD: &str = "e2e-example-vnc-pw";

pub fn domform(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(domform_bin())
        .args(args)
        .env("STORAGE01_VNC", EXAMPLE_VNC_PASSWORD)
        .output()
        .expect("run domform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
