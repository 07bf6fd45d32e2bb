//! Consoles in the desired vm.cfg: HVM top-level VNC keys, the PV `vfb` stanza, fixed port vs
//! `vncunused`, keymap, the PV kernel console argument in `extra` (appended once), "no changes"
//! once converged, and VNC passwords that reach vm.cfg but no output.

mod common;
use common::{info_text, DOM0};
use domform::manifest;
use domform::model::Model;
use domform::observe::{CfgFile, Observed, Repository};
use domform::plan::{self, HostPlan, Op};
use domform::render::plan as render;
use domform::xen;
use vmcfg::{Value, VmCfg};

const HOST: &str = "h1";
const REPO: &str = "/OVS/Repositories/r";
/// The unique password of these tests: it must never appear in any output.
const PW: &str = "Pw-7f3a9";

fn observed(cfgs: &[(&str, &str)]) -> Observed {
    Observed {
        host: HOST.into(),
        info: Some(xen::parse_xm_info(&info_text()).expect("xm info parses")),
        domains: xen::parse_xm_list_long(DOM0).expect("xm list -l parses"),
        cfgs: cfgs
            .iter()
            .map(|(p, t)| CfgFile { path: p.to_string(), text: t.to_string(), cfg: VmCfg::parse(t).expect("cfg") })
            .collect(),
        repos: vec![Repository { path: REPO.into(), exists: true, ..Repository::default() }],
        ..Observed::default()
    }
}

