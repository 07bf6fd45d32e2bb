//! Target kinds: what domform can manage, each one module behind one trait.
//!
//! A name in the desired state means a Xen host (`hosts:`) or an Oracle VM Manager
//! (`managers:`); each kind reads, locks, plans and changes its targets differently. Before,
//! every layer asked "is this a manager?" by hand (fleet, planner, execute, the lock), so adding
//! `managers:` touched 19 files. Now a kind is one folder implementing [`Target`] and one line in
//! [`KINDS`]; the engine and the fleet only call the trait:
//!
//! - observe: [`Target::observe`] read-only, or [`lock_and_observe`] (the lock file from
//!   [`Target::lock_path`], the script from [`Target::observe_script`], its output read by
//!   [`Target::parse`]) in one round trip;
//! - plan: [`Target::plan`] (pure), reached through `plan::plan_host`;
//! - execute: [`Target::apply`] runs a plan's changes, their ops rendered to shell.
//!
//! The kinds still share the `Observed`, `Op` and `Resource` types (a Manager's facts are
//! `Observed::manager`); see docs/architecture.md, "Target kinds".

pub mod libvirt;
pub mod manager;
pub mod xen;

use std::time::{Duration, Instant};

use crate::apply::HostReport;
use crate::model::{Host, Model};
use crate::observe::lock::{self, LockError, Locked};
use crate::observe::{self, Observed};
use crate::plan::HostPlan;
use crate::transport::{Limit, Transport, TransportError};

/// One declared target (a host, a Manager) of some kind, resolved from the desired state.
pub trait Target {
    /// The name it is declared under (the host name in plans and reports).
    fn name(&self) -> &str;
    /// How to reach it: SSH settings and time limits (`observe_timeout`, `step_timeout`).
    fn conn(&self) -> &Host;
    /// The file `apply` holds `flock` on while it works on this target.
    fn lock_path(&self) -> String;
    /// The read-only observe script, its sections delimited by `marker`; `host_secs` is the
    /// limit for the host-side watchdog, when the kind has one.
    fn observe_script(&self, marker: &str, host_secs: Option<u64>) -> String;
    /// Reads the observe script's output (pure).
    fn parse(&self, stdout: &str, marker: &str) -> Observed;
    /// What the observe script was doing when its time ran out, from what it printed.
    fn progress(&self, stdout: &str, marker: &str) -> String;
    /// Observes without the lock, in one exec.
    fn observe(&self, t: &mut dyn Transport) -> Result<Observed, TransportError>;
    /// Plans this target from what was observed (pure).
    fn plan(&self, model: &Model, obs: &Observed) -> HostPlan;
    /// Runs a plan's changes in one exec (each op rendered to shell), reporting each.
    fn apply(&self, t: &mut dyn Transport, hp: &HostPlan, step_timeout: Option<Duration>) -> HostReport;
}

/// The target a kind declares under a name, if it declares one.
pub type Resolve = for<'m> fn(&'m Model, &str) -> Option<Box<dyn Target + 'm>>;

/// A target kind: its name (for docs and logs) and how it finds its targets in the model.
pub struct Kind {
    /// `xen`, `manager`.
    pub name: &'static str,
    /// Finds a target of this kind by name.
    pub resolve: Resolve,
}

/// Every target kind, one line each. The first kind that declares a name owns it.
pub const KINDS: &[Kind] = &[
    Kind { name: "libvirt", resolve: libvirt::resolve },
    Kind { name: "xen", resolve: xen::resolve },
    Kind { name: "manager", resolve: manager::resolve },
];

/// The target `name` means in `model`: the first kind in [`KINDS`] that declares it.
pub fn resolve<'m>(model: &'m Model, name: &str) -> Option<Box<dyn Target + 'm>> {
    KINDS.iter().find_map(|k| (k.resolve)(model, name))
}

/// Takes the target's lock and observes it in one round trip, within its `observe_timeout`.
/// The lock is held until the transport's background script is ended (the engine's `Session`
/// does that when it is dropped).
pub fn lock_and_observe(t: &mut dyn Transport, target: &dyn Target) -> Result<Observed, LockError> {
    let start = Instant::now();
    let limit = Limit::total(target.conn().observe_timeout);
    let host_secs = Some(limit.host_secs());
    let (body, marker) =
        lock::locked(t, target.name(), target.lock_path(), &limit, |m| target.observe_script(m, host_secs)).map_err(
            |e| match e {
                Locked::Lock(e) => e,
                Locked::TimedOut { marker, output } => LockError::Transport(observe::timed_out(
                    target.name(),
                    "observe",
                    limit.after,
                    &target.progress(&output, &marker),
                )),
            },
        )?;
    let mut obs = target.parse(&body, &marker);
    obs.execs = 1;
    obs.elapsed = start.elapsed();
    Ok(obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(yaml: &str) -> Model {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("d.yaml");
        std::fs::write(&f, yaml).expect("write");
        crate::manifest::load(&[f]).expect("valid desired state")
    }

    #[test]
    fn each_name_resolves_to_its_kind_and_lock() {
        let m = model(
            "hosts:\n  h1:\n    address: 10.0.0.1\n    repositories: [/OVS/Repositories/r]\n\
             managers:\n  ovmm1:\n    address: 10.0.0.2\n    version: '3.0'\n    database:\n      service: ovs_rw\n      addresses: [{ host: db }]\n",
        );
        let h1 = resolve(&m, "h1").expect("h1");
        assert_eq!((h1.name(), h1.lock_path()), ("h1", "/OVS/Repositories/r/.domform.lock".to_string()));
        let ovmm = resolve(&m, "ovmm1").expect("ovmm1");
        assert_eq!(ovmm.name(), "ovmm1");
        assert!(ovmm.lock_path().ends_with("/.domform.lock"), "{}", ovmm.lock_path());
        assert!(ovmm.observe_script("@@m", None).contains("config/jdbc"));
        assert!(resolve(&m, "nobody").is_none());
    }
}
