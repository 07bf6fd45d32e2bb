//! `managers:`: validation of the YAML, and the planner on observed WebLogic domains
//! (tests/fixtures/weblogic/, written from the schema, not captured from an OVM Manager).

use domform::diag::Diagnostic;
use domform::manifest;
use domform::model::Model;
use domform::observe::Observed;
use domform::plan::{self, Action, HostPlan, Op, Resource};
use domform::target::manager::{ManagerFile, ManagerObserved};

const FIXTURE: &str = include_str!("fixtures/weblogic/OVMDS-jdbc.xml");
const CONFIG: &str = include_str!("fixtures/weblogic/config.xml");
const DOMAIN: &str = "/u01/app/oracle/ovm-manager-3/machine1/base_adf_domain";

const DG: &str = "managers:
  ovmm1:
    address: 10.0.0.9
    version: \"3.0\"
    database:
      service: ovs_rw
      addresses:
        - { host: prim-scan, port: 1521 }
        - { host: stby-scan }
      connect_timeout: 5
      retry_count: 3
      pool:
        test_connections_on_reserve: true
        test_frequency_seconds: 120
        test_table_name: SQL SELECT 1 FROM DUAL
";

fn load(yaml: &str) -> Result<Model, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.yaml");
    std::fs::write(&path, yaml).expect("write");
    manifest::load(&[path])
}

fn model(yaml: &str) -> Model {
    load(yaml).unwrap_or_else(|e| panic!("should load: {e:#?}"))
}

fn errors(yaml: &str) -> Vec<Diagnostic> {
    load(yaml).expect_err("should fail").into_iter().filter(Diagnostic::is_error).collect()
}

fn observed(files: &[(&str, &str)]) -> Observed {
    Observed {
        host: "ovmm1".into(),
        manager: Some(ManagerObserved {
            domain: DOMAIN.into(),
            domain_exists: true,
            config_xml: Some(CONFIG.into()),
            modules: files
                .iter()
                .map(|(n, t)| ManagerFile { path: format!("{DOMAIN}/config/jdbc/{n}"), text: t.to_string() })
                .collect(),
        }),
        ..Observed::default()
    }
}

fn plan(yaml: &str, files: &[(&str, &str)]) -> HostPlan {
    plan::plan_host(&model(yaml), &observed(files))
}

#[test]
fn a_manager_loads_with_defaults() {
    let m = model(DG);
    let mg = m.managers.get("ovmm1").expect("ovmm1");
    assert_eq!(mg.domain, DOMAIN);
    assert_eq!(mg.restart_command, "/etc/init.d/ovmm stop ; /etc/init.d/ovmm start");
    assert!(!mg.restart);
    assert_eq!(mg.conn.user, "root");
    assert_eq!(mg.database.connect.addresses[1].port, 1521);
    assert!(m.hosts.is_empty());
}

