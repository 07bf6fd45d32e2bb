//! Devices of a VM: disks (sizes, brace ranges, modes, guest devices), network interfaces,
//! consoles (VNC passwords never inline), snapshot names and pass-through vm.cfg keys.

use std::collections::{BTreeMap, BTreeSet};

use super::{expand_home, path_ok, Ctx};
use crate::diag::Diagnostic;
use crate::manifest::load::Entry;
use crate::manifest::raw::{RawDisk, RawSecret, RawSize, RawVm, VmType};
use crate::model::units::{check_mac, check_name, expand_braces, parse_size, MAX_DISKS_PER_VM};
use crate::model::{Console, Disk, DiskMode, DiskSource, Nic, SecretRef, Snapshots, Vnc};
use crate::xen::fields::owned_by_domform;

fn disk_mode(m: Option<&str>) -> Result<DiskMode, String> {
    match m.unwrap_or("w") {
        "w" => Ok(DiskMode::ReadWrite),
        "r" => Ok(DiskMode::ReadOnly),
        "w!" => Ok(DiskMode::Shared),
        other => Err(format!("unknown disk mode `{other}`; use `w`, `r` or `w!` (shared)")),
    }
}

fn device_ok(d: &str) -> bool {
    let rest = ["xvd", "hd", "sd"].iter().find_map(|p| d.strip_prefix(p));
    rest.is_some_and(|r| !r.is_empty() && r.len() <= 2 && r.chars().all(|c| c.is_ascii_lowercase()))
}

/// A disk entry's state after validation: (device, source, mode, cdrom, entry index).
type Pending = (Option<String>, DiskSource, DiskMode, bool, usize);

/// New disks from entry `i` (`name`, maybe a brace range, and `size`), appended to `out`.
fn new_disks(
    cx: &mut Ctx,
    e: &Entry<RawVm>,
    i: usize,
    name: &str,
    mode: DiskMode,
    names: &mut BTreeMap<String, usize>,
    out: &mut Vec<Pending>,
) {
    let d = &e.raw.disks[i];
    let idx = i.to_string();
    let p = |f: &str| format!("vms.{}.disks[{i}]{f}", e.name);
    let Some(sz) = &d.size else {
        cx.err(e, &["disks", &idx], p(""), format!("disk `{name}` needs a `size`"));
        return;
    };
    let bytes = match sz {
        RawSize::Number(n) => Ok(*n),
        RawSize::Text(t) => parse_size(t, 1),
    };
    let bytes = match bytes {
        Ok(b) if b > i64::MAX as u64 => {
            cx.err(e, &["disks", &idx, "size"], p(".size"), "bad size: larger than any file can be (8 EiB)");
            return;
        }
        Ok(b) if b > 0 => b,
        Ok(_) => {
            cx.err(e, &["disks", &idx, "size"], p(".size"), "bad size: zero");
            return;
        }
        Err(m) => {
            cx.err(e, &["disks", &idx, "size"], p(".size"), format!("bad size: {m}"));
            return;
        }
    };
    let expanded = match expand_braces(name) {
        Ok(v) => v,
        Err(m) => {
            cx.err(e, &["disks", &idx, "name"], p(".name"), format!("bad brace range: {m}"));
            return;
        }
    };
    if expanded.len() > 1 && d.device.is_some() {
        cx.err(
            e,
            &["disks", &idx, "device"],
            p(".device"),
            "a brace range makes several disks; it cannot take one fixed `device`",
        );
    }
    for n in expanded {
        if let Err(m) = check_name(&n) {
            cx.err(e, &["disks", &idx, "name"], p(".name"), format!("disk name: {m}"));
            continue;
        }
        if let Some(first) = names.insert(n.clone(), i) {
            cx.err(
                e,
                &["disks", &idx, "name"],
                p(".name"),
                format!("disk `{n}` is declared twice in this VM (also disks[{first}])"),
            );
        }
        out.push((d.device.clone(), DiskSource::New { name: n, size: bytes }, mode, d.cdrom, i));
    }
}

