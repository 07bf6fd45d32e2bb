//! The command line: it parses arguments and hands each command to its module, which loads the
//! desired state and names an intent for the engine. Results go to stdout, diagnostics and logs
//! to stderr; exit codes are a contract kept in one place ([`exit_code`]): 0 success, 1 error
//! (2 = changes pending, with `plan --detailed-exitcode`; `reconcile`: 3 changes left,
//! 4 a host locked, 5 a host unreachable).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Diagnostic;
use crate::engine::Outcome;
use crate::manifest;
use crate::model::select::{Selection, Shard};

mod apply;
mod args;
mod console;
mod demo;
mod import;
mod licence;
mod list;
mod plan;
mod power;
mod reconcile;
mod snapshot;
mod vnc;

/// Declarative, agentless reconciler for Xen / Oracle VM 3 hosts.
#[derive(Debug, Parser)]
#[command(name = "domform", version, about)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); plans and apply reports unfolded.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Colour in human output: `auto` (a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// SSH handshakes in flight at once, whatever `--parallel` says (0: four per CPU core).
    #[arg(long, global = true, help_heading = "Global options", default_value_t = 0, value_name = "N")]
    pub max_handshakes: usize,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Which hosts a command works on (Ansible's `--limit` habits, plus a stable split for N runners).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Choose {
    /// Only these hosts (or managers): names, `ovs-fra-*` patterns, or labels `key=value`
    /// (repeatable; commas too).
    #[arg(long = "limit", visible_alias = "host", value_name = "TERM")]
    pub limit: Vec<String>,
    /// Leave out these hosts (the same terms as --limit; repeatable).
    #[arg(long, value_name = "TERM")]
    pub exclude: Vec<String>,
    /// Only shard I of N (1-based, as GitLab's CI_NODE_INDEX/CI_NODE_TOTAL): a stable split of
    /// the chosen hosts by name, so N runners cover an estate without overlap.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

impl Choose {
    /// The selection for [`crate::model::select`].
    pub fn selection(&self) -> Selection {
        Selection { limit: self.limit.clone(), exclude: self.exclude.clone(), shard: self.shard }
    }

    /// Whether anything was given.
    pub fn is_empty(&self) -> bool {
        self.limit.is_empty() && self.exclude.is_empty() && self.shard.is_none()
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
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
        /// Which hosts.
        #[command(flatten)]
        choose: Choose,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Table: every column whole (UUID, vm.cfg path), not fitted to 100 columns.
        #[arg(long)]
        wide: bool,
        /// Hosts read at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// Read every host, diff against the desired state, print the ordered plan. Changes nothing.
    Plan {
        /// Desired-state file or directory (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Which hosts and managers.
        #[command(flatten)]
        choose: Choose,
        /// Only changes of these VMs (repeatable).
        #[arg(long = "target")]
        target: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
        /// Also save the plan (JSON) for `apply PLANFILE`.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// `--format markdown` only: cut host details to fit N characters, keeping the summary,
        /// the table, every error and the plan file's hash (GitHub comments: 65536).
        #[arg(long, value_name = "N")]
        max_chars: Option<usize>,
        /// Exit 0 when nothing would change, 2 when something would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Hosts read at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// Execute a fresh plan (after confirmation) or a saved one, under each host's lock.
    Apply {
        /// A plan saved with `plan -o`; refused when a host changed since.
        planfile: Option<PathBuf>,
        /// Desired-state file or directory (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Which hosts and managers.
        #[command(flatten)]
        choose: Choose,
        /// Only changes of these VMs (repeatable).
        #[arg(long = "target")]
        target: Vec<String>,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Hosts worked on at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// For schedules: lock, observe, plan, make only what the YAML's `reconcile:` policy lets
    /// it fix unattended, report the rest. Exit 0 converged, 1 error, 3 changes left, 4 a host
    /// locked, 5 a host unreachable (docs/reconcile.md).
    Reconcile {
        /// Desired-state file or directory (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Which hosts and managers.
        #[command(flatten)]
        choose: Choose,
        /// Only changes of these VMs (repeatable).
        #[arg(long = "target")]
        target: Vec<String>,
        /// Plan and report only: read without locks, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the run report (JSON, versioned) to FILE.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write Prometheus text format to FILE (atomically; node_exporter's textfile collector).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
        /// Wait up to SECS for a host lock another apply holds, instead of reporting it locked.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        lock_timeout: u64,
        /// Hosts worked on at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// Start a VM by its simple name (`xm create` on its vm.cfg).
    Start(args::StartArgs),
    /// Stop a VM by its simple name (clean shutdown; `--force` destroys after the timeout).
    Stop(args::StopArgs),
    /// Stop, then start a VM by its simple name.
    Restart(args::StopArgs),
    /// Write YAML describing the VMs a host runs now (planning it shows no changes).
    Import {
        /// The host (declared in the desired state).
        #[arg(long)]
        host: String,
        /// Desired-state file or directory with the host (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Read these Oracle VM vm.cfg files (on this machine) instead of the host, and declare
        /// their VMs on `--host`, a libvirt host (repeatable; docs/libvirt.md).
        #[arg(long = "from-vm-cfg", value_name = "FILE")]
        from_vm_cfg: Vec<PathBuf>,
    },
    /// Hard partitioning: physical cores in scope and licences per host and licence group.
    Licence {
        /// Desired-state file or directory (repeatable).
        #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
        files: Vec<PathBuf>,
        /// Only these hosts (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LicenceFormat::Table)]
        format: LicenceFormat,
        /// Hosts read at the same time.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
        /// Also write the core map as one self-contained HTML page (for audits; prints on A4).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Also write an evidence pack into this new folder: each host's raw outputs with UTC
        /// read times and SSH host key, the page, the JSON report, and MANIFEST.sha256.
        #[arg(long, value_name = "DIR")]
        evidence: Option<PathBuf>,
    },
    /// Reflink snapshots of a VM's disks (and vm.cfg, and optionally memory).
    #[command(subcommand)]
    Snapshot(args::SnapshotCli),
    /// Attach this terminal to a VM's Xen text console (`xm console` over SSH); Ctrl-] detaches.
    Console(ConsoleArgs),
    /// Forward a local port (127.0.0.1) through SSH to a VM's VNC console.
    Vnc(VncArgs),
    /// Run plan → apply → plan on a built-in simulated local host, in a temporary folder.
    Demo,
    /// Print the JSON Schema of the desired-state files (for editors).
    Schema,
    /// Print a shell completion script (e.g. `domform completions bash > /etc/bash_completion.d/domform`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `domform man | man -l -`).
    Man,
}

/// Arguments of start/stop/restart, as their runner reads them (parsed per subcommand in `args.rs`).
#[derive(Debug)]
pub struct PowerArgs {
    /// The VM's simple name (OVM_simple_name).
    pub name: String,
    /// Desired-state file or directory with the hosts (repeatable).
    pub files: Vec<PathBuf>,
    /// Only look on this host.
    pub host: Option<String>,
    /// Seconds a clean shutdown may take.
    pub timeout: u64,
    /// Destroy the VM when the clean shutdown times out.
    pub force: bool,
    /// With --force: do not ask for confirmation (needed without a terminal).
    pub auto_approve: bool,
}

/// `domform snapshot …`, as its runner reads it (parsed per subcommand in `args.rs`).
#[derive(Debug)]
pub enum SnapshotCmd {
    /// Take a snapshot now (a running VM is paused for the copies).
    Create(SnapshotArgs),
    /// List a VM's snapshots.
    List(SnapshotArgs),
    /// Put a VM's disks and vm.cfg back from a snapshot (stops it, takes a safety snapshot first).
    Revert(SnapshotArgs),
    /// Delete a domform-made snapshot.
    Delete(SnapshotArgs),
}

/// Arguments of the snapshot subcommands.
#[derive(Debug)]
pub struct SnapshotArgs {
    /// The VM's simple name.
    pub vm: String,
    /// The snapshot's name (create: default `auto-<UTC time>`).
    pub name: Option<String>,
    /// Desired-state file or directory with the hosts (repeatable).
    pub files: Vec<PathBuf>,
    /// Only look on this host.
    pub host: Option<String>,
    /// create: also checkpoint the VM's memory (`xm save -c`, `virsh save`); revert restores it.
    pub memory: bool,
    /// create: allow a full sparse copy where the file system cannot reflink.
    pub allow_full_copy: bool,
    /// revert, delete: do not ask for confirmation (needed without a terminal).
    pub auto_approve: bool,
    /// revert: seconds the clean shutdown may take.
    pub timeout: u64,
    /// revert: destroy the VM when the clean shutdown times out.
    pub force: bool,
}

/// Arguments of `console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// The VM's simple name (OVM_simple_name).
    pub name: String,
    /// Desired-state file or directory with the hosts (repeatable).
    #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
    pub files: Vec<PathBuf>,
    /// Only look on this host.
    #[arg(long)]
    pub host: Option<String>,
}

/// Arguments of `vnc`.
#[derive(Debug, clap::Args)]
pub struct VncArgs {
    /// The VM's simple name (OVM_simple_name).
    pub name: String,
    /// Desired-state file or directory with the hosts (repeatable).
    #[arg(short = 'f', long = "file", default_value = manifest::DEFAULT_FILE)]
    pub files: Vec<PathBuf>,
    /// Only look on this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Local port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub local_port: Option<u16>,
    /// Exit when the first connection closes (for scripts and tests).
    #[arg(long)]
    pub once: bool,
}

/// Output formats of `licence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LicenceFormat {
    /// Aligned text.
    Table,
    /// JSON document.
    Json,
    /// Comma-separated values.
    Csv,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// For people (colour on a terminal).
    Human,
    /// Versioned JSON (docs/plan-format.md).
    Json,
    /// For a pull-request comment: a table per host, then diff blocks.
    Markdown,
}

/// Output formats of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON document.
    Json,
}

/// Writes `text` to a temp file next to `path` and renames it over `path`, so a reader (a
/// monitor, a browser) never sees half a file; `Err` names the path.
pub(crate) fn write_atomic(path: &std::path::Path, text: &str) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// Entry point used by the binary.
pub fn main() -> ExitCode {
    exit_code(command(Cli::parse()))
}

/// The one place an [`Outcome`] becomes the process exit code.
pub fn exit_code(outcome: Outcome) -> ExitCode {
    ExitCode::from(outcome.code())
}

/// Runs the parsed command line.
fn command(cli: Cli) -> Outcome {
    anstream::ColorChoice::write_global(match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    init_logging(cli.verbose, cli.quiet);
    crate::render::set_verbose(cli.verbose > 0);
    crate::engine::progress::set_quiet(cli.quiet);
    crate::transport::gate::set_limit(cli.max_handshakes);
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::List { files, choose, format, wide, parallel } => {
            list::run(&files, &choose.selection(), format, wide, parallel)
        }
        Command::Plan { files, choose, target, format, out, max_chars, detailed_exitcode, parallel } => {
            let output = plan::Output { format, out: out.as_deref(), max_chars, detailed: detailed_exitcode };
            plan::run(&files, &choose.selection(), &target, &output, parallel)
        }
        Command::Apply { planfile, files, choose, target, auto_approve, parallel } => {
            apply::run(planfile.as_deref(), &files, &choose, &target, auto_approve, parallel)
        }
        Command::Reconcile { files, choose, target, dry_run, report, metrics, lock_timeout, parallel } => {
            reconcile::run(&reconcile::Args {
                files: &files,
                choose: &choose,
                target: &target,
                dry_run,
                report: report.as_deref(),
                metrics: metrics.as_deref(),
                lock_timeout,
                parallel,
            })
        }
        Command::Start(a) => power::run(power::Verb::Start, &a.into()),
        Command::Stop(a) => power::run(power::Verb::Stop, &a.into()),
        Command::Restart(a) => power::run(power::Verb::Restart, &a.into()),
        Command::Import { host, files, out, from_vm_cfg } => import::run(&host, &files, out.as_deref(), &from_vm_cfg),
        Command::Licence { files, hosts, format, parallel, html, evidence } => {
            licence::run(&files, &hosts, format, parallel, &licence::Outputs { html, evidence })
        }
        Command::Snapshot(cmd) => snapshot::run(&cmd.into()),
        Command::Console(a) => console::run(&a),
        Command::Vnc(a) => vnc::run(&a),
        Command::Demo => demo::run(),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when its writer fails (`| head`).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "domform", &mut buf);
            let _ = std::io::stdout().lock().write_all(&buf);
            Outcome::Ok
        }
        Command::Man => {
            let mut buf = Vec::new();
            match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut buf) {
                Ok(()) => {
                    let _ = std::io::stdout().lock().write_all(&buf);
                    Outcome::Ok
                }
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "error: cannot render the man page: {e}");
                    Outcome::Failed
                }
            }
        }
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", schema_json());
            Outcome::Ok
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
        .with_ansi(crate::render::stderr_color())
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

