//! The raw desired-state types: serde structs that mirror the YAML one to one, with no logic.
//!
//! They are the single source of the JSON Schema (`domform schema`, `schemas/domform.schema.json`)
//! and of the key lists behind "unknown key, did you mean" errors. Everything typed (sizes, CPU
//! sets, brace ranges) is parsed later in [`crate::model`], where errors can name their location.
//! No `#[serde(flatten)]` and no untagged struct enums: both would hide unknown keys.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One desired-state file. A directory of files is merged; names must be unique across files.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// File format version; `1` (the default).
    pub version: Option<u32>,
    /// Hypervisor hosts (Oracle VM Servers / Xen dom0s), by name.
    #[serde(default)]
    pub hosts: BTreeMap<String, RawHost>,
    /// Virtual machines, by simple name (OVM_simple_name).
    #[serde(default)]
    pub vms: BTreeMap<String, RawVm>,
    /// Licence groups for the hard-partitioning report and policy.
    #[serde(default)]
    pub licences: BTreeMap<String, RawLicence>,
    /// Oracle VM Manager hosts whose repository database connection domform manages.
    #[serde(default)]
    pub managers: BTreeMap<String, super::raw_manager::RawManager>,
    /// Connection settings for every host and manager (any host key but `address`); a host's
    /// own value for a key wins over this one.
    pub host_defaults: Option<RawHost>,
    /// What `domform reconcile` may fix unattended (default: nothing; everything is reported).
    pub reconcile: Option<RawReconcile>,
}

/// `reconcile:`: the policy of scheduled runs (`docs/reconcile.md`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReconcile {
    /// Kinds of change fixed unattended, per cause; a kind not listed is only reported.
    pub fix: Option<RawFix>,
}

/// `reconcile.fix`: kinds of change per cause, e.g. `{ drift: [pinning, power] }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFix {
    /// The host changed since the last apply; the YAML did not.
    #[serde(default)]
    pub drift: Vec<ChangeKind>,
    /// The YAML changed since the last apply (nobody may have reviewed it: list with care).
    #[serde(default)]
    pub intent: Vec<ChangeKind>,
    /// domform never applied this VM.
    #[serde(default)]
    pub new: Vec<ChangeKind>,
}

/// A kind of change, as a reconcile policy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// vCPU pinning: vm.cfg `cpus` and the live affinity (`xm vcpu-pin`).
    Pinning,
    /// A VM's power state (start, stop, pause, unpause).
    Power,
    /// `memory` and `maxmem` (vm.cfg and `xm mem-set`).
    Memory,
    /// `vcpus` and `maxvcpus` (vm.cfg and `xm vcpu-set`).
    Vcpus,
    /// Disk files (create, grow) and the vm.cfg `disk` list (`xm block-attach`).
    Disks,
    /// Any other vm.cfg key, and a VM's vm.cfg made or removed.
    Config,
    /// Snapshots taken, reverted or deleted.
    Snapshots,
    /// An Oracle VM Manager's data source (and its restart).
    Manager,
}

impl ChangeKind {
    /// Every kind, in order.
    pub const ALL: [ChangeKind; 8] = [
        ChangeKind::Pinning,
        ChangeKind::Power,
        ChangeKind::Memory,
        ChangeKind::Vcpus,
        ChangeKind::Disks,
        ChangeKind::Config,
        ChangeKind::Snapshots,
        ChangeKind::Manager,
    ];

    /// The name the policy and the metrics use.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Pinning => "pinning",
            ChangeKind::Power => "power",
            ChangeKind::Memory => "memory",
            ChangeKind::Vcpus => "vcpus",
            ChangeKind::Disks => "disks",
            ChangeKind::Config => "config",
            ChangeKind::Snapshots => "snapshots",
            ChangeKind::Manager => "manager",
        }
    }
}

/// How domform reaches a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// SSH with the ssh2 library (default).
    #[default]
    Ssh,
    /// This machine, without SSH (running on dom0 itself).
    Local,
    /// The system's OpenSSH client (`ssh`) with one ControlMaster connection per host: reads
    /// ~/.ssh/config (ProxyJump, certificates, Kerberos, ...).
    Openssh,
}

/// What to do with a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Refuse unknown and changed keys (default).
    #[default]
    Strict,
    /// Record unknown keys in known_hosts on first contact; refuse changed keys.
    AcceptNew,
}

/// The host's Xen toolstack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Toolstack {
    /// xend's `xm` (Oracle VM 3.x).
    #[default]
    Xm,
    /// libxl's `xl` (plain Xen 4.x).
    Xl,
    /// libvirt's `virsh` (KVM/QEMU, or Xen through libxl), at the host's `uri` (docs/libvirt.md).
    Libvirt,
}

