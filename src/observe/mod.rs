//! Reading hosts: one exec per host, parsed into typed [`Observed`] facts; hosts in parallel.
//!
//! Steps, per host: build the script ([`script`]), run it once through the [`Transport`], split
//! the output ([`sections`]), parse each section (xm formats in [`crate::xen`], vm.cfg with the
//! `vmcfg` crate). A vm.cfg that does not parse is a located problem (host, file, line), never a
//! silent skip; a host that does not answer is an error for that host while the others finish.

pub mod fleet;
pub mod lock;
pub mod script;
pub mod sections;
mod xl;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vmcfg::VmCfg;

use crate::diag::{Diagnostic, Location};
use crate::model::{CpuSet, Host};
use crate::transport::{Limit, Transport, TransportError};
use crate::xen::{self, Domain, HostInfo};
pub use script::ObserveRequest;
use sections::Section;

/// A vm.cfg found on a host.
#[derive(Debug, Clone)]
pub struct CfgFile {
    /// Absolute path on the host.
    pub path: String,
    /// The exact text (for minimal edits and diffs).
    pub text: String,
    /// Parsed.
    pub cfg: VmCfg,
}

/// A disk file's size on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSize {
    /// Apparent size in bytes.
    pub size: u64,
    /// Allocated bytes (sparse files allocate less).
    pub allocated: u64,
}

/// A repository on a host.
#[derive(Debug, Clone, Default)]
pub struct Repository {
    /// Root path.
    pub path: String,
    /// Mounted and readable.
    pub exists: bool,
    /// File system type (`ocfs2`, `xfs`, `nfs`).
    pub fs_type: Option<String>,
    /// Free bytes.
    pub free_bytes: Option<u64>,
    /// `OVS_REPO_ALIAS` from `.ovsrepo`.
    pub alias: Option<String>,
    /// Snapshot folders `<repo>/Snapshots/<vm>/<snapshot>`.
    pub snapshots: Vec<String>,
}

/// A snapshot found on a host (`<repo>/Snapshots/<vm>/<name>/manifest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot folder.
    pub dir: String,
    /// VM simple name.
    pub vm: String,
    /// Snapshot name.
    pub name: String,
    /// UTC time it was taken (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
    /// Made by domform (so retention may prune it).
    pub made_by_domform: bool,
    /// The VM was running when it was taken.
    pub running: bool,
    /// The original vm.cfg path.
    pub cfg: String,
    /// Memory checkpoint file inside the folder, if any.
    pub memory: Option<String>,
    /// (original path, file inside the folder, size).
    pub disks: Vec<(String, String, u64)>,
    /// Apparent and allocated bytes of the files in the folder (disk copies, memory, vm.cfg):
    /// reflinked and sparse copies allocate less than their size. `None` when not read.
    pub space: Option<FileSize>,
}

