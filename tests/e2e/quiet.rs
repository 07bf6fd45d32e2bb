//! A host that prints nothing for longer than the SSH keepalive interval (15 s) is not lost.
//!
//! libssh2 wakes a blocking read at each keepalive interval and reports the wake-up as "Timed
//! out waiting on socket"; domform took that for a lost connection, so a 20 s `xm shutdown -w`
//! (or an observe on a starved host) failed. This stop takes 20 s and prints nothing meanwhile.

use crate::harness::{can_run, domform, TestHosts};

#[test]
fn a_step_silent_for_longer_than_the_keepalive_interval_completes() {
    if !can_run("a_step_silent_for_longer_than_the_keepalive_interval_completes") {
        return;
    }
    let h = TestHosts::up(1, &["--shutdown-seconds", "20"]);
    let dir = h.path().join("estate");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    std::fs::write(dir.join("vms.yaml"), "vms:\n  quiet:\n    host: h1\n    memory: 512MiB\n    vcpus: 1\n")
        .expect("vms");
    let d = dir.to_str().expect("utf-8");
    let (code, out, err) = domform(&["apply", "-f", d, "--auto-approve"]);
    assert_eq!(code, 0, "apply\n{out}\n{err}");
    let (code, out, err) = domform(&["stop", "quiet", "-f", d, "--timeout", "90"]);
    assert_eq!(code, 0, "a 20 s shutdown over one silent exec\n{out}\n{err}");
    assert!(!err.contains("Timed out waiting on socket") && !err.contains("lost"), "{err}");
    let list = h.ssh_ok(1, "xm list");
    assert!(!list.contains("quiet") && list.lines().count() == 2, "stopped: {list}");
}
