//! `domform licence`: physical cores in scope and licences per host and licence group, from
//! what the hosts run now (vm.cfg pinning and live affinity). Exits 1 on a violation, so it can
//! gate a pipeline. `--html` draws the core map; `--evidence` keeps what the count rests on.

use crate::engine::Outcome;
use std::io::Write;
use std::path::PathBuf;

use super::{load_or_report, select_hosts, LicenceFormat};
use crate::licence::evidence::{self, HostEvidence, Target};
use crate::licence::{html, map};
use crate::model::Model;
use crate::observe::fleet::{default_connector, observe_hosts, HostResult};
use crate::render::licence as render;

/// Files to write besides the report on stdout.
#[derive(Debug, Default)]
pub struct Outputs {
    /// `--html FILE`.
    pub html: Option<PathBuf>,
    /// `--evidence DIR`.
    pub evidence: Option<PathBuf>,
}

fn utc_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The licensed VMs of one observed host, as evidence targets.
fn targets(model: &Model, obs: &crate::observe::Observed) -> Vec<Target> {
    let licensed: std::collections::BTreeSet<&str> =
        model.licences.values().flat_map(|l| l.vms.iter().map(String::as_str)).collect();
    obs.vms()
        .into_iter()
        .filter(|v| licensed.contains(v.simple_name.as_str()))
        .map(|v| Target {
            vm: v.simple_name.clone(),
            xen_name: v.xen_name.clone(),
            cfg: v.cfg.map(|c| c.path.clone()),
            running: v.domain.is_some(),
        })
        .collect()
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    super::write_atomic(path, text)
}

/// Prints each host's problems and, when an evidence pack is asked for, collects each host's
/// evidence over its session; `true` when a host failed.
fn read_evidence(model: &Model, results: &mut [HostResult], want_evidence: bool) -> (Vec<HostEvidence>, bool) {
    let mut failed = false;
    let mut packs: Vec<HostEvidence> = Vec::new();
    for r in results.iter_mut() {
        let HostResult { host, observed, session } = r;
        match observed {
            Ok(o) => {
                super::print_diags(&o.problems);
                if want_evidence {
                    let (Some(s), Some(h)) = (session.as_mut(), model.hosts.get(host.as_str())) else { continue };
                    match evidence::collect(s.transport(), h, &targets(model, o)) {
                        Ok(e) => packs.push(e),
                        Err(e) => {
                            let _ = writeln!(std::io::stderr(), "error: {e}");
                            failed = true;
                        }
                    }
                }
            }
            Err(e) => {
                super::error(&e.to_string());
                failed = true;
            }
        }
    }
    (packs, failed)
}

/// Observes and reports.
pub fn run(files: &[PathBuf], only: &[String], format: LicenceFormat, parallel: usize, outputs: &Outputs) -> Outcome {
    let Some(model) = load_or_report(files) else { return Outcome::Failed };
    if model.licences.is_empty() {
        let _ = writeln!(std::io::stderr(), "error: no `licences:` groups are declared; nothing to count");
        return Outcome::Failed;
    }
    let hosts = match select_hosts(&model, &crate::model::select::Selection::only(only)) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let generated = utc_now();
    let mut results = observe_hosts(&model, &hosts, parallel, &default_connector);
    let (packs, mut failed) = read_evidence(&model, &mut results, outputs.evidence.is_some());
    let observed: Vec<_> = results.iter().filter_map(|r| r.observed.as_ref().ok()).collect();
    let rows = crate::licence::report(&model, &observed);
    let text = match format {
        LicenceFormat::Table => render::table(&rows),
        LicenceFormat::Json => render::json(&rows),
        LicenceFormat::Csv => render::csv(&rows),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if outputs.html.is_some() || outputs.evidence.is_some() {
        let page = html::page(&map::maps(&model, &observed, &rows), &generated);
        if let Some(path) = &outputs.html {
            if let Err(e) = write_file(path, &page) {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                failed = true;
            }
        }
        if let Some(dir) = &outputs.evidence {
            match evidence::write_pack(dir, &packs, &page, &render::json(&rows), &generated) {
                Ok(files) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "evidence: {} files in {}; check with: (cd {} && sha256sum -c MANIFEST.sha256)",
                        files.len(),
                        dir.display(),
                        dir.display()
                    );
                }
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "error: {e}");
                    failed = true;
                }
            }
        }
    }
    for r in rows.iter().filter(|r| r.violation || r.error.is_some()) {
        let why = match (&r.error, r.max_cores) {
            (Some(e), _) => e.clone(),
            (None, Some(max)) => format!("{} cores in scope, more than max_cores {max}", r.cores),
            (None, None) => format!("{} cores in scope", r.cores),
        };
        super::error(&format!("licence group `{}` on {}: {why}", r.group, r.host));
        failed = true;
    }
    if failed {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}
