//! The plan: a value computed by a pure function from the desired state and what was observed.
//!
//! `plan` prints this value and `apply` executes the same value (cargo's `BuildContext` habit):
//! nothing here does I/O. Steps, per host:
//! 1. [`vm::plan_vm`] diffs each declared VM against the host (its vm.cfg semantically, key by
//!    key, and its running domain) and emits [`Change`]s made of concrete [`Op`]s;
//!    [`disk`] does the same for disk files.
//! 2. [`graph::order`] sorts the changes with petgraph: disks before the VM that uses them,
//!    config before start, stop before delete; ties broken by id; cycles are errors.
//! 3. A per-host fingerprint of the observed facts lets a saved plan be refused as stale.

pub mod capacity;
pub mod cause;
pub mod console;
pub mod desired;
pub mod disk;
pub mod fingerprint;
pub mod graph;
pub mod host;
pub mod import;
pub mod paths;
pub mod pinning;
pub mod saved;
pub mod secrets;
pub mod snapshot;
pub mod vm;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::observe::Observed;
pub use crate::xen::fields::Field;

/// Version of the plan JSON (`--format json` and `plan -o`); see docs/plan-format.md.
/// 2: secrets are references (`write-file` `secrets`), no longer `(redacted)` values; a change
/// may carry its `cause` (`new`, `intent`, `drift`).
pub const FORMAT_VERSION: u32 = 2;

/// What kind of resource a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// A VM's definition (vm.cfg).
    Vm,
    /// A VM's power state.
    Power,
    /// A disk file.
    Disk,
    /// A reflink snapshot of a VM's disks (and vm.cfg, and optionally its memory).
    Snapshot,
    /// An Oracle VM Manager's repository database data source (and its restart).
    Manager,
}

/// What happens to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Made new.
    Create,
    /// Changed in place.
    Update,
    /// Removed.
    Delete,
    /// Started (`xm create`).
    Start,
    /// Stopped (clean shutdown, or destroy with `force_stop`).
    Stop,
    /// Paused.
    Pause,
    /// Unpaused.
    Unpause,
    /// Disks and vm.cfg put back from a snapshot.
    Revert,
    /// A service restarted (an Oracle VM Manager after its data source changed).
    Restart,
}

/// How a change reaches a running VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impact {
    /// Takes effect now (or the VM is not running).
    Live,
    /// Written to vm.cfg; the running VM sees it after its next restart.
    NeedsRestart,
    /// The resource is removed and made again.
    Replace,
}

/// One field's old and new value, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field name (`memory`, `cpus`, …): a vm.cfg key or a label, serialized as its name.
    pub field: Field,
    /// Before (`None`: not set).
    pub old: Option<String>,
    /// After (`None`: removed).
    pub new: Option<String>,
    /// How this field reaches the running VM.
    pub impact: Impact,
}

