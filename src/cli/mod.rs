//! The command line. Results go to stdout, diagnostics and logs to stderr; exit codes are a
//! contract: 0 success, 1 error (2 = changes pending, with `plan --detailed-exitcode`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Diagnostic;
use crate::manifest;

mod list;

/// Declarative, agentless reconciler for Xen / Oracle VM 3 hosts.
#[derive(Debug, Parser)]
#[command(name = "domform", version, about)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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
    /// List every VM on every host by simple name, with state, memory and pinning.
    List {
        /// Desired-state file or directory (for the hosts; repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Only these hosts (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Hosts read at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// Print the JSON Schema of the desired-state files (for editors).
    Schema,
}

/// Output formats of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON document.
    Json,
}

/// Entry point used by the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::List { files, hosts, format, parallel } => list::run(&files, &hosts, format, parallel),
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

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

/// Loads the desired state or prints every diagnostic.
pub(crate) fn load_or_report(files: &[PathBuf]) -> Option<crate::model::Model> {
    match manifest::load(files) {
        Ok(model) => {
            print_diags(&model.warnings);
            Some(model)
        }
        Err(diags) => {
            print_diags(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(std::io::stderr().lock(), "error: {n} error(s) in the desired state; nothing was done");
            None
        }
    }
}

pub(crate) fn print_diags(diags: &[Diagnostic]) {
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

/// The hosts to work on: all, or those named with `--host` (each must be declared).
pub(crate) fn select_hosts(model: &crate::model::Model, only: &[String]) -> Result<Vec<String>, ExitCode> {
    if only.is_empty() {
        return Ok(model.hosts.keys().cloned().collect());
    }
    let known: Vec<&str> = model.hosts.keys().map(String::as_str).collect();
    for h in only {
        if !model.hosts.contains_key(h) {
            let hint =
                crate::diag::did_you_mean(h, &known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
            let _ =
                writeln!(std::io::stderr().lock(), "error: unknown host `{h}`{hint}; declared: {}", known.join(", "));
            return Err(ExitCode::FAILURE);
        }
    }
    Ok(only.to_vec())
}
