//! A dom0 reachable only through a bastion, with `transport: openssh` and the user's ssh_config.
//!
//! Two test hosts: h1 is the bastion, h2 the dom0. A private veth joins their namespaces; h2
//! refuses to answer this machine's address (a `prohibit` route inside h2's namespace), so the
//! only way to h2 is `ProxyJump` through h1, as in a datacentre. All traffic stays on the test
//! hosts' own links.

use std::path::Path;
use std::process::Command;

use crate::harness::{can_run, domform_bin, TestHosts};

fn state(h: &TestHosts, key: &str) -> String {
    let text = std::fs::read_to_string(h.path().join("state")).expect("state");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {key} in state"))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs domform with its own temp folder, where its ControlMaster folders go, so the test can
/// see that they are removed whatever other tests run beside it.
fn domform(tmp: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(domform_bin())
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run domform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The private link bastion (h1) <-> dom0 (h2), made in this machine's namespace and moved into
/// theirs (it dies with them); h2 answers nobody on this machine's side. Returns the test
/// network number and h2's address.
fn private_link(h: &TestHosts) -> (String, String) {
    let net = state(h, "net");
    let (ns1, ns2) = (state(h, "ns.1"), state(h, "ns.2"));
    let tag = state(h, "tag");
    let (a, b) = (format!("dfj-{tag}-a"), format!("dfj-{tag}-b"));
    ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    ip(&["link", "set", &a, "netns", &ns1]);
    ip(&["link", "set", &b, "netns", &ns2]);
    let (jump_side, dom0_side) = (format!("10.{net}.254.1"), format!("10.{net}.254.2"));
    ip(&["-n", &ns1, "addr", "add", &format!("{jump_side}/30"), "dev", &a]);
    ip(&["-n", &ns1, "link", "set", &a, "up"]);
    ip(&["-n", &ns2, "addr", "add", &format!("{dom0_side}/30"), "dev", &b]);
    ip(&["-n", &ns2, "link", "set", &b, "up"]);
    let dom0 = format!("10.{net}.2.2");
    ip(&["-n", &ns1, "route", "add", &format!("{dom0}/32"), "via", &dom0_side]);
    // h2 answers nobody on this machine's side of its veth.
    ip(&["-n", &ns2, "route", "add", "prohibit", &format!("10.{net}.2.1/32")]);
    (net, dom0)
}

/// Records h1's host key for `dom0` in known_hosts, as if h2's key had changed.
fn forge_known_host(dir: &Path, dom0: &str) {
    let known = std::fs::read_to_string(dir.join("known_hosts")).expect("known_hosts");
    let other = std::fs::read_to_string(dir.join("h1/ssh_host_ed25519_key.pub")).expect("h1 key");
    let key1 = other.split_whitespace().nth(1).expect("key");
    let forged: String =
        known
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{dom0} ")) {
                    format!("{dom0} ssh-ed25519 {key1}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
    std::fs::write(dir.join("known_hosts"), forged).expect("forge");
}

#[test]
fn a_dom0_behind_a_bastion_plans_applies_and_converges_through_ssh_config() {
    if !can_run("a_dom0_behind_a_bastion_plans_applies_and_converges_through_ssh_config") {
        return;
    }
    let h = TestHosts::up(2, &[]);
    let (net, dom0) = private_link(&h);
    let dir = h.path();
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let config = dir.join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host bastion\n  HostName 10.{net}.1.2\n  User root\n  IdentityFile {d}/id_ed25519\n  UserKnownHostsFile {d}/known_hosts\n\
             Host dom0-b\n  HostName {dom0}\n  User root\n  IdentityFile {d}/id_ed25519\n  UserKnownHostsFile {d}/known_hosts\n  ProxyJump bastion\n",
            d = dir.display()
        ),
    )
    .expect("ssh_config");
    let repo = h.repository(2);
    let yaml = dir.join("bastion.yaml");
    std::fs::write(
        &yaml,
        format!(
            "host_defaults:\n  transport: openssh\n  ssh_config: {config}\nhosts:\n  b:\n    address: dom0-b\n    repository: {repo}\n\
             vms:\n  web01:\n    host: b\n    memory: 1GiB\n    vcpus: 2\n    disks:\n      - {{ name: \"d{{1..3}}\", size: 1GiB }}\n",
            config = config.display()
        ),
    )
    .expect("yaml");

    // The direct way is closed: the built-in SSH to h2's address does not get through.
    let direct = dir.join("direct.yaml");
    let hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    let h2_only: String = hosts.split("  h2:").nth(1).expect("h2").to_string();
    std::fs::write(&direct, format!("hosts:\n  h2:{h2_only}    connect_timeout: 2\n")).expect("direct");
    let (code, _, err) = domform(&tmp, &["list", "-f", s(&direct)]);
    assert_eq!(code, 1, "h2 must not be reachable directly: {err}");
    assert!(err.contains("cannot connect to h2"), "{err}");

    // Through the bastion: one exec per host for observe, as with the built-in SSH.
    let (code, out, err) = domform(&tmp, &["plan", "-f", s(&yaml), "--detailed-exitcode", "-vv"]);
    assert_eq!(code, 2, "changes pending\n{out}\n{err}");
    assert!(out.contains("web01"), "{out}");
    assert!(err.contains("execs=1") && err.contains("observed"), "one observe exec: {err}");
    let (code, out, err) = domform(&tmp, &["apply", "-f", s(&yaml), "--auto-approve"]);
    assert_eq!(code, 0, "apply\n{out}\n{err}");
    let (code, out, err) = domform(&tmp, &["plan", "-f", s(&yaml), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged\n{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out, err) = domform(&tmp, &["list", "-f", s(&yaml)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("web01") && out.contains("running"), "{out}");
    // The disks are really on h2, and no control sockets are left behind.
    let disks = h.ssh_ok(
        1,
        &format!(
            "ssh -o BatchMode=yes -o UserKnownHostsFile={d}/known_hosts -i {d}/id_ed25519 root@{dom0} ls {repo}/VirtualDisks | wc -l",
            d = dir.display()
        ),
    );
    assert_eq!(disks.trim(), "3", "{disks}");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    assert!(left.is_empty(), "every ControlMaster folder is removed: {left:?}");

    // A changed host key behind the bastion is refused, as with the built-in SSH.
    forge_known_host(dir, &dom0);
    let (code, _, err) = domform(&tmp, &["list", "-f", s(&yaml)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("host key check failed for b"), "{err}");
}
