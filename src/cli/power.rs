//! `domform start|stop|restart NAME`: the seed's "xm2 stop slot033", by simple name, under the
//! host lock, through the same op engine as apply.

use std::process::ExitCode;

use super::locate::{confirm, fail, locate, run_changes};
use super::{load_or_report, PowerArgs};
use crate::observe::fleet::Mode;
use crate::plan::{Action, Change, FieldChange, Impact, Op, Resource};

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
pub fn run(verb: Verb, a: &PowerArgs) -> ExitCode {
    let Some(model) = load_or_report(&a.files) else { return ExitCode::FAILURE };
    let mut loc = match locate(&model, a.host.as_deref(), &a.name, Mode::Lock) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let cfg = loc.cfg.as_ref().map(|c| c.path.clone());
    let running = loc.domain.as_ref().map(|d| (d.name.clone(), d.state.paused));
    let xen = |args: &[&str]| Op::Xen { args: args.iter().map(|s| s.to_string()).collect() };
    let shutdown = |dom: &str| Op::Shutdown { domain: dom.into(), timeout_secs: a.timeout, force: a.force };
    let start = |cfg: &Option<String>| cfg.as_ref().map(|p| xen(&["create", p]));
    let (action, ops) = match (verb, &running, &cfg) {
        (Verb::Start, Some((dom, true)), _) => (Action::Unpause, vec![xen(&["unpause", dom])]),
        (Verb::Start, Some(_), _) => {
            println!("{} is already running.", a.name);
            return ExitCode::SUCCESS;
        }
        (Verb::Stop, None, _) => {
            println!("{} is already stopped.", a.name);
            return ExitCode::SUCCESS;
        }
        (Verb::Stop, Some((dom, paused)), _) => {
            let mut ops = if *paused { vec![xen(&["unpause", dom])] } else { vec![] };
            ops.push(shutdown(dom));
            (Action::Stop, ops)
        }
        (Verb::Start | Verb::Restart, _, None) => {
            return fail(format!("`{}` has no vm.cfg under the host's repositories; cannot start it", a.name))
        }
        (Verb::Start, None, c) => (Action::Start, start(c).into_iter().collect()),
        (Verb::Restart, Some((dom, _)), c) => (Action::Start, std::iter::once(shutdown(dom)).chain(start(c)).collect()),
        (Verb::Restart, None, c) => (Action::Start, start(c).into_iter().collect()),
    };
    if a.force && running.is_some() && verb != Verb::Start {
        let what =
            format!("Stop `{}`, destroying it if it does not shut down within {} s (--force)", a.name, a.timeout);
        if let Err(code) = confirm(&what, a.auto_approve) {
            return code;
        }
    }
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
    run_changes(&model, &mut loc, vec![change])
}
