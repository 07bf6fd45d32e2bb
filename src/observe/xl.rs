//! xl has no SXP `list -l`; its domains come from `xl list` joined with `xl vcpu-list`.
//! (Devices and VNC locations are not available this way; the xm path has them.)

use crate::xen::{BriefDomain, Domain, VcpuRow};

/// Joins brief rows with vCPU rows by domain name.
pub fn domains_from_brief(brief: Vec<BriefDomain>, rows: Vec<VcpuRow>) -> Vec<Domain> {
    brief
        .into_iter()
        .map(|b| {
            let mut mine: Vec<&VcpuRow> = rows.iter().filter(|r| r.name == b.name).collect();
            mine.sort_by_key(|r| r.vcpu);
            let online = u32::try_from(mine.iter().filter(|r| r.cpu.is_some()).count()).unwrap_or(0);
            Domain {
                id: b.id,
                name: b.name,
                uuid: None,
                state: b.state,
                memory_mib: b.memory_mib,
                maxmem_mib: b.memory_mib,
                vcpus: u32::try_from(mine.len()).unwrap_or(0).max(b.vcpus),
                online_vcpus: if mine.is_empty() { b.vcpus } else { online },
                affinity: mine.iter().map(|r| Some(r.affinity.clone())).collect(),
                image: None,
                vbds: Vec::new(),
                vifs: Vec::new(),
                vnc_location: None,
                cpu_time: b.cpu_time,
            }
        })
        .collect()
}