impl SnapshotInfo {
    /// Parses a manifest (`key=value` lines; `disk=orig|file|size`) found at `<dir>/manifest`.
    ///
    /// The manifest is data to check, never a list of targets (anyone who can write to the
    /// repository can plant one): the VM and snapshot names come from the folder
    /// (`…/Snapshots/<vm>/<name>`) and must agree with the manifest's; every file it names
    /// must be a plain name inside the folder (`disks/NN-<file>`, `memory.save`). Which disks a
    /// revert writes is decided from the VM's own vm.cfg, or a libvirt domain's current persistent
    /// XML (`plan::snapshot::targets_of`).
    pub fn parse(dir: &str, text: &str) -> Result<SnapshotInfo, String> {
        let dir = dir.trim_end_matches('/');
        let mut parts = dir.rsplit('/');
        let (Some(name), Some(vm)) = (parts.next(), parts.next()) else {
            return Err("a snapshot folder is `<repository>/Snapshots/<vm>/<name>`".into());
        };
        let mut s = SnapshotInfo { dir: dir.to_string(), vm: vm.into(), name: name.into(), ..SnapshotInfo::default() };
        let esc = |v: &str| v.escape_debug().to_string();
        for (i, line) in text.lines().enumerate() {
            let Some((k, v)) = line.split_once('=') else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(format!("line {}: not key=value", i + 1));
            };
            let at = i + 1;
            match k {
                "vm" if v != s.vm => {
                    return Err(format!("line {at}: says vm={} but the folder belongs to `{}`", esc(v), esc(&s.vm)))
                }
                "name" if v != s.name => {
                    return Err(format!("line {at}: says name={} but the folder is `{}`", esc(v), esc(&s.name)))
                }
                "created" => s.created = v.into(),
                "made_by" => s.made_by_domform = v == "domform",
                "running" => s.running = v == "true",
                "cfg" => s.cfg = v.into(),
                "memory" if !v.is_empty() => {
                    if !plain_file(v) {
                        return Err(format!("line {at}: memory file {} is not a plain name in the folder", esc(v)));
                    }
                    s.memory = Some(v.into())
                }
                "disk" => {
                    let mut it = v.splitn(3, '|');
                    match (it.next(), it.next(), it.next().and_then(|n| n.parse().ok())) {
                        (Some(o), Some(f), Some(n)) => {
                            let inside = f.strip_prefix("disks/").is_some_and(plain_file);
                            if !inside {
                                return Err(format!(
                                    "line {at}: disk file {} is not `disks/<file>` inside the snapshot folder",
                                    esc(f)
                                ));
                            }
                            s.disks.push((o.into(), f.into(), n))
                        }
                        _ => return Err(format!("line {at}: a disk line is `disk=original|file|size`")),
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }
}

/// A file name with no folder part, not `.` or `..`, no control characters.
fn plain_file(f: &str) -> bool {
    !f.is_empty() && f != "." && f != ".." && !f.contains('/') && !f.chars().any(char::is_control)
}

/// Everything read from one host.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Host name.
    pub host: String,
    /// `xm info -n`.
    pub info: Option<HostInfo>,
    /// Running domains, Domain-0 included.
    pub domains: Vec<Domain>,
    /// vm.cfg files that parsed.
    pub cfgs: Vec<CfgFile>,
    /// Repositories.
    pub repos: Vec<Repository>,
    /// Snapshots with a manifest, in every repository.
    pub snapshots: Vec<SnapshotInfo>,
    /// Files by path: VirtualDisks contents and the extra paths asked for.
    pub files: BTreeMap<String, FileSize>,
    /// Symbolic links in the repositories' VirtualDisks/, VirtualMachines/ and Snapshots/
    /// (domform writes through none of them unless declared: see `plan::paths`).
    pub links: std::collections::BTreeSet<String>,
    /// What could not be read or parsed, located.
    pub problems: Vec<Diagnostic>,
    /// What apply recorded for each VM it changed (`<repo>/.domform-applied/*.json`), by path,
    /// unparsed: the planner reads them (`plan::cause`).
    pub applied: BTreeMap<String, String>,
    /// For an Oracle VM Manager host: its WebLogic domain's data sources.
    pub manager: Option<crate::target::manager::ManagerObserved>,
    /// For a libvirt host: every defined domain's XML and state (`target::libvirt`).
    pub libvirt: Option<crate::target::libvirt::observe::LibvirtObserved>,
    /// Round trips used.
    pub execs: usize,
    /// Wall time of the exec.
    pub elapsed: Duration,
}

/// One VM as seen on a host: its vm.cfg, its running domain, or both.
#[derive(Debug, Clone)]
pub struct VmView<'a> {
    /// `OVM_simple_name`, else the vm.cfg / domain name.
    pub simple_name: String,
    /// Xen domain name (vm.cfg `name`).
    pub xen_name: String,
    /// vm.cfg, when there is one.
    pub cfg: Option<&'a CfgFile>,
    /// The running domain, when there is one.
    pub domain: Option<&'a Domain>,
}

impl Observed {
    /// VMs on this host: every vm.cfg joined with its domain by name, then domains without a
    /// vm.cfg under the observed repositories. Domain-0 is not included.
    pub fn vms(&self) -> Vec<VmView<'_>> {
        let by_name: std::collections::HashMap<&str, &Domain> = self
            .domains
            .iter()
            .filter(|d| d.id != Some(0) && d.name != "Domain-0")
            .map(|d| (d.name.as_str(), d))
            .collect();
        let mut out = Vec::with_capacity(self.cfgs.len());
        let mut joined = std::collections::HashSet::new();
        for cfg in &self.cfgs {
            let xen_name = cfg.cfg.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let simple = cfg
                .cfg
                .get("OVM_simple_name")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| xen_name.clone());
            let domain = by_name.get(xen_name.as_str()).copied();
            if domain.is_some() {
                joined.insert(xen_name.clone());
            }
            out.push(VmView { simple_name: simple, xen_name, cfg: Some(cfg), domain });
        }
        // A libvirt host has no vm.cfg: each defined domain is a VM, running or not, called by
        // the simple name in domform's metadata when it has one.
        for d in self.libvirt.iter().flat_map(|lv| &lv.domains) {
            let simple = d.def.as_ref().and_then(|x| x.simple_name.clone()).unwrap_or_else(|| d.name.clone());
            let domain = by_name.get(d.name.as_str()).copied();
            joined.insert(d.name.clone());
            out.push(VmView { simple_name: simple, xen_name: d.name.clone(), cfg: None, domain });
        }
        for d in by_name.values() {
            if !joined.contains(&d.name) {
                out.push(VmView { simple_name: d.name.clone(), xen_name: d.name.clone(), cfg: None, domain: Some(d) });
            }
        }
        out.sort_by(|a, b| a.simple_name.cmp(&b.simple_name).then_with(|| a.xen_name.cmp(&b.xen_name)));
        out
    }

    /// Why this host's facts cannot be trusted for an imperative command (start, stop, restart,
    /// snapshot, console, vnc, import): an output that did not parse or a command that failed.
    /// With an unparsed `xm list -l`, `stop` once said "already stopped" and `start` ran `xm
    /// create` on a running domain; like `plan`, these commands refuse such a host.
    pub fn unreadable(&self) -> Option<String> {
        let mut why: Vec<String> = self.problems.iter().filter(|p| p.is_error()).map(|p| p.body()).collect();
        if self.info.is_none() && why.is_empty() {
            why.push(format!("{}: the host could not be read completely", self.host));
        }
        (!why.is_empty())
            .then(|| format!("host {} cannot be read, so nothing is done on it:\n{}", self.host, why.join("\n")))
    }

    /// The pinning a VM's configuration gives each vCPU: vm.cfg's `cpus` (expanded to its
    /// `maxvcpus`/`vcpus`), or a libvirt domain's `<cputune>`, which pins the VM only when it pins
    /// every vCPU (an unpinned vCPU runs anywhere). `None`: not pinned.
    pub fn configured_pins(&self, v: &VmView<'_>) -> Option<Vec<crate::model::CpuSet>> {
        if let Some(c) = v.cfg {
            let n = c.cfg.get("maxvcpus").or_else(|| c.cfg.get("vcpus")).and_then(|v| v.as_int()).unwrap_or(1).max(1);
            return c.cfg.get("cpus").and_then(|p| crate::plan::desired::cfg_pinning(p, n as usize));
        }
        let def = self.libvirt_def(&v.xen_name)?;
        let mut pins = def.pins.clone();
        pins.sort_by_key(|(i, _)| *i);
        let every = pins.len() == def.vcpus as usize && pins.iter().enumerate().all(|(i, (v, _))| *v as usize == i);
        (every && !pins.is_empty()).then(|| pins.into_iter().map(|(_, s)| s).collect())
    }

    /// A libvirt domain's persistent definition, by domain name.
    pub fn libvirt_def(&self, name: &str) -> Option<&crate::libvirt::domain::Domain> {
        self.libvirt.as_ref()?.domains.iter().find(|d| d.name == name)?.def.as_ref()
    }

    /// Domain-0, when listed.
    pub fn dom0(&self) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == Some(0) || d.name == "Domain-0")
    }
}

