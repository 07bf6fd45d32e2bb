//! Reflink snapshots of a VM: its disk files, its vm.cfg, optionally its memory.
//!
//! OVM Manager has no VM snapshots; admins reflink disk files by hand (facts §5). A snapshot
//! lives in `<repository>/Snapshots/<vm>/<name>/` (outside `VirtualDisks/`, so a Manager
//! repository refresh does not pick the copies up) with a `manifest`. Declared snapshots
//! (`snapshots.present`) are created when missing; `snapshots.keep` prunes the oldest
//! domform-made ones, never one named in `present`. Revert stops the VM, takes a safety
//! snapshot, puts every disk back atomically, restores vm.cfg and starts the VM again if it ran.
//! A libvirt domain is the same [`Subject`] with its persistent XML in place of vm.cfg and
//! `virsh` in place of `xm` (`target::libvirt::snapshot`, docs/libvirt.md).

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

/// One VM's snapshot subject: where its snapshots go, which disks they copy, and what holds its
/// definition. A Xen VM's definition is its vm.cfg (copied as a file); a libvirt domain's is its
/// persistent XML (`virsh dumpxml` into the snapshot, `virsh define` on revert), built by
/// `target::libvirt::snapshot`. The toolstack steps around a revert (pause, start, restore) are
/// chosen here, so the order of a revert is the same for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The VM's simple name.
    pub vm: String,
    /// `<repo>/Snapshots/<vm>`.
    pub parent: String,
    /// Disk files a snapshot copies.
    pub take: Vec<String>,
    /// Disks it does not copy (shared, read-only, devices).
    pub skip: Vec<String>,
    /// The vm.cfg (Xen); empty for a libvirt domain.
    pub cfg_path: String,
    /// The libvirt domain name (`None`: a Xen VM).
    pub libvirt: Option<String>,
}

impl Subject {
    /// A Xen VM, from its vm.cfg at `<repo>/VirtualMachines/<id>/vm.cfg`.
    pub fn xen(vm: &str, cfg_path: &str, cfg: &VmCfg) -> Result<Subject, SnapshotError> {
        let parent = parent_dir(cfg_path, vm).ok_or_else(|| SnapshotError::NotInRepository(cfg_path.into()))?;
        let (take, skip) = snapshot_disks(cfg);
        Ok(Subject { vm: vm.into(), parent, take, skip, cfg_path: cfg_path.into(), libvirt: None })
    }

    /// What holds the definition, for messages: the vm.cfg path or the domain's XML.
    pub fn definition(&self) -> String {
        match &self.libvirt {
            Some(d) => format!("domain `{d}`'s persistent XML"),
            None => self.cfg_path.clone(),
        }
    }

    fn tool(&self, args: &[&str]) -> Op {
        let args = args.iter().map(|a| a.to_string()).collect();
        if self.libvirt.is_some() {
            Op::Virsh { args }
        } else {
            Op::Xen { args }
        }
    }

    /// Boots the VM from its definition.
    fn start(&self) -> Op {
        match &self.libvirt {
            Some(d) => self.tool(&["start", "--domain", d]),
            None => self.tool(&["create", &self.cfg_path]),
        }
    }

    fn pause(&self, domain: &str) -> Op {
        match self.libvirt {
            Some(_) => self.tool(&["suspend", "--domain", domain]),
            None => self.tool(&["pause", domain]),
        }
    }

    fn unpause(&self, domain: &str) -> Op {
        match self.libvirt {
            Some(_) => self.tool(&["resume", "--domain", domain]),
            None => self.tool(&["unpause", domain]),
        }
    }

    fn restore(&self, file: &str) -> Op {
        match self.libvirt {
            Some(_) => self.tool(&["restore", "--file", file]),
            None => self.tool(&["restore", file]),
        }
    }
}

/// Why a snapshot or a revert is not planned. A manifest is untrusted: most of these are a
/// planted or damaged manifest refused, and say so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The vm.cfg is not `<repo>/VirtualMachines/<id>/vm.cfg`.
    #[error("{0} is not in a repository's VirtualMachines/ folder")]
    NotInRepository(String),
    /// A libvirt domain on a host with no repository to keep its snapshots in.
    #[error("domain `{0}`: the host has no repository to keep its snapshots in")]
    NoRepository(String),
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
    create_of(&Subject::xen(vm, cfg_path, cfg)?, domain, name, memory, allow_full_copy)
}