/// A model with one VM `vm1` whose body (4-space indented fields) is given; secrets resolved.
fn model(body: &str) -> Model {
    let yaml = format!(
        "hosts:\n  {HOST}:\n    transport: local\n    repository: {REPO}\nvms:\n  vm1:\n    host: {HOST}\n    \
         memory: 1GiB\n    vcpus: 1\n    state: stopped\n{body}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    let mut m = manifest::load(&[path]).unwrap_or_else(|e| panic!("model does not load: {e:#?}"));
    domform::ops::resolve_secrets(&mut m);
    m
}

/// A password file holding [`PW`] (kept alive by the returned guard).
fn pw_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("vnc.pw");
    std::fs::write(&p, format!("{PW}\n")).expect("write");
    let s = p.display().to_string();
    (dir, s)
}

/// Plans `m` against `cfgs`; returns the plan and the vm.cfg written for vm1 (if any), with the
/// plan's secret references resolved as apply resolves them when it builds the host script.
fn plan_of(m: &Model, cfgs: &[(&str, &str)]) -> (HostPlan, Option<String>) {
    let obs = observed(cfgs);
    let hp = plan::plan_host(m, &obs);
    let real = domform::apply::secrets::resolve(&hp, Some(&obs)).expect("the plan's secrets resolve");
    let content = real.changes.iter().flat_map(|c| &c.ops).find_map(|o| match o {
        Op::WriteFile { content, .. } => Some(content.clone()),
        _ => None,
    });
    (hp, content)
}

/// The vm.cfg of a new vm1, and the plan for that file once it is on the host (must be empty).
fn converge(m: &Model) -> VmCfg {
    let (hp, content) = plan_of(m, &[]);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let text = content.expect("a new vm.cfg");
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    let (again, _) = plan_of(m, &[(&path, &text)]);
    assert!(again.changes.is_empty(), "converged VM plans changes: {:?}", again.changes);
    VmCfg::parse(&text).expect("parses")
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

#[test]
fn hvm_fixed_port_top_level_keys() {
    let (_g, f) = pw_file();
    let m = model(&format!(
        "    console:\n      serial: true\n      vnc: {{ port: 5901, keymap: en-us, password: {{ file: {f} }} }}\n"
    ));
    let cfg = converge(&m);
    assert_eq!(cfg.get("vnc"), Some(&Value::Int(1)));
    assert_eq!(cfg.get("vncunused"), Some(&Value::Int(0)));
    assert_eq!(cfg.get("vncdisplay"), Some(&Value::Int(1)));
    assert_eq!(cfg.get("vnclisten"), Some(&s("127.0.0.1")));
    assert_eq!(cfg.get("keymap"), Some(&s("en-us")));
    assert_eq!(cfg.get("vncpasswd"), Some(&s(PW)));
    assert_eq!(cfg.get("serial"), Some(&s("pty")));
    assert!(cfg.get("vfb").is_none() && cfg.get("extra").is_none(), "HVM: no vfb, no kernel console");
}

#[test]
fn pv_vncunused_vfb_stanza_and_kernel_console() {
    let (_g, f) = pw_file();
    let m = model(&format!(
        "    type: pv\n    console:\n      serial: true\n      vnc: {{ keymap: en-us, password: {{ file: {f} }} }}\n"
    ));
    let cfg = converge(&m);
    let want = format!("type=vnc,vncunused=1,vnclisten=127.0.0.1,vncpasswd={PW},keymap=en-us");
    assert_eq!(cfg.get("vfb"), Some(&Value::List(vec![s(&want)])));
    assert_eq!(cfg.get("extra"), Some(&s("console=hvc0")));
    for k in ["vnc", "vncunused", "vncdisplay", "vncpasswd", "keymap"] {
        assert!(cfg.get(k).is_none(), "PV writes no top-level `{k}`");
    }
}

#[test]
fn pv_fixed_port_and_xvc0() {
    let m =
        model("    type: pv\n    console:\n      serial: true\n      pv_console: xvc0\n      vnc: { port: 5905 }\n");
    let cfg = converge(&m);
    assert_eq!(cfg.get("vfb"), Some(&Value::List(vec![s("type=vnc,vncunused=0,vncdisplay=5,vnclisten=127.0.0.1")])));
    assert_eq!(cfg.get("extra"), Some(&s("console=xvc0")));
}

const PV_CFG: &str =
    "name = 'vm1'\nOVM_simple_name = 'vm1'\nmemory = 1024\nvcpus = 1\nbootloader = '/usr/bin/pygrub'\n\
                      OVM_domain_type = 'xen_pvm'\n";

#[test]
fn extra_is_appended_once_and_compared_by_meaning() {
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    let m = model("    type: pv\n    console: { serial: true }\n");
    let cfg = format!("{PV_CFG}extra = 'ro quiet'\nserial = 'pty'\n");
    let (hp, content) = plan_of(&m, &[(&path, &cfg)]);
    let new = VmCfg::parse(&content.expect("extra changes")).expect("parses");
    assert_eq!(new.get("extra"), Some(&s("ro quiet console=hvc0")));
    let f = &hp.changes[0].fields;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].old.as_deref(), f[0].new.as_deref()), (Some("ro quiet"), Some("ro quiet console=hvc0")));
    // Already there (with options, or among others): nothing to do.
    for extra in ["console=hvc0", "ro console=hvc0,115200 quiet", "console=tty0 console=hvc0"] {
        let cfg = format!("{PV_CFG}extra = '{extra}'\nserial = 'pty'\n");
        let (hp, _) = plan_of(&m, &[(&path, &cfg)]);
        assert!(hp.changes.is_empty(), "{extra}: {:?}", hp.changes);
    }
    // Another console only: ours is added after it.
    let cfg = format!("{PV_CFG}extra = 'console=tty0'\nserial = 'pty'\n");
    let (_, content) = plan_of(&m, &[(&path, &cfg)]);
    assert!(content.expect("changes").contains("extra = 'console=tty0 console=hvc0'"));
}

#[test]
fn declared_extra_is_the_base_of_the_console_argument() {
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    let m = model("    type: pv\n    console: { serial: true }\n    extra_config: { extra: \"ro quiet\" }\n");
    let (_, content) = plan_of(&m, &[(&path, &format!("{PV_CFG}serial = 'pty'\nextra = ''\n"))]);
    let text = content.expect("changes");
    assert_eq!(text.matches("extra =").count(), 1, "{text}");
    assert!(text.contains("extra = 'ro quiet console=hvc0'"), "{text}");
    let (hp, _) = plan_of(&m, &[(&path, &text)]);
    assert!(hp.changes.is_empty(), "{:?}", hp.changes);
}

