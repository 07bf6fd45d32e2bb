//! Disk files: create sparse files, grow them, never shrink them.
//!
//! The seed's "100 new virtual disks without 100 clicks": a brace range in the YAML becomes one
//! change per disk, all executed in one batched exec. Shrinking would destroy data and is an
//! error; a disk another VM uses is never deleted.

use super::desired::disk_path;
use super::{Action, Change, FieldChange, Impact, Op, Resource};
use crate::model::units::format_size;
use crate::model::{DiskSource, Vm};
use crate::observe::Observed;

/// Changes for a VM's disks; problems go to `errors`.
pub fn plan_disks(
    vm: &Vm,
    obs: &Observed,
    running: bool,
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for d in &vm.disks {
        let Some(path) = disk_path(vm, d) else { continue };
        match &d.source {
            DiskSource::New { name, size } => {
                let id = format!("disk/{}/{name}", vm.name);
                match obs.files.get(&path) {
                    None => {
                        changes.push(change(&id, vm, name, Action::Create, Impact::Live, None, format_size(*size), vec![Op::CreateDisk { path, size: *size }]));
                        ids.push(id);
                    }
                    Some(f) if f.size < *size => {
                        let impact = if running { Impact::NeedsRestart } else { Impact::Live };
                        let op = Op::GrowDisk { path, from: f.size, to: *size };
                        changes.push(change(&id, vm, name, Action::Update, impact, Some(format_size(f.size)), format_size(*size), vec![op]));
                        ids.push(id);
                    }
                    Some(f) if f.size > *size => errors.push(format!(
                        "disk `{name}` of VM `{}` is {} on the host ({path}) but {} in the desired state; domform never shrinks a disk (data would be lost)",
                        vm.name,
                        format_size(f.size),
                        format_size(*size)
                    )),
                    Some(_) => {}
                }
            }
            DiskSource::Existing { path } => {
                let made_here = obs.files.contains_key(path);
                if !made_here {
                    errors.push(format!("disk {path} of VM `{}` does not exist on host {}", vm.name, vm.host));
                }
            }
        }
    }
    ids
}

#[allow(clippy::too_many_arguments)]
fn change(
    id: &str,
    vm: &Vm,
    name: &str,
    action: Action,
    impact: Impact,
    old: Option<String>,
    new: String,
    ops: Vec<Op>,
) -> Change {
    Change {
        id: id.to_string(),
        resource: Resource::Disk,
        name: format!("{}/{name}", vm.name),
        action,
        impact,
        fields: vec![FieldChange { field: "size".into(), old, new: Some(new), impact }],
        file: None,
        ops,
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    }
}
