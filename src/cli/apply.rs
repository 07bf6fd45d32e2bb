//! `domform apply [PLANFILE]`: arguments to an [`Intent::Apply`] run.

use std::path::{Path, PathBuf};

use super::{load_or_report, select_targets};
use crate::engine::{self, Intent, Outcome, Request};
use crate::observe::fleet::default_connector;

/// Plans (or checks a saved plan) under the host locks, confirms, executes, reports.
pub fn run(
    planfile: Option<&Path>,
    files: &[PathBuf],
    choose: &super::Choose,
    target: &[String],
    auto_approve: bool,
    parallel: usize,
) -> Outcome {
    let Some(mut model) = load_or_report(files) else { return Outcome::Failed };
    crate::ops::resolve_secrets(&mut model);
    let saved = match planfile.map(engine::saved::read).transpose() {
        Ok(p) => p,
        Err(e) => {
            engine::error(&e);
            return Outcome::Failed;
        }
    };
    let wanted = match &saved {
        Some(_) if !choose.is_empty() => {
            engine::error("a saved plan names its own hosts; --limit, --exclude and --shard belong to `domform plan`");
            return Outcome::Failed;
        }
        Some(p) => crate::model::select::Selection::only(&p.hosts.iter().map(|h| h.host.clone()).collect::<Vec<_>>()),
        None => choose.selection(),
    };
    if let Err(code) = super::check_targets(&model, target) {
        return code;
    }
    let hosts = match select_targets(&model, &wanted) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let req = Request { model: &model, hosts, targets: target, parallel, connect: &default_connector };
    engine::run(&req, &Intent::Apply { saved, auto_approve })
}