#[test]
fn ovm_and_cloudstack_forms_are_equal_by_meaning() {
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    // OVM's HVM keys (sample-01 shape): `vnc = 1`, quoted or boolean flags.
    let hvm = "name = 'vm1'\nOVM_simple_name = 'vm1'\nmemory = 1024\nvcpus = 1\nbuilder = 'hvm'\n\
               vnclisten = '127.0.0.1'\nvncunused = True\nvnc = '1'\nkeymap = 'pt-br'\n";
    let (hp, _) = plan_of(&model("    console:\n      vnc: { keymap: pt-br }\n"), &[(&path, hvm)]);
    assert!(hp.changes.is_empty(), "{:?}", hp.changes);
    // CloudStack's PV stanza order (sample-05), another listen address: only vnclisten moves.
    let (_g, f) = pw_file();
    let pv = format!("{PV_CFG}vfb = ['vncunused=1,vncpasswd={PW},keymap=en-us,type=vnc,vnclisten=0.0.0.0']\n");
    let m = model(&format!("    type: pv\n    console:\n      vnc: {{ keymap: en-us, password: {{ file: {f} }} }}\n"));
    let (hp, content) = plan_of(&m, &[(&path, &pv)]);
    let text = content.expect("listen changes");
    assert!(text.contains(&format!("vfb = ['vncunused=1,vncpasswd={PW},keymap=en-us,type=vnc,vnclisten=127.0.0.1']")));
    assert_eq!(hp.changes[0].fields.len(), 1);
    let (hp, _) = plan_of(&m, &[(&path, &text)]);
    assert!(hp.changes.is_empty(), "{:?}", hp.changes);
}

#[test]
fn switching_to_a_free_port_drops_vncdisplay() {
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    let hvm = "name = 'vm1'\nOVM_simple_name = 'vm1'\nmemory = 1024\nvcpus = 1\nbuilder = 'hvm'\n\
               vnc = 1\nvncunused = 0\nvncdisplay = 3\nvnclisten = '127.0.0.1'\n";
    let (hp, content) = plan_of(&model("    console:\n      vnc: {}\n"), &[(&path, hvm)]);
    let new = VmCfg::parse(&content.expect("changes")).expect("parses");
    assert_eq!(new.get("vncunused"), Some(&Value::Int(1)));
    assert!(new.get("vncdisplay").is_none());
    let names: Vec<&str> = hp.changes[0].fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["vncunused", "vncdisplay"]);
}

#[test]
fn password_reaches_vm_cfg_but_no_output() {
    let (_g, f) = pw_file();
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    for (vm_type, old) in
        [("hvm", "builder = 'hvm'\nvncpasswd = 'old-Pw-1'\n"), ("pv", "vfb = ['type=vnc,vncpasswd=old-Pw-1']\n")]
    {
        let m = model(&format!("    type: {vm_type}\n    console:\n      vnc: {{ password: {{ file: {f} }} }}\n"));
        let cfg = format!("name = 'vm1'\nOVM_simple_name = 'vm1'\nmemory = 1024\nvcpus = 1\n{old}");
        for cfgs in [vec![], vec![(path.as_str(), cfg.as_str())]] {
            let (hp, content) = plan_of(&m, &cfgs);
            assert!(content.expect("written").contains(PW), "{vm_type}: the real value goes to the host");
            let p = plan::Plan { format_version: plan::FORMAT_VERSION, hosts: vec![hp.clone()] };
            let json = render::json(&p);
            for out in [render::human(&p, false), render::human(&p, true), render::markdown(&p), json.clone()] {
                assert!(!out.contains(PW) && !out.contains("old-Pw-1"), "{vm_type}: leaked in:\n{out}");
                assert!(
                    out.contains(&format!(
                        "vncpasswd{}(secret: file {f})",
                        if vm_type == "hvm" { " = '" } else { "=" }
                    )),
                    "{out}"
                );
            }
            // Not in the plan value either (what a log, a panic or the engine would see).
            assert!(!format!("{hp:?}").contains(PW) && !format!("{hp:?}").contains("old-Pw-1"));
            // The saved plan is the plan, exactly, and is what `apply PLANFILE` runs.
            let saved: plan::Plan = serde_json::from_str(&json).expect("saved plan reads back");
            assert_eq!(saved, p);
            assert_eq!(saved.hosts[0], plan_of(&m, &cfgs).0, "the same plan when made again");
        }
    }
    // The model's Debug (what a `{:?}` in a log would print) hides it too.
    let m = model(&format!("    console:\n      vnc: {{ password: {{ file: {f} }} }}\n"));
    assert!(!format!("{m:?}").contains(PW));
}

