//! Commands that bring domains into existence or change their devices:
//! `create` (from a vm.cfg), `save`/`restore`, `block-attach`/`-detach`/`-list`.
//!
//! `create` reads the vm.cfg with the shared `vmcfg` crate — the same parser
//! domform uses — and refuses what xend refuses (missing disk images, bad
//! `cpus`, duplicate names, not enough memory) with xend's texts, because
//! domform's error handling is tested against exactly those failures.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use vmcfg::{DiskSpec, Value, VmCfg};

use crate::commands::{error, find, parse_opts, wrong_args, CmdResult, Fail, Session};
use crate::state::{now, Disk, Domain, Vfb, Vif};
use crate::{console, cpuset};

/// Magic first line of checkpoint files (like xend's `LinuxGuestRecord`).
const SAVE_MAGIC: &str = "LinuxGuestRecord xmsim-checkpoint-v1";

fn random_u64() -> u64 {
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    RandomState::new().hash_one(seed)
}

/// A random-looking dashed uuid (used when vm.cfg has none).
fn random_uuid() -> String {
    let hex = format!("{:016x}{:016x}", random_u64(), random_u64());
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

fn random_mac() -> String {
    let r = random_u64().to_be_bytes();
    format!("00:16:3e:{:02x}:{:02x}:{:02x}", r[0] & 0x7f, r[1], r[2])
}

fn int_of(cfg: &VmCfg, key: &str) -> Result<Option<i64>, Fail> {
    match cfg.get(key) {
        None | Some(Value::None) => Ok(None),
        Some(v) => v.as_int().map(Some).ok_or_else(|| error(format!("Invalid value for {key}: {}", v.to_python()))),
    }
}

fn str_of<'c>(cfg: &'c VmCfg, key: &str) -> Option<&'c str> {
    cfg.get(key).and_then(Value::as_str)
}

fn positive(key: &str, v: Option<i64>, default: i64) -> Result<u64, Fail> {
    let v = v.unwrap_or(default);
    u64::try_from(v).ok().filter(|&n| n > 0).ok_or_else(|| error(format!("Invalid value for {key}: {v}")))
}

/// Per-vcpu affinity from vm.cfg `cpus` (string form or list form).
fn parse_cpus(cfg: &VmCfg, max_vcpus: usize, nr_cpus: usize) -> Result<Vec<Vec<usize>>, Fail> {
    let check = |set: Vec<usize>| -> Result<Vec<usize>, Fail> {
        match set.iter().find(|&&c| c >= nr_cpus) {
            Some(c) => Err(error(format!(
                "Invalid cpus: CPU {c} does not exist (this host has CPUs 0-{})",
                nr_cpus.saturating_sub(1)
            ))),
            None => Ok(set),
        }
    };
    let bad = |e: String| error(format!("Invalid cpus: {e}"));
    match cfg.get("cpus") {
        None | Some(Value::None) => Ok(vec![Vec::new(); max_vcpus]),
        Some(Value::Str(s)) => {
            let set = check(cpuset::parse(s).map_err(bad)?)?;
            Ok(vec![set; max_vcpus])
        }
        Some(Value::Int(n)) => {
            let set = check(cpuset::parse(&n.to_string()).map_err(bad)?)?;
            Ok(vec![set; max_vcpus])
        }
        Some(v) => {
            let Some(items) = v.as_list() else {
                return Err(error(format!("Invalid cpus: {}", v.to_python())));
            };
            if items.is_empty() {
                return Ok(vec![Vec::new(); max_vcpus]);
            }
            if items.len() != max_vcpus {
                return Err(error("vcpus and the item number of cpus are not same"));
            }
            items
                .iter()
                .map(|it| {
                    let text = match it {
                        Value::Str(s) => s.clone(),
                        Value::Int(n) => n.to_string(),
                        other => return Err(error(format!("Invalid cpus: {}", other.to_python()))),
                    };
                    check(cpuset::parse(&text).map_err(bad)?)
                })
                .collect()
        }
    }
}