/// What the request for a host is, from the model.
pub fn request_for(host: &Host, extra_paths: Vec<String>) -> ObserveRequest {
    ObserveRequest {
        toolstack: host.toolstack,
        uri: host.uri.clone(),
        repositories: host.repositories.clone(),
        extra_paths,
    }
}

/// Reads one host with exactly one exec (no time limit).
pub fn observe(t: &mut dyn Transport, req: &ObserveRequest) -> Result<Observed, TransportError> {
    observe_limited(t, req, None)
}

/// Reads one host with exactly one exec, giving up after `limit` (`observe_timeout`): then the
/// error names what was running and what had finished.
pub fn observe_limited(
    t: &mut dyn Transport,
    req: &ObserveRequest,
    limit: Option<Duration>,
) -> Result<Observed, TransportError> {
    let marker = script::new_marker();
    let limit = limit.map(Limit::total);
    let text = script::build_limited(req, &marker, limit.as_ref().map(Limit::host_secs));
    let start = Instant::now();
    let out = t.exec_limited(&text, &[], limit.as_ref())?;
    let elapsed = start.elapsed();
    let stdout = out.stdout_text();
    if let Some(l) = limit.as_ref().filter(|_| out.timed_out || timed_out_on_host(&stdout, &marker)) {
        return Err(timed_out(t.host(), "observe", l.after, &script::progress(req, &stdout, &marker)));
    }
    // A connection lost mid-observe leaves a partial picture: an error to try again, never a
    // host to plan from (fleet retries it).
    if let Some(lost) = &out.lost {
        return Err(TransportError::Exec {
            host: t.host().to_string(),
            command: "observe".into(),
            message: format!("{lost} after {:.1} s, {} bytes in", elapsed.as_secs_f64(), out.stdout.len()),
        });
    }
    let mut obs = parse(t.host(), &stdout, &marker, req);
    if out.status != 0 && obs.info.is_none() {
        obs.problems
            .push(host_problem(t.host(), format!("observe script exited {}: {}", out.status, out.stderr_text())));
    }
    obs.execs = 1;
    obs.elapsed = elapsed;
    Ok(obs)
}