#[test]
fn unreadable_password_is_a_plan_error_naming_vm_and_source() {
    let m = model("    console:\n      vnc: { password: { env: DOMFORM_TEST_VNC_PW_SURELY_UNSET } }\n");
    let (hp, content) = plan_of(&m, &[]);
    assert!(content.is_none(), "nothing planned for the VM");
    assert_eq!(
        hp.errors,
        ["VM `vm1`: VNC password: environment variable `DOMFORM_TEST_VNC_PW_SURELY_UNSET` is not set"]
    );
    let m = model("    console:\n      vnc: { password: { file: /nonexistent/domform/pw } }\n");
    let (hp, _) = plan_of(&m, &[]);
    assert_eq!(hp.errors, ["VM `vm1`: VNC password: cannot read file /nonexistent/domform/pw: entity not found"]);
}

#[test]
fn a_changed_password_behind_the_same_reference_is_a_change_and_the_saved_plan_no_longer_matches() {
    let (dir, f) = pw_file();
    let m = model(&format!("    type: hvm\n    console:\n      vnc: {{ password: {{ file: {f} }} }}\n"));
    let (hp, content) = plan_of(&m, &[]);
    let on_host = content.expect("a new vm.cfg");
    let path = format!("{REPO}/VirtualMachines/x/vm.cfg");
    assert!(plan_of(&m, &[(&path, &on_host)]).0.changes.is_empty(), "converged");
    // Same file, new value.
    std::fs::write(dir.path().join("vnc.pw"), "Pw-new-42\n").expect("write");
    let m2 = model(&format!("    type: hvm\n    console:\n      vnc: {{ password: {{ file: {f} }} }}\n"));
    let (hp2, content2) = plan_of(&m2, &[(&path, &on_host)]);
    assert_eq!(hp2.changes.len(), 1, "{:?}", hp2.changes);
    let fields: Vec<&str> = hp2.changes[0].fields.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["vncpasswd"]);
    assert!(content2.expect("rewritten").contains("vncpasswd = 'Pw-new-42'"));
    let p = plan::Plan { format_version: plan::FORMAT_VERSION, hosts: vec![hp2.clone()] };
    let out = render::human(&p, false);
    assert!(!out.contains("Pw-new-42") && !out.contains(PW), "{out}");
    assert!(out.contains(&format!("vncpasswd: (secret: kept from host) → (secret: file {f})")), "{out}");
    // The first plan's reference is the same, its tag is not: a plan saved before the change
    // differs from the plan made now, and is refused at the edge as well.
    let tags = |hp: &HostPlan| format!("{:?}", hp.changes.iter().flat_map(|c| &c.ops).collect::<Vec<_>>());
    assert_ne!(tags(&hp), tags(&plan_of(&m2, &[]).0));
    let e = domform::apply::secrets::resolve(&hp, None).expect_err("stale secret");
    assert!(e.contains(&f) && e.contains("changed since the plan was made") && !e.contains("Pw-"), "{e}");
}