/// Refuses a domain whose disks are not there (file-backed, non-cdrom).
fn check_disks(disks: &[Disk]) -> Result<(), Fail> {
    for d in disks {
        if d.cdrom {
            continue;
        }
        if let Some(path) = file_path(&d.uname) {
            if !Path::new(path).is_file() {
                return Err(error("Disk isn't accessible"));
            }
        }
    }
    Ok(())
}

/// The local file behind a `file:`/`tap:aio:` uname.
fn file_path(uname: &str) -> Option<&str> {
    ["file:", "tap:aio:", "tap2:aio:", "tap:tapdisk:aio:"].iter().find_map(|p| uname.strip_prefix(p))
}

fn lowest_free(used: &[u32], from: u32) -> u32 {
    (from..).find(|p| !used.contains(p)).unwrap_or(from)
}

fn vfb_of(cfg: &VmCfg, doms: &[Domain], base: u32) -> Option<Vfb> {
    let mut vnclisten = str_of(cfg, "vnclisten").unwrap_or("127.0.0.1").to_string();
    let mut keymap = str_of(cfg, "keymap").unwrap_or("en-us").to_string();
    let mut display: Option<u32> = int_of(cfg, "vncdisplay").ok().flatten().and_then(|n| u32::try_from(n).ok());
    let mut enabled = cfg.get("vnc").and_then(Value::as_bool).unwrap_or(false);
    let mut unused = cfg.get("vncunused").and_then(Value::as_bool);
    if let Some(first) = cfg.get("vfb").and_then(Value::as_list).and_then(|l| l.first()) {
        let kv = vmcfg::parse_kv_stanza(first.as_str().unwrap_or(""));
        for (k, v) in &kv {
            match k.as_str() {
                "type" if v == "vnc" => enabled = true,
                "vnc" if v == "1" => enabled = true,
                "vnclisten" => vnclisten = v.clone(),
                "keymap" => keymap = v.clone(),
                "vncdisplay" => display = v.parse().ok(),
                "vncunused" => unused = v.parse::<u8>().ok().map(|n| n != 0),
                _ => {}
            }
        }
    }
    if !enabled {
        return None;
    }
    let used: Vec<u32> = doms.iter().filter_map(|d| d.vfb.as_ref().map(|v| v.port)).collect();
    let port = match display {
        Some(n) if unused == Some(false) => base.saturating_add(n),
        // The first port no domain uses and (when serving, see vnc.rs) nothing else holds.
        _ => (base..).find(|p| !used.contains(p) && crate::vnc::bindable(&vnclisten, *p)).unwrap_or(base),
    };
    Some(Vfb { vnclisten, port, keymap })
}

