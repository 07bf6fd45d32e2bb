//! `domform snapshot create|list|revert|delete VM [NAME]`: the imperative face of the same
//! snapshot engine the declarative `snapshots:` uses, under the host lock.

use std::io::Write;
use std::process::ExitCode;

use super::locate::{confirm, fail, locate, run_changes};
use super::{load_or_report, SnapshotCmd};
use crate::observe::fleet::Mode;
use crate::plan::snapshot;
use crate::render::plan as render;

/// Runs one snapshot subcommand.
pub fn run(cmd: &SnapshotCmd) -> ExitCode {
    let a = match cmd {
        SnapshotCmd::Create(a) | SnapshotCmd::List(a) | SnapshotCmd::Revert(a) | SnapshotCmd::Delete(a) => a,
    };
    let Some(model) = load_or_report(&a.files) else { return ExitCode::FAILURE };
    let mode = if matches!(cmd, SnapshotCmd::List(_)) { Mode::Read } else { Mode::Lock };
    let mut loc = match locate(&model, a.host.as_deref(), &a.vm, mode) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(obs) = loc.observed() else { return fail(format!("{} could not be read", loc.host())) };
    let mut mine: Vec<_> = obs.snapshots.iter().filter(|s| s.vm == loc.name).cloned().collect();
    mine.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
    let Some(cfg) = loc.cfg.clone() else {
        return fail(format!("`{}` has no vm.cfg under the host's repositories", a.vm));
    };
    let find = |name: &Option<String>| -> Result<crate::observe::SnapshotInfo, ExitCode> {
        let Some(n) = name else { return Err(fail("name the snapshot")) };
        mine.iter().find(|s| &s.name == n).cloned().ok_or_else(|| {
            let names: Vec<&str> = mine.iter().map(|s| s.name.as_str()).collect();
            fail(format!(
                "VM `{}` has no snapshot `{n}` (it has: {})",
                a.vm,
                if names.is_empty() { "none".into() } else { names.join(", ") }
            ))
        })
    };
    let changes = match cmd {
        SnapshotCmd::List(_) => {
            let text = crate::render::snapshots::table(&mine);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            return ExitCode::SUCCESS;
        }
        SnapshotCmd::Create(a) => {
            if let Some(n) = &a.name {
                if let Err(e) = crate::model::units::check_name(n) {
                    return fail(format!("snapshot name: {e}"));
                }
            }
            let dom = loc.domain.as_ref().map(|d| (d.name.as_str(), d.state.paused));
            match snapshot::create_change(
                &loc.name,
                &cfg.path,
                &cfg.cfg,
                dom,
                a.name.as_deref(),
                a.memory,
                a.allow_full_copy,
            ) {
                Ok(c) => vec![c],
                Err(e) => return fail(e),
            }
        }
        SnapshotCmd::Delete(a) => {
            let s = match find(&a.name) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if !s.made_by_domform {
                return fail(format!("{} was not made by domform; delete it by hand if you are sure", s.dir));
            }
            vec![snapshot::delete_change(&s, "deleted on request")]
        }
        SnapshotCmd::Revert(a) => {
            let s = match find(&a.name) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match snapshot::revert_changes(&loc.name, &cfg.path, &cfg.cfg, loc.domain.as_ref(), &s, a.timeout, a.force)
            {
                Ok(c) => c,
                Err(e) => return fail(e),
            }
        }
    };
    // Every path these changes write must be inside the repository (or a declared `path:`
    // disk) and reach no planted link: the snapshot folder and its manifest are untrusted.
    let repos = model.hosts.get(loc.host()).map(|h| h.repositories.clone()).unwrap_or_default();
    let links = loc.observed().map(|o| o.links.clone()).unwrap_or_default();
    let refused = crate::plan::paths::check(&changes, &repos, &crate::plan::declared_paths(&model, loc.host()), &links);
    if !refused.is_empty() {
        return fail(refused.join("\n"));
    }
    let plan = crate::plan::Plan {
        format_version: crate::plan::FORMAT_VERSION,
        hosts: vec![crate::plan::HostPlan {
            host: loc.host().to_string(),
            fingerprint: String::new(),
            changes: changes.clone(),
            errors: vec![],
            notes: vec![],
            warnings: vec![],
        }],
    };
    let _ = std::io::stdout().lock().write_all(render::human(&plan, crate::render::stdout_color()).as_bytes());
    let destructive = match cmd {
        SnapshotCmd::Revert(_) => Some(format!(
            "Revert `{}` to snapshot `{}` (its disks and vm.cfg are replaced)",
            a.vm,
            a.name.as_deref().unwrap_or_default()
        )),
        SnapshotCmd::Delete(_) => {
            Some(format!("Delete snapshot `{}` of `{}`", a.name.as_deref().unwrap_or_default(), a.vm))
        }
        _ => None,
    };
    if let Some(what) = destructive {
        if let Err(code) = confirm(&what, a.auto_approve) {
            return code;
        }
    }
    run_changes(&model, &mut loc, changes)
}
