//! Where domform may write: inside the host's repositories, or a declared `path:` disk.
//!
//! Anyone who can write to a shared OCFS2 repository can plant files there: a symlink in
//! `VirtualDisks/` or a snapshot manifest naming `/etc/shadow`. So every path a plan writes,
//! replaces or deletes is checked here, after the planner made it from the desired state and
//! the VM's own vm.cfg: it must be absolute and normal (no `.`/`..`), lie inside a repository of
//! the host (or be a disk the desired state declares by `path:`), and no component from the
//! repository's `VirtualDisks/`, `VirtualMachines/` or `Snapshots/` folder down may be a
//! symbolic link the observe script found. The same link test runs again on the host at apply
//! time ([`crate::apply::script`]), because a link can be planted between plan and apply.

use std::collections::BTreeSet;

use super::{Change, Op};

/// The repository folders whose contents domform writes (and its trash folder); a link in
/// them is refused.
pub const GUARDED: [&str; 5] = ["VirtualDisks", "VirtualMachines", "Snapshots", ".domform-trash", super::cause::DIR];

/// True when `path` is absolute and has no empty, `.` or `..` component.
pub fn is_normal(path: &str) -> bool {
    path.starts_with('/') && path.len() > 1 && path[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// True when `path` is `root` itself or below it (both normal).
pub fn inside(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    is_normal(path)
        && is_normal(root)
        && path.len() > root.len()
        && path.starts_with(root)
        && path[root.len()..].starts_with('/')
}

/// The path and its ancestors from the first `VirtualDisks`/`VirtualMachines`/`Snapshots`
/// component down (outermost first); empty for a path outside those folders.
pub fn guarded_chain(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let Some(start) = parts.iter().position(|c| GUARDED.contains(c)) else { return Vec::new() };
    (start..parts.len()).map(|end| parts[..=end].join("/")).filter(|p| !p.is_empty()).collect()
}

/// Every path an op writes, replaces or deletes (reads are not listed).
pub fn written_paths(op: &Op) -> Vec<String> {
    match op {
        Op::CreateDisk { path, .. } | Op::GrowDisk { path, .. } | Op::DeleteFile { path } => vec![path.clone()],
        Op::WriteFile { path, backup, .. } if *backup => vec![path.clone(), format!("{path}.domform-bak")],
        Op::WriteFile { path, .. } => vec![path.clone()],
        Op::RemoveVmDir { dir } => {
            // Moved to `<repo>/.domform-trash/`, which must not be a planted link either.
            let repo = dir.rsplitn(3, '/').nth(2).unwrap_or_default();
            vec![dir.clone(), format!("{repo}/.domform-trash")]
        }
        Op::DeleteSnapshot { dir } => vec![dir.clone()],
        Op::Snapshot { parent, .. } => vec![parent.clone()],
        Op::Revert { dir, cfg_path, disks, domain } => {
            // A libvirt revert writes no definition file: `virsh define` reads the snapshot's.
            let mut v = vec![dir.clone()];
            if domain.is_none() {
                v.extend([cfg_path.clone(), format!("{cfg_path}.domform-revert")]);
            }
            v.extend(
                disks.iter().flat_map(|(snap, orig)| [snap.clone(), orig.clone(), format!("{orig}.domform-revert")]),
            );
            v
        }
        Op::OrElse { first, on_failure } => {
            let mut v = written_paths(first);
            v.extend(on_failure.iter().flat_map(written_paths));
            v
        }
        Op::Xen { .. } | Op::Virsh { .. } | Op::Shutdown { .. } | Op::ReplaceFile { .. } | Op::RunCommand { .. } => {
            Vec::new()
        }
    }
}

/// Errors for every written path of `changes` that is outside `repos` (and not in `declared`),
/// not normal, or runs through a symbolic link listed in `links`.
pub fn check(
    changes: &[Change],
    repos: &[String],
    declared: &BTreeSet<String>,
    links: &BTreeSet<String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for c in changes {
        for path in c.ops.iter().flat_map(written_paths) {
            let shown = path.escape_debug();
            if declared.contains(&path) {
                continue;
            }
            if !is_normal(&path) {
                errors.push(format!(
                    "{}: refusing to write {shown}: not a plain absolute path (`.`, `..` or `//`)",
                    c.id
                ));
            } else if !repos.iter().any(|r| inside(&path, r)) {
                errors.push(format!(
                    "{}: refusing to write {shown}: it is outside the host's repositories ({}) and not a disk declared by `path:`",
                    c.id,
                    repos.join(", ")
                ));
            } else if let Some(l) = guarded_chain(&path).into_iter().find(|p| links.contains(p)) {
                errors.push(format!(
                    "{}: refusing to write {shown}: {} is a symbolic link (planted in the repository?); domform writes through no link in VirtualDisks/, VirtualMachines/ or Snapshots/ unless it is a disk declared by `path:`",
                    c.id,
                    l.escape_debug()
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_inside_and_chains() {
        assert!(is_normal("/OVS/R/VirtualDisks/a.img"));
        for bad in ["OVS/x", "/OVS/../etc", "/OVS//x", "/OVS/./x", "/", "/OVS/x/"] {
            assert!(!is_normal(bad), "{bad}");
        }
        assert!(inside("/OVS/R/VirtualDisks/a.img", "/OVS/R"));
        assert!(inside("/OVS/R/VirtualDisks/a.img", "/OVS/R/"));
        assert!(!inside("/OVS/R2/VirtualDisks/a.img", "/OVS/R"));
        assert!(!inside("/OVS/R", "/OVS/R"));
        assert!(!inside("/OVS/R/../../etc/passwd", "/OVS/R"));
        assert_eq!(
            guarded_chain("/OVS/R/Snapshots/db 01/s1"),
            vec!["/OVS/R/Snapshots", "/OVS/R/Snapshots/db 01", "/OVS/R/Snapshots/db 01/s1"]
        );
        assert!(guarded_chain("/srv/disks/a.img").is_empty());
        let rm = Op::RemoveVmDir { dir: "/OVS/R/VirtualMachines/x".into() };
        assert_eq!(written_paths(&rm), ["/OVS/R/VirtualMachines/x", "/OVS/R/.domform-trash"]);
        assert_eq!(guarded_chain("/OVS/R/.domform-trash"), ["/OVS/R/.domform-trash"]);
    }

    #[test]
    fn outside_paths_and_links_are_refused() {
        let mk = |path: &str| Change {
            id: "disk/x".into(),
            resource: super::super::Resource::Disk,
            name: "x".into(),
            action: super::super::Action::Create,
            impact: super::super::Impact::Live,
            fields: vec![],
            file: None,
            ops: vec![Op::CreateDisk { path: path.into(), size: 1 }],
            depends_on: vec![],
            verify_pins: vec![],
            cause: None,
        };
        let repos = vec!["/OVS/R".to_string()];
        let none = BTreeSet::new();
        assert!(check(&[mk("/OVS/R/VirtualDisks/a.img")], &repos, &none, &none).is_empty());
        let e = check(&[mk("/etc/shadow")], &repos, &none, &none);
        assert!(e[0].contains("outside the host's repositories"), "{e:?}");
        let declared: BTreeSet<String> = ["/srv/a.img".to_string()].into();
        assert!(check(&[mk("/srv/a.img")], &repos, &declared, &none).is_empty());
        let links: BTreeSet<String> = ["/OVS/R/VirtualDisks/a.img".to_string()].into();
        let e = check(&[mk("/OVS/R/VirtualDisks/a.img")], &repos, &none, &links);
        assert!(e[0].contains("symbolic link"), "{e:?}");
        let links: BTreeSet<String> = ["/OVS/R/VirtualDisks".to_string()].into();
        assert_eq!(check(&[mk("/OVS/R/VirtualDisks/a.img")], &repos, &none, &links).len(), 1);
    }
}
