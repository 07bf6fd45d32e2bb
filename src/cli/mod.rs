//! The command line. Results go to stdout, diagnostics and logs to stderr; exit codes are a
//! contract: 0 success, 1 error (2 = changes pending, with `plan --detailed-exitcode`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Diagnostic;
use crate::manifest;

/// Declarative, agentless reconciler for Xen / Oracle VM 3 hosts.
#[derive(Debug, Parser)]
#[command(name = "domform", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate the desired state; no network.
    Validate {
        /// Desired-state file or directory of *.yaml files (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the desired-state files (for editors).
    Schema,
}

/// Entry point used by the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", schema_json());
            ExitCode::SUCCESS
        }
    }
}

/// The JSON Schema of a desired-state file, as committed in `schemas/domform.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(manifest::raw::RawFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

fn print_diags(diags: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}\n");
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    match manifest::load(files) {
        Ok(model) => {
            print_diags(&model.warnings);
            let _ = writeln!(
                std::io::stdout().lock(),
                "valid: {} host(s), {} VM(s), {} licence group(s)",
                model.hosts.len(),
                model.vms.len(),
                model.licences.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diags(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(std::io::stderr().lock(), "error: {n} error(s); nothing was changed");
            ExitCode::FAILURE
        }
    }
}
