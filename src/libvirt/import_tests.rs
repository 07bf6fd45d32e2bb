//! Imports checked by what matters: the declaration, loaded and generated again, gives the same
//! domain (so it plans as unchanged), and OVM vm.cfg samples become libvirt declarations with
//! the same memory, vCPUs, pinning, disks, bridges and consoles.

use super::*;
use crate::libvirt::domain::parse;
use crate::libvirt::generate::domain_xml;
use crate::model::{Model, Vm};

const INACTIVE: &str = include_str!("../../tests/fixtures/libvirt/domain-inactive.xml");
const SECINFO: &str = include_str!("../../tests/fixtures/libvirt/domain-security-info.xml");
const OVM01: &str = include_str!("../../tests/fixtures/vm.cfg/sample-01.cfg");
const OVM02: &str = include_str!("../../tests/fixtures/vm.cfg/sample-02.cfg");
const OVM03: &str = include_str!("../../tests/fixtures/vm.cfg/sample-03.cfg");
const OVM04: &str = include_str!("../../tests/fixtures/vm.cfg/sample-04.cfg");
const OVM05: &str = include_str!("../../tests/fixtures/vm.cfg/sample-05.cfg");
const OVM06: &str = include_str!("../../tests/fixtures/vm.cfg/sample-06.cfg");

const HOST: &str = "hosts:\n  kvm1:\n    address: 10.0.0.1\n    repository: /OVS/Repositories/r1\n";

fn model(yaml: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("d.yaml");
    std::fs::write(&f, yaml).expect("write");
    crate::manifest::load(&[f]).unwrap_or_else(|d| panic!("invalid desired state {d:?}\n{yaml}"))
}

/// `raw` declared as `name` next to host kvm1, loaded and validated.
fn load(name: &str, raw: &RawVm) -> Vm {
    let mut vms = serde_yaml::Mapping::new();
    vms.insert(name.into(), serde_yaml::to_value(raw).expect("to yaml"));
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("vms".into(), serde_yaml::Value::Mapping(vms));
    let m = model(&format!("{HOST}{}", serde_yaml::to_string(&doc).expect("yaml")));
    m.vms[name].clone()
}

const VMS: &str = "vms:
  web01:
    host: kvm1
    memory: 2GiB
    maxmem: 4GiB
    vcpus: 2
    maxvcpus: 4
    cpus: '0-1'
    disks:
      - { name: root, size: 10GiB }
      - { path: /OVS/Repositories/r1/ISOs/install.iso, cdrom: true, mode: r }
      - { path: /dev/mapper/quorum, mode: 'w!' }
    networks:
      - { bridge: br0, mac: '00:16:3e:00:00:01' }
      - { bridge: br1, model: e1000 }
    console:
      serial: true
      vnc: { listen: 127.0.0.1, port: 5901, keymap: en-us }
  DB Server 01:
    host: kvm1
    memory: 1024
    vcpus: 2
    cpus: ['2', '3-4']
    disks:
      - { path: /OVS/Repositories/r1/VirtualDisks/db.img }
    console:
      vnc: { listen: 0.0.0.0 }
";

#[test]
fn a_generated_domain_imports_to_a_declaration_that_generates_it_again() {
    let m = model(&format!("{HOST}{VMS}"));
    for (name, vm) in &m.vms {
        let xml = domain_xml(vm, "kvm");
        assert_eq!(domain_name(&xml).expect("name"), *name);
        let raw = vm_from_domain("kvm1", &xml).expect("import");
        let again = domain_xml(&load(name, &raw), "kvm");
        assert_eq!(again, xml, "{name}");
        assert_eq!(domain_notes(&xml), Vec::<String>::new());
    }
}

#[test]
fn a_captured_domain_with_some_vcpus_unpinned_is_refused() {
    let e = vm_from_domain("kvm1", INACTIVE).expect_err("partial pins");
    assert!(e.contains("vCPU 2 is not pinned"), "{e}");
}

