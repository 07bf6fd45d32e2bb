//! OVM Manager repository database (`managers:`) on a real SSH test host.
//!
//! The test host has no WebLogic: the domain is just files written over ssh, laid out as in
//! the facts (§7.2) with the fixture module (tests/fixtures/weblogic/, written from the
//! WebLogic schema, not captured from an OVM Manager). The domain lives on the host's private
//! /OVS file system so parallel test runs never share it.

use std::path::{Path, PathBuf};

use crate::harness::{can_run, domform, repo_root, TestHosts};

const DOMAIN: &str = "/OVS/u01/app/oracle/ovm-manager-3/machine1/base_adf_domain";
const MODULE: &str = "/OVS/u01/app/oracle/ovm-manager-3/machine1/base_adf_domain/config/jdbc/OVMDS-jdbc.xml";
const MARKER: &str = "/OVS/u01/restart-marker";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/weblogic").join(name)).expect("fixture")
}

/// Writes the WebLogic domain on host 1, the module with mode 0640.
fn write_domain(h: &TestHosts, module: &str) {
    let put = |path: &str, text: &str| {
        h.ssh_ok(
            1,
            &format!(
                "mkdir -p \"$(dirname {path})\" && cat > {path} <<'DOMFORM_FIXTURE_EOF'\n{text}DOMFORM_FIXTURE_EOF\n"
            ),
        );
    };
    put(&format!("{DOMAIN}/config/config.xml"), &fixture("config.xml"));
    put(MODULE, module);
    h.ssh_ok(1, &format!("chmod 0640 {MODULE}"));
}

/// A folder with the test hosts' hosts.yaml and a managers.yaml for a Manager on host 1.
fn estate(h: &TestHosts, tag: &str, version: &str, restart: bool, test_frequency: u32) -> PathBuf {
    let dir = h.path().join(format!("estate-{tag}"));
    let _ = std::fs::create_dir(&dir);
    std::fs::copy(h.hosts_yaml(), dir.join("hosts.yaml")).expect("copy");
    let hosts: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(h.hosts_yaml()).expect("hosts.yaml")).expect("yaml");
    let h1 = &hosts["hosts"]["h1"];
    let field = |k: &str| serde_yaml::to_string(&h1[k]).expect("value").trim().to_string();
    let yaml = format!(
        "managers:
  ovmm1:
    address: {}
    port: {}
    user: {}
    identity_file: {}
    known_hosts: {}
    version: \"{version}\"
    domain: {DOMAIN}
    restart: {restart}
    restart_command: \"echo restarted >> {MARKER}\"
    database:
      service: ovs_rw
      addresses:
        - {{ host: prim-scan.example.com, port: 1521 }}
        - {{ host: stby-scan.example.com, port: 1521 }}
      failover: true
      load_balance: false
      connect_timeout: 5
      retry_count: 3
      pool:
        test_connections_on_reserve: true
        test_frequency_seconds: {test_frequency}
        test_table_name: SQL SELECT 1 FROM DUAL
        connection_creation_retry_frequency_seconds: 30
",
        field("address"),
        field("port"),
        field("user"),
        field("identity_file"),
        field("known_hosts"),
    );
    std::fs::write(dir.join("managers.yaml"), yaml).expect("write");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// The text without the elements domform edits (each on its own line in the fixture).
fn without_managed(text: &str) -> String {
    let managed = [
        "<url>",
        "<test-frequency-seconds>",
        "<test-connections-on-reserve>",
        "<test-table-name>",
        "<connection-creation-retry-frequency-seconds>",
    ];
    text.split_inclusive('\n').filter(|l| !managed.iter().any(|m| l.contains(m))).collect()
}

const DG_URL: &str = "jdbc:oracle:thin:@(DESCRIPTION=(CONNECT_TIMEOUT=5)(RETRY_COUNT=3)(ADDRESS_LIST=(FAILOVER=ON)(LOAD_BALANCE=OFF)\
(ADDRESS=(PROTOCOL=TCP)(HOST=prim-scan.example.com)(PORT=1521))(ADDRESS=(PROTOCOL=TCP)(HOST=stby-scan.example.com)(PORT=1521)))\
(CONNECT_DATA=(SERVICE_NAME=ovs_rw)))";