/// Devices: explicit ones first (each once), the rest take xvda, xvdb, … in order.
fn assign_devices(cx: &mut Ctx, e: &Entry<RawVm>, out: Vec<Pending>) -> Vec<Disk> {
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    for (dev, .., i) in &out {
        if let Some(dev) = dev {
            if let Some(first) = taken.insert(dev.clone(), *i) {
                if first != *i {
                    let idx = i.to_string();
                    cx.err(
                        e,
                        &["disks", &idx, "device"],
                        format!("vms.{}.disks[{i}].device", e.name),
                        format!("device `{dev}` is used twice (also disks[{first}])"),
                    );
                }
            }
        }
    }
    let mut next = 0usize;
    out.into_iter()
        .map(|(dev, source, mode, cdrom, i)| {
            let device = dev.unwrap_or_else(|| loop {
                let cand = format!("xvd{}", letters(next));
                next += 1;
                if !taken.contains_key(&cand) {
                    taken.insert(cand.clone(), i);
                    break cand;
                }
            });
            Disk { source, mode, device, cdrom }
        })
        .collect()
}

pub(super) fn disks(cx: &mut Ctx, e: &Entry<RawVm>) -> Vec<Disk> {
    let mut out: Vec<Pending> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in e.raw.disks.iter().enumerate() {
        let idx = i.to_string();
        let p = |f: &str| format!("vms.{}.disks[{i}]{f}", e.name);
        let mode = match disk_mode(d.mode.as_deref()) {
            Ok(m) => m,
            Err(m) => {
                cx.err(e, &["disks", &idx, "mode"], p(".mode"), m);
                DiskMode::ReadWrite
            }
        };
        if let Some(dev) = &d.device {
            if !device_ok(dev) {
                cx.err(
                    e,
                    &["disks", &idx, "device"],
                    p(".device"),
                    format!("`{dev}` is not a guest disk device like `xvdb`"),
                );
            }
        }
        match d {
            RawDisk { name: Some(name), path: None, .. } => new_disks(cx, e, i, name, mode, &mut names, &mut out),
            RawDisk { path: Some(path), name: None, .. } => {
                if d.size.is_some() {
                    cx.err(e, &["disks", &idx, "size"], p(".size"), "an existing disk (`path`) takes no `size`");
                }
                if let Err(m) = path_ok(path) {
                    cx.err(e, &["disks", &idx, "path"], p(".path"), m);
                }
                out.push((d.device.clone(), DiskSource::Existing { path: path.clone() }, mode, d.cdrom, i));
            }
            _ => cx.err(
                e,
                &["disks", &idx],
                p(""),
                "a disk has either `name` and `size` (a new disk) or `path` (an existing one)",
            ),
        }
    }
    if out.len() > MAX_DISKS_PER_VM {
        cx.err(
            e,
            &["disks"],
            format!("vms.{}.disks", e.name),
            format!("{} disks; a VM has at most {MAX_DISKS_PER_VM} (check the brace ranges)", out.len()),
        );
        return Vec::new();
    }
    assign_devices(cx, e, out)
}

/// 0 → a, 25 → z, 26 → aa: the letters after a disk device's prefix (Linux's naming, Xen's `xvd`
/// and libvirt's `vd`/`hd` alike).
pub fn letters(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

pub(super) fn networks(cx: &mut Ctx, e: &Entry<RawVm>) -> Vec<Nic> {
    let mut out = Vec::new();
    for (i, n) in e.raw.networks.iter().enumerate() {
        let idx = i.to_string();
        let p = |f: &str| format!("vms.{}.networks[{i}].{f}", e.name);
        for (field, value) in [("bridge", Some(&n.bridge)), ("model", n.model.as_ref()), ("type", n.vif_type.as_ref())]
        {
            if let Some(v) = value {
                if check_name(v).is_err() {
                    cx.err(
                        e,
                        &["networks", &idx, field],
                        p(field),
                        format!("`{}` is not a valid {field}", v.escape_debug()),
                    );
                }
            }
        }
        if let Some(mac) = &n.mac {
            if let Err(m) = check_mac(mac) {
                cx.err(e, &["networks", &idx, "mac"], p("mac"), m.to_string());
            }
        }
        out.push(Nic {
            bridge: n.bridge.clone(),
            mac: n.mac.as_ref().map(|m| m.to_ascii_lowercase()),
            model: n.model.clone(),
            vif_type: n.vif_type.clone(),
        });
    }
    out
}

/// A VNC password is a reference (`env:` or `file:`), never a value in the YAML.
fn vnc_password(cx: &mut Ctx, e: &Entry<RawVm>, password: &Option<RawSecret>) -> Option<SecretRef> {
    let p = |f: &str| format!("vms.{}.console.{f}", e.name);
    match password {
        None => None,
        Some(RawSecret::Inline(_)) => {
            cx.diags.push(
                Diagnostic::error(
                    Some(e.loc_at(&["console", "vnc", "password"])),
                    p("vnc.password"),
                    "VNC password written inline",
                )
                .with_help("secrets do not belong in git: use `password: { env: VAR }` or `password: { file: /path }`"),
            );
            None
        }
        Some(RawSecret::Source(s)) => match (&s.env, &s.file) {
            (Some(var), None) if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                Some(SecretRef::Env(var.clone()))
            }
            (None, Some(f)) if !f.is_empty() => Some(SecretRef::File(expand_home(f))),
            _ => {
                cx.err(
                    e,
                    &["console", "vnc", "password"],
                    p("vnc.password"),
                    "give exactly one of `env: VAR` or `file: PATH`",
                );
                None
            }
        },
    }
}