/// A concrete step on a host. Rendered to shell by `apply::script`, every value quoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// A new sparse file; fails if something is already there.
    CreateDisk {
        /// Path.
        path: String,
        /// Bytes.
        size: u64,
    },
    /// Make a sparse file larger (never smaller).
    GrowDisk {
        /// Path.
        path: String,
        /// Bytes now.
        from: u64,
        /// Bytes after.
        to: u64,
    },
    /// Write a file atomically, keeping a backup of the old one.
    WriteFile {
        /// Path.
        path: String,
        /// Content.
        content: String,
        /// Keep `<path>.domform-bak`.
        backup: bool,
        /// The secrets `content` holds as placeholders, put in by `apply::secrets` just before
        /// the file is written (`plan::secrets`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        secrets: Vec<secrets::SecretSlot>,
    },
    /// Run the toolstack (`xm …`): argv without the program name.
    Xen {
        /// Arguments.
        args: Vec<String>,
    },
    /// Run `virsh` on a libvirt host (`virsh -c URI …`): argv without the program name.
    Virsh {
        /// Arguments.
        args: Vec<String>,
    },
    /// Clean shutdown with a timeout, then `destroy` when `force`.
    Shutdown {
        /// Domain name.
        domain: String,
        /// Seconds to wait.
        timeout_secs: u64,
        /// Destroy after the timeout.
        force: bool,
    },
    /// Remove a VM's folder (vm.cfg and backups), kept aside as `<dir>.domform-deleted`.
    RemoveVmDir {
        /// The folder holding vm.cfg.
        dir: String,
    },
    /// Delete a disk file (only with `allow_destroy`, never one another VM uses).
    DeleteFile {
        /// Path.
        path: String,
    },
    /// Reflink a VM's disks and vm.cfg into `<parent>/<name>/` (built in a temp folder, renamed
    /// when complete), pausing the VM around the copies and unpausing it also on failure.
    Snapshot {
        /// `<repo>/Snapshots/<vm>`.
        parent: String,
        /// Snapshot name; `None`: `auto-<UTC time>` chosen on the host.
        name: Option<String>,
        /// The VM's simple name (for the manifest).
        vm: String,
        /// The vm.cfg to copy.
        cfg_path: String,
        /// Disk files to copy.
        disks: Vec<String>,
        /// Domain to pause while copying (a running, unpaused VM).
        pause: Option<String>,
        /// Domain whose memory to checkpoint (`xm save -c`).
        memory: Option<String>,
        /// A full sparse copy is allowed where the file system cannot reflink.
        allow_full_copy: bool,
        /// Whether the VM was running (for the manifest).
        running: bool,
        /// On a libvirt host: the domain whose persistent XML (`virsh dumpxml --inactive
        /// --security-info`) is kept as `domain.xml`, mode 0600, instead of copying `cfg_path`
        /// (then empty); pausing is `virsh suspend`/`resume`, memory `virsh save` (the domain is
        /// off while the disks are cloned) then `virsh restore`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
    },
    /// Put disks and vm.cfg back from a snapshot: every disk is first reflinked to a temp name
    /// next to the original; only when all copies succeeded are they renamed over the originals.
    Revert {
        /// Snapshot folder.
        dir: String,
        /// vm.cfg to restore.
        cfg_path: String,
        /// (file in the snapshot, original path).
        disks: Vec<(String, String)>,
        /// On a libvirt host: the domain redefined from the snapshot's `domain.xml` (`virsh
        /// define`) instead of restoring `cfg_path` (then empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
    },
    /// Remove a domform-made snapshot folder.
    DeleteSnapshot {
        /// Snapshot folder.
        dir: String,
    },
    /// Replace an existing file atomically, keeping its owner, group and mode and a
    /// `<path>.domform-bak` copy (a WebLogic descriptor owned by the Manager's user).
    ReplaceFile {
        /// Path.
        path: String,
        /// Content.
        content: String,
    },
    /// Run a declared command with `sh -c` (an Oracle VM Manager's `restart_command`).
    RunCommand {
        /// The command line.
        command: String,
    },
    /// Run `first`; when it fails, run `on_failure` (best effort) and fail: puts back what an
    /// earlier step changed (a revert whose safety snapshot fails starts the VM it stopped).
    OrElse {
        /// The op.
        first: Box<Op>,
        /// What puts things back when it fails.
        on_failure: Vec<Op>,
    },
}

/// A whole vm.cfg before and after, for the unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    /// Path on the host.
    pub path: String,
    /// Before (empty for a new file).
    pub old: String,
    /// After.
    pub new: String,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Stable id, e.g. `vm/db01`, `disk/db01/data01`, `power/db01`.
    pub id: String,
    /// Resource kind.
    pub resource: Resource,
    /// The VM (or disk) name people know.
    pub name: String,
    /// What happens.
    pub action: Action,
    /// How it reaches a running VM (the strongest of its fields).
    pub impact: Impact,
    /// Field-level changes.
    pub fields: Vec<FieldChange>,
    /// vm.cfg diff, when a vm.cfg is written.
    pub file: Option<FileDiff>,
    /// Steps, in order.
    pub ops: Vec<Op>,
    /// Ids of changes that must run first.
    pub depends_on: Vec<String>,
    /// Pinning `xm vcpu-list` must show once this change ran (checked after apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_pins: Vec<PinCheck>,
    /// Why it is planned: `new`, `intent` or `drift` (see [`cause`]); none for managers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<cause::Cause>,
}