/// A hypervisor host.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// SSH target: host name or IP address. Not needed with `transport: local`.
    pub address: Option<String>,
    /// SSH port (22).
    pub port: Option<u16>,
    /// SSH user (root).
    pub user: Option<String>,
    /// Private key file; without it, ssh-agent is used.
    pub identity_file: Option<String>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    pub known_hosts: Option<String>,
    /// Host-key policy: `strict` (default) or `accept-new`.
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `ssh` (default, libssh2), `openssh` (the system `ssh`) or `local`.
    pub transport: Option<TransportKind>,
    /// Connect timeout in seconds (10).
    pub connect_timeout: Option<u32>,
    /// Seconds reading the host may take (`plan`, `list`, and apply's lock-and-observe) before
    /// it is given up and reported as timed out (120). xm answers slowly; a wedged xend never.
    pub observe_timeout: Option<u32>,
    /// Seconds each apply step may take before the host's apply is stopped and reported as
    /// timed out (600); a step that shuts a VM down gets at least its `shutdown_timeout` + 60.
    pub step_timeout: Option<u32>,
    /// Key exchange algorithms, ssh_config syntax: `a,b` replaces the defaults, `+a` appends,
    /// `-a` removes, `^a` puts first (OVM 3.0-3.2: `+diffie-hellman-group14-sha1`).
    pub kex_algorithms: Option<String>,
    /// Host-key signature algorithms, ssh_config syntax (`ssh-rsa` is offered by default).
    pub host_key_algorithms: Option<String>,
    /// Ciphers, ssh_config syntax.
    pub ciphers: Option<String>,
    /// MACs, ssh_config syntax (`hmac-sha1` is offered by default).
    pub macs: Option<String>,
    /// `transport: openssh` only: the ssh_config file to use instead of ~/.ssh/config (`ssh -F`).
    pub ssh_config: Option<String>,
    /// `transport: openssh` only: jump host(s), `[user@]host[:port][,...]` (`ssh -J`).
    pub proxy_jump: Option<String>,
    /// `xm` (default), `xl` or `libvirt`.
    pub toolstack: Option<Toolstack>,
    /// `toolstack: libvirt` only: the connection URI `virsh -c` gets (`qemu:///system`; a Xen
    /// host through libxl is `xen:///system`).
    pub uri: Option<String>,
    /// The repository where new VMs and disks go (an OVM repository root).
    pub repository: Option<String>,
    /// Further repositories to observe.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Physical CPUs kept for dom0; no guest may be pinned to them (e.g. "0-3").
    pub reserved_cpus: Option<String>,
    /// Labels for choosing hosts (`--limit site=fra`), e.g. `{ site: fra, tier: db }`;
    /// `host_defaults` labels apply to every host that does not set the same key.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// Desired power state of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VmState {
    /// Running (default).
    #[default]
    Running,
    /// Defined (vm.cfg present) but not running.
    Stopped,
    /// Running but paused.
    Paused,
    /// Removed (needs `allow_destroy: true`).
    Absent,
}

/// Guest virtualisation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VmType {
    /// Hardware virtualised (`builder = 'hvm'`, OVM `xen_hvm`; default).
    #[default]
    Hvm,
    /// Paravirtualised (OVM `xen_pvm`, boots with pygrub).
    Pv,
}

/// A CPU set string ("4-7,^5") for every vCPU, or one set per vCPU.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawCpus {
    /// The same set for every vCPU.
    All(String),
    /// One set per vCPU, in vCPU order.
    PerVcpu(Vec<String>),
}

/// A number of bytes (`4096`) or a size with a unit (`40GiB`, `512M`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawSize {
    /// Plain number: bytes for disk sizes, MiB for memory (as in vm.cfg).
    Number(u64),
    /// Number with a unit: B, K/KiB, M/MiB, G/GiB, T/TiB (binary) or KB, MB, GB, TB (decimal).
    Text(String),
}

