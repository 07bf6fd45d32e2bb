//! A slow and a wedged xend (issue 13 item 4): the simulator's per-call delay and hang mode
//! (`crates/xmsim/src/pace.rs`) against domform's per-host time limits.
//!
//! No test asserts how long something took; each domform run has an outer guard that kills it
//! after [`GUARD`] so a regression (waiting forever on a hung host) fails instead of hanging.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{can_run, domform, domform_bin, TestHosts};

const GUARD: Duration = Duration::from_secs(120);

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// hosts.yaml with `observe_timeout` and `step_timeout` on every host, and `vms`.
fn estate(h: &TestHosts, name: &str, observe: u32, step: u32, vms: &str) -> PathBuf {
    estate_with(h, name, &format!("    observe_timeout: {observe}\n    step_timeout: {step}\n"), vms)
}

/// hosts.yaml with `extra` host lines on every host, and `vms`.
fn estate_with(h: &TestHosts, name: &str, extra: &str, vms: &str) -> PathBuf {
    let dir = h.path().join(name);
    let _ = std::fs::create_dir(&dir);
    let hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    let limits = format!("    toolstack: xm\n{extra}");
    std::fs::write(dir.join("hosts.yaml"), hosts.replace("    toolstack: xm\n", &limits)).expect("write");
    std::fs::write(dir.join("vms.yaml"), vms).expect("write");
    dir
}

fn vm(name: &str, host: &str) -> String {
    format!(
        "  {name}:\n    host: {host}\n    memory: 256MiB\n    vcpus: 1\n    disks: [{{ name: system, size: 64MiB }}]\n"
    )
}

