//! Every real-world sample parses, with the values the reconciler relies on,
//! and renders back byte-identically.

mod common;

use common::{sample, SAMPLES};
use vmcfg::{DiskSpec, Value, VmCfg};

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[test]
fn every_sample_parses_and_renders_byte_identically() {
    for (name, text) in SAMPLES {
        let cfg = common::parse(name, text);
        assert_eq!(cfg.render(), text, "{name} render differs");
        assert!(!cfg.keys().is_empty(), "{name} has keys");
    }
}

#[test]
fn every_sample_round_trips_values() {
    for (name, text) in SAMPLES {
        let cfg = common::parse(name, text);
        let again = common::parse(name, &cfg.render());
        assert_eq!(cfg.entries(), again.entries(), "{name}");
        // Rebuilding from entries gives the same values too.
        let owned: Vec<(&str, Value)> = cfg.entries().into_iter().map(|(k, v)| (k, v.clone())).collect();
        let fresh = VmCfg::from_entries(&owned);
        let reparsed = common::parse(name, &fresh.render());
        assert_eq!(reparsed.entries(), cfg.entries(), "{name} from_entries");
    }
}

#[test]
fn sample_01_ovm_hvm() {
    let cfg = sample(1);
    assert_eq!(cfg.get("memory"), Some(&Value::Int(4096)));
    assert_eq!(cfg.get("OVM_high_availability"), Some(&Value::Bool(false)));
    assert_eq!(cfg.get("vnc").and_then(Value::as_bool), Some(true));
    assert_eq!(cfg.get("OVM_description"), Some(&s("")));
    assert_eq!(cfg.get("builder").and_then(Value::as_str), Some("hvm"));
    assert_eq!(cfg.keys().first(), Some(&"vif"));
    assert_eq!(cfg.keys().last(), Some(&"OVM_domain_type"));
    assert_eq!(cfg.keys().len(), 26);
    assert_eq!(cfg.line_of("vif"), Some(2));
    assert_eq!(cfg.line_of("memory"), Some(12));
    let disks = cfg.get("disk").and_then(Value::as_list).unwrap_or_default();
    assert_eq!(disks.len(), 2);
    let iso = DiskSpec::parse(disks[1].as_str().unwrap_or_default());
    assert_eq!(iso.map(|d| (d.frontend, d.cdrom, d.mode)), Ok(("xvdb".into(), true, "r".into())));
}

#[test]
fn sample_02_exadata_pinned() {
    let cfg = sample(2);
    assert_eq!(cfg.get("memory"), Some(&s("65536")));
    assert_eq!(cfg.get("memory").and_then(Value::as_int), Some(65536));
    assert_eq!(cfg.get("cpus").and_then(Value::as_str), Some("12-19"));
    assert_eq!(cfg.get("cpus").and_then(Value::as_int), None);
    assert_eq!(cfg.get("acpi"), Some(&Value::Int(1)));
    let disks = cfg.get("disk").and_then(Value::as_list).unwrap_or_default();
    assert_eq!(disks.len(), 5);
    let d = DiskSpec::parse(disks[3].as_str().unwrap_or_default());
    assert_eq!(
        d.map(|d| d.path),
        Ok("/EXAVMIMAGES/GuestImages/scaqab10client01vm08.us.oracle.com/u02_extra.img".into())
    );
    let pkey = |port: &str| {
        Value::Dict(vec![
            (s("pf"), s("03:00.0")),
            (s("port"), s(port)),
            (s("pkey"), Value::List(vec![s("0x2a10"), s("0xa016")])),
        ])
    };
    assert_eq!(cfg.get("ib_pkeys"), Some(&Value::List(vec![pkey("1"), pkey("2")])));
    assert_eq!(cfg.get("ib_pfs"), Some(&Value::List(vec![s("03:00.0")])));
}

#[test]
fn sample_03_unicode_literal_in_list() {
    let cfg = sample(3);
    let disks = cfg.get("disk").and_then(Value::as_list).unwrap_or_default();
    assert_eq!(disks.len(), 4);
    assert_eq!(
        disks[3],
        s("file:///EXAVMIMAGES/GuestImages/scaqae08dv0302.usdv1.oraclecloud.com/u02_extra.img,xvdi,w")
    );
    assert_eq!(cfg.get("cpus").and_then(Value::as_str), Some("4-15"));
    assert_eq!(cfg.get("memory").and_then(Value::as_int), Some(61440));
}

#[test]
fn sample_04_partial_pv() {
    let cfg = sample(4);
    assert_eq!(cfg.keys().len(), 7);
    assert_eq!(cfg.get("vfb"), None, "commented-out vfb is not a key");
    assert_eq!(cfg.get("on_poweroff").and_then(Value::as_str), Some("destroy"));
}

#[test]
fn sample_05_cloudstack_pv() {
    let cfg = sample(5);
    assert_eq!(cfg.get("memory"), Some(&Value::Int(512)));
    let vfb = cfg.get("vfb").and_then(Value::as_list).unwrap_or_default();
    let kv = vmcfg::parse_kv_stanza(vfb[0].as_str().unwrap_or_default());
    assert_eq!(kv.len(), 5);
    assert_eq!(kv[4], ("vnclisten".to_string(), "0.0.0.0".to_string()));
    assert_eq!(cfg.get("bootloader").and_then(Value::as_str), Some("/usr/bin/pygrub"));
}

#[test]
fn sample_06_xm_example_double_quotes_and_comments() {
    let cfg = sample(6);
    assert_eq!(cfg.get("kernel").and_then(Value::as_str), Some("/boot/vmlinuz-xen"));
    assert_eq!(cfg.get("cpus"), None);
    assert_eq!(cfg.get("vcpus"), None);
    assert_eq!(cfg.get("vif"), Some(&Value::List(vec![s("")])));
    assert_eq!(cfg.get("extra"), Some(&s("")));
    assert_eq!(cfg.keys(), vec!["kernel", "ramdisk", "memory", "name", "vif", "disk", "extra"]);
}

#[test]
fn sample_07_duplicates_and_inline_comment() {
    let cfg = sample(7);
    assert_eq!(cfg.get("name").and_then(Value::as_str), Some("IntrepidPV"));
    assert_eq!(cfg.line_of("name"), Some(18));
    assert_eq!(cfg.get("memory"), Some(&Value::Int(4096)));
    assert_eq!(cfg.get("serial").and_then(Value::as_str), Some("pty"));
    assert_eq!(cfg.get("vnc"), Some(&Value::Int(1)));
    assert_eq!(cfg.get("boot").and_then(Value::as_str), Some("cd"));
    assert_eq!(cfg.get("vif"), Some(&Value::List(vec![s("bridge = eth0")])));
    // Distinct keys, first-appearance order, last value.
    let keys = cfg.keys();
    assert_eq!(keys.iter().filter(|k| **k == "name").count(), 1);
    assert_eq!(keys[0], "name");
    let entries = cfg.entries();
    assert_eq!(entries[0], ("name", &s("IntrepidPV")));
    assert_eq!(entries.len(), keys.len());
}

#[test]
fn sample_08_fragment() {
    let cfg = sample(8);
    assert_eq!(cfg.keys(), vec!["vnclisten", "vncunused", "vfb"]);
    assert_eq!(cfg.get("vncunused").and_then(Value::as_bool), Some(true));
}