/// Builds a domain from a parsed vm.cfg, validating it against the host.
fn domain_from_cfg(s: &Session, cfg: &VmCfg, cfg_path: &str, doms: &[Domain]) -> Result<Domain, Fail> {
    let name = str_of(cfg, "name").ok_or_else(|| error("Missing VM Name"))?.to_string();
    let memory = positive("memory", int_of(cfg, "memory")?, 128)?;
    let maxmem = positive("maxmem", int_of(cfg, "maxmem")?, memory as i64)?.max(memory);
    let vcpus = positive("vcpus", int_of(cfg, "vcpus")?, 1)?;
    let max_vcpus = match int_of(cfg, "maxvcpus")? {
        Some(m) => positive("maxvcpus", Some(m), 1)?,
        None => vcpus,
    };
    if max_vcpus > 512 {
        return Err(error(format!("Invalid value for maxvcpus: {max_vcpus}")));
    }
    let affinity = parse_cpus(cfg, max_vcpus as usize, s.topo.nr_cpus())?;
    let mut disks = Vec::new();
    for item in cfg.get("disk").and_then(Value::as_list).unwrap_or(&[]) {
        let text = item.as_str().ok_or_else(|| error(format!("Invalid disk: {}", item.to_python())))?;
        let spec = DiskSpec::parse(text).map_err(|e| error(format!("Invalid disk: {e}")))?;
        disks.push(Disk {
            uname: format!("{}:{}", spec.backend, spec.path),
            dev: spec.frontend.trim_start_matches("/dev/").to_string(),
            cdrom: spec.cdrom,
            mode: spec.mode,
        });
    }
    let mut vifs = Vec::new();
    for item in cfg.get("vif").and_then(Value::as_list).unwrap_or(&[]) {
        let kv = vmcfg::parse_kv_stanza(item.as_str().unwrap_or(""));
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        vifs.push(Vif {
            bridge: get("bridge").unwrap_or_else(|| "xenbr0".into()),
            mac: get("mac").unwrap_or_else(random_mac),
        });
    }
    let used_consoles: Vec<u32> = doms.iter().map(|d| d.console_port).collect();
    let st = |k: &str, dflt: &str| str_of(cfg, k).unwrap_or(dflt).to_string();
    Ok(Domain {
        domid: 0,
        uuid: str_of(cfg, "uuid").map(str::to_string).unwrap_or_else(random_uuid),
        name,
        memory,
        maxmem,
        online_vcpus: vcpus.min(max_vcpus) as u32,
        max_vcpus: max_vcpus as u32,
        affinity,
        cpu_weight: int_of(cfg, "cpu_weight")?.and_then(|n| u32::try_from(n).ok()).unwrap_or(256),
        cpu_cap: int_of(cfg, "cpu_cap")?.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        hvm: str_of(cfg, "builder") == Some("hvm"),
        bootloader: st("bootloader", ""),
        on_poweroff: st("on_poweroff", "destroy"),
        on_reboot: st("on_reboot", "restart"),
        on_crash: st("on_crash", "restart"),
        paused: false,
        shutdown: None,
        start_time: now(),
        disks,
        vifs,
        vfb: vfb_of(cfg, doms, s.topo.vnc_base_port),
        console_port: lowest_free(&used_consoles, 2),
        cfg_path: cfg_path.to_string(),
        fingerprint: String::new(),
    })
}

/// Checks a new domain against running ones (name, disks, memory).
fn admit(s: &Session, d: &Domain, doms: &[Domain]) -> Result<(), Fail> {
    if let Some(other) = doms.iter().find(|o| o.name == d.name) {
        return Err(error(format!("VM name '{}' already exists as domain {}", d.name, other.domid)));
    }
    check_disks(&d.disks)?;
    let used = crate::state::used_memory(doms);
    let free = s.topo.total_memory_mib.saturating_sub(used);
    if d.memory > free {
        return Err(error(format!(
            "Not enough free memory and enable-dom0-ballooning is False, so I cannot release any more.  I need {} KiB but only have {}.",
            d.memory.saturating_mul(1024),
            free.saturating_mul(1024)
        )));
    }
    Ok(())
}

/// Finds the config file the way xm does: as given, then under /etc/xen.
fn resolve_cfg(arg: &str) -> Option<PathBuf> {
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Some(p);
    }
    if p.is_relative() {
        let etc = Path::new("/etc/xen").join(&p);
        if etc.is_file() {
            return Some(etc);
        }
    }
    None
}

