//! The validated desired state: typed names, parsed units, resolved references.
//!
//! Built from the raw YAML types by [`validate`]; nothing reaches the planner unless the whole
//! desired state validated, because a VM missing from a half-loaded file must never turn into a
//! destroy.

pub mod cpuset;
pub mod manager;
pub mod policy;
pub mod secret;
pub mod select;
pub mod units;
pub mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::manifest::raw::{HostKeyPolicy, RawExtraValue as ExtraValue, Toolstack, TransportKind, VmState, VmType};
pub use cpuset::{CpuSet, CpuSetError};
pub use secret::Secret;

use crate::diag::{Diagnostic, Location};

/// Everything the user declared, validated.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Hosts by name.
    pub hosts: BTreeMap<String, Host>,
    /// VMs by simple name.
    pub vms: BTreeMap<String, Vm>,
    /// Licence groups by name.
    pub licences: BTreeMap<String, Licence>,
    /// Oracle VM Manager hosts by name (`managers:`).
    pub managers: BTreeMap<String, manager::Manager>,
    /// What `domform reconcile` may fix unattended (`reconcile:`).
    pub reconcile: policy::Policy,
    /// Warnings found while validating (errors stop loading).
    pub warnings: Vec<Diagnostic>,
}

/// Default `observe_timeout`: generous for a busy xend (each `xm` call may take seconds), short
/// enough that a wedged one does not hold `plan` for long.
pub const DEFAULT_OBSERVE_TIMEOUT: Duration = Duration::from_secs(120);
/// The libvirt connection of a `toolstack: libvirt` host without `uri`: the system QEMU/KVM
/// driver, as `virsh` run as root on the host itself uses.
pub const DEFAULT_LIBVIRT_URI: &str = "qemu:///system";
/// Default `step_timeout`: a disk copy or a VM start may take minutes.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(600);
/// A step that shuts a VM down may take its `shutdown_timeout` plus this (the `destroy` after
/// a forced stop, the `xm` calls around it), whatever `step_timeout` says.
pub const SHUTDOWN_STEP_MARGIN: Duration = Duration::from_secs(60);

/// A hypervisor host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Name (key in `hosts`).
    pub name: String,
    /// SSH address (`localhost` for local transport).
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// SSH user.
    pub user: String,
    /// Private key file, or ssh-agent when absent.
    pub identity_file: Option<PathBuf>,
    /// known_hosts file.
    pub known_hosts: Option<PathBuf>,
    /// Unknown host keys: refuse or accept-new.
    pub host_key_policy: HostKeyPolicy,
    /// SSH or local.
    pub transport: TransportKind,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// How long observing may take (`observe_timeout`, default [`DEFAULT_OBSERVE_TIMEOUT`]).
    pub observe_timeout: Duration,
    /// How long one apply step may take (`step_timeout`, default [`DEFAULT_STEP_TIMEOUT`]).
    pub step_timeout: Duration,
    /// SSH algorithm preferences (ssh_config syntax, `None` = domform's defaults).
    pub algorithms: crate::transport::algorithms::Algorithms,
    /// `transport: openssh`: the ssh_config file (`ssh -F`), else the user's own.
    pub ssh_config: Option<PathBuf>,
    /// `transport: openssh`: jump hosts (`ssh -J`).
    pub proxy_jump: Option<String>,
    /// Whether `port` and `user` were written in the YAML (the system `ssh` takes them from
    /// ssh_config otherwise).
    pub port_given: bool,
    /// See `port_given`.
    pub user_given: bool,
    /// xm, xl or libvirt.
    pub toolstack: Toolstack,
    /// `toolstack: libvirt`: the connection URI (`qemu:///system` when not set).
    pub uri: String,
    /// Where new VMs and disks go.
    pub repository: Option<String>,
    /// Every repository to observe (the primary first).
    pub repositories: Vec<String>,
    /// CPUs reserved for dom0.
    pub reserved_cpus: Option<CpuSet>,
    /// Labels for `--limit key=value` (host_defaults' merged under the host's own).
    pub labels: BTreeMap<String, String>,
    /// Where it was declared.
    pub loc: Option<Location>,
}

/// vCPU pinning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    /// One set for every vCPU (`cpus = '4-7'`).
    All(CpuSet),
    /// One set per vCPU (`cpus = ['4', '5']`).
    PerVcpu(Vec<CpuSet>),
}

impl Pinning {
    /// Every CPU any vCPU may use.
    pub fn union(&self) -> CpuSet {
        match self {
            Pinning::All(s) => s.clone(),
            Pinning::PerVcpu(sets) => sets.iter().fold(CpuSet::default(), |acc, s| acc.union(s)),
        }
    }
}

/// A disk's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskMode {
    /// `r`
    ReadOnly,
    /// `w`
    ReadWrite,
    /// `w!`: writable and shared with other VMs.
    Shared,
}

impl DiskMode {
    /// As written in vm.cfg.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskMode::ReadOnly => "r",
            DiskMode::ReadWrite => "w",
            DiskMode::Shared => "w!",
        }
    }
}

