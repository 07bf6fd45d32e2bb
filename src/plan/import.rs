//! The inverse of `desired.rs`: an observed VM read back as the raw declaration that plans
//! "no changes" against the vm.cfg it came from. It lives next to the planner because it must
//! read every key `desired_cfg` writes the way `desired_cfg` writes it; `cli/import.rs` only
//! observes, prints and sets the exit code.

use std::collections::BTreeMap;

use vmcfg::{parse_kv_stanza, DiskSpec, Value, VmCfg};

use super::console::{get as stanza_get, is_vnc_stanza, DEFAULT_LISTEN, VNC_BASE};
use crate::manifest::raw::{RawConsole, RawCpus, RawDisk, RawNetwork, RawSize, RawVm, RawVnc, VmState, VmType};
use crate::model::units::{check_vm_name, NameError};
use crate::observe::{Observed, VmView};
use crate::xen::fields::Key;

/// Why a VM is left out of the import (each becomes a `# skipped` comment).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Its name is not one domform can declare.
    #[error(transparent)]
    Name(#[from] NameError),
    /// It runs but its vm.cfg is not in an observed repository.
    #[error("`{0}` runs but has no vm.cfg in the observed repositories")]
    NoCfg(String),
    /// No readable `memory`.
    #[error("no `memory`")]
    NoMemory,
    /// A list key with a non-string item (`item` or `entry`).
    #[error("non-string `{0}` {1}")]
    NotString(&'static str, &'static str),
    /// A disk stanza that does not parse.
    #[error("{0}")]
    Disk(String),
    /// A disk domform cannot declare.
    #[error("disk `{0}` has a form domform does not manage yet")]
    DiskForm(String),
    /// A NIC without a bridge.
    #[error("a `vif` without a bridge")]
    NoBridge,
}

/// One VM as raw desired state, or why it cannot be imported.
pub fn vm_yaml(host: &str, v: &VmView<'_>) -> Result<RawVm, ImportError> {
    check_vm_name(&v.simple_name)?;
    let cfg = v.cfg.map(|c| &c.cfg).ok_or_else(|| ImportError::NoCfg(v.simple_name.clone()))?;
    let int = |k: Key| cfg.get(k.name()).and_then(Value::as_int);
    let memory = int(Key::Memory).and_then(|m| u64::try_from(m).ok()).ok_or(ImportError::NoMemory)?;
    let maxmem = int(Key::Maxmem).and_then(|m| u64::try_from(m).ok()).filter(|m| *m != memory);
    let state = match v.domain {
        Some(d) if d.state.paused => VmState::Paused,
        Some(_) => VmState::Running,
        None => VmState::Stopped,
    };
    let hvm = text(cfg, Key::Builder) == Some("hvm");
    Ok(RawVm {
        host: Some(host.to_string()),
        state: Some(state),
        vm_type: Some(if hvm { VmType::Hvm } else { VmType::Pv }),
        memory: Some(RawSize::Number(memory)),
        maxmem: maxmem.map(RawSize::Number),
        vcpus: Some(int(Key::Vcpus).and_then(|m| u32::try_from(m).ok()).unwrap_or(1)),
        maxvcpus: int(Key::Maxvcpus).and_then(|m| u32::try_from(m).ok()),
        cpus: cpus(cfg)?,
        disks: disks(cfg)?,
        networks: networks(cfg)?,
        console: console(cfg, hvm),
        snapshots: None,
        extra_config: BTreeMap::new(),
        shutdown_timeout: None,
        force_stop: false,
        allow_destroy: false,
        repository: v.cfg.and_then(|c| c.path.split_once("/VirtualMachines/")).map(|(r, _)| r.to_string()),
    })
}

fn text(cfg: &VmCfg, k: Key) -> Option<&str> {
    cfg.get(k.name()).and_then(Value::as_str)
}

/// The string items of a list key; a non-string item is an error naming the key.
fn strings<'a>(cfg: &'a VmCfg, k: Key, noun: &'static str) -> Result<Vec<&'a str>, ImportError> {
    cfg.get(k.name())
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|i| i.as_str().ok_or(ImportError::NotString(k.name(), noun)))
        .collect()
}

pub(crate) fn cpus(cfg: &VmCfg) -> Result<Option<RawCpus>, ImportError> {
    Ok(match cfg.get(Key::Cpus.name()) {
        Some(Value::Str(s)) if !s.trim().is_empty() => Some(RawCpus::All(s.clone())),
        Some(Value::List(_)) => {
            Some(RawCpus::PerVcpu(strings(cfg, Key::Cpus, "item")?.into_iter().map(String::from).collect()))
        }
        _ => None,
    })
}

