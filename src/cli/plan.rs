//! `domform plan`: arguments to a [`Intent::Plan`] run.

use std::path::{Path, PathBuf};

use super::{load_or_report, select_targets, PlanFormat};
use crate::engine::{self, Format, Intent, Outcome, Request};
use crate::observe::fleet::default_connector;

/// Observes, plans, prints; writes the plan file when asked.
pub fn run(
    files: &[PathBuf],
    limit: &[String],
    target: &[String],
    format: PlanFormat,
    out: Option<&Path>,
    detailed: bool,
    parallel: usize,
) -> Outcome {
    let Some(mut model) = load_or_report(files) else { return Outcome::Failed };
    crate::ops::resolve_secrets(&mut model);
    if let Err(code) = super::check_targets(&model, target) {
        return code;
    }
    let hosts = match select_targets(&model, limit) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let format = match format {
        PlanFormat::Human => Format::Human,
        PlanFormat::Json => Format::Json,
        PlanFormat::Markdown => Format::Markdown,
    };
    let req = Request { model: &model, hosts, targets: target, parallel, connect: &default_connector };
    engine::run(&req, &Intent::Plan { format, out, detailed })
}
