//! Diagnostics: every user-facing error names where it comes from.
//!
//! A reconciler that edits hypervisors must never act on a half-understood file, so loading
//! collects *every* problem first (ripgrep's and cargo's habit) and fails once. Each
//! [`Diagnostic`] carries a [`Location`] (`file:line:col`) when it comes from a file, or a host
//! and command when it comes from a host, and renders cargo-style.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a desired-state file. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file as the user named it (or as found in a directory).
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Stops the run.
    Error,
    /// Reported, does not stop the run.
    Warning,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where, when known.
    pub location: Option<Location>,
    /// The offending key path, e.g. `vms.db01.memory`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at a location.
    pub fn error(location: Option<Location>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, location, path: path.into(), message: message.into(), help: None }
    }

    /// A warning at a location.
    pub fn warning(location: Option<Location>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(location, path, message) }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Diagnostic {
    /// The diagnostic without its leading `error: ` / `warning: ` (for a list that already
    /// says what its items are, such as a plan's errors: `error: error:` no more).
    pub fn body(&self) -> String {
        let full = self.to_string();
        let word = match self.severity {
            Severity::Error => "error: ",
            Severity::Warning => "warning: ",
        };
        full.strip_prefix(word).map(str::to_string).unwrap_or(full)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // Messages and key paths may hold names from hosts or files: nothing in them may drive
        // the terminal (render::escape).
        write!(f, "{word}: {}", crate::render::escape::indented(&self.message, "  "))?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", crate::render::escape::line(&self.path))?;
        }
        if let Some(loc) = &self.location {
            write!(f, "\n  --> {loc}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n   = help: {}", crate::render::escape::indented(help, "     "))?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line and column so output is stable across runs.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        a.location.cmp(&b.location).then_with(|| a.path.cmp(&b.path)).then_with(|| a.message.cmp(&b.message))
    });
}

/// The best "did you mean" candidate for a misspelt key, if one is close enough.
pub fn did_you_mean<'a>(got: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(got, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["memory", "vcpus", "maxvcpus", "cpus", "disks"];
        assert_eq!(did_you_mean("memroy", &keys), Some("memory"));
        assert_eq!(did_you_mean("vpcus", &keys), Some("vcpus"));
        assert_eq!(did_you_mean("colour", &keys), None);
    }

    #[test]
    fn renders_cargo_style() {
        let loc = Location { file: Arc::new(PathBuf::from("a.yaml")), line: 3, col: 5 };
        let d =
            Diagnostic::error(Some(loc), "vms.x.memroy", "unknown key `memroy`").with_help("did you mean `memory`?");
        assert_eq!(
            d.to_string(),
            "error: unknown key `memroy` (at `vms.x.memroy`)\n  --> a.yaml:3:5\n   = help: did you mean `memory`?"
        );
    }
}
