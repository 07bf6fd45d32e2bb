//! Declarations read back from what a host holds, for `domform import` with libvirt hosts.
//!
//! [`vm_from_domain`] is the inverse of [`super::generate::domain_xml`]: a libvirt domain read
//! back as the raw YAML declaration that plans as "no changes" against it. [`vm_from_vm_cfg`]
//! turns an Oracle VM vm.cfg into a declaration for a libvirt host, so moving an estate is:
//! import from the OVM host, change the VM's `host:`, plan, review. Both declare disks by path
//! (the files stay where they are; the new host must see the same repository) and leave the
//! state to the caller. What cannot be carried over (a VNC password is a secret and never read,
//! KVM has no PV guests, vm.cfg keys with no libvirt meaning) is said in `# note:` lines from
//! [`domain_notes`] / [`vm_cfg_notes`] for the caller to print beside the YAML. The vm.cfg side
//! reads every key with `plan::import`'s helpers, so both imports agree on what a key means.

use std::collections::BTreeMap;

use vmcfg::{Value, VmCfg};

use super::domain::{parse, Domain};
use crate::manifest::raw::{RawConsole, RawCpus, RawDisk, RawNetwork, RawSize, RawVm, RawVnc, VmType};
use crate::model::units::check_vm_name;
use crate::plan::import as xen;
use crate::xen::fields::Key;

/// The listen address libvirt (qemu.conf `vnc_listen`) uses when the domain names none.
const DEFAULT_LISTEN: &str = "127.0.0.1";

/// A declaration with every optional part empty, for `host`.
fn raw_vm(host: &str) -> RawVm {
    RawVm {
        host: Some(host.to_string()),
        state: None,
        vm_type: Some(VmType::Hvm),
        memory: None,
        maxmem: None,
        vcpus: None,
        maxvcpus: None,
        cpus: None,
        disks: Vec::new(),
        networks: Vec::new(),
        console: None,
        snapshots: None,
        extra_config: BTreeMap::new(),
        shutdown_timeout: None,
        force_stop: false,
        allow_destroy: false,
        repository: None,
    }
}

/// The name a domain is declared under: domform's simple name in `<metadata>`, else its name.
pub fn domain_name(xml: &str) -> Result<String, String> {
    let d = parse(xml)?;
    Ok(d.simple_name.unwrap_or(d.name))
}

/// A libvirt domain's XML as the declaration of a VM on `host` (its name: [`domain_name`]).
pub fn vm_from_domain(host: &str, xml: &str) -> Result<RawVm, String> {
    let d = parse(xml)?;
    let mib = |kib: u64, what: &str| match kib % 1024 {
        0 => Ok(kib / 1024),
        _ => Err(format!("{what} is {kib} KiB, not a whole number of MiB")),
    };
    let memory = mib(d.current_memory_kib.unwrap_or(d.memory_kib), "<currentMemory>")?;
    let maxmem = mib(d.memory_kib, "<memory>")?;
    let vcpus = d.vcpus_current.unwrap_or(d.vcpus);
    Ok(RawVm {
        memory: Some(RawSize::Number(memory)),
        maxmem: (maxmem != memory).then_some(RawSize::Number(maxmem)),
        vcpus: Some(vcpus),
        maxvcpus: (d.vcpus != vcpus).then_some(d.vcpus),
        cpus: pins(&d)?,
        disks: domain_disks(&d)?,
        networks: domain_networks(&d)?,
        console: domain_console(&d),
        ..raw_vm(host)
    })
}

/// `<vcpupin>`s as `cpus`: one set for all, or one per vCPU; domform pins every vCPU or none.
fn pins(d: &Domain) -> Result<Option<RawCpus>, String> {
    if d.pins.is_empty() {
        return Ok(None);
    }
    let mut sets = Vec::new();
    for v in 0..d.vcpus {
        match d.pins.iter().rev().find(|(i, _)| *i == v) {
            Some((_, set)) => sets.push(set.to_string()),
            None => return Err(format!("vCPU {v} is not pinned but others are; domform pins every vCPU or none")),
        }
    }
    if let Some((v, _)) = d.pins.iter().find(|(v, _)| *v >= d.vcpus) {
        return Err(format!("<vcpupin> for vCPU {v}, above the {} vCPUs", d.vcpus));
    }
    if sets.iter().all(|s| *s == sets[0]) {
        Ok(Some(RawCpus::All(sets[0].clone())))
    } else {
        Ok(Some(RawCpus::PerVcpu(sets)))
    }
}

