//! The core map of one host: sockets → cores → threads, what runs on each thread, and every
//! hard-partitioning warning attached to the VM it concerns. Pure; the HTML page
//! ([`super::html`]) and the evidence pack draw it.
//!
//! Why a separate model from the licence count: an auditor looks at the whole server (every
//! VM's pinning, dom0's threads, the licensed groups' cores outlined), not only at the groups.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use vmcfg::Value;

use super::GroupOnHost;
use crate::model::{CpuSet, Model};
use crate::observe::Observed;

/// One logical CPU.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ThreadMap {
    /// Logical CPU number.
    pub cpu: u32,
    /// VMs pinned to it (configured or live).
    pub vms: Vec<String>,
    /// dom0 runs here (its live affinity, or the host's `reserved_cpus`).
    pub dom0: bool,
}

/// One physical core.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CoreMap {
    /// Core id within its socket.
    pub core: u32,
    /// Its threads, ascending.
    pub threads: Vec<ThreadMap>,
    /// Licence groups that count this core.
    pub groups: Vec<String>,
}

/// One socket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SocketMap {
    /// Socket id.
    pub socket: u32,
    /// Its cores, by core id.
    pub cores: Vec<CoreMap>,
}

/// One VM's pinning as observed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VmPin {
    /// Simple name.
    pub vm: String,
    /// Pinning in vm.cfg (union over vCPUs); `None`: not pinned there.
    pub configured: Option<String>,
    /// Live affinity (union over vCPUs) when running; `None`: not running or not pinned.
    pub live: Option<String>,
    /// Running now.
    pub running: bool,
    /// Licence groups it belongs to.
    pub groups: Vec<String>,
}

/// A finding an auditor must see, at the VM (or group) it concerns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// `half-core`, `ha`, `dom0-overlap`, `configured-live`, `unpinned`, `violation`, `error`.
    pub kind: &'static str,
    /// The VM concerned, when one.
    pub vm: Option<String>,
    /// The licence group concerned, when one.
    pub group: Option<String>,
    /// What is wrong and why it matters.
    pub text: String,
}

/// The whole map of one host.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostMap {
    /// Host name (as declared).
    pub host: String,
    /// dom0's own hostname (`xm info`).
    pub hostname: String,
    /// Logical CPUs.
    pub nr_cpus: u32,
    /// dom0's threads, when known.
    pub dom0: Option<String>,
    /// Sockets.
    pub sockets: Vec<SocketMap>,
    /// Every VM on the host with its pinning.
    pub vms: Vec<VmPin>,
    /// The licence groups counted on this host.
    pub groups: Vec<GroupOnHost>,
    /// Findings.
    pub warnings: Vec<Warning>,
}

fn union(sets: &[CpuSet]) -> CpuSet {
    sets.iter().fold(CpuSet::default(), |a, s| a.union(s))
}

/// Builds the map of `obs` with `groups` (the licence report's rows for this host).
pub fn host_map(model: &Model, obs: &Observed, groups: &[GroupOnHost]) -> Option<HostMap> {
    let info = obs.info.as_ref()?;
    let nr = info.nr_cpus;
    let all = CpuSet::from_cpus(0..nr);
    let dom0 = obs
        .dom0()
        .map(|d| union(&d.affinity.iter().map(|a| a.clone().unwrap_or_else(|| all.clone())).collect::<Vec<_>>()))
        .filter(|s| !s.is_empty() && *s != all)
        .or_else(|| model.hosts.get(&obs.host).and_then(|h| h.reserved_cpus.clone()));
    let mut member_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (g, lic) in &model.licences {
        for vm in &lic.vms {
            member_of.entry(vm.as_str()).or_default().push(g.clone());
        }
    }
    let mut vms = Vec::new();
    let mut warnings = Vec::new();
    let mut on_thread: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for v in obs.vms() {
        let configured = obs.configured_pins(&v).map(|sets| union(&sets));
        let configured = configured.filter(|c| *c != all);
        let live = v
            .domain
            .map(|d| union(&d.affinity.iter().map(|a| a.clone().unwrap_or_else(|| all.clone())).collect::<Vec<_>>()));
        let live_pin = live.clone().filter(|l| *l != all && !l.is_empty());
        let name = v.simple_name.clone();
        let groups = member_of.get(name.as_str()).cloned().unwrap_or_default();
        let drawn = match (&configured, &live_pin) {
            (Some(c), Some(l)) => Some(c.union(l)),
            (Some(c), None) if live.is_none() => Some(c.clone()),
            (None, Some(l)) => Some(l.clone()),
            _ => None,
        };
        if let Some(set) = &drawn {
            for cpu in set.iter() {
                on_thread.entry(cpu).or_default().insert(name.clone());
            }
            findings(&name, set, info, &dom0, &mut warnings);
            let ha = v.cfg.and_then(|c| c.cfg.get("OVM_high_availability").and_then(Value::as_bool)) == Some(true);
            if ha {
                warnings.push(Warning {
                    kind: "ha",
                    vm: Some(name.clone()),
                    group: None,
                    text: format!("`{name}` has OVM_high_availability = True: an HA restart on another server breaks the hard partition"),
                });
            }
        }
        pin_warnings(&name, configured.as_ref(), live.as_ref(), drawn.is_none(), &groups, &mut warnings);
        vms.push(VmPin {
            vm: name,
            configured: configured.map(|c| c.to_string()),
            live: live_pin.map(|l| l.to_string()),
            running: v.domain.is_some(),
            groups,
        });
    }
    group_warnings(groups, &mut warnings);
    let sockets = socket_maps(info, groups, &on_thread, dom0.as_ref());
    Some(HostMap {
        host: obs.host.clone(),
        hostname: info.hostname.clone(),
        nr_cpus: nr,
        dom0: dom0.map(|d| d.to_string()),
        sockets,
        vms,
        groups: groups.to_vec(),
        warnings,
    })
}

