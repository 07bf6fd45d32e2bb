//! The inverse of `desired.rs`: an observed VM read back as the raw declaration that plans
//! "no changes" against the vm.cfg it came from. It lives next to the planner because it must
//! read every key `desired_cfg` writes the way `desired_cfg` writes it; `cli/import.rs` only
//! observes, prints and sets the exit code.

use std::collections::BTreeMap;

use vmcfg::{parse_kv_stanza, DiskSpec, Value};

use crate::manifest::raw::{RawCpus, RawDisk, RawNetwork, RawSize, RawVm, VmState, VmType};
use crate::model::units::check_vm_name;
use crate::observe::{Observed, VmView};

/// One VM as raw desired state, or why it cannot be imported.
pub fn vm_yaml(host: &str, v: &VmView<'_>) -> Result<RawVm, String> {
    check_vm_name(&v.simple_name)?;
    let cfg = v
        .cfg
        .map(|c| &c.cfg)
        .ok_or_else(|| format!("`{}` runs but has no vm.cfg in the observed repositories", v.simple_name))?;
    let int = |k: &str| cfg.get(k).and_then(Value::as_int);
    let memory = int("memory").and_then(|m| u64::try_from(m).ok()).ok_or("no `memory`")?;
    let maxmem = int("maxmem").and_then(|m| u64::try_from(m).ok()).filter(|m| *m != memory);
    let vcpus = int("vcpus").and_then(|m| u32::try_from(m).ok()).unwrap_or(1);
    let cpus = match cfg.get("cpus") {
        Some(Value::Str(s)) if !s.trim().is_empty() => Some(RawCpus::All(s.clone())),
        Some(Value::List(l)) => Some(RawCpus::PerVcpu(
            l.iter()
                .map(|i| i.as_str().map(str::to_string).ok_or("non-string `cpus` item"))
                .collect::<Result<_, _>>()?,
        )),
        _ => None,
    };
    let mut disks = Vec::new();
    for item in cfg.get("disk").and_then(Value::as_list).unwrap_or_default() {
        let stanza = item.as_str().ok_or("non-string `disk` entry")?;
        let d = DiskSpec::parse(stanza)?;
        if !d.path.starts_with('/') || (d.backend == "phy") != d.path.starts_with("/dev/") {
            return Err(format!("disk `{stanza}` has a form domform does not manage yet"));
        }
        let mode = match d.mode.as_str() {
            "w" | "rw" => None,
            "ro" => Some("r".to_string()),
            m => Some(m.to_string()),
        };
        disks.push(RawDisk {
            name: None,
            size: None,
            path: Some(d.path),
            mode,
            device: Some(d.frontend),
            cdrom: d.cdrom,
        });
    }
    let mut networks = Vec::new();
    for item in cfg.get("vif").and_then(Value::as_list).unwrap_or_default() {
        let kv = parse_kv_stanza(item.as_str().ok_or("non-string `vif` entry")?);
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let bridge = get("bridge").ok_or("a `vif` without a bridge")?;
        networks.push(RawNetwork { bridge, mac: get("mac"), model: get("model"), vif_type: get("type") });
    }
    let state = match v.domain {
        Some(d) if d.state.paused => VmState::Paused,
        Some(_) => VmState::Running,
        None => VmState::Stopped,
    };
    let hvm = cfg.get("builder").and_then(Value::as_str) == Some("hvm");
    let serial = cfg.get("serial").and_then(Value::as_str) == Some("pty");
    Ok(RawVm {
        host: Some(host.to_string()),
        state: Some(state),
        vm_type: Some(if hvm { VmType::Hvm } else { VmType::Pv }),
        memory: Some(RawSize::Number(memory)),
        maxmem: maxmem.map(RawSize::Number),
        vcpus: Some(vcpus),
        maxvcpus: int("maxvcpus").and_then(|m| u32::try_from(m).ok()),
        cpus,
        disks,
        networks,
        console: serial.then_some(crate::manifest::raw::RawConsole { serial: true, pv_console: None, vnc: None }),
        snapshots: None,
        extra_config: BTreeMap::new(),
        shutdown_timeout: None,
        force_stop: false,
        allow_destroy: false,
        repository: v.cfg.and_then(|c| c.path.split_once("/VirtualMachines/")).map(|(r, _)| r.to_string()),
    })
}

/// Drops nulls, `false`, empty lists and empty maps, so the YAML reads like a person wrote it.
fn prune(v: serde_yaml::Value) -> Option<serde_yaml::Value> {
    use serde_yaml::Value as Y;
    match v {
        Y::Null | Y::Bool(false) => None,
        Y::Sequence(s) if s.is_empty() => None,
        Y::Sequence(s) => Some(Y::Sequence(s.into_iter().filter_map(prune).collect())),
        Y::Mapping(m) => {
            let m: serde_yaml::Mapping = m.into_iter().filter_map(|(k, v)| prune(v).map(|v| (k, v))).collect();
            (!m.is_empty()).then_some(Y::Mapping(m))
        }
        other => Some(other),
    }
}

/// The YAML document for a host, with skipped VMs as comments, and how many were skipped.
pub fn import_yaml(host: &str, obs: &Observed) -> (String, usize) {
    let mut vms = serde_yaml::Mapping::new();
    let mut skipped = Vec::new();
    for v in obs.vms() {
        match vm_yaml(host, &v) {
            Ok(raw) => {
                if let Some(val) = serde_yaml::to_value(&raw).ok().and_then(prune) {
                    vms.insert(serde_yaml::Value::String(v.simple_name.clone()), val);
                }
            }
            Err(e) => skipped.push(format!("# skipped {} ({}): {e}", v.simple_name.escape_debug(), v.xen_name)),
        }
    }
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("vms".into(), serde_yaml::Value::Mapping(vms));
    let body = serde_yaml::to_string(&doc).unwrap_or_default();
    let mut out =
        format!("# written by `domform import --host {host}`; plan it together with the file that declares the host\n");
    for s in &skipped {
        out.push_str(s);
        out.push('\n');
    }
    out.push_str(&body);
    (out, skipped.len())
}
