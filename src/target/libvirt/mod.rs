//! A libvirt host (`toolstack: libvirt`): KVM/QEMU, or Xen through libxl, driven with `virsh -c
//! URI` over the same SSH transport as a Xen host (docs/libvirt.md).
//!
//! The same desired state as a Xen host's, so moving an estate from Oracle VM to KVM is a change
//! of `host:`. What differs is small and lives here: the observe script's hypervisor calls
//! ([`observe`]), the planner that edits domain XML instead of vm.cfg ([`plan`], [`edit`],
//! [`devices`]), and the two steps whose shell differs ([`shell`]). Disks, repositories, paths,
//! pinning and licence checks, the apply batch, time limits and the lock are the Xen host's.

pub mod devices;
pub mod edit;
pub mod import;
pub mod observe;
pub mod plan;
pub mod secret;
pub mod shell;
pub mod snapshot;

use std::time::Duration;

use super::Target;
use crate::apply::{self, HostReport};
use crate::model::{Host, Model, Toolstack};
use crate::observe::{lock, script, ObserveRequest, Observed};
use crate::plan::HostPlan;
use crate::transport::{Transport, TransportError};

/// A host declared with `toolstack: libvirt`.
pub struct LibvirtHost<'m> {
    host: &'m Host,
    req: ObserveRequest,
}

/// The libvirt host `name` in `model`, if it declares one.
pub fn resolve<'m>(model: &'m Model, name: &str) -> Option<Box<dyn Target + 'm>> {
    let host = model.hosts.get(name).filter(|h| h.toolstack == Toolstack::Libvirt)?;
    let req = crate::observe::request_for(host, super::xen::extra_paths(model, name));
    Some(Box::new(LibvirtHost { host, req }))
}

impl Target for LibvirtHost<'_> {
    fn name(&self) -> &str {
        &self.host.name
    }

    fn conn(&self) -> &Host {
        self.host
    }

    fn lock_path(&self) -> String {
        lock::lock_path(&self.host.repositories)
    }

    fn observe_script(&self, marker: &str, host_secs: Option<u64>) -> String {
        script::build_limited(&self.req, marker, host_secs)
    }

    fn parse(&self, stdout: &str, marker: &str) -> Observed {
        crate::observe::parse(&self.host.name, stdout, marker, &self.req)
    }

    fn progress(&self, stdout: &str, marker: &str) -> String {
        script::progress(&self.req, stdout, marker)
    }

    fn observe(&self, t: &mut dyn Transport) -> Result<Observed, TransportError> {
        crate::observe::observe_limited(t, &self.req, Some(self.host.observe_timeout))
    }

    fn plan(&self, model: &Model, obs: &Observed) -> HostPlan {
        plan::plan(model, obs)
    }

    fn apply(&self, t: &mut dyn Transport, hp: &HostPlan, step_timeout: Option<Duration>) -> HostReport {
        apply::apply_host_limited(t, hp, &self.host.tool(), step_timeout)
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod plan_tests;
