//! Device edits on real `virsh dumpxml` outputs: each keeps every byte outside its span, reads
//! back as intended, and an add followed by the matching remove gives the original text.

use super::*;
use crate::libvirt::domain::{apply, parse};

const RUNNING: &str = include_str!("../../tests/fixtures/libvirt/domain-running.xml");
const INACTIVE: &str = include_str!("../../tests/fixtures/libvirt/domain-inactive.xml");
const SECINFO: &str = include_str!("../../tests/fixtures/libvirt/domain-security-info.xml");
const DEFINED: &str = include_str!("../../tests/fixtures/libvirt/domain-defined.xml");
const COMPACT: &str = "<domain type='qemu'><name>c</name><memory>1024</memory><vcpu>2</vcpu>\
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>";

/// Applies `edits`, checks the bytes before and after the edited span are the original ones.
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
fn a_disk_goes_last_indented_like_its_siblings_and_comes_out_again() {
    for text in [RUNNING, INACTIVE, DEFINED, COMPACT] {
        let before = parse(text).expect("parse");
        let target = next_disk_target(text, false).expect("target");
        let out = edited(text, &add_disk(text, "/OVS/r/new disk&.img", &target, false, true, false).expect("add"));
        let after = parse(&out).expect("parse back");
        assert_eq!(after.disks.len(), before.disks.len() + 1);
        let new = after.disks.last().expect("added");
        assert_eq!(
            (new.file.as_deref(), new.target.as_deref(), new.readonly, new.shareable),
            (Some("/OVS/r/new disk&.img"), Some(target.as_str()), false, true)
        );
        assert_eq!(after.disks[..before.disks.len()], before.disks[..]);
        let back = edited(&out, &remove_disk(&out, "/OVS/r/new disk&.img").expect("remove"));
        assert_eq!(back, text, "add then remove gives the original");
    }
    assert_eq!(next_disk_target(INACTIVE, false).expect("target"), "vdb");
    assert_eq!(next_disk_target(INACTIVE, true).expect("target"), "hda");
    let out = edited(INACTIVE, &add_disk(INACTIVE, "/OVS/b.img", "vdb", false, false, false).expect("add"));
    assert!(out.contains("    </memballoon>\n    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      <source file='/OVS/b.img'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n  </devices>"), "{out}");
    let out = edited(COMPACT, &add_disk(COMPACT, "/dev/sdz", "hdc", true, false, true).expect("add"));
    assert!(out.contains("</emulator><disk type='block' device='cdrom'><driver name='qemu' type='raw'/><source dev='/dev/sdz'/><target dev='hdc' bus='ide'/><readonly/></disk></devices>"), "{out}");
}

#[test]
fn disk_mistakes_are_refused() {
    let e = add_disk(INACTIVE, "/OVS/b.img", "vda", false, false, false).expect_err("taken");
    assert!(e.contains("`vda`"), "{e}");
    assert!(remove_disk(INACTIVE, "/OVS/none.img").expect_err("absent").contains("/OVS/none.img"));
    let out = edited(INACTIVE, &remove_disk(INACTIVE, "/OVS/iso.img").expect("remove"));
    assert_eq!(parse(&out).expect("parse back").disks.len(), 1);
    assert!(out.contains("    </disk>\n    <controller type='usb'"), "{out}");
    let empty = "<domain><name>e</name><memory>1</memory><vcpu>1</vcpu><devices/></domain>";
    let out = edited(empty, &add_disk(empty, "/a.img", "vda", false, false, false).expect("add"));
    assert_eq!(parse(&out).expect("parse back").disks[0].file.as_deref(), Some("/a.img"));
}