#[test]
fn sid_url_becomes_data_guard_and_restart_runs_only_when_allowed() {
    if !can_run("sid_url_becomes_data_guard_and_restart_runs_only_when_allowed") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let before = fixture("OVMDS-jdbc.xml");
    write_domain(&h, &before);
    let dir = estate(&h, "no-restart", "3.2", false, 120);

    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("~ manager ovmm1 (update, needs restart)"), "{out}");
    assert!(out.contains(&format!("url: jdbc:oracle:thin:@dbhost:1521:XE → {DG_URL}")), "{out}");
    assert!(out.contains("test-connections-on-reserve: (none) → true"), "{out}");
    assert!(out.contains(&format!("+    <url>{DG_URL}</url>")), "unified diff of the XML: {out}");
    assert!(!out.contains("k3Xq9mB0"), "the encrypted password is redacted in plans: {out}");
    assert!(out.contains("restart it"), "the note says a restart is needed: {out}");
    // --limit works on managers and hosts alike.
    let (code, out, _) = domform(&["plan", "-f", s(&dir), "--limit", "h1", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    let (code, json, _) = domform(&["plan", "-f", s(&dir), "--limit", "ovmm1", "--format", "json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(doc["hosts"][0]["changes"][0]["resource"], "manager");
    assert_eq!(doc["hosts"][0]["changes"][0]["ops"][0]["op"], "replace-file");

    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ manager/ovmm1") && !out.contains("restart/ovmm1"), "{out}");
    let after = h.ssh_ok(1, &format!("cat {MODULE}"));
    assert!(after.contains(&format!("<url>{DG_URL}</url>")), "{after}");
    assert!(after.contains("<test-table-name>SQL SELECT 1 FROM DUAL</test-table-name>"), "{after}");
    assert_eq!(without_managed(&after), without_managed(&before), "nothing else in the file changed");
    assert_eq!(h.ssh_ok(1, &format!("cat {MODULE}.domform-bak")), before, "backup of the original");
    assert_eq!(h.ssh_ok(1, &format!("stat -c %a {MODULE}")).trim(), "640", "mode kept");
    assert_eq!(
        h.ssh_ok(1, &format!("test -e {MARKER} && echo yes || echo no")).trim(),
        "no",
        "no restart without restart: true"
    );

    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 0, "second plan is empty\n{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");

    // restart: true and a changed pool value: the write, then the restart, once.
    let dir = estate(&h, "restart", "3.2", true, 300);
    let (code, out, err) = domform(&["plan", "-f", s(&dir), "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("test-frequency-seconds: 120 → 300") && out.contains("⟳ manager ovmm1 (restart)"), "{out}");
    assert!(!out.contains("url:"), "the URL already matches: {out}");
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ manager/ovmm1") && out.contains("✓ restart/ovmm1"), "{out}");
    assert_eq!(h.ssh_ok(1, &format!("cat {MARKER}")), "restarted\n");
    let (code, out, _) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 0);
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(h.ssh_ok(1, &format!("cat {MARKER}")), "restarted\n", "no restart when nothing changed");
}

#[test]
fn bundled_mysql_managers_are_refused() {
    if !can_run("bundled_mysql_managers_are_refused") {
        return;
    }
    let h = TestHosts::up(1, &[]);
    let before = fixture("OVMDS-jdbc.xml");
    write_domain(&h, &before);
    let dir = estate(&h, "v33", "3.3", true, 120);
    for cmd in ["plan", "apply"] {
        let args: Vec<&str> =
            if cmd == "plan" { vec![cmd, "-f", s(&dir)] } else { vec![cmd, "-f", s(&dir), "--auto-approve"] };
        let (code, out, err) = domform(&args);
        assert_eq!(code, 1, "{cmd}: {out}\n{err}");
        assert!(err.contains("manager `ovmm1`") && err.contains("bundled MySQL"), "{cmd}: {err}");
    }
    // Declared 3.2, but the data source says MySQL (a 3.2 Simple install).
    write_domain(&h, &before.replace("jdbc:oracle:thin:@dbhost:1521:XE", "jdbc:mysql://localhost:49500/ovs"));
    let dir = estate(&h, "mysql", "3.2", true, 120);
    let (code, out, err) = domform(&["apply", "-f", s(&dir), "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("connects to MySQL"), "{err}");
    let now = h.ssh_ok(1, &format!("cat {MODULE}"));
    assert!(now.contains("jdbc:mysql://localhost:49500/ovs"), "untouched: {now}");
    assert_eq!(h.ssh_ok(1, &format!("test -e {MARKER} && echo yes || echo no")).trim(), "no");
}
