//! What every host planner does around its per-VM planning: refuse a host that was not read
//! completely or showed errors, know which disk files declared VMs use, and then the host-wide
//! steps (pinning and licence checks, capacity, every written path, dependency order, causes).
//! The Xen and the libvirt planners (`target::xen::plan`, `target::libvirt::plan`) differ only
//! in how they plan one VM.

use std::collections::HashSet;

use super::{capacity, cause, declared_paths, desired, fingerprint, graph, paths, pinning, Change, HostPlan};
use crate::model::{Model, Vm, VmState};
use crate::observe::Observed;

/// A host plan to fill, or one with errors only: the refusal to plan a host that was not read
/// completely (`complete` false) or whose observe reported errors (a configuration that did not
/// parse may be any declared VM, and planning around it could create a duplicate or delete the
/// wrong thing). The caller plans only when it has no errors.
pub fn begin(obs: &Observed, complete: bool) -> HostPlan {
    let mut hp = HostPlan::new(&obs.host, fingerprint::of(obs));
    hp.errors.extend(obs.problems.iter().filter(|p| p.is_error()).map(|p| p.body()));
    if !complete {
        hp.errors.push(format!("{}: the host could not be read completely; nothing is planned for it", obs.host));
    } else if !hp.errors.is_empty() {
        hp.errors.push(format!("{}: nothing is planned for this host until the problems above are fixed", obs.host));
    }
    hp
}

/// Disk files that declared (not absent) VMs of `host` use: never deleted, whoever else goes.
pub fn disks_in_use(model: &Model, host: &str) -> HashSet<String> {
    model
        .vms
        .values()
        .filter(|v| v.host == host && v.state != VmState::Absent)
        .flat_map(|v| v.disks.iter().filter_map(|d| desired::disk_path(v, d)))
        .collect()
}

/// The host-wide checks and the order of `changes` into `hp`, each change with its cause;
/// `config_now(vm)` is the VM's configuration text on the host (vm.cfg, domain XML).
pub fn finish<'a>(
    model: &Model,
    obs: &Observed,
    changes: Vec<Change>,
    hp: &mut HostPlan,
    config_now: impl Fn(&Vm) -> Option<&'a str>,
) {
    pinning::check(model, obs, &mut hp.errors, &mut hp.warnings);
    capacity::check(model, obs, &mut hp.errors, &mut hp.warnings);
    let repos = model.hosts.get(&obs.host).map(|h| h.repositories.clone()).unwrap_or_default();
    hp.errors.extend(paths::check(&changes, &repos, &declared_paths(model, &obs.host), &obs.links));
    match graph::order(changes) {
        Ok(sorted) => hp.changes = sorted,
        Err(e) => hp.errors.push(e),
    }
    cause::annotate_host(model, &obs.host, &obs.applied, &mut hp.changes, config_now);
}
