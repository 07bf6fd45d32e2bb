//! A VM: its vm.cfg (create or minimal edit), its live settings, and its power state.
//!
//! Matching: a declared VM is the host's VM whose `OVM_simple_name` equals its name (VMs made
//! by OVM Manager are edited in place, never recreated), or whose Xen name equals its name or
//! the id domform gives it. Each field is marked `live` or `needs restart` for a running VM;
//! a needed restart is reported, never done behind the user's back.

use std::collections::{HashMap, HashSet};

use vmcfg::{DiskSpec, Value};

use super::desired::{self, cfg_pinning, model_pinning, Naming};
use super::{Action, Change, Field, FieldChange, FileDiff, Impact, Op, PinCheck, Resource};
use crate::model::{CpuSet, Vm, VmState};
use crate::observe::{CfgFile, Observed, VmView};
use crate::xen::fields::{Key, Live};
use crate::xen::Domain;

/// The host's VMs, indexed by simple name and Xen name (planning 10,000 VMs stays linear).
pub struct Views<'a> {
    all: Vec<VmView<'a>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl<'a> Views<'a> {
    /// Indexes the host's VMs.
    pub fn new(obs: &'a Observed) -> Views<'a> {
        let all = obs.vms();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, v) in all.iter().enumerate() {
            by_name.entry(v.simple_name.clone()).or_default().push(i);
            if v.xen_name != v.simple_name {
                by_name.entry(v.xen_name.clone()).or_default().push(i);
            }
        }
        Views { all, by_name }
    }

    /// VMs whose simple or Xen name is one of `names`, each once.
    fn find(&self, names: &[&str]) -> Vec<&VmView<'a>> {
        let mut idx: Vec<usize> = names.iter().filter_map(|n| self.by_name.get(*n)).flatten().copied().collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.all[i]).collect()
    }
}

