//! `domform licence --evidence`: the pack of a real test host verifies against its manifest with
//! `sha256sum -c`, names the host key the connection checked, and holds no secret.

use std::process::Command;

use crate::harness::{can_run, domform, domform_bin, TestHosts};

#[test]
fn the_evidence_pack_of_a_host_verifies_and_keeps_no_secret() {
    if !can_run("the_evidence_pack_of_a_host_verifies_and_keeps_no_secret") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(
        dir.join("vms.yaml"),
        "vms:\n  db01:\n    host: h1\n    memory: 512MiB\n    vcpus: 2\n    cpus: \"4-7\"\n\
         \x20   console: { vnc: { password: { env: EVIDENCE_VNC } } }\n\
         licences:\n  ee: { vms: [db01], max_cores: 2 }\n",
    )
    .expect("vms.yaml");
    let secret = "evidence-pw-7f3a";
    let run = |args: &[&str]| {
        let out = Command::new(domform_bin()).args(args).env("EVIDENCE_VNC", secret).output().expect("domform");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let d = dir.to_str().expect("utf-8");
    let (code, out, err) = run(&["apply", "-f", d, "--auto-approve"]);
    assert_eq!(code, 0, "apply\n{out}\n{err}");
    let pack = h.path().join("pack");
    let page = h.path().join("page.html");
    let (code, out, err) = run(&[
        "licence",
        "-f",
        d,
        "--evidence",
        pack.to_str().expect("utf-8"),
        "--html",
        page.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "licence\n{out}\n{err}");
    assert!(err.contains("sha256sum -c MANIFEST.sha256"), "{err}");

    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "MANIFEST.sha256"])
        .current_dir(&pack)
        .output()
        .expect("sha256sum");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let listed = String::from_utf8_lossy(&check.stdout).lines().count();
    let on_disk = walk(&pack).len();
    assert_eq!(listed + 1, on_disk, "every file but the manifest is listed");

    let host = pack.join("hosts/h1");
    for f in ["info-n.txt", "vcpu-list.txt", "vm-db01/list-l.txt", "vm-db01/vm.cfg", "meta.json"] {
        assert!(host.join(f).exists(), "{f} missing: {:?}", walk(&pack));
    }
    assert!(std::fs::read_to_string(host.join("info-n.txt")).expect("info").contains("cpu_topology"));
    assert!(std::fs::read_to_string(host.join("vm-db01/vm.cfg")).expect("cfg").contains("cpus = '4-7'"));
    let meta = host_key_recorded(&h, &host);
    // No secret anywhere, and the redaction is noted.
    for f in walk(&pack) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
        assert!(!text.contains(secret), "{} holds the VNC password", f.display());
    }
    assert!(meta["outputs"].as_array().expect("outputs").iter().any(|o| o["redacted"] == true), "{meta}");
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(html, std::fs::read_to_string(pack.join("licence-report.html")).expect("pack page"));

    // A changed file is caught, and a used folder is refused.
    std::fs::write(host.join("vcpu-list.txt"), "forged").expect("tamper");
    let check = Command::new("sha256sum")
        .args(["-c", "--quiet", "MANIFEST.sha256"])
        .current_dir(&pack)
        .output()
        .expect("sha256sum");
    assert!(!check.status.success());
    let (code, _, err) = domform(&["licence", "-f", d, "--evidence", pack.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("not empty"), "{err}");
}

/// The host key recorded in the pack is the one the host has; each output says when it was read.
fn host_key_recorded(h: &TestHosts, host: &std::path::Path) -> serde_json::Value {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(host.join("meta.json")).expect("meta")).expect("json");
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(h.path().join("h1/ssh_host_ed25519_key.pub"))
        .output()
        .expect("ssh-keygen");
    let fp = String::from_utf8_lossy(&fp.stdout).split_whitespace().nth(1).expect("fingerprint").to_string();
    assert_eq!(meta["ssh_host_key"].as_str(), Some(format!("ssh-ed25519 {fp}").as_str()), "{meta}");
    assert!(meta["outputs"][0]["read_at"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 20), "{meta}");
    meta
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
