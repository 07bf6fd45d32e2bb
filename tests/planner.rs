//! The planner through its public API: hand-built observed states (real `xm` text shapes),
//! desired states loaded from YAML, and the plan values `plan_host` computes from them.

mod common;
use common::{info_text, DOM0};
use std::path::PathBuf;

use domform::manifest;
use domform::model::Model;
use domform::observe::{self, CfgFile, FileSize, ObserveRequest, Observed, Repository};
use domform::plan::{self, Action, Change, HostPlan, Impact, Op};
use domform::transport::fake::FakeTransport;
use domform::transport::ExecOutput;
use domform::xen;
use vmcfg::{Value, VmCfg};

const HOST: &str = "h1";
const REPO: &str = "/OVS/Repositories/r";
const GIB: u64 = 1 << 30;
/// An OVM Manager-made VM (test 3).
const OVM_DOM: &str = "0004fb0000060000cfe2da48f9e2120e";
/// The domain of the `app01` fixture VM.
const APP_DOM: &str = "0004fb00000600001111222233334444";
const APP_CFG: &str = "/OVS/Repositories/r/VirtualMachines/0004fb00000600001111222233334444/vm.cfg";

/// One `xm list -l` domain record; `cpus` is the per-vCPU affinity list, e.g. `(() ())`.
fn dom(name: &str, state: &str, mem: u64, maxmem: u64, cpus: &str) -> String {
    format!(
        "(domain\n    (domid 7)\n    (cpu_weight 27500)\n    (vcpus 2)\n    (cpus {cpus})\n    (name {name})\n    \
         (maxmem {maxmem})\n    (memory {mem})\n    (online_vcpus 2)\n    (image (hvm (kernel '')))\n    \
         (state {state})\n    (device (vif (bridge xenbr0) (mac 00:21:f6:00:00:09)))\n)\n"
    )
}

fn observed(cfgs: &[(&str, &str)], domains_sxp: &str, files: &[(&str, u64)]) -> Observed {
    Observed {
        host: HOST.into(),
        info: Some(xen::parse_xm_info(&info_text()).expect("xm info parses")),
        domains: xen::parse_xm_list_long(&format!("{DOM0}{domains_sxp}")).expect("xm list -l parses"),
        cfgs: cfgs
            .iter()
            .map(|(p, t)| CfgFile { path: p.to_string(), text: t.to_string(), cfg: VmCfg::parse(t).expect("cfg") })
            .collect(),
        repos: vec![Repository { path: REPO.into(), exists: true, ..Repository::default() }],
        files: files.iter().map(|(p, s)| (p.to_string(), FileSize { size: *s, allocated: 0 })).collect(),
        ..Observed::default()
    }
}

/// A model with host `h1` and the given `vms:` body (entries indented by two spaces).
fn model(vms: &str) -> Model {
    let yaml = format!("hosts:\n  {HOST}:\n    transport: local\n    repository: {REPO}\nvms:\n{vms}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    manifest::load(&[path]).unwrap_or_else(|e| panic!("model does not load: {e:#?}"))
}

fn ids(hp: &HostPlan) -> Vec<&str> {
    hp.changes.iter().map(|c| c.id.as_str()).collect()
}

fn change<'a>(hp: &'a HostPlan, id: &str) -> &'a Change {
    hp.changes.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no change {id} in {:?}", ids(hp)))
}

/// A change's own ops, without the record of what was applied that the VM's last change also
/// writes (`plan::cause`; tested in `applied_record_rides_on_the_last_change`).
fn own(c: &Change) -> Vec<Op> {
    c.ops
        .iter()
        .filter(|o| !matches!(o, Op::WriteFile { path, .. } if path.contains("/.domform-applied/")))
        .cloned()
        .collect()
}

