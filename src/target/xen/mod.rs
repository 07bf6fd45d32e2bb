//! The Xen host (an Oracle VM Server's dom0, or any `xm`/`xl` host): its VMs' vm.cfg files,
//! disks, snapshots and power, read from the repositories it declares.
//!
//! The observe script and its parser live in [`crate::observe`] (`script.rs`, `mod.rs`), the
//! vm.cfg vocabulary in [`crate::xen`], the per-VM planner in [`crate::plan`] (`vm.rs`,
//! `desired.rs`, `disk.rs`, …), the ops' shell in [`crate::apply::script`]; this module is where
//! they meet as one [`Target`]: the host planner ([`plan`]) and the host's observe request.

pub mod plan;

use std::time::Duration;

use super::Target;
use crate::apply::{self, HostReport};
use crate::model::{DiskSource, Host, Model};
use crate::observe::{self, lock, script, ObserveRequest, Observed};
use crate::plan::HostPlan;
use crate::transport::{Transport, TransportError};

/// A Xen host declared under `hosts:`, with what its observe asks for.
pub struct XenHost<'m> {
    host: &'m Host,
    req: ObserveRequest,
}

/// The Xen host `name` in `model`, if it declares one.
pub fn resolve<'m>(model: &'m Model, name: &str) -> Option<Box<dyn Target + 'm>> {
    let host = model.hosts.get(name).filter(|h| h.toolstack != crate::model::Toolstack::Libvirt)?;
    Some(Box::new(XenHost { host, req: observe::request_for(host, extra_paths(model, name)) }))
}

/// Existing disk paths the model mentions for a host (observed besides the repositories).
pub fn extra_paths(model: &Model, host: &str) -> Vec<String> {
    let mut paths: Vec<String> = model
        .vms
        .values()
        .filter(|v| v.host == host)
        .flat_map(|v| v.disks.iter())
        .filter_map(|d| match &d.source {
            DiskSource::Existing { path } => Some(path.clone()),
            DiskSource::New { .. } => None,
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

impl Target for XenHost<'_> {
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
        observe::parse(&self.host.name, stdout, marker, &self.req)
    }

    fn progress(&self, stdout: &str, marker: &str) -> String {
        script::progress(&self.req, stdout, marker)
    }

    fn observe(&self, t: &mut dyn Transport) -> Result<Observed, TransportError> {
        observe::observe_limited(t, &self.req, Some(self.host.observe_timeout))
    }

    fn plan(&self, model: &Model, obs: &Observed) -> HostPlan {
        plan::plan(model, obs)
    }

    fn apply(&self, t: &mut dyn Transport, hp: &HostPlan, step_timeout: Option<Duration>) -> HostReport {
        apply::apply_host_limited(t, hp, &self.host.tool(), step_timeout)
    }
}
