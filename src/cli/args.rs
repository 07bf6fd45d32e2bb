//! Per-subcommand arguments where several subcommands share one internal argument struct.
//!
//! `snapshot list --help` once offered `--auto-approve`, `--force`, `--timeout`, `--memory` and
//! `--allow-full-copy`, and `start --help` offered `--force`: flags that do nothing there, because
//! the subcommands shared one clap struct. Each subcommand now parses only its own flags and is
//! turned into the shared [`SnapshotArgs`] / [`PowerArgs`] its runner reads (the flags it lacks
//! at their defaults), so the runners stay as they are.

use std::path::PathBuf;

use super::{PowerArgs, SnapshotArgs, SnapshotCmd};
use crate::manifest;

/// Which VM, and where to look for it.
#[derive(Debug, clap::Args)]
pub struct VmArgs {
    /// Desired-state file or directory with the hosts (repeatable).
    #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
    pub files: Vec<PathBuf>,
    /// Only look on this host.
    #[arg(long)]
    pub host: Option<String>,
}

/// A clean shutdown's limit and what happens after it (stop, restart, snapshot revert).
#[derive(Debug, clap::Args)]
pub struct ShutdownArgs {
    /// Seconds a clean shutdown may take.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Destroy the VM when the clean shutdown times out.
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub auto_approve: bool,
}

/// `start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The VM's simple name (OVM_simple_name).
    pub name: String,
    #[command(flatten)]
    pub vm: VmArgs,
}

/// `stop`, `restart`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The VM's simple name (OVM_simple_name).
    pub name: String,
    #[command(flatten)]
    pub vm: VmArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

impl From<StartArgs> for PowerArgs {
    fn from(a: StartArgs) -> PowerArgs {
        PowerArgs { name: a.name, files: a.vm.files, host: a.vm.host, timeout: 120, force: false, auto_approve: false }
    }
}

impl From<StopArgs> for PowerArgs {
    fn from(a: StopArgs) -> PowerArgs {
        let s = a.shutdown;
        PowerArgs {
            name: a.name,
            files: a.vm.files,
            host: a.vm.host,
            timeout: s.timeout,
            force: s.force,
            auto_approve: s.auto_approve,
        }
    }
}

/// `domform snapshot …`.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCli {
    /// Take a snapshot now (a running VM is paused for the copies).
    Create {
        /// The VM's simple name.
        vm: String,
        /// The snapshot's name (default `auto-<UTC time>`).
        name: Option<String>,
        #[command(flatten)]
        at: VmArgs,
        /// Also checkpoint the VM's memory (`xm save -c`; on libvirt `virsh save` then `virsh restore`); revert restores it.
        #[arg(long)]
        memory: bool,
        /// Allow a full sparse copy where the file system cannot reflink.
        #[arg(long)]
        allow_full_copy: bool,
    },
    /// List a VM's snapshots (size and space used).
    List {
        /// The VM's simple name.
        vm: String,
        #[command(flatten)]
        at: VmArgs,
    },
    /// Put a VM's disks and vm.cfg back from a snapshot (stops it, takes a safety snapshot first).
    Revert {
        /// The VM's simple name.
        vm: String,
        /// The snapshot's name.
        name: String,
        #[command(flatten)]
        at: VmArgs,
        #[command(flatten)]
        shutdown: ShutdownArgs,
    },
    /// Delete a domform-made snapshot.
    Delete {
        /// The VM's simple name.
        vm: String,
        /// The snapshot's name.
        name: String,
        #[command(flatten)]
        at: VmArgs,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        auto_approve: bool,
    },
}

impl From<SnapshotCli> for SnapshotCmd {
    fn from(c: SnapshotCli) -> SnapshotCmd {
        let base = |vm: String, name: Option<String>, at: VmArgs| SnapshotArgs {
            vm,
            name,
            files: at.files,
            host: at.host,
            memory: false,
            allow_full_copy: false,
            auto_approve: false,
            timeout: 120,
            force: false,
        };
        match c {
            SnapshotCli::Create { vm, name, at, memory, allow_full_copy } => {
                SnapshotCmd::Create(SnapshotArgs { memory, allow_full_copy, ..base(vm, name, at) })
            }
            SnapshotCli::List { vm, at } => SnapshotCmd::List(base(vm, None, at)),
            SnapshotCli::Revert { vm, name, at, shutdown: s } => SnapshotCmd::Revert(SnapshotArgs {
                auto_approve: s.auto_approve,
                timeout: s.timeout,
                force: s.force,
                ..base(vm, Some(name), at)
            }),
            SnapshotCli::Delete { vm, name, at, auto_approve } => {
                SnapshotCmd::Delete(SnapshotArgs { auto_approve, ..base(vm, Some(name), at) })
            }
        }
    }
}
