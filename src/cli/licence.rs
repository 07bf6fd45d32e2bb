//! `domform licence`: physical cores in scope and licences per host and licence group, from
//! what the hosts run now (vm.cfg pinning and live affinity). Exits 1 on a violation, so it can
//! gate a pipeline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{load_or_report, select_hosts, LicenceFormat};
use crate::observe::fleet::{default_connector, observe_hosts};
use crate::render::licence as render;

/// Observes and reports.
pub fn run(files: &[PathBuf], only: &[String], format: LicenceFormat, parallel: usize) -> ExitCode {
    let Some(model) = load_or_report(files) else { return ExitCode::FAILURE };
    if model.licences.is_empty() {
        let _ = writeln!(std::io::stderr(), "error: no `licences:` groups are declared; nothing to count");
        return ExitCode::FAILURE;
    }
    let hosts = match select_hosts(&model, only) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let results = observe_hosts(&model, &hosts, parallel, &default_connector);
    let mut failed = false;
    let mut observed = Vec::new();
    for r in &results {
        match &r.observed {
            Ok(o) => {
                super::print_diags(&o.problems);
                observed.push(o);
            }
            Err(e) => {
                super::error(&e.to_string());
                failed = true;
            }
        }
    }
    let rows = crate::licence::report(&model, &observed);
    let text = match format {
        LicenceFormat::Table => render::table(&rows),
        LicenceFormat::Json => render::json(&rows),
        LicenceFormat::Csv => render::csv(&rows),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    for r in rows.iter().filter(|r| r.violation || r.error.is_some()) {
        let _ = writeln!(
            std::io::stderr(),
            "error: licence group `{}` on {}: {} cores, max_cores {:?}",
            r.group,
            r.host,
            r.cores,
            r.max_cores
        );
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
