//! Golden outputs of `list`: the fitted table, `--wide`, and JSON, from a hand-built host
//! (real `xm info -n` / `xm list -l` text shapes) with per-vCPU pinning on both sides.

use super::*;
use crate::observe::CfgFile;
use vmcfg::VmCfg;

const OVM: &str = "0004fb0000060000cfe2da48f9e2120e";
const LONG: &str = "scaqab10client01vm08.us.oracle.com-with-a-long-name";

fn dom(id: u32, name: &str, vcpus: u32, cpus: &str, state: &str) -> String {
    format!(
        "(domain\n    (domid {id})\n    (vcpus {vcpus})\n    (cpus {cpus})\n    (name {name})\n    \
         (maxmem 4096)\n    (memory 4096)\n    (online_vcpus {vcpus})\n    (image (hvm (kernel '')))\n    \
         (state {state})\n)\n"
    )
}

fn cfg(path: &str, text: &str) -> CfgFile {
    CfgFile { path: path.into(), text: text.into(), cfg: VmCfg::parse(text).expect("vm.cfg parses") }
}

fn host() -> Observed {
    let info = "host                   : lab1\nnr_cpus                : 8\nnr_nodes               : 1\n\
                cores_per_socket       : 4\nthreads_per_core       : 2\ncpu_mhz                : 2294\n\
                total_memory           : 65536\nfree_memory            : 30000\nxen_major              : 4\n\
                xen_minor              : 4\nxen_extra              : .4OVM\n";
    let sxp = [
        dom(0, "Domain-0", 2, "((0) (1))", "r-----"),
        dom(3, OVM, 2, "((4) (5))", "-b----"),
        dom(5, LONG, 2, "((6 7) (6 7))", "-b----"),
        dom(6, "free01", 1, "(())", "-b----"),
    ]
    .concat();
    let repo = "/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6/VirtualMachines";
    Observed {
        host: "ovs1".into(),
        info: Some(crate::xen::parse_xm_info(info).expect("xm info parses")),
        domains: crate::xen::parse_xm_list_long(&sxp).expect("xm list -l parses"),
        cfgs: vec![
            cfg(
                &format!("{repo}/{OVM}/vm.cfg"),
                &format!(
                    "name = '{OVM}'\nOVM_simple_name = 'db01'\nuuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'\n\
                     memory = 4096\nvcpus = 2\ncpus = ['4', '5']\n"
                ),
            ),
            cfg(&format!("{repo}/long/vm.cfg"), &format!("name = '{LONG}'\nmemory = 1024\nvcpus = 2\n")),
            cfg(
                &format!("{repo}/idle/vm.cfg"),
                "name = 'idle01'\nOVM_simple_name = 'idle'\nmemory = 512\nvcpus = 4\ncpus = '4-7,^5'\n",
            ),
        ],
        ..Observed::default()
    }
}

#[test]
fn rows_use_one_cpu_set_notation_for_configured_and_live_pinning() {
    let rows = rows(&host());
    let pins: Vec<(&str, Option<&str>, Option<&str>)> =
        rows.iter().map(|r| (r.simple_name.as_str(), r.cpus_configured.as_deref(), r.cpus_live.as_deref())).collect();
    assert_eq!(
        pins,
        [
            ("Domain-0", None, Some("0:0 1:1")),
            ("db01", Some("0:4 1:5"), Some("0:4 1:5")),
            ("free01", None, None),
            ("idle", Some("4,6-7"), None),
            (LONG, None, Some("6-7")),
        ]
    );
}

#[test]
fn table_fits_100_columns_and_cuts_long_names() {
    let want = "\
HOST  NAME            XEN NAME                          ID  STATE    MiB   VCPUS  CPUS     LIVE CPUS
ovs1  Domain-0        Domain-0                          0   running  4096  2      -        0:0 1:1
ovs1  db01            0004fb0000060000cfe2da48f9e2120e  3   running  4096  2      0:4 1:5  0:4 1:5
ovs1  free01          free01                            6   running  4096  1      -        -
ovs1  idle            idle01                            -   stopped  512   4      4,6-7    -
ovs1  scaqab10clien…  scaqab10client01vm08.us.oracle.…  5   running  4096  2      -        6-7
";
    let t = table(&rows(&host()), false);
    assert_eq!(t, want);
    assert!(t.lines().all(|l| l.chars().count() <= WIDTH), "{t}");
}

#[test]
fn wide_table_shows_every_cell_whole_with_uuid_and_config() {
    let want = "\
HOST  NAME                                                 XEN NAME                                             UUID                                  ID  STATE    MiB   VCPUS  CPUS     LIVE CPUS  CONFIG
ovs1  Domain-0                                             Domain-0                                             -                                     0   running  4096  2      -        0:0 1:1    -
ovs1  db01                                                 0004fb0000060000cfe2da48f9e2120e                     0004fb00-0006-0000-cfe2-da48f9e2120e  3   running  4096  2      0:4 1:5  0:4 1:5    /OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6/VirtualMachines/0004fb0000060000cfe2da48f9e2120e/vm.cfg
ovs1  free01                                               free01                                               -                                     6   running  4096  1      -        -          -
ovs1  idle                                                 idle01                                               -                                     -   stopped  512   4      4,6-7    -          /OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6/VirtualMachines/idle/vm.cfg
ovs1  scaqab10client01vm08.us.oracle.com-with-a-long-name  scaqab10client01vm08.us.oracle.com-with-a-long-name  -                                     5   running  4096  2      -        6-7        /OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6/VirtualMachines/long/vm.cfg
";
    let t = table(&rows(&host()), true);
    assert_eq!(t, want);
    assert!(!t.contains('…'), "nothing cut: {t}");
}

#[test]
fn json_golden() {
    let rows = rows(&host());
    let doc: serde_json::Value = serde_json::from_str(&json(&rows)).expect("json");
    assert_eq!(doc["format_version"], 2);
    let db01 = &doc["vms"][1];
    let want = serde_json::json!({
        "host": "ovs1", "simple_name": "db01", "xen_name": OVM,
        "uuid": "0004fb00-0006-0000-cfe2-da48f9e2120e", "id": 3, "state": "running",
        "memory_mib": 4096, "vcpus": 2, "cpus_configured": "0:4 1:5", "cpus_live": "0:4 1:5",
        "repository": "/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6",
        "config": format!("/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6/VirtualMachines/{OVM}/vm.cfg"),
    });
    assert_eq!(db01, &want);
    assert_eq!(doc["vms"][3]["cpus_configured"], "4,6-7");
    assert_eq!(doc["vms"][4]["cpus_live"], "6-7");
}

#[test]
fn configured_pinning_forms() {
    let text = |cfg: &str| {
        let c = VmCfg::parse(&format!("cpus = {cfg}\n")).expect("parses");
        c.get("cpus").and_then(cfg_cpus_text)
    };
    assert_eq!(text("'0-3,^1'").as_deref(), Some("0,2-3"));
    assert_eq!(text("['4', '5', '5']").as_deref(), Some("0:4 1-2:5"));
    assert_eq!(text("['6-7', '6,7']").as_deref(), Some("6-7"));
    assert_eq!(text("''"), None);
    // What xend could not read is shown as written, not hidden.
    assert_eq!(text("'4-x'").as_deref(), Some("4-x"));
    assert_eq!(text("[4, 5]").as_deref(), Some("[4, 5]"));
}
