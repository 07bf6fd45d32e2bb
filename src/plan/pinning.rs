//! Hard-partitioning checks on a host, against its real topology (`xm info -n`).
//!
//! Errors (the plan fails): a pinned CPU that does not exist; a pin on dom0's CPUs (observed
//! Domain-0 affinity); a licence group whose desired pinning would use more physical cores than
//! its `max_cores`. Warnings: a pin that takes only one hyperthread of a core (licences count
//! whole cores); a pinned VM with `OVM_high_availability = True` (an HA restart elsewhere breaks
//! the partition); VMs whose pins overlap.

use std::collections::BTreeMap;

use vmcfg::Value;

use crate::licence;
use crate::model::{CpuSet, ExtraValue, Model, VmState};
use crate::observe::Observed;

/// The pinning each VM on the host will have after apply (`None`: not pinned), by simple name.
fn desired_pins(model: &Model, obs: &Observed) -> BTreeMap<String, Option<CpuSet>> {
    let mut out = BTreeMap::new();
    for v in obs.vms() {
        out.insert(v.simple_name.clone(), licence::current_pinning(obs, &v.simple_name).flatten());
    }
    for vm in model.vms.values().filter(|v| v.host == obs.host) {
        if vm.state == VmState::Absent {
            out.remove(&vm.name);
        } else if let Some(p) = &vm.cpus {
            out.insert(vm.name.clone(), Some(p.union()));
        }
    }
    out
}

/// A pinned VM with OVM's HA on (declared, else on the host): an HA restart elsewhere breaks
/// the hard partition.
fn ha_warning(vm: &crate::model::Vm, obs: &Observed, warnings: &mut Vec<String>) {
    let ha_declared = vm
        .extra_config
        .get("OVM_high_availability")
        .map(|v| matches!(v, ExtraValue::Bool(true)) || matches!(v, ExtraValue::Int(1)));
    let ha_observed = || {
        obs.vms()
            .into_iter()
            .find(|v| v.simple_name == vm.name)
            .and_then(|v| v.cfg)
            .and_then(|c| c.cfg.get("OVM_high_availability").and_then(Value::as_bool))
    };
    if ha_declared.or_else(ha_observed) == Some(true) {
        warnings.push(format!(
            "VM `{}` is pinned and has OVM_high_availability = True: an HA restart on another server breaks the hard partition (set it false)",
            vm.name
        ));
    }
}

/// Each licence group with `max_cores`: the physical cores its VMs on this host would use.
fn licence_groups(
    model: &Model,
    obs: &Observed,
    info: &crate::xen::HostInfo,
    pins: &BTreeMap<String, Option<CpuSet>>,
    errors: &mut Vec<String>,
) {
    for (group, lic) in &model.licences {
        let Some(max) = lic.max_cores else { continue };
        let members: Vec<(String, Option<CpuSet>)> = lic
            .vms
            .iter()
            .filter(|v| model.vms.get(*v).is_some_and(|m| m.host == obs.host && m.state != VmState::Absent))
            .map(|v| {
                (
                    v.clone(),
                    pins.get(v)
                        .cloned()
                        .flatten()
                        .or_else(|| model.vms.get(v).and_then(|m| m.cpus.as_ref()).map(|p| p.union())),
                )
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        let c = licence::count(&obs.host, group, info, &members, lic.core_factor, Some(max));
        if let Some(e) = &c.error {
            errors.push(format!("licence group `{group}` on {}: {e}", obs.host));
        } else if c.violation {
            let why = if c.unpinned.is_empty() {
                format!("threads {} are {} physical cores", c.threads, c.cores)
            } else {
                format!("{} not pinned, so all {} cores of the server count", c.unpinned.join(", "), c.host_cores)
            };
            errors.push(format!(
                "licence group `{group}` would use {} cores on {} but max_cores is {max}: {why}",
                c.cores, obs.host
            ));
        }
    }
}

/// Runs the checks; pushes to `errors` and `warnings`.
pub fn check(model: &Model, obs: &Observed, errors: &mut Vec<String>, warnings: &mut Vec<String>) {
    let Some(info) = &obs.info else { return };
    let nr = info.nr_cpus;
    let all = CpuSet::from_cpus(0..nr);
    let dom0: Option<CpuSet> = obs
        .dom0()
        .map(|d| {
            d.affinity
                .iter()
                .map(|a| a.clone().unwrap_or_else(|| all.clone()))
                .fold(CpuSet::default(), |a, s| a.union(&s))
        })
        .filter(|s| !s.is_empty() && *s != all);
    for vm in model.vms.values().filter(|v| v.host == obs.host && v.state != VmState::Absent) {
        let Some(pin) = &vm.cpus else { continue };
        let set = pin.union();
        if let Some(max) = set.highest().filter(|m| *m >= nr) {
            errors.push(format!(
                "VM `{}` is pinned to CPU {max}, but host {} has CPUs 0-{} only",
                vm.name,
                obs.host,
                nr.saturating_sub(1)
            ));
            continue;
        }
        if let Some(d0) = &dom0 {
            let clash = set.intersection(d0);
            if !clash.is_empty() {
                errors.push(format!(
                    "VM `{}` is pinned to CPU {clash}, which dom0 uses on {} (Domain-0 affinity {d0})",
                    vm.name, obs.host
                ));
            }
        }
        if !info.topology.is_empty() {
            let mut halves = Vec::new();
            for cpu in set.iter() {
                let sib = info.siblings(cpu);
                if sib.iter().any(|s| !set.contains(*s)) && !halves.contains(&sib) {
                    halves.push(sib);
                }
            }
            if !halves.is_empty() {
                let list: Vec<String> =
                    halves.iter().map(|h| CpuSet::from_cpus(h.iter().copied()).to_string()).collect();
                warnings.push(format!(
                    "VM `{}` takes only part of core(s) with threads {}: licences count whole cores, pin all of each core's threads",
                    vm.name,
                    list.join(" / ")
                ));
            }
        }
        ha_warning(vm, obs, warnings);
    }
    let pins = desired_pins(model, obs);
    let pinned: Vec<(&String, &CpuSet)> = pins.iter().filter_map(|(n, p)| p.as_ref().map(|p| (n, p))).collect();
    for (i, (a, pa)) in pinned.iter().enumerate() {
        for (b, pb) in &pinned[i + 1..] {
            let shared = pa.intersection(pb);
            if !shared.is_empty() {
                warnings.push(format!("VMs `{a}` and `{b}` are pinned to the same CPU(s) {shared} on {}", obs.host));
            }
        }
    }
    licence_groups(model, obs, info, &pins, errors);
}