#[test]
fn interfaces_are_added_and_removed_by_mac() {
    for text in [RUNNING, INACTIVE, DEFINED, COMPACT] {
        let before = parse(text).expect("parse");
        let out = edited(text, &add_interface(text, "br<1>", Some("00:16:3E:AA:BB:CC"), None).expect("add"));
        let after = parse(&out).expect("parse back");
        let new = after.interfaces.last().expect("added");
        assert_eq!(
            (new.bridge.as_deref(), new.mac.as_deref(), new.model.as_deref()),
            (Some("br<1>"), Some("00:16:3E:AA:BB:CC"), Some("virtio"))
        );
        assert_eq!(after.interfaces.len(), before.interfaces.len() + 1);
        let back = edited(&out, &remove_interface(&out, "00:16:3e:aa:bb:cc").expect("remove"));
        assert_eq!(back, text);
    }
    let e = add_interface(INACTIVE, "br0", Some("00:16:3E:12:34:56"), Some("e1000")).expect_err("same MAC");
    assert!(e.contains("00:16:3E:12:34:56"), "{e}");
    let out = edited(INACTIVE, &remove_interface(INACTIVE, "00:16:3e:12:34:56").expect("remove"));
    assert!(parse(&out).expect("parse back").interfaces.is_empty());
    assert!(remove_interface(&out, "00:16:3e:12:34:56").is_err());
}

#[test]
fn the_serial_console_goes_and_comes_back() {
    for text in [RUNNING, INACTIVE, DEFINED] {
        assert_eq!(set_serial(text, true).expect("on"), Vec::new(), "already on");
        let off = edited(text, &set_serial(text, false).expect("off"));
        assert!(!parse(&off).expect("parse").serial_pty);
        assert!(!off.contains("<serial") && !off.contains("<console"), "{off}");
        let on = edited(&off, &set_serial(&off, true).expect("on"));
        assert!(parse(&on).expect("parse").serial_pty);
        assert_eq!(parse(&on).expect("parse").disks, parse(text).expect("parse").disks);
    }
    assert_eq!(set_serial(COMPACT, false).expect("off"), Vec::new());
    let on = edited(COMPACT, &set_serial(COMPACT, true).expect("on"));
    assert!(on.ends_with("<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console></devices></domain>"), "{on}");
}

#[test]
fn vnc_changes_keep_the_password_and_the_listen_child_agrees() {
    let out = edited(SECINFO, &set_vnc(SECINFO, Some(("0.0.0.0", Some(5905)))).expect("vnc"));
    assert!(out.contains("<graphics type='vnc' port='5905' autoport='no' listen='0.0.0.0' passwd='s3cretvn'>\n      <listen type='address' address='0.0.0.0'/>"), "{out}");
    let v = parse(&out).expect("parse back").vnc.expect("vnc");
    assert_eq!((v.port, v.autoport, v.listen.as_deref(), v.has_password), (Some(5905), false, Some("0.0.0.0"), true));
    let back = edited(&out, &set_vnc(&out, Some(("127.0.0.1", None))).expect("vnc"));
    assert_eq!(back, SECINFO);
    let none = edited(RUNNING, &set_vnc(RUNNING, None).expect("off"));
    assert!(parse(&none).expect("parse").vnc.is_none() && !none.contains("<graphics"), "{none}");
    let again = edited(&none, &set_vnc(&none, Some(("127.0.0.1", None))).expect("add"));
    let v = parse(&again).expect("parse").vnc.expect("vnc");
    assert_eq!((v.port, v.autoport, v.listen.as_deref()), (Some(-1), true, Some("127.0.0.1")));
    assert!(again.contains("\n    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>\n  </devices>"));
}

#[test]
fn vcpu_count_and_current_keep_other_attributes() {
    let out = edited(INACTIVE, &set_vcpus_current(INACTIVE, 4, 4).expect("all online"));
    assert!(out.contains("  <vcpu placement='static'>4</vcpu>\n"), "{out}");
    let out = edited(&out, &set_vcpus_current(&out, 1, 3).expect("one online"));
    assert!(out.contains("  <vcpu placement='static' current='1'>3</vcpu>\n"), "{out}");
    let d = parse(&out).expect("parse back");
    assert_eq!((d.vcpus, d.vcpus_current, d.placement.as_deref()), (3, Some(1), Some("static")));
    let out = edited(COMPACT, &set_vcpus_current(COMPACT, 1, 2).expect("compact"));
    assert!(out.contains("<vcpu current='1'>2</vcpu>"), "{out}");
    assert!(set_vcpus_current(INACTIVE, 0, 2).is_err());
    assert!(set_vcpus_current(INACTIVE, 3, 2).expect_err("above max").contains("3 vCPUs online of 2"));
}

