//! A snapshot manifest planted in a repository: `SnapshotInfo::parse`, then the revert it
//! would plan against a fixed vm.cfg (only the VM's own disks may be written).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    domform_fuzz::checks::snapshot_manifest(&domform_fuzz::checks::text(data));
});