/// The host-side watchdog fired: the script printed its `timeout` line.
pub fn timed_out_on_host(stdout: &str, marker: &str) -> bool {
    sections::split(stdout, marker).iter().any(|s| s.kind == "timeout")
}

/// `host X: observe timed out after N s (observe_timeout) while running …`.
pub fn timed_out(host: &str, what: &str, after: Duration, progress: &str) -> TransportError {
    TransportError::TimedOut {
        host: host.to_string(),
        message: format!("{what} timed out after {} s (observe_timeout) {progress}", after.as_secs()),
    }
}

fn host_problem(host: &str, message: String) -> Diagnostic {
    Diagnostic::error(None, host, format!("{host}: {message}"))
}

/// Parses the script's output (pure; tested without a host).
pub fn parse(host: &str, stdout: &str, marker: &str, req: &ObserveRequest) -> Observed {
    let mut obs = Observed { host: host.to_string(), ..Observed::default() };
    let mut repos: BTreeMap<String, Repository> =
        req.repositories.iter().map(|r| (r.clone(), Repository { path: r.clone(), ..Repository::default() })).collect();
    let tool = crate::model::Tool::with_uri(req.toolstack, &req.uri).name();
    let libvirt = req.toolstack == crate::model::Toolstack::Libvirt;
    let mut lv = crate::target::libvirt::observe::Acc::default();
    let mut brief = None;
    let mut vcpus = None;
    let mut snap_files = Vec::new();
    for sec in sections::split(stdout, marker) {
        let failed = sec.status != Some(0);
        if libvirt && crate::target::libvirt::observe::section(&mut lv, &sec, &mut obs) {
            continue;
        }
        match sec.kind.as_str() {
            "info" if failed => obs.problems.push(host_problem(host, cmd_failure(&format!("{tool} info -n"), &sec))),
            "info" => match xen::parse_xm_info(&sec.body) {
                Ok(i) => obs.info = Some(i),
                Err(e) => obs.problems.push(host_problem(host, format!("cannot parse `{tool} info -n` output: {e}"))),
            },
            "domains-sxp" if failed => obs.problems.push(host_problem(host, cmd_failure("xm list -l", &sec))),
            "domains-sxp" => match xen::parse_xm_list_long(&sec.body) {
                Ok(d) => obs.domains = d,
                Err(e) => obs.problems.push(host_problem(host, format!("cannot parse `xm list -l` output: {e}"))),
            },
            "list" if failed => obs.problems.push(host_problem(host, cmd_failure("xl list", &sec))),
            "list" => match xen::parse_xm_list(&sec.body) {
                Ok(d) => brief = Some(d),
                Err(e) => obs.problems.push(host_problem(host, format!("cannot parse `xl list` output: {e}"))),
            },
            "vcpus" if !failed => vcpus = Some(sec.body.clone()),
            "cfg" => cfg_section(host, &sec, &mut obs),
            "snapmanifest" if !failed => {
                let dir = sec.arg.trim_end_matches("/manifest");
                match SnapshotInfo::parse(dir, &sec.body) {
                    Ok(s) => obs.snapshots.push(s),
                    Err(e) => {
                        obs.problems.push(Diagnostic::warning(None, host, format!("{host}: snapshot {dir}: {e}")))
                    }
                }
            }
            "fs" | "ovsrepo" | "disks" | "snapshots" => {
                let Some(repo) = repos.get_mut(&sec.arg) else { continue };
                repo_section(&sec, repo, &mut obs.files);
            }
            "applied" if !failed => {
                obs.applied.insert(sec.arg.clone(), sec.body.clone());
            }
            // find exits 1 when one folder is unreadable; the lines it printed still hold.
            "snapfiles" => snap_files.extend(sec.body.lines().filter_map(parse_size_line)),
            "links" => obs.links.extend(sec.body.lines().filter(|l| !l.is_empty()).map(str::to_string)),
            "paths" => {
                for line in sec.body.lines() {
                    if let Some((path, size)) = parse_size_line(line) {
                        obs.files.insert(path, size);
                    }
                }
            }
            _ => {}
        }
    }
    snapshot_space(&mut obs.snapshots, &snap_files);
    if let Some(brief) = brief {
        xl_domains(&mut obs, brief, vcpus.as_deref());
    }
    if libvirt {
        crate::target::libvirt::observe::finish(lv, &mut obs);
    } else if obs.info.is_none() && !obs.problems.iter().any(|p| p.message.contains(" info")) {
        obs.problems.push(host_problem(host, "the observe output ended early (connection lost?)".into()));
    }
    set_repos(&mut obs, repos);
    obs
}