/// `xm create <cfg> [-p] [-q] [-c]`.
pub fn create(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(
        args,
        &[('p', "paused", false), ('q', "quiet", false), ('c', "console_autoconnect", false), ('n', "dryrun", false)],
    )?;
    let Some(arg) = o.pos.first() else {
        return Err(wrong_args(s.prog, "create", 1, 1));
    };
    if o.pos.len() > 1 {
        return Err(error("xmsim: variable overrides on the create command line are not supported"));
    }
    if o.has("dryrun") {
        return Err(error("xmsim: create --dryrun is not supported"));
    }
    let path = resolve_cfg(arg).ok_or_else(|| error(format!("Unable to open config file: {arg}")))?;
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|_| error(format!("Unable to open config file: {arg}")))?;
    let cfg =
        VmCfg::parse(&text).map_err(|e| error(format!("{shown}: line {}, column {}: {}", e.line, e.col, e.message)))?;
    let quiet = o.has("quiet");
    if !quiet {
        s.out(&format!("Using config file \"{shown}\".\n"))?;
    }
    let doms = s.load()?;
    let abs = std::path::absolute(&path).unwrap_or(path.clone());
    let mut d = domain_from_cfg(s, &cfg, &abs.display().to_string(), &doms)?;
    admit(s, &d, &doms)?;
    d.domid = s.store.alloc_domid().map_err(error)?;
    d.paused = o.has("paused");
    s.save(&d)?;
    crate::vnc::spawn(s.store.root(), s.prog, &d);
    if !quiet {
        s.out(&format!("Started domain {} (id={})\n", d.name, d.domid))?;
    }
    if o.has("console_autoconnect") {
        return console::attach(s, &d);
    }
    Ok(())
}

/// `xm save [-c] [-f] <dom> <file>`.
pub fn save(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('c', "checkpoint", false), ('f', "force", false)])?;
    if o.pos.len() != 2 {
        return Err(wrong_args(s.prog, "save", 2, 2));
    }
    let doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let d = &doms[i];
    if d.is_dom0() {
        return Err(error("Cannot save privileged domain 0"));
    }
    let file = std::path::absolute(&o.pos[1]).unwrap_or_else(|_| PathBuf::from(&o.pos[1]));
    let json = serde_json::to_string_pretty(d).map_err(error)?;
    std::fs::write(&file, format!("{SAVE_MAGIC}\n{json}\n"))
        .map_err(|_| error(format!("xm save: Unable to create file {}", file.display())))?;
    if !o.has("checkpoint") {
        s.store.remove(d.domid).map_err(error)?;
    }
    Ok(())
}

/// `xm restore <file> [-p]`.
pub fn restore(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('p', "paused", false)])?;
    if o.pos.len() != 1 {
        return Err(wrong_args(s.prog, "restore", 1, 1));
    }
    let file = std::path::absolute(&o.pos[0]).unwrap_or_else(|_| PathBuf::from(&o.pos[0]));
    let text = std::fs::read_to_string(&file)
        .map_err(|_| error(format!("xm restore: Unable to read file {}", file.display())))?;
    let body = text.strip_prefix(SAVE_MAGIC).ok_or_else(|| error("Restore failed: not a domain checkpoint file"))?;
    let mut d: Domain = serde_json::from_str(body).map_err(|e| error(format!("Restore failed: {e}")))?;
    let doms = s.load()?;
    admit(s, &d, &doms)?;
    d.domid = s.store.alloc_domid().map_err(error)?;
    d.paused = o.has("paused");
    d.shutdown = None;
    s.save(&d)?;
    crate::vnc::spawn(s.store.root(), s.prog, &d);
    Ok(())
}

/// Linux device number of a frontend name (`xvdb` → 51728), as xend shows.
pub fn devnum(dev: &str) -> Option<u32> {
    let dev = dev.trim_start_matches("/dev/");
    if let Some(n) = dev.strip_prefix("0x").and_then(|h| u32::from_str_radix(h, 16).ok()) {
        return Some(n);
    }
    if let Ok(n) = dev.parse::<u32>() {
        return Some(n);
    }
    let (major, letters, per_disk): (u32, &str, u32) = if let Some(l) = dev.strip_prefix("xvd") {
        (202, l, 16)
    } else if let Some(l) = dev.strip_prefix("sd") {
        (8, l, 16)
    } else if let Some(l) = dev.strip_prefix("hd") {
        let c = l.chars().next()?;
        let idx = (c as u32).checked_sub('a' as u32).filter(|&i| i < 8)?;
        let part: u32 = l[1..].parse().unwrap_or(0);
        let majors = [3, 22, 33, 34, 56, 57, 88, 89];
        return Some((majors[idx as usize / 2] << 8) | ((idx % 2) * 64 + part));
    } else {
        return None;
    };
    let c = letters.chars().next()?;
    let idx = (c as u32).checked_sub('a' as u32).filter(|&i| i < 26)?;
    let part: u32 = letters[1..].parse().unwrap_or(0);
    Some((major << 8) | (idx * per_disk + part))
}

