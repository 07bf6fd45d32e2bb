//! Snapshots of a libvirt domain: the same folders, manifest and reflinked disk copies as a Xen
//! VM's (`plan::snapshot`), so `snapshot list`, retention and the manifest checks are shared.
//! What differs is the definition: a domain has no vm.cfg, so its persistent XML is what a
//! snapshot keeps (`domain.xml`) and what a revert puts back (`virsh define`). Which disks a
//! revert writes comes from the domain's current persistent XML as observed, never from the
//! snapshot's manifest or its `domain.xml`.

use super::observe::LvDomain;
use crate::libvirt::domain::{self, Domain as LvXml};
use crate::model::{Vm, VmState};
use crate::observe::Observed;
use crate::plan::paths::inside;
use crate::plan::snapshot::{self, SnapshotError, Subject};
use crate::plan::Change;

/// The disks a snapshot copies: file-backed `disk` devices, writable, not `<shareable/>`
/// (reverting a disk other domains use would hurt them); CD-ROMs, read-only, shared and block
/// devices are returned as skipped.
pub fn disks(def: &LvXml) -> (Vec<String>, Vec<String>) {
    let mut take = Vec::new();
    let mut skip = Vec::new();
    for k in &def.disks {
        let Some(f) = &k.file else { continue };
        if k.device != "disk" || k.readonly || k.shareable || f.starts_with("/dev/") {
            skip.push(f.clone());
        } else {
            take.push(f.clone());
        }
    }
    (take, skip)
}

/// The snapshot subject of domain `domain` (called `vm`) defined by `def`. Its snapshots go to
/// `<repo>/Snapshots/<vm>`: `repo` when the VM is declared (its `repository`), else the host
/// repository that holds its first disk, else the host's first repository.
pub fn subject(
    vm: &str,
    domain: &str,
    def: &LvXml,
    repo: Option<&str>,
    repos: &[String],
) -> Result<Subject, SnapshotError> {
    let (take, skip) = disks(def);
    let repo = repo
        .map(str::to_string)
        .or_else(|| take.first().and_then(|d| repos.iter().find(|r| inside(d, r))).cloned())
        .or_else(|| repos.first().cloned())
        .ok_or_else(|| SnapshotError::NoRepository(domain.into()))?;
    Ok(Subject {
        vm: vm.into(),
        parent: format!("{}/Snapshots/{vm}", repo.trim_end_matches('/')),
        take,
        skip,
        cfg_path: String::new(),
        libvirt: Some(domain.into()),
    })
}

/// The subject of an observed domain (for `domform snapshot`): its current persistent XML.
pub fn observed_subject(vm: &str, d: &LvDomain, obs: &Observed) -> Result<Subject, String> {
    let def = d.def.as_ref().ok_or_else(|| format!("the XML of domain `{}` did not read", d.name))?;
    let repos: Vec<String> = obs.repos.iter().map(|r| r.path.clone()).collect();
    subject(vm, &d.name, def, None, &repos).map_err(|e| e.to_string())
}

/// A declared VM's `snapshots:` on a libvirt host, after every other change of the VM (`after`):
/// `xml` is the domain's XML as the plan leaves it (the one it defines, else the observed one).
#[allow(clippy::too_many_arguments)]
pub fn plan_declared(
    vm: &Vm,
    obs: &Observed,
    domain: &str,
    xml: Option<&str>,
    after: &[String],
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
) {
    if vm.snapshots.present.is_empty() && vm.snapshots.keep.is_none() {
        return;
    }
    let repos: Vec<String> = obs.repos.iter().map(|r| r.path.clone()).collect();
    let sub = match xml.map(domain::parse) {
        Some(Ok(def)) => subject(&vm.name, domain, &def, Some(&vm.repository), &repos),
        _ => Err(SnapshotError::NoRepository(domain.into())),
    };
    let future = match vm.state {
        VmState::Running => Some((domain, false)),
        VmState::Paused => Some((domain, true)),
        VmState::Stopped | VmState::Absent => None,
    };
    snapshot::plan_declared(vm, obs, &sub, future, after, changes, errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str =
        "<domain type='kvm'><name>db &amp; co</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><devices>\
<disk type='file' device='disk'><source file='/r/VirtualDisks/a.img'/><target dev='vda'/></disk>\
<disk type='file' device='disk'><source file='/r/VirtualDisks/shared.img'/><target dev='vdb'/><shareable/></disk>\
<disk type='file' device='cdrom'><source file='/r/ISOs/x.iso'/><target dev='hdc'/><readonly/></disk>\
<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdc'/></disk>\
<disk type='file' device='disk'><source file='/data/b.img'/><target dev='vdd'/></disk></devices></domain>";

    #[test]
    fn copies_writable_file_disks_and_skips_shared_cdrom_and_devices() {
        let def = domain::parse(XML).expect("parses");
        let (take, skip) = disks(&def);
        assert_eq!(take, vec!["/r/VirtualDisks/a.img", "/data/b.img"]);
        assert_eq!(skip, vec!["/r/VirtualDisks/shared.img", "/r/ISOs/x.iso", "/dev/sdb"]);
    }

    #[test]
    fn plans_saved_before_libvirt_read_the_same_and_xen_ops_are_written_as_before() {
        use crate::plan::Op;
        let old = r#"{"op":"revert","dir":"/r/Snapshots/x/s1","cfg_path":"/r/VirtualMachines/x/vm.cfg","disks":[["/r/Snapshots/x/s1/disks/00-a.img","/r/VirtualDisks/a.img"]]}"#;
        let op: Op = serde_json::from_str(old).expect("an older plan's op reads");
        assert!(matches!(&op, Op::Revert { domain: None, .. }));
        assert_eq!(serde_json::to_string(&op).expect("json"), old, "a Xen op is written without `domain`");
        let Op::Revert { dir, cfg_path, disks, .. } = op else { panic!() };
        let lv = Op::Revert { dir, cfg_path, disks, domain: Some("x".into()) };
        let text = serde_json::to_string(&lv).expect("json");
        assert!(text.ends_with(r#","domain":"x"}"#), "{text}");
        assert_eq!(serde_json::from_str::<Op>(&text).expect("reads back"), lv);
    }

    #[test]
    fn snapshots_go_to_the_repository_of_the_first_disk_unless_declared() {
        let def = domain::parse(XML).expect("parses");
        let repos = vec!["/other".to_string(), "/r".to_string()];
        let s = subject("db", "db & co", &def, None, &repos).expect("subject");
        assert_eq!(s.parent, "/r/Snapshots/db");
        assert_eq!(s.libvirt.as_deref(), Some("db & co"));
        assert!(s.cfg_path.is_empty());
        assert_eq!(subject("db", "d", &def, Some("/decl/"), &repos).expect("subject").parent, "/decl/Snapshots/db");
        assert!(matches!(subject("db", "d", &def, None, &[]), Err(SnapshotError::NoRepository(_))));
    }
}
