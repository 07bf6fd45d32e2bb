//! Planning a Xen host: each declared VM against what the host shows ([`crate::plan::vm`]),
//! then what only the whole host can tell (pinning overlaps, capacity, every written path),
//! ordered by dependency and annotated with why each change is planned.

use crate::model::Model;
use crate::observe::Observed;
use crate::plan::{host, vm, HostPlan};

/// Plans one Xen host (pure): every VM declared on it, then the host-wide checks (pinning,
/// capacity, the paths written), ordered, each change with its cause.
pub fn plan(model: &Model, obs: &Observed) -> HostPlan {
    let mut hp = host::begin(obs, obs.info.is_some());
    if !hp.errors.is_empty() {
        return hp;
    }
    let mut changes = Vec::new();
    let views = vm::Views::new(obs);
    let in_use = host::disks_in_use(model, &obs.host);
    for vm in model.vms.values().filter(|v| v.host == obs.host) {
        vm::plan_vm(vm, obs, &views, &in_use, &mut changes, &mut hp.errors, &mut hp.notes);
    }
    let views = obs.vms();
    let mut cfgs: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for v in &views {
        if let Some(c) = v.cfg {
            cfgs.entry(v.xen_name.as_str()).or_insert(c.text.as_str());
            cfgs.insert(v.simple_name.as_str(), c.text.as_str());
        }
    }
    host::finish(model, obs, changes, &mut hp, |vm| cfgs.get(vm.name.as_str()).copied());
    hp
}
