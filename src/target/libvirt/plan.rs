//! Planning a libvirt host (pure): each declared VM against its domain's persistent XML and,
//! when it runs, its live state; then the host-wide checks the Xen planner makes (pinning and
//! licences from the real topology, capacity, every written path), in dependency order.
//!
//! A new VM's XML is generated ([`crate::libvirt::generate`]); an existing domain's XML is edited
//! in place, field by field ([`super::edit`]), so elements domform does not own stay as they were.
//! Either way the XML is written to `<repo>/VirtualMachines/<id>/domain.xml` and given to `virsh
//! define`: the file is the plan's record of what was defined, and the `write-file` op is where a
//! VNC password reference is resolved, as for a vm.cfg. Live changes follow the definition on a
//! running domain: `vcpupin --live` (then verified), `setvcpus --live` upwards, `setmem --live`.

use std::collections::HashSet;

use super::edit;
use super::observe::{LibvirtObserved, LvDomain};
use crate::model::{Model, Vm, VmState};
use crate::observe::Observed;
use crate::plan::secrets::SecretSlot;
use crate::plan::{
    desired, disk, host, Action, Change, FieldChange, FileDiff, HostPlan, Impact, Op, PinCheck, Resource,
};

/// Plans one libvirt host.
pub fn plan(model: &Model, obs: &Observed) -> HostPlan {
    let mut hp = host::begin(obs, obs.libvirt.is_some() && obs.info.is_some());
    let Some(lv) = obs.libvirt.as_ref().filter(|_| hp.errors.is_empty()) else { return hp };
    let dtype = domain_type(lv);
    let in_use = host::disks_in_use(model, &obs.host);
    let mut changes = Vec::new();
    for vm in model.vms.values().filter(|v| v.host == obs.host) {
        plan_vm(vm, obs, lv, dtype, &in_use, &mut changes, &mut hp);
    }
    // Causes come from the same apply records as on a Xen host; the domain's XML is the
    // configuration the record hashes.
    host::finish(model, obs, changes, &mut hp, |vm: &Vm| lv.find(&vm.name).map(|d| d.xml.as_str()));
    hp
}

/// `kvm` when the host offers it (hardware virtualisation), else `qemu` (TCG), else `xen`.
pub fn domain_type(lv: &LibvirtObserved) -> &'static str {
    ["kvm", "qemu", "xen"].into_iter().find(|t| lv.domain_types.iter().any(|d| d == t)).unwrap_or("kvm")
}

/// Where a VM's domain XML is written before `virsh define`.
pub fn xml_path(vm: &Vm) -> String {
    format!("{}/domain.xml", desired::naming(vm).dir)
}

fn virsh(args: &[&str]) -> Op {
    Op::Virsh { args: args.iter().map(|a| a.to_string()).collect() }
}