/// A virtual machine.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVm {
    /// The host it runs on (a key of `hosts`). Required (checked in validation, so a missing
    /// key is reported beside the VM's other mistakes).
    pub host: Option<String>,
    /// `running` (default), `stopped`, `paused` or `absent`.
    pub state: Option<VmState>,
    /// `hvm` (default) or `pv`.
    #[serde(rename = "type")]
    pub vm_type: Option<VmType>,
    /// Memory, e.g. `8GiB` or `4096` (MiB). Required unless `state: absent`.
    pub memory: Option<RawSize>,
    /// Maximum memory for ballooning (defaults to `memory`).
    pub maxmem: Option<RawSize>,
    /// vCPUs online at boot. Required unless `state: absent`.
    pub vcpus: Option<u32>,
    /// vCPU hot-plug ceiling.
    pub maxvcpus: Option<u32>,
    /// Hard partitioning: physical CPUs the vCPUs may run on.
    pub cpus: Option<RawCpus>,
    /// Virtual disks, in device order (xvda, xvdb, ...).
    #[serde(default)]
    pub disks: Vec<RawDisk>,
    /// Network interfaces, in order.
    #[serde(default)]
    pub networks: Vec<RawNetwork>,
    /// Text and VNC consoles.
    pub console: Option<RawConsole>,
    /// Reflink disk snapshots.
    pub snapshots: Option<RawSnapshots>,
    /// Other vm.cfg keys, passed through as they are (e.g. `on_crash: restart`).
    #[serde(default)]
    pub extra_config: BTreeMap<String, RawExtraValue>,
    /// A clean shutdown waits this many seconds (120) before giving up.
    pub shutdown_timeout: Option<u32>,
    /// After a timed-out clean shutdown, power the VM off (`xm destroy`).
    #[serde(default)]
    pub force_stop: bool,
    /// Allow destroying this VM (`state: absent`) or deleting its disks.
    #[serde(default)]
    pub allow_destroy: bool,
    /// Repository for this VM's vm.cfg and disks (defaults to the host's).
    pub repository: Option<String>,
}

/// A value passed through to vm.cfg.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawExtraValue {
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// A list of strings.
    List(Vec<String>),
}

/// A virtual disk: a new file in the repository (`name` + `size`) or an existing file (`path`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    /// Disk name; brace ranges like `data{01..10}` make several disks.
    pub name: Option<String>,
    /// Size of a new disk (`100GiB`); a larger size grows the file, a smaller one is an error.
    pub size: Option<RawSize>,
    /// An existing disk file or device (e.g. a shared quorum disk).
    pub path: Option<String>,
    /// `w` (default), `r`, or `w!` (shared, writable by several VMs).
    pub mode: Option<String>,
    /// Guest device (`xvdb`); by default the next free one in order.
    pub device: Option<String>,
    /// The file is a CD-ROM image.
    #[serde(default)]
    pub cdrom: bool,
}

/// A network interface.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Bridge in dom0 (`xenbr0`, or OVM's network id such as `10238073c2`).
    pub bridge: String,
    /// MAC address; OVM uses `00:21:f6:…`, Xen `00:16:3e:…`.
    pub mac: Option<String>,
    /// Emulated NIC model for HVM (`e1000`).
    pub model: Option<String>,
    /// vif type (`netfront`, `ioemu`).
    #[serde(rename = "type")]
    pub vif_type: Option<String>,
}

/// Consoles.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    /// Xen text console (`serial = 'pty'`, plus `console=hvc0` for PV guests).
    #[serde(default)]
    pub serial: bool,
    /// Kernel console device for PV guests: `hvc0` (default) or `xvc0` (2.6.18 kernels).
    pub pv_console: Option<String>,
    /// VNC console.
    pub vnc: Option<RawVnc>,
}

/// VNC settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVnc {
    /// Listen address (127.0.0.1, as OVM does; reach it through `domform vnc`).
    pub listen: Option<String>,
    /// Fixed TCP port (5900-5999); without it the first free port is used.
    pub port: Option<u16>,
    /// Password source: `{ env: VAR }` or `{ file: PATH }`; never inline.
    pub password: Option<RawSecret>,
    /// Keyboard map (`en-us`).
    pub keymap: Option<String>,
}

/// Where a secret comes from. An inline string is accepted by the parser only to be rejected
/// with a clear message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawSecret {
    /// Rejected: secrets do not belong in git.
    Inline(String),
    /// From an environment variable or a file on the machine running domform.
    Source(RawSecretSource),
}

/// A secret's source.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecretSource {
    /// Environment variable name.
    pub env: Option<String>,
    /// File path (first line is used).
    pub file: Option<String>,
}

/// Snapshot policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSnapshots {
    /// How many domform-made snapshots to keep (named ones in `present` are never pruned).
    pub keep: Option<u32>,
    /// Snapshots that must exist; created when missing.
    #[serde(default)]
    pub present: Vec<String>,
    /// Allow a full sparse copy where the file system cannot reflink.
    #[serde(default)]
    pub allow_full_copy: bool,
}

/// A licence group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLicence {
    /// VMs running the licensed product.
    pub vms: Vec<String>,
    /// Policy: the plan fails when the group would use more physical cores on a host.
    pub max_cores: Option<u32>,
    /// Oracle core factor (0.5 for x86).
    pub core_factor: Option<f64>,
}
