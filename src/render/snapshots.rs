//! `domform snapshot list`: a VM's snapshots, with the space their files use beside their size.
//!
//! A snapshot's disk copies are reflinks (or sparse copies) of the VM's disks, so their
//! apparent size says little about what they cost: a 100 GiB disk's snapshot may allocate a
//! few MiB. SIZE is the apparent size of the folder's files (`stat %s`), USED the blocks they
//! allocate (`du`, `find -printf %b`), both as observed. Blocks shared by reflink count in full
//! for each file that holds them, as `du` counts them: the space a delete frees can be less.

use crate::model::units::{format_size, format_size_approx};
use crate::observe::SnapshotInfo;

/// The table, one row per snapshot in the given order. Without observed file sizes, SIZE falls
/// back to the disk sizes in the manifest and USED is `?`.
pub fn table(snaps: &[SnapshotInfo]) -> String {
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|s| {
            let manifest_size: u64 = s.disks.iter().map(|d| d.2).sum();
            vec![
                s.vm.clone(),
                s.name.clone(),
                s.created.clone(),
                if s.running { "running" } else { "stopped" }.into(),
                if s.memory.is_some() { "yes" } else { "no" }.into(),
                s.disks.len().to_string(),
                s.space.map_or_else(|| format_size(manifest_size.max(1)), |f| format_size_approx(f.size)),
                s.space.map_or_else(|| "?".into(), |f| format_size_approx(f.allocated)),
                if s.made_by_domform { "domform" } else { "other" }.into(),
                s.dir.clone(),
            ]
        })
        .collect();
    super::table::render(
        &["VM", "SNAPSHOT", "CREATED", "VM WAS", "MEMORY", "DISKS", "SIZE", "USED", "MADE BY", "FOLDER"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use crate::observe::{FileSize, SnapshotInfo};

    #[test]
    fn used_space_stands_beside_the_apparent_size() {
        let dir = "/OVS/Repositories/r/Snapshots/db01";
        let snap = |name: &str, space: Option<FileSize>| SnapshotInfo {
            dir: format!("{dir}/{name}"),
            vm: "db01".into(),
            name: name.into(),
            created: "2026-12-01T10:00:00Z".into(),
            made_by_domform: true,
            disks: vec![("/OVS/Repositories/r/VirtualDisks/db01.img".into(), "disks/00-db01.img".into(), 40 << 30)],
            space,
            ..SnapshotInfo::default()
        };
        let t = super::table(&[
            snap("s1", Some(FileSize { size: (40 << 30) + 209, allocated: (3 << 20) + 4096 })),
            snap("s2", None),
        ]);
        let want = format!(
            "\
VM    SNAPSHOT  CREATED               VM WAS   MEMORY  DISKS  SIZE   USED    MADE BY  FOLDER
db01  s1        2026-12-01T10:00:00Z  stopped  no      1      40GiB  3.0MiB  domform  {dir}/s1
db01  s2        2026-12-01T10:00:00Z  stopped  no      1      40GiB  ?       domform  {dir}/s2
"
        );
        assert_eq!(t, want);
    }
}