/// domform with `args`, killed (and the test failed) if it has not returned within [`GUARD`].
fn guarded(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(domform_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn domform");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "domform {args:?} still waiting after {GUARD:?} (a hung host held it):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `xm`/`xl` processes still running inside host `i` (its network namespace).
fn xm_processes(h: &TestHosts, i: usize) -> Vec<String> {
    let tag = std::fs::read_to_string(h.path().join("state"))
        .expect("state")
        .lines()
        .find_map(|l| l.strip_prefix("tag=").map(str::to_string))
        .expect("tag");
    let out = Command::new("ip").args(["netns", "pids", &format!("df-{tag}-{i}")]).output().expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|pid| std::fs::read(format!("/proc/{}/cmdline", pid.trim())).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim().to_string())
        .filter(|c| c.starts_with("xm ") || c.starts_with("xl ") || c.contains("/xm ") || c.contains("/xl "))
        .collect()
}

/// Waits (up to [`GUARD`]) until host `i` runs no `xm`: the host-side watchdog killed the hung calls.
fn hung_calls_end(h: &TestHosts, i: usize) {
    let start = Instant::now();
    loop {
        let left = xm_processes(h, i);
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < GUARD, "h{i}: hung xm calls were never killed: {left:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_wedged_xend_is_named_and_the_other_hosts_still_plan_list_and_apply() {
    if !can_run("a_wedged_xend_is_named_and_the_other_hosts_still_plan_list_and_apply") {
        return;
    }
    let h = TestHosts::up(3, &[]);
    let dir = estate(&h, "e", 3, 60, &format!("vms:\n{}{}{}", vm("v1", "h1"), vm("v2", "h2"), vm("v3", "h3")));
    h.exec_ok(2, "touch /var/lib/xmsim/hang");

    let (code, out, err) = guarded(&["plan", "-f", s(&dir)]);
    assert_eq!(code, 1, "a timed-out host fails the plan:\n{out}{err}");
    assert!(
        err.contains(
            "host h2: observe timed out after 3 s (observe_timeout) while running `xm info -n` and `xm list -l`"
        ),
        "names the host, the limit and the hung calls:\n{err}"
    );
    assert!(err.contains("finished before: "), "says what had finished:\n{err}");
    for other in ["h1", "h3"] {
        assert!(out.contains(&format!("Host {other}:")), "{other}'s plan is printed:\n{out}");
    }
    assert!(out.contains("+ vm v1") || out.contains("v1"), "{out}");
    assert!(!err.contains("host h1") && !err.contains("host h3"), "only h2 failed:\n{err}");

    let (code, out, err) = guarded(&["list", "-f", s(&dir)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("host h2: observe timed out after 3 s (observe_timeout)"), "{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("Domain-0")).collect();
    assert_eq!(rows.len(), 2, "h1's and h3's Domain-0 are listed:\n{out}");
    assert!(rows.iter().all(|r| !r.starts_with("h2")), "{out}");

    // apply: h2 is left out and named, h1 and h3 are applied, exit 1.
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("error: host h2: observe timed out after 3 s (observe_timeout)"), "{err}");
    assert!(out.contains("✓ power/v1") && out.contains("✓ power/v3"), "the other hosts applied:\n{out}");
    assert!(out.contains("Host h2 (1 exec):\n  error: host h2: observe timed out"), "{out}");
    assert!(out.contains("Apply FAILED"), "{out}");

    // The host-side watchdog ends the hung xm calls; unwedged, the host plans and converges.
    hung_calls_end(&h, 2);
    h.exec_ok(2, "rm -f /var/lib/xmsim/hang");
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = guarded(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}{err}");
}

#[test]
fn a_step_that_hangs_is_reported_with_what_ran_and_the_other_hosts_apply() {
    if !can_run("a_step_that_hangs_is_reported_with_what_ran_and_the_other_hosts_apply") {
        return;
    }
    let h = TestHosts::up(2, &[]);
    let dir = estate(&h, "e", 30, 4, &format!("vms:\n{}{}", vm("v1", "h1"), vm("v2", "h2")));
    // Observe (xm info, xm list) answers on h2; starting the VM wedges.
    h.exec_ok(2, "echo create > /var/lib/xmsim/hang");

    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    // The apply report (after the plan): "Host h1 (1 exec):" … "Host h2 (1 exec):" …
    let report = out.split_once("Host h1 (").map(|x| x.1).unwrap_or_default();
    let (h1, h2) = report.split_once("Host h2 (").unwrap_or_default();
    assert!(h1.contains("✓ power/v1") && !h1.contains('✗') && !h1.contains('⏱'), "h1 applied:\n{out}");
    let timed: Vec<&str> = h2.lines().filter(|l| l.contains("⏱")).collect();
    assert_eq!(timed.len(), 1, "one step timed out on h2:\n{out}");
    assert!(timed[0].contains("power/v2 timed out after 4 s (step_timeout)"), "{out}");
    assert!(h2.contains("✓ "), "the steps before it are reported done:\n{out}");
    assert!(
        h2.contains("error: host h2: apply timed out after 4 s (step_timeout) in step `")
            && h2.contains("done before it: `"),
        "the host error names the step and what ran:\n{out}"
    );
    assert_eq!(h.ssh_ok(1, "xm list | wc -l").trim(), "3", "h1 runs its VM (header, Domain-0, v1)");

    // The wedged `xm create` was killed on the host; nothing is retried, the next apply converges.
    hung_calls_end(&h, 2);
    h.exec_ok(2, "rm -f /var/lib/xmsim/hang");
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}{err}");
}

#[test]
fn with_a_slow_xend_apply_converges_and_plan_says_no_changes() {
    if !can_run("with_a_slow_xend_apply_converges_and_plan_says_no_changes") {
        return;
    }
    let h = TestHosts::up(2, &["--xm-delay", "1"]);
    assert_eq!(h.exec_ok(1, "cat /var/lib/xmsim/delay").trim(), "1", "the delay is installed");
    let vms = format!("vms:\n{}{}{}", vm("s1", "h1"), vm("s2", "h1"), vm("s3", "h2"));
    let dir = estate(&h, "e", 30, 60, &vms);
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = guarded(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "no changes after apply:\n{out}{err}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out, err) = guarded(&["list", "-f", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains(" running")).count(), 3 + 2, "3 VMs and 2 Domain-0:\n{out}");
}

/// The system-ssh transport follows the same limits: a wedged observe and a wedged step are
/// given up (its `ssh` client killed), named, and the other host finishes.
#[test]
fn the_openssh_transport_gives_up_on_a_wedged_xend_too() {
    if !can_run("the_openssh_transport_gives_up_on_a_wedged_xend_too") {
        return;
    }
    let h = TestHosts::up(2, &[]);
    let config = h.path().join("ssh_config");
    std::fs::write(&config, "# empty: everything comes from hosts.yaml\n").expect("ssh_config");
    let extra = format!(
        "    observe_timeout: 3\n    step_timeout: 4\n    transport: openssh\n    ssh_config: {}\n",
        config.display()
    );
    let dir = estate_with(&h, "e", &extra, &format!("vms:\n{}{}", vm("o1", "h1"), vm("o2", "h2")));
    h.exec_ok(2, "touch /var/lib/xmsim/hang");
    let (code, out, err) = guarded(&["plan", "-f", s(&dir)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("host h2: observe timed out after 3 s (observe_timeout) while running `xm info -n`"), "{err}");
    assert!(out.contains("Host h1:"), "{out}");
    hung_calls_end(&h, 2);
    h.exec_ok(2, "echo create > /var/lib/xmsim/hang");
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("✓ power/o1"), "{out}");
    assert!(out.contains("⏱ power/o2 timed out after 4 s (step_timeout)"), "{out}");
    hung_calls_end(&h, 2);
    h.exec_ok(2, "rm -f /var/lib/xmsim/hang");
    let (code, out, err) = guarded(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
}
