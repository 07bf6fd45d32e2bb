//! The libvirt planner on outputs captured from the libvirt test hosts (libvirt 9.0): what a
//! host shows is given as the observe script's output, so the parser and the planner are tested
//! together, without a host.

use crate::model::Model;
use crate::observe::{self, ObserveRequest, Observed};
use crate::plan::{Action, HostPlan, Impact, Op};

const M: &str = "@@m";
const REPO: &str = "/OVS/Repositories/r1";
const CAPS: &str = include_str!("../../../tests/fixtures/libvirt/capabilities-real.xml");

fn section(kind: &str, arg: &str, body: &str) -> String {
    format!("{M} {kind} {arg}\n{body}\n{M} rc 0\n")
}

/// One domain as `virsh` shows it: name, state, persistent XML, and when running (live XML,
/// vcpuinfo).
type Dom<'a> = (&'a str, &'a str, &'a str, Option<(&'a str, &'a str)>);

/// A host's observe output: the repository, then each domain.
fn output(domains: &[Dom<'_>], files: &str) -> String {
    let mut s = section("fs", REPO, "xfs\n/dev/loop0 1048576 1000 1047576 1% /OVS");
    s += &section("ovsrepo", REPO, "OVS_REPO_UUID=r1");
    s += &section("disks", REPO, files);
    s += &section("lv-caps", "-", CAPS);
    let mut list = String::from(" Id   Name   State\n-----------------------\n");
    for (i, (name, state, _, _)) in domains.iter().enumerate() {
        let id = if *state == "shut off" { "-".to_string() } else { (i + 1).to_string() };
        list += &format!(" {id}    {name}   {state}\n");
    }
    s += &section("lv-list", "-", &list);
    for (name, _, xml, live) in domains {
        s += &section("lv-xml", name, xml);
        if let Some((lx, vc)) = live {
            s += &section("lv-live", name, lx);
            s += &section("lv-vcpu", name, vc);
        }
    }
    s
}

fn model(vms: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("d.yaml");
    let yaml =
        format!("hosts:\n  kvm1:\n    address: 10.0.0.1\n    toolstack: libvirt\n    repository: {REPO}\nvms:\n{vms}");
    std::fs::write(&f, yaml).expect("write");
    crate::manifest::load(&[f]).expect("valid desired state")
}

fn observed(model: &Model, out: &str) -> Observed {
    let host = &model.hosts["kvm1"];
    let req = ObserveRequest {
        toolstack: host.toolstack,
        uri: host.uri.clone(),
        repositories: host.repositories.clone(),
        extra_paths: Vec::new(),
    };
    observe::parse("kvm1", out, M, &req)
}

fn plan(vms: &str, out: &str) -> HostPlan {
    let m = model(vms);
    let obs = observed(&m, out);
    super::plan::plan(&m, &obs)
}

const WEB: &str = "  web:\n    host: kvm1\n    memory: 128MiB\n    vcpus: 2\n    cpus: \"1\"\n    disks:\n      - { name: sys, size: 1GiB }\n    networks:\n      - { bridge: br0, mac: \"00:16:3e:00:00:01\" }\n    console:\n      serial: true\n";

#[test]
fn a_new_vm_is_its_disk_then_its_definition_then_its_start() {
    let hp = plan(WEB, &output(&[], ""));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let ids: Vec<&str> = hp.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["disk/web/sys", "vm/web", "power/web"]);
    let vm = &hp.changes[1];
    let Op::WriteFile { path, content, .. } = &vm.ops[0] else { panic!("{:?}", vm.ops) };
    assert!(path.starts_with(&format!("{REPO}/VirtualMachines/")) && path.ends_with("/domain.xml"), "{path}");
    let d = crate::libvirt::domain::parse(content).expect("the generated XML reads back");
    assert_eq!((d.name.as_str(), d.memory_kib, d.vcpus), ("web", 131072, 2));
    assert_eq!(d.pins.iter().map(|(_, s)| s.to_string()).collect::<Vec<_>>(), ["1", "1"]);
    assert_eq!(vm.ops[1], Op::Virsh { args: vec!["define".into(), "--file".into(), path.clone()] });
    assert!(content.contains("<domain type='kvm'>"), "the host offers KVM (and TCG): {content}");
    assert_eq!(hp.changes[2].ops[0], Op::Virsh { args: vec!["start".into(), "--domain".into(), "web".into()] });
    // The VM's last change records what was applied, for the next plan's causes.
    assert!(matches!(&hp.changes[2].ops[1], Op::WriteFile { path, .. } if path.contains("/.domform-applied/")));
    assert!(hp.changes.iter().all(|c| c.cause == Some(crate::plan::cause::Cause::New)));
}