#[test]
fn attribute_spans_follow_quotes_and_spaces() {
    let tag = "<g type = \"vnc\" passwd='a\"b' x='1'/>";
    let names: Vec<(&str, &str)> = attr_spans(tag).iter().map(|(n, _, (a, b))| (*n, &tag[*a..*b])).collect();
    assert_eq!(names, vec![("type", "vnc"), ("passwd", "a\"b"), ("x", "1")]);
}

#[test]
fn target_devices_fill_gaps_and_go_past_z() {
    let have = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(next_target_dev(&have(&[]), "vd"), "vda");
    assert_eq!(next_target_dev(&have(&["vda", "vdc"]), "vd"), "vdb");
    assert_eq!(next_target_dev(&have(&["vda", "hda"]), "hd"), "hdb");
    let all: Vec<String> = (0..26).map(|i| format!("vd{}", crate::model::validate::device_letters(i))).collect();
    assert_eq!(next_target_dev(&all, "vd"), "vdaa");
}

#[test]
fn keymap_and_password_placeholder_are_attributes_of_the_first_vnc_display() {
    let out = edited(INACTIVE, &set_vnc_keymap(INACTIVE, Some("de")).expect("keymap"));
    assert!(out.contains("<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' keymap='de'>"), "{out}");
    assert_eq!(parse(&out).expect("parse").vnc.and_then(|v| v.keymap).as_deref(), Some("de"));
    assert_eq!(edited(&out, &set_vnc_keymap(&out, None).expect("no keymap")), INACTIVE);

    // The host's password becomes the plan's placeholder, then the declared value at the edge.
    let ph = "(secret: env VNC_PW)";
    let out = edited(SECINFO, &set_vnc_password(SECINFO, Some(ph)).expect("passwd"));
    assert!(!out.contains("s3cretvn") && out.contains("passwd='(secret: env VNC_PW)'"), "{out}");
    let filled = crate::target::libvirt::secret::fill(&out, ph, "n3w").expect("fill");
    assert!(filled.contains("listen='127.0.0.1' passwd='n3w'>"), "{filled}");
    let none = edited(SECINFO, &set_vnc_password(SECINFO, None).expect("no passwd"));
    assert!(!none.contains("passwd") && parse(&none).expect("parse").vnc.is_some_and(|v| !v.has_password));
    let out = edited(INACTIVE, &set_vnc_password(INACTIVE, Some(ph)).expect("added"));
    assert!(parse(&out).expect("parse").vnc.is_some_and(|v| v.has_password));

    assert!(set_vnc_keymap(COMPACT, Some("de")).expect_err("no vnc").contains("no VNC display"));
    assert!(set_vnc_password(COMPACT, None).is_err());
}

#[test]
fn disk_flags_are_added_and_removed_in_place() {
    let web01 = include_str!("../../tests/fixtures/libvirt/generated-web01.xml");
    let ro = "/OVS/Repositories/r1/VirtualDisks/ro.img";
    let out = edited(web01, &set_disk_flags(web01, ro, false, true).expect("edits"));
    let want = "      <target dev='vdc' bus='virtio'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>\n      <shareable/>\n    </disk>";
    assert!(out.contains(want), "{out}");
    let d = parse(&out).expect("reads");
    let disk = d.disks.iter().find(|k| k.file.as_deref() == Some(ro)).expect("disk");
    assert_eq!((disk.readonly, disk.shareable), (false, true));
    let back = edited(&out, &set_disk_flags(&out, ro, true, false).expect("edits"));
    let disk = parse(&back).expect("reads").disks.into_iter().find(|k| k.file.as_deref() == Some(ro)).expect("disk");
    assert_eq!((disk.readonly, disk.shareable), (true, false));
    assert!(set_disk_flags(web01, ro, true, false).expect("edits").is_empty(), "already so");
    let out = apply(COMPACT, &set_disk_flags(COMPACT, "/x", true, false).expect("no such disk"));
    assert_eq!(out, COMPACT);
}
