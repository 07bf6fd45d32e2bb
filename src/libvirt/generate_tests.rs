//! The generated XML read back with `domain::parse` gives every value it was made from.

use super::*;
use crate::libvirt::domain::{parse, Disk, Interface, Vnc};
use crate::model::{CpuSet, Model};

fn model(yaml: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("d.yaml");
    std::fs::write(&f, yaml).expect("write");
    crate::manifest::load(&[f]).expect("valid desired state")
}

const HOST: &str = "hosts:\n  kvm1:\n    address: 10.0.0.1\n    repository: /OVS/Repositories/r1\n";

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
      - { path: /OVS/Repositories/r1/VirtualDisks/ro.img, mode: r }
    networks:
      - { bridge: br0, mac: '00:16:3e:00:00:01' }
      - { bridge: br1, model: e1000 }
    console:
      serial: true
      vnc: { listen: 127.0.0.1, port: 5901, keymap: en-us, password: { env: VNC_PW } }
  DB Server 01:
    host: kvm1
    memory: 1024
    vcpus: 2
    cpus: ['2', '3-4']
    disks:
      - { path: /OVS/Repositories/r1/VirtualDisks/db.img }
    console:
      vnc: { listen: 0.0.0.0 }
  small:
    host: kvm1
    memory: 512
    vcpus: 1
    disks:
      - { path: /OVS/Repositories/r1/VirtualDisks/small.img }
    networks:
      - { bridge: br0, mac: '00:16:3e:00:00:02' }
    console:
      serial: true
";

fn vms() -> Model {
    model(&format!("{HOST}{VMS}"))
}

fn set(t: &str) -> CpuSet {
    CpuSet::parse(t).expect("cpuset")
}

fn disk(device: &str, file: &str, target: &str, readonly: bool, shareable: bool) -> Disk {
    Disk { device: device.into(), file: Some(file.into()), target: Some(target.into()), readonly, shareable }
}

#[test]
fn every_field_reads_back() {
    let m = vms();
    let vm = &m.vms["web01"];
    let xml = domain_xml(vm, "kvm");
    let d = parse(&xml).expect("parses");
    assert_eq!((d.name.as_str(), d.simple_name.as_deref()), ("web01", Some("web01")));
    assert_eq!(d.uuid, Some(naming(vm).uuid));
    assert_eq!((d.memory_kib, d.current_memory_kib), (4 * 1024 * 1024, Some(2 * 1024 * 1024)));
    assert_eq!((d.vcpus, d.vcpus_current, d.placement.as_deref()), (4, Some(2), Some("static")));
    assert_eq!(d.pins, (0..4).map(|i| (i, set("0-1"))).collect::<Vec<_>>());
    let root = "/OVS/Repositories/r1/VirtualDisks/web01_root.img";
    assert_eq!(
        d.disks,
        vec![
            disk("disk", root, "vda", false, false),
            disk("cdrom", "/OVS/Repositories/r1/ISOs/install.iso", "hda", true, false),
            disk("disk", "/dev/mapper/quorum", "vdb", false, true),
            disk("disk", "/OVS/Repositories/r1/VirtualDisks/ro.img", "vdc", true, false),
        ]
    );
    assert!(xml.contains("<disk type='block' device='disk'>") && xml.contains("<source dev='/dev/mapper/quorum'/>"));
    assert_eq!(
        d.interfaces,
        vec![
            Interface {
                bridge: Some("br0".into()),
                mac: Some("00:16:3e:00:00:01".into()),
                model: Some("virtio".into())
            },
            Interface { bridge: Some("br1".into()), mac: None, model: Some("e1000".into()) },
        ]
    );
    assert!(d.serial_pty);
    let vnc = Vnc {
        port: Some(5901),
        autoport: false,
        listen: Some("127.0.0.1".into()),
        has_password: true,
        keymap: Some("en-us".into()),
    };
    assert_eq!(d.vnc, Some(vnc));
    assert!(xml.contains("passwd='(secret: env VNC_PW)'"), "{xml}");
    assert!(xml.contains("<boot dev='hd'/>\n    <boot dev='cdrom'/>"), "{xml}");
}

#[test]
fn per_vcpu_pins_spaces_and_autoport() {
    let m = vms();
    let d = parse(&domain_xml(&m.vms["DB Server 01"], "qemu")).expect("parses");
    assert_eq!((d.name.as_str(), d.simple_name.as_deref()), ("DB Server 01", Some("DB Server 01")));
    assert_eq!((d.memory_kib, d.current_memory_kib), (1024 * 1024, Some(1024 * 1024)));
    assert_eq!((d.vcpus, d.vcpus_current), (2, None));
    assert_eq!(d.pins, vec![(0, set("2")), (1, set("3-4"))]);
    assert!(!d.serial_pty && d.interfaces.is_empty());
    let xml = domain_xml(&m.vms["DB Server 01"], "qemu");
    assert!(!xml.contains("useserial"), "libvirt refuses BIOS serial output without a serial port: {xml}");
    let vnc = d.vnc.expect("vnc");
    assert_eq!(
        (vnc.port, vnc.autoport, vnc.listen.as_deref(), vnc.has_password),
        (Some(-1), true, Some("0.0.0.0"), false)
    );
}

