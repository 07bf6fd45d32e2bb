//! What each fuzz target checks, shared by `fuzz/fuzz_targets/*.rs` and by
//! `tests/fuzz_regressions.rs` (which includes this file with `#[path]`), so a saved crash input
//! is replayed against exactly the properties that found it.
//!
//! Every function takes the fuzz input as text and panics when a property fails; a parser that
//! panics by itself fails the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    let Ok(Some(root)) = tree::parse(text, &file) else { return };
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
