//! `domform list`: every VM on every host by its human name (the seed's "xm2 list").
//!
//! OVM names Xen domains by a 32-hex id, so `xm list` is unreadable; this joins each vm.cfg's
//! `OVM_simple_name` with the running domain and shows configured and live pinning side by side.

use serde::Serialize;

use crate::observe::{live_pinning, Observed};
use crate::xen::Domain;

/// One line of the list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ListRow {
    /// Host name.
    pub host: String,
    /// `OVM_simple_name`, or the Xen name when there is none.
    pub simple_name: String,
    /// Xen domain name (the OVM VM id).
    pub xen_name: String,
    /// vm.cfg `uuid`, or the domain's.
    pub uuid: Option<String>,
    /// Domain id when running.
    pub id: Option<u32>,
    /// `running`, `blocked`, `paused`, `shutdown`, `crashed`, `dying` or `stopped`.
    pub state: String,
    /// Memory in MiB (live when running).
    pub memory_mib: Option<u64>,
    /// vCPUs (online when running).
    pub vcpus: Option<u32>,
    /// `cpus` as configured in vm.cfg.
    pub cpus_configured: Option<String>,
    /// Live affinity: one set, or one per vCPU; `None` when not pinned.
    pub cpus_live: Option<String>,
    /// The repository holding the vm.cfg.
    pub repository: Option<String>,
    /// The vm.cfg path.
    pub config: Option<String>,
}

/// Rows for one host, Domain-0 first, then by simple name.
pub fn rows(obs: &Observed) -> Vec<ListRow> {
    let nr_cpus = obs.info.as_ref().map(|i| i.nr_cpus).unwrap_or(0);
    let mut out = Vec::new();
    if let Some(d0) = obs.dom0() {
        out.push(ListRow {
            host: obs.host.clone(),
            simple_name: "Domain-0".into(),
            xen_name: d0.name.clone(),
            uuid: d0.uuid.clone(),
            id: d0.id,
            state: d0.state.word().into(),
            memory_mib: Some(d0.memory_mib),
            vcpus: Some(d0.online_vcpus),
            cpus_configured: None,
            cpus_live: live_text(d0, nr_cpus),
            repository: None,
            config: None,
        });
    }
    let mut vms: Vec<ListRow> = obs
        .vms()
        .into_iter()
        .map(|v| {
            let cfg = v.cfg.map(|c| &c.cfg);
            let get_int = |k: &str| cfg.and_then(|c| c.get(k)).and_then(|x| x.as_int());
            ListRow {
                host: obs.host.clone(),
                simple_name: v.simple_name.clone(),
                xen_name: v.xen_name.clone(),
                uuid: cfg
                    .and_then(|c| c.get("uuid"))
                    .and_then(|u| u.as_str())
                    .map(str::to_string)
                    .or_else(|| v.domain.and_then(|d| d.uuid.clone())),
                id: v.domain.and_then(|d| d.id),
                state: v.domain.map(|d| d.state.word().to_string()).unwrap_or_else(|| "stopped".into()),
                memory_mib: v
                    .domain
                    .map(|d| d.memory_mib)
                    .or_else(|| get_int("memory").and_then(|m| u64::try_from(m).ok())),
                vcpus: v
                    .domain
                    .map(|d| d.online_vcpus)
                    .or_else(|| get_int("vcpus").and_then(|m| u32::try_from(m).ok())),
                cpus_configured: cfg.and_then(|c| c.get("cpus")).map(|c| match c.as_str() {
                    Some(s) => s.to_string(),
                    None => c.to_python(),
                }),
                cpus_live: v.domain.and_then(|d| live_text(d, nr_cpus)),
                repository: v.cfg.and_then(|c| c.path.split_once("/VirtualMachines/").map(|(r, _)| r.to_string())),
                config: v.cfg.map(|c| c.path.clone()),
            }
        })
        .collect();
    vms.sort_by(|a, b| a.simple_name.cmp(&b.simple_name).then_with(|| a.xen_name.cmp(&b.xen_name)));
    out.extend(vms);
    out
}

fn live_text(d: &Domain, nr_cpus: u32) -> Option<String> {
    let sets = live_pinning(d, nr_cpus)?;
    let first = sets.first()?;
    if sets.iter().all(|s| s == first) {
        Some(first.to_string())
    } else {
        Some(format!("[{}]", sets.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" | ")))
    }
}

/// The table form.
pub fn table(rows: &[ListRow]) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.host.clone(),
                r.simple_name.clone(),
                r.xen_name.clone(),
                r.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                r.state.clone(),
                r.memory_mib.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                r.vcpus.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                opt(&r.cpus_configured),
                opt(&r.cpus_live),
                opt(&r.repository),
            ]
        })
        .collect();
    super::table::render(
        &["HOST", "NAME", "XEN NAME", "ID", "STATE", "MEM(MiB)", "VCPUS", "CPUS(CFG)", "CPUS(LIVE)", "REPOSITORY"],
        &body,
    )
}

/// The JSON form: `{"format_version": 1, "vms": [...]}`.
pub fn json(rows: &[ListRow]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        format_version: u32,
        vms: &'a [ListRow],
    }
    serde_json::to_string_pretty(&Doc { format_version: 1, vms: rows }).unwrap_or_default()
}