#[test]
fn a_captured_domain_imports_with_its_values() {
    let start = INACTIVE.find("  <cputune>").expect("cputune");
    let end = INACTIVE.find("</cputune>\n").expect("end") + "</cputune>\n".len();
    let xml = format!("{}{}", &INACTIVE[..start], &INACTIVE[end..]);
    let raw = vm_from_domain("kvm1", &xml).expect("import");
    assert_eq!((raw.memory.clone(), raw.maxmem.clone()), (Some(RawSize::Number(96)), Some(RawSize::Number(128))));
    assert_eq!((raw.vcpus, raw.maxvcpus, raw.cpus.clone()), (Some(2), Some(4), None));
    let disks: Vec<_> = raw.disks.iter().map(|d| (d.path.as_deref(), d.mode.as_deref(), d.cdrom)).collect();
    assert_eq!(disks, vec![(Some("/OVS/d1.img"), None, false), (Some("/OVS/iso.img"), Some("r"), true)]);
    let nic = &raw.networks[0];
    assert_eq!(
        (nic.bridge.as_str(), nic.mac.as_deref(), nic.model.as_deref()),
        ("br0", Some("00:16:3e:12:34:56"), None)
    );
    let console = raw.console.as_ref().expect("console");
    let vnc = console.vnc.as_ref().expect("vnc");
    assert!(console.serial);
    assert_eq!((vnc.listen.as_deref(), vnc.port, vnc.password.is_none()), (Some("127.0.0.1"), None, true));
    assert_eq!(domain_name(&xml).expect("name"), "web01");
    // The loaded declaration gives back the same values.
    let d = parse(&domain_xml(&load("web01", &raw), "qemu")).expect("parse");
    let orig = parse(&xml).expect("parse");
    assert_eq!(
        (d.memory_kib, d.current_memory_kib, d.vcpus, d.vcpus_current),
        (orig.memory_kib, orig.current_memory_kib, orig.vcpus, orig.vcpus_current)
    );
    let files = |d: &Domain| d.disks.iter().map(|k| (k.file.clone(), k.readonly)).collect::<Vec<_>>();
    assert_eq!(files(&d), files(&orig));
    assert_eq!((d.interfaces, d.serial_pty), (orig.interfaces, orig.serial_pty));
}

#[test]
fn the_vnc_password_is_noted_never_imported() {
    let start = SECINFO.find("  <cputune>").expect("cputune");
    let end = SECINFO.find("</cputune>\n").expect("end") + "</cputune>\n".len();
    let xml = format!("{}{}", &SECINFO[..start], &SECINFO[end..]);
    let raw = vm_from_domain("kvm1", &xml).expect("import");
    assert!(raw.console.and_then(|c| c.vnc).is_some_and(|v| v.password.is_none()));
    let notes = domain_notes(&xml);
    assert!(notes.iter().any(|n| n.starts_with("# note: the VNC password is not imported")), "{notes:?}");
    assert!(!notes.concat().contains("s3cretvn"));
}

#[test]
fn ovm_hvm_guest_becomes_a_libvirt_declaration() {
    assert_eq!(vm_cfg_name(OVM01).expect("name"), "ESXi-01");
    let raw = vm_from_vm_cfg("kvm1", OVM01).expect("import");
    assert_eq!((raw.host.as_deref(), raw.vm_type, raw.state), (Some("kvm1"), Some(VmType::Hvm), None));
    assert_eq!(
        (raw.memory.clone(), raw.maxmem.clone(), raw.vcpus, raw.maxvcpus),
        (Some(RawSize::Number(4096)), None, Some(2), None)
    );
    let vm = load("ESXi-01", &raw);
    let d = parse(&domain_xml(&vm, "kvm")).expect("parse");
    assert_eq!((d.memory_kib, d.vcpus), (4096 * 1024, 2));
    let files: Vec<_> = d.disks.iter().map(|k| (k.file.as_deref(), k.device.as_str(), k.target.as_deref())).collect();
    assert_eq!(
        files,
        vec![
            (Some("/OVS/Repositories/0004fb00000300001e4ee7d261313647/VirtualDisks/0004fb00001200009d2574fd9b824a84.img"), "disk", Some("vda")),
            (Some("/OVS/Repositories/0004fb0000030000598e525857751f9a/ISOs/0004fb00001500009f6ce2a34d84d851.iso"), "cdrom", Some("hda")),
        ]
    );
    let nic = &d.interfaces[0];
    assert_eq!((nic.bridge.as_deref(), nic.mac.as_deref()), (Some("10238073c2"), Some("00:21:f6:5b:b5:f7")));
    let vnc = d.vnc.expect("vnc");
    assert_eq!((vnc.listen.as_deref(), vnc.autoport, vnc.keymap.as_deref()), (Some("127.0.0.1"), true, Some("pt-br")));
    assert!(d.serial_pty);
    assert_eq!(d.simple_name.as_deref(), Some("ESXi-01"));
    let notes = vm_cfg_notes(OVM01);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("on_crash") && notes[0].contains("cpu_weight") && !notes[0].contains("memory"),
        "{notes:?}"
    );
}

