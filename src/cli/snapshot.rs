//! `domform snapshot create|list|revert|delete VM [NAME]`: the imperative face of the same
//! snapshot engine the declarative `snapshots:` uses, under the host lock, through the same
//! run loop as apply (an [`Intent::Changes`]).

use std::io::Write;

use super::{load_or_report, select_hosts, SnapshotArgs, SnapshotCmd};
use crate::engine::locate::Found;
use crate::engine::{self, Intent, Made, Outcome, Request};
use crate::observe::fleet::default_connector;
use crate::observe::SnapshotInfo;
use crate::plan::snapshot;

/// Runs one snapshot subcommand.
pub fn run(cmd: &SnapshotCmd) -> Outcome {
    let a = match cmd {
        SnapshotCmd::Create(a) | SnapshotCmd::List(a) | SnapshotCmd::Revert(a) | SnapshotCmd::Delete(a) => a,
    };
    let Some(model) = load_or_report(&a.files) else { return Outcome::Failed };
    let only: Vec<String> = a.host.iter().cloned().collect();
    let hosts = match select_hosts(&model, &crate::model::select::Selection::only(&only)) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let make = |found: &Found<'_>| changes(cmd, a, found);
    let req = Request { model: &model, hosts, targets: &[], parallel: 16, connect: &default_connector };
    let lock = !matches!(cmd, SnapshotCmd::List(_));
    engine::run(&req, &Intent::Changes { vm: &a.vm, lock, make: &make })
}

/// The snapshot changes for the VM found (`list` prints and runs nothing).
fn changes(cmd: &SnapshotCmd, a: &SnapshotArgs, found: &Found<'_>) -> Result<Made, String> {
    let mut mine: Vec<SnapshotInfo> = found.observed.snapshots.iter().filter(|s| s.vm == found.name).cloned().collect();
    mine.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
    // What a snapshot copies: a Xen VM's vm.cfg, or a libvirt domain's persistent XML.
    let subject = || -> Result<snapshot::Subject, String> {
        if let Some(cfg) = found.cfg.as_ref() {
            return snapshot::Subject::xen(found.name, &cfg.path, &cfg.cfg).map_err(|e| e.to_string());
        }
        match found.observed.libvirt.as_ref().and_then(|lv| lv.find(found.name)) {
            Some(d) => crate::target::libvirt::snapshot::observed_subject(found.name, d, found.observed),
            None => Err(format!("`{}` has no vm.cfg under the host's repositories", a.vm)),
        }
    };
    let find = |name: &Option<String>| -> Result<SnapshotInfo, String> {
        let Some(n) = name else { return Err("name the snapshot".into()) };
        mine.iter().find(|s| &s.name == n).cloned().ok_or_else(|| {
            let names: Vec<&str> = mine.iter().map(|s| s.name.as_str()).collect();
            format!(
                "VM `{}` has no snapshot `{n}` (it has: {})",
                a.vm,
                if names.is_empty() { "none".into() } else { names.join(", ") }
            )
        })
    };
    let ask = |what: String| (!a.auto_approve).then_some(what);
    let (changes, confirm) = match cmd {
        SnapshotCmd::List(_) => {
            print_list(&mine);
            return Ok(Made::Nothing);
        }
        SnapshotCmd::Create(a) => {
            if let Some(n) = &a.name {
                crate::model::units::check_name(n).map_err(|e| format!("snapshot name: {e}"))?;
            }
            let dom = found.domain.as_ref().map(|d| (d.name.as_str(), d.state.paused));
            let c = snapshot::create_of(&subject()?, dom, a.name.as_deref(), a.memory, a.allow_full_copy)
                .map_err(|e| e.to_string())?;
            (vec![c], None)
        }
        SnapshotCmd::Delete(a) => {
            let s = find(&a.name)?;
            if !s.made_by_domform {
                return Err(format!("{} was not made by domform; delete it by hand if you are sure", s.dir));
            }
            let what = format!("Delete snapshot `{}` of `{}`", a.name.as_deref().unwrap_or_default(), a.vm);
            (vec![snapshot::delete_change(&s, "deleted on request")], ask(what))
        }
        SnapshotCmd::Revert(a) => {
            let s = find(&a.name)?;
            let sub = subject()?;
            let c =
                snapshot::revert_of(&sub, found.domain.as_ref(), &s, a.timeout, a.force).map_err(|e| e.to_string())?;
            let what = format!(
                "Revert `{}` to snapshot `{}` (its disks and {} are replaced)",
                a.vm,
                a.name.as_deref().unwrap_or_default(),
                if sub.libvirt.is_some() { "domain XML" } else { "vm.cfg" }
            );
            (c, ask(what))
        }
    };
    Ok(Made::Run { changes, show: true, confirm })
}

/// `snapshot list`: one row per snapshot, oldest first.
fn print_list(mine: &[SnapshotInfo]) {
    let text = crate::render::snapshots::table(mine);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
