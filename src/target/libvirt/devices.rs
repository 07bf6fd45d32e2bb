//! The devices of a domain against the declaration: disks (by backing file), NICs (by MAC, else
//! by bridge), the serial console and the VNC server. Each difference is one minimal edit of the
//! persistent XML ([`crate::libvirt::domain`]); a running domain sees it at its next start
//! (domform does not hot-plug: a guest without ACPI hotplug support would silently miss a disk).

use super::edit::with;
use crate::libvirt::devices as dev;
use crate::libvirt::domain::{self, Domain as LvXml};
use crate::model::{DiskMode, Vm};
use crate::plan::{desired, FieldChange, Impact};

/// A disk as compared: backing file, CD-ROM, read-only, shared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantDisk {
    path: String,
    cdrom: bool,
    readonly: bool,
    shareable: bool,
}

fn want_disks(vm: &Vm) -> Vec<WantDisk> {
    vm.disks
        .iter()
        .filter_map(|d| {
            Some(WantDisk {
                path: desired::disk_path(vm, d)?,
                cdrom: d.cdrom,
                readonly: d.mode == DiskMode::ReadOnly || d.cdrom,
                shareable: d.mode == DiskMode::Shared,
            })
        })
        .collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// Edits `text` for every device difference and records each as a field.
pub fn edits(
    vm: &Vm,
    def: &LvXml,
    text: &mut String,
    fields: &mut Vec<FieldChange>,
    active: bool,
) -> Result<(), String> {
    let impact = if active { Impact::NeedsRestart } else { Impact::Live };
    // Disks, by file.
    let want = want_disks(vm);
    let have: Vec<&domain::Disk> = def.disks.iter().filter(|d| d.file.is_some()).collect();
    let have_paths: Vec<String> = have.iter().filter_map(|d| d.file.clone()).collect();
    let want_paths: Vec<String> = want.iter().map(|w| w.path.clone()).collect();
    // Compared as sets: libvirt sorts a domain's disks by bus at define (a CD-ROM on IDE goes
    // after the virtio disks), so the stored order is not the declared one.
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(&have_paths) != sorted(&want_paths) {
        for d in have.iter().filter(|d| d.file.as_ref().is_some_and(|f| !want_paths.contains(f))) {
            let f = d.file.clone().unwrap_or_default();
            with(text, |t| dev::remove_disk(t, &f))?;
        }
        let mut targets: Vec<String> = have.iter().filter_map(|d| d.target.clone()).collect();
        for w in want.iter().filter(|w| !have_paths.contains(&w.path)) {
            let prefix = if w.cdrom { "hd" } else { "vd" };
            let dev = crate::libvirt::devices::next_target_dev(&targets, prefix);
            with(text, |t| dev::add_disk(t, &w.path, &dev, w.readonly, w.shareable, w.cdrom))?;
            targets.push(dev);
        }
        fields.push(FieldChange {
            field: "disks".into(),
            old: Some(list(&have_paths)),
            new: Some(list(&want_paths)),
            impact,
        });
    }
    disk_modes(&want, &have, text, fields, impact)?;
    nics(vm, def, text, fields, impact)?;
    if def.serial_pty != vm.console.serial {
        with(text, |t| dev::set_serial(t, vm.console.serial))?;
        let onoff = |b: bool| if b { "pty".to_string() } else { "(none)".to_string() };
        fields.push(FieldChange {
            field: "serial".into(),
            old: Some(onoff(def.serial_pty)),
            new: Some(onoff(vm.console.serial)),
            impact,
        });
    }
    let want_vnc = vm.console.vnc.as_ref().map(|v| (v.listen.clone(), v.port.map(i32::from)));
    let want_arg = vm.console.vnc.as_ref().map(|v| (v.listen.as_str(), v.port));
    let have_vnc = def
        .vnc
        .as_ref()
        .map(|v| (v.listen.clone().unwrap_or_else(|| "127.0.0.1".into()), if v.autoport { None } else { v.port }));
    if want_vnc != have_vnc {
        let show = |v: &Option<(String, Option<i32>)>| match v {
            None => "(none)".to_string(),
            Some((l, Some(p))) => format!("{l}:{p}"),
            Some((l, None)) => format!("{l}:auto"),
        };
        with(text, |t| dev::set_vnc(t, want_arg))?;
        fields.push(FieldChange {
            field: "vnc".into(),
            old: Some(show(&have_vnc)),
            new: Some(show(&want_vnc)),
            impact,
        });
    }
    // A keymap not declared is left as it is (as on a Xen host).
    let want_keymap = vm.console.vnc.as_ref().and_then(|v| v.keymap.as_deref());
    let have_keymap = def.vnc.as_ref().and_then(|v| v.keymap.as_deref());
    if let Some(k) = want_keymap.filter(|k| have_keymap != Some(*k)) {
        with(text, |t| dev::set_vnc_keymap(t, Some(k)))?;
        fields.push(FieldChange {
            field: "vnc keymap".into(),
            old: Some(have_keymap.unwrap_or("(none)").to_string()),
            new: Some(k.to_string()),
            impact,
        });
    }
    Ok(())
}

/// The mode of each declared disk the domain already has (by file): `<readonly/>`, `<shareable/>`.
fn disk_modes(
    want: &[WantDisk],
    have: &[&domain::Disk],
    text: &mut String,
    fields: &mut Vec<FieldChange>,
    impact: Impact,
) -> Result<(), String> {
    let mode = |ro: bool, shared: bool| match (ro, shared) {
        (true, _) => "r",
        (false, true) => "w!",
        (false, false) => "w",
    };
    for w in want {
        let Some(h) = have.iter().find(|h| h.file.as_deref() == Some(w.path.as_str())) else { continue };
        // `mode: r` says nothing of sharing (import reads read-only + shareable as `r`).
        let shareable = if w.readonly { h.shareable } else { w.shareable };
        if (h.readonly, h.shareable) != (w.readonly, shareable) {
            with(text, |t| dev::set_disk_flags(t, &w.path, w.readonly, shareable))?;
            fields.push(FieldChange {
                field: format!("disk {} mode", w.path).into(),
                old: Some(mode(h.readonly, h.shareable).into()),
                new: Some(mode(w.readonly, w.shareable).into()),
                impact,
            });
        }
    }
    Ok(())
}

/// NICs: matched by MAC when declared, else by bridge; the rest added or removed.
fn nics(vm: &Vm, def: &LvXml, text: &mut String, fields: &mut Vec<FieldChange>, impact: Impact) -> Result<(), String> {
    let mut unmatched: Vec<&domain::Interface> = def.interfaces.iter().collect();
    let mut missing = Vec::new();
    let mut models = Vec::new();
    for n in &vm.networks {
        let pos = unmatched.iter().position(|i| match &n.mac {
            Some(m) => {
                i.mac.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(m)) && i.bridge.as_deref() == Some(&n.bridge)
            }
            None => i.bridge.as_deref() == Some(&n.bridge),
        });
        match pos {
            Some(p) => {
                let i = unmatched.remove(p);
                // A declared model (one not declared stays as it is).
                if let (Some(want), Some(mac)) = (n.model.as_deref(), i.mac.as_deref()) {
                    if i.model.as_deref() != Some(want) {
                        models.push((mac, i.model.clone(), want));
                    }
                }
            }
            None => missing.push(n),
        }
    }
    for (mac, old, new) in models {
        with(text, |t| dev::set_interface_model(t, mac, new))?;
        fields.push(FieldChange {
            field: format!("network {mac} model").into(),
            old: Some(old.unwrap_or_else(|| "(none)".into())),
            new: Some(new.to_string()),
            impact,
        });
    }
    if missing.is_empty() && unmatched.is_empty() {
        return Ok(());
    }
    let show = |b: &Option<String>, m: &Option<String>| {
        format!("{}{}", b.clone().unwrap_or_default(), m.as_ref().map(|m| format!(" {m}")).unwrap_or_default())
    };
    let old: Vec<String> = def.interfaces.iter().map(|i| show(&i.bridge, &i.mac)).collect();
    let new: Vec<String> = vm.networks.iter().map(|n| show(&Some(n.bridge.clone()), &n.mac)).collect();
    for i in unmatched {
        let mac = i
            .mac
            .clone()
            .ok_or_else(|| "an interface without a MAC address cannot be told apart; remove it by hand".to_string())?;
        with(text, |t| dev::remove_interface(t, &mac))?;
    }
    for n in missing {
        with(text, |t| dev::add_interface(t, &n.bridge, n.mac.as_deref(), n.model.as_deref()))?;
    }
    fields.push(FieldChange { field: "networks".into(), old: Some(list(&old)), new: Some(list(&new)), impact });
    Ok(())
}
