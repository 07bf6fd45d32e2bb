//! The Oracle VM Manager (`managers:`): the WebLogic data source that points it at its
//! repository database, and its restart (`docs/manager-database.md`).
//!
//! [`observe`] reads the WebLogic domain in one exec, [`plan`] plans the descriptor's minimal
//! edit and the restart, [`shell`] renders those two ops; the XML and URL work is [`crate::weblogic`]'s. Its lock is
//! `<domain>/.domform.lock`.

pub mod observe;
pub mod plan;
pub mod shell;

use std::time::Duration;

use super::Target;
use crate::apply::{self, HostReport};
use crate::model::manager::Manager;
use crate::model::{Host, Model};
use crate::observe::Observed;
use crate::plan::HostPlan;
use crate::transport::{Transport, TransportError};
pub use observe::{ManagerFile, ManagerObserved};

/// A Manager declared under `managers:`.
pub struct OvmManager<'m> {
    m: &'m Manager,
}

/// The Manager `name` in `model`, if it declares one.
pub fn resolve<'m>(model: &'m Model, name: &str) -> Option<Box<dyn Target + 'm>> {
    model.managers.get(name).map(|m| Box::new(OvmManager { m }) as Box<dyn Target + 'm>)
}

impl Target for OvmManager<'_> {
    fn name(&self) -> &str {
        &self.m.name
    }

    fn conn(&self) -> &Host {
        &self.m.conn
    }

    fn lock_path(&self) -> String {
        self.m.lock_path()
    }

    /// The script reads a few small files: it has no host-side watchdog.
    fn observe_script(&self, marker: &str, _host_secs: Option<u64>) -> String {
        observe::script(&self.m.domain, marker)
    }

    fn parse(&self, stdout: &str, marker: &str) -> Observed {
        observe::observed(&self.m.name, &self.m.domain, stdout, marker)
    }

    fn progress(&self, _stdout: &str, _marker: &str) -> String {
        format!("while reading the WebLogic domain {}", self.m.domain)
    }

    fn observe(&self, t: &mut dyn Transport) -> Result<Observed, TransportError> {
        observe::observe(t, self.m)
    }

    fn plan(&self, _model: &Model, obs: &Observed) -> HostPlan {
        plan::plan_manager(self.m, obs)
    }

    /// A Manager's ops (`replace-file`, `run-command`) name no toolstack.
    fn apply(&self, t: &mut dyn Transport, hp: &HostPlan, step_timeout: Option<Duration>) -> HostReport {
        apply::apply_host_limited(t, hp, &crate::model::Tool::xen(crate::model::Toolstack::default()), step_timeout)
    }
}