fn xen_ops(c: &Change) -> Vec<Vec<String>> {
    c.ops.iter().filter_map(|o| if let Op::Xen { args } = o { Some(args.clone()) } else { None }).collect()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn field_impact(c: &Change, field: &str) -> Impact {
    c.fields.iter().find(|f| f.field == field).unwrap_or_else(|| panic!("no field {field} in {:?}", c.fields)).impact
}

fn vm_yaml(name: &str, body: &str) -> String {
    format!("  {name}:\n    host: {HOST}\n{body}")
}

const WEB: &str = "    memory: 2GiB\n    vcpus: 2\n    disks:\n      - { name: system, size: 10GiB }\n      \
                   - { name: data, size: 1GiB }\n    networks:\n      - { bridge: xenbr0 }\n";

/// The new-VM plan of `web01` with the given `cpus:` line; returns (plan, vm.cfg path, content).
fn plan_new_web(cpus: &str) -> (HostPlan, String, String) {
    let hp = plan::plan_host(&model(&vm_yaml("web01", &format!("{WEB}{cpus}"))), &observed(&[], "", &[]));
    let c = change(&hp, "vm/web01");
    let mine = own(c);
    let [Op::WriteFile { path, content, backup: false, .. }] = mine.as_slice() else { panic!("ops: {:?}", c.ops) };
    (hp.clone(), path.clone(), content.clone())
}

#[test]
fn new_vm_creates_disks_then_cfg_then_starts() {
    let (hp, path, content) = plan_new_web("    cpus: \"4-5\"\n");
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert_eq!(ids(&hp), ["disk/web01/data", "disk/web01/system", "vm/web01", "power/web01"]);
    assert_eq!(
        own(change(&hp, "disk/web01/system")),
        [Op::CreateDisk { path: format!("{REPO}/VirtualDisks/web01_system.img"), size: 10 * GIB }]
    );
    let vm = change(&hp, "vm/web01");
    assert_eq!(vm.action, Action::Create);
    assert_eq!(vm.depends_on, ["disk/web01/system", "disk/web01/data"]);
    let id = path
        .strip_prefix(&format!("{REPO}/VirtualMachines/"))
        .and_then(|p| p.strip_suffix("/vm.cfg"))
        .unwrap_or_else(|| panic!("path {path}"));
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    let cfg = VmCfg::parse(&content).expect("written vm.cfg parses");
    assert_eq!(cfg.get("memory").and_then(Value::as_int), Some(2048));
    assert_eq!(cfg.get("vcpus").and_then(Value::as_int), Some(2));
    assert_eq!(cfg.get("OVM_simple_name"), Some(&Value::Str("web01".into())));
    assert_eq!(cfg.get("name"), Some(&Value::Str(id.into())));
    assert_eq!(cfg.get("cpus"), Some(&Value::Str("4-5".into())), "string form stays a string");
    let disks = cfg.get("disk").and_then(Value::as_list).expect("disk list");
    assert_eq!(disks[0], Value::Str(format!("file:{REPO}/VirtualDisks/web01_system.img,xvda,w")));
    let power = change(&hp, "power/web01");
    assert_eq!((power.action, power.depends_on.as_slice()), (Action::Start, ["vm/web01".to_string()].as_slice()));
    assert_eq!(own(power), [Op::Xen { args: args(&["create", &path]) }]);
    let (_, again, _) = plan_new_web("    cpus: \"4-5\"\n");
    assert_eq!(again, path, "the id is deterministic");
}

#[test]
fn new_vm_per_vcpu_pinning_is_a_list_of_strings() {
    let (_, _, content) = plan_new_web("    cpus: [\"4\", \"5\"]\n");
    let cfg = VmCfg::parse(&content).expect("parses");
    assert_eq!(cfg.get("cpus"), Some(&Value::List(vec![Value::Str("4".into()), Value::Str("5".into())])));
}

#[test]
fn converged_host_plans_nothing() {
    let (_, path, content) = plan_new_web("    cpus: \"4-5\"\n");
    let id = path.rsplit('/').nth(1).expect("id dir");
    let obs = observed(
        &[(&path, &content)],
        &dom(id, "-b----", 2048, 2048, "((4 5) (4 5))"),
        &[
            (&format!("{REPO}/VirtualDisks/web01_system.img"), 10 * GIB),
            (&format!("{REPO}/VirtualDisks/web01_data.img"), GIB),
        ],
    );
    let hp = plan::plan_host(&model(&vm_yaml("web01", &format!("{WEB}    cpus: \"4-5\"\n"))), &obs);
    assert_eq!(ids(&hp), Vec::<&str>::new());
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
}

const OVM_PATH: &str = "/OVS/Repositories/r/VirtualMachines/0004fb0000060000cfe2da48f9e2120e/vm.cfg";
const OVM_CFG: &str = "# Generated by Oracle VM Manager\nvif = ['mac=00:21:F6:00:00:01,bridge=0a0b0c0d0e']\n\
    OVM_simple_name = 'db01'\nOVM_os_type = 'Oracle Linux 6'\n\
    disk = ['file:///OVS/Repositories/r/VirtualDisks/0004fb0000120000aaaa.img,xvda,w']\n\
    uuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'\n# memory is in MiB\nmemory = '4096'  # Manager quotes it\n\
    cpu_weight = 27500\nOVM_high_availability = False\nvnc = 1\nname = '0004fb0000060000cfe2da48f9e2120e'\n\
    builder = 'hvm'\nvcpus = 2\n";

fn db01(memory: &str) -> HostPlan {
    let body = format!(
        "    memory: {memory}\n    vcpus: 2\n    disks:\n      - {{ path: {REPO}/VirtualDisks/0004fb0000120000aaaa.img }}\n    \
         networks:\n      - {{ bridge: 0a0b0c0d0e, mac: \"00:21:f6:00:00:01\" }}\n"
    );
    let obs = observed(
        &[(OVM_PATH, OVM_CFG)],
        &dom(OVM_DOM, "-b----", 4096, 4096, "(() ())"),
        &[(&format!("{REPO}/VirtualDisks/0004fb0000120000aaaa.img"), 20 * GIB)],
    );
    plan::plan_host(&model(&vm_yaml("db01", &body)), &obs)
}

#[test]
fn ovm_manager_vm_is_compared_semantically_and_edited_minimally() {
    let same = db01("4096");
    assert!(same.changes.is_empty() && same.errors.is_empty(), "{:#?}", same);
    let hp = db01("8GiB");
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert_eq!(ids(&hp), ["vm/db01"]);
    let c = &hp.changes[0];
    assert_eq!((c.action, c.impact), (Action::Update, Impact::NeedsRestart));
    assert!(hp.changes.iter().all(|c| c.action != Action::Create), "never recreated");
    let file = c.file.as_ref().expect("diff");
    assert_eq!((file.path.as_str(), file.old.as_str()), (OVM_PATH, OVM_CFG));
    let (old, new): (Vec<&str>, Vec<&str>) = (file.old.lines().collect(), file.new.lines().collect());
    assert_eq!(old.len(), new.len());
    let differing: Vec<(&str, &str)> = old.iter().zip(&new).filter(|(a, b)| a != b).map(|(a, b)| (*a, *b)).collect();
    assert_eq!(differing, [("memory = '4096'  # Manager quotes it", "memory = 8192  # Manager quotes it")]);
    assert_eq!(
        own(c),
        [Op::WriteFile { path: OVM_PATH.into(), content: file.new.clone(), backup: true, secrets: Vec::new() }]
    );
}

/// A domform-style vm.cfg for `app01` with the given memory/maxmem/bridge.
fn app_cfg(bridge: &str, cpus: &str) -> String {
    format!(
        "name = '{APP_DOM}'\nOVM_simple_name = 'app01'\nmemory = 2048\nmaxmem = 4096\nvcpus = 2\n{cpus}\
         vif = ['bridge={bridge}']\n"
    )
}

fn app01(body: &str, domain: &str) -> HostPlan {
    let cfg = app_cfg("xenbr0", "");
    plan::plan_host(&model(&vm_yaml("app01", body)), &observed(&[(APP_CFG, &cfg)], domain, &[]))
}

fn app_body(memory: &str, extra: &str, bridge: &str) -> String {
    format!("    memory: {memory}\n    vcpus: 2\n    networks:\n      - {{ bridge: {bridge} }}\n{extra}")
}

#[test]
fn live_versus_needs_restart() {
    let running = dom(APP_DOM, "-b----", 2048, 4096, "(() ())");
    let hp = app01(&app_body("3072", "    maxmem: 4096\n", "xenbr0"), &running);
    let c = change(&hp, "vm/app01");
    assert_eq!((field_impact(c, "memory"), c.impact), (Impact::Live, Impact::Live));
    assert_eq!(xen_ops(c), [args(&["mem-set", APP_DOM, "3072"])]);
    assert!(hp.notes.is_empty(), "{:?}", hp.notes);

    let hp = app01(&app_body("8GiB", "", "xenbr0"), &running);
    let c = change(&hp, "vm/app01");
    assert_eq!((field_impact(c, "memory"), c.impact), (Impact::NeedsRestart, Impact::NeedsRestart));
    assert!(xen_ops(c).iter().all(|a| a[0] != "mem-set"), "{:?}", c.ops);
    assert!(hp.notes.iter().any(|n| n.contains("memory") && n.contains("restart")), "{:?}", hp.notes);

    let hp = app01(&app_body("2048", "    maxmem: 4096\n", "xenbr1"), &running);
    let c = change(&hp, "vm/app01");
    assert_eq!(c.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["vif"]);
    assert_eq!((field_impact(c, "vif"), c.impact), (Impact::NeedsRestart, Impact::NeedsRestart));
    assert!(xen_ops(c).is_empty());

    let hp = app01(&app_body("8GiB", "", "xenbr1"), "");
    let c = change(&hp, "vm/app01");
    assert!(c.fields.len() >= 2 && c.fields.iter().all(|f| f.impact == Impact::Live), "{:?}", c.fields);
    assert_eq!(c.impact, Impact::Live);
    assert_eq!(change(&hp, "power/app01").action, Action::Start);
}

const APP_SAME: &str = "    memory: 2048\n    maxmem: 4096\n    vcpus: 2\n    networks:\n      - { bridge: xenbr0 }\n";

#[test]
fn power_state_changes() {
    let running = dom(APP_DOM, "-b----", 2048, 4096, "(() ())");
    let paused = dom(APP_DOM, "--p---", 2048, 4096, "(() ())");
    let shutdown = |force| Op::Shutdown { domain: APP_DOM.into(), timeout_secs: 120, force };
    let power = |body: String, d: &str| {
        let hp = app01(&body, d);
        assert_eq!(ids(&hp), ["power/app01"], "{:#?}", hp);
        hp.changes[0].clone()
    };
    let c = power(format!("{APP_SAME}    state: stopped\n"), &running);
    assert_eq!((c.action, own(&c).as_slice()), (Action::Stop, [shutdown(false)].as_slice()));
    let c = power(format!("{APP_SAME}    state: stopped\n    force_stop: true\n"), &running);
    assert_eq!(own(&c), [shutdown(true)]);
    let c = power(format!("{APP_SAME}    state: paused\n"), &running);
    assert_eq!((c.action, xen_ops(&c)), (Action::Pause, vec![args(&["pause", APP_DOM])]));
    let c = power(APP_SAME.to_string(), &paused);
    assert_eq!((c.action, xen_ops(&c)), (Action::Unpause, vec![args(&["unpause", APP_DOM])]));
    assert!(app01(APP_SAME, &running).changes.is_empty());
}

const SYS_IMG: &str = "/OVS/Repositories/r/VirtualDisks/app01_sys.img";
const SHARED_IMG: &str = "/OVS/Repositories/r/VirtualDisks/quorum.img";

fn absent(extra: &str, domain: &str) -> HostPlan {
    let mine = format!("{}disk = ['file:{SYS_IMG},xvda,w', 'file:{SHARED_IMG},xvdb,w!']\n", app_cfg("xenbr0", ""));
    let other = format!("name = 'other'\nmemory = 1024\ndisk = ['file:{SHARED_IMG},xvdb,w!']\n");
    let obs = observed(
        &[(APP_CFG, &mine), ("/OVS/Repositories/r/VirtualMachines/other/vm.cfg", &other)],
        domain,
        &[(SYS_IMG, 10 * GIB), (SHARED_IMG, GIB)],
    );
    plan::plan_host(&model(&vm_yaml("app01", &format!("{APP_SAME}    state: absent\n{extra}"))), &obs)
}

#[test]
fn absent_needs_allow_destroy_and_keeps_shared_disks() {
    let running = dom(APP_DOM, "-b----", 2048, 4096, "(() ())");
    let hp = absent("", &running);
    assert!(hp.changes.is_empty(), "{:?}", ids(&hp));
    assert_eq!(hp.errors.len(), 1);
    assert!(hp.errors[0].contains("allow_destroy"), "{}", hp.errors[0]);

    let hp = absent("    allow_destroy: true\n", &running);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert_eq!(ids(&hp), ["vm/app01"]);
    assert_eq!(hp.changes[0].action, Action::Delete);
    assert_eq!(
        own(&hp.changes[0]),
        [
            Op::Shutdown { domain: APP_DOM.into(), timeout_secs: 120, force: false },
            Op::RemoveVmDir { dir: APP_CFG.trim_end_matches("/vm.cfg").into() },
            Op::DeleteFile { path: SYS_IMG.into() },
        ]
    );
}

#[test]

fn absent_on_a_paused_domain_unpauses_before_shutdown() {
    let hp = absent("    allow_destroy: true\n", &dom(APP_DOM, "--p---", 2048, 4096, "(() ())"));
    let c = change(&hp, "vm/app01");
    assert_eq!(c.ops.first(), Some(&Op::Xen { args: args(&["unpause", APP_DOM]) }), "{:?}", c.ops);
}

#[test]

fn absent_keeps_a_disk_another_declared_vm_uses() {
    let new01 = format!("    memory: 1GiB\n    vcpus: 1\n    disks:\n      - {{ path: {SYS_IMG} }}\n");
    let gone = format!("{APP_SAME}    state: absent\n    allow_destroy: true\n");
    let mine = format!("{}disk = ['file:{SYS_IMG},xvda,w']\n", app_cfg("xenbr0", ""));
    let obs = observed(&[(APP_CFG, &mine)], "", &[(SYS_IMG, GIB)]);
    let hp = plan::plan_host(&model(&format!("{}{}", vm_yaml("app01", &gone), vm_yaml("new01", &new01))), &obs);
    assert_eq!(change(&hp, "vm/new01").action, Action::Create);
    let deletes: Vec<&Op> =
        hp.changes.iter().flat_map(|c| &c.ops).filter(|o| matches!(o, Op::DeleteFile { .. })).collect();
    assert!(deletes.is_empty(), "deletes a disk vm new01 is declared to use: {deletes:?}");
}

fn disks_plan(disks: &str, files: &[(&str, u64)]) -> HostPlan {
    let body = format!("    memory: 1GiB\n    vcpus: 1\n    state: stopped\n    disks:\n{disks}");
    plan::plan_host(&model(&vm_yaml("st01", &body)), &observed(&[], "", files))
}

#[test]
fn disks_grow_never_shrink_and_must_exist() {
    let sys = format!("{REPO}/VirtualDisks/st01_system.img");
    let hp = disks_plan("      - { name: system, size: 10GiB }\n", &[(&sys, 5 * GIB)]);
    let c = change(&hp, "disk/st01/system");
    assert_eq!(c.action, Action::Update);
    assert_eq!(own(c), [Op::GrowDisk { path: sys.clone(), from: 5 * GIB, to: 10 * GIB }]);

    let hp = disks_plan("      - { name: system, size: 10GiB }\n", &[(&sys, 20 * GIB)]);
    assert!(hp.errors.iter().any(|e| e.contains("never shrinks")), "{:?}", hp.errors);
    assert!(hp.changes.iter().all(|c| c.id != "disk/st01/system"), "{:?}", ids(&hp));

    let hp = disks_plan("      - { path: /OVS/Repositories/r/VirtualDisks/gone.img }\n", &[]);
    assert!(hp.errors.iter().any(|e| e.contains("gone.img") && e.contains("does not exist")), "{:?}", hp.errors);
}

#[test]
fn a_brace_range_makes_one_create_per_disk_before_the_vm() {
    let hp = disks_plan("      - { name: \"lun{001..100}\", size: 1GiB }\n", &[]);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    let creates: Vec<&Change> =
        hp.changes.iter().filter(|c| c.id.starts_with("disk/") && c.action == Action::Create).collect();
    assert_eq!(creates.len(), 100);
    assert_eq!((creates[0].id.as_str(), creates[99].id.as_str()), ("disk/st01/lun001", "disk/st01/lun100"));
    let vm_at = hp.changes.iter().position(|c| c.id == "vm/st01").expect("vm change");
    assert_eq!(vm_at, 100, "every disk comes before the vm change");
}

#[test]
fn live_pinning_drift_is_repinned() {
    let cfg = app_cfg("xenbr0", "cpus = '4-5'\n");
    let plan_with = |affinity: &str| {
        let obs = observed(&[(APP_CFG, &cfg)], &dom(APP_DOM, "-b----", 2048, 4096, affinity), &[]);
        plan::plan_host(&model(&vm_yaml("app01", &format!("{APP_SAME}    cpus: \"4-5\"\n"))), &obs)
    };
    let hp = plan_with("(() ())");
    assert_eq!(ids(&hp), ["vm/app01"]);
    let c = &hp.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["cpus (live)"]);
    assert_eq!(c.fields[0].new.as_deref(), Some("4-5 | 4-5"));
    assert!(c.file.is_none(), "vm.cfg already right");
    assert_eq!(own(c), [Op::Xen { args: args(&["vcpu-pin", APP_DOM, "all", "4-5"]) }]);
    assert!(plan_with("((4 5) (4 5))").changes.is_empty());
}

