//! Licence counting for hard partitioning (Oracle on Oracle VM), pure.
//!
//! Rules (sources in docs/hard-partitioning.md): licences count PHYSICAL cores; pinning masks
//! are logical threads, mapped to cores with the host's `xm info -n` table (sibling numbering
//! differs by vendor, so it is read, never guessed). For a group of VMs on one host, the cores in
//! scope are the union of every member's affinity. A member that is not pinned, in vm.cfg or
//! live, may run on every core: the whole server counts. Licences = cores × core factor
//! (0.5 for x86), rounded up.
//!
//! The same facts drawn for an auditor: [`map`] (per-host core map), [`html`] (the page) and
//! [`evidence`] (the raw outputs, timestamped and hashed).

pub mod evidence;
pub mod html;
pub mod map;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{CpuSet, Model};
use crate::observe::Observed;
use crate::xen::HostInfo;

/// The physical cores `(socket, core)` behind a set of threads.
pub fn cores_of(info: &HostInfo, threads: &CpuSet) -> Result<BTreeSet<(u32, u32)>, String> {
    if info.topology.is_empty() {
        return Err("the host's `xm info -n` has no CPU topology table; cores cannot be counted".into());
    }
    threads
        .iter()
        .map(|t| {
            info.core_of(t)
                .ok_or_else(|| format!("CPU {t} is not in the host's topology (0-{})", info.nr_cpus.saturating_sub(1)))
        })
        .collect()
}

/// Licences for a number of cores: cores × factor, rounded up.
pub fn licences(cores: u32, factor: f64) -> u32 {
    let exact = f64::from(cores) * factor;
    // 16 × 0.5 must be 8, not 9, whatever the float rounding.
    (exact - 1e-9).ceil().max(0.0) as u32
}

/// A VM's affinity as it stands: the union over vCPUs, or `None` when not pinned.
/// A VM counts as pinned only if its vm.cfg pins it AND (when running) every live vCPU is pinned.
pub fn current_pinning(obs: &Observed, simple_name: &str) -> Option<Option<CpuSet>> {
    let nr = obs.info.as_ref().map(|i| i.nr_cpus).unwrap_or(0);
    let all = CpuSet::from_cpus(0..nr);
    let view = obs.vms().into_iter().find(|v| v.simple_name == simple_name)?;
    let configured = obs.configured_pins(&view);
    let configured = configured.map(|sets| sets.iter().fold(CpuSet::default(), |a, s| a.union(s)));
    let live = view.domain.map(|d| {
        d.affinity.iter().map(|a| a.clone().unwrap_or_else(|| all.clone())).fold(CpuSet::default(), |a, s| a.union(&s))
    });
    Some(match (configured, live) {
        (Some(c), None) if c != all => Some(c),
        (Some(c), Some(l)) if c != all && l != all && !l.is_empty() => Some(c.union(&l)),
        _ => None,
    })
}

/// One VM of a group on a host.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberPin {
    /// Simple name.
    pub vm: String,
    /// Affinity (union over vCPUs, configured ∪ live); `None`: not pinned.
    pub threads: Option<String>,
    /// Physical cores those threads belong to.
    pub cores: u32,
}

/// One physical core a licence group counts, with what makes it count.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CoreUse {
    /// Socket id (`xm info -n`).
    pub socket: u32,
    /// Core id within the socket.
    pub core: u32,
    /// The core's logical CPUs (threads).
    pub threads: Vec<u32>,
    /// Members pinned to at least one of those threads (empty: counted because a member is
    /// not pinned and may run anywhere).
    pub vms: Vec<String>,
}