pub(super) fn console(cx: &mut Ctx, e: &Entry<RawVm>) -> Console {
    let Some(c) = &e.raw.console else {
        return Console { pv_console: "hvc0".into(), ..Console::default() };
    };
    let p = |f: &str| format!("vms.{}.console.{f}", e.name);
    let pv_console = c.pv_console.clone().unwrap_or_else(|| "hvc0".into());
    if !matches!(pv_console.as_str(), "hvc0" | "xvc0") {
        cx.err(
            e,
            &["console", "pv_console"],
            p("pv_console"),
            "pv_console is `hvc0` (pv_ops kernels) or `xvc0` (2.6.18 xen kernels)",
        );
    }
    if c.pv_console.is_some() && e.raw.vm_type.unwrap_or_default() != VmType::Pv {
        cx.err(e, &["console", "pv_console"], p("pv_console"), "pv_console applies to `type: pv` VMs only");
    }
    let vnc = c.vnc.as_ref().map(|v| {
        let password = vnc_password(cx, e, &v.password);
        if let Some(port) = v.port {
            if !(5900..=5999).contains(&port) {
                cx.err(
                    e,
                    &["console", "vnc", "port"],
                    p("vnc.port"),
                    format!("VNC port {port} is outside 5900-5999 (display 0-99)"),
                );
            }
        }
        let listen = v.listen.clone().unwrap_or_else(|| "127.0.0.1".into());
        if listen.parse::<std::net::IpAddr>().is_err() {
            cx.err(
                e,
                &["console", "vnc", "listen"],
                p("vnc.listen"),
                format!("`{}` is not an IP address", listen.escape_debug()),
            );
        }
        if let Some(k) = &v.keymap {
            if check_name(k).is_err() {
                cx.err(
                    e,
                    &["console", "vnc", "keymap"],
                    p("vnc.keymap"),
                    format!("`{}` is not a keymap like `en-us`", k.escape_debug()),
                );
            }
        }
        Vnc { listen, port: v.port, password, keymap: v.keymap.clone(), password_value: None }
    });
    Console { serial: c.serial, pv_console, vnc }
}

pub(super) fn snapshots(cx: &mut Ctx, e: &Entry<RawVm>) -> Snapshots {
    let Some(s) = &e.raw.snapshots else {
        return Snapshots::default();
    };
    let mut seen = BTreeSet::new();
    for (i, name) in s.present.iter().enumerate() {
        let at = ["snapshots", "present", &i.to_string()].map(String::from);
        let at: Vec<&str> = at.iter().map(String::as_str).collect();
        if let Err(m) = check_name(name) {
            cx.err(e, &at, format!("vms.{}.snapshots.present[{i}]", e.name), format!("snapshot name: {m}"));
        } else if !seen.insert(name) {
            cx.err(
                e,
                &at,
                format!("vms.{}.snapshots.present[{i}]", e.name),
                format!("snapshot `{name}` is listed twice"),
            );
        }
    }
    Snapshots { keep: s.keep, present: s.present.clone(), allow_full_copy: s.allow_full_copy }
}

pub(super) fn extra(cx: &mut Ctx, e: &Entry<RawVm>) {
    for key in e.raw.extra_config.keys() {
        let path = format!("vms.{}.extra_config.{key}", e.name);
        let ident = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            cx.err(
                e,
                &["extra_config", key],
                path,
                format!("`{}` is not a vm.cfg key (letters, digits and `_`)", key.escape_debug()),
            );
        } else if owned_by_domform(key) {
            cx.err(
                e,
                &["extra_config", key],
                path,
                format!("`{key}` is managed by domform; use the VM's own fields instead of extra_config"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::letters;

    #[test]
    fn device_letters() {
        assert_eq!(letters(0), "a");
        assert_eq!(letters(25), "z");
        assert_eq!(letters(26), "aa");
        assert_eq!(letters(27), "ab");
    }
}
