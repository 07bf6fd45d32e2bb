//! Every example in `examples/` (a YAML file, or a folder of them) converges on a simulated
//! host: plan shows changes, `apply --auto-approve` succeeds, a second plan with
//! `--detailed-exitcode` exits 0 with "No changes", and the host then has what the example
//! declares. Examples are found by listing the folder, so a new one is covered without a new test.
//!
//! Only how the example reaches its host is rewritten: connection keys go, `transport: local`
//! comes in, host paths (`/OVS/…`, a Manager's WebLogic domain) move under the simulated host's
//! folder, and a Manager's restart command (`/etc/init.d/ovmm`, which needs root) becomes an
//! `echo` into a file. What the host must already have is put there first, as an admin would:
//! the files of `path:` disks, the Manager's WebLogic domain (`tests/fixtures/weblogic/`), the
//! VNC password variables.

use std::path::{Path, PathBuf};

use domform::model::{DiskSource, Model, Pinning, VmState};
use serde_yaml::{Mapping, Value};

use crate::simhost::{SimHost, Topology};

/// Host and manager keys that say how to reach the machine, dropped for `transport: local`.
const CONNECTION: &[&str] = &[
    "address",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "host_key_policy",
    "transport",
    "connect_timeout",
    "kex_algorithms",
    "host_key_algorithms",
    "ciphers",
    "macs",
    "ssh_config",
    "proxy_jump",
];