/// A licence group on one host.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupOnHost {
    /// Host.
    pub host: String,
    /// Licence group.
    pub group: String,
    /// Members found on this host.
    pub vms: Vec<MemberPin>,
    /// Members not pinned (so the whole server counts).
    pub unpinned: Vec<String>,
    /// Union of the members' threads.
    pub threads: String,
    /// Physical cores in scope.
    pub cores: u32,
    /// Those cores one by one (the drawing's detail).
    pub core_detail: Vec<CoreUse>,
    /// The host's physical cores.
    pub host_cores: u32,
    /// Core factor.
    pub core_factor: f64,
    /// Licences needed.
    pub licences: u32,
    /// Policy cap.
    pub max_cores: Option<u32>,
    /// `cores > max_cores`.
    pub violation: bool,
    /// Why counting failed (no topology, unknown CPU).
    pub error: Option<String>,
}

/// Counts one group on one host from each member's affinity (`None` = not pinned).
pub fn count(
    host: &str,
    group: &str,
    info: &HostInfo,
    members: &[(String, Option<CpuSet>)],
    factor: f64,
    max: Option<u32>,
) -> GroupOnHost {
    let mut out = GroupOnHost {
        host: host.into(),
        group: group.into(),
        vms: Vec::new(),
        unpinned: Vec::new(),
        threads: String::new(),
        cores: 0,
        core_detail: Vec::new(),
        host_cores: info.physical_cores(),
        core_factor: factor,
        licences: 0,
        max_cores: max,
        violation: false,
        error: None,
    };
    let mut union = CpuSet::default();
    let mut all_cores = BTreeSet::new();
    for (vm, pin) in members {
        match pin {
            Some(set) => {
                union = union.union(set);
                match cores_of(info, set) {
                    Ok(c) => {
                        out.vms.push(MemberPin {
                            vm: vm.clone(),
                            threads: Some(set.to_string()),
                            cores: c.len() as u32,
                        });
                        all_cores.extend(c);
                    }
                    Err(e) => out.error = Some(format!("{vm}: {e}")),
                }
            }
            None => {
                out.unpinned.push(vm.clone());
                out.vms.push(MemberPin { vm: vm.clone(), threads: None, cores: out.host_cores });
            }
        }
    }
    out.threads = union.to_string();
    out.cores = if out.unpinned.is_empty() { all_cores.len() as u32 } else { out.host_cores };
    let scope: BTreeSet<(u32, u32)> =
        if out.unpinned.is_empty() { all_cores } else { info.topology.iter().map(|t| (t.socket, t.core)).collect() };
    out.core_detail = scope
        .into_iter()
        .map(|(socket, core)| {
            let threads: Vec<u32> =
                info.topology.iter().filter(|t| (t.socket, t.core) == (socket, core)).map(|t| t.cpu).collect();
            let vms = members
                .iter()
                .filter(|(_, p)| p.as_ref().is_some_and(|p| threads.iter().any(|t| p.contains(*t))))
                .map(|(vm, _)| vm.clone())
                .collect();
            CoreUse { socket, core, threads, vms }
        })
        .collect();
    out.licences = licences(out.cores, factor);
    out.violation = max.is_some_and(|m| out.cores > m);
    out
}

/// The report for the current state of the observed hosts.
pub fn report(model: &Model, observed: &[&Observed]) -> Vec<GroupOnHost> {
    let mut out = Vec::new();
    for (name, lic) in &model.licences {
        for obs in observed {
            let Some(info) = &obs.info else { continue };
            let members: Vec<(String, Option<CpuSet>)> = lic
                .vms
                .iter()
                .filter(|vm| model.vms.get(*vm).is_some_and(|v| v.host == obs.host))
                .filter_map(|vm| current_pinning(obs, vm).map(|p| (vm.clone(), p)))
                .collect();
            if members.is_empty() {
                continue;
            }
            out.push(count(&obs.host, name, info, &members, lic.core_factor, lic.max_cores));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(licences(16, 0.5), 8);
        assert_eq!(licences(3, 0.5), 2);
        assert_eq!(licences(1, 0.5), 1);
        assert_eq!(licences(0, 0.5), 0);
        assert_eq!(licences(7, 0.25), 2);
    }
}