/// The XML the generator writes for WEB, as libvirt would hand it back (same text: the planner
/// compares meaning, not bytes).
fn defined_web() -> String {
    let m = model(WEB);
    crate::libvirt::generate::domain_xml(&m.vms["web"], "qemu")
}

const VCPUS_ON_1: &str = "VCPU:           0\nCPU:            1\nState:          running\nCPU Affinity:   -y\n\nVCPU:           1\nCPU:            1\nState:          running\nCPU Affinity:   -y\n";

#[test]
fn a_converged_vm_plans_nothing_and_a_moved_pin_is_changed_live_and_checked() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    let hp = plan(WEB, &out);
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);

    let hp = plan(&WEB.replace("cpus: \"1\"", "cpus: \"0\""), &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let ids: Vec<&str> = hp.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["vm/web", "live/web"]);
    let live = &hp.changes[1];
    assert_eq!(live.depends_on, ["vm/web"]);
    assert_eq!(live.verify_pins.len(), 2);
    let pins: Vec<&Op> = live.ops.iter().filter(|o| !matches!(o, Op::WriteFile { .. })).collect();
    assert_eq!(pins.len(), 2, "{:?}", live.ops);
    assert!(pins
        .iter()
        .all(|o| matches!(o, Op::Virsh { args } if args[0] == "vcpupin" && args.contains(&"--live".to_string()))));
    let Op::WriteFile { content, .. } = &hp.changes[0].ops[0] else { panic!() };
    assert!(content.contains("<vcpupin vcpu='0' cpuset='0'/>"), "{content}");
}

#[test]
fn a_running_vm_takes_more_memory_live_and_a_new_maximum_at_its_next_start() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    let hp = plan(&WEB.replace("memory: 128MiB", "memory: 96MiB\n    maxmem: 256MiB"), &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("definition");
    let impact = |f: &str| vm.fields.iter().find(|x| x.field == f).map(|x| x.impact);
    assert_eq!(impact("maxmem"), Some(Impact::NeedsRestart));
    assert_eq!(impact("memory"), Some(Impact::Live));
    assert!(hp.notes.iter().any(|n| n.contains("restart") && n.contains("maxmem")), "{:?}", hp.notes);
    let live = hp.changes.iter().find(|c| c.id == "live/web").expect("live change");
    assert!(live.ops.iter().any(|o| matches!(o, Op::Virsh { args } if args[0] == "setmem")), "{:?}", live.ops);
}

