//! Sizes against the host, at plan time, before anything runs.
//!
//! `memory: 10240TiB`, `vcpus: 10000` and an 18 EB disk once planned cleanly, and an apply
//! created thousands of disks before failing. Validation bounds what no host can hold (Xen's
//! vCPU limits, disks per VM, brace ranges, sizes a file offset can express); here each VM is
//! checked against the host it is planned on:
//! - memory (and maxmem) against the host's total memory (`xm info`);
//! - vCPUs (and maxvcpus) against the host's logical CPUs;
//! - each new or grown disk against the largest file the repository's file system can hold;
//! - the bytes new and grown disks add against the repository's free space: disks are sparse
//!   (they take space only as the guest writes), so more than is free is allowed, and said.

use std::collections::BTreeMap;

use super::desired::disk_path;
use crate::model::units::format_size;
use crate::model::{DiskSource, Model, VmState};
use crate::observe::Observed;

/// The largest file a file system type holds, in bytes (ext4 with 4 KiB blocks: 16 TiB;
/// OCFS2: 4 PiB; XFS, btrfs and the rest: what a signed 64-bit offset can address).
pub fn max_file_bytes(fs_type: Option<&str>) -> u64 {
    match fs_type.unwrap_or_default() {
        "ext2/ext3" | "ext2" | "ext3" | "ext4" => 16 << 40,
        "ocfs2" => 4 << 50,
        _ => i64::MAX as u64,
    }
}

/// Errors and warnings for the declared VMs of `obs.host`.
pub fn check(model: &Model, obs: &Observed, errors: &mut Vec<String>, warnings: &mut Vec<String>) {
    let Some(info) = &obs.info else { return };
    let mut adds: BTreeMap<&str, u64> = BTreeMap::new();
    for vm in model.vms.values().filter(|v| v.host == obs.host && v.state != VmState::Absent) {
        let mem = vm.memory_mib.max(vm.maxmem_mib);
        if info.total_memory_mib > 0 && mem > info.total_memory_mib {
            errors.push(format!(
                "VM `{}` asks for {} of memory; host {} has {} in all",
                vm.name,
                format_size(mem.saturating_mul(1 << 20)),
                obs.host,
                format_size(info.total_memory_mib.saturating_mul(1 << 20))
            ));
        }
        let cpus = vm.maxvcpus.unwrap_or(vm.vcpus).max(vm.vcpus);
        if info.nr_cpus > 0 && cpus > info.nr_cpus {
            errors.push(format!(
                "VM `{}` asks for {cpus} vCPUs; host {} has {} logical CPUs",
                vm.name, obs.host, info.nr_cpus
            ));
        }
        let repo = obs.repos.iter().find(|r| r.path == vm.repository);
        let limit = max_file_bytes(repo.and_then(|r| r.fs_type.as_deref()));
        for d in &vm.disks {
            let (DiskSource::New { name, size }, Some(path)) = (&d.source, disk_path(vm, d)) else { continue };
            let have = obs.files.get(&path).map(|f| f.size).unwrap_or(0);
            if *size <= have {
                continue;
            }
            if *size > limit {
                errors.push(format!(
                    "disk `{name}` of VM `{}` is {}; the largest file {} on host {} holds is {}",
                    vm.name,
                    format_size(*size),
                    repo.and_then(|r| r.fs_type.as_deref()).map(|t| format!("its {t} repository")).unwrap_or_default(),
                    obs.host,
                    format_size(limit)
                ));
            }
            let sum = adds.entry(vm.repository.as_str()).or_default();
            *sum = sum.saturating_add(size - have);
        }
    }
    for (repo, added) in adds {
        let free = obs.repos.iter().find(|r| r.path == repo).and_then(|r| r.free_bytes);
        if free.is_some_and(|f| added > f) {
            // No free-space figure in the text: it moves by itself, and a saved plan is
            // compared with the plan made again at apply time.
            warnings.push(format!(
                "new and grown disks on {}:{repo} add up to {}, more than the repository has free; \
                 disks are sparse and take space only as guests write, so this is allowed, but a full repository stops every VM writing to it",
                obs.host,
                format_size(added)
            ));
        }
    }
}