/// One expected affinity, checked from `xm vcpu-list` after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCheck {
    /// Xen domain name.
    pub domain: String,
    /// vCPU number; `None` for every vCPU.
    pub vcpu: Option<u32>,
    /// The CPU set, xm syntax.
    pub cpus: String,
}

/// Everything for one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostPlan {
    /// Host name.
    pub host: String,
    /// Fingerprint of the observed state the plan was made from.
    pub fingerprint: String,
    /// Changes in execution order.
    pub changes: Vec<Change>,
    /// Why this host cannot be planned (a refused destroy, a shrink, a broken vm.cfg, …).
    pub errors: Vec<String>,
    /// Things to know that are not changes (a restart pending, drift OVM Manager made, …).
    pub notes: Vec<String>,
    /// Risks that do not stop the plan (half a core pinned, a pinned VM with HA, overlapping pins).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl HostPlan {
    /// A host plan with nothing in it yet, made from observed state with this fingerprint.
    pub fn new(host: impl Into<String>, fingerprint: impl Into<String>) -> Self {
        HostPlan {
            host: host.into(),
            fingerprint: fingerprint.into(),
            changes: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A host that could not be read: no fingerprint, no changes, one error (so `apply` refuses).
    pub fn failed(host: impl Into<String>, error: impl Into<String>) -> Self {
        HostPlan { errors: vec![error.into()], ..HostPlan::new(host, "") }
    }

    /// Changes made by a command rather than planned from a fingerprinted observation
    /// (start/stop/restart, snapshot): no fingerprint, so it can never pass as a saved plan.
    pub fn of_changes(host: impl Into<String>, changes: Vec<Change>) -> Self {
        HostPlan { changes, ..HostPlan::new(host, "") }
    }
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Hosts, by name.
    pub hosts: Vec<HostPlan>,
}

impl Plan {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.hosts.iter().all(|h| h.changes.is_empty())
    }

    /// True when some host could not be planned.
    pub fn has_errors(&self) -> bool {
        self.hosts.iter().any(|h| !h.errors.is_empty())
    }

    /// Counts by action, for the summary line.
    pub fn counts(&self) -> BTreeMap<Action, usize> {
        let mut m = BTreeMap::new();
        for c in self.hosts.iter().flat_map(|h| &h.changes) {
            *m.entry(c.action).or_insert(0) += 1;
        }
        m
    }
}

/// Plans every host in `observed` (pure).
pub fn plan(model: &Model, observed: &[&Observed]) -> Plan {
    let hosts = observed.iter().map(|obs| plan_host(model, obs)).collect();
    Plan { format_version: FORMAT_VERSION, hosts }
}

/// Plans one host or Manager (pure), as its target kind does (`crate::target`). A name no
/// kind declares is planned as a Xen host with nothing declared on it.
pub fn plan_host(model: &Model, obs: &Observed) -> HostPlan {
    match crate::target::resolve(model, &obs.host) {
        Some(target) => target.plan(model, obs),
        None => crate::target::xen::plan::plan(model, obs),
    }
}

/// The disks the desired state declares by `path:` on `host` (domform may write to them
/// wherever they are).
pub fn declared_paths(model: &Model, host: &str) -> std::collections::BTreeSet<String> {
    model
        .vms
        .values()
        .filter(|v| v.host == host)
        .flat_map(|v| v.disks.iter())
        .filter_map(|d| match &d.source {
            crate::model::DiskSource::Existing { path } => Some(path.clone()),
            crate::model::DiskSource::New { .. } => None,
        })
        .collect()
}

impl Plan {
    /// Keeps only the changes of the named VMs (`--target`); dependencies inside a VM stay whole.
    pub fn retain_targets(&mut self, targets: &[String]) {
        if targets.is_empty() {
            return;
        }
        for h in &mut self.hosts {
            h.changes.retain(|c| targets.iter().any(|t| c.name == *t || c.name.starts_with(&format!("{t}/"))));
        }
    }
}