#[test]
fn markup_in_names_and_paths_is_escaped() {
    let m = vms();
    let mut vm = m.vms["small"].clone();
    vm.name = "R&D <'db'> \"01\"".into();
    vm.disks[0].source = crate::model::DiskSource::Existing { path: "/OVS/a&b/'x'.img".into() };
    vm.networks[0].bridge = "br<0>".into();
    let xml = domain_xml(&vm, "kvm");
    let d = parse(&xml).expect("parses");
    assert_eq!((d.name.as_str(), d.simple_name.as_deref()), (vm.name.as_str(), Some(vm.name.as_str())));
    assert_eq!(d.disks[0].file.as_deref(), Some("/OVS/a&b/'x'.img"));
    assert_eq!(d.interfaces[0].bridge.as_deref(), Some("br<0>"));
    assert!(xml.contains("<name>R&amp;D &lt;&apos;db&apos;&gt; &quot;01&quot;</name>"), "{xml}");
}

#[test]
fn a_small_vm_gives_exactly_this_text() {
    let m = vms();
    let vm = &m.vms["small"];
    let uuid = naming(vm).uuid;
    let want = format!(
        "<domain type='qemu'>
  <name>small</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <domform:vm xmlns:domform=\"urn:domform:metadata:1\">
      <domform:simple-name>small</domform:simple-name>
    </domform:vm>
  </metadata>
  <memory unit='MiB'>512</memory>
  <currentMemory unit='MiB'>512</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
    <bios useserial='yes'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/OVS/Repositories/r1/VirtualDisks/small.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <mac address='00:16:3e:00:00:02'/>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
"
    );
    assert_eq!(domain_xml(vm, "qemu"), want);
}

/// libvirt refuses to define a domain whose BIOS prints to a serial port it does not have.
#[test]
fn bios_serial_output_only_with_a_serial_console() {
    let m = vms();
    let without = domain_xml(&m.vms["DB Server 01"], "kvm");
    assert!(!without.contains("<serial") && !without.contains("useserial"), "{without}");
    let with = domain_xml(&m.vms["small"], "kvm");
    assert!(with.contains("<serial type='pty'>") && with.contains("<bios useserial='yes'/>"), "{with}");
}

#[test]
fn the_password_goes_in_only_for_its_placeholder() {
    let m = vms();
    let vm = &m.vms["web01"];
    let xml = domain_xml(vm, "kvm");
    let ph = vnc_password_placeholder(vm).expect("declared");
    let fill = |x: &str| crate::target::libvirt::secret::fill(x, &ph, &crate::target::libvirt::secret::escape("p'w&1"));
    let filled = fill(&xml).expect("one placeholder");
    assert!(filled.contains("passwd='p&apos;w&amp;1'") && !filled.contains("(secret"), "{filled}");
    assert!(parse(&filled).expect("parses").vnc.is_some_and(|v| v.has_password));
    let e = fill(&filled).expect_err("already filled");
    assert!(e.contains("has 0 `(secret") && !e.contains("p'w"), "{e}");
    assert_eq!(vnc_password_placeholder(&m.vms["small"]), None);
}

#[test]
fn what_libvirt_stores_for_a_generated_domain_reads_back_the_same() {
    let m = vms();
    let stored = [
        ("web01", include_str!("../../tests/fixtures/libvirt/generated-web01.xml")),
        ("DB Server 01", include_str!("../../tests/fixtures/libvirt/generated-db-server-01.xml")),
        ("small", include_str!("../../tests/fixtures/libvirt/generated-small.xml")),
    ];
    for (name, text) in stored {
        let mut ours = parse(&domain_xml(&m.vms[name], "kvm")).expect("parse generated");
        let mut theirs = parse(text).expect("parse stored");
        // libvirt sorts disks by bus; plain dumpxml leaves the VNC password out.
        ours.disks.sort_by(|a, b| a.target.cmp(&b.target));
        theirs.disks.sort_by(|a, b| a.target.cmp(&b.target));
        if let Some(v) = ours.vnc.as_mut() {
            v.has_password = false;
        }
        // A NIC declared without a MAC gets one from libvirt (QEMU's 52:54:00 prefix).
        for (o, t) in ours.interfaces.iter_mut().zip(&theirs.interfaces) {
            if o.mac.is_none() {
                assert!(t.mac.as_deref().is_some_and(|m| m.starts_with("52:54:00:")), "{t:?}");
                o.mac.clone_from(&t.mac);
            }
        }
        assert_eq!(ours, theirs, "{name}");
    }
}
