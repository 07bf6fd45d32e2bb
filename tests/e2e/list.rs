//! `domform list` and observe over real SSH.

use crate::harness::{can_run, domform, TestHosts};

const OVM_ID: &str = "0004fb0000060000cfe2da48f9e2120e";
const LONG: &str = "scaqab10client01vm08.us.oracle.com-with-a-long-name";

/// Writes a vm.cfg (and its disk) on host `i` and optionally starts it with `xm create`.
fn make_vm(h: &TestHosts, i: usize, dir: &str, cfg: &str, start: bool) -> String {
    let repo = h.repository(i);
    let disk = format!("{repo}/VirtualDisks/{dir}.img");
    let cfg = cfg.replace("@DISK@", &disk);
    let path = format!("{repo}/VirtualMachines/{dir}/vm.cfg");
    let mut cmd =
        format!("mkdir -p {repo}/VirtualMachines/{dir} && truncate -s 1G {disk} && cat > {path} <<'EOF'\n{cfg}EOF\n");
    if start {
        cmd.push_str(&format!("xm create {path}\n"));
    }
    h.ssh_ok(i, &cmd);
    path
}

fn ovm_cfg() -> String {
    format!(
        "vif = ['mac=00:21:f6:5b:b5:f7,bridge=10238073c2']\nOVM_simple_name = 'ESXi-01'\nvnclisten = '127.0.0.1'\nserial = 'pty'\n\
         disk = ['file:@DISK@,xvda,w']\nvncunused = 1\nuuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'\non_reboot = 'restart'\n\
         cpu_weight = 27500\nmemory = 4096\ncpu_cap = 0\nmaxvcpus = 2\nOVM_high_availability = False\nvnc = 1\n\
         name = '{OVM_ID}'\nbuilder = 'hvm'\nvcpus = 2\ncpus = '4-5'\nOVM_domain_type = 'xen_hvm'\n"
    )
}