/// vm.cfg's pinning differs from the live affinity; a licensed VM is not pinned at all.
fn pin_warnings(
    name: &str,
    configured: Option<&CpuSet>,
    live: Option<&CpuSet>,
    unpinned: bool,
    groups: &[String],
    warnings: &mut Vec<Warning>,
) {
    if let (Some(c), Some(l)) = (configured, live) {
        if c != l {
            warnings.push(Warning {
                kind: "configured-live",
                vm: Some(name.to_string()),
                group: None,
                text: format!("`{name}`: vm.cfg pins it to {c}, but it runs on {l} now (`xm vcpu-list`)"),
            });
        }
    }
    if unpinned && !groups.is_empty() {
        warnings.push(Warning {
            kind: "unpinned",
            vm: Some(name.to_string()),
            group: None,
            text: format!(
                "`{name}` is licensed ({}) but not pinned: every core of the server counts",
                groups.join(", ")
            ),
        });
    }
}

/// A group's error or violation, as a finding of the whole host.
fn group_warnings(groups: &[GroupOnHost], warnings: &mut Vec<Warning>) {
    for g in groups {
        if let Some(e) = &g.error {
            warnings.push(Warning { kind: "error", vm: None, group: Some(g.group.clone()), text: e.clone() });
        }
        if g.violation {
            warnings.push(Warning {
                kind: "violation",
                vm: None,
                group: Some(g.group.clone()),
                text: format!("`{}` uses {} cores, more than max_cores {}", g.group, g.cores, g.max_cores.unwrap_or(0)),
            });
        }
    }
}

/// Sockets, their cores (with the groups counting each) and threads (with the VMs and dom0 on
/// each), in CPU order.
fn socket_maps(
    info: &crate::xen::HostInfo,
    groups: &[GroupOnHost],
    on_thread: &BTreeMap<u32, BTreeSet<String>>,
    dom0: Option<&CpuSet>,
) -> Vec<SocketMap> {
    let mut sockets: BTreeMap<u32, BTreeMap<u32, CoreMap>> = BTreeMap::new();
    for t in &info.topology {
        let core = sockets.entry(t.socket).or_default().entry(t.core).or_insert_with(|| CoreMap {
            core: t.core,
            threads: Vec::new(),
            groups: groups
                .iter()
                .filter(|g| g.core_detail.iter().any(|c| (c.socket, c.core) == (t.socket, t.core)))
                .map(|g| g.group.clone())
                .collect(),
        });
        core.threads.push(ThreadMap {
            cpu: t.cpu,
            vms: on_thread.get(&t.cpu).map(|s| s.iter().cloned().collect()).unwrap_or_default(),
            dom0: dom0.is_some_and(|d| d.contains(t.cpu)),
        });
    }
    sockets
        .into_iter()
        .map(|(socket, cores)| SocketMap {
            socket,
            cores: cores
                .into_values()
                .map(|mut c| {
                    c.threads.sort_by_key(|t| t.cpu);
                    c
                })
                .collect(),
        })
        .collect()
}

/// Half cores and dom0 overlap for one pinned VM.
fn findings(name: &str, set: &CpuSet, info: &crate::xen::HostInfo, dom0: &Option<CpuSet>, out: &mut Vec<Warning>) {
    let mut halves: Vec<Vec<u32>> = Vec::new();
    for cpu in set.iter() {
        let sib = info.siblings(cpu);
        if sib.iter().any(|s| !set.contains(*s)) && !halves.contains(&sib) {
            halves.push(sib);
        }
    }
    if !halves.is_empty() {
        let list: Vec<String> = halves.iter().map(|h| CpuSet::from_cpus(h.iter().copied()).to_string()).collect();
        out.push(Warning {
            kind: "half-core",
            vm: Some(name.to_string()),
            group: None,
            text: format!(
                "`{name}` takes only part of the core(s) with threads {}: licences count whole cores",
                list.join(" / ")
            ),
        });
    }
    if let Some(d0) = dom0 {
        let clash = set.intersection(d0);
        if !clash.is_empty() {
            out.push(Warning {
                kind: "dom0-overlap",
                vm: Some(name.to_string()),
                group: None,
                text: format!("`{name}` is pinned to CPU {clash}, which dom0 uses ({d0})"),
            });
        }
    }
}

/// Maps for every observed host, with the licence report's rows.
pub fn maps(model: &Model, observed: &[&Observed], rows: &[GroupOnHost]) -> Vec<HostMap> {
    observed
        .iter()
        .filter_map(|o| {
            let groups: Vec<GroupOnHost> = rows.iter().filter(|r| r.host == o.host).cloned().collect();
            host_map(model, o, &groups)
        })
        .collect()
}