/// The repositories as read, each one that is not there a warning.
fn set_repos(obs: &mut Observed, repos: BTreeMap<String, Repository>) {
    for repo in repos.values().filter(|r| !r.exists) {
        let msg = format!("{}: repository {} is not mounted or not readable", obs.host, repo.path);
        obs.problems.push(Diagnostic::warning(None, &obs.host, msg));
    }
    obs.repos = repos.into_values().collect();
}

/// `xl`: the domains from `xl list` joined with `xl vcpu-list`'s affinity (xl has no SXP).
fn xl_domains(obs: &mut Observed, brief: Vec<xen::BriefDomain>, vcpus: Option<&str>) {
    let nr_cpus = obs.info.as_ref().map(|i| i.nr_cpus).unwrap_or(0);
    match vcpus.map(|v| xen::parse_vcpu_list(v, nr_cpus)).transpose() {
        Ok(rows) => obs.domains = xl::domains_from_brief(brief, rows.unwrap_or_default()),
        Err(e) => obs.problems.push(host_problem(&obs.host, format!("cannot parse `xl vcpu-list` output: {e}"))),
    }
}

fn cmd_failure(cmd: &str, sec: &Section) -> String {
    match sec.status {
        Some(rc) => format!("`{cmd}` failed with status {rc}: {}", sec.body.trim()),
        None => format!("`{cmd}` did not finish (connection lost?)"),
    }
}

fn cfg_section(host: &str, sec: &Section, obs: &mut Observed) {
    let file = Arc::new(PathBuf::from(format!("{host}:{}", sec.arg)));
    if sec.status != Some(0) {
        obs.problems.push(Diagnostic::error(
            Some(Location { file, line: 1, col: 1 }),
            host,
            format!("cannot read {}: {}", sec.arg, sec.body.trim()),
        ));
        return;
    }
    match VmCfg::parse(&sec.body) {
        Ok(cfg) => obs.cfgs.push(CfgFile { path: sec.arg.clone(), text: sec.body.clone(), cfg }),
        Err(e) => obs.problems.push(
            Diagnostic::error(
                Some(Location { file, line: e.line, col: e.col }),
                host,
                format!("vm.cfg does not parse: {}", e.message),
            )
            .with_help("domform leaves this VM alone until the file parses; fix it by hand or from OVM Manager"),
        ),
    }
}

/// Sums each snapshot folder's files (`find -printf '%s %b %p'` lines) into its `space`.
fn snapshot_space(snapshots: &mut [SnapshotInfo], files: &[(String, FileSize)]) {
    for snap in snapshots {
        let prefix = format!("{}/", snap.dir);
        let mut inside = files.iter().filter(|(p, _)| p.starts_with(&prefix)).map(|(_, f)| f).peekable();
        if inside.peek().is_some() {
            snap.space = Some(inside.fold(FileSize { size: 0, allocated: 0 }, |acc, f| FileSize {
                size: acc.size.saturating_add(f.size),
                allocated: acc.allocated.saturating_add(f.allocated),
            }));
        }
    }
}

fn parse_size_line(line: &str) -> Option<(String, FileSize)> {
    let mut it = line.splitn(3, ' ');
    let size = it.next()?.parse().ok()?;
    let blocks: u64 = it.next()?.parse().ok()?;
    let path = it.next()?.to_string();
    Some((path, FileSize { size, allocated: blocks.saturating_mul(512) }))
}

