//! Tests on real `virsh dumpxml` outputs (tests/fixtures/libvirt/README.md says how they were
//! captured).

use super::*;

const RUNNING: &str = include_str!("../../tests/fixtures/libvirt/domain-running.xml");
const INACTIVE: &str = include_str!("../../tests/fixtures/libvirt/domain-inactive.xml");
const SECINFO: &str = include_str!("../../tests/fixtures/libvirt/domain-security-info.xml");
const DEFINED: &str = include_str!("../../tests/fixtures/libvirt/domain-defined.xml");

fn set(t: &str) -> CpuSet {
    CpuSet::parse(t).expect("cpuset")
}

#[test]
fn reads_a_running_domain() {
    let d = parse(RUNNING).expect("parse");
    assert_eq!(d.name, "0004fb00000600001234567890abcdef");
    assert_eq!(d.uuid.as_deref(), Some("0e12d7f2-9415-426b-b7f4-035f46e3f86d"));
    assert_eq!((d.memory_kib, d.current_memory_kib), (131072, Some(131072)));
    assert_eq!((d.vcpus, d.vcpus_current, d.placement.as_deref()), (4, Some(2), Some("static")));
    assert_eq!(d.pins, vec![(0, set("1")), (1, set("0-1"))]);
    assert_eq!(d.disks.len(), 2);
    assert_eq!(
        d.disks[0],
        Disk {
            device: "disk".into(),
            file: Some("/OVS/d1.img".into()),
            target: Some("vda".into()),
            readonly: false,
            shareable: false
        }
    );
    assert_eq!(
        d.disks[1],
        Disk {
            device: "cdrom".into(),
            file: Some("/OVS/iso.img".into()),
            target: Some("hdc".into()),
            readonly: true,
            shareable: false
        }
    );
    assert_eq!(
        d.interfaces,
        vec![Interface {
            bridge: Some("br0".into()),
            mac: Some("00:16:3e:12:34:56".into()),
            model: Some("virtio".into())
        }]
    );
    assert!(d.serial_pty);
    assert_eq!(
        d.vnc,
        Some(Vnc {
            port: Some(5900),
            autoport: true,
            listen: Some("127.0.0.1".into()),
            has_password: false,
            keymap: None
        })
    );
    assert_eq!(d.simple_name.as_deref(), Some("web01"));
}

#[test]
fn inactive_has_no_port_yet_and_units_are_respected() {
    let d = parse(INACTIVE).expect("parse");
    assert_eq!(d.vnc.as_ref().and_then(|v| v.port), Some(-1));
    // As given to `virsh define`: MiB, and a currentMemory below memory.
    let given = parse(DEFINED).expect("parse");
    assert_eq!((given.memory_kib, given.current_memory_kib), (128 * 1024, Some(96 * 1024)));
    assert_eq!(given.pins, d.pins);
    let gib = DEFINED.replace("<memory unit='MiB'>128</memory>", "<memory unit='GiB'>2</memory>");
    assert_eq!(parse(&gib).expect("parse").memory_kib, 2 * 1024 * 1024);
    let bytes = DEFINED.replace("<memory unit='MiB'>128</memory>", "<memory unit='bytes'>1048577</memory>");
    assert_eq!(parse(&bytes).expect("parse").memory_kib, 1025);
}

#[test]
fn the_vnc_password_is_only_present_or_not() {
    let d = parse(SECINFO).expect("parse");
    assert!(d.vnc.as_ref().is_some_and(|v| v.has_password));
    assert!(!format!("{d:?}").contains("s3cretvn"), "{d:?}");
}

#[test]
fn errors_name_the_element_and_where_it_is() {
    let bad = INACTIVE.replace("<vcpu placement='static' current='2'>4</vcpu>", "<vcpu>four</vcpu>");
    let e = parse(&bad).expect_err("bad vcpu");
    assert!(e.contains("domain/vcpu") && e.contains("line 11, byte ") && e.contains("`four`"), "{e}");
    let bad = INACTIVE.replace("cpuset='0-1'", "cpuset='1-0'");
    let e = parse(&bad).expect_err("bad cpuset");
    assert!(e.contains("<vcpupin> at line 14") && e.contains("backwards"), "{e}");
    let e = parse(&INACTIVE.replace("</devices>", "")).expect_err("not well-formed");
    assert!(e.contains("line ") && e.contains("byte "), "{e}");
    let e = parse(&INACTIVE.replace("unit='KiB'>131072</memory>", "unit='pages'>1</memory>")).expect_err("unit");
    assert!(e.contains("domain/memory") && e.contains("`pages`"), "{e}");
}