/// Prints `error: <msg>` on stderr: once (a message that already starts with `error: ` is not
/// prefixed again) and escaped, since messages carry names from hosts (render::escape).
pub(crate) fn error(msg: &str) {
    crate::engine::error(msg);
}

pub(crate) fn print_diags(diags: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}\n");
    }
}

fn validate(files: &[PathBuf]) -> Outcome {
    match manifest::load(files) {
        Ok(model) => {
            print_diags(&model.warnings);
            let managers = match model.managers.len() {
                0 => String::new(),
                n => format!(", {n} manager(s)"),
            };
            let _ = writeln!(
                std::io::stdout().lock(),
                "valid: {} host(s), {} VM(s), {} licence group(s){managers}",
                model.hosts.len(),
                model.vms.len(),
                model.licences.len()
            );
            Outcome::Ok
        }
        Err(diags) => {
            print_diags(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(std::io::stderr().lock(), "error: {n} error(s); nothing was changed");
            Outcome::Failed
        }
    }
}

/// The Xen hosts to work on: all, or those chosen (a name that matches nothing is an error).
pub(crate) fn select_hosts(model: &crate::model::Model, sel: &Selection) -> Result<Vec<String>, Outcome> {
    chosen(model, sel, false)
}

/// Checks `--target` names: each must be a declared VM (or manager); an unknown one is an
/// error with a "did you mean" (it once planned nothing and said "No changes", exit 0).
pub(crate) fn check_targets(model: &crate::model::Model, targets: &[String]) -> Result<(), Outcome> {
    let known: Vec<&str> = model.vms.keys().chain(model.managers.keys()).map(String::as_str).collect();
    let mut ok = true;
    for t in targets.iter().filter(|t| !known.contains(&t.as_str())) {
        let hint = crate::diag::did_you_mean(t, &known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
        error(&format!("unknown target `{t}`{hint}: --target takes the name of a declared VM"));
        ok = false;
    }
    if ok {
        Ok(())
    } else {
        Err(Outcome::Failed)
    }
}

/// The hosts and Oracle VM Manager hosts `plan` and `apply` work on: all, or those chosen with
/// `--limit`, `--exclude` and `--shard` (see [`crate::model::select`]).
pub(crate) fn select_targets(model: &crate::model::Model, sel: &Selection) -> Result<Vec<String>, Outcome> {
    chosen(model, sel, true)
}

fn chosen(model: &crate::model::Model, sel: &Selection, managers: bool) -> Result<Vec<String>, Outcome> {
    match crate::model::select::select(model, sel, managers) {
        Ok(hosts) => {
            if hosts.is_empty() {
                if let Some(s) = sel.shard {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "note: shard {}/{} holds none of the chosen hosts",
                        s.index,
                        s.total
                    );
                }
            }
            Ok(hosts)
        }
        Err(e) => {
            error(&e);
            Err(Outcome::Failed)
        }
    }
}