/// `xm block-attach <dom> <backdev> <frontdev> <mode> [backdom]`.
pub fn block_attach(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    if !(4..=5).contains(&o.pos.len()) {
        return Err(wrong_args(s.prog, "block-attach", 4, 5));
    }
    let mut doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let front = o.pos[2].trim_start_matches("/dev/");
    let spec = DiskSpec::parse(&format!("{},{},{}", o.pos[1], front, o.pos[3])).map_err(error)?;
    let dev = spec.frontend.clone();
    let num = devnum(&dev).ok_or_else(|| error(format!("Invalid device name: {dev}")))?;
    let d = &mut doms[i];
    if d.disks.iter().any(|x| devnum(&x.dev) == Some(num)) {
        return Err(error(format!("Device {num} (vbd) is already connected.")));
    }
    let disk = Disk { uname: format!("{}:{}", spec.backend, spec.path), dev, cdrom: spec.cdrom, mode: spec.mode };
    if let Some(p) = file_path(&disk.uname) {
        if !disk.cdrom && !Path::new(p).is_file() {
            return Err(error(format!("Device {num} (vbd) could not be connected. File {p} does not exist.")));
        }
    }
    d.disks.push(disk);
    s.save(&doms[i])
}

/// `xm block-detach <dom> <devid> [-f]`.
pub fn block_detach(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('f', "force", false)])?;
    if o.pos.len() != 2 {
        return Err(wrong_args(s.prog, "block-detach", 2, 2));
    }
    let mut doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let want = devnum(&o.pos[1]);
    let d = &mut doms[i];
    let Some(j) = d.disks.iter().position(|x| want.is_some() && devnum(&x.dev) == want) else {
        return Err(error(format!("Device {} not connected", o.pos[1])));
    };
    d.disks.remove(j);
    s.save(&doms[i])
}

/// `xm block-list <dom> [--long]`.
pub fn block_list(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('l', "long", false)])?;
    if o.pos.len() != 1 {
        return Err(wrong_args(s.prog, "block-list", 1, 1));
    }
    let doms = s.load()?;
    let d = &doms[find(&doms, &o.pos[0])?];
    let mut out = String::new();
    for (k, disk) in d.disks.iter().enumerate() {
        let num = devnum(&disk.dev).unwrap_or(0);
        if o.has("long") {
            out.push_str(&format!(
                "({num}\n    ((backend-id 0)\n        (virtual-device {num})\n        (device-type {})\n        (state 4)\n        (backend /local/domain/0/backend/vbd/{}/{num})\n    )\n)\n",
                if disk.cdrom { "cdrom" } else { "disk" },
                d.domid
            ));
            continue;
        }
        if k == 0 {
            out.push_str("Vdev  BE handle state evt-ch ring-ref BE-path\n");
        }
        out.push_str(&format!(
            "{num:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30}\n",
            0,
            0,
            4,
            10 + k,
            8 + k,
            format!("/local/domain/0/backend/vbd/{}/{num}", d.domid)
        ));
    }
    s.out(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers() {
        assert_eq!(devnum("xvda"), Some(51712));
        assert_eq!(devnum("xvdb"), Some(51728));
        assert_eq!(devnum("/dev/hdc"), Some(5632));
        assert_eq!(devnum("hda"), Some(768));
        assert_eq!(devnum("sda"), Some(2048));
        assert_eq!(devnum("0x1400"), Some(5120));
        assert_eq!(devnum("bogus"), None);
    }

    #[test]
    fn uuids_look_right() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}
