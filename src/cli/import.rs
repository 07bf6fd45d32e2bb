//! `domform import --host H`: adopt an existing estate. Writes the `vms:` YAML for what the host
//! runs now, so that planning it right away shows no changes. The reading itself is the
//! planner's (`plan/import.rs`); this file observes, prints and sets the exit code.

use crate::engine::Outcome;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::load_or_report;
use crate::observe::fleet::{default_connector, observe_hosts};
use crate::plan::import::import_yaml;

/// Observes the host and writes the YAML.
pub fn run(host: &str, files: &[PathBuf], out: Option<&Path>) -> Outcome {
    let Some(model) = load_or_report(files) else { return Outcome::Failed };
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
    let (text, skipped) = import_yaml(host, obs);
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
        Some(p) => match std::fs::write(p, &text) {
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
