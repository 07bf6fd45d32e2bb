//! `domform start|stop|restart NAME`: the seed's "xm2 stop slot033", by simple name, under the
//! host lock, through the same run loop as apply (an [`Intent::Changes`]).

use super::{load_or_report, select_hosts, PowerArgs};
use crate::engine::locate::Found;
use crate::engine::{self, Intent, Made, Outcome, Request};
use crate::observe::fleet::default_connector;
use crate::plan::{Action, Change, FieldChange, Impact, Op, Resource};
use crate::render::escape;

/// Which verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// start
    Start,
    /// stop
    Stop,
    /// restart
    Restart,
}

/// Finds the VM, then starts, stops or restarts it.
pub fn run(verb: Verb, a: &PowerArgs) -> Outcome {
    let Some(model) = load_or_report(&a.files) else { return Outcome::Failed };
    let only: Vec<String> = a.host.iter().cloned().collect();
    let hosts = match select_hosts(&model, &crate::model::select::Selection::only(&only)) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let make = |found: &Found<'_>| changes(verb, a, found);
    let req = Request { model: &model, hosts, targets: &[], parallel: 16, connect: &default_connector };
    engine::run(&req, &Intent::Changes { vm: &a.name, lock: true, make: &make })
}

/// The power change for the VM found (nothing when it is already in that state).
fn changes(verb: Verb, a: &PowerArgs, found: &Found<'_>) -> Result<Made, String> {
    let running = found.domain.as_ref().map(|d| (d.name.clone(), d.state.paused));
    // On a libvirt host the definition is libvirt's: `virsh start NAME` instead of `xm create
    // vm.cfg` (the `start` op below is given the domain name), `resume` for `unpause`.
    let libvirt = found.observed.libvirt.as_ref().and_then(|lv| {
        lv.domains
            .iter()
            .find(|d| d.name == found.name || d.def.as_ref().and_then(|x| x.simple_name.as_deref()) == Some(found.name))
    });
    let cfg = match libvirt {
        Some(d) => Some(d.name.clone()),
        None => found.cfg.as_ref().map(|c| c.path.clone()),
    };
    let xen = |args: &[&str]| match (libvirt, args) {
        (Some(_), ["create", d]) => Op::Virsh { args: vec!["start".into(), "--domain".into(), d.to_string()] },
        (Some(_), ["unpause", d]) => Op::Virsh { args: vec!["resume".into(), "--domain".into(), d.to_string()] },
        _ => Op::Xen { args: args.iter().map(|s| s.to_string()).collect() },
    };
    let shutdown = |dom: &str| Op::Shutdown { domain: dom.into(), timeout_secs: a.timeout, force: a.force };
    let start = |cfg: &Option<String>| cfg.as_ref().map(|p| xen(&["create", p]));
    let (action, ops) = match (verb, &running, &cfg) {
        (Verb::Start, Some((dom, true)), _) => (Action::Unpause, vec![xen(&["unpause", dom])]),
        (Verb::Start, Some(_), _) => {
            println!("{} is already running.", escape::line(&a.name));
            return Ok(Made::Nothing);
        }
        (Verb::Stop, None, _) => {
            println!("{} is already stopped.", escape::line(&a.name));
            return Ok(Made::Nothing);
        }
        (Verb::Stop, Some((dom, paused)), _) => {
            let mut ops = if *paused { vec![xen(&["unpause", dom])] } else { vec![] };
            ops.push(shutdown(dom));
            (Action::Stop, ops)
        }
        (Verb::Start | Verb::Restart, _, None) => {
            return Err(format!("`{}` has no vm.cfg under the host's repositories; cannot start it", a.name))
        }
        (Verb::Start, None, c) => (Action::Start, start(c).into_iter().collect()),
        (Verb::Restart, Some((dom, _)), c) => (Action::Start, std::iter::once(shutdown(dom)).chain(start(c)).collect()),
        (Verb::Restart, None, c) => (Action::Start, start(c).into_iter().collect()),
    };
    let confirm = (a.force && running.is_some() && verb != Verb::Start && !a.auto_approve)
        .then(|| format!("Stop `{}`, destroying it if it does not shut down within {} s (--force)", a.name, a.timeout));
    let change = Change {
        id: format!("power/{}", a.name),
        resource: Resource::Power,
        name: a.name.clone(),
        action,
        impact: Impact::Live,
        fields: vec![FieldChange { field: "state".into(), old: None, new: None, impact: Impact::Live }],
        file: None,
        ops,
        depends_on: vec![],
        verify_pins: vec![],
        cause: None,
    };
    Ok(Made::Run { changes: vec![change], show: false, confirm })
}
