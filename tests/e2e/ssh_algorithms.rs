//! Reaching Oracle VM servers' sshd: OpenSSH 5.3 (OVM 3.3/3.4, `--profile ol6`) with no
//! settings, OpenSSH 4.3 (OVM 3.0-3.2, `--profile ol5`) with `+diffie-hellman-group14-sha1`,
//! an encrypted RSA key held by ssh-agent, and the system ssh (`transport: openssh`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::harness::{can_run, domform, domform_bin, TestHosts};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// hosts.yaml without the lines that contain any of `drop`, plus `extra` lines for every host.
fn variant(h: &TestHosts, name: &str, drop: &[&str], extra: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    let mut out = String::new();
    for line in text.lines() {
        if drop.iter().any(|d| line.contains(d)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim_start().starts_with("toolstack:") {
            for e in extra {
                out.push_str(&format!("    {e}\n"));
            }
        }
    }
    let path = h.path().join(name);
    std::fs::write(&path, out).expect("write variant");
    path
}

#[test]
fn ovm_3_3_sshd_works_with_no_settings() {
    if !can_run("ovm_3_3_sshd_works_with_no_settings") {
        return;
    }
    let h = TestHosts::up(1, &["--profile", "ol6"]);
    let plain = variant(&h, "plain.yaml", &["_algorithms"], &[]);
    let (code, out, err) = domform(&["list", "-f", s(&plain), "-vv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Domain-0"), "{out}");
    assert!(
        err.contains("SSH negotiated kex diffie-hellman-group-exchange-sha256, host key ssh-rsa, cipher aes128-ctr, mac hmac-sha1"),
        "{err}"
    );
}

#[test]
fn an_rsa_key_falls_back_to_ssh_rsa_signatures_when_rsa_sha2_is_advertised_but_refused() {
    if !can_run("an_rsa_key_falls_back_to_ssh_rsa_signatures_when_rsa_sha2_is_advertised_but_refused") {
        return;
    }
    // OpenSSH 5.3 accepts only ssh-rsa user signatures; this sshd also advertises rsa-sha2-*.
    let h = TestHosts::up(1, &["--profile", "ol6", "--strict-pubkey"]);
    let (code, out, err) = domform(&["list", "-f", s(&h.hosts_yaml()), "-vv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Domain-0"), "{out}");
    assert!(err.contains("authenticated with an ssh-rsa (SHA-1) signature"), "the fallback was needed: {err}");
}

#[test]
fn ovm_3_0_sshd_needs_the_sha1_key_exchange_and_says_so() {
    if !can_run("ovm_3_0_sshd_needs_the_sha1_key_exchange_and_says_so") {
        return;
    }
    let h = TestHosts::up(1, &["--profile", "ol5"]);
    let plain = variant(&h, "plain.yaml", &["_algorithms"], &[]);
    let (code, _, err) = domform(&["list", "-f", s(&plain)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Unable to exchange encryption keys")
            && err.contains("kex_algorithms: \"+diffie-hellman-group14-sha1\""),
        "the way out is named: {err}"
    );
    // In host_defaults, as a whole estate of OVM 3.2 servers would write it.
    let text = std::fs::read_to_string(&plain).expect("read");
    let defaults = h.path().join("defaults.yaml");
    std::fs::write(&defaults, format!("host_defaults:\n  kex_algorithms: \"+diffie-hellman-group14-sha1\"\n{text}"))
        .expect("write");
    let (code, out, err) = domform(&["list", "-f", s(&defaults), "-vv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Domain-0"), "{out}");
    assert!(err.contains("SSH negotiated kex diffie-hellman-group14-sha1, host key ssh-rsa"), "{err}");
    // `-list` removes: without any SHA-1 kex it fails again.
    let minus = variant(&h, "minus.yaml", &["_algorithms"], &["kex_algorithms: \"-diffie-hellman-group14-sha1\""]);
    let (code, _, err) = domform(&["list", "-f", s(&minus)]);
    assert_eq!(code, 1, "{err}");
}

/// An ssh-agent on a socket in the test folder, killed on drop.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_with_encrypted_rsa_key(dir: &Path) -> Agent {
    let key = dir.join("enc_rsa");
    let gen = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "s3cret passphrase", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let sock = dir.join("agent.sock");
    let child =
        Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(Stdio::null()).spawn().expect("ssh-agent");
    let agent = Agent { child, sock };
    let askpass = dir.join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho 's3cret passphrase'\n").expect("askpass");
    Command::new("chmod").arg("700").arg(&askpass).status().expect("chmod");
    // The agent may take a while to listen on a loaded machine: try for up to 20 s.
    let mut last = String::new();
    for _ in 0..200 {
        let add = Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &agent.sock)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", "none")
            .stdin(Stdio::null())
            .output()
            .expect("ssh-add");
        if add.status.success() {
            last.clear();
            break;
        }
        last = String::from_utf8_lossy(&add.stderr).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(last.is_empty(), "ssh-add: {last}");
    let pubkey = std::fs::read_to_string(dir.join("enc_rsa.pub")).expect("pub");
    let ak = dir.join("authorized_keys");
    let mut keys = std::fs::read_to_string(&ak).expect("authorized_keys");
    keys.push_str(&pubkey);
    std::fs::write(&ak, keys).expect("authorized_keys");
    agent
}

#[test]
fn an_encrypted_rsa_key_in_ssh_agent_reaches_an_ssh_rsa_only_server() {
    if !can_run("an_encrypted_rsa_key_in_ssh_agent_reaches_an_ssh_rsa_only_server") {
        return;
    }
    let h = TestHosts::up(1, &["--profile", "ol6"]);
    let agent = agent_with_encrypted_rsa_key(h.path());
    let via_agent = variant(&h, "agent.yaml", &["identity_file"], &[]);
    let out = Command::new(domform_bin())
        .args(["list", "-f", s(&via_agent)])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .output()
        .expect("domform");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("Domain-0"), "{stdout}");
    // The encrypted file itself cannot be used without the agent: a clear refusal, no prompt.
    let enc = h.path().join("enc_rsa");
    let direct = variant(&h, "enc.yaml", &["identity_file"], &[&format!("identity_file: {}", enc.display())]);
    let (code, _, err) = domform(&["list", "-f", s(&direct)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("authentication as root failed") && err.contains("enc_rsa"), "{err}");
}

#[test]
fn the_system_ssh_reaches_ovm_3_0_with_its_ssh_config() {
    if !can_run("the_system_ssh_reaches_ovm_3_0_with_its_ssh_config") {
        return;
    }
    let h = TestHosts::up(1, &["--profile", "ol5"]);
    let config = h.path().join("ssh_config");
    std::fs::write(
        &config,
        "Host *\n  HostKeyAlgorithms +ssh-rsa\n  PubkeyAcceptedAlgorithms +ssh-rsa\n  KexAlgorithms +diffie-hellman-group14-sha1\n",
    )
    .expect("ssh_config");
    let yaml = variant(
        &h,
        "openssh.yaml",
        &["_algorithms"],
        &["transport: openssh", &format!("ssh_config: {}", config.display())],
    );
    let (code, out, err) = domform(&["list", "-f", s(&yaml)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Domain-0"), "{out}");
    // Without the config's algorithm lines the system ssh cannot agree with OpenSSH 4.3 either.
    std::fs::write(&config, "Host *\n  User root\n").expect("ssh_config");
    let (code, _, err) = domform(&["list", "-f", s(&yaml)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot connect to h1") && err.contains("no matching"), "{err}");
}
