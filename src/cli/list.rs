//! `domform list`.

use crate::engine::Outcome;
use std::io::Write;
use std::path::PathBuf;

use super::{load_or_report, print_diags, Format};
use crate::observe::fleet::{default_connector, observe_hosts};
use crate::render::list;

/// Observes the chosen hosts and prints every VM.
pub fn run(
    files: &[PathBuf],
    only: &crate::model::select::Selection,
    format: Format,
    wide: bool,
    parallel: usize,
) -> Outcome {
    let Some(model) = load_or_report(files) else { return Outcome::Failed };
    let hosts = match super::select_hosts(&model, only) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let results = observe_hosts(&model, &hosts, parallel, &default_connector);
    let mut rows = Vec::new();
    let mut failed = false;
    for r in &results {
        match &r.observed {
            Ok(obs) => {
                rows.extend(list::rows(obs));
                print_diags(&obs.problems);
                failed |= obs.problems.iter().any(|p| p.is_error());
            }
            Err(e) => {
                super::error(&e.to_string());
                failed = true;
            }
        }
    }
    let text = match format {
        Format::Table => list::table(&rows, wide),
        Format::Json => list::json(&rows) + "\n",
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if failed {
        Outcome::Failed
    } else {
        Outcome::Ok
    }
}