/// Where a disk's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskSource {
    /// A sparse file domform creates in the repository's `VirtualDisks/`.
    New {
        /// Disk name (brace ranges already expanded).
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// An existing file or device.
    Existing {
        /// Absolute path.
        path: String,
    },
}

/// A virtual disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Data.
    pub source: DiskSource,
    /// Mode.
    pub mode: DiskMode,
    /// Guest device, resolved (`xvda`, …).
    pub device: String,
    /// CD-ROM image.
    pub cdrom: bool,
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// Bridge.
    pub bridge: String,
    /// MAC, lower case.
    pub mac: Option<String>,
    /// NIC model.
    pub model: Option<String>,
    /// vif type.
    pub vif_type: Option<String>,
}

/// Where a secret comes from; the value itself is read only when needed, never stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// Environment variable.
    Env(String),
    /// File.
    File(PathBuf),
}

/// VNC console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vnc {
    /// Listen address.
    pub listen: String,
    /// Fixed port, or first free.
    pub port: Option<u16>,
    /// Password source.
    pub password: Option<SecretRef>,
    /// Keyboard map.
    pub keymap: Option<String>,
    /// The password itself, read at the edge (`ops::resolve_secrets`), never by the planner:
    /// `None` until read, `Err` naming the VM and the variable or file when it could not be.
    pub password_value: Option<Result<Secret, String>>,
}

/// Consoles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Console {
    /// Text console.
    pub serial: bool,
    /// PV kernel console device (`hvc0`/`xvc0`).
    pub pv_console: String,
    /// VNC.
    pub vnc: Option<Vnc>,
}

/// Snapshot policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshots {
    /// Retention for domform-made snapshots.
    pub keep: Option<u32>,
    /// Named snapshots that must exist.
    pub present: Vec<String>,
    /// Full copies allowed where reflink is not.
    pub allow_full_copy: bool,
}

/// A VM.
#[derive(Debug, Clone)]
pub struct Vm {
    /// Simple name (OVM_simple_name).
    pub name: String,
    /// Host name.
    pub host: String,
    /// Desired state.
    pub state: VmState,
    /// HVM or PV.
    pub vm_type: VmType,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Maximum memory in MiB.
    pub maxmem_mib: u64,
    /// vCPUs at boot.
    pub vcpus: u32,
    /// vCPU ceiling.
    pub maxvcpus: Option<u32>,
    /// Pinning.
    pub cpus: Option<Pinning>,
    /// Disks in device order.
    pub disks: Vec<Disk>,
    /// NICs.
    pub networks: Vec<Nic>,
    /// Consoles.
    pub console: Console,
    /// Snapshots.
    pub snapshots: Snapshots,
    /// Pass-through vm.cfg keys.
    pub extra_config: BTreeMap<String, ExtraValue>,
    /// Clean shutdown timeout.
    pub shutdown_timeout: Duration,
    /// Destroy after a timed-out shutdown.
    pub force_stop: bool,
    /// Destroy allowed.
    pub allow_destroy: bool,
    /// Repository for vm.cfg and new disks.
    pub repository: String,
    /// Where it was declared.
    pub loc: Option<Location>,
}

/// A licence group.
#[derive(Debug, Clone)]
pub struct Licence {
    /// Name.
    pub name: String,
    /// Member VMs.
    pub vms: Vec<String>,
    /// Core cap.
    pub max_cores: Option<u32>,
    /// Core factor (0.5).
    pub core_factor: f64,
    /// Where it was declared.
    pub loc: Option<Location>,
}

/// The command that drives a host's hypervisor, as the shell gets it: `xm`, `xl`, or `virsh -c
/// 'URI'` (the URI quoted). Scripts that run hypervisor commands take this, not the bare
/// [`Toolstack`], so a libvirt host's connection URI reaches every `virsh` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Which toolstack.
    pub toolstack: Toolstack,
    /// The command prefix (`xm`, `xl`, `virsh -c 'qemu:///system'`).
    pub cmd: String,
}

impl Tool {
    /// `xm` or `xl` (a Xen toolstack needs no connection settings); for libvirt the default URI.
    pub fn xen(toolstack: Toolstack) -> Tool {
        Tool::with_uri(toolstack, DEFAULT_LIBVIRT_URI)
    }

    /// The tool for `toolstack`, with `uri` for libvirt.
    pub fn with_uri(toolstack: Toolstack, uri: &str) -> Tool {
        let cmd = match toolstack {
            Toolstack::Xm => "xm".to_string(),
            Toolstack::Xl => "xl".to_string(),
            Toolstack::Libvirt => format!("virsh -c {}", crate::transport::quote(uri)),
        };
        Tool { toolstack, cmd }
    }

    /// The short name for messages (`xm`, `xl`, `virsh`).
    pub fn name(&self) -> &'static str {
        match self.toolstack {
            Toolstack::Xm => "xm",
            Toolstack::Xl => "xl",
            Toolstack::Libvirt => "virsh",
        }
    }
}

impl Host {
    /// The command that drives this host's hypervisor.
    pub fn tool(&self) -> Tool {
        Tool::with_uri(self.toolstack, &self.uri)
    }
}
