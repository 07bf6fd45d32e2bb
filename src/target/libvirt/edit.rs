//! The persistent domain XML a declared VM should have, made from the XML the host has by
//! minimal edits ([`crate::libvirt::domain`]): one field at a time, each edit touching only its
//! own element, so everything domform does not own (a `<video>`, a controller, an `<emulator>`
//! path the admin chose) is kept byte for byte. Each edited field is reported with its old and
//! new value and whether a running domain takes it now or at its next start.

use super::observe::LvDomain;
use crate::libvirt::domain::{self, Domain as LvXml};
use crate::model::{CpuSet, Vm};
use crate::plan::secrets::SecretSlot;
use crate::plan::{desired, FieldChange, Impact};

/// The fields a new VM is defined with, for the plan's listing.
pub fn summary(vm: &Vm) -> Vec<FieldChange> {
    let mut out = vec![
        new_field("memory", format!("{}MiB", vm.memory_mib)),
        new_field("maxmem", format!("{}MiB", vm.maxmem_mib)),
        new_field("vcpus", vm.vcpus.to_string()),
    ];
    if let Some(p) = &vm.cpus {
        out.push(new_field("cpus", pins_text(&desired_pins(vm, p))));
    }
    out
}

fn new_field(name: &str, value: String) -> FieldChange {
    FieldChange { field: name.into(), old: None, new: Some(value), impact: Impact::Live }
}

/// The fields a running domain takes only at its next start, for the plan's note.
pub fn restart_fields(fields: &[FieldChange]) -> String {
    let names: Vec<String> =
        fields.iter().filter(|f| f.impact == Impact::NeedsRestart).map(|f| f.field.to_string()).collect();
    names.join(", ")
}

fn max_vcpus(vm: &Vm) -> u32 {
    vm.maxvcpus.unwrap_or(vm.vcpus).max(vm.vcpus)
}

fn desired_pins(vm: &Vm, p: &crate::model::Pinning) -> Vec<(u32, CpuSet)> {
    desired::model_pinning(p, max_vcpus(vm) as usize).into_iter().enumerate().map(|(i, s)| (i as u32, s)).collect()
}

fn pins_text(pins: &[(u32, CpuSet)]) -> String {
    let sets: Vec<String> = pins.iter().map(|(_, s)| s.to_string()).collect();
    if sets.windows(2).all(|w| w[0] == w[1]) {
        sets.first().cloned().unwrap_or_default()
    } else {
        sets.join(" / ")
    }
}

/// The XML `d` should have for `vm`, and what changes; `Err` when an edit cannot be made (an XML
/// that lacks an element every libvirt domain has).
pub fn desired_xml(vm: &Vm, d: &LvDomain) -> Result<(String, Vec<FieldChange>, Option<SecretSlot>), String> {
    let Some(def) = &d.def else { return Err(format!("the XML of domain `{}` did not read", d.name)) };
    let active = d.active();
    let later = |live_ok: bool| if active && !live_ok { Impact::NeedsRestart } else { Impact::Live };
    let mut text = d.xml.clone();
    let mut fields = Vec::new();
    let (want_max, want_cur) = (vm.maxmem_mib * 1024, vm.memory_mib * 1024);
    let have_cur = def.current_memory_kib.unwrap_or(def.memory_kib);
    if def.memory_kib != want_max {
        // Grown first, so `<currentMemory>` is never above `<memory>` in between.
        with(&mut text, |t| domain::set_memory(t, want_max.max(have_cur)))?;
        fields.push(changed("maxmem", mib(def.memory_kib), mib(want_max), later(false)));
    }
    if have_cur != want_cur {
        with(&mut text, |t| domain::set_current_memory(t, want_cur))?;
        fields.push(changed("memory", mib(have_cur), mib(want_cur), later(want_cur <= def.memory_kib)));
    }
    if want_max.max(have_cur) != want_max {
        with(&mut text, |t| domain::set_memory(t, want_max))?;
    }
    vcpu_edits(vm, def, &mut text, &mut fields, active)?;
    let want_pins = vm.cpus.as_ref().map(|p| desired_pins(vm, p)).unwrap_or_default();
    let mut have_pins = def.pins.clone();
    have_pins.sort_by_key(|(v, _)| *v);
    if have_pins != want_pins {
        with(&mut text, |t| domain::set_pins(t, &want_pins))?;
        let impact = if want_pins.is_empty() { later(false) } else { Impact::Live };
        fields.push(changed("cpus", pins_text(&have_pins), pins_text(&want_pins), impact));
    }
    if def.name == vm.name && def.simple_name.as_deref().is_some_and(|s| s != vm.name) {
        with(&mut text, |t| domain::set_simple_name(t, &vm.name))?;
        fields.push(changed("simple name", def.simple_name.clone().unwrap_or_default(), vm.name.clone(), Impact::Live));
    }
    super::devices::edits(vm, def, &mut text, &mut fields, active)?;
    let slot = super::secret::plan(vm, &d.name, d.vnc_password.as_ref(), &mut text, &mut fields, later(false))?;
    Ok((text, fields, slot))
}

/// `<vcpu current='N'>MAX</vcpu>`: the maximum needs a restart; more vCPUs up to it go live.
fn vcpu_edits(
    vm: &Vm,
    def: &LvXml,
    text: &mut String,
    fields: &mut Vec<FieldChange>,
    active: bool,
) -> Result<(), String> {
    let want_max = max_vcpus(vm);
    let have_cur = def.vcpus_current.unwrap_or(def.vcpus);
    if def.vcpus == want_max && have_cur == vm.vcpus {
        return Ok(());
    }
    with(text, |t| crate::libvirt::devices::set_vcpus_current(t, vm.vcpus, want_max))?;
    if def.vcpus != want_max {
        let impact = if active { Impact::NeedsRestart } else { Impact::Live };
        fields.push(changed("maxvcpus", def.vcpus.to_string(), want_max.to_string(), impact));
    }
    if have_cur != vm.vcpus {
        let live_ok = !active || (vm.vcpus > have_cur && vm.vcpus <= def.vcpus);
        let impact = if live_ok { Impact::Live } else { Impact::NeedsRestart };
        fields.push(changed("vcpus", have_cur.to_string(), vm.vcpus.to_string(), impact));
    }
    Ok(())
}

/// Makes the edits `f` computes on `text`, in `text`.
pub fn with(text: &mut String, f: impl FnOnce(&str) -> Result<Vec<domain::Edit>, String>) -> Result<(), String> {
    let edits = f(text)?;
    *text = domain::apply(text, &edits);
    Ok(())
}

fn mib(kib: u64) -> String {
    if kib.is_multiple_of(1024) {
        format!("{}MiB", kib / 1024)
    } else {
        format!("{kib}KiB")
    }
}

fn changed(name: &str, old: String, new: String, impact: Impact) -> FieldChange {
    FieldChange { field: name.into(), old: Some(old), new: Some(new), impact }
}