#[test]
fn stopping_absent_and_elements_domform_does_not_own() {
    let xml = defined_web().replace("</devices>", "<video><model type='vga'/></video>\n</devices>");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    let hp = plan(&WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped"), &out);
    assert_eq!(hp.changes.len(), 1, "{:#?}", hp.changes);
    assert_eq!(hp.changes[0].action, Action::Stop);
    let hp = plan(&WEB.replace("memory: 128MiB", "memory: 64MiB"), &out);
    let Op::WriteFile { content, .. } = &hp.changes[0].ops[0] else { panic!() };
    assert!(content.contains("<video><model type='vga'/></video>"), "kept: {content}");
    let hp = plan("  web:\n    host: kvm1\n    state: absent\n", &out);
    assert!(hp.errors.iter().any(|e| e.contains("allow_destroy")), "{:?}", hp.errors);
    let hp = plan("  web:\n    host: kvm1\n    state: absent\n    allow_destroy: true\n", &out);
    assert_eq!(hp.changes.len(), 1);
    assert!(matches!(&hp.changes[0].ops[..], [Op::Shutdown { .. }, Op::Virsh { args }] if args[0] == "undefine"));
    assert!(hp.notes.iter().any(|n| n.contains("web_sys.img")), "{:?}", hp.notes);
}

#[test]
fn kvm_when_the_host_offers_it_else_tcg() {
    let lv = |types: &[&str]| super::observe::LibvirtObserved {
        domain_types: types.iter().map(|t| t.to_string()).collect(),
        domains: Vec::new(),
    };
    assert_eq!(super::plan::domain_type(&lv(&["qemu", "kvm"])), "kvm");
    assert_eq!(super::plan::domain_type(&lv(&["qemu"])), "qemu");
    let m = model(WEB);
    let obs = observed(&m, &output(&[], "").replace("<domain type='kvm'/>", ""));
    assert_eq!(obs.libvirt.as_ref().map(|l| l.domain_types.clone()), Some(vec!["qemu".to_string()]));
}

#[test]
fn a_domain_xml_that_does_not_read_stops_the_host() {
    let out = output(&[("web", "shut off", "<domain><name>web", None)], "");
    let hp = plan(WEB, &out);
    assert!(hp.changes.is_empty());
    assert!(hp.errors.iter().any(|e| e.contains("does not read")), "{:?}", hp.errors);
}

/// WEB with a VNC password read from the file `pw` holds (as `ops::resolve_secrets` reads it).
fn with_password(pw: &str) -> (Model, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("pw");
    std::fs::write(&f, pw).expect("pw");
    let vms = format!("{WEB}      vnc: {{ listen: 127.0.0.1, password: {{ file: {} }} }}\n", f.display());
    let mut m = model(&vms);
    crate::ops::resolve_secrets(&mut m);
    (m, dir)
}

#[test]
fn a_vnc_password_is_a_reference_in_the_plan_and_a_value_only_when_written() {
    let (m, _d) = with_password("s3cr3t");
    let hp = super::plan::plan(&m, &observed(&m, &output(&[], "")));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("define");
    let json = serde_json::to_string(&hp).expect("json");
    assert!(!json.contains("s3cr3t"), "no value in the plan: {json}");
    let Op::WriteFile { content, secrets, .. } = &vm.ops[0] else { panic!() };
    assert!(content.contains("passwd='(secret: file "), "{content}");
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].xml_domain.as_deref(), Some("web"));
    let resolved = crate::apply::secrets::resolve(&hp, None).expect("resolves");
    let Op::WriteFile { content, secrets, .. } =
        &resolved.changes.iter().find(|c| c.id == "vm/web").expect("vm").ops[0]
    else {
        panic!()
    };
    assert!(secrets.is_empty() && content.contains("passwd='s3cr3t'"), "{content}");

    // The host's domain holds the same password (sealed at observe): nothing to do. Another
    // one: a change that shows no value, old or new.
    let host_xml = content.clone();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &host_xml, Some((&host_xml, VCPUS_ON_1)))], &files);
    let obs = observed(&m, &out);
    assert!(!obs.libvirt.as_ref().expect("libvirt").domains[0].xml.contains("s3cr3t"), "sealed at observe");
    let hp = super::plan::plan(&m, &obs);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
    let (m2, _d2) = with_password("0ther");
    let hp = super::plan::plan(&m2, &observed(&m2, &out));
    let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("password change");
    let f = vm.fields.iter().find(|f| f.field == "vnc password").expect("field");
    assert_eq!(f.impact, Impact::NeedsRestart);
    let json = serde_json::to_string(&hp).expect("json");
    assert!(!json.contains("s3cr3t") && !json.contains("0ther"), "{json}");
    let (m3, _d3) = with_password("123456789");
    let hp = super::plan::plan(&m3, &observed(&m3, &output(&[], "")));
    assert!(hp.errors.iter().any(|e| e.contains("at most 8")), "{:?}", hp.errors);
}

