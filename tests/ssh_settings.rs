//! How hosts are reached: `host_defaults`, the SSH algorithm lists and `transport: openssh`
//! settings, checked at load time with located errors.

use std::io::Write;

use domform::diag::Diagnostic;
use domform::manifest;
use domform::model::{Model, TransportKind};

fn load(yaml: &str) -> Result<Model, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.yaml");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(yaml.as_bytes())).expect("write");
    manifest::load(&[path])
}

fn errors(yaml: &str) -> Vec<Diagnostic> {
    load(yaml).expect_err("should fail").into_iter().filter(|d| d.is_error()).collect()
}

#[test]
fn defaults_apply_to_every_host_and_a_host_value_wins() {
    let m = load(
        "host_defaults:\n  user: admin\n  port: 2222\n  kex_algorithms: \"+diffie-hellman-group14-sha1\"\n  host_key_algorithms: \"+ssh-rsa\"\n\
         hosts:\n  old:\n    address: 10.0.0.1\n  new:\n    address: 10.0.0.2\n    kex_algorithms: \"-ecdh-*\"\n    user: root\n",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let old = &m.hosts["old"];
    assert_eq!((old.user.as_str(), old.port, old.user_given, old.port_given), ("admin", 2222, true, true));
    assert_eq!(old.algorithms.kex.as_deref(), Some("+diffie-hellman-group14-sha1"));
    assert_eq!(old.algorithms.host_key.as_deref(), Some("+ssh-rsa"));
    let new = &m.hosts["new"];
    assert_eq!(new.user, "root");
    assert_eq!(new.algorithms.kex.as_deref(), Some("-ecdh-*"), "the host's own list replaces the default's");
    assert_eq!(new.algorithms.host_key.as_deref(), Some("+ssh-rsa"));
    let plain = load("hosts:\n  h:\n    address: 10.0.0.1\n").expect("plain");
    assert!(!plain.hosts["h"].port_given && !plain.hosts["h"].user_given);
    assert_eq!(plain.hosts["h"].algorithms, Default::default());
}

#[test]
fn a_mistyped_algorithm_is_located_with_what_exists() {
    let errs = errors("hosts:\n  h:\n    address: 10.0.0.1\n    host_key_algorithms: \"+ssh-rsaa\"\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("`ssh-rsaa` is not a host_key_algorithms"), "{errs:#?}");
    assert!(errs[0].message.contains("ssh-rsa,") || errs[0].message.contains("ssh-rsa "), "lists what exists");
    assert_eq!(errs[0].location.as_ref().map(|l| (l.line, l.col)), Some((4, 26)));
}

#[test]
fn a_bad_default_is_reported_once_where_it_is_written() {
    let errs = errors(
        "host_defaults:\n  macs: \"+hmac-sha3\"\nhosts:\n  a:\n    address: 10.0.0.1\n  b:\n    address: 10.0.0.2\n",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "host_defaults.macs");
    assert_eq!(errs[0].location.as_ref().map(|l| l.line), Some(2));
}

#[test]
fn address_belongs_to_hosts_and_defaults_are_declared_once() {
    let errs = errors("host_defaults:\n  address: x\nhosts: {}\n");
    assert!(errs[0].message.contains("`address` belongs to each host"), "{errs:#?}");
    let dir = tempfile::tempdir().expect("tempdir");
    for (f, body) in [("a.yaml", "host_defaults:\n  user: a\n"), ("b.yaml", "host_defaults:\n  user: b\n")] {
        std::fs::write(dir.path().join(f), body).expect("write");
    }
    let errs = manifest::load(&[dir.path().to_path_buf()]).expect_err("twice");
    assert!(
        errs.iter().any(
            |d| d.message.contains("declared twice") && d.help.as_deref().is_some_and(|h| h.contains("a.yaml:1:1"))
        ),
        "{errs:#?}"
    );
}

#[test]
fn openssh_only_keys_need_the_openssh_transport() {
    let errs = errors("hosts:\n  h:\n    address: 10.0.0.1\n    proxy_jump: bastion\n");
    assert!(errs[0].message.contains("`proxy_jump` needs `transport: openssh`"), "{errs:#?}");
    let errs =
        errors("hosts:\n  h:\n    address: 10.0.0.1\n    transport: openssh\n    proxy_jump: \"-oProxyCommand=x\"\n");
    assert!(errs[0].message.contains("is not `[user@]host[:port]"), "{errs:#?}");
    let m = load(
        "host_defaults:\n  transport: openssh\n  ssh_config: /etc/domform/ssh_config\nhosts:\n  h:\n    address: dom0-a\n    proxy_jump: admin@bastion:2222\n",
    )
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let h = &m.hosts["h"];
    assert_eq!(h.transport, TransportKind::Openssh);
    assert_eq!(h.proxy_jump.as_deref(), Some("admin@bastion:2222"));
    let args = domform::transport::openssh::options(h);
    let joined = args.join(" ");
    assert!(joined.starts_with("-F /etc/domform/ssh_config -o BatchMode=yes -o StrictHostKeyChecking=yes"), "{joined}");
    assert!(joined.contains("-o ProxyJump=admin@bastion:2222"), "{joined}");
    assert!(!joined.contains("Port=") && !joined.contains("User="), "ssh_config decides: {joined}");
}