#[test]
fn exadata_guests_keep_their_pinning_and_vcpu_ceiling() {
    for (cfg, name, set, vcpus, max, disks) in
        [(OVM02, "scaqab10adm01-016", "12-19", 8, 68, 5), (OVM03, "iad100527ex-342", "4-15", 12, 96, 4)]
    {
        let raw = vm_from_vm_cfg("kvm1", cfg).expect("import");
        assert_eq!(raw.cpus, Some(RawCpus::All(set.into())));
        assert!(raw.networks.iter().all(|n| n.vif_type.is_none() && n.model.is_none()));
        let vm = load(name, &raw);
        let d = parse(&domain_xml(&vm, "kvm")).expect("parse");
        assert_eq!((d.vcpus_current, d.vcpus), (Some(vcpus), max));
        assert_eq!(d.pins.len(), max as usize);
        assert!(d.pins.iter().all(|(_, s)| s.to_string() == set));
        assert_eq!(d.disks.len(), disks);
        assert!(d.disks.iter().all(|k| k.file.as_deref().is_some_and(|f| f.starts_with('/') && !f.starts_with("//"))));
        assert_eq!(d.interfaces.len(), 3);
        assert!(d.serial_pty && d.vnc.is_none());
        assert!(vm_cfg_notes(cfg).iter().any(|n| n.contains("ib_pfs")));
    }
}

#[test]
fn ovm_pv_guest_is_hvm_and_its_password_is_only_noted() {
    let raw = vm_from_vm_cfg("kvm1", OVM05).expect("import");
    assert_eq!(raw.vm_type, Some(VmType::Hvm));
    let vnc = raw.console.as_ref().and_then(|c| c.vnc.as_ref()).expect("vnc");
    assert_eq!((vnc.listen.as_deref(), vnc.port, vnc.keymap.as_deref()), (Some("0.0.0.0"), None, Some("en-us")));
    assert!(vnc.password.is_none());
    assert!(!format!("{raw:?}").contains("7693f834ca67912e"));
    let notes = vm_cfg_notes(OVM05);
    assert!(notes.iter().any(|n| n.contains("PV guest becomes HVM")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("VNC password is not imported")), "{notes:?}");
    assert!(!notes.concat().contains("7693f834ca67912e"));
}

#[test]
fn what_cannot_be_declared_is_an_error() {
    assert!(vm_from_vm_cfg("kvm1", OVM04).expect_err("no memory").contains("no `memory`"));
    let bridgeless = OVM01.replace(",bridge=10238073c2", "");
    assert!(vm_from_vm_cfg("kvm1", &bridgeless).expect_err("no bridge").contains("bridge"));
    assert!(vm_from_vm_cfg("kvm1", OVM06).expect_err("phy:hda1").contains("phy:hda1"));
    assert!(vm_from_vm_cfg("kvm1", "memory = 1\n").expect_err("nameless").contains("OVM_simple_name"));
    assert!(vm_from_vm_cfg("kvm1", "name = 'x'\n").expect_err("no memory").contains("memory"));
    let net = INACTIVE
        .replace("<interface type='bridge'>", "<interface type='network'>")
        .replace("<source bridge='br0'/>", "<source network='default'/>");
    let net = net.replace("    <vcpupin vcpu='0' cpuset='1'/>\n    <vcpupin vcpu='1' cpuset='0-1'/>\n", "");
    assert!(vm_from_domain("kvm1", &net).expect_err("network").contains("not on a bridge"));
}

#[test]
fn what_libvirt_stores_imports_to_a_declaration_that_generates_it_again() {
    let stored = [
        ("web01", include_str!("../../tests/fixtures/libvirt/generated-web01.xml")),
        ("DB Server 01", include_str!("../../tests/fixtures/libvirt/generated-db-server-01.xml")),
        ("small", include_str!("../../tests/fixtures/libvirt/generated-small.xml")),
    ];
    for (name, text) in stored {
        assert_eq!(domain_name(text).expect("name"), name);
        let raw = vm_from_domain("kvm1", text).expect("import");
        let again = parse(&domain_xml(&load(name, &raw), "kvm")).expect("parse");
        assert_eq!(again, parse(text).expect("parse stored"), "{name}");
    }
}