/// `stat -f -c %T` output as a name. A coreutils that predates a file system (5.97 on OL5)
/// prints `UNKNOWN (0x<magic>)`; OCFS2's magic is named here so OVM repositories read as `ocfs2`.
fn fs_type_name(line: &str) -> String {
    let t = line.trim();
    match t.strip_prefix("UNKNOWN (").and_then(|r| r.strip_suffix(')')) {
        Some(magic) if magic.eq_ignore_ascii_case("0x7461636f") => "ocfs2".into(),
        _ => t.to_string(),
    }
}

fn repo_section(sec: &Section, repo: &mut Repository, files: &mut BTreeMap<String, FileSize>) {
    let ok = sec.status == Some(0);
    match sec.kind.as_str() {
        "fs" if ok => {
            let mut lines = sec.body.lines();
            repo.exists = true;
            repo.fs_type = lines.next().map(fs_type_name);
            // df -P -k: Filesystem 1024-blocks Used Available Capacity Mounted-on
            repo.free_bytes = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|a| a.parse::<u64>().ok())
                .map(|k| k.saturating_mul(1024));
        }
        "ovsrepo" if ok => {
            repo.alias =
                sec.body.lines().find_map(|l| l.trim().strip_prefix("OVS_REPO_ALIAS=")).map(|a| a.trim().to_string());
        }
        "disks" if ok => {
            for line in sec.body.lines() {
                if let Some((path, size)) = parse_size_line(line) {
                    files.insert(path, size);
                }
            }
        }
        "snapshots" if ok => repo.snapshots = sec.body.lines().map(str::to_string).collect(),
        _ => {}
    }
}

/// Live pinning of a domain as one set per vCPU (`None` entries = not pinned).
pub fn live_pinning(d: &Domain, nr_cpus: u32) -> Option<Vec<CpuSet>> {
    let all = CpuSet::from_cpus(0..nr_cpus);
    let sets: Vec<CpuSet> = d.affinity.iter().map(|a| a.clone().unwrap_or_else(|| all.clone())).collect();
    if sets.is_empty() || sets.iter().all(|s| *s == all) {
        None
    } else {
        Some(sets)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_folders_get_apparent_and_allocated_size_of_their_files() {
        let m = "@@domform-1";
        let r = "/OVS/Repositories/r";
        let req = super::ObserveRequest {
            toolstack: crate::model::Toolstack::Xm,
            uri: String::new(),
            repositories: vec![r.into()],
            extra_paths: vec![],
        };
        let out = format!(
            "{m} snapshots {r}\n{r}/Snapshots/db01/s1\n{r}/Snapshots/db01/s2\n{r}/Snapshots/db01/s10\n\n{m} rc 0\n\
             {m} snapfiles {r}\n\
             10737418240 2048 {r}/Snapshots/db01/s1/disks/00-system one.img\n\
             209 8 {r}/Snapshots/db01/s1/manifest\n\
             4096 8 {r}/Snapshots/db01/s10/disks/00-x.img\n\
             find: `{r}/Snapshots/db01/s2/disks': Permission denied\n\n{m} rc 1\n\
             {m} snapmanifest {r}/Snapshots/db01/s1/manifest\nvm=db01\nname=s1\n\n{m} rc 0\n\
             {m} snapmanifest {r}/Snapshots/db01/s2/manifest\nvm=db01\nname=s2\n\n{m} rc 0\n\
             {m} snapmanifest {r}/Snapshots/db01/s10/manifest\nvm=db01\nname=s10\n\n{m} rc 0\n"
        );
        let obs = super::parse("h1", &out, m, &req);
        let space: Vec<(&str, Option<super::FileSize>)> =
            obs.snapshots.iter().map(|s| (s.name.as_str(), s.space)).collect();
        // find failed on s2 (status 1): the lines it did print still count; s2 printed none.
        // s1's files are summed (512-byte blocks); s10 is not counted into s1 (prefix + '/').
        assert_eq!(
            space,
            [
                ("s1", Some(super::FileSize { size: 10737418240 + 209, allocated: (2048 + 8) * 512 })),
                ("s2", None),
                ("s10", Some(super::FileSize { size: 4096, allocated: 8 * 512 })),
            ]
        );
    }

    #[test]
    fn old_stat_names_ocfs2_by_its_magic() {
        assert_eq!(super::fs_type_name("UNKNOWN (0x7461636f)\n"), "ocfs2");
        assert_eq!(super::fs_type_name("xfs"), "xfs");
        assert_eq!(super::fs_type_name("UNKNOWN (0x1234)"), "UNKNOWN (0x1234)");
    }
}
