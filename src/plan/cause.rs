//! Why a change is planned: the YAML changed (`intent`), the host changed (`drift`), or domform
//! never applied this VM (`new`). A scheduled run may fix drift unattended and must not apply
//! intent that nobody reviewed, so the plan has to tell them apart.
//!
//! When apply changes a VM, its last step also writes what was applied to
//! `<repository>/.domform-applied/<id>.json` (atomically, through the same guarded `WriteFile`
//! as vm.cfg): the desired value of every field domform owns, as the plan shows fields, and the
//! SHA-256 of the vm.cfg left behind. The next plan reads these records back (observe) and
//! compares, per change, the fields it touches: a field whose desired value differs from the
//! recorded one is intent; a change whose fields all still have their recorded desired values
//! only exists because the host moved away, which is drift.
//!
//! The record is in shared storage, so it is untrusted: it is parsed with a size limit, never
//! yields a path, and a record that does not parse is treated as absent (the change is `new`).
//! A forged record can at worst relabel a change; it cannot change what the change does.
//! Secrets are not recorded (their values are replaced before hashing and storing), so a new
//! VNC password alone shows as drift, not intent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::desired::{desired_cfg, naming};
use super::{Change, Op};
use crate::model::units::format_size;
use crate::model::{DiskSource, Vm};

/// The folder in each repository where apply records what it applied.
pub const DIR: &str = ".domform-applied";
/// Records larger than this are not read.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// Why a change is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// domform has no record of applying this VM.
    New,
    /// The host changed since the last apply; the YAML did not.
    Drift,
    /// The YAML changed since the last apply.
    Intent,
}

impl Cause {
    /// `new`, `drift` or `intent`.
    pub fn word(self) -> &'static str {
        match self {
            Cause::New => "new",
            Cause::Drift => "drift",
            Cause::Intent => "intent",
        }
    }
}

/// What apply recorded for one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Record format (1).
    pub format: u32,
    /// The VM's simple name.
    pub vm: String,
    /// The desired value of each owned field when it was applied.
    pub fields: BTreeMap<String, String>,
    /// SHA-256 of the vm.cfg left on the host, as the plan carries it (a VNC password as its
    /// placeholder, `plan::secrets`): evidence of what was written, not used to decide causes.
    pub cfg_sha256: String,
}

/// The record of `vm` in `repo`: named by a hash of the VM's name, so no name can form a path.
pub fn record_path(repo: &str, vm: &str) -> String {
    format!("{}/{DIR}/{}.json", repo.trim_end_matches('/'), &hex(vm.as_bytes())[..32])
}

fn hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a record read from a host; `None` when it is not one.
pub fn parse(text: &str) -> Option<Record> {
    if text.len() > MAX_RECORD_BYTES {
        return None;
    }
    serde_json::from_str::<Record>(text).ok().filter(|r| r.format == 1)
}

/// The desired value of every field domform owns for `vm`, keyed as plan fields are: vm.cfg
/// keys as a new vm.cfg would have them, `state`, and `disk:<name>` sizes. Secret values are
/// replaced by a fixed word.
pub fn intent_fields(vm: &Vm) -> BTreeMap<String, String> {
    let (_, fields) = desired_cfg(vm, None, &naming(vm));
    let mut out: BTreeMap<String, String> = fields
        .into_iter()
        .filter(|f| !["name", "uuid", "OVM_simple_name"].contains(&f.field.as_str()))
        .map(|f| {
            let v = f.new.unwrap_or_default();
            let v = if crate::render::plan::is_secret_field(f.field.as_str()) {
                "(secret)".into()
            } else {
                crate::render::plan::redact(&v)
            };
            (f.field.as_str().to_string(), v)
        })
        .collect();
    out.insert("state".into(), format!("{:?}", vm.state).to_lowercase());
    for d in &vm.disks {
        if let DiskSource::New { name, size } = &d.source {
            out.insert(format!("disk:{name}"), format_size(*size));
        }
    }
    out
}

/// The record apply writes for `vm`, with `cfg_text` the vm.cfg it leaves behind.
pub fn record(vm: &Vm, cfg_text: &str) -> Record {
    Record { format: 1, vm: vm.name.clone(), fields: intent_fields(vm), cfg_sha256: hex(cfg_text.as_bytes()) }
}

/// The key in [`intent_fields`] a field of change `c` is compared by.
fn key_of(c: &Change, field: &str) -> String {
    if c.id.starts_with("disk/") {
        return format!("disk:{}", c.id.rsplit('/').next().unwrap_or_default());
    }
    field.strip_suffix(" (live)").unwrap_or(field).to_string()
}

/// The cause of change `c` of `vm`, given the VM's record (if any).
pub fn cause_of(c: &Change, intent: &BTreeMap<String, String>, record: Option<&Record>) -> Cause {
    let Some(r) = record else { return Cause::New };
    let known: Vec<String> =
        c.fields.iter().map(|f| key_of(c, f.field.as_str())).filter(|k| intent.contains_key(k)).collect();
    if known.is_empty() {
        // Nothing to compare field by field (a delete, a snapshot): the whole intent decides.
        return if r.fields == *intent { Cause::Drift } else { Cause::Intent };
    }
    if known.iter().any(|k| r.fields.get(k) != intent.get(k)) {
        Cause::Intent
    } else {
        Cause::Drift
    }
}

/// The positions of each VM's changes in `changes` (all of a host's, in apply order), by VM
/// name: a change's `name` is the VM's, or `<vm>/<disk or snapshot>` (VM names hold no `/`).
/// One pass, so annotating a host is linear in its changes, not VMs × changes.
pub fn by_vm(changes: &[Change]) -> std::collections::HashMap<String, Vec<usize>> {
    let mut out: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        let vm = c.name.split_once('/').map_or(c.name.as_str(), |(vm, _)| vm);
        out.entry(vm.to_string()).or_default().push(i);
    }
    out
}