fn section(m: &str, kind: &str, arg: &str, body: &str) -> String {
    let body = if body.is_empty() || body.ends_with('\n') { body.to_string() } else { format!("{body}\n") };
    format!("{m} {kind} {arg}\n{body}\n{m} rc 0\n")
}

/// The observe script's output for the `app01` host, with `cfg` as its vm.cfg.
fn host_output(m: &str, cfg: &str) -> String {
    [
        section(m, "info", "-", &info_text()),
        section(m, "domains-sxp", "-", &format!("{DOM0}{}", dom(APP_DOM, "-b----", 2048, 4096, "(() ())"))),
        section(m, "fs", REPO, "ocfs2\n/dev/sdb 1000000 1000 999000 1% /OVS/Repositories/r\n"),
        section(m, "disks", REPO, ""),
        section(m, "snapshots", REPO, ""),
        section(m, "cfg", APP_CFG, cfg),
    ]
    .concat()
}

fn request() -> ObserveRequest {
    ObserveRequest {
        toolstack: Default::default(),
        uri: String::new(),
        repositories: vec![REPO.into()],
        extra_paths: vec![],
    }
}

#[test]
fn planning_never_sends_a_mutating_command() {
    let fake = FakeTransport::new(HOST, |script: &str, _stdin: &[u8]| {
        let m = script.lines().next().and_then(|l| l.strip_prefix("M=")).unwrap_or_default();
        ExecOutput {
            status: 0,
            stdout: host_output(m, &app_cfg("xenbr0", "")).into_bytes(),
            stderr: vec![],
            lost: None,
            timed_out: false,
        }
    });
    let mut t = fake.clone();
    let obs = observe::observe(&mut t, &request()).expect("observe");
    assert!(obs.problems.iter().all(|p| !p.is_error()), "{:#?}", obs.problems);
    assert_eq!((obs.cfgs.len(), obs.domains.len(), obs.execs), (1, 2, 1));
    let hp = plan::plan_host(&model(&vm_yaml("app01", &app_body("3072", "    maxmem: 4096\n", "xenbr0"))), &obs);
    assert_eq!(ids(&hp), ["vm/app01"], "the plan has changes");
    assert_eq!(xen_ops(&hp.changes[0]), [args(&["mem-set", APP_DOM, "3072"])]);
    let scripts = fake.scripts();
    assert_eq!(scripts.len(), 1, "exactly one exec");
    // The fixed helpers remove only the script's own mktemp folder; the generated part is checked.
    let generated =
        scripts[0].replace(observe::script::HELPERS, "").replace(domform::transport::limit::WATCHDOG_FNS, "");
    for verb in ["xm create", "destroy", "shutdown", "vcpu-pin", "mem-set", "truncate", "mv ", "rm ", " > "] {
        assert!(!generated.contains(verb), "observe script contains `{verb}`:\n{}", scripts[0]);
    }
}

