//! Finding one VM by its simple name across the hosts, for the imperative commands
//! (start/stop/restart, snapshot, console, vnc), and running a few changes on its host.

use std::io::Write;
use std::process::ExitCode;

use super::select_hosts;
use crate::model::{Model, Toolstack};
use crate::observe::fleet::{default_connector, observe_hosts_with, HostResult, Mode};
use crate::observe::{CfgFile, Observed};
use crate::plan::{Change, HostPlan};
use crate::xen::Domain;

/// A VM found on one host, with that host's (possibly locked) connection.
pub struct Located {
    /// Every host's result (the found one at `index`).
    pub results: Vec<HostResult>,
    /// Index of the VM's host in `results`.
    pub index: usize,
    /// Its vm.cfg.
    pub cfg: Option<CfgFile>,
    /// Its running domain.
    pub domain: Option<Domain>,
    /// Simple name.
    pub name: String,
}

impl Located {
    /// The host's observed facts.
    pub fn observed(&self) -> Option<&Observed> {
        self.results.get(self.index).and_then(|r| r.observed.as_ref().ok())
    }

    /// The host's name.
    pub fn host(&self) -> &str {
        self.results.get(self.index).map(|r| r.host.as_str()).unwrap_or_default()
    }
}

/// Prints an error and gives the failure exit code.
pub fn fail(msg: impl std::fmt::Display) -> ExitCode {
    super::error(&msg.to_string());
    ExitCode::FAILURE
}

/// Asks before a destructive command (a snapshot deleted, disks reverted, a VM destroyed).
pub fn confirm(what: &str, auto_approve: bool) -> Result<(), ExitCode> {
    crate::engine::confirm::confirm(what, auto_approve).map_err(fail)
}

/// Observes the hosts (`host` or all) in `mode` and finds exactly one VM called `name`.
pub fn locate(model: &Model, host: Option<&str>, name: &str, mode: Mode) -> Result<Located, ExitCode> {
    let only: Vec<String> = host.iter().map(|h| h.to_string()).collect();
    let hosts = select_hosts(model, &only)?;
    let results = observe_hosts_with(model, &hosts, 16, &default_connector, mode);
    let mut found = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match &r.observed {
            Ok(obs) => {
                if let Some(why) = obs.unreadable() {
                    return Err(fail(why));
                }
                for v in obs.vms().into_iter().filter(|v| v.simple_name == name || v.xen_name == name) {
                    found.push((i, v.cfg.cloned(), v.domain.cloned()));
                }
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: {e}");
            }
        }
    }
    match found.len() {
        1 => {
            let (index, cfg, domain) = found.remove(0);
            Ok(Located { results, index, cfg, domain, name: name.to_string() })
        }
        0 => Err(fail(format!("no VM named `{name}` on {}", hosts.join(", ")))),
        _ => {
            let hs: Vec<&str> = found.iter().map(|f| results[f.0].host.as_str()).collect();
            Err(fail(format!("`{name}` names VMs on several hosts ({}); pick one with --host", hs.join(", "))))
        }
    }
}

/// Runs changes on the located VM's host (under its lock) and prints the report.
pub fn run_changes(model: &Model, loc: &mut Located, changes: Vec<Change>) -> ExitCode {
    let hp = HostPlan::of_changes(loc.host(), changes);
    let toolstack: Toolstack = model.hosts.get(loc.host()).map(|h| h.toolstack).unwrap_or_default();
    let step_timeout = model.hosts.get(loc.host()).map(|h| h.step_timeout);
    let Some(session) = loc.results.get_mut(loc.index).and_then(|r| r.session.as_mut()) else {
        return fail(format!("{} is not connected", hp.host));
    };
    let report = crate::apply::apply_host_limited(session.transport(), &hp, toolstack, step_timeout);
    session.release();
    let (text, ok) = super::apply::report_text(&[report]);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
