//! `domform console VM`: the guest's Xen text console on this terminal, by simple name.
//!
//! The VNC console only works once a kernel was found; the text console also works for a PV
//! guest whose boot is broken (docs/consoles.md). domform finds the VM's running domain the way
//! `start`/`stop` do (one read-only observe per host), then runs `xm console <domain>` on its
//! host with a pty; Ctrl-] detaches.

use crate::engine::Outcome;
use std::io::Write;

use super::{load_or_report, select_hosts, ConsoleArgs};
use crate::model::{Model, Toolstack};
use crate::observe::fleet::{default_connector, observe_hosts_with, Mode};
use crate::transport::quote;
use crate::xen::Domain;

pub(crate) fn fail(msg: &str) -> Outcome {
    super::error(msg);
    Outcome::Failed
}

/// Finds the running domain of the VM called `name` (simple or Xen name): (host, domain).
pub(crate) fn find_running(model: &Model, name: &str, host: Option<&str>) -> Result<(String, Domain), String> {
    let only: Vec<String> = host.iter().map(|h| h.to_string()).collect();
    let hosts = select_hosts(model, &only).map_err(|_| String::from("no such host"))?;
    let results = observe_hosts_with(model, &hosts, 16, &default_connector, Mode::Read);
    let mut found: Vec<(String, Option<Domain>)> = Vec::new();
    for r in &results {
        match &r.observed {
            Ok(obs) => {
                if let Some(why) = obs.unreadable() {
                    return Err(why);
                }
                for v in obs.vms().into_iter().filter(|v| v.simple_name == name || v.xen_name == name) {
                    found.push((r.host.clone(), v.domain.cloned()));
                }
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: {e}");
            }
        }
    }
    match found.len() {
        0 => Err(format!("no VM named `{name}` on {}", hosts.join(", "))),
        1 => {
            let (host, dom) = found.remove(0);
            match dom.filter(|d| !d.state.dying && !d.state.crashed && !d.state.shutdown) {
                Some(d) => Ok((host, d)),
                None => Err(format!("`{name}` is not running on {host}; start it with `domform start {name}`")),
            }
        }
        _ => {
            let hs: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
            Err(format!("`{name}` names VMs on several hosts ({}); pick one with --host", hs.join(", ")))
        }
    }
}

/// Attaches this terminal to the VM's text console until Ctrl-] or the console ends.
pub fn run(a: &ConsoleArgs) -> Outcome {
    let Some(model) = load_or_report(&a.files) else { return Outcome::Failed };
    let (host, dom) = match find_running(&model, &a.name, a.host.as_deref()) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let Some(h) = model.hosts.get(&host) else { return fail(&format!("unknown host `{host}`")) };
    let tool = match h.toolstack {
        Toolstack::Xm => "xm",
        Toolstack::Xl => "xl",
    };
    let _ = writeln!(std::io::stderr(), "Connected to {} on {host} (domain {}); Ctrl-] detaches.", a.name, dom.name);
    match crate::transport::console::attach(h, &format!("{tool} console {}", quote(&dom.name))) {
        Ok(0) => {
            let _ = writeln!(std::io::stderr(), "\r\nDetached from {}.", a.name);
            Outcome::Ok
        }
        Ok(code) => fail(&format!("`{tool} console` on {host} ended with status {code}")),
        Err(e) => fail(&e.to_string()),
    }
}
