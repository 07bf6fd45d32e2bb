//! The plan step of the imperative commands (start/stop/restart, snapshot): find the one VM
//! called by its simple name across the observed hosts; the command then makes its changes
//! from what was found.

use std::io::Write;

use crate::observe::fleet::HostResult;
use crate::observe::{CfgFile, Observed};
use crate::xen::Domain;

/// The VM a command names, as observed on its host.
pub struct Found<'a> {
    /// The host it is on.
    pub host: &'a str,
    /// That host's facts.
    pub observed: &'a Observed,
    /// The name it was called by.
    pub name: &'a str,
    /// Its vm.cfg.
    pub cfg: Option<CfgFile>,
    /// Its running domain.
    pub domain: Option<Domain>,
}

/// Finds exactly one VM called `name` (simple or Xen name). Unreachable hosts are warned about
/// and skipped; a host that was read only in part stops the search (the VM may be there).
pub fn find<'a>(results: &'a [HostResult], name: &'a str) -> Result<Found<'a>, String> {
    let mut found = Vec::new();
    for r in results {
        match &r.observed {
            Ok(obs) => {
                if let Some(why) = obs.unreadable() {
                    return Err(why);
                }
                for v in obs.vms().into_iter().filter(|v| v.simple_name == name || v.xen_name == name) {
                    found.push(Found {
                        host: &r.host,
                        observed: obs,
                        name,
                        cfg: v.cfg.cloned(),
                        domain: v.domain.cloned(),
                    });
                }
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: {}", crate::render::escape::text(&e.to_string()));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let hosts: Vec<&str> = results.iter().map(|r| r.host.as_str()).collect();
            Err(format!("no VM named `{name}` on {}", hosts.join(", ")))
        }
        _ => {
            let hs: Vec<&str> = found.iter().map(|f| f.host).collect();
            Err(format!("`{name}` names VMs on several hosts ({}); pick one with --host", hs.join(", ")))
        }
    }
}