/// Applies `edits`, checks that the bytes before and after the edited span are the original
/// ones, and returns the new text.
fn edited(text: &str, edits: &[Edit]) -> String {
    let out = apply(text, edits);
    let lo = edits.iter().map(|e| e.at).min().expect("an edit");
    let hi = edits.iter().map(|e| e.at + e.del).max().expect("an edit");
    assert_eq!(out[..lo], text[..lo], "bytes before the edit changed");
    let tail = text.len() - hi;
    assert_eq!(out[out.len() - tail..], text[hi..], "bytes after the edit changed");
    out
}

#[test]
fn memory_and_vcpu_edits_touch_only_their_elements() {
    for text in [RUNNING, INACTIVE, DEFINED] {
        let before = parse(text).expect("parse");
        let out = edited(text, &set_memory(text, 262144).expect("memory"));
        let out = edited(&out, &set_current_memory(&out, 196608).expect("current"));
        let out = edited(&out, &set_vcpus(&out, 3).expect("vcpus"));
        let after = parse(&out).expect("parse back");
        assert_eq!((after.memory_kib, after.current_memory_kib, after.vcpus), (262144, Some(196608), 3));
        assert_eq!(
            Domain {
                memory_kib: before.memory_kib,
                current_memory_kib: before.current_memory_kib,
                vcpus: before.vcpus,
                ..after
            },
            before
        );
    }
    assert!(set_vcpus(INACTIVE, 1).expect_err("below current").contains("current='2'"));
}

#[test]
fn current_memory_is_added_after_memory_when_absent() {
    let text = INACTIVE.replace("  <currentMemory unit='KiB'>131072</currentMemory>\n", "");
    let out = edited(&text, &set_current_memory(&text, 65536).expect("current"));
    assert!(
        out.contains("<memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>65536</currentMemory>\n  <vcpu"),
        "{out}"
    );
}

#[test]
fn pins_are_replaced_and_other_cputune_children_stay() {
    let pins = vec![(0, set("0")), (1, set("1")), (2, set("0-1"))];
    let out = edited(INACTIVE, &set_pins(INACTIVE, &pins).expect("pins"));
    assert!(out.contains("  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n    <vcpupin vcpu='1' cpuset='1'/>\n    <vcpupin vcpu='2' cpuset='0-1'/>\n  </cputune>\n"), "{out}");
    assert_eq!(parse(&out).expect("parse back").pins, pins);

    let with_other = INACTIVE.replace("  </cputune>", "    <emulatorpin cpuset='0'/>\n  </cputune>");
    let out = edited(&with_other, &set_pins(&with_other, &pins[..1]).expect("pins"));
    assert!(
        out.contains("  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n    <emulatorpin cpuset='0'/>\n  </cputune>\n"),
        "{out}"
    );
    assert_eq!(parse(&out).expect("parse back").pins, pins[..1].to_vec());
}

#[test]
fn cputune_is_created_after_vcpu_when_absent() {
    let start = INACTIVE.find("  <cputune>").expect("cputune");
    let end = INACTIVE.find("</cputune>\n").expect("end") + "</cputune>\n".len();
    let text = format!("{}{}", &INACTIVE[..start], &INACTIVE[end..]);
    assert!(parse(&text).expect("parse").pins.is_empty());
    let pins = vec![(0, set("1")), (1, set("0"))];
    let out = edited(&text, &set_pins(&text, &pins).expect("pins"));
    assert!(out.contains("</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='1'/>\n    <vcpupin vcpu='1' cpuset='0'/>\n  </cputune>\n  <os>"), "{out}");
    assert_eq!(parse(&out).expect("parse back").pins, pins);
    let empty = text.replace("</vcpu>\n", "</vcpu>\n  <cputune/>\n");
    let out = edited(&empty, &set_pins(&empty, &pins).expect("pins"));
    assert_eq!(parse(&out).expect("parse back").pins, pins);
}

