//! `domform console VM`: the guest's Xen text console on this terminal, by simple name.
//!
//! The VNC console only works once a kernel was found; the text console also works for a PV
//! guest whose boot is broken (docs/consoles.md). domform finds the VM's running domain the way
//! `start`/`stop` do (one read-only observe per host), then runs `xm console <domain>` (on a
//! libvirt host `virsh -c URI console --domain <domain>`, the domain's `<serial type='pty'>`) on
//! its host with a pty; Ctrl-] detaches.

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
    let hosts =
        select_hosts(model, &crate::model::select::Selection::only(&only)).map_err(|_| String::from("no such host"))?;
    let results = observe_hosts_with(model, &hosts, 16, &default_connector, Mode::Read);
    let found = crate::engine::locate::find(&results, name)?;
    match found.domain.filter(|d| !d.state.dying && !d.state.crashed && !d.state.shutdown) {
        Some(d) => Ok((found.host.to_string(), d)),
        None => Err(format!("`{name}` is not running on {}; start it with `domform start {name}`", found.host)),
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
    let tl = h.tool();
    let tool = tl.name();
    // virsh takes the name as an option value, so one that starts with `-` is still a name.
    let domain_arg = if h.toolstack == Toolstack::Libvirt { "--domain " } else { "" };
    let _ = writeln!(
        std::io::stderr(),
        "Connected to {} on {host} (domain {}); Ctrl-] detaches.",
        crate::render::escape::line(&a.name),
        crate::render::escape::line(&dom.name)
    );
    match crate::transport::console::attach(h, &format!("{} console {domain_arg}{}", tl.cmd, quote(&dom.name))) {
        Ok(0) => {
            let _ = writeln!(std::io::stderr(), "\r\nDetached from {}.", crate::render::escape::line(&a.name));
            Outcome::Ok
        }
        Ok(code) => fail(&format!("`{tool} console` on {host} ended with status {code}")),
        Err(e) => fail(&e.to_string()),
    }
}