/// The VNC password every `password: { env: … }` of an example gets.
const VNC_PASSWORD: &str = "s1mpass";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The examples in `dir`: every `*.yaml`/`*.yml` file and every folder, sorted.
fn examples(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() || is_yaml(p))
        .collect();
    out.sort();
    out
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The YAML files of one example: the file itself, or the folder's YAML files.
fn yaml_files(example: &Path) -> Vec<PathBuf> {
    if example.is_dir() {
        examples(example).into_iter().filter(|p| is_yaml(p)).collect()
    } else {
        vec![example.to_path_buf()]
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

/// The one `hosts:` entry's repository id and reserved CPUs (dom0's CPUs on the simulator).
fn host_shape(docs: &[Value]) -> (String, String) {
    let hosts: Vec<&Value> =
        docs.iter().filter_map(|d| get(d, "hosts").and_then(Value::as_mapping)).flat_map(|m| m.values()).collect();
    // The local transport gives every host of one run the same environment, so one simulator.
    assert!(hosts.len() <= 1, "an example with {} hosts needs one simulated host each (simhost.rs)", hosts.len());
    let Some(h) = hosts.first() else { return ("0004fb00000300000000000000000001".into(), "0-1".into()) };
    let repo = get(h, "repository").and_then(Value::as_str).expect("the host declares a repository");
    let id = repo.strip_prefix("/OVS/Repositories/").expect("repository under /OVS/Repositories/");
    let reserved = get(h, "reserved_cpus").and_then(Value::as_str).unwrap_or("0-1");
    (id.to_string(), reserved.to_string())
}

/// Rewrites one document to reach the simulated host under `root`.
fn localize(doc: &mut Value, root: &Path) {
    under_root(doc, root);
    let Some(top) = doc.as_mapping_mut() else { return };
    if let Some(Value::Mapping(defaults)) = top.get_mut("host_defaults") {
        CONNECTION.iter().for_each(|k| drop(defaults.remove(*k)));
    }
    for section in ["hosts", "managers"] {
        let Some(Value::Mapping(entries)) = top.get_mut(section) else { continue };
        for (_, entry) in entries.iter_mut() {
            let Some(m) = entry.as_mapping_mut() else { continue };
            CONNECTION.iter().for_each(|k| drop(m.remove(*k)));
            m.insert("transport".into(), "local".into());
            if section == "managers" {
                localize_manager(m, root);
            }
        }
    }
}

fn localize_manager(m: &mut Mapping, root: &Path) {
    if !m.contains_key("domain") {
        m.insert("domain".into(), format!("{}{}", root.display(), domform::model::manager::DOMAIN_3_0).into());
    } else if let Some(Value::String(d)) = m.get_mut("domain") {
        if !d.starts_with(&root.display().to_string()) {
            *d = format!("{}{d}", root.display());
        }
    }
    let marker = root.join("manager-restarts");
    m.insert("restart_command".into(), format!("echo restarted >> '{}'", marker.display()).into());
}

/// Every string naming a path under `/OVS/` gets the simulated host's folder in front.
fn under_root(v: &mut Value, root: &Path) {
    match v {
        Value::String(s) if s.starts_with("/OVS/") => *s = format!("{}{s}", root.display()),
        Value::Sequence(items) => items.iter_mut().for_each(|i| under_root(i, root)),
        Value::Mapping(m) => m.iter_mut().for_each(|(_, i)| under_root(i, root)),
        _ => {}
    }
}

/// What the host must have before the first plan: `path:` disk files, Manager domains.
fn prepare(sim: &SimHost, model: &Model) {
    let inside = |p: &Path| assert!(p.starts_with(sim.root()), "{} is outside the simulated host", p.display());
    for disk in model.vms.values().flat_map(|vm| &vm.disks) {
        if let DiskSource::Existing { path } = &disk.source {
            let p = Path::new(path);
            inside(p);
            if !p.exists() {
                std::fs::File::create(p).and_then(|f| f.set_len(1 << 30)).expect("make the path: disk");
            }
        }
    }
    let fixtures = repo_root().join("tests/fixtures/weblogic");
    for m in model.managers.values() {
        let config = Path::new(&m.domain).join("config");
        inside(&config);
        std::fs::create_dir_all(config.join("jdbc")).expect("mkdir domain");
        std::fs::copy(fixtures.join("config.xml"), config.join("config.xml")).expect("config.xml");
        std::fs::copy(fixtures.join("OVMDS-jdbc.xml"), config.join("jdbc/OVMDS-jdbc.xml")).expect("module");
    }
}

/// The environment variables the example's secrets are read from.
fn secrets(model: &Model) -> Vec<(String, String)> {
    let vars = model.vms.values().filter_map(|vm| vm.console.vnc.as_ref()?.password.as_ref());
    vars.map(|s| match s {
        domform::model::SecretRef::Env(var) => (var.clone(), VNC_PASSWORD.to_string()),
        other => panic!("teach this test the secret source {other:?}"),
    })
    .collect()
}

/// Plan, apply, plan again; then the host has what the example declares.
fn converge(example: &Path) {
    let name = example.file_name().and_then(|n| n.to_str()).expect("name").to_string();
    let mut docs: Vec<Value> = yaml_files(example)
        .iter()
        .map(|f| serde_yaml::from_str(&std::fs::read_to_string(f).expect("read example")).expect("example is YAML"))
        .collect();
    assert!(!docs.is_empty(), "{name}: no YAML files");
    let (repo_id, dom0_cpus) = host_shape(&docs);
    let sim = SimHost::new(&repo_id, &Topology { dom0_cpus, ..Topology::default() });
    let dir = sim.root().join("estate");
    std::fs::create_dir(&dir).expect("mkdir estate");
    for (i, doc) in docs.iter_mut().enumerate() {
        localize(doc, sim.root());
        std::fs::write(dir.join(format!("{i:02}.yaml")), serde_yaml::to_string(doc).expect("yaml")).expect("write");
    }
    let model =
        domform::manifest::load(std::slice::from_ref(&dir)).unwrap_or_else(|e| panic!("{name}: rewritten: {e:#?}"));
    prepare(&sim, &model);
    let env = secrets(&model);
    let f = dir.to_str().expect("utf-8");

    let r = sim.domform(&["plan", "-f", f, "--detailed-exitcode"], &env);
    assert_eq!(r.code, 2, "{name}: the first plan has changes:\n{}{}", r.out, r.err);
    assert!(r.out.contains("Plan: ") && !r.out.contains("Plan: 0 to create, 0 to update"), "{name}: {}", r.out);
    let r = sim.domform(&["apply", "-f", f, "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{name}: apply:\n{}{}", r.out, r.err);
    assert!(r.out.contains("Apply complete") && r.out.contains(" 0 failed"), "{name}: {}", r.out);
    let r = sim.domform(&["plan", "-f", f, "--detailed-exitcode"], &env);
    assert_eq!(r.code, 0, "{name}: apply, then plan shows no changes:\n{}{}", r.out, r.err);
    assert!(r.out.contains("No changes"), "{name}: {}", r.out);
    check_vms(&sim, &model, &name);
    check_managers(&sim, &model, &name);
}

/// Every declared VM's vm.cfg, disks, power state, memory and live pinning.
fn check_vms(sim: &SimHost, model: &Model, name: &str) {
    let (_, list) = sim.xm(&["list"]);
    let running = domform::xen::parse_xm_list(&list).expect("xm list parses");
    let topo = Topology::default();
    let nr_cpus = topo.sockets * topo.cores * topo.threads;
    for vm in model.vms.values() {
        let what = format!("{name}: VM {}", vm.name);
        let found = sim.vm_cfg(&vm.name);
        if vm.state == VmState::Absent {
            assert!(found.is_none(), "{what}: absent, yet has a vm.cfg");
            continue;
        }
        let (path, cfg) = found.unwrap_or_else(|| panic!("{what}: no vm.cfg"));
        assert_eq!(cfg.get("memory").and_then(|v| v.as_int()), Some(vm.memory_mib as i64), "{what}: {path:?}");
        assert_eq!(cfg.get("vcpus").and_then(|v| v.as_int()), Some(i64::from(vm.vcpus)), "{what}");
        let disks = cfg.get("disk").and_then(|v| v.as_list()).expect("disk list");
        assert_eq!(disks.len(), vm.disks.len(), "{what}: disks");
        for (entry, disk) in disks.iter().zip(&vm.disks) {
            let spec = vmcfg::devices::DiskSpec::parse(entry.as_str().expect("a string")).expect("disk entry");
            assert_eq!((spec.frontend.as_str(), spec.mode.as_str()), (disk.device.as_str(), disk.mode.as_str()));
            let len = std::fs::metadata(&spec.path).map(|m| m.len()).unwrap_or_else(|e| panic!("{what}: {e}"));
            match &disk.source {
                DiskSource::New { size, .. } => assert_eq!(len, *size, "{what}: apparent size of {}", spec.path),
                DiskSource::Existing { path } => assert_eq!(&spec.path, path, "{what}"),
            }
        }
        for snap in &vm.snapshots.present {
            let manifest = sim.repo().join("Snapshots").join(&vm.name).join(snap).join("manifest");
            assert!(manifest.exists(), "{what}: snapshot {snap}: no {}", manifest.display());
        }
        let xen = cfg.get("name").and_then(|v| v.as_str()).expect("name").to_string();
        let dom = running.iter().find(|d| d.name == xen);
        if vm.state == VmState::Stopped {
            assert!(dom.is_none(), "{what}: declared stopped, yet runs");
            continue;
        }
        let dom = dom.unwrap_or_else(|| panic!("{what}: not running:\n{list}"));
        assert_eq!(dom.memory_mib, vm.memory_mib, "{what}: live memory");
        let Some(pinning) = &vm.cpus else { continue };
        let (_, text) = sim.xm(&["vcpu-list", &xen]);
        let rows = domform::xen::parse_vcpu_list(&text, nr_cpus).expect("xm vcpu-list parses");
        assert_eq!(rows.len() as u32, vm.vcpus, "{what}:\n{text}");
        for row in rows {
            let want = match pinning {
                Pinning::All(set) => set,
                Pinning::PerVcpu(sets) => &sets[row.vcpu as usize],
            };
            assert_eq!(&row.affinity, want, "{what}: live pinning of vCPU {}:\n{text}", row.vcpu);
        }
    }
}

/// Every declared Manager's data source names the declared service; restarts as declared.
fn check_managers(sim: &SimHost, model: &Model, name: &str) {
    for m in model.managers.values() {
        let module = Path::new(&m.domain).join("config/jdbc/OVMDS-jdbc.xml");
        let text = std::fs::read_to_string(&module).expect("module");
        let service = format!("(SERVICE_NAME={})", m.database.connect.service);
        assert!(text.contains(&service), "{name}: {} lacks {service}:\n{text}", module.display());
        let restarts = std::fs::read_to_string(sim.root().join("manager-restarts")).unwrap_or_default();
        assert_eq!(restarts.lines().count(), usize::from(m.restart), "{name}: restarts of {}", m.name);
    }
}

#[test]
fn every_example_converges_on_a_simulated_host() {
    let found = examples(&repo_root().join("examples"));
    let names: Vec<String> = found.iter().filter_map(|p| Some(p.file_name()?.to_str()?.to_string())).collect();
    for known in ["basic.yaml", "bulk-disks.yaml", "ovm-manager.yaml", "pinned-database.yaml"] {
        assert!(names.iter().any(|n| n == known), "{known} not found in examples/: {names:?}");
    }
    // Each example in its own thread and its own simulated host; every failure is reported.
    let failed: Vec<&String> = std::thread::scope(|s| {
        let runs: Vec<_> = found.iter().map(|ex| s.spawn(move || converge(ex))).collect();
        runs.into_iter().zip(&names).filter_map(|(h, n)| h.join().is_err().then_some(n)).collect()
    });
    assert!(failed.is_empty(), "these examples did not converge (see their panics above): {failed:?}");
}

#[test]
fn an_example_added_later_is_picked_up_and_may_be_a_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let basic = std::fs::read_to_string(repo_root().join("examples/basic.yaml")).expect("basic.yaml");
    std::fs::write(dir.path().join("basic.yaml"), &basic).expect("write");
    std::fs::write(dir.path().join("README.md"), "not an example\n").expect("write");
    // A later example as a folder: the hosts in one file, a VM pinned per vCPU in another.
    let later = dir.path().join("later");
    std::fs::create_dir(&later).expect("mkdir");
    let (hosts, _) = basic.split_once("vms:").expect("vms:");
    std::fs::write(later.join("hosts.yaml"), hosts).expect("write");
    std::fs::write(
        later.join("vms.yml"),
        "vms:\n  late01:\n    host: ovs1\n    memory: 512MiB\n    vcpus: 2\n    cpus: [\"4\", \"6-7\"]\n    \
         disks:\n      - { name: system, size: 64MiB }\n",
    )
    .expect("write");
    let found = examples(dir.path());
    assert_eq!(found, vec![dir.path().join("basic.yaml"), later.clone()]);
    assert_eq!(yaml_files(&later), vec![later.join("hosts.yaml"), later.join("vms.yml")]);
    converge(&later);
}