fn plan_vm(
    vm: &Vm,
    obs: &Observed,
    lv: &LibvirtObserved,
    dtype: &str,
    in_use: &HashSet<String>,
    changes: &mut Vec<Change>,
    hp: &mut HostPlan,
) {
    let dom = lv.find(&vm.name);
    if vm.state == VmState::Absent {
        absent(vm, dom, in_use, changes, &mut hp.errors, &mut hp.notes);
        return;
    }
    if let Some(e) = crate::plan::console::password_problem(vm) {
        hp.errors.push(e);
        return;
    }
    // libvirt refuses the define outright ("only 8 permitted"): said at plan time instead.
    if crate::plan::secrets::declared(vm).is_some_and(|(_, s)| s.expose().chars().count() > 8) {
        hp.errors.push(format!("VM `{}`: libvirt takes VNC passwords of at most 8 characters", vm.name));
        return;
    }
    let before = changes.len();
    let active = dom.is_some_and(LvDomain::active);
    let disk_ids = disk::plan_disks(vm, obs, active, changes, &mut hp.errors);
    let vm_id = format!("vm/{}", vm.name);
    let name = dom.map_or(vm.name.as_str(), |d| d.name.as_str());
    let path = xml_path(vm);
    let define = |old: String, new: String, slot: Option<SecretSlot>, action, impact, fields| Change {
        id: vm_id.clone(),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action,
        impact,
        fields,
        file: Some(FileDiff { path: path.clone(), old, new: new.clone() }),
        ops: vec![
            Op::WriteFile { path: path.clone(), content: new, backup: true, secrets: slot.into_iter().collect() },
            virsh(&["define", "--file", &path]),
        ],
        depends_on: disk_ids.clone(),
        verify_pins: Vec::new(),
        cause: None,
    };
    let mut defined = false;
    match dom {
        None => {
            let xml = crate::libvirt::generate::domain_xml(vm, dtype);
            let slot = super::secret::slot(&xml, crate::plan::secrets::declared(vm), &vm.name);
            changes.push(define(String::new(), xml, slot, Action::Create, Impact::Live, edit::summary(vm)));
            defined = true;
        }
        Some(d) => match edit::desired_xml(vm, d) {
            Ok((xml, fields, slot)) if !fields.is_empty() => {
                let restart = active && fields.iter().any(|f| f.impact == Impact::NeedsRestart);
                let impact = if restart { Impact::NeedsRestart } else { Impact::Live };
                if restart {
                    hp.notes.push(format!(
                        "VM `{}`: restart it to apply {} (the running domain keeps its old definition until then)",
                        vm.name,
                        edit::restart_fields(&fields)
                    ));
                }
                changes.push(define(d.xml.clone(), xml, slot, Action::Update, impact, fields));
                defined = true;
            }
            Ok(_) => {}
            Err(e) => hp.errors.push(format!("VM `{}`: {e}", vm.name)),
        },
    }
    if let Some(d) = dom.filter(|d| d.active()) {
        if let Some(c) = live(vm, d, defined.then(|| vm_id.clone())) {
            changes.push(c);
        }
    }
    power(vm, name, dom, defined.then(|| vm_id.clone()), changes);
    // Declared snapshots run last, of the domain as this plan leaves it.
    let after: Vec<String> = changes[before..].iter().map(|c| c.id.clone()).collect();
    let xml = match changes[before..].iter().find(|c| c.id == vm_id).and_then(|c| c.file.as_ref()) {
        Some(f) => Some(f.new.clone()),
        None => dom.map(|d| d.xml.clone()),
    };
    super::snapshot::plan_declared(vm, obs, name, xml.as_deref(), &after, changes, &mut hp.errors);
}

/// What a running domain needs now: pins, more vCPUs, memory, each with `--live`.
fn live(vm: &Vm, d: &LvDomain, after: Option<String>) -> Option<Change> {
    let def = d.def.as_ref()?;
    let mut ops = Vec::new();
    let mut fields = Vec::new();
    let mut checks = Vec::new();
    let max = def.vcpus;
    // Up to the maximum the running domain was started with (a raised one is for its next start).
    let live_max = d.live.as_ref().map_or(max, |l| l.vcpus.min(max));
    let online = d.vcpus.len() as u32;
    // No vcpuinfo (its read failed: the domain stopped since the list) is not 0 vCPUs online.
    if !d.vcpus.is_empty() && vm.vcpus > online && vm.vcpus <= live_max {
        ops.push(virsh(&["setvcpus", "--domain", &d.name, "--count", &vm.vcpus.to_string(), "--live"]));
        fields.push(field("vcpus (live)", online.to_string(), vm.vcpus.to_string()));
    }
    let want_kib = vm.memory_mib * 1024;
    let live_kib = d.live.as_ref().and_then(|l| l.current_memory_kib.or(Some(l.memory_kib)));
    // Up to the maximum the running domain was started with (a new `maxmem` waits for a restart).
    let live_max = d.live.as_ref().map_or(def.memory_kib, |l| l.memory_kib.min(def.memory_kib));
    if let Some(have) = live_kib.filter(|h| *h != want_kib && want_kib <= live_max) {
        ops.push(virsh(&["setmem", "--domain", &d.name, "--size", &format!("{want_kib}KiB"), "--live"]));
        fields.push(field("memory (live)", format!("{}MiB", have / 1024), format!("{}MiB", vm.memory_mib)));
    }
    let all = d.vcpus.iter().map(|v| v.affinity.clone()).reduce(|a, b| a.union(&b)).unwrap_or_default();
    let want = vm.cpus.as_ref().map(|p| desired::model_pinning(p, max as usize));
    for v in &d.vcpus {
        let set = match &want {
            Some(w) => match w.get(v.vcpu as usize) {
                Some(s) => s.clone(),
                None => continue,
            },
            None => continue,
        };
        if v.affinity != set {
            let cpus = set.to_string();
            ops.push(virsh(&[
                "vcpupin",
                "--domain",
                &d.name,
                "--vcpu",
                &v.vcpu.to_string(),
                "--cpulist",
                &cpus,
                "--live",
            ]));
            fields.push(field(&format!("vcpu {} affinity (live)", v.vcpu), v.affinity.to_string(), cpus.clone()));
            checks.push(PinCheck { domain: d.name.clone(), vcpu: Some(v.vcpu), cpus });
        }
    }
    let _ = all;
    if ops.is_empty() {
        return None;
    }
    Some(Change {
        id: format!("live/{}", vm.name),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action: Action::Update,
        impact: Impact::Live,
        fields,
        file: None,
        ops,
        depends_on: after.into_iter().collect(),
        verify_pins: checks,
        cause: None,
    })
}