#[test]
fn declared_snapshots_of_a_domain_keep_its_xml_and_run_after_its_start() {
    let snaps = "    snapshots: { present: [base], keep: 1 }\n";
    let hp = plan(&format!("{WEB}{snaps}"), &output(&[], ""));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let ids: Vec<&str> = hp.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["disk/web/sys", "vm/web", "power/web", "snapshot/web/base"]);
    let snap = &hp.changes[3];
    assert!(["disk/web/sys", "vm/web", "power/web"].iter().all(|d| snap.depends_on.iter().any(|x| x == d)));
    let Op::Snapshot { parent, disks, pause, domain, cfg_path, .. } = &snap.ops[0] else { panic!("{:?}", snap.ops) };
    assert_eq!(parent, &format!("{REPO}/Snapshots/web"));
    assert_eq!(disks, &[format!("{REPO}/VirtualDisks/web_sys.img")]);
    assert_eq!((pause.as_deref(), domain.as_deref(), cfg_path.as_str()), (Some("web"), Some("web"), ""));

    // Two domform-made snapshots besides `base`, keep 1: the older goes.
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let mut out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    for (name, at) in [("base", "01"), ("a1", "02"), ("a2", "03")] {
        let dir = format!("{REPO}/Snapshots/web/{name}");
        let m = format!("made_by=domform\nvm=web\nname={name}\ncreated=2026-01-{at}T00:00:00Z\ndomain=web\n");
        out += &section("snapmanifest", &format!("{dir}/manifest"), &m);
    }
    let hp = plan(&format!("{WEB}{snaps}"), &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    // (The apply record write rides on the VM's last change; see plan::cause.)
    let gone: Vec<_> = hp.changes.iter().flat_map(|c| &c.ops).filter(|o| !matches!(o, Op::WriteFile { .. })).collect();
    assert_eq!(gone, [&Op::DeleteSnapshot { dir: format!("{REPO}/Snapshots/web/a1") }]);
}

#[test]
fn a_revert_writes_the_disks_of_the_current_xml_and_redefines_the_domain() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    let m = model(WEB);
    let obs = observed(&m, &out);
    let lv = obs.libvirt.as_ref().and_then(|l| l.find("web")).expect("domain");
    let sub = super::snapshot::observed_subject("web", lv, &obs).expect("subject");
    let dir = format!("{REPO}/Snapshots/web/s1");
    let disk = format!("{REPO}/VirtualDisks/web_sys.img");
    let text = format!("vm=web\nname=s1\nrunning=true\nmemory=memory.save\ndisk={disk}|disks/00-web_sys.img|1\n");
    let snap = crate::observe::SnapshotInfo::parse(&dir, &text).expect("manifest");
    let running = obs.domains.iter().find(|d| d.name == "web");
    let changes = crate::plan::snapshot::revert_of(&sub, running, &snap, 30, false).expect("revert plans");
    let ops: Vec<&Op> = changes.iter().flat_map(|c| &c.ops).collect();
    assert!(matches!(ops[0], Op::Shutdown { domain, .. } if domain == "web"), "{ops:?}");
    assert!(
        matches!(ops[1], Op::OrElse { first, on_failure } if matches!(**first, Op::Snapshot { domain: Some(_), .. })
        && on_failure == &vec![Op::Virsh { args: vec!["start".into(), "--domain".into(), "web".into()] }])
    );
    let want = vec![(format!("{dir}/disks/00-web_sys.img"), disk.clone())];
    assert_eq!(
        ops[2],
        &Op::Revert { dir: dir.clone(), cfg_path: String::new(), disks: want, domain: Some("web".into()) }
    );
    assert_eq!(ops[3], &Op::Virsh { args: vec!["restore".into(), "--file".into(), format!("{dir}/memory.save")] });
    // A manifest naming a file that is not a disk of the domain's current XML is refused.
    let evil = crate::observe::SnapshotInfo::parse(&dir, "vm=web\nname=s1\ndisk=/etc/shadow|disks/00-shadow|1\n")
        .expect("manifest");
    let e = crate::plan::snapshot::revert_of(&sub, running, &evil, 30, false).expect_err("refused").to_string();
    assert!(e.contains("not a disk of domain `web`"), "{e}");
}

