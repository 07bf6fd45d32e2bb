//! Reflink snapshots of a VM: its disk files, its vm.cfg, optionally its memory.
//!
//! OVM Manager has no VM snapshots; admins reflink disk files by hand (facts §5). A snapshot
//! lives in `<repository>/Snapshots/<vm>/<name>/` (outside `VirtualDisks/`, so a Manager
//! repository refresh does not pick the copies up) with a `manifest`. Declared snapshots
//! (`snapshots.present`) are created when missing; `snapshots.keep` prunes the oldest
//! domform-made ones, never one named in `present`. Revert stops the VM, takes a safety
//! snapshot, puts every disk back atomically, restores vm.cfg and starts the VM again if it ran.

use vmcfg::{DiskSpec, Value, VmCfg};

use super::{Action, Change, FieldChange, Impact, Op, Resource};
use crate::model::Vm;
use crate::observe::{Observed, SnapshotInfo};
use crate::xen::Domain;

/// `<repo>/Snapshots/<vm>` for a vm.cfg at `<repo>/VirtualMachines/<id>/vm.cfg`.
pub fn parent_dir(cfg_path: &str, vm: &str) -> Option<String> {
    cfg_path.split_once("/VirtualMachines/").map(|(repo, _)| format!("{repo}/Snapshots/{vm}"))
}

/// The disk files a snapshot copies: file-backed, writable, not shared (`w!`: reverting a disk
/// other VMs use would hurt them), not CD-ROMs. The others are returned as skipped.
pub fn snapshot_disks(cfg: &VmCfg) -> (Vec<String>, Vec<String>) {
    let mut take = Vec::new();
    let mut skip = Vec::new();
    for item in cfg.get("disk").and_then(Value::as_list).unwrap_or_default() {
        let Some(d) = item.as_str().and_then(|s| DiskSpec::parse(s).ok()) else { continue };
        if d.backend == "phy" || d.cdrom || d.mode != "w" {
            skip.push(d.path);
        } else {
            take.push(d.path);
        }
    }
    (take, skip)
}

/// Why a snapshot or a revert is not planned. A manifest is untrusted: most of these are a
/// planted or damaged manifest refused, and say so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The vm.cfg is not `<repo>/VirtualMachines/<id>/vm.cfg`.
    #[error("{0} is not in a repository's VirtualMachines/ folder")]
    NotInRepository(String),
    /// A disk path the manifest's `|`/line format cannot hold.
    #[error("disk path {} cannot be recorded in a snapshot manifest", .0.escape_debug())]
    Unrecordable(String),
    /// A memory checkpoint of a stopped VM.
    #[error("VM `{0}` is not running: there is no memory to checkpoint")]
    NotRunning(String),
    /// A manifest without disks.
    #[error("snapshot {0} records no disks")]
    NoDisks(String),
    /// Another VM's snapshot.
    #[error("snapshot {} belongs to `{}`, not `{vm}`", .dir.escape_debug(), .owner.escape_debug())]
    OtherVm {
        /// Snapshot folder.
        dir: String,
        /// The VM the manifest names.
        owner: String,
        /// The VM being reverted.
        vm: String,
    },
    /// A manifest target that is not a disk of the VM.
    #[error(
        "snapshot {}'s manifest names {}, which is not a disk of {cfg_path}; refusing the revert (a manifest is checked, never obeyed)",
        .dir.escape_debug(),
        .target.escape_debug()
    )]
    NotItsDisk {
        /// Snapshot folder.
        dir: String,
        /// The path the manifest names.
        target: String,
        /// The VM's vm.cfg.
        cfg_path: String,
    },
    /// A disk kept under another file name than domform gives it.
    #[error(
        "snapshot {}'s manifest keeps {} in {}, not in `disks/NN-{base}`; refusing the revert",
        .dir.escape_debug(),
        .target.escape_debug(),
        .file.escape_debug()
    )]
    WrongFile {
        /// Snapshot folder.
        dir: String,
        /// The disk.
        target: String,
        /// Where the manifest says its copy is.
        file: String,
        /// The disk's file name.
        base: String,
    },
    /// One disk named twice.
    #[error("snapshot {}'s manifest names {} twice", .dir.escape_debug(), .target.escape_debug())]
    Twice {
        /// Snapshot folder.
        dir: String,
        /// The disk.
        target: String,
    },
}

fn check_paths(paths: &[String]) -> Result<(), SnapshotError> {
    match paths.iter().find(|p| p.contains(['|', '\n'])) {
        Some(p) => Err(SnapshotError::Unrecordable(p.clone())),
        None => Ok(()),
    }
}

