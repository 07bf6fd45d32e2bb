//! SSH transport safety: host keys are checked; unknown keys are refused unless `accept-new`.

use crate::harness::{can_run, domform, TestHosts};

/// hosts.yaml with its known_hosts path replaced, and an extra line per host.
fn variant(h: &TestHosts, known_hosts: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    let orig = h.path().join("known_hosts");
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("known_hosts:") {
            out.push_str(&line.replace(orig.to_str().expect("utf-8"), known_hosts.to_str().expect("utf-8")));
            out.push('\n');
            if !extra.is_empty() {
                out.push_str(&format!("    {extra}\n"));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path =
        h.path().join(format!("variant-{}.yaml", known_hosts.file_name().and_then(|f| f.to_str()).unwrap_or("x")));
    std::fs::write(&path, out).expect("write variant");
    path
}

#[test]
fn unknown_keys_are_refused_unless_accept_new_and_changed_keys_always() {
    if !can_run("unknown_keys_are_refused_unless_accept_new_and_changed_keys_always") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    // Unknown host, strict (the default): refused, with the fingerprint and the way out.
    let empty = h.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let strict = variant(&h, &empty, "");
    let (code, _, err) = domform(&["list", "-f", strict.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("is not in") && err.contains("accept-new") && err.contains("SHA256"), "{err}");
    assert_eq!(std::fs::read_to_string(&empty).expect("read"), "", "strict never writes known_hosts");

    // accept-new: accepted and recorded; the next run matches the recorded key.
    let learned = h.path().join("learned_known_hosts");
    let accept = variant(&h, &learned, "host_key_policy: accept-new");
    let (code, out, err) = domform(&["list", "-f", accept.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Domain-0"), "{out}");
    let recorded = std::fs::read_to_string(&learned).expect("known_hosts written");
    assert!(recorded.contains("ssh-ed25519"), "{recorded}");
    let (code, _, err) = domform(&["list", "-f", accept.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");

    // Changed key: refused even with accept-new.
    let other = h.path().join("other_key");
    let gen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .expect("ssh-keygen");
    assert!(gen.status.success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).expect("pub");
    let addr = recorded.split_whitespace().next().expect("address").to_string();
    let key_part: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    std::fs::write(&learned, format!("{addr} {}\n", key_part.join(" "))).expect("tamper");
    let (code, _, err) = domform(&["list", "-f", accept.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("HOST KEY CHANGED"), "{err}");
}
