//! Loading desired state: files → located YAML tree → raw serde types → validated [`Model`].
//!
//! Steps, in order:
//! 1. [`load::read_all`] expands `-f` paths (a file, or a directory's `*.yaml`/`*.yml`, sorted),
//!    parses each into a located [`tree::Node`], and deserializes every host, VM and licence on
//!    its own, so one broken entry does not hide the errors of the next.
//! 2. [`crate::model::validate::validate`] checks meaning (references, CPU sets, sizes, names)
//!    and builds the typed model.
//! 3. Any error anywhere: the caller gets every diagnostic and no model.

pub mod events;
pub mod load;
pub mod raw;
pub mod raw_manager;
pub mod tree;

use std::path::PathBuf;

use crate::diag::{self, Diagnostic};
use crate::model::Model;

/// The default desired-state file.
pub const DEFAULT_FILE: &str = "domform.yaml";

/// Loads and validates. `Err` holds every error (and warning) found, sorted by location.
pub fn load(paths: &[PathBuf]) -> Result<Model, Vec<Diagnostic>> {
    let (loaded, mut diags) = load::read_all(paths);
    let result = crate::model::validate::validate(&loaded, &mut diags);
    diag::sort(&mut diags);
    match result {
        Some(mut model) if !diags.iter().any(Diagnostic::is_error) => {
            model.warnings = diags;
            Ok(model)
        }
        _ => Err(diags),
    }
}