/// The table form, one host only: fitted to 100 columns, the long name cut; `--wide` whole.
fn tables_fit_and_wide_shows_all(hosts: &std::path::Path) {
    let (code, table, _) = domform(&["list", "-f", hosts.to_str().expect("utf-8"), "--host", "h1"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("HOST  "), "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 100), "fits 100 columns:\n{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("ESXi-01") && l.contains(OVM_ID) && l.contains("running") && l.contains("0:4-5 1:5")),
        "{table}"
    );
    assert!(table.lines().any(|l| l.contains(&LONG[..10]) && l.contains('…')), "{table}");
    assert!(!table.contains("/OVS/Repositories"), "no paths by default: {table}");
    assert!(!table.contains("h2"), "--host h1 only: {table}");
    // --wide: every cell whole, the vm.cfg path too.
    let (code, wide, _) = domform(&["list", "-f", hosts.to_str().expect("utf-8"), "--host", "h1", "--wide"]);
    assert_eq!(code, 0);
    assert!(wide.lines().any(|l| l.contains(LONG) && l.contains("/OVS/Repositories/")), "{wide}");
    assert!(!wide.contains('…'), "{wide}");
}

#[test]
fn list_shows_ovm_long_named_and_stopped_vms_and_reports_broken_cfgs() {
    if !can_run("list_shows_ovm_long_named_and_stopped_vms_and_reports_broken_cfgs") {
        return;
    }
    let h = TestHosts::up(2, &["--cpus", "8"]);
    make_vm(&h, 1, OVM_ID, &ovm_cfg(), true);
    make_vm(
        &h,
        1,
        "long",
        &format!("name = '{LONG}'\nmemory = '1024'\nvcpus = 1\ndisk = ['file:@DISK@,xvda,w']\n"),
        true,
    );
    make_vm(
        &h,
        1,
        "stopped",
        "name = 'stopped01'\nOVM_simple_name = 'idle'\nmemory = 512\nvcpus = 1\ndisk = []\n",
        false,
    );
    // Pin the long-named VM by hand: live pinning differs from its (absent) configured pinning.
    h.ssh_ok(1, &format!("xm vcpu-pin {LONG} all 6-7"));
    // And one vCPU of ESXi-01: live pinning now differs between its vCPUs.
    h.ssh_ok(1, &format!("xm vcpu-pin {OVM_ID} 1 5"));
    let broken = make_vm(&h, 2, "broken", "name = 'broken'\nmemory = (\n", false);

    let hosts = h.hosts_yaml();
    let (code, out, err) = domform(&["list", "-f", hosts.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(code, 1, "a broken vm.cfg makes list fail after printing the rest: {err}");
    assert!(err.contains(&format!("h2:{broken}:2:")), "the error names host, file and line: {err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json on stdout");
    let vms = doc["vms"].as_array().expect("vms");
    let find = |name: &str| {
        vms.iter().find(|v| v["simple_name"] == name).unwrap_or_else(|| panic!("{name} not listed: {out}"))
    };

    let esxi = find("ESXi-01");
    assert_eq!(esxi["host"], "h1");
    assert_eq!(esxi["xen_name"], OVM_ID);
    assert_eq!(esxi["uuid"], "0004fb00-0006-0000-cfe2-da48f9e2120e");
    assert_eq!(esxi["state"], "running");
    assert_eq!(esxi["memory_mib"], 4096);
    assert_eq!(esxi["vcpus"], 2);
    assert_eq!(esxi["cpus_configured"], "4-5");
    assert_eq!(esxi["cpus_live"], "0:4-5 1:5", "per vCPU in the one CPU-set notation");
    assert_eq!(doc["format_version"], 2);
    assert!(esxi["id"].as_u64().is_some_and(|id| id > 0));
    assert!(esxi["repository"].as_str().is_some_and(|r| r.starts_with("/OVS/Repositories/0004fb0000030000")));

    let long = find(LONG);
    assert_eq!(long["xen_name"], LONG);
    assert_eq!(long["memory_mib"], 1024);
    assert_eq!(long["cpus_configured"], serde_json::Value::Null);
    assert_eq!(long["cpus_live"], "6-7");
    assert!(long["id"].as_u64() > esxi["id"].as_u64(), "domain ids grow");

    let idle = find("idle");
    assert_eq!(idle["state"], "stopped");
    assert_eq!(idle["id"], serde_json::Value::Null);

    let dom0 = vms.iter().filter(|v| v["simple_name"] == "Domain-0").count();
    assert_eq!(dom0, 2, "Domain-0 of both hosts");

    tables_fit_and_wide_shows_all(&hosts);
}

#[test]
fn observe_uses_exactly_one_exec_per_host() {
    if !can_run("observe_uses_exactly_one_exec_per_host") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    make_vm(&h, 1, OVM_ID, &ovm_cfg(), true);
    let model = domform::manifest::load(&[h.hosts_yaml()]).expect("hosts.yaml loads");
    let host = &model.hosts["h1"];
    let mut t =
        domform::transport::ssh::SshTransport::connect(host).expect("ssh connects with the known_hosts of testhosts");
    let req = domform::observe::request_for(host, vec![]);
    let obs = domform::observe::observe(&mut t, &req).expect("observe");
    use domform::transport::Transport;
    assert_eq!(t.exec_count(), 1, "one round trip for the whole observe phase");
    assert!(obs.problems.is_empty(), "{:?}", obs.problems);
    assert_eq!(obs.cfgs.len(), 1);
    assert_eq!(obs.domains.len(), 2, "Domain-0 and the VM");
    assert_eq!(obs.info.as_ref().map(|i| i.nr_cpus), Some(8));
    assert_eq!(obs.repos[0].fs_type.as_deref(), Some("xfs"));
    assert!(obs.files.keys().any(|p| p.ends_with(&format!("{OVM_ID}.img"))));
}

#[test]
fn unreachable_host_is_reported_and_others_complete() {
    if !can_run("unreachable_host_is_reported_and_others_complete") {
        return;
    }
    let h = TestHosts::up(2, &[]);
    h.ssh_ok(2, "true");
    // Stop host 2's sshd: its namespace stays, nothing answers on port 22.
    let pid = std::fs::read_to_string(h.path().join("h2/sshd.pid")).expect("sshd.pid");
    let out = std::process::Command::new("kill").arg(pid.trim()).output().expect("kill");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // SIGTERM is asynchronous: wait until nothing answers on h2's port 22.
    let yaml = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml");
    let addr = yaml
        .split("  h2:")
        .nth(1)
        .and_then(|t| t.lines().find_map(|l| l.trim().strip_prefix("address: ")))
        .expect("h2 address")
        .to_string();
    let target: std::net::SocketAddr = format!("{addr}:22").parse().expect("socket address");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_millis(200)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "sshd on h2 did not stop");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, out, err) = domform(&["list", "-f", h.hosts_yaml().to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("cannot connect to h2"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(doc["vms"].as_array().expect("vms").iter().any(|v| v["host"] == "h1"), "h1 still listed: {out}");
}

#[test]
fn the_xl_toolstack_plans_applies_and_lists() {
    if !can_run("the_xl_toolstack_plans_applies_and_lists") {
        return;
    }
    let h = TestHosts::up(1, &["--cpus", "8"]);
    let dir = h.path().join("xl");
    std::fs::create_dir(&dir).expect("mkdir");
    let hosts = std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml").replace("toolstack: xm", "toolstack: xl");
    assert!(hosts.contains("toolstack: xl"));
    std::fs::write(dir.join("hosts.yaml"), hosts).expect("write");
    std::fs::write(dir.join("vms.yaml"), "vms:\n  x1:\n    host: h1\n    memory: 512MiB\n    vcpus: 2\n    cpus: \"4-5\"\n    disks: [{ name: system, size: 64MiB }]\n").expect("write");
    let d = dir.to_str().expect("utf-8");
    h.ssh_ok(1, ": > /var/lib/xmsim/commands.log");
    let (code, out, err) = domform(&["apply", "-f", d, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = domform(&["plan", "-f", d, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}{err}");
    let log = h.ssh_ok(1, "cat /var/lib/xmsim/commands.log");
    assert!(log.lines().any(|l| l.contains(" xl create ")), "xl was used: {log}");
    assert!(!log.lines().any(|l| l.contains(" xm ")), "xm was not: {log}");
    let (code, json, _) = domform(&["list", "-f", d, "--format", "json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let x1 = doc["vms"].as_array().expect("vms").iter().find(|v| v["simple_name"] == "x1").cloned().expect("x1 listed");
    assert_eq!(
        (x1["state"].as_str(), x1["cpus_live"].as_str(), x1["vcpus"].as_u64()),
        (Some("running"), Some("4-5"), Some(2))
    );
}
