//! `domform list`: every VM on every host by its human name (the seed's "xm2 list").
//!
//! OVM names Xen domains by a 32-hex id, so `xm list` is unreadable; this joins each vm.cfg's
//! `OVM_simple_name` with the running domain and shows configured and live pinning side by side.
//!
//! CPU sets are written one way in the table and in JSON ([`crate::model::cpuset`]): `4-7,9`,
//! and per-vCPU pinning as `0:4 1:5`, whether it came from vm.cfg's Python list or from
//! `xm vcpu-list`, so the two columns can be compared by eye. The table fits 100 columns (long
//! names are cut with `…`, the vm.cfg path and UUID left out); `--wide` shows everything.

use serde::Serialize;
use vmcfg::Value;

use super::table::{self, Shrink};
use crate::model::cpuset::per_vcpu_text;
use crate::observe::{live_pinning, Observed};
use crate::plan::desired::cfg_pinning;
use crate::xen::Domain;

/// The JSON document's `format_version` (2: CPU sets in one notation, see docs/architecture.md).
pub const FORMAT_VERSION: u32 = 2;

/// The terminal width the default table fits.
pub const WIDTH: usize = 100;

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
    /// `cpus` as configured in vm.cfg, in the one CPU-set notation (raw text if unreadable).
    pub cpus_configured: Option<String>,
    /// Live affinity: one set, or `V:SET` groups per vCPU; `None` when not pinned.
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
            // A libvirt domain has no vm.cfg: a stopped one shows what its definition says.
            let lv = obs.libvirt_def(&v.xen_name);
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
                    .or_else(|| get_int("memory").and_then(|m| u64::try_from(m).ok()))
                    .or_else(|| lv.map(|x| x.current_memory_kib.unwrap_or(x.memory_kib) / 1024)),
                vcpus: v
                    .domain
                    .map(|d| d.online_vcpus)
                    .or_else(|| get_int("vcpus").and_then(|m| u32::try_from(m).ok()))
                    .or_else(|| lv.map(|x| x.vcpus_current.unwrap_or(x.vcpus))),
                cpus_configured: match cfg {
                    Some(c) => c.get("cpus").and_then(cfg_cpus_text),
                    None => obs.configured_pins(&v).map(|s| per_vcpu_text(&s)),
                },
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
    live_pinning(d, nr_cpus).map(|sets| per_vcpu_text(&sets))
}

/// vm.cfg `cpus` in the one notation: `'4-7'` and `['4', '5']` become `4-7` and `0:4 1:5`;
/// an empty string is no pinning; a value xend could not read is shown as written.
fn cfg_cpus_text(v: &Value) -> Option<String> {
    if v.as_str().is_some_and(|s| s.trim().is_empty()) {
        return None;
    }
    let sets = cfg_pinning(v, 1).filter(|s| !s.is_empty());
    Some(sets.map(|s| per_vcpu_text(&s)).unwrap_or_else(|| v.as_str().map_or_else(|| v.to_python(), str::to_string)))
}

/// The table form: fits [`WIDTH`] columns (names and pinning cut with `…`), or with `wide`
/// every column whole, the UUID and the vm.cfg path too.
pub fn table(rows: &[ListRow], wide: bool) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let num = |o: Option<u64>| o.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.host.clone(), r.simple_name.clone(), r.xen_name.clone()];
            if wide {
                cells.push(opt(&r.uuid));
            }
            cells.extend([
                num(r.id.map(u64::from)),
                r.state.clone(),
                num(r.memory_mib),
                num(r.vcpus.map(u64::from)),
                opt(&r.cpus_configured),
                opt(&r.cpus_live),
            ]);
            if wide {
                cells.push(opt(&r.config));
            }
            cells
        })
        .collect();
    let head = ["HOST", "NAME", "XEN NAME", "ID", "STATE", "MiB", "VCPUS", "CPUS", "LIVE CPUS"];
    if wide {
        let mut h = head.to_vec();
        h.insert(3, "UUID");
        h.push("CONFIG");
        return table::render(&h, &body);
    }
    // Host, simple name, Xen name (an OVM id is 32 characters: kept whole), pinning.
    let shrink = [(0, 8), (1, 14), (2, 32), (7, 9), (8, 9)].map(|(col, min)| Shrink { col, min });
    table::fit(&head, &body, WIDTH, &shrink)
}

/// The JSON form: `{"format_version": 2, "vms": [...]}`.
pub fn json(rows: &[ListRow]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        format_version: u32,
        vms: &'a [ListRow],
    }
    serde_json::to_string_pretty(&Doc { format_version: FORMAT_VERSION, vms: rows }).unwrap_or_default()
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