/// web01 of `libvirt::generate_tests` (without its VNC password, which the capture leaves out),
/// against what libvirt stored for the XML generated for it (tests/fixtures/libvirt): libvirt
/// sorts the disks by bus, so the declared CD-ROM comes after the virtio disks.
const WEB01: &str = "  web01:
    host: kvm1
    memory: 2GiB
    maxmem: 4GiB
    vcpus: 2
    maxvcpus: 4
    cpus: '0-1'
    state: stopped
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
      vnc: { listen: 127.0.0.1, port: 5901, keymap: en-us }
";

#[test]
fn the_xml_libvirt_stores_for_a_generated_domain_plans_no_changes() {
    let xml = include_str!("../../../tests/fixtures/libvirt/generated-web01.xml");
    let files = format!("10737418240 8 {REPO}/VirtualDisks/web01_root.img");
    // A host with 8 logical CPUs (the captured one has 2; web01 may have 4 vCPUs).
    let caps8 = include_str!("../../../tests/fixtures/libvirt/capabilities-2s2c2t.xml");
    let mut out = output(&[("web01", "shut off", xml, None)], &files).replace(CAPS, caps8);
    let paths =
        ["/OVS/Repositories/r1/ISOs/install.iso", "/dev/mapper/quorum", "/OVS/Repositories/r1/VirtualDisks/ro.img"];
    out += &section("paths", "-", &paths.map(|p| format!("1048576 8 {p}")).join("\n"));
    let hp = plan(WEB01, &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes.iter().map(|c| (&c.id, &c.fields)).collect::<Vec<_>>());
    // Running, its two online vCPUs on 0-1: nothing either.
    let vc = "VCPU:           0\nCPU:            0\nState:          running\nCPU Affinity:   yy------\n\n\
VCPU:           1\nCPU:            1\nState:          running\nCPU Affinity:   yy------\n";
    let mut out = output(&[("web01", "running", xml, Some((xml, vc)))], &files).replace(CAPS, caps8);
    out += &section("paths", "-", &paths.map(|p| format!("1048576 8 {p}")).join("\n"));
    let hp = plan(&WEB01.replace("state: stopped", "state: running"), &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes.iter().map(|c| (&c.id, &c.fields)).collect::<Vec<_>>());
}

/// A listed domain whose `dumpxml` failed for another reason than being gone (libvirtd
/// restarting mid-read, a refused `--security-info`) is not a missing domain: planning a new
/// definition for it would replace its XML wholesale. Only "failed to get domain" (undefined
/// since the list) lets the host be planned without it.
#[test]
fn a_listed_domain_whose_xml_could_not_be_read_stops_the_host_unless_it_is_gone() {
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let failed = |msg: &str| {
        output(&[("web", "running", "", None)], &files)
            .replace(&format!("{M} lv-xml web\n\n{M} rc 0\n"), &format!("{M} lv-xml web\n{msg}\n{M} rc 1\n"))
    };
    let out = failed("error: Cannot recv data: Connection reset by peer");
    assert!(out.contains("rc 1"), "{out}");
    let hp = plan(WEB, &out);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
    assert!(
        hp.errors.iter().any(|e| e.contains("kvm1") && e.contains("web") && e.contains("Connection reset")),
        "{:?}",
        hp.errors
    );
    // Undefined between the list and the read: the VM is planned as new.
    let hp = plan(WEB, &failed("error: failed to get domain 'web'"));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.changes.iter().any(|c| c.id == "vm/web" && c.action == Action::Create), "{:#?}", hp.changes);
}