/// File and block disks by path; an empty CD-ROM drive is left out (it has nothing to declare).
fn domain_disks(d: &Domain) -> Result<Vec<RawDisk>, String> {
    let mut out = Vec::new();
    for disk in &d.disks {
        let cdrom = disk.device == "cdrom";
        let Some(path) = &disk.file else {
            if cdrom {
                continue;
            }
            let at = disk.target.as_deref().unwrap_or("?");
            return Err(format!("disk `{at}` is not a file or block device, which domform does not manage"));
        };
        if !matches!(disk.device.as_str(), "disk" | "cdrom") {
            return Err(format!("disk `{path}` is a `{}` device, which domform does not manage", disk.device));
        }
        let mode = match (disk.readonly, disk.shareable) {
            (true, _) => Some("r".to_string()),
            (false, true) => Some("w!".to_string()),
            (false, false) => None,
        };
        out.push(RawDisk { name: None, size: None, path: Some(path.clone()), mode, device: None, cdrom });
    }
    Ok(out)
}

fn domain_networks(d: &Domain) -> Result<Vec<RawNetwork>, String> {
    d.interfaces
        .iter()
        .map(|i| match &i.bridge {
            Some(bridge) => Ok(RawNetwork {
                bridge: bridge.clone(),
                mac: i.mac.as_ref().map(|m| m.to_ascii_lowercase()),
                model: i.model.clone().filter(|m| m != "virtio"),
                vif_type: None,
            }),
            None => Err(format!(
                "interface {} is not on a bridge, which domform does not manage",
                i.mac.as_deref().unwrap_or("without a MAC")
            )),
        })
        .collect()
}

fn domain_console(d: &Domain) -> Option<RawConsole> {
    let vnc = d.vnc.as_ref().map(|v| RawVnc {
        listen: Some(v.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.into())),
        port: if v.autoport { None } else { v.port.and_then(|p| u16::try_from(p).ok()) },
        password: None,
        keymap: v.keymap.clone(),
    });
    (d.serial_pty || vnc.is_some()).then_some(RawConsole { serial: d.serial_pty, pv_console: None, vnc })
}

/// What [`vm_from_domain`] could not carry over, as `# note:` lines.
pub fn domain_notes(xml: &str) -> Vec<String> {
    let Ok(d) = parse(xml) else { return Vec::new() };
    let mut notes = Vec::new();
    if d.vnc.as_ref().is_some_and(|v| v.has_password) {
        notes.push(password_note());
    }
    if d.disks.iter().any(|k| k.device == "cdrom" && k.file.is_none()) {
        notes.push("# note: an empty CD-ROM drive is not declared".to_string());
    }
    notes
}

fn password_note() -> String {
    "# note: the VNC password is not imported (domform never reads it): declare `password: { env: VAR }` \
     or `{ file: PATH }` under console.vnc, or the console has none"
        .to_string()
}

