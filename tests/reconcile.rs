//! `domform reconcile` end to end on a local simulated host, without root: this crate's
//! binary acts as `xm` through a link (`tests/common/simhost.rs`), so the hand edits are real
//! `xm vcpu-pin` calls on the simulator and real edits of vm.cfg in a temporary repository.
//! The metrics file is checked by `promtool check metrics` (Debian's `prometheus`, installed by
//! `.ci/run`; required under CI=true, skipped loudly elsewhere).

#[path = "common/simhost.rs"]
mod simhost;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use simhost::{SimHost, Topology};

struct Estate {
    host: SimHost,
}

const POLICY: &str = "reconcile:\n  fix:\n    drift: [pinning, power]\n";

impl Estate {
    fn new() -> Estate {
        let e = Estate { host: SimHost::new("0004fb00000300000000000000d3e0d0", &Topology::default()) };
        e.write_yaml(256, POLICY, "");
        e
    }

    fn repo(&self) -> PathBuf {
        self.host.repo()
    }

    fn file(&self) -> String {
        self.host.root().join("domform.yaml").display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.host.root().join(name).display().to_string()
    }

    fn write_yaml(&self, memory: u32, policy: &str, more_hosts: &str) {
        let yaml = format!(
            "hosts:\n  h1:\n    transport: local\n    repository: {}\n{more_hosts}{policy}vms:\n  db01:\n    host: h1\n    \
             memory: {memory}MiB\n    vcpus: 2\n    cpus: \"2-3\"\n    disks:\n      - {{ name: system, size: 8MiB }}\n",
            self.repo().display()
        );
        std::fs::write(self.file(), yaml).expect("yaml");
    }

    /// Runs this binary (as `domform`, or as `xm` through the simulator's link) on the host.
    fn cmd(&self, xm: bool, args: &[&str]) -> Output {
        let bin = if xm { self.host.root().join("bin/xm") } else { PathBuf::from(env!("CARGO_BIN_EXE_domform")) };
        let out = Command::new(bin).args(args).envs(self.host.env()).stdin(std::process::Stdio::null()).output();
        out.expect("run")
    }

