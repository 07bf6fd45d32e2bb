//! `domform import --host H`: adopt an existing estate. Writes the `vms:` YAML for what the host
//! runs now, so that planning it right away shows no changes. The reading itself is the
//! planner's (`plan/import.rs`); this file observes, prints and sets the exit code.

use crate::engine::Outcome;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::load_or_report;
use crate::observe::fleet::{default_connector, observe_hosts};
use crate::plan::import::import_yaml;

/// Observes the host and writes the YAML (or reads `from_vm_cfg` files for a libvirt host).
pub fn run(host: &str, files: &[PathBuf], out: Option<&Path>, from_vm_cfg: &[PathBuf]) -> Outcome {
    let Some(model) = load_or_report(files) else { return Outcome::Failed };
    if !from_vm_cfg.is_empty() {
        return from_cfgs(&model, host, out, from_vm_cfg);
    }
    let hosts = match super::select_hosts(&model, &crate::model::select::Selection::only(&[host.to_string()])) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let results = observe_hosts(&model, &hosts, 1, &default_connector);
    let Some(obs) = results.first().and_then(|r| r.observed.as_ref().ok()) else {
        if let Some(Err(e)) = results.first().map(|r| &r.observed) {
            super::error(&e.to_string());
        }
        return Outcome::Failed;
    };
    if let Some(why) = obs.unreadable() {
        super::error(&why);
        return Outcome::Failed;
    }
    super::print_diags(&obs.problems);
    let (text, skipped) = match &obs.libvirt {
        Some(lv) => crate::target::libvirt::import::host_yaml(host, lv),
        None => import_yaml(host, obs),
    };
    write(host, out, &text, skipped)
}

/// `--from-vm-cfg`: vm.cfg files read here, declared on the libvirt host `host`.
fn from_cfgs(model: &crate::model::Model, host: &str, out: Option<&Path>, cfgs: &[PathBuf]) -> Outcome {
    match model.hosts.get(host) {
        Some(h) if h.toolstack == crate::model::Toolstack::Libvirt => {}
        Some(_) => {
            super::error(&format!(
                "--from-vm-cfg declares VMs on a libvirt host; `{host}` is not `toolstack: libvirt`"
            ));
            return Outcome::Failed;
        }
        None => {
            super::error(&format!("unknown host `{host}`"));
            return Outcome::Failed;
        }
    }
    let mut texts = Vec::new();
    for f in cfgs {
        match std::fs::read_to_string(f) {
            Ok(t) => texts.push((f.display().to_string(), t)),
            Err(e) => {
                super::error(&format!("cannot read {}: {e}", f.display()));
                return Outcome::Failed;
            }
        }
    }
    let (text, skipped) = crate::target::libvirt::import::vm_cfg_yaml(host, &texts);
    write(host, out, &text, skipped)
}

/// Writes the YAML to `out` or stdout; skipped VMs make it exit 1.
fn write(host: &str, out: Option<&Path>, text: &str, skipped: usize) -> Outcome {
    // Skipped VMs are an error (exit 1) after the YAML is written: an import that left VMs out
    // must not look complete to a script.
    let done = || {
        if skipped == 0 {
            return Outcome::Ok;
        }
        super::error(&format!(
            "{skipped} VM(s) on {host} could not be imported; each is named in a `# skipped` comment of the output"
        ));
        Outcome::Failed
    };
    match out {
        Some(p) => match std::fs::write(p, text) {
            Ok(()) => done(),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: cannot write {}: {e}", p.display());
                Outcome::Failed
            }
        },
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            done()
        }
    }
}