#[test]
fn unknown_keys_are_located_with_a_suggestion() {
    let errs = errors(&DG.replace("      retry_count: 3", "      retry_cuont: 3"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("unknown key `retry_cuont`"), "{errs:#?}");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `retry_count`?"));
    assert_eq!(errs[0].location.as_ref().map(|l| l.line), Some(11));
    let errs = errors(&DG.replace("  ovmm1:\n", "  ovmm1:\n    restrat: true\n"));
    assert!(errs[0].help.as_deref() == Some("did you mean `restart`?"), "{errs:#?}");
    let errs = errors(&DG.replace("managers:", "manager:"));
    assert!(errs[0].help.as_deref() == Some("did you mean `managers`?"), "{errs:#?}");
}

#[test]
fn semantic_checks() {
    let cases: &[(&str, &str, &str)] = &[
        ("version: \"3.0\"", "version: \"3.2\"", "set `domain`"),
        ("version: \"3.0\"", "version: \"2.2\"", "not an Oracle VM Manager 3 version"),
        ("service: ovs_rw", "service: \"ovs rw\"", "service name"),
        ("host: prim-scan, port: 1521", "host: \"prim (scan)\", port: 1521", "Oracle Net address"),
        ("host: prim-scan, port: 1521", "host: prim-scan, port: 0", "1-65535"),
        (
            "        - { host: prim-scan, port: 1521 }\n        - { host: stby-scan }\n",
            "        []\n",
            "at least one address",
        ),
        ("    version: \"3.0\"", "    version: \"3.0\"\n    domain: relative/path", "absolute path"),
        ("    version: \"3.0\"", "    version: \"3.0\"\n    data_source: ../x.xml", "file name"),
        ("connect_timeout: 5", "connect_timeout: 0", "at least 1 second"),
    ];
    for (from, to, needle) in cases {
        let yaml = DG.replace(from, to);
        assert_ne!(yaml, DG, "{from}");
        let errs = errors(&yaml);
        assert!(
            errs.iter().any(|e| e.message.contains(needle) || e.help.as_deref().is_some_and(|h| h.contains(needle))),
            "{needle}: {errs:#?}"
        );
        assert!(errs.iter().all(|e| e.location.is_some()), "{errs:#?}");
    }
    let with_host = format!("hosts:\n  ovmm1:\n    address: 10.0.0.1\n    repository: /OVS/Repositories/r\n{DG}");
    assert!(errors(&with_host)[0].message.contains("has the name of a host"));
    // 3.2 with a domain is fine; 3.3 loads (the planner refuses it, with its reason).
    model(&DG.replace("version: \"3.0\"", "version: \"3.2\"\n    domain: /u01/x/base_adf_domain"));
    model(&DG.replace("version: \"3.0\"", "version: \"3.3\""));
}

#[test]
fn warns_when_failover_has_no_connection_testing() {
    let m = model(&DG.replace("        test_connections_on_reserve: true\n", ""));
    assert!(
        m.warnings.iter().any(|w| w.message.contains("only replaced when WebLogic tests them")),
        "{:#?}",
        m.warnings
    );
}

#[test]
fn sid_url_becomes_a_data_guard_descriptor_then_nothing() {
    let hp = plan(DG, &[("OVMDS-jdbc.xml", FIXTURE)]);
    assert!(hp.errors.is_empty(), "{:#?}", hp.errors);
    assert_eq!(hp.changes.len(), 1, "no restart without restart: true");
    let c = &hp.changes[0];
    assert_eq!((c.resource, c.action, c.id.as_str()), (Resource::Manager, Action::Update, "manager/ovmm1"));
    let fields: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["url", "test-frequency-seconds", "test-connections-on-reserve", "test-table-name"]);
    assert!(hp.notes.iter().any(|n| n.contains("restart it")), "{:#?}", hp.notes);
    let Op::ReplaceFile { path, content } = &c.ops[0] else { panic!("{:?}", c.ops) };
    assert_eq!(path, &format!("{DOMAIN}/config/jdbc/OVMDS-jdbc.xml"));
    assert!(content.contains("{AES}k3Xq9mB0"), "the password is kept as it was");
    // Applied: the next plan is empty.
    let again = plan(DG, &[("OVMDS-jdbc.xml", content)]);
    assert!(again.changes.is_empty() && again.errors.is_empty(), "{again:#?}");
}

#[test]
fn a_matching_file_written_by_hand_is_no_change() {
    let by_hand = FIXTURE
        .replace(
            "<url>jdbc:oracle:thin:@dbhost:1521:XE</url>",
            "<url>jdbc:oracle:thin:@(description=(connect_timeout=5)(retry_count=3)\n      (address_list=(failover=on)(load_balance=off)\n      \
             (address=(protocol=tcp)(host=prim-scan)(port=1521))\n      (address=(protocol=tcp)(host=stby-scan)(port=1521)))\n      \
             (connect_data=(service_name=ovs_rw)))</url>",
        )
        .replace("<test-frequency-seconds>0<", "<test-frequency-seconds> 120 <")
        .replace(
            "    <statement-cache-size>",
            "    <test-connections-on-reserve>True</test-connections-on-reserve>\n    <test-table-name>SQL SELECT 1 FROM DUAL</test-table-name>\n    <statement-cache-size>",
        );
    let hp = plan(DG, &[("OVMDS-jdbc.xml", &by_hand)]);
    assert!(hp.changes.is_empty() && hp.errors.is_empty(), "{hp:#?}");
}