/// A snapshot-creating change. `domain`: the running domain's name and whether it is paused.
#[allow(clippy::too_many_arguments)]
pub fn create_change(
    vm: &str,
    cfg_path: &str,
    cfg: &VmCfg,
    domain: Option<(&str, bool)>,
    name: Option<&str>,
    memory: bool,
    allow_full_copy: bool,
) -> Result<Change, SnapshotError> {
    let parent = parent_dir(cfg_path, vm).ok_or_else(|| SnapshotError::NotInRepository(cfg_path.into()))?;
    let (disks, skipped) = snapshot_disks(cfg);
    check_paths(&disks)?;
    let running = domain.is_some();
    if memory && !running {
        return Err(SnapshotError::NotRunning(vm.into()));
    }
    let pause = domain.filter(|(_, paused)| !paused).map(|(d, _)| d.to_string());
    let label = name.map(str::to_string).unwrap_or_else(|| "auto-<time>".into());
    let mut fields = vec![FieldChange {
        field: "disks".into(),
        old: None,
        new: Some(disks.len().to_string()),
        impact: Impact::Live,
    }];
    if !skipped.is_empty() {
        fields.push(FieldChange {
            field: "skipped (shared, read-only or device)".into(),
            old: None,
            new: Some(skipped.join(", ")),
            impact: Impact::Live,
        });
    }
    if let Some(p) = &pause {
        fields.push(FieldChange {
            field: "pauses".into(),
            old: None,
            new: Some(format!("{p} while its disks are reflinked")),
            impact: Impact::Live,
        });
    }
    if memory {
        fields.push(FieldChange {
            field: "memory".into(),
            old: None,
            new: Some("checkpoint (xm save -c)".into()),
            impact: Impact::Live,
        });
    }
    Ok(Change {
        id: format!("snapshot/{vm}/{label}"),
        resource: Resource::Snapshot,
        name: format!("{vm}/{label}"),
        action: Action::Create,
        impact: Impact::Live,
        fields,
        file: None,
        ops: vec![Op::Snapshot {
            parent,
            name: name.map(str::to_string),
            vm: vm.to_string(),
            cfg_path: cfg_path.to_string(),
            disks,
            pause,
            memory: memory.then(|| domain.map(|(d, _)| d.to_string())).flatten(),
            allow_full_copy,
            running,
        }],
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    })
}

/// A snapshot-deleting change.
pub fn delete_change(s: &SnapshotInfo, why: &str) -> Change {
    Change {
        id: format!("snapshot/{}/{}", s.vm, s.name),
        resource: Resource::Snapshot,
        name: format!("{}/{}", s.vm, s.name),
        action: Action::Delete,
        impact: Impact::Live,
        fields: vec![FieldChange {
            field: "created".into(),
            old: Some(s.created.clone()),
            new: Some(why.into()),
            impact: Impact::Live,
        }],
        file: None,
        ops: vec![Op::DeleteSnapshot { dir: s.dir.clone() }],
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    }
}

/// The changes of a revert, in order: stop (if running), safety snapshot, revert, start again.
#[allow(clippy::too_many_arguments)]
pub fn revert_changes(
    vm: &str,
    cfg_path: &str,
    cfg: &VmCfg,
    domain: Option<&Domain>,
    snap: &SnapshotInfo,
    timeout_secs: u64,
    force: bool,
) -> Result<Vec<Change>, SnapshotError> {
    if snap.disks.is_empty() {
        return Err(SnapshotError::NoDisks(snap.dir.clone()));
    }
    let targets = revert_targets(vm, cfg_path, cfg, snap)?;
    let mut out = Vec::new();
    let power = |action: Action, ops: Vec<Op>, deps: Vec<String>, old: &str, new: &str| Change {
        id: format!("power/{vm}/{}", if action == Action::Stop { "stop" } else { "start" }),
        resource: Resource::Power,
        name: vm.to_string(),
        action,
        impact: Impact::Live,
        fields: vec![FieldChange {
            field: "state".into(),
            old: Some(old.into()),
            new: Some(new.into()),
            impact: Impact::Live,
        }],
        file: None,
        ops,
        depends_on: deps,
        verify_pins: Vec::new(),
        cause: None,
    };
    if let Some(d) = domain {
        let mut ops = Vec::new();
        if d.state.paused {
            ops.push(Op::Xen { args: vec!["unpause".into(), d.name.clone()] });
        }
        ops.push(Op::Shutdown { domain: d.name.clone(), timeout_secs, force });
        out.push(power(Action::Stop, ops, Vec::new(), d.state.word(), "stopped (for the revert)"));
    }
    let mut safety = create_change(vm, cfg_path, cfg, None, None, false, false)?;
    if let Some(d) = domain {
        // The VM was stopped for this: if the safety snapshot fails, the revert stops here and
        // the VM must be left as it was found, running (and paused again if it was).
        let mut again = vec![Op::Xen { args: vec!["create".into(), cfg_path.into()] }];
        if d.state.paused {
            again.push(Op::Xen { args: vec!["pause".into(), d.name.clone()] });
        }
        safety.ops =
            safety.ops.drain(..).map(|op| Op::OrElse { first: Box::new(op), on_failure: again.clone() }).collect();
    }
    safety.id = format!("snapshot/{vm}/safety");
    safety.name = format!("{vm}/auto-<time> (safety copy before the revert)");
    safety.depends_on = out.iter().map(|c| c.id.clone()).collect();
    out.push(safety);
    out.push(revert_step(vm, cfg_path, snap, &targets));
    let revert_id = format!("revert/{vm}/{}", snap.name);
    if let (true, Some(mem)) = (snap.running, &snap.memory) {
        let file = format!("{}/{mem}", snap.dir);
        out.push(power(
            Action::Start,
            vec![Op::Xen { args: vec!["restore".into(), file] }],
            vec![revert_id],
            "stopped",
            "running (memory restored)",
        ));
    } else if domain.is_some() {
        out.push(power(
            Action::Start,
            vec![Op::Xen { args: vec!["create".into(), cfg_path.into()] }],
            vec![revert_id],
            "stopped",
            "running",
        ));
    }
    Ok(out)
}

