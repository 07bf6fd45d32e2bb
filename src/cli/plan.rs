//! `domform plan`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{load_or_report, select_targets, PlanFormat};
use crate::observe::fleet::{default_connector, Mode};
use crate::render::plan as render;

/// Observes, plans, prints; writes the plan file when asked.
pub fn run(
    files: &[PathBuf],
    limit: &[String],
    target: &[String],
    format: PlanFormat,
    out: Option<&Path>,
    detailed: bool,
    parallel: usize,
) -> ExitCode {
    let Some(mut model) = load_or_report(files) else { return ExitCode::FAILURE };
    crate::ops::resolve_secrets(&mut model);
    if let Err(code) = super::check_targets(&model, target) {
        return code;
    }
    let hosts = match select_targets(&model, limit) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let (mut plan, _results) = crate::ops::observe_and_plan(&model, &hosts, parallel, &default_connector, Mode::Read);
    plan.retain_targets(target);
    let text = match format {
        PlanFormat::Human => render::human(&plan, crate::render::stdout_color()),
        PlanFormat::Json => render::json(&plan) + "\n",
        PlanFormat::Markdown => render::markdown(&plan),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if let Some(path) = out {
        let sealed = crate::plan::saved::seal(&render::json(&plan)).map(|t| t + "\n");
        if let Err(e) = sealed.and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string())) {
            let _ = writeln!(std::io::stderr(), "error: cannot write the plan to {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        let _ = writeln!(
            std::io::stderr(),
            "Saved the plan to {}; apply it with: domform apply {}",
            path.display(),
            path.display()
        );
    }
    if plan.has_errors() {
        for e in plan.hosts.iter().flat_map(|h| &h.errors) {
            super::error(e);
        }
        ExitCode::FAILURE
    } else if detailed && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