#[test]
fn metadata_is_replaced_or_added() {
    let out = edited(RUNNING, &set_simple_name(RUNNING, "db<02>").expect("meta"));
    assert_eq!(parse(&out).expect("parse back").simple_name.as_deref(), Some("db<02>"));
    assert!(out.contains("    <domform:vm xmlns:domform=\"urn:domform:metadata:1\">\n      <domform:simple-name>db&lt;02&gt;</domform:simple-name>\n    </domform:vm>\n  </metadata>"), "{out}");

    let start = INACTIVE.find("  <metadata>").expect("metadata");
    let end = INACTIVE.find("</metadata>\n").expect("end") + "</metadata>\n".len();
    let bare = format!("{}{}", &INACTIVE[..start], &INACTIVE[end..]);
    assert_eq!(parse(&bare).expect("parse").simple_name, None);
    let out = edited(&bare, &set_simple_name(&bare, "web01").expect("meta"));
    assert_eq!(out, INACTIVE, "adding it back gives what libvirt printed");

    // Someone else's metadata stays; ours goes next to it.
    let other = INACTIVE.replace("urn:domform:metadata:1", "urn:other").replace("web01", "theirs");
    let out = edited(&other, &set_simple_name(&other, "web01").expect("meta"));
    assert_eq!(parse(&out).expect("parse back").simple_name.as_deref(), Some("web01"));
    assert!(out.contains("<domform:simple-name>theirs</domform:simple-name>"), "{out}");
}

#[test]
fn no_pins_and_no_cputune_is_no_edit() {
    let start = INACTIVE.find("  <cputune>").expect("cputune");
    let end = INACTIVE.find("</cputune>\n").expect("end") + "</cputune>\n".len();
    let text = format!("{}{}", &INACTIVE[..start], &INACTIVE[end..]);
    assert_eq!(set_pins(&text, &[]).expect("pins"), Vec::new());
    // Clearing existing pins leaves an empty <cputune>, which libvirt accepts.
    let out = edited(INACTIVE, &set_pins(INACTIVE, &[]).expect("pins"));
    assert!(out.contains("</vcpu>\n  <cputune>\n  </cputune>\n  <os>"), "{out}");
    assert!(parse(&out).expect("parse back").pins.is_empty());
}

#[test]
fn metadata_in_the_default_namespace_is_ours_too() {
    let text = INACTIVE
        .replace("<domform:vm xmlns:domform=", "<vm xmlns=")
        .replace("domform:simple-name", "simple-name")
        .replace("</domform:vm>", "</vm>");
    assert_eq!(parse(&text).expect("parse").simple_name.as_deref(), Some("web01"));
    let out = edited(&text, &set_simple_name(&text, "web02").expect("meta"));
    assert_eq!(parse(&out).expect("parse back").simple_name.as_deref(), Some("web02"));
}

#[test]
fn no_node_holds_the_vnc_password() {
    let all = nodes(SECINFO).expect("nodes");
    assert!(all.iter().any(|n| n.attrs.iter().any(|(k, _)| k == "passwd")), "passwd= is seen");
    assert!(!format!("{all:?}").contains("s3cretvn"));
}

#[test]
fn block_sources_shareable_disks_nic_models_and_keymaps_are_read() {
    let text = INACTIVE
        .replace("<disk type='file' device='disk'>", "<disk type='block' device='disk'>")
        .replace("<source file='/OVS/d1.img'/>", "<source dev='/dev/mapper/q1'/>\n      <shareable/>")
        .replace("<model type='virtio'/>", "<model type='e1000'/>")
        .replace("listen='127.0.0.1'>", "listen='127.0.0.1' keymap='de'>");
    let d = parse(&text).expect("parse");
    assert_eq!((d.disks[0].file.as_deref(), d.disks[0].shareable), (Some("/dev/mapper/q1"), true));
    assert!(!d.disks[1].shareable);
    assert_eq!(d.interfaces[0].model.as_deref(), Some("e1000"));
    assert_eq!(d.vnc.and_then(|v| v.keymap).as_deref(), Some("de"));
}
