//! Terminal output (issue 14): an `OVM_simple_name` with newlines and escape sequences once
//! drew fake rows in `list` and set the terminal title. Every host string is escaped in human
//! output: the list table, the plan, errors.

mod common;
use common::{info_text, DOM0};

use domform::diag::Diagnostic;
use domform::observe::{CfgFile, Observed};
use domform::plan::{self, Action, Change, FieldChange, HostPlan, Impact, Plan, Resource};
use domform::render;
use domform::xen;
use vmcfg::VmCfg;

/// A name that would set the title, clear the screen and draw a fake row.
const EVIL: &str = r"evil\x1b]0;pwned\x07\x1b[2J\nfake  row  running\x9b31m";

fn control(s: &str) -> Vec<char> {
    s.chars().filter(|c| c.is_control() && *c != '\n').collect()
}

fn observed() -> Observed {
    let text =
        format!("name = '0004fb00000600001111222233334444'\nOVM_simple_name = '{EVIL}'\nmemory = 1024\nvcpus = 1\n");
    let cfg = VmCfg::parse(&text).expect("cfg parses");
    assert!(cfg.get("OVM_simple_name").and_then(|v| v.as_str()).is_some_and(|n| n.contains('\x1b')));
    Observed {
        host: "h1".into(),
        info: Some(xen::parse_xm_info(&info_text()).expect("info")),
        domains: xen::parse_xm_list_long(DOM0).expect("dom0"),
        cfgs: vec![CfgFile { path: "/OVS/Repositories/r/VirtualMachines/x/vm.cfg".into(), text, cfg }],
        ..Observed::default()
    }
}

#[test]
fn list_escapes_host_names() {
    let rows = render::list::rows(&observed());
    for wide in [false, true] {
        let table = render::list::table(&rows, wide);
        assert!(control(&table).is_empty(), "control characters reach the terminal: {table:?}");
        assert_eq!(table.lines().count(), 1 + rows.len(), "a name drew extra rows:\n{table}");
    }
    // Escaped before a long name is cut, so the fitted table shows the escape's start.
    assert!(render::list::table(&rows, true).contains(r"evil\u{1b}]0;pwned\u{7}"));
    assert!(render::list::table(&rows, false).contains(r"evil\u{1b}"));
}

#[test]
fn plan_and_errors_escape_host_strings() {
    let name = "evil\x1b]0;pwned\x07\nfake";
    let change = Change {
        id: format!("vm/{name}"),
        resource: Resource::Vm,
        name: name.into(),
        action: Action::Update,
        impact: Impact::Live,
        fields: vec![FieldChange {
            field: "memory".into(),
            old: Some(name.into()),
            new: Some("\x1b[2J".into()),
            impact: Impact::Live,
        }],
        file: None,
        ops: vec![],
        depends_on: vec![],
        verify_pins: vec![],
        cause: None,
    };
    let hp = HostPlan { changes: vec![change], ..HostPlan::failed("h1", format!("vm.cfg of `{name}` is odd")) };
    let text = render::plan::human(&Plan { format_version: plan::FORMAT_VERSION, hosts: vec![hp] }, false);
    assert!(control(&text).is_empty(), "control characters reach the terminal: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("fake")), "a name drew a line:\n{text}");
    let d = Diagnostic::error(None, "vms.x", format!("host says {name}"));
    assert!(control(&d.to_string()).is_empty(), "{d}");
    assert!(!d.to_string().lines().any(|l| l.starts_with("fake")), "{d}");
}
