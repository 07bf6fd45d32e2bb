//! What each fuzz target checks, shared by `fuzz/fuzz_targets/*.rs` and by
//! `tests/fuzz_regressions.rs` (which includes this file with `#[path]`), so a saved crash input
//! is replayed against exactly the properties that found it.
//!
//! Every function takes the fuzz input as text and panics when a property fails; a parser that
//! panics by itself fails the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domform::manifest::events;
use domform::manifest::raw::{RawHost, RawLicence, RawVm};
use domform::manifest::tree::{self, Node, NodeKind};
use domform::model::Toolstack;
use domform::observe::{self, sections, ObserveRequest};
use domform::xen;
use vmcfg::{Value, VmCfg};

/// At most this many keys of a vm.cfg are edited per input (each edit re-parses the file).
const MAX_EDITED_KEYS: usize = 12;

/// The marker `observe_output` splits on (a real one is `@@domform-` and 16 hex digits).
pub const MARKER: &str = "@@domform-0123456789abcdef";

/// The fuzz input as text (invalid UTF-8 replaced, as `stdout_text()` does for a host's output).
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Effective value of every key, by name.
fn values(cfg: &VmCfg) -> BTreeMap<String, Value> {
    cfg.entries().into_iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// The edited file re-parses, to the values the edits should have left.
fn reparse(cfg: &VmCfg, expect: &BTreeMap<String, Value>, what: &str) {
    let text = cfg.render();
    let again = VmCfg::parse(&text).unwrap_or_else(|e| panic!("after {what}, the file does not parse: {e}\n{text:?}"));
    assert_eq!(&values(&again), expect, "after {what}, values differ; file:\n{text:?}");
    assert_eq!(&values(cfg), expect, "after {what}, the in-memory values differ; file:\n{text:?}");
}

/// `vmcfg_parse`: `VmCfg::parse` never panics; when it accepts the input, `render()` gives the
/// input back and re-parses to equal values, every value's `to_python()` re-parses to an equal
/// value, and a chain of `set()`/`remove()` edits keeps the file parseable with exactly the
/// expected values after each edit (so the offsets of later statements stay right).
pub fn vmcfg_parse(text: &str) {
    let Ok(cfg) = VmCfg::parse(text) else { return };
    assert_eq!(cfg.render(), text, "render() of an unedited file is not the input");
    let mut expect = values(&cfg);
    reparse(&cfg, &expect, "parse");
    for (k, v) in &expect {
        let repr = v.to_python();
        let back = vmcfg::parse_value(&repr).unwrap_or_else(|e| panic!("repr of `{k}` does not parse: {e}: {repr:?}"));
        assert_eq!(&back, v, "repr of `{k}` reads back differently: {repr:?}");
    }

    // One chain of edits on the same value: for key i, set it to the value of key i+1 (or a
    // string made from the input); every third key is removed instead; then a new key is added.
    let keys: Vec<String> = cfg.keys().into_iter().take(MAX_EDITED_KEYS).map(str::to_string).collect();
    let mut edited = cfg.clone();
    for (i, key) in keys.iter().enumerate() {
        if i % 3 == 2 {
            assert!(edited.remove(key), "remove(`{key}`) did not find it");
            expect.remove(key);
            reparse(&edited, &expect, &format!("remove(`{key}`)"));
        } else {
            let value = match keys.get(i + 1).and_then(|k| cfg.get(k)) {
                Some(v) => v.clone(),
                None => Value::Str(text.chars().take(40).collect()),
            };
            edited.try_set(key, value.clone()).unwrap_or_else(|e| panic!("a parsed key cannot be set: {e}"));
            expect.insert(key.clone(), value);
            reparse(&edited, &expect, &format!("set(`{key}`)"));
        }
    }
    let new = Value::List(vec![Value::Str(text.chars().rev().take(20).collect()), Value::Int(text.len() as i64)]);
    edited.set("domform_fuzz_new", new.clone());
    expect.insert("domform_fuzz_new".into(), new);
    reparse(&edited, &expect, "set(`domform_fuzz_new`)");
    if let Some(first) = keys.first() {
        edited.remove(first);
        expect.remove(first);
        reparse(&edited, &expect, &format!("remove(`{first}`) at the end"));
    }
}

/// `xm_outputs`: the `xm`/`xl` output parsers and the SXP reader are total (a value or an
/// error naming a line inside the input, never a panic).
pub fn xm_outputs(text: &str) {
    let last_line = text.lines().count() + 1;
    let line_ok = |line: usize, what: &str| {
        assert!((1..=last_line).contains(&line), "{what}: error line {line} is outside 1..={last_line}");
    };
    let nr_cpus = match xen::parse_xm_info(text) {
        Ok(info) => {
            let _ = (info.sockets(), info.physical_cores());
            for cpu in 0..info.nr_cpus.min(8) {
                let _ = (info.core_of(cpu), info.siblings(cpu));
            }
            info.nr_cpus
        }
        Err(e) => {
            line_ok(e.line, "parse_xm_info");
            4
        }
    };
    if let Err(e) = xen::parse_xm_list_long(text) {
        line_ok(e.line, "parse_xm_list_long");
    }
    if let Err(e) = xen::parse_xm_list(text) {
        line_ok(e.line, "parse_xm_list");
    }
    for n in [nr_cpus, 1, 0] {
        if let Err(e) = xen::parse_vcpu_list(text, n) {
            line_ok(e.line, "parse_vcpu_list");
        }
    }
    match xen::parse_all(text) {
        Ok(items) => {
            for item in &items {
                let _ = (item.head(), item.rest(), item.value("name"), item.child("domain"));
            }
        }
        Err(e) => line_ok(e.line, "parse_all"),
    }
}

/// `yaml_load`, in memory: the located YAML tree, then each host, VM and licence entry
/// deserialized on its own, as `manifest::load` does. Never panics.
pub fn yaml_tree(text: &str) {
    let file = Arc::new(PathBuf::from("fuzz.yaml"));
    let root = match tree::parse(text, &file) {
        Ok(Some(root)) => root,
        Ok(None) => return,
        Err(d) => {
            assert!(d.location.is_some() || text.len() as u64 > events::MAX_FILE_BYTES, "unlocated: {d}");
            return;
        }
    };
    // The resource limits hold for every tree that loads: nesting, and what aliases copied
    // (at most two nodes per input byte come from the text itself).
    let (weight, depth) = events::measure(&root);
    assert!(depth <= events::MAX_DEPTH + 1, "a tree {depth} levels deep loaded");
    let from_text = 2 * (text.len() + 1) * events::NODE_BYTES + text.len();
    assert!(
        weight <= from_text + events::MAX_ALIAS_WEIGHT,
        "a tree of weight {weight} loaded from {} bytes",
        text.len()
    );
    let sink = std::cell::RefCell::new(Vec::new());
    let _ = tree::from_node::<RawVm>(&root, "vm", &sink);
    let NodeKind::Map(entries) = &root.kind else { return };
    for (k, v) in entries {
        let _ = (k.as_str(), v.is_null(), v.at(&["vms", "0", "disks"]));
        section::<RawHost>(v, "hosts", &sink, k.as_str() == Some("hosts"));
        section::<RawVm>(v, "vms", &sink, k.as_str() == Some("vms"));
        section::<RawLicence>(v, "licences", &sink, k.as_str() == Some("licences"));
    }
}

fn section<T: serde::de::DeserializeOwned>(
    node: &Node,
    what: &str,
    sink: &std::cell::RefCell<Vec<domform::diag::Diagnostic>>,
    always: bool,
) {
    let NodeKind::Map(entries) = &node.kind else { return };
    for (k, v) in entries.iter().take(if always { usize::MAX } else { 4 }) {
        let path = format!("{what}.{}", k.as_str().unwrap_or_default());
        if let Err(e) = tree::from_node::<T>(v, &path, sink) {
            let _ = e.into_diagnostic().to_string();
        }
    }
}

/// `yaml_load`, whole: `manifest::load` (read, tree, raw types, validation) of the input written
/// to `file`; every diagnostic must render.
pub fn yaml_load_file(data: &[u8], file: &Path) {
    std::fs::write(file, data).expect("write the fuzz input to a temp file");
    match domform::manifest::load(&[file.to_path_buf()]) {
        Ok(model) => {
            for d in &model.warnings {
                let _ = d.to_string();
            }
        }
        Err(diags) => {
            for d in &diags {
                let _ = d.to_string();
            }
        }
    }
}

/// `observe_output`: the input as the stdout of the observe script (fixed marker), for both
/// toolstacks; section splitting is total and keeps section bodies inside the input.
pub fn observe_output(text: &str) {
    for sec in sections::split(text, MARKER) {
        assert!(
            sec.body.is_empty() || text.contains(sec.body.as_str()),
            "a section body is not a part of the input: {:?}",
            sec.body
        );
    }
    for toolstack in [Toolstack::Xm, Toolstack::Xl] {
        let req = ObserveRequest {
            toolstack,
            uri: String::new(),
            repositories: vec!["/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6".into(), "/repo".into()],
            extra_paths: vec!["/OVS/disk.img".into()],
        };
        let obs = observe::parse("fuzzhost", text, MARKER, &req);
        let _ = (obs.vms().len(), obs.dom0().map(|d| d.name.clone()));
        if let Some(info) = &obs.info {
            for d in &obs.domains {
                let _ = observe::live_pinning(d, info.nr_cpus);
            }
        }
        for p in &obs.problems {
            let _ = p.to_string();
        }
    }
}

/// A VM's vm.cfg for `snapshot_manifest`: two snapshot-able disks, a shared one, a CD-ROM.
const SNAP_REPO: &str = "/OVS/Repositories/r";
const SNAP_CFG: &str =
    "name = 'app01'\nOVM_simple_name = 'app01'\ndisk = ['file:/OVS/Repositories/r/VirtualDisks/a.img,xvda,w', \
'file:/OVS/Repositories/r/VirtualDisks/b.img,xvdb,w', 'file:/OVS/Repositories/r/VirtualDisks/s.img,xvdc,w!', \
'file:/OVS/Repositories/r/ISOs/x.iso,xvdd:cdrom,r']\n";

/// `snapshot_manifest`: the input as a manifest found in `<repo>/Snapshots/app01/s1` (a
/// repository is untrusted). Parsing is total; what parses names only files inside the folder;
/// a revert planned from it writes only disks of the VM's own vm.cfg, inside the repository.
pub fn snapshot_manifest(text: &str) {
    // A plain name and one with spaces, as OVM simple names often are.
    for vm in ["app01", "DB Server 01"] {
        snapshot_manifest_of(vm, text);
    }
}

fn snapshot_manifest_of(vm: &str, text: &str) {
    use domform::plan::{paths, snapshot, Op};
    let dir = format!("{SNAP_REPO}/Snapshots/{vm}/s1");
    let Ok(snap) = observe::SnapshotInfo::parse(&dir, text) else { return };
    assert_eq!((snap.vm.as_str(), snap.name.as_str()), (vm, "s1"), "names come from the folder");
    for (_, file, _) in &snap.disks {
        let f = file.strip_prefix("disks/").unwrap_or_else(|| panic!("disk file {file:?} outside disks/"));
        assert!(!f.contains('/') && f != ".." && f != ".", "disk file {file:?} leaves the folder");
    }
    if let Some(m) = &snap.memory {
        assert!(!m.contains('/') && m != "..", "memory file {m:?} leaves the folder");
    }
    let cfg = VmCfg::parse(SNAP_CFG).expect("the fixed vm.cfg parses");
    let cfg_path = format!("{SNAP_REPO}/VirtualMachines/0004fb00000600001111222233334444/vm.cfg");
    let Ok(changes) = snapshot::revert_changes(vm, &cfg_path, &cfg, None, &snap, 60, false) else { return };
    let (mine, _) = snapshot::snapshot_disks(&cfg);
    for op in changes.iter().flat_map(|c| &c.ops) {
        if let Op::Revert { disks, .. } = op {
            for (from, to) in disks {
                assert!(mine.contains(to), "a revert writes {to:?}, not a disk of the VM");
                assert!(from.starts_with(&format!("{dir}/disks/")), "a revert reads {from:?}");
            }
        }
    }
    let repos = vec![SNAP_REPO.to_string()];
    let none = Default::default();
    assert_eq!(paths::check(&changes, &repos, &none, &none), Vec::<String>::new());
}
