//! The desired vm.cfg of a VM, built as a minimal edit of the one on the host.
//!
//! OVM Manager owns vm.cfg and rewrites it; domform changes only the keys it owns, and only
//! when their *meaning* differs (`memory = '4096'` equals `memory: 4GiB`; `file:///x` equals
//! `file:/x`), so an imported estate plans as "no changes" and Manager's formatting survives.
//! A key the desired state does not mention is left as it is.

use vmcfg::{parse_kv_stanza, render_kv_stanza, DiskSpec, Value, VmCfg};

use super::fingerprint::{fnv1a, FNV_OFFSET};
use super::{Field, FieldChange, Impact};
use crate::model::{CpuSet, Disk, DiskSource, ExtraValue, Nic, Pinning, Vm, VmType};
use crate::xen::fields::{Key, Live};

/// Where a domform-made VM lives and what Xen calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Xen domain name: the VM id, 32 hex digits, as OVM names its VMs.
    pub xen_name: String,
    /// The same id, dashed.
    pub uuid: String,
    /// `<repo>/VirtualMachines/<id>`.
    pub dir: String,
    /// `<dir>/vm.cfg`.
    pub cfg_path: String,
}

/// The id of a VM domform creates: derived from host and name, so a retried apply after a
/// crash finds the same folder instead of making a second VM.
pub fn naming(vm: &Vm) -> Naming {
    let a = fnv1a(format!("{}\0{}", vm.host, vm.name).as_bytes(), FNV_OFFSET);
    let b = fnv1a(format!("{}\0{}\0domform", vm.name, vm.host).as_bytes(), FNV_OFFSET ^ 0x5bd1_e995);
    // 0004fb00 0006 0000 + 16 hex: OVM's VM id shape (object type 0006 = VM).
    let id = format!("0004fb000006{:04x}{:016x}", (a >> 48) as u16, b);
    let uuid = format!("{}-{}-{}-{}-{}", &id[0..8], &id[8..12], &id[12..16], &id[16..20], &id[20..32]);
    let dir = format!("{}/VirtualMachines/{id}", vm.repository);
    Naming { xen_name: id, uuid, cfg_path: format!("{dir}/vm.cfg"), dir }
}

/// Path of a disk domform creates.
pub fn disk_path(vm: &Vm, disk: &Disk) -> Option<String> {
    match &disk.source {
        DiskSource::New { name, .. } => Some(format!("{}/VirtualDisks/{}_{}.img", vm.repository, vm.name, name)),
        DiskSource::Existing { path } => Some(path.clone()),
    }
}

fn disk_spec(vm: &Vm, d: &Disk) -> DiskSpec {
    let path = disk_path(vm, d).unwrap_or_default();
    let backend = if path.starts_with("/dev/") { "phy" } else { "file" };
    DiskSpec { backend: backend.into(), path, frontend: d.device.clone(), cdrom: d.cdrom, mode: d.mode.as_str().into() }
}

fn norm_disk(mut d: DiskSpec) -> DiskSpec {
    d.mode = match d.mode.as_str() {
        "rw" => "w".into(),
        "ro" => "r".into(),
        m => m.into(),
    };
    d
}

/// Per-vCPU CPU sets of a vm.cfg `cpus` value (`None` = not pinned or unreadable).
pub fn cfg_pinning(v: &Value, n: usize) -> Option<Vec<CpuSet>> {
    match v {
        Value::Str(s) if s.trim().is_empty() => None,
        Value::Str(s) => CpuSet::parse(s).ok().map(|set| vec![set; n]),
        Value::List(items) | Value::Tuple(items) => {
            items.iter().map(|i| i.as_str().and_then(|s| CpuSet::parse(s).ok())).collect::<Option<Vec<_>>>()
        }
        _ => None,
    }
}

/// Per-vCPU sets of a model pinning, `n` vCPUs.
pub fn model_pinning(p: &Pinning, n: usize) -> Vec<CpuSet> {
    match p {
        Pinning::All(s) => vec![s.clone(); n],
        Pinning::PerVcpu(v) => v.clone(),
    }
}

fn pinning_value(p: &Pinning) -> Value {
    match p {
        Pinning::All(s) => Value::Str(s.to_string()),
        // xend calls .split(',') on each item: strings, never ints (facts §2.4).
        Pinning::PerVcpu(v) => Value::List(v.iter().map(|s| Value::Str(s.to_string())).collect()),
    }
}

