//! Planning a Xen host: each declared VM against what the host shows ([`crate::plan::vm`]),
//! then what only the whole host can tell (pinning overlaps, capacity, every written path),
//! ordered by dependency and annotated with why each change is planned.

use crate::model::Model;
use crate::observe::Observed;
use crate::plan::{capacity, cause, declared_paths, desired, fingerprint, graph, paths, pinning, vm, HostPlan};

/// Plans one Xen host (pure): every VM declared on it, then the host-wide checks (pinning,
/// capacity, the paths written), ordered, each change with its cause.
pub fn plan(model: &Model, obs: &Observed) -> HostPlan {
    let mut hp = HostPlan::new(&obs.host, fingerprint::of(obs));
    for p in obs.problems.iter().filter(|p| p.is_error()) {
        hp.errors.push(p.body());
    }
    if obs.info.is_none() {
        hp.errors.push(format!("{}: the host could not be read completely; nothing is planned for it", obs.host));
        return hp;
    }
    if !hp.errors.is_empty() {
        // A vm.cfg that does not parse may be any declared VM: planning around it could create
        // a duplicate or delete the wrong thing. The host waits until the file is fixed.
        hp.errors.push(format!("{}: nothing is planned for this host until the problems above are fixed", obs.host));
        return hp;
    }
    let mut changes = Vec::new();
    let views = vm::Views::new(obs);
    // Disk files that declared (not absent) VMs use: never deleted, whoever else goes.
    let in_use: std::collections::HashSet<String> = model
        .vms
        .values()
        .filter(|v| v.host == obs.host && v.state != crate::model::VmState::Absent)
        .flat_map(|v| v.disks.iter().filter_map(|d| desired::disk_path(v, d)))
        .collect();
    for vm in model.vms.values().filter(|v| v.host == obs.host) {
        vm::plan_vm(vm, obs, &views, &in_use, &mut changes, &mut hp.errors, &mut hp.notes);
    }
    pinning::check(model, obs, &mut hp.errors, &mut hp.warnings);
    capacity::check(model, obs, &mut hp.errors, &mut hp.warnings);
    let repos = model.hosts.get(&obs.host).map(|h| h.repositories.clone()).unwrap_or_default();
    hp.errors.extend(paths::check(&changes, &repos, &declared_paths(model, &obs.host), &obs.links));
    match graph::order(changes) {
        Ok(sorted) => hp.changes = sorted,
        Err(e) => hp.errors.push(e),
    }
    let views = obs.vms();
    let mut cfgs: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for v in &views {
        if let Some(c) = v.cfg {
            cfgs.entry(v.xen_name.as_str()).or_insert(c.text.as_str());
            cfgs.insert(v.simple_name.as_str(), c.text.as_str());
        }
    }
    cause::annotate_host(model, &obs.host, &obs.applied, &mut hp.changes, |vm| cfgs.get(vm.name.as_str()).copied());
    hp
}