#[test]
fn restart_is_a_separate_change_after_the_write() {
    let yaml = DG
        .replace("    version: \"3.0\"", "    version: \"3.0\"\n    restart: true\n    restart_command: touch /tmp/x");
    let hp = plan(&yaml, &[("OVMDS-jdbc.xml", FIXTURE)]);
    let ids: Vec<&str> = hp.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["manager/ovmm1", "restart/ovmm1"]);
    assert_eq!(hp.changes[1].action, Action::Restart);
    assert_eq!(hp.changes[1].ops, [Op::RunCommand { command: "touch /tmp/x".into() }]);
    assert!(hp.notes.is_empty());
}

#[test]
fn refusals_name_the_manager_and_the_reason() {
    let v33 = plan(&DG.replace("version: \"3.0\"", "version: \"3.3\""), &[("OVMDS-jdbc.xml", FIXTURE)]);
    assert!(v33.changes.is_empty());
    assert!(v33.errors[0].contains("manager `ovmm1`") && v33.errors[0].contains("bundled MySQL"), "{:?}", v33.errors);

    let mysql = FIXTURE.replace("jdbc:oracle:thin:@dbhost:1521:XE", "jdbc:mysql://localhost:49500/ovs");
    let hp = plan(DG, &[("OVMDS-jdbc.xml", &mysql)]);
    assert!(hp.errors[0].contains("MySQL"), "{:?}", hp.errors);

    // Two candidates: config.xml lists both, both have the ovs user.
    let config2 = CONFIG.replace(
        "  <admin-server-name>",
        "  <jdbc-system-resource>\n    <name>Other</name>\n    <descriptor-file-name>jdbc/Other-jdbc.xml</descriptor-file-name>\n  </jdbc-system-resource>\n  <admin-server-name>",
    );
    let mut obs = observed(&[("OVMDS-jdbc.xml", FIXTURE), ("Other-jdbc.xml", FIXTURE)]);
    if let Some(m) = obs.manager.as_mut() {
        m.config_xml = Some(config2);
    }
    let hp = plan::plan_host(&model(DG), &obs);
    assert!(
        hp.errors[0].contains("several data sources") && hp.errors[0].contains("OVMDS-jdbc.xml, Other-jdbc.xml"),
        "{:?}",
        hp.errors
    );
    // Naming the module settles it.
    let named = DG.replace("    version: \"3.0\"", "    version: \"3.0\"\n    data_source: Other-jdbc.xml");
    let hp = plan::plan_host(&model(&named), &obs);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.changes[0].file.as_ref().is_some_and(|f| f.path.ends_with("/Other-jdbc.xml")));

    // Not listed in config.xml: a stray copy is not a candidate.
    let hp = plan(DG, &[("OVMDS-jdbc.xml", FIXTURE), ("Stray-jdbc.xml", FIXTURE)]);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);

    // Nothing identifiable.
    let other = FIXTURE
        .replace("<value>ovs</value>", "<value>app</value>")
        .replace("jdbc:oracle:thin:@dbhost:1521:XE", "jdbc:db2://x");
    let hp = plan(DG, &[("OVMDS-jdbc.xml", &other)]);
    assert!(hp.errors[0].contains("cannot identify") && hp.errors[0].contains("OVMDS-jdbc.xml"), "{:?}", hp.errors);

    let mut gone = observed(&[]);
    if let Some(m) = gone.manager.as_mut() {
        m.domain_exists = false;
    }
    let hp = plan::plan_host(&model(DG), &gone);
    assert!(hp.errors[0].contains("does not exist"), "{:?}", hp.errors);
}