/// The revert itself: the disks and vm.cfg put back, after the safety snapshot.
fn revert_step(vm: &str, cfg_path: &str, snap: &SnapshotInfo, targets: &[(String, String)]) -> Change {
    let disks: Vec<(String, String)> =
        targets.iter().map(|(orig, file)| (format!("{}/{file}", snap.dir), orig.clone())).collect();
    Change {
        id: format!("revert/{vm}/{}", snap.name),
        resource: Resource::Snapshot,
        name: format!("{vm}/{}", snap.name),
        action: Action::Revert,
        impact: Impact::Live,
        fields: targets
            .iter()
            .map(|(orig, _)| FieldChange {
                field: "disk".into(),
                old: Some(orig.clone()),
                new: Some(format!("as of {}", snap.created)),
                impact: Impact::Live,
            })
            .chain(std::iter::once(FieldChange {
                field: "vm.cfg".into(),
                old: Some(cfg_path.into()),
                new: Some(format!("as of {}", snap.created)),
                impact: Impact::Live,
            }))
            .collect(),
        file: None,
        ops: vec![Op::Revert { dir: snap.dir.clone(), cfg_path: cfg_path.into(), disks }],
        depends_on: vec![format!("snapshot/{vm}/safety")],
        verify_pins: Vec::new(),
        cause: None,
    }
}

/// What a revert writes: each disk of the VM's own vm.cfg (the ones a snapshot copies) with
/// its file in the snapshot folder. The manifest only vouches for them: a manifest line naming
/// a path that is not such a disk, or a file not named as domform names it (`disks/NN-<file>`),
/// refuses the revert, so a planted manifest cannot choose what is overwritten.
pub fn revert_targets(
    vm: &str,
    cfg_path: &str,
    cfg: &VmCfg,
    snap: &SnapshotInfo,
) -> Result<Vec<(String, String)>, SnapshotError> {
    if snap.vm != vm {
        return Err(SnapshotError::OtherVm { dir: snap.dir.clone(), owner: snap.vm.clone(), vm: vm.into() });
    }
    let (current, _) = snapshot_disks(cfg);
    let mut out = Vec::new();
    for (orig, file, _) in &snap.disks {
        let Some(target) = current.iter().find(|d| *d == orig) else {
            return Err(SnapshotError::NotItsDisk {
                dir: snap.dir.clone(),
                target: orig.clone(),
                cfg_path: cfg_path.into(),
            });
        };
        let base = target.rsplit('/').next().unwrap_or_default();
        let expected = file
            .strip_prefix("disks/")
            .and_then(|f| f.split_once('-'))
            .is_some_and(|(nn, rest)| nn.len() >= 2 && nn.bytes().all(|b| b.is_ascii_digit()) && rest == base);
        if !expected {
            return Err(SnapshotError::WrongFile {
                dir: snap.dir.clone(),
                target: target.clone(),
                file: file.clone(),
                base: base.into(),
            });
        }
        if out.iter().any(|(t, _): &(String, String)| t == target) {
            return Err(SnapshotError::Twice { dir: snap.dir.clone(), target: target.clone() });
        }
        out.push((target.clone(), file.clone()));
    }
    Ok(out)
}

/// Declared snapshots of one VM: create missing `present` ones, prune beyond `keep`.
/// `domain` is the VM as it will be when the snapshot runs (after its power change).
#[allow(clippy::too_many_arguments)]
pub fn plan_declared(
    vm: &Vm,
    obs: &Observed,
    cfg_path: &str,
    cfg: &VmCfg,
    domain: Option<(&str, bool)>,
    after: &[String],
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
) {
    let mine: Vec<&SnapshotInfo> = obs.snapshots.iter().filter(|s| s.vm == vm.name).collect();
    for name in &vm.snapshots.present {
        if mine.iter().any(|s| &s.name == name) {
            continue;
        }
        match create_change(&vm.name, cfg_path, cfg, domain, Some(name), false, vm.snapshots.allow_full_copy) {
            Ok(mut c) => {
                c.depends_on = after.to_vec();
                changes.push(c);
            }
            Err(e) => errors.push(format!("snapshot `{name}` of VM `{}`: {e}", vm.name)),
        }
    }
    if let Some(keep) = vm.snapshots.keep {
        let mut prunable: Vec<&&SnapshotInfo> =
            mine.iter().filter(|s| s.made_by_domform && !vm.snapshots.present.contains(&s.name)).collect();
        prunable.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
        let extra = prunable.len().saturating_sub(keep as usize);
        for s in prunable.into_iter().take(extra) {
            changes.push(delete_change(s, &format!("pruned (keep: {keep})")));
        }
    }
}