    fn domform(&self, args: &[&str]) -> (i32, String) {
        let out = self.cmd(false, args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn xm(&self, args: &[&str]) -> String {
        let out = self.cmd(true, args);
        assert!(out.status.success(), "xm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn cfg(&self) -> PathBuf {
        let dir = std::fs::read_dir(self.repo().join("VirtualMachines")).expect("VirtualMachines");
        dir.filter_map(Result::ok).map(|d| d.path().join("vm.cfg")).find(|p| p.exists()).expect("a vm.cfg")
    }

    /// The Xen name of db01 and its vCPUs' affinity, from `xm vcpu-list`.
    fn affinity(&self) -> (String, Vec<String>) {
        let list = self.xm(&["vcpu-list"]);
        let rows: Vec<Vec<&str>> = list
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .filter(|r: &Vec<&str>| r[0] != "Domain-0")
            .collect();
        (rows[0][0].to_string(), rows.iter().map(|r| r[r.len() - 1].to_string()).collect())
    }

    fn applied(&self) {
        let (code, out) = self.domform(&["apply", "-f", &self.file(), "--auto-approve"]);
        assert_eq!(code, 0, "{out}");
    }
}

fn edit_memory(cfg: &Path, mib: u32) {
    let text = std::fs::read_to_string(cfg).expect("vm.cfg");
    let edited: Vec<String> =
        text.lines().map(|l| if l.starts_with("memory") { format!("memory = {mib}") } else { l.to_string() }).collect();
    std::fs::write(cfg, edited.join("\n") + "\n").expect("edit vm.cfg");
}

/// `promtool check metrics` on `text`: `Some(problems)` when promtool ran, `None` when absent.
fn promtool(text: &str) -> Option<String> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    let problems = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some(if out.status.success() { problems } else { format!("exit {:?}: {problems}", out.status.code()) })
}

/// `promtool check metrics` accepts `m` (required under CI=true; skipped loudly elsewhere).
fn promtool_accepts(m: &str) {
    match promtool(m) {
        Some(problems) => assert!(problems.trim().is_empty(), "promtool check metrics: {problems}\n{m}"),
        None if std::env::var("CI").as_deref() == Ok("true") => panic!("promtool is required under CI=true"),
        None => eprintln!("SKIPPED promtool check: promtool is not installed (apt-get install prometheus)"),
    }
}

#[test]
fn drift_is_labelled_pinning_fixed_memory_reported_and_metrics_valid() {
    let e = Estate::new();
    e.applied();
    let (dom, before) = e.affinity();
    assert_eq!(before, ["2-3", "2-3"]);
    edit_memory(&e.cfg(), 512);
    e.xm(&["vcpu-pin", &dom, "all", "4-5"]);
    assert_eq!(e.affinity().1, ["4-5", "4-5"], "the simulator took the hand pinning");

    let (code, out) = e.domform(&["plan", "-f", &e.file()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(update, drift)") && out.contains("Causes: 1 drift."), "both edits are drift:\n{out}");

    let (report, metrics) = (e.path("run.json"), e.path("domform.prom"));
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--report", &report, "--metrics", &metrics]);
    assert_eq!(code, 3, "changes left:\n{out}");
    assert!(out.contains("fixed vm/db01 [drift; pinning] cpus (live)"), "{out}");
    assert!(out.contains("left  vm/db01 [drift; memory] memory: the policy does not fix memory drift"), "{out}");
    assert_eq!(e.affinity().1, ["2-3", "2-3"], "the pinning was fixed");
    let cfg = std::fs::read_to_string(e.cfg()).expect("vm.cfg");
    assert!(cfg.contains("memory = 512"), "the memory was only reported:\n{cfg}");

    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!((r["format_version"].as_u64(), r["exit_code"].as_u64()), (Some(1), Some(3)));
    assert_eq!(r["outcome"], "changes-left");
    let h = &r["hosts"][0];
    assert_eq!((h["host"].as_str(), h["status"].as_str()), (Some("h1"), Some("ok")));
    assert_eq!(h["fixed"][0]["kinds"], serde_json::json!(["pinning"]));
    assert_eq!(h["fixed"][0]["cause"], "drift");
    assert_eq!(h["left"][0]["kinds"], serde_json::json!(["memory"]));
    assert_eq!(h["left"][0]["cause"], "drift");

    let m = std::fs::read_to_string(&metrics).expect("metrics");
    for line in [
        "domform_reconcile_changes{host=\"h1\",kind=\"pinning\",cause=\"drift\",result=\"fixed\"} 1",
        "domform_reconcile_changes{host=\"h1\",kind=\"memory\",cause=\"drift\",result=\"left\"} 1",
        "domform_reconcile_hosts{status=\"ok\"} 1",
        "domform_reconcile_hosts{status=\"unreachable\"} 0",
        "domform_reconcile_exit_code 3",
    ] {
        assert!(m.contains(line), "{line} missing:\n{m}");
    }
    assert!(m.contains("domform_reconcile_last_success_timestamp_seconds "), "{m}");
    promtool_accepts(&m);

    // Again, with nothing left the policy fixes: only the memory is reported; the dry run agrees.
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--dry-run"]);
    assert_eq!(code, 3, "{out}");
    assert!(!out.contains("fixed vm/") && out.contains("left  vm/db01 [drift; memory]"), "{out}");
}

#[test]
fn new_vms_need_their_own_policy_and_an_edited_yaml_is_intent_and_is_not_applied() {
    let e = Estate::new();
    // Never applied: every change is `new`, which a drift policy does not make.
    let (code, out) = e.domform(&["reconcile", "-f", &e.file()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("left  disk/db01/system [new; disks]") && out.contains("left  power/db01 [new; power]"));
    assert!(std::fs::read_dir(e.repo().join("VirtualMachines")).expect("dir").next().is_none(), "nothing made");
    e.write_yaml(256, "reconcile:\n  fix:\n    new: [disks, config, power, pinning, memory, vcpus]\n", "");
    let (code, out) = e.domform(&["reconcile", "-f", &e.file()]);
    assert_eq!(code, 0, "made disk, vm.cfg and start in order:\n{out}");
    assert_eq!(e.affinity().1, ["2-3", "2-3"], "{out}");
    e.write_yaml(384, "reconcile:\n  fix:\n    drift: [pinning, power, memory]\n", "");
    let (code, out) = e.domform(&["reconcile", "-f", &e.file()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("left  vm/db01 [intent; memory] memory: the policy does not fix memory intent"), "{out}");
    let cfg = std::fs::read_to_string(e.cfg()).expect("vm.cfg");
    assert!(cfg.contains("memory = 256"), "intent was applied unattended:\n{cfg}");
    // Allowed explicitly, it is made, and the next run has nothing left.
    e.write_yaml(384, "reconcile:\n  fix:\n    intent: [memory]\n", "");
    let (code, out) = e.domform(&["reconcile", "-f", &e.file()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fixed vm/db01 [intent; memory]"), "{out}");
    let (code, out) = e.domform(&["plan", "-f", &e.file(), "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged, record written: {out}");
}

#[test]
fn a_locked_host_waits_with_lock_timeout_and_an_unreachable_one_is_exit_5() {
    let e = Estate::new();
    e.applied();
    let lock = e.repo().join(".domform.lock");
    let hold = |secs: &str| {
        Command::new("flock").arg("-o").arg(&lock).args(["sleep", secs]).spawn().expect("flock(1) from util-linux")
    };
    let mut holder = hold("30");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, out) = e.domform(&["reconcile", "-f", &e.file()]);
    assert_eq!(code, 4, "locked:\n{out}");
    assert!(out.contains("h1: locked"), "{out}");
    let started = std::time::Instant::now();
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--lock-timeout", "2"]);
    assert_eq!(code, 4, "still locked at the deadline:\n{out}");
    let waited = started.elapsed();
    assert!(waited >= std::time::Duration::from_secs(2) && waited < std::time::Duration::from_secs(15), "{waited:?}");
    holder.kill().expect("kill");
    let _ = holder.wait();

    let mut holder = hold("2");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--lock-timeout", "30"]);
    let _ = holder.wait();
    assert_eq!(code, 0, "waited for the lock, then converged:\n{out}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "it did wait");

    let far =
        "  h2:\n    address: 127.0.0.1\n    port: 1\n    connect_timeout: 2\n    repository: /OVS/Repositories/x\n";
    e.write_yaml(256, POLICY, far);
    let metrics = e.path("m.prom");
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--metrics", &metrics]);
    assert_eq!(code, 5, "unreachable:\n{out}");
    assert!(out.contains("h1: ok") && out.contains("h2: unreachable"), "{out}");
    let m = std::fs::read_to_string(&metrics).expect("metrics");
    assert!(m.contains("domform_reconcile_hosts{status=\"unreachable\"} 1"), "{m}");
}

#[test]
fn a_policy_typo_is_a_located_error_and_still_leaves_metrics() {
    let e = Estate::new();
    e.write_yaml(256, "reconcile:\n  fix:\n    drift: [pining]\n", "");
    let (code, out) = e.domform(&["validate", "-f", &e.file()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did you mean `pinning`?") && out.contains("domform.yaml:7:13"), "{out}");
    // A schedule that cannot start still tells monitoring so.
    let metrics = e.path("m.prom");
    let (code, out) = e.domform(&["reconcile", "-f", &e.file(), "--metrics", &metrics]);
    assert_eq!(code, 1, "{out}");
    let m = std::fs::read_to_string(&metrics).expect("metrics of a run that could not start");
    assert!(m.contains("domform_reconcile_exit_code 1") && !m.contains("last_success"), "{m}");
    promtool_accepts(&m);
}