fn extra_value(e: &ExtraValue) -> Value {
    match e {
        ExtraValue::Bool(b) => Value::Bool(*b),
        ExtraValue::Int(i) => Value::Int(*i),
        ExtraValue::Text(t) => Value::Str(t.clone()),
        ExtraValue::List(l) => Value::List(l.iter().map(|s| Value::Str(s.clone())).collect()),
    }
}

/// Meaning-level equality of two scalar vm.cfg values: `4096` = `'4096'`, `True` = `1`.
fn same_scalar(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return x == y;
    }
    match (a, b) {
        (Value::Bool(x), other) | (other, Value::Bool(x)) => other.as_bool() == Some(*x),
        _ => a == b,
    }
}

fn vif_stanza(nic: &Nic, existing: Option<&str>) -> String {
    let mut kv = existing.map(parse_kv_stanza).unwrap_or_default();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            match kv.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v.clone(),
                None => kv.push((k.to_string(), v.clone())),
            }
        }
    };
    put("mac", nic.mac.as_ref());
    put("bridge", Some(&nic.bridge));
    put("model", nic.model.as_ref());
    put("type", nic.vif_type.as_ref());
    render_kv_stanza(&kv)
}

fn vif_matches(nic: &Nic, stanza: &str) -> bool {
    let kv = parse_kv_stanza(stanza);
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    get("bridge") == Some(nic.bridge.as_str())
        && nic.mac.as_deref().is_none_or(|m| get("mac").map(str::to_ascii_lowercase).as_deref() == Some(m))
        && nic.model.as_deref().is_none_or(|m| get("model") == Some(m))
        && nic.vif_type.as_deref().is_none_or(|t| get("type") == Some(t))
}

fn show(v: Option<&Value>) -> Option<String> {
    v.map(|v| match v {
        Value::Str(s) => s.clone(),
        other => other.to_python(),
    })
}

/// The vm.cfg being edited and the fields that changed (shared with `console.rs`).
pub(super) struct Editor<'a> {
    cfg: VmCfg,
    fields: Vec<FieldChange>,
    old: Option<&'a VmCfg>,
}

/// How a changed key reaches a running VM, before `vm::live_ops` looks at the domain: keys a
/// running domain can take (`mem-set`, `vcpu-set`, `vcpu-pin`) are live, the rest wait.
pub(super) fn default_impact(key: Key) -> Impact {
    match key.spec().live {
        Live::MemSet | Live::VcpuSet | Live::VcpuPin => Impact::Live,
        Live::Restart | Live::BlockAttach => Impact::NeedsRestart,
    }
}

impl Editor<'_> {
    /// A key's value in the file being edited.
    pub(super) fn current(&self, key: Key) -> Option<&Value> {
        self.cfg.get(key.name())
    }

    /// Removes a key the desired state excludes (a `vncdisplay` once the port is free).
    pub(super) fn remove(&mut self, key: Key) {
        if let Some(old) = self.cfg.get(key.name()) {
            self.fields.push(FieldChange {
                field: key.into(),
                old: show(Some(old)),
                new: None,
                impact: default_impact(key),
            });
            self.cfg.remove(key.name());
        }
    }

    /// Sets a scalar key unless its old value means the same, as the table compares it.
    pub(super) fn put(&mut self, key: Key, value: Value) {
        let compare = key.spec().compare;
        let want = value.clone();
        self.set(key, value, move |o| compare.same_scalar(o, &want).unwrap_or(false));
    }

    /// Sets `key` unless its old value already means the same (`same`).
    pub(super) fn set(&mut self, key: Key, value: Value, same: impl Fn(&Value) -> bool) {
        self.edit(key.into(), key.name(), value, same, default_impact(key));
    }

    fn edit(&mut self, field: Field, name: &str, value: Value, same: impl Fn(&Value) -> bool, impact: Impact) {
        let old = self.old.and_then(|o| o.get(name));
        if old.is_some_and(same) {
            return;
        }
        self.fields.push(FieldChange { field, old: show(old), new: show(Some(&value)), impact });
        self.cfg.set(name, value);
    }
}