pub(crate) fn disks(cfg: &VmCfg) -> Result<Vec<RawDisk>, ImportError> {
    let mut disks = Vec::new();
    for stanza in strings(cfg, Key::Disk, "entry")? {
        let d = DiskSpec::parse(stanza).map_err(ImportError::Disk)?;
        if !d.path.starts_with('/') || (d.backend == "phy") != d.path.starts_with("/dev/") {
            return Err(ImportError::DiskForm(stanza.to_string()));
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
    Ok(disks)
}

pub(crate) fn networks(cfg: &VmCfg) -> Result<Vec<RawNetwork>, ImportError> {
    let mut networks = Vec::new();
    for stanza in strings(cfg, Key::Vif, "entry")? {
        let kv = parse_kv_stanza(stanza);
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let bridge = get("bridge").ok_or(ImportError::NoBridge)?;
        networks.push(RawNetwork { bridge, mac: get("mac"), model: get("model"), vif_type: get("type") });
    }
    Ok(networks)
}

/// The text console (and, for PV, its kernel console device) and VNC. A VNC setting that
/// desired_cfg would rewrite (no `vnclisten`, a display with `vncunused = 1`) is left
/// undeclared rather than declared into a change; the password is a secret and never read.
pub(crate) fn console(cfg: &VmCfg, hvm: bool) -> Option<RawConsole> {
    let serial = text(cfg, Key::Serial) == Some("pty");
    let pv_console = match text(cfg, Key::Extra) {
        Some(line) if serial && !hvm => kernel_console(line),
        _ => None,
    };
    let vnc = if hvm { hvm_vnc(cfg) } else { pv_vnc(cfg) };
    (serial || vnc.is_some()).then_some(RawConsole { serial, pv_console, vnc })
}

/// `xvc0` when the kernel line names it and not the default `hvc0` (which needs no declaring).
fn kernel_console(line: &str) -> Option<String> {
    let devs: Vec<&str> = line
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("console="))
        .filter_map(|v| v.split(',').next())
        .collect();
    (devs.contains(&"xvc0") && !devs.contains(&"hvc0")).then(|| "xvc0".to_string())
}

/// A VNC console from its listen address, `vncunused`, `vncdisplay` and keymap, or `None`
/// when they are not what desired_cfg writes for some declaration.
fn vnc_from(listen: Option<&str>, unused: Option<i64>, display: Option<i64>, keymap: Option<&str>) -> Option<RawVnc> {
    let listen = listen?;
    listen.parse::<std::net::IpAddr>().ok()?;
    let port = match (unused?, display) {
        (0, Some(d)) => Some(u16::try_from(d).ok().filter(|d| *d <= 99)? + VNC_BASE),
        (1, None) => None,
        _ => return None,
    };
    // `listen` is always written: a VNC console with every other setting at its default would
    // otherwise be an empty mapping, which the YAML pruning drops.
    Some(RawVnc { listen: Some(listen.to_string()), port, password: None, keymap: keymap.map(str::to_string) })
}

fn hvm_vnc(cfg: &VmCfg) -> Option<RawVnc> {
    let flag = |k: Key| cfg.get(k.name()).and_then(|v| v.as_int().or_else(|| v.as_bool().map(i64::from)));
    if flag(Key::Vnc) != Some(1) {
        return None;
    }
    let display = cfg.get(Key::VncDisplay.name()).map(Value::as_int);
    vnc_from(text(cfg, Key::VncListen), flag(Key::VncUnused), display.map(|d| d.unwrap_or(-1)), text(cfg, Key::Keymap))
}

fn pv_vnc(cfg: &VmCfg) -> Option<RawVnc> {
    let kv = strings(cfg, Key::Vfb, "entry").ok()?.into_iter().map(parse_kv_stanza).find(|kv| is_vnc_stanza(kv))?;
    let int = |k: &str| stanza_get(&kv, k).map(|v| v.parse::<i64>().unwrap_or(-1));
    // xend's defaults for a vfb: an unused port, listening on 127.0.0.1.
    let listen = stanza_get(&kv, "vnclisten").unwrap_or(DEFAULT_LISTEN);
    vnc_from(Some(listen), Some(int("vncunused").unwrap_or(1)), int("vncdisplay"), stanza_get(&kv, "keymap"))
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
    let mut vms = Vec::new();
    let mut skipped = Vec::new();
    for v in obs.vms() {
        match vm_yaml(host, &v) {
            Ok(raw) => vms.push((v.simple_name.clone(), raw)),
            Err(e) => skipped.push(format!(
                "# skipped {} ({}): {}",
                v.simple_name.escape_debug(),
                v.xen_name.escape_debug(),
                e.to_string().escape_debug()
            )),
        }
    }
    let header =
        format!("written by `domform import --host {host}`; plan it together with the file that declares the host");
    (document(&header, vms, &skipped), skipped.len())
}

/// A `vms:` document: a `# header` line, then `comments` (each already a `# …` line), then the
/// VMs by name with their empty parts left out.
pub fn document(header: &str, vms: Vec<(String, RawVm)>, comments: &[String]) -> String {
    let mut map = serde_yaml::Mapping::new();
    for (name, raw) in vms {
        if let Some(val) = serde_yaml::to_value(&raw).ok().and_then(prune) {
            map.insert(serde_yaml::Value::String(name), val);
        }
    }
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("vms".into(), serde_yaml::Value::Mapping(map));
    let body = serde_yaml::to_string(&doc).unwrap_or_default();
    let mut out = format!("# {header}\n");
    for c in comments {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&body);
    out
}