/// A domain listed running that stopped before its live reads: no vCPUs were read, which is not
/// "0 vCPUs online" (that planned `setvcpus --live` to the declared count).
#[test]
fn a_running_domain_whose_vcpuinfo_failed_gets_no_live_vcpu_change() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let out = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files).replace(
        &format!("{M} lv-vcpu web\n{VCPUS_ON_1}\n{M} rc 0\n"),
        &format!("{M} lv-vcpu web\nerror: Requested operation is not valid: domain is not running\n{M} rc 1\n"),
    );
    assert!(out.contains("not running"));
    let hp = plan(WEB, &out);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
}

/// The XML the plan defines for `vms` on a stopped `web` whose XML is `xml`.
fn defined_after(vms: &str, xml: &str) -> String {
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let hp = plan(vms, &output(&[("web", "shut off", xml, None)], &files));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("a definition");
    let Some(Op::WriteFile { content, .. }) = vm.ops.first() else { panic!("{:?}", vm.ops) };
    content.clone()
}

/// A keymap declared for an existing domain (a VNC display added to it, or another keymap) is
/// written, and the domain then plans nothing; it was only ever written for a new domain.
#[test]
fn a_declared_keymap_reaches_an_existing_domain() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let vms = format!("{stopped}      vnc: {{ listen: 127.0.0.1, port: 5905, keymap: de }}\n");
    let xml = defined_after(&vms, &defined_web());
    assert!(xml.contains("keymap='de'"), "{xml}");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let hp = plan(&vms, &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);
    let xml = defined_after(&vms.replace("keymap: de", "keymap: fr"), &xml);
    assert!(xml.contains("keymap='fr'") && !xml.contains("keymap='de'"), "{xml}");
}

/// `import --host` never reads a VNC password, so the declaration it writes has none: the
/// domain's password is kept (as a Xen host keeps an undeclared `vncpasswd`), and the import
/// plans "No changes" instead of removing the password.
#[test]
fn an_undeclared_vnc_password_is_kept() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let vms = format!("{stopped}      vnc: {{ listen: 127.0.0.1 }}\n");
    let xml = defined_after(&vms, &defined_web()).replace("<graphics type='vnc'", "<graphics type='vnc' passwd='h0st'");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let hp = plan(&vms, &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);
    // Redefined for another reason, the XML keeps it (filled in from the host at apply).
    let hp = plan(&vms.replace("memory: 128MiB", "memory: 64MiB"), &output(&[("web", "shut off", &xml, None)], &files));
    let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("a definition");
    assert!(vm.fields.iter().all(|f| f.field != "vnc password"), "{:?}", vm.fields);
    let Op::WriteFile { content, secrets, .. } = &vm.ops[0] else { panic!() };
    assert!(content.contains("passwd='(secret: kept from host)'") && !content.contains("h0st"), "{content}");
    assert_eq!(secrets.len(), 1);
}

/// A password file whose path holds `&` or `<`: its placeholder is XML-escaped in the domain's
/// XML, and is still the slot apply fills (it was written to the host as the password itself).
#[test]
fn a_password_file_path_with_markup_is_still_filled_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("R&D<1>");
    std::fs::write(&f, "s3cr3t").expect("pw");
    let vms = format!("{WEB}      vnc: {{ listen: 127.0.0.1, password: {{ file: \"{}\" }} }}\n", f.display());
    let mut m = model(&vms);
    crate::ops::resolve_secrets(&mut m);
    let hp = super::plan::plan(&m, &observed(&m, &output(&[], "")));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let resolved = crate::apply::secrets::resolve(&hp, None).expect("resolves");
    let vm = resolved.changes.iter().find(|c| c.id == "vm/web").expect("vm");
    let Op::WriteFile { content, secrets, .. } = &vm.ops[0] else { panic!() };
    assert!(secrets.is_empty() && content.contains("passwd='s3cr3t'"), "{content}");
}