#[test]
fn garbage_vm_cfg_is_a_located_error_never_a_skip() {
    let m = "@@domform-0123456789abcdef";
    let garbage = "name = 'x'\nOVM_simple_name = 'app01'\nmemory = = 2048\nvcpus = 2\n";
    let obs = observe::parse(HOST, &host_output(m, garbage), m, &request());
    assert!(obs.cfgs.is_empty());
    let p = obs.problems.iter().find(|p| p.is_error()).expect("an error");
    let loc = p.location.as_ref().expect("located");
    assert_eq!(*loc.file, PathBuf::from(format!("{HOST}:{APP_CFG}")));
    assert_eq!(loc.line, 3);
    for state in ["running", "absent\n    allow_destroy: true"] {
        let hp = plan::plan_host(&model(&vm_yaml("app01", &format!("{APP_SAME}    state: {state}\n"))), &obs);
        assert!(hp.errors.iter().any(|e| e.contains("does not parse")), "{state}: {:?}", hp.errors);
        assert!(hp.changes.iter().all(|c| !matches!(c.action, Action::Delete | Action::Stop)), "{:?}", ids(&hp));
        assert!(hp.changes.iter().flat_map(|c| &c.ops).all(|o| !matches!(o, Op::RemoveVmDir { .. })));
        assert!(
            hp.changes.is_empty(),
            "nothing is planned around an unreadable vm.cfg (no duplicate create): {:?}",
            ids(&hp)
        );
    }
}

