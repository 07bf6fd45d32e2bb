//! `domform start|stop|restart NAME`: the seed's "xm2 stop slot033", by simple name, under the
//! host lock, through the same op engine as apply.

use std::io::Write;
use std::process::ExitCode;

use super::{load_or_report, select_hosts, PowerArgs};
use crate::observe::fleet::{default_connector, observe_hosts_with, Mode};
use crate::plan::{Action, Change, FieldChange, HostPlan, Impact, Op, Resource};

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

fn fail(msg: String) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    ExitCode::FAILURE
}

/// Finds the VM, then starts, stops or restarts it.
pub fn run(verb: Verb, a: &PowerArgs) -> ExitCode {
    let Some(model) = load_or_report(&a.files) else { return ExitCode::FAILURE };
    let only: Vec<String> = a.host.iter().cloned().collect();
    let hosts = match select_hosts(&model, &only) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let mut results = observe_hosts_with(&model, &hosts, 16, &default_connector, Mode::Lock);
    let mut found = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match &r.observed {
            Ok(obs) => {
                for v in obs.vms() {
                    if v.simple_name == a.name || v.xen_name == a.name {
                        let running = v.domain.map(|d| (d.name.clone(), d.state.paused));
                        found.push((i, v.cfg.map(|c| c.path.clone()), running));
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: {e}");
            }
        }
    }
    let (idx, cfg, running) = match found.len() {
        1 => found.remove(0),
        0 => return fail(format!("no VM named `{}` on {}", a.name, hosts.join(", "))),
        _ => {
            let hs: Vec<&str> = found.iter().map(|f| results[f.0].host.as_str()).collect();
            return fail(format!("`{}` names VMs on several hosts ({}); pick one with --host", a.name, hs.join(", ")));
        }
    };
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
    let r = &mut results[idx];
    let hp = HostPlan {
        host: r.host.clone(),
        fingerprint: String::new(),
        changes: vec![Change {
            id: format!("power/{}", a.name),
            resource: Resource::Power,
            name: a.name.clone(),
            action,
            impact: Impact::Live,
            fields: vec![FieldChange { field: "state".into(), old: None, new: None, impact: Impact::Live }],
            file: None,
            ops,
            depends_on: vec![],
            verify_pins: Vec::new(),
        }],
        errors: vec![],
        notes: vec![],
        warnings: vec![],
    };
    let toolstack = model.hosts.get(&r.host).map(|h| h.toolstack).unwrap_or_default();
    let Some(t) = r.transport.as_mut() else { return fail(format!("{} is not connected", r.host)) };
    let report = crate::apply::apply_host(t.as_mut(), &hp, toolstack);
    t.end_background();
    let (text, ok) = super::apply::report_text(&[report]);
    print!("{text}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