/// A snapshot-creating change for any [`Subject`].
pub fn create_of(
    sub: &Subject,
    domain: Option<(&str, bool)>,
    name: Option<&str>,
    memory: bool,
    allow_full_copy: bool,
) -> Result<Change, SnapshotError> {
    let vm = sub.vm.as_str();
    check_paths(&sub.take)?;
    let running = domain.is_some();
    if memory && !running {
        return Err(SnapshotError::NotRunning(vm.into()));
    }
    let pause = domain.filter(|(_, paused)| !paused).map(|(d, _)| d.to_string());
    let label = name.map(str::to_string).unwrap_or_else(|| "auto-<time>".into());
    let mut fields = vec![FieldChange {
        field: "disks".into(),
        old: None,
        new: Some(sub.take.len().to_string()),
        impact: Impact::Live,
    }];
    let mut note = |field: &str, new: String| {
        fields.push(FieldChange { field: field.into(), old: None, new: Some(new), impact: Impact::Live })
    };
    if !sub.skip.is_empty() {
        note("skipped (shared, read-only or device)", sub.skip.join(", "));
    }
    if let Some(p) = &pause {
        note("pauses", format!("{p} while its disks are reflinked"));
    }
    if memory {
        note(
            "memory",
            match sub.libvirt {
                Some(_) => "virsh save (the guest is off while its disks are reflinked), then virsh restore".into(),
                None => "checkpoint (xm save -c)".into(),
            },
        );
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
            parent: sub.parent.clone(),
            name: name.map(str::to_string),
            vm: vm.to_string(),
            cfg_path: sub.cfg_path.clone(),
            disks: sub.take.clone(),
            pause,
            memory: memory.then(|| domain.map(|(d, _)| d.to_string())).flatten(),
            allow_full_copy,
            running,
            domain: sub.libvirt.clone(),
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
    revert_of(&Subject::xen(vm, cfg_path, cfg)?, domain, snap, timeout_secs, force)
}

/// The changes of a revert for any [`Subject`].
pub fn revert_of(
    sub: &Subject,
    domain: Option<&Domain>,
    snap: &SnapshotInfo,
    timeout_secs: u64,
    force: bool,
) -> Result<Vec<Change>, SnapshotError> {
    let vm = sub.vm.as_str();
    if snap.disks.is_empty() {
        return Err(SnapshotError::NoDisks(snap.dir.clone()));
    }
    let targets = targets_of(sub, snap)?;
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
            ops.push(sub.unpause(&d.name));
        }
        ops.push(Op::Shutdown { domain: d.name.clone(), timeout_secs, force });
        out.push(power(Action::Stop, ops, Vec::new(), d.state.word(), "stopped (for the revert)"));
    }
    let mut safety = create_of(sub, None, None, false, false)?;
    if let Some(d) = domain {
        // The VM was stopped for this: if the safety snapshot fails, the revert stops here and
        // the VM must be left as it was found, running (and paused again if it was).
        let mut again = vec![sub.start()];
        if d.state.paused {
            again.push(sub.pause(&d.name));
        }
        safety.ops =
            safety.ops.drain(..).map(|op| Op::OrElse { first: Box::new(op), on_failure: again.clone() }).collect();
    }
    safety.id = format!("snapshot/{vm}/safety");
    safety.name = format!("{vm}/auto-<time> (safety copy before the revert)");
    safety.depends_on = out.iter().map(|c| c.id.clone()).collect();
    out.push(safety);
    out.push(revert_step(sub, snap, &targets));
    let revert_id = format!("revert/{vm}/{}", snap.name);
    if let (true, Some(mem)) = (snap.running, &snap.memory) {
        let file = format!("{}/{mem}", snap.dir);
        out.push(power(
            Action::Start,
            vec![sub.restore(&file)],
            vec![revert_id],
            "stopped",
            "running (memory restored)",
        ));
    } else if domain.is_some() {
        out.push(power(Action::Start, vec![sub.start()], vec![revert_id], "stopped", "running"));
    }
    Ok(out)
}

/// The revert itself: the disks and the definition put back, after the safety snapshot.
fn revert_step(sub: &Subject, snap: &SnapshotInfo, targets: &[(String, String)]) -> Change {
    let vm = &sub.vm;
    let disks: Vec<(String, String)> =
        targets.iter().map(|(orig, file)| (format!("{}/{file}", snap.dir), orig.clone())).collect();
    let def = match &sub.libvirt {
        Some(d) => FieldChange {
            field: "domain XML".into(),
            old: Some(d.clone()),
            new: Some(format!("as of {} (virsh define)", snap.created)),
            impact: Impact::Live,
        },
        None => FieldChange {
            field: "vm.cfg".into(),
            old: Some(sub.cfg_path.clone()),
            new: Some(format!("as of {}", snap.created)),
            impact: Impact::Live,
        },
    };
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
            .chain(std::iter::once(def))
            .collect(),
        file: None,
        ops: vec![Op::Revert {
            dir: snap.dir.clone(),
            cfg_path: sub.cfg_path.clone(),
            disks,
            domain: sub.libvirt.clone(),
        }],
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
    targets_of(&Subject::xen(vm, cfg_path, cfg)?, snap)
}

/// [`revert_targets`] for any [`Subject`]: its own disks (a libvirt domain's from its current
/// persistent XML as observed), never the manifest's.
pub fn targets_of(sub: &Subject, snap: &SnapshotInfo) -> Result<Vec<(String, String)>, SnapshotError> {
    if snap.vm != sub.vm {
        return Err(SnapshotError::OtherVm { dir: snap.dir.clone(), owner: snap.vm.clone(), vm: sub.vm.clone() });
    }
    let current = &sub.take;
    let mut out = Vec::new();
    for (orig, file, _) in &snap.disks {
        let Some(target) = current.iter().find(|d| *d == orig) else {
            return Err(SnapshotError::NotItsDisk {
                dir: snap.dir.clone(),
                target: orig.clone(),
                cfg_path: sub.definition(),
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
/// `sub` is what its snapshots copy ([`Subject::xen`], or a libvirt domain's); `domain` is the VM
/// as it will be when the snapshot runs (after its power change).
pub fn plan_declared(
    vm: &Vm,
    obs: &Observed,
    sub: &Result<Subject, SnapshotError>,
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
        let made = sub.clone().and_then(|sub| create_of(&sub, domain, Some(name), false, vm.snapshots.allow_full_copy));
        match made {
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