#[test]
fn a_vm_update_depends_on_its_disk_creates() {
    let body = format!("{APP_SAME}    state: stopped\n    disks:\n      - {{ name: data, size: 1GiB }}\n");
    let hp =
        plan::plan_host(&model(&vm_yaml("app01", &body)), &observed(&[(APP_CFG, &app_cfg("xenbr0", ""))], "", &[]));
    assert_eq!(ids(&hp), ["disk/app01/data", "vm/app01"]);
    let vm = change(&hp, "vm/app01");
    assert_eq!((vm.action, vm.depends_on.as_slice()), (Action::Update, ["disk/app01/data".to_string()].as_slice()));
    assert_eq!(field_impact(vm, "disk"), Impact::Live, "not running");
}

#[test]
fn applied_record_rides_on_the_last_change() {
    let (hp, _, _) = plan_new_web("    cpus: \"4-5\"\n");
    let records: Vec<(&str, &str)> = hp
        .changes
        .iter()
        .flat_map(|c| c.ops.iter().map(move |o| (c.id.as_str(), o)))
        .filter_map(|(id, o)| match o {
            Op::WriteFile { path, content, .. } if path.contains("/.domform-applied/") => Some((id, content.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 1, "one record per VM: {records:?}");
    let (id, content) = records[0];
    assert_eq!(id, "power/web01", "after every other change of the VM");
    let rec = domform::plan::cause::parse(content).expect("a record domform can read back");
    assert_eq!((rec.vm.as_str(), rec.fields.get("memory").map(String::as_str)), ("web01", Some("2048")));
    assert!(hp.changes.iter().all(|c| c.cause == Some(domform::plan::cause::Cause::New)));
}
