//! `domform import` for libvirt: a libvirt host's domains (`--host`), or Oracle VM vm.cfg files
//! read on this machine (`--from-vm-cfg`), written as `vms:` YAML. The readings are
//! [`crate::libvirt::import`]'s; this adds the power state, the names, the notes and skips.

use super::observe::LibvirtObserved;
use crate::libvirt::import as read;
use crate::libvirt::virsh::DomState;
use crate::manifest::raw::VmState;
use crate::plan::import::document;

fn state(s: Option<DomState>) -> VmState {
    match s {
        Some(DomState::Paused) => VmState::Paused,
        Some(d) if d.is_active() => VmState::Running,
        _ => VmState::Stopped,
    }
}

/// Every domain of a libvirt host; the second value counts the domains left out.
pub fn host_yaml(host: &str, lv: &LibvirtObserved) -> (String, usize) {
    let mut vms = Vec::new();
    let mut comments = Vec::new();
    let mut skipped = 0;
    for d in &lv.domains {
        let named = read::domain_name(&d.xml).and_then(|n| read::vm_from_domain(host, &d.xml).map(|r| (n, r)));
        match named {
            Ok((name, mut raw)) => {
                raw.state = Some(state(d.state));
                comments
                    .extend(read::domain_notes(&d.xml).into_iter().map(|n| format!("# {}: {n}", name.escape_debug())));
                vms.push((name, raw));
            }
            Err(e) => {
                skipped += 1;
                comments.push(format!("# skipped {}: {}", d.name.escape_debug(), e.escape_debug()));
            }
        }
    }
    let header =
        format!("written by `domform import --host {host}`; plan it together with the file that declares the host");
    (document(&header, vms, &comments), skipped)
}

/// Oracle VM vm.cfg files (`(file, text)`) as VMs of the libvirt host `host`, disks by path.
pub fn vm_cfg_yaml(host: &str, files: &[(String, String)]) -> (String, usize) {
    let mut vms = Vec::new();
    let mut comments = Vec::new();
    let mut skipped = 0;
    for (file, text) in files {
        match read::vm_cfg_name(text).and_then(|n| read::vm_from_vm_cfg(host, text).map(|r| (n, r))) {
            Ok((name, raw)) => {
                comments
                    .extend(read::vm_cfg_notes(text).into_iter().map(|n| format!("# {}: {n}", name.escape_debug())));
                vms.push((name, raw));
            }
            Err(e) => {
                skipped += 1;
                comments.push(format!("# skipped {}: {}", file.escape_debug(), e.escape_debug()));
            }
        }
    }
    let header = format!(
        "written by `domform import --from-vm-cfg … --host {host}`: Oracle VM vm.cfg files as VMs of {host}; \
         the disk files must be where the paths say on that host (docs/libvirt.md, \"Moving a VM\")"
    );
    (document(&header, vms, &comments), skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::libvirt::observe::LvDomain;

    /// Why a domain was skipped quotes the host's XML (a disk path): a newline there
    /// (`&#10;`) must not end the `# skipped` comment and put host text into the YAML.
    #[test]
    fn a_skip_reason_from_the_host_stays_one_comment_line() {
        let xml = "<domain type='kvm'><name>fl</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><devices>\
<disk type='file' device='floppy'><source file='/x&#10;evil: true'/><target dev='fda'/></disk></devices></domain>";
        let lv = LibvirtObserved {
            domain_types: vec!["kvm".into()],
            domains: vec![LvDomain { name: "fl".into(), xml: xml.into(), ..LvDomain::default() }],
        };
        let (text, skipped) = host_yaml("kvm1", &lv);
        assert_eq!(skipped, 1, "{text}");
        assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("vms:")), "{text}");
        assert!(text.contains("floppy"), "{text}");
    }
}