fn field(name: &str, old: String, new: String) -> FieldChange {
    FieldChange { field: name.into(), old: Some(old), new: Some(new), impact: Impact::Live }
}

/// Start, stop, pause or resume, after the definition when it changed.
fn power(vm: &Vm, name: &str, dom: Option<&LvDomain>, after: Option<String>, changes: &mut Vec<Change>) {
    use crate::libvirt::virsh::DomState;
    let state = dom.and_then(|d| d.state);
    let active = state.is_some_and(DomState::is_active);
    let paused = state == Some(DomState::Paused);
    let mut ops = Vec::new();
    let action = match vm.state {
        VmState::Running if !active => {
            ops.push(virsh(&["start", "--domain", name]));
            Action::Start
        }
        VmState::Running if paused => {
            ops.push(virsh(&["resume", "--domain", name]));
            Action::Unpause
        }
        VmState::Paused if !active => {
            ops.push(virsh(&["start", "--domain", name, "--paused"]));
            Action::Pause
        }
        VmState::Paused if !paused => {
            ops.push(virsh(&["suspend", "--domain", name]));
            Action::Pause
        }
        VmState::Stopped if active => {
            let secs = vm.shutdown_timeout.as_secs();
            ops.push(Op::Shutdown { domain: name.to_string(), timeout_secs: secs, force: vm.force_stop });
            Action::Stop
        }
        _ => return,
    };
    changes.push(Change {
        id: format!("power/{}", vm.name),
        resource: Resource::Power,
        name: vm.name.clone(),
        action,
        impact: Impact::Live,
        fields: Vec::new(),
        file: None,
        ops,
        depends_on: after.into_iter().collect(),
        verify_pins: Vec::new(),
        cause: None,
    });
}

/// `state: absent`: stop the domain and undefine it, only with `allow_destroy`. Its disk files
/// stay (libvirt's `undefine` keeps them; deleting data is not something a plan does quietly).
fn absent(
    vm: &Vm,
    dom: Option<&LvDomain>,
    in_use: &HashSet<String>,
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let Some(d) = dom else { return };
    if !vm.allow_destroy {
        errors.push(format!(
            "VM `{}` is `state: absent` but still defined on {}; set `allow_destroy: true` to undefine it",
            vm.name, vm.host
        ));
        return;
    }
    let mut ops = Vec::new();
    if d.active() {
        ops.push(Op::Shutdown {
            domain: d.name.clone(),
            timeout_secs: vm.shutdown_timeout.as_secs(),
            force: vm.force_stop,
        });
    }
    ops.push(virsh(&["undefine", "--domain", &d.name]));
    let files: Vec<String> = d
        .def
        .iter()
        .flat_map(|x| x.disks.iter().filter_map(|k| k.file.clone()))
        .filter(|f| !in_use.contains(f))
        .collect();
    if !files.is_empty() {
        notes.push(format!("VM `{}`: its disk files stay on {}: {}", vm.name, vm.host, files.join(", ")));
    }
    changes.push(Change {
        id: format!("vm/{}", vm.name),
        resource: Resource::Vm,
        name: vm.name.clone(),
        action: Action::Delete,
        impact: Impact::Live,
        fields: Vec::new(),
        file: None,
        ops,
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    });
}