/// The name an OVM vm.cfg is declared under: `OVM_simple_name`, else `name`.
pub fn vm_cfg_name(cfg_text: &str) -> Result<String, String> {
    let cfg = VmCfg::parse(cfg_text).map_err(|e| format!("vm.cfg: {e}"))?;
    let name = ["OVM_simple_name", "name"]
        .iter()
        .find_map(|k| cfg.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .ok_or("vm.cfg has neither `OVM_simple_name` nor `name`")?;
    check_vm_name(name).map_err(|e| e.to_string())?;
    Ok(name.to_string())
}

/// An OVM vm.cfg as the declaration of the same VM on the libvirt host `host` (its name:
/// [`vm_cfg_name`]): memory, vCPUs, pinning, disks by their file path, bridges and MACs, the
/// serial console and VNC. Always HVM; Xen-only settings are dropped ([`vm_cfg_notes`]).
pub fn vm_from_vm_cfg(host: &str, cfg_text: &str) -> Result<RawVm, String> {
    let cfg = VmCfg::parse(cfg_text).map_err(|e| format!("vm.cfg: {e}"))?;
    vm_cfg_name(cfg_text)?;
    let int = |k: Key| cfg.get(k.name()).and_then(Value::as_int);
    let memory = int(Key::Memory).and_then(|m| u64::try_from(m).ok()).ok_or("vm.cfg: no `memory`")?;
    let maxmem = int(Key::Maxmem).and_then(|m| u64::try_from(m).ok()).filter(|m| *m > memory);
    let vcpus = int(Key::Vcpus).and_then(|v| u32::try_from(v).ok()).unwrap_or(1);
    let maxvcpus = int(Key::Maxvcpus).and_then(|v| u32::try_from(v).ok()).filter(|m| *m > vcpus);
    let mut disks = xen::disks(&cfg).map_err(|e| format!("vm.cfg: {e}"))?;
    for d in &mut disks {
        d.device = None;
        if d.cdrom && d.mode.is_none() {
            d.mode = Some("r".into());
        }
    }
    let mut networks = xen::networks(&cfg).map_err(|e| format!("vm.cfg: {e}"))?;
    for n in &mut networks {
        n.vif_type = None;
        n.model = n.model.take().filter(|m| LIBVIRT_NIC_MODELS.contains(&m.as_str()) && m != "virtio");
    }
    let hvm = cfg.get(Key::Builder.name()).and_then(Value::as_str) == Some("hvm");
    let console = xen::console(&cfg, hvm).map(|c| RawConsole {
        serial: c.serial,
        pv_console: None,
        vnc: c.vnc.map(|v| RawVnc { password: None, ..v }),
    });
    Ok(RawVm {
        memory: Some(RawSize::Number(memory)),
        maxmem: maxmem.map(RawSize::Number),
        vcpus: Some(vcpus),
        maxvcpus,
        cpus: xen::cpus(&cfg).map_err(|e| format!("vm.cfg: {e}"))?,
        disks,
        networks,
        console: console.filter(|c| c.serial || c.vnc.is_some()),
        ..raw_vm(host)
    })
}

/// NIC models QEMU emulates under the same name Xen's qemu-dm used; others become virtio.
const LIBVIRT_NIC_MODELS: [&str; 5] = ["virtio", "e1000", "rtl8139", "ne2k_pci", "pcnet"];

/// vm.cfg keys [`vm_from_vm_cfg`] reads (or that only name the VM); every other key is noted.
const CARRIED: [&str; 19] = [
    "OVM_simple_name",
    "builder",
    "vfb",
    "vncpasswd",
    "name",
    "uuid",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "cpus",
    "disk",
    "vif",
    "serial",
    "vnc",
    "vnclisten",
    "vncunused",
    "vncdisplay",
    "keymap",
];

/// What [`vm_from_vm_cfg`] could not carry over, as `# note:` lines.
pub fn vm_cfg_notes(cfg_text: &str) -> Vec<String> {
    let Ok(cfg) = VmCfg::parse(cfg_text) else { return Vec::new() };
    let mut notes = Vec::new();
    if cfg.get(Key::Builder.name()).and_then(Value::as_str) != Some("hvm") {
        notes.push(
            "# note: a PV guest becomes HVM (KVM has no PV): it boots from its disk through the BIOS, \
             so it needs a boot loader in its disk's MBR and virtio drivers"
                .to_string(),
        );
    }
    if !crate::plan::secrets::passwords(&cfg).is_empty() {
        notes.push(password_note());
    }
    let skipped: Vec<&str> = cfg.keys().into_iter().filter(|k| !CARRIED.contains(k)).collect();
    if !skipped.is_empty() {
        notes.push(format!("# note: vm.cfg keys with no libvirt meaning here, left out: {}", skipped.join(", ")));
    }
    notes
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