/// Plans one declared VM on its host.
pub fn plan_vm(
    vm: &Vm,
    obs: &Observed,
    views: &Views<'_>,
    in_use: &HashSet<String>,
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let naming = desired::naming(vm);
    let view = match matched(vm, obs, views, &naming) {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let cfg = view.and_then(|v| v.cfg);
    let dom = view.and_then(|v| v.domain).filter(|d| !d.state.dying && !d.state.crashed);
    if vm.state == VmState::Absent {
        plan_absent(vm, obs, in_use, cfg, dom, changes, errors);
        return;
    }
    if let Some(e) = super::console::password_problem(vm) {
        errors.push(e);
        return;
    }
    let running = dom.is_some();
    let disk_ids = super::disk::plan_disks(vm, obs, running, changes, errors);
    let vm_id = format!("vm/{}", vm.name);
    let path = cfg.map(|c| c.path.clone()).unwrap_or_else(|| naming.cfg_path.clone());
    let (new_cfg, mut fields) = desired::desired_cfg(vm, cfg.map(|c| &c.cfg), &naming);
    // Decided with the real values; what the plan carries is sealed (`plan::secrets`).
    let sealed = match super::secrets::seal(&new_cfg, cfg.map(|c| &c.cfg), super::secrets::declared(vm)) {
        Ok(s) => s,
        Err(e) => {
            errors.push(format!("VM `{}`: {e}", vm.name));
            return;
        }
    };
    super::secrets::seal_fields(&mut fields, &sealed);
    let text = Texts {
        real: new_cfg.render(),
        new: sealed.new.render(),
        old: sealed.old.map(|o| o.render()).unwrap_or_default(),
        slots: sealed.slots,
    };
    let mut vm_changed = false;
    match cfg {
        None => {
            changes.push(create_vm(vm, &vm_id, &path, text, fields, &disk_ids));
            vm_changed = true;
        }
        Some(c) => {
            if let Some(change) = update_vm(vm, c, dom, obs, text, fields, &disk_ids, notes) {
                changes.push(change);
                vm_changed = true;
            }
        }
    }
    let xen_name =
        cfg.and_then(|c| c.cfg.get(Key::Name.name()).and_then(Value::as_str)).unwrap_or(&naming.xen_name).to_string();
    let before = changes.len();
    plan_power(vm, dom, &path, &xen_name, vm_changed.then_some(vm_id.clone()), changes);
    if !vm.snapshots.present.is_empty() || vm.snapshots.keep.is_some() {
        // Snapshots run after the VM exists in its final shape and power state.
        let mut after: Vec<String> = changes[before..].iter().map(|c| c.id.clone()).collect();
        if vm_changed {
            after.push(vm_id);
        }
        let future = match vm.state {
            VmState::Running => Some((xen_name.as_str(), false)),
            VmState::Paused => Some((xen_name.as_str(), true)),
            VmState::Stopped | VmState::Absent => None,
        };
        let sub = super::snapshot::Subject::xen(&vm.name, &path, &new_cfg);
        super::snapshot::plan_declared(vm, obs, &sub, future, &after, changes, errors);
    }
}

/// A VM with no vm.cfg yet: the file written new, after its disks; every field takes effect.
fn create_vm(vm: &Vm, id: &str, path: &str, text: Texts, mut fields: Vec<FieldChange>, disk_ids: &[String]) -> Change {
    for f in &mut fields {
        f.impact = Impact::Live;
    }
    Change {
        id: id.to_string(),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action: Action::Create,
        impact: Impact::Live,
        fields,
        file: Some(FileDiff { path: path.to_string(), old: String::new(), new: text.new.clone() }),
        ops: vec![Op::WriteFile { path: path.to_string(), content: text.new, backup: false, secrets: text.slots }],
        depends_on: disk_ids.to_vec(),
        verify_pins: Vec::new(),
        cause: None,
    }
}

/// The host's VM a declared one is: none, or exactly one that has a vm.cfg where domform can
/// edit it.
fn matched<'v>(
    vm: &Vm,
    obs: &Observed,
    views: &'v Views<'_>,
    naming: &Naming,
) -> Result<Option<&'v VmView<'v>>, String> {
    let matches = views.find(&[vm.name.as_str(), naming.xen_name.as_str()]);
    if matches.len() > 1 {
        let places: Vec<String> = matches
            .iter()
            .map(|v| v.cfg.map(|c| c.path.clone()).unwrap_or_else(|| format!("domain {}", v.xen_name)))
            .collect();
        return Err(format!(
            "VM `{}` matches several VMs on {}: {}; rename one in OVM Manager",
            vm.name,
            obs.host,
            places.join(", ")
        ));
    }
    let view = matches.first().copied();
    if let Some(v) = view {
        if v.cfg.is_none() {
            return Err(format!(
                "VM `{}` runs on {} as domain {} but its vm.cfg is not under the host's repositories ({}); declare the repository",
                vm.name,
                obs.host,
                v.xen_name,
                obs.repos.iter().map(|r| r.path.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(view)
}

/// The desired vm.cfg as text: `real` (with secret values, only to decide whether the file
/// changes), `new` and `old` as the plan carries them (secrets as placeholders), and where
/// each placeholder's value comes from.
struct Texts {
    real: String,
    new: String,
    old: String,
    slots: Vec<super::secrets::SecretSlot>,
}

/// The update of an existing VM: its vm.cfg written when the text changes, live steps for a
/// running domain, and repairs of live drift; `None` when there is nothing to do.
#[allow(clippy::too_many_arguments)]
fn update_vm(
    vm: &Vm,
    c: &CfgFile,
    dom: Option<&Domain>,
    obs: &Observed,
    text: Texts,
    mut fields: Vec<FieldChange>,
    disk_ids: &[String],
    notes: &mut Vec<String>,
) -> Option<Change> {
    let mut ops = Vec::new();
    let rewrite = text.real != c.text;
    if rewrite {
        ops.push(Op::WriteFile { path: c.path.clone(), content: text.new.clone(), backup: true, secrets: text.slots });
        match dom {
            Some(d) => live_ops(vm, d, &c.cfg, &mut fields, &mut ops),
            None => fields.iter_mut().for_each(|f| f.impact = Impact::Live),
        }
    }
    if let Some(d) = dom {
        pin_drift(vm, d, obs, &mut fields, &mut ops);
        live_drift(vm, d, &mut fields, &mut ops);
    }
    if ops.is_empty() {
        return None;
    }
    let restart: Vec<&str> =
        fields.iter().filter(|f| f.impact == Impact::NeedsRestart).map(|f| f.field.as_str()).collect();
    if !restart.is_empty() {
        let verb = if restart.len() == 1 { "takes" } else { "take" };
        notes.push(format!("VM `{}`: {} {verb} effect at its next restart", vm.name, restart.join(", ")));
    }
    let impact = fields.iter().map(|f| f.impact).max().unwrap_or(Impact::Live);
    let repinned = fields.iter().any(|f| f.field.about() == Some(Key::Cpus));
    let verify_pins = match (dom, &vm.cpus) {
        (Some(d), Some(p)) if repinned => pin_checks(&d.name, p),
        _ => Vec::new(),
    };
    let file = rewrite.then(|| FileDiff { path: c.path.clone(), old: text.old, new: text.new });
    Some(Change {
        id: format!("vm/{}", vm.name),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action: Action::Update,
        impact,
        fields,
        file,
        ops,
        depends_on: disk_ids.to_vec(),
        verify_pins,
        cause: None,
    })
}

/// Live changes for a running domain, and each field's impact. Which keys a running domain
/// takes, and how, is the vocabulary table's `live` column; the domain decides whether it fits.
fn live_ops(vm: &Vm, d: &Domain, old: &vmcfg::VmCfg, fields: &mut [FieldChange], ops: &mut Vec<Op>) {
    for f in fields.iter_mut() {
        let Some(key) = f.field.cfg_key() else { continue };
        let live = match key.spec().live {
            Live::Restart => continue,
            Live::MemSet => (vm.memory_mib <= d.maxmem_mib).then(|| vec![xen_op("mem-set", d, vm.memory_mib)]),
            Live::VcpuSet => (vm.vcpus <= d.vcpus.max(d.online_vcpus)).then(|| vec![xen_op("vcpu-set", d, vm.vcpus)]),
            Live::VcpuPin => Some(
                vm.cpus.as_ref().map(|p| pin_ops(&d.name, &model_pinning(p, d.vcpus as usize))).unwrap_or_default(),
            ),
            Live::BlockAttach => block_attach(vm, d, old),
        };
        match live {
            Some(new_ops) => {
                f.impact = Impact::Live;
                ops.extend(new_ops);
            }
            // Only `disk` keeps the impact desired gave it when it cannot go live.
            None if key.spec().live == Live::BlockAttach => {}
            None => f.impact = Impact::NeedsRestart,
        }
    }
}

fn xen_op(verb: &str, d: &Domain, n: impl ToString) -> Op {
    Op::Xen { args: vec![verb.into(), d.name.clone(), n.to_string()] }
}

/// `block-attach` for each added disk, or `None` when a disk was removed or moved (restart).
fn block_attach(vm: &Vm, d: &Domain, old: &vmcfg::VmCfg) -> Option<Vec<Op>> {
    let old_specs: Vec<DiskSpec> = old
        .get(Key::Disk.name())
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(|v| v.as_str().and_then(|s| DiskSpec::parse(s).ok())).collect())
        .unwrap_or_default();
    let new_specs: Vec<DiskSpec> = vm
        .disks
        .iter()
        .filter_map(|disk| desired::disk_path(vm, disk).map(|p| (p, disk)))
        .map(|(path, disk)| DiskSpec {
            backend: if path.starts_with("/dev/") { "phy".into() } else { "file".into() },
            path,
            frontend: disk.device.clone(),
            cdrom: disk.cdrom,
            mode: disk.mode.as_str().into(),
        })
        .collect();
    let kept = old_specs.iter().all(|o| new_specs.iter().any(|n| n.path == o.path && n.frontend == o.frontend));
    kept.then(|| {
        new_specs
            .iter()
            .filter(|n| !old_specs.iter().any(|o| o.path == n.path))
            .map(|n| Op::Xen {
                args: vec![
                    "block-attach".into(),
                    d.name.clone(),
                    format!("{}:{}", n.backend, n.path),
                    n.frontend.clone(),
                    n.mode.clone(),
                ],
            })
            .collect()
    })
}

fn pin_ops(dom: &str, sets: &[CpuSet]) -> Vec<Op> {
    let first = sets.first();
    if first.is_some_and(|f| sets.iter().all(|s| s == f)) {
        let set = first.map(|s| s.to_string()).unwrap_or_default();
        return vec![Op::Xen { args: vec!["vcpu-pin".into(), dom.into(), "all".into(), set] }];
    }
    sets.iter()
        .enumerate()
        .map(|(i, s)| Op::Xen { args: vec!["vcpu-pin".into(), dom.into(), i.to_string(), s.to_string()] })
        .collect()
}

/// Live pinning that differs from the declared one (someone ran `xm vcpu-pin` by hand).
fn pin_drift(vm: &Vm, d: &Domain, obs: &Observed, fields: &mut Vec<FieldChange>, ops: &mut Vec<Op>) {
    let Some(p) = &vm.cpus else { return };
    if fields.iter().any(|f| f.field.cfg_key() == Some(Key::Cpus)) {
        return; // the vm.cfg change already re-pins live
    }
    let nr = obs.info.as_ref().map(|i| i.nr_cpus).unwrap_or(0);
    let all = CpuSet::from_cpus(0..nr);
    let n = d.vcpus as usize;
    let want = model_pinning(p, n);
    let live: Vec<CpuSet> = d.affinity.iter().map(|a| a.clone().unwrap_or_else(|| all.clone())).collect();
    if live.len() == want.len() && live == want {
        return;
    }
    let show = |s: &[CpuSet]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" | ");
    fields.push(FieldChange {
        field: Field::live(Key::Cpus),
        old: Some(show(&live)),
        new: Some(show(&want)),
        impact: Impact::Live,
    });
    ops.extend(pin_ops(&d.name, &want));
}

/// A running domain that lacks what its vm.cfg (already as desired) gives it: a live step that
/// failed after vm.cfg was written (`block-attach`, `mem-set`) is planned again, not forgotten.
/// Disks are compared only when the domain lists any (a toolstack that omits them says nothing).
fn live_drift(vm: &Vm, d: &Domain, fields: &mut Vec<FieldChange>, ops: &mut Vec<Op>) {
    let xen = |args: Vec<String>| Op::Xen { args };
    if !fields.iter().any(|f| f.field.cfg_key() == Some(Key::Disk)) && !d.vbds.is_empty() {
        let attached: Vec<&str> = d
            .vbds
            .iter()
            .map(|v| v.uname.rsplit_once(':').map_or(v.uname.as_str(), |(_, p)| p))
            .map(|p| p.strip_prefix("//").unwrap_or(p))
            .collect();
        for disk in vm.disks.iter().filter(|k| !k.cdrom) {
            let Some(path) = desired::disk_path(vm, disk) else { continue };
            if attached.contains(&path.as_str()) {
                continue;
            }
            let backend = if path.starts_with("/dev/") { "phy" } else { "file" };
            fields.push(FieldChange {
                field: Field::live(Key::Disk),
                old: Some("not attached".into()),
                new: Some(format!("{path} as {}", disk.device)),
                impact: Impact::Live,
            });
            ops.push(xen(vec![
                "block-attach".into(),
                d.name.clone(),
                format!("{backend}:{path}"),
                disk.device.clone(),
                disk.mode.as_str().into(),
            ]));
        }
    }
    let memory_planned = fields.iter().any(|f| f.field.cfg_key() == Some(Key::Memory));
    if !memory_planned && d.memory_mib != vm.memory_mib && vm.memory_mib <= d.maxmem_mib {
        fields.push(FieldChange {
            field: Field::live(Key::Memory),
            old: Some(format!("{} MiB", d.memory_mib)),
            new: Some(format!("{} MiB", vm.memory_mib)),
            impact: Impact::Live,
        });
        ops.push(xen(vec!["mem-set".into(), d.name.clone(), vm.memory_mib.to_string()]));
    }
}

/// What `vcpu-list` must show for a pinning.
fn pin_checks(domain: &str, p: &crate::model::Pinning) -> Vec<PinCheck> {
    match p {
        crate::model::Pinning::All(s) => vec![PinCheck { domain: domain.into(), vcpu: None, cpus: s.to_string() }],
        crate::model::Pinning::PerVcpu(v) => v
            .iter()
            .enumerate()
            .map(|(i, s)| PinCheck { domain: domain.into(), vcpu: u32::try_from(i).ok(), cpus: s.to_string() })
            .collect(),
    }
}

fn plan_power(
    vm: &Vm,
    dom: Option<&Domain>,
    cfg_path: &str,
    xen_name: &str,
    after: Option<String>,
    changes: &mut Vec<Change>,
) {
    let paused = dom.is_some_and(|d| d.state.paused);
    let xen = |args: &[&str]| Op::Xen { args: args.iter().map(|a| a.to_string()).collect() };
    let name = dom.map(|d| d.name.as_str()).unwrap_or_default();
    let (action, ops) = match (vm.state, dom) {
        (VmState::Running, None) => (Action::Start, vec![xen(&["create", cfg_path])]),
        (VmState::Running, Some(_)) if paused => (Action::Unpause, vec![xen(&["unpause", name])]),
        (VmState::Paused, None) => (Action::Start, vec![xen(&["create", "-p", cfg_path])]),
        (VmState::Paused, Some(_)) if !paused => (Action::Pause, vec![xen(&["pause", name])]),
        (VmState::Stopped, Some(_)) => {
            let mut ops = Vec::new();
            if paused {
                ops.push(xen(&["unpause", name]));
            }
            ops.push(Op::Shutdown {
                domain: name.into(),
                timeout_secs: vm.shutdown_timeout.as_secs(),
                force: vm.force_stop,
            });
            (Action::Stop, ops)
        }
        _ => return,
    };
    changes.push(Change {
        id: format!("power/{}", vm.name),
        resource: Resource::Power,
        name: vm.name.clone(),
        action,
        impact: Impact::Live,
        fields: vec![FieldChange {
            field: "state".into(),
            old: Some(dom.map(|d| d.state.word().to_string()).unwrap_or_else(|| "stopped".into())),
            new: Some(format!("{:?}", vm.state).to_lowercase()),
            impact: Impact::Live,
        }],
        file: None,
        ops,
        depends_on: after.into_iter().collect(),
        verify_pins: match (&vm.cpus, action) {
            (Some(p), Action::Start | Action::Unpause) => pin_checks(xen_name, p),
            _ => Vec::new(),
        },
        cause: None,
    });
}

fn plan_absent(
    vm: &Vm,
    obs: &Observed,
    in_use: &HashSet<String>,
    cfg: Option<&CfgFile>,
    dom: Option<&Domain>,
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
) {
    let Some(cfg) = cfg else { return };
    if !vm.allow_destroy {
        errors.push(format!(
            "VM `{}` is declared `state: absent`, which destroys it and deletes its vm.cfg ({}); set `allow_destroy: true` on it to allow that",
            vm.name, cfg.path
        ));
        return;
    }
    let mut ops = Vec::new();
    if let Some(d) = dom {
        if d.state.paused {
            // A paused guest cannot answer a shutdown request.
            ops.push(Op::Xen { args: vec!["unpause".into(), d.name.clone()] });
        }
        ops.push(Op::Shutdown {
            domain: d.name.clone(),
            timeout_secs: vm.shutdown_timeout.as_secs(),
            force: vm.force_stop,
        });
    }
    let dir = cfg.path.trim_end_matches("/vm.cfg").to_string();
    ops.push(Op::RemoveVmDir { dir });
    let mut fields =
        vec![FieldChange { field: "vm.cfg".into(), old: Some(cfg.path.clone()), new: None, impact: Impact::Live }];
    // Its disk files go too (allow_destroy), except those another vm.cfg on the host still uses.
    let mine: Vec<String> = disk_paths(&cfg.cfg);
    for path in mine {
        let shared = in_use.contains(&path)
            || obs.cfgs.iter().filter(|c| c.path != cfg.path).any(|c| disk_paths(&c.cfg).contains(&path));
        if shared {
            fields.push(FieldChange {
                field: "disk (kept: shared)".into(),
                old: Some(path),
                new: None,
                impact: Impact::Live,
            });
        } else if obs.files.contains_key(&path) {
            fields.push(FieldChange {
                field: Key::Disk.into(),
                old: Some(path.clone()),
                new: None,
                impact: Impact::Live,
            });
            ops.push(Op::DeleteFile { path });
        }
    }
    changes.push(Change {
        id: format!("vm/{}", vm.name),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action: Action::Delete,
        impact: Impact::Replace,
        fields,
        file: Some(FileDiff { path: cfg.path.clone(), old: cfg.text.clone(), new: String::new() }),
        ops,
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    });
}

fn disk_paths(cfg: &vmcfg::VmCfg) -> Vec<String> {
    cfg.get(Key::Disk.name())
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().and_then(|s| DiskSpec::parse(s).ok()))
                .filter(|d| !d.cdrom && d.backend != "phy")
                .map(|d| d.path)
                .collect()
        })
        .unwrap_or_default()
}

/// vm.cfg `cpus` of a config as per-vCPU sets (used by `list` and the licence report).
pub fn configured_pinning(cfg: &vmcfg::VmCfg) -> Option<Vec<CpuSet>> {
    let n = cfg
        .get(Key::Maxvcpus.name())
        .or_else(|| cfg.get(Key::Vcpus.name()))
        .and_then(Value::as_int)
        .unwrap_or(1)
        .max(1) as usize;
    cfg.get(Key::Cpus.name()).and_then(|v| cfg_pinning(v, n))
}