/// libvirt refuses a domain whose BIOS prints to a serial port it does not have ("need at least
/// one serial port to use BIOS serial output"): turning the serial console off on a domain
/// generated with one takes its `<bios useserial='yes'/>` too.
#[test]
fn turning_the_serial_console_off_drops_bios_serial_output() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let xml = defined_after(&stopped.replace("serial: true", "serial: false"), &defined_web());
    assert!(!xml.contains("<serial") && !xml.contains("useserial"), "{xml}");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let hp =
        plan(&stopped.replace("serial: true", "serial: false"), &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);
}

/// A disk's declared mode (`r`, `w!`, `w`) reaches the domain's existing disk of that file: it
/// was compared by path only, so a disk declared read-only stayed writable with "No changes".
#[test]
fn a_changed_disk_mode_reaches_the_existing_disk() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let mut xml = defined_web();
    for (mode, ro, shared) in [("r", true, false), ("'w!'", false, true), ("w", false, false)] {
        let vms = stopped.replace("size: 1GiB }", &format!("size: 1GiB, mode: {mode} }}"));
        xml = defined_after(&vms, &xml);
        let d = crate::libvirt::domain::parse(&xml).expect("reads");
        assert_eq!((d.disks[0].readonly, d.disks[0].shareable), (ro, shared), "{mode}: {xml}");
        assert_eq!(d.disks[0].target.as_deref(), Some("vda"), "{xml}");
        let hp = plan(&vms, &output(&[("web", "shut off", &xml, None)], &files));
        assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{mode}: {:?} {:#?}", hp.errors, hp.changes);
    }
}

/// A declared NIC model reaches the existing interface it matches (by MAC); it was never
/// compared, so `model: e1000` on a virtio NIC planned "No changes". One not declared stays.
#[test]
fn a_declared_nic_model_reaches_the_existing_interface() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let vms = stopped.replace("mac: \"00:16:3e:00:00:01\" }", "mac: \"00:16:3e:00:00:01\", model: e1000 }");
    let xml = defined_after(&vms, &defined_web());
    let d = crate::libvirt::domain::parse(&xml).expect("reads");
    assert_eq!(d.interfaces[0].model.as_deref(), Some("e1000"), "{xml}");
    let hp = plan(&vms, &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);
    let hp = plan(&stopped, &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "undeclared: {:?} {:#?}", hp.errors, hp.changes);
}

/// libvirtd down: `virsh capabilities` and `list` fail (and no domain is read). The host is
/// refused by plan and by the imperative commands (`Observed::unreadable`), naming it and why.
#[test]
fn a_host_whose_libvirtd_is_down_is_refused() {
    let down = "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory";
    let out = output(&[], "")
        .replace(&format!("{M} lv-caps -\n{CAPS}\n{M} rc 0\n"), &format!("{M} lv-caps -\n{down}\n{M} rc 1\n"));
    assert!(out.contains(&format!("{down}\n{M} rc 1\n")));
    let list_at = out.find(&format!("{M} lv-list -\n")).expect("list section");
    let out = format!("{}{M} lv-list -\n{down}\n{M} rc 1\n", &out[..list_at]);
    let m = model(WEB);
    let obs = observed(&m, &out);
    let why = obs.unreadable().expect("refused");
    assert!(why.contains("kvm1") && why.contains("virsh list --all") && why.contains("libvirt-sock"), "{why}");
    let hp = super::plan::plan(&m, &obs);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
    assert!(hp.errors.iter().any(|e| e.contains("kvm1") && e.contains("failed to connect")), "{:?}", hp.errors);
}

/// libvirtd restarting mid-observe: `list --all` was read, but then every read failed and the
/// fallback's own `list` printed nothing, so no domain has an XML section, failed or not. A
/// listed domain left unread is not a missing one (the plan defined and started it anew).
#[test]
fn a_listed_domain_with_no_xml_read_stops_the_host() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let full = output(&[("web", "running", &xml, Some((&xml, VCPUS_ON_1)))], &files);
    let out = &full[..full.find(&format!("{M} lv-xml web")).expect("xml section")];
    let hp = plan(WEB, out);
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
    assert!(hp.errors.iter().any(|e| e.contains("kvm1") && e.contains("`web`")), "{:?}", hp.errors);
}