/// Sets the cause of each of `vm`'s changes (`mine`: their positions in `changes`, ascending,
/// from [`by_vm`]) and appends the record write to the VM's last change, so it runs only when
/// every change of the VM before it succeeded. `cfg_now` is the VM's vm.cfg on the host, if any.
pub fn annotate(
    vm: &Vm,
    changes: &mut [Change],
    mine: &[usize],
    records: &BTreeMap<String, Record>,
    cfg_now: Option<&str>,
) {
    let Some(&last) = mine.last() else { return };
    let path = record_path(&vm.repository, &vm.name);
    let intent = intent_fields(vm);
    let rec = records.get(&path);
    let mut cfg_after = cfg_now.map(str::to_string);
    for &i in mine {
        let c = &mut changes[i];
        c.cause = Some(cause_of(c, &intent, rec));
        for op in &c.ops {
            if let Op::WriteFile { path, content, .. } = op {
                if path.ends_with("/vm.cfg") || path.ends_with("/domain.xml") {
                    cfg_after = Some(content.clone());
                }
            }
        }
    }
    if vm.state == crate::model::VmState::Absent {
        return;
    }
    let text = serde_json::to_string_pretty(&record(vm, cfg_after.as_deref().unwrap_or_default())).unwrap_or_default();
    changes[last].ops.push(Op::WriteFile { path, content: text + "\n", backup: false, secrets: Vec::new() });
}

/// Annotates every change of `host`'s VMs in `changes` (apply order) from the records observe
/// read; `config_now(vm)` is the VM's configuration text on the host (vm.cfg, domain XML).
pub fn annotate_host<'a>(
    model: &crate::model::Model,
    host: &str,
    applied: &BTreeMap<String, String>,
    changes: &mut [Change],
    config_now: impl Fn(&Vm) -> Option<&'a str>,
) {
    let records = applied.iter().filter_map(|(p, t)| parse(t).map(|r| (p.clone(), r))).collect();
    let positions = by_vm(changes);
    for vm in model.vms.values().filter(|v| v.host == host) {
        let mine = positions.get(&vm.name).map_or(&[][..], Vec::as_slice);
        annotate(vm, changes, mine, &records, config_now(vm));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, FieldChange, Impact, Resource};

    fn change(id: &str, name: &str, fields: &[&str]) -> Change {
        Change {
            id: id.into(),
            resource: Resource::Vm,
            name: name.into(),
            action: Action::Update,
            impact: Impact::Live,
            fields: fields
                .iter()
                .map(|f| FieldChange { field: (*f).into(), old: None, new: None, impact: Impact::Live })
                .collect(),
            file: None,
            ops: vec![],
            depends_on: vec![],
            verify_pins: vec![],
            cause: None,
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_field_decides_by_its_recorded_desired_value() {
        let intent = fields(&[("memory", "4096"), ("cpus", "'4-5'"), ("state", "running"), ("disk:data1", "10 GiB")]);
        let mut rec = Record { format: 1, vm: "db01".into(), fields: intent.clone(), cfg_sha256: String::new() };
        let mem = change("vm/db01", "db01", &["memory"]);
        let pin = change("vm/db01", "db01", &["cpus (live)"]);
        let disk = change("disk/db01/data1", "db01/data1", &["size"]);
        assert_eq!(cause_of(&mem, &intent, None), Cause::New);
        assert_eq!(cause_of(&mem, &intent, Some(&rec)), Cause::Drift);
        assert_eq!(cause_of(&pin, &intent, Some(&rec)), Cause::Drift);
        assert_eq!(cause_of(&disk, &intent, Some(&rec)), Cause::Drift);
        rec.fields.insert("memory".into(), "2048".into());
        assert_eq!(cause_of(&mem, &intent, Some(&rec)), Cause::Intent, "the YAML's memory changed");
        assert_eq!(cause_of(&pin, &intent, Some(&rec)), Cause::Drift, "pinning did not change in the YAML");
        rec.fields.insert("disk:data1".into(), "5 GiB".into());
        assert_eq!(cause_of(&disk, &intent, Some(&rec)), Cause::Intent);
        // No field to compare (a delete): the whole record decides.
        let gone = change("vm/db01", "db01", &["vm.cfg"]);
        assert_eq!(cause_of(&gone, &intent, Some(&rec)), Cause::Intent);
        rec.fields = intent.clone();
        assert_eq!(cause_of(&gone, &intent, Some(&rec)), Cause::Drift);
    }

    #[test]
    fn records_are_named_by_hash_and_parsed_with_limits() {
        let p = record_path("/OVS/Repositories/r/", "../../etc/DB Server 01");
        assert!(p.starts_with("/OVS/Repositories/r/.domform-applied/") && p.ends_with(".json"), "{p}");
        assert_eq!(p.matches('/').count(), 5, "{p}");
        let ok = r#"{"format":1,"vm":"db01","fields":{"memory":"4096"},"cfg_sha256":"ab"}"#;
        assert_eq!(parse(ok).map(|r| r.vm), Some("db01".into()));
        assert!(parse(r#"{"format":2,"vm":"db01","fields":{},"cfg_sha256":""}"#).is_none(), "unknown format");
        assert!(parse("{\"format\": 1, \"vm\": 3}").is_none());
        assert!(parse(&format!("{ok}{}", " ".repeat(MAX_RECORD_BYTES))).is_none(), "too big");
    }
}