/// The desired vm.cfg (a minimal edit of `existing`, or a new file) and the fields that change.
/// Impacts here assume a running VM: the caller downgrades them to `Live` for a stopped one.
pub fn desired_cfg(vm: &Vm, existing: Option<&VmCfg>, naming: &Naming) -> (VmCfg, Vec<FieldChange>) {
    let base = existing.cloned().unwrap_or_else(|| new_cfg_skeleton(vm, naming));
    let mut ed = Editor { cfg: base, fields: Vec::new(), old: existing };
    let mem = i64::try_from(vm.memory_mib).unwrap_or(i64::MAX);
    ed.put(Key::Memory, Value::Int(mem));
    let maxmem = i64::try_from(vm.maxmem_mib).unwrap_or(i64::MAX);
    let old_maxmem =
        existing.and_then(|c| c.get(Key::Maxmem.name()).or_else(|| c.get(Key::Memory.name()))).and_then(Value::as_int);
    if old_maxmem != Some(maxmem) && (maxmem != mem || existing.is_some_and(|c| c.get(Key::Maxmem.name()).is_some())) {
        ed.put(Key::Maxmem, Value::Int(maxmem));
    }
    let vcpus = i64::from(vm.vcpus);
    ed.put(Key::Vcpus, Value::Int(vcpus));
    if let Some(max) = vm.maxvcpus {
        let max = i64::from(max);
        ed.put(Key::Maxvcpus, Value::Int(max));
    }
    if let Some(p) = &vm.cpus {
        let n = vm.maxvcpus.unwrap_or(vm.vcpus) as usize;
        let want = model_pinning(p, n);
        ed.set(Key::Cpus, pinning_value(p), |o| cfg_pinning(o, n).as_ref() == Some(&want));
    }
    if !vm.disks.is_empty() || existing.is_none() {
        let want: Vec<DiskSpec> = vm.disks.iter().map(|d| disk_spec(vm, d)).collect();
        let value = Value::List(want.iter().map(|d| Value::Str(d.to_stanza())).collect());
        let same = |o: &Value| {
            o.as_list().is_some_and(|items| {
                items.len() == want.len()
                    && items.iter().zip(&want).all(|(i, w)| {
                        i.as_str().and_then(|s| DiskSpec::parse(s).ok()).map(norm_disk) == Some(norm_disk(w.clone()))
                    })
            })
        };
        ed.set(Key::Disk, value, same);
    }
    if !vm.networks.is_empty() || existing.is_none() {
        let old_vifs: Vec<String> = existing
            .and_then(|c| c.get(Key::Vif.name()))
            .and_then(Value::as_list)
            .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let value = Value::List(
            vm.networks
                .iter()
                .enumerate()
                .map(|(i, n)| Value::Str(vif_stanza(n, old_vifs.get(i).map(String::as_str))))
                .collect(),
        );
        let same = |o: &Value| {
            o.as_list().is_some_and(|items| {
                items.len() == vm.networks.len()
                    && items.iter().zip(&vm.networks).all(|(i, n)| i.as_str().is_some_and(|s| vif_matches(n, s)))
            })
        };
        ed.set(Key::Vif, value, same);
    }
    if vm.console.serial {
        ed.put(Key::Serial, Value::Str("pty".into()));
    }
    let declared_extra = match vm.extra_config.get(Key::Extra.name()) {
        Some(ExtraValue::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    super::console::edit(&mut ed, vm, declared_extra);
    // A PV text console owns `extra` (extra_config's value is its base): set once, above.
    let owned_extra = |k: &str| k == Key::Extra.name() && super::console::owns_extra(vm);
    for (key, v) in vm.extra_config.iter().filter(|(k, _)| !owned_extra(k)) {
        let want = extra_value(v);
        let same = |o: &Value| match (&want, o) {
            (Value::List(a), _) => o.as_list() == Some(a.as_slice()),
            _ => same_scalar(&want, o),
        };
        ed.edit(Field::from(key.as_str()), key, want.clone(), same, Impact::NeedsRestart);
    }
    (ed.cfg, ed.fields)
}

/// A new VM's vm.cfg before the owned keys are set: identity and OVM's defaults.
fn new_cfg_skeleton(vm: &Vm, naming: &Naming) -> VmCfg {
    let s = |v: &str| Value::Str(v.into());
    let mut entries: Vec<(Key, Value)> = vec![
        (Key::Name, s(&naming.xen_name)),
        (Key::Uuid, s(&naming.uuid)),
        (Key::SimpleName, s(&vm.name)),
        (Key::Description, s("managed by domform")),
    ];
    match vm.vm_type {
        VmType::Hvm => {
            entries.push((Key::Builder, s("hvm")));
            entries.push((Key::DomainType, s("xen_hvm")));
            entries.push((Key::Boot, s("c")));
        }
        VmType::Pv => {
            entries.push((Key::Bootloader, s("/usr/bin/pygrub")));
            entries.push((Key::DomainType, s("xen_pvm")));
        }
    }
    entries.extend([(Key::OnPoweroff, s("destroy")), (Key::OnReboot, s("restart")), (Key::OnCrash, s("restart"))]);
    let named: Vec<(&str, Value)> = entries.into_iter().map(|(k, v)| (k.name(), v)).collect();
    VmCfg::from_entries(&named)
}