/// A read-only disk that is also `<shareable/>` imports as `mode: r` (the model has no mode for
/// both): it plans nothing, its `<shareable/>` stays.
#[test]
fn a_read_only_shareable_disk_declared_read_only_plans_nothing() {
    let stopped = WEB.replace("vcpus: 2", "vcpus: 2\n    state: stopped");
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let vms = stopped.replace("size: 1GiB }", "size: 1GiB, mode: r }");
    let xml = defined_after(&vms, &defined_web()).replace("<readonly/>", "<readonly/>\n      <shareable/>");
    assert!(xml.contains("<shareable/>"));
    let hp = plan(&vms, &output(&[("web", "shut off", &xml, None)], &files));
    assert!(hp.errors.is_empty() && hp.changes.is_empty(), "{:?} {:#?}", hp.errors, hp.changes);
}

/// A raised vCPU maximum waits for the next start: once it is defined, the running domain still
/// has its old maximum (its live XML), so no `setvcpus --live` above that is planned (virsh
/// refuses it: "requested vcpus is greater than max allowable vcpus for the live domain").
#[test]
fn setvcpus_live_only_up_to_the_maximum_the_running_domain_has() {
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let live = defined_web();
    let vms = WEB.replace("vcpus: 2", "vcpus: 4\n    maxvcpus: 4").replace("cpus: \"1\"", "cpus: \"0-1\"");
    let caps8 = include_str!("../../../tests/fixtures/libvirt/capabilities-2s2c2t.xml");
    let out = |xml: &str, vc: &str| output(&[("web", "running", xml, Some((&live, vc)))], &files).replace(CAPS, caps8);
    let defined = {
        let hp = plan(&vms, &out(&live, VCPUS_ON_1));
        assert!(hp.errors.is_empty(), "{:?}", hp.errors);
        let vm = hp.changes.iter().find(|c| c.id == "vm/web").expect("definition");
        let Op::WriteFile { content, .. } = &vm.ops[0] else { panic!() };
        content.clone()
    };
    let hp = plan(&vms, &out(&defined, &VCPUS_ON_1.replace("-y", "yy------")));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let setvcpus =
        hp.changes.iter().flat_map(|c| &c.ops).any(|o| matches!(o, Op::Virsh { args } if args[0] == "setvcpus"));
    assert!(!setvcpus, "{:#?}", hp.changes);
}

#[test]
fn a_running_domain_whose_live_state_was_not_read_stops_the_host_unless_it_stopped() {
    let xml = defined_web();
    let files = format!("1073741824 8 {REPO}/VirtualDisks/web_sys.img");
    let failed = |body: &str| format!("{M} lv-vcpu web\n{body}\n{M} rc 1\n");
    let base = output(&[("web", "running", &xml, None)], &files);
    let hp = plan(WEB, &format!("{base}{}", failed("error: internal error: cannot get vCPU placement")));
    assert!(hp.changes.is_empty(), "{:#?}", hp.changes);
    assert!(
        hp.errors.iter().any(|e| e.contains("runs but its live state") && e.contains("vCPU placement")),
        "{:?}",
        hp.errors
    );
    let hp = plan(WEB, &base);
    assert!(hp.errors.iter().any(|e| e.contains("nothing was read")), "{:?}", hp.errors);
    // Stopped since the list: a warning, and the host is planned.
    let hp = plan(WEB, &format!("{base}{}", failed("error: Requested operation is not valid: domain is not running")));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
}

#[test]
fn a_name_with_outer_blanks_keeps_its_listed_state() {
    let xml = defined_web().replace("<name>web</name>", "<name>web </name>");
    // (domform cannot declare such a name; the host can still have one.)
    let m = model(WEB);
    let obs = observed(&m, &output(&[("web ", "shut off", &xml, None)], ""));
    let lv = obs.libvirt.as_ref().expect("libvirt");
    assert_eq!(lv.domains[0].state, Some(crate::libvirt::virsh::DomState::ShutOff));
}
