//! A fresh domain XML for a VM declared on a libvirt host: what `virsh define` gets when the
//! domain does not exist yet.
//!
//! Only a *new* domain is written whole; an existing one is changed with the minimal edits of
//! [`super::domain`] and [`super::devices`], because libvirt owns most of a defined domain's XML.
//! So this writes the smallest document libvirt completes into a bootable QEMU guest (the
//! `<emulator>`, controllers, addresses, video and balloon are filled in by libvirt at define,
//! docs/libvirt-research.md), holding exactly the values domform reconciles, in the shape
//! [`super::domain::parse`] reads back: the two must agree or a VM domform just defined would
//! plan as changed.
//!
//! KVM has no paravirtualised guests: a VM declared `type: pv` gets the same HVM domain as any
//! other (docs/libvirt.md). Every text and attribute value is XML-escaped. A declared VNC
//! password is never written here: its `passwd=` holds the placeholder `plan::secrets` uses
//! for vm.cfg (`(secret: env VAR)`), and [`fill_vnc_password`] puts the value in just before
//! the text goes to the host.

use super::devices::{block, disk_lines, interface_lines, next_target_dev, serial_lines, vnc_port_attrs};
use super::domain::{esc, METADATA_NS};
use crate::model::secret::placeholder;
use crate::model::{DiskMode, Vm};
use crate::plan::desired::{disk_path, model_pinning, naming};

/// The vCPU maximum of a VM (its `maxvcpus`, never below `vcpus`).
pub fn max_vcpus(vm: &Vm) -> u32 {
    vm.maxvcpus.unwrap_or(vm.vcpus).max(vm.vcpus)
}

/// The `passwd=` value written for the VM's declared VNC password, if it has one.
pub fn vnc_password_placeholder(vm: &Vm) -> Option<String> {
    vm.console.vnc.as_ref().and_then(|v| v.password.as_ref()).map(placeholder)
}

/// `xml` with the VNC password placeholder replaced by `value` (escaped). Exactly one
/// `passwd='PLACEHOLDER'` (or `"PLACEHOLDER"`) must be there; the error never holds the value.
pub fn fill_vnc_password(xml: &str, placeholder: &str, value: &str) -> Result<String, String> {
    let found: Vec<String> = ['\'', '"']
        .iter()
        .map(|q| format!("passwd={q}{}{q}", esc(placeholder)))
        .filter(|attr| xml.contains(attr.as_str()))
        .collect();
    let count: usize = found.iter().map(|attr| xml.matches(attr.as_str()).count()).sum();
    match (count, found.first()) {
        (1, Some(attr)) => Ok(xml.replacen(attr.as_str(), &format!("passwd='{}'", esc(value)), 1)),
        _ => Err(format!("the domain XML has {count} VNC password placeholders `{placeholder}`, not one")),
    }
}

/// The complete domain XML for `vm`, `<domain type='DOMAIN_TYPE'>` (`kvm` or `qemu`).
pub fn domain_xml(vm: &Vm, domain_type: &str) -> String {
    let mut x = format!("<domain type='{}'>\n", esc(domain_type));
    x += &format!("  <name>{}</name>\n", esc(&vm.name));
    x += &format!("  <uuid>{}</uuid>\n", naming(vm).uuid);
    x += "  <metadata>\n";
    x += &format!("    <domform:vm xmlns:domform=\"{METADATA_NS}\">\n");
    x += &format!("      <domform:simple-name>{}</domform:simple-name>\n", esc(&vm.name));
    x += "    </domform:vm>\n  </metadata>\n";
    x += &format!("  <memory unit='MiB'>{}</memory>\n", vm.maxmem_mib.max(vm.memory_mib));
    x += &format!("  <currentMemory unit='MiB'>{}</currentMemory>\n", vm.memory_mib);
    let max = max_vcpus(vm);
    if vm.vcpus == max {
        x += &format!("  <vcpu placement='static'>{max}</vcpu>\n");
    } else {
        x += &format!("  <vcpu placement='static' current='{}'>{max}</vcpu>\n", vm.vcpus);
    }
    if let Some(p) = &vm.cpus {
        x += "  <cputune>\n";
        for (i, set) in model_pinning(p, max as usize).iter().enumerate() {
            x += &format!("    <vcpupin vcpu='{i}' cpuset='{set}'/>\n");
        }
        x += "  </cputune>\n";
    }
    x += "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n";
    if vm.disks.iter().any(|d| d.cdrom) {
        x += "    <boot dev='cdrom'/>\n";
    }
    // SeaBIOS on the serial console, so `virsh console` shows the boot; libvirt refuses
    // `useserial` on a domain without a serial port ("need at least one serial port").
    if vm.console.serial {
        x += "    <bios useserial='yes'/>\n";
    }
    x += "  </os>\n";
    x += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n  <clock offset='utc'/>\n";
    x += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n";
    x += "  <devices>\n";
    x += &disks(vm);
    x += &interfaces(vm);
    x += &consoles(vm);
    x += "  </devices>\n</domain>\n";
    x
}

/// `<disk>`s in declared order: disks take `vda`, `vdb`, … on virtio, CD-ROMs `hda`, `hdb`, …
/// on IDE (the bus QEMU's `pc` machine has built in), read-only.
fn disks(vm: &Vm) -> String {
    let mut taken: Vec<String> = Vec::new();
    let mut x = String::new();
    for d in &vm.disks {
        let path = disk_path(vm, d).unwrap_or_default();
        let dev = next_target_dev(&taken, if d.cdrom { "hd" } else { "vd" });
        let lines = disk_lines(&path, &dev, d.mode == DiskMode::ReadOnly, d.mode == DiskMode::Shared, d.cdrom);
        taken.push(dev);
        x += &block(&lines, "    ");
        x.push('\n');
    }
    x
}

/// `<interface type='bridge'>`s in declared order; without a MAC libvirt makes one up.
fn interfaces(vm: &Vm) -> String {
    let mut x = String::new();
    for n in &vm.networks {
        x += &block(&interface_lines(&n.bridge, n.mac.as_deref(), n.model.as_deref()), "    ");
        x.push('\n');
    }
    x
}

/// The serial console (a pty, as `virsh console` needs) and the VNC display.
fn consoles(vm: &Vm) -> String {
    let mut x = String::new();
    if vm.console.serial {
        x += &block(&serial_lines(), "    ");
        x.push('\n');
    }
    if let Some(v) = &vm.console.vnc {
        x += "    <graphics type='vnc'";
        for (k, val) in vnc_port_attrs(v.port) {
            x += &format!(" {k}='{val}'");
        }
        x += &format!(" listen='{}'", esc(&v.listen));
        if let Some(k) = &v.keymap {
            x += &format!(" keymap='{}'", esc(k));
        }
        if let Some(p) = vnc_password_placeholder(vm) {
            x += &format!(" passwd='{}'", esc(&p));
        }
        x += "/>\n";
    }
    x
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
