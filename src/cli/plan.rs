//! `domform plan`: arguments to a [`Intent::Plan`] run.

use std::path::{Path, PathBuf};

use super::{load_or_report, select_targets, PlanFormat};
use crate::engine::{self, Format, Intent, Outcome, Request};
use crate::observe::fleet::default_connector;

/// What `plan` prints and saves.
pub struct Output<'a> {
    /// `--format`.
    pub format: PlanFormat,
    /// `-o FILE`.
    pub out: Option<&'a Path>,
    /// `--max-chars` (Markdown only).
    pub max_chars: Option<usize>,
    /// `--detailed-exitcode`.
    pub detailed: bool,
}

/// Observes, plans, prints; writes the plan file when asked.
pub fn run(
    files: &[PathBuf],
    choose: &crate::model::select::Selection,
    target: &[String],
    output: &Output<'_>,
    parallel: usize,
) -> Outcome {
    let Output { format, out, max_chars, detailed } = *output;
    if max_chars.is_some() && format != PlanFormat::Markdown {
        super::error("--max-chars applies to --format markdown only");
        return Outcome::Failed;
    }
    let Some(mut model) = load_or_report(files) else { return Outcome::Failed };
    crate::ops::resolve_secrets(&mut model);
    if let Err(code) = super::check_targets(&model, target) {
        return code;
    }
    let hosts = match select_targets(&model, choose) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let format = match format {
        PlanFormat::Human => Format::Human,
        PlanFormat::Json => Format::Json,
        PlanFormat::Markdown => Format::Markdown,
    };
    let req = Request { model: &model, hosts, targets: target, parallel, connect: &default_connector };
    engine::run(&req, &Intent::Plan { format, out, detailed, max_chars })
}
