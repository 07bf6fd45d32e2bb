//! Semantic checks: raw entries → [`Model`], every problem located.
//!
//! Rules (each has a failing and a passing unit test in `tests/validate.rs`): names are safe;
//! names are unique across files (both places named); VMs reference declared hosts; CPU sets
//! parse; per-vCPU lists have one entry per vCPU (`maxvcpus` when set, as xm create counts);
//! no VM is pinned to `reserved_cpus`; sizes and MACs are valid; brace ranges stay under
//! 4096 names; disk names and devices are unique within a VM; VNC passwords come from an
//! environment variable or a file, never inline; extra_config does not shadow owned keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::units::{check_mac, check_name, expand_braces, parse_size, MIB};
use super::{
    Console, CpuSet, Disk, DiskMode, DiskSource, Host, Licence, Model, Nic, Pinning, SecretRef, Snapshots, Vm, Vnc,
};
use crate::diag::{Diagnostic, Location};
use crate::manifest::load::{Entry, Loaded};
use crate::manifest::raw::{RawCpus, RawDisk, RawHost, RawLicence, RawSecret, RawSize, RawVm, TransportKind, VmType};

/// vm.cfg keys domform writes itself; extra_config may not set them.
pub const OWNED_KEYS: &[&str] = &[
    "name",
    "uuid",
    "OVM_simple_name",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "cpus",
    "disk",
    "vif",
    "vfb",
    "vnc",
    "vncunused",
    "vnclisten",
    "vncpasswd",
    "vncdisplay",
    "keymap",
    "serial",
    "builder",
];

struct Ctx<'a> {
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err<T>(&mut self, e: &Entry<T>, at: &[&str], path: String, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(Some(e.loc_at(at)), path, msg));
    }
}

/// Validates everything; `None` when an entry could not be built (errors are in `diags`).
pub fn validate(loaded: &Loaded, diags: &mut Vec<Diagnostic>) -> Option<Model> {
    let mut cx = Ctx { diags };
    let mut model = Model::default();
    let mut first_seen: BTreeMap<(&str, &str), Location> = BTreeMap::new();
    let mut complete = true;

    for e in &loaded.hosts {
        if !unique(&mut cx, &mut first_seen, "host", e) {
            continue;
        }
        match host(&mut cx, e) {
            Some(h) => {
                model.hosts.insert(e.name.clone(), h);
            }
            None => complete = false,
        }
    }
    for e in &loaded.vms {
        if !unique(&mut cx, &mut first_seen, "VM", e) {
            continue;
        }
        match vm(&mut cx, e, &model.hosts, &loaded.broken) {
            Some(v) => {
                model.vms.insert(e.name.clone(), v);
            }
            None => complete = false,
        }
    }
    for e in &loaded.licences {
        if !unique(&mut cx, &mut first_seen, "licence", e) {
            continue;
        }
        if let Some(l) = licence(&mut cx, e, &loaded.vms, &loaded.broken) {
            model.licences.insert(e.name.clone(), l);
        }
    }
    for e in &loaded.managers {
        if !unique(&mut cx, &mut first_seen, "manager", e) {
            continue;
        }
        if let Some(h) = model.hosts.get(&e.name) {
            let at = h.loc.as_ref().map(|l| format!(" (the host is at {l})")).unwrap_or_default();
            cx.diags.push(Diagnostic::error(
                Some(e.loc.clone()),
                format!("managers.{}", e.name),
                format!("manager `{}` has the name of a host{at}; `--limit` and plans name both by it", e.name),
            ));
            continue;
        }
        let connection = |d: &mut Vec<Diagnostic>, h: &Entry<RawHost>| host_in(&mut Ctx { diags: d }, h, "managers");
        match super::manager::manager(cx.diags, e, connection) {
            Some(m) => {
                model.managers.insert(e.name.clone(), m);
            }
            None => complete = false,
        }
    }
    cross_checks(&mut cx, &model, loaded);
    complete.then_some(model)
}

fn unique<'a, T>(
    cx: &mut Ctx,
    seen: &mut BTreeMap<(&'a str, &'a str), Location>,
    kind: &'a str,
    e: &'a Entry<T>,
) -> bool {
    if let Some(first) = seen.get(&(kind, e.name.as_str())) {
        cx.diags.push(
            Diagnostic::error(Some(e.loc.clone()), e.name.clone(), format!("{kind} `{}` is declared twice", e.name))
                .with_help(format!("first declared at {first}")),
        );
        return false;
    }
    seen.insert((kind, e.name.as_str()), e.loc.clone());
    if let Err(m) = check_name(&e.name) {
        cx.diags.push(Diagnostic::error(Some(e.loc.clone()), e.name.clone(), format!("{kind} name: {m}")));
    }
    true
}

fn path_ok(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` must be an absolute path"));
    }
    if let Some(c) = p.chars().find(|c| c.is_control() || matches!(c, ',' | '\'' | '"' | '\\')) {
        return Err(format!("`{}` contains {c:?}, which vm.cfg device stanzas cannot hold", p.escape_debug()));
    }
    Ok(())
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

fn host(cx: &mut Ctx, e: &Entry<RawHost>) -> Option<Host> {
    host_in(cx, e, "hosts")
}

/// The connection fields of a `section` entry (`hosts`, or `managers` through [`connection`]).
fn host_in(cx: &mut Ctx, e: &Entry<RawHost>, section: &str) -> Option<Host> {
    let r = &e.raw;
    let p = |f: &str| format!("{section}.{}.{f}", e.name);
    let transport = r.transport.unwrap_or_default();
    let address = match (&r.address, transport) {
        (Some(a), _)
            if a.is_empty() || a.starts_with('-') || a.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            cx.err(e, &["address"], p("address"), format!("`{}` is not a host name or address", a.escape_debug()));
            a.clone()
        }
        (Some(a), _) => a.clone(),
        (None, TransportKind::Local) => "localhost".into(),
        (None, TransportKind::Ssh) => {
            cx.err(e, &[], p("address"), format!("host `{}` has no `address`", e.name));
            String::new()
        }
    };
    let user = r.user.clone().unwrap_or_else(|| "root".into());
    if check_name(&user).is_err() {
        cx.err(e, &["user"], p("user"), format!("`{}` is not a valid user name", user.escape_debug()));
    }
    let mut repositories = Vec::new();
    for (i, repo) in r.repository.iter().chain(r.repositories.iter()).enumerate() {
        let at: Vec<String> = if i == 0 && r.repository.is_some() {
            vec!["repository".into()]
        } else {
            vec!["repositories".into(), (i - usize::from(r.repository.is_some())).to_string()]
        };
        let at_ref: Vec<&str> = at.iter().map(String::as_str).collect();
        if let Err(m) = path_ok(repo) {
            cx.err(e, &at_ref, p(&at.join(".")), m);
        } else if !repositories.contains(repo) {
            repositories.push(repo.clone());
        }
    }
    let reserved_cpus = match &r.reserved_cpus {
        Some(s) => match CpuSet::parse(s) {
            Ok(set) => Some(set),
            Err(m) => {
                cx.err(e, &["reserved_cpus"], p("reserved_cpus"), format!("bad CPU set: {m}"));
                None
            }
        },
        None => None,
    };
    Some(Host {
        name: e.name.clone(),
        address,
        port: r.port.unwrap_or(22),
        user,
        identity_file: r.identity_file.as_deref().map(expand_home),
        known_hosts: r.known_hosts.as_deref().map(expand_home),
        host_key_policy: r.host_key_policy.unwrap_or_default(),
        transport,
        connect_timeout: Duration::from_secs(u64::from(r.connect_timeout.unwrap_or(10).max(1))),
        toolstack: r.toolstack.unwrap_or_default(),
        repository: r.repository.clone().or_else(|| r.repositories.first().cloned()),
        repositories,
        reserved_cpus,
        loc: Some(e.loc.clone()),
    })
}

fn size(cx: &mut Ctx, e: &Entry<RawVm>, at: &[&str], path: String, raw: &RawSize, bare: u64) -> Option<u64> {
    let r = match raw {
        RawSize::Number(n) => {
            n.checked_mul(bare).filter(|b| *b > 0).ok_or_else(|| format!("`{n}` is not a usable size"))
        }
        RawSize::Text(t) => parse_size(t, bare),
    };
    match r {
        Ok(b) => Some(b),
        Err(m) => {
            cx.err(e, at, path, format!("bad size: {m}"));
            None
        }
    }
}

fn vm(cx: &mut Ctx, e: &Entry<RawVm>, hosts: &BTreeMap<String, Host>, broken: &BTreeSet<String>) -> Option<Vm> {
    let r = &e.raw;
    let p = |f: &str| format!("vms.{}.{f}", e.name);
    let host = hosts.get(&r.host);
    if host.is_none() && !broken.contains(&r.host) {
        let known: Vec<&str> = hosts.keys().map(String::as_str).collect();
        let mut d = Diagnostic::error(Some(e.loc_at(&["host"])), p("host"), format!("unknown host `{}`", r.host));
        if let Some(s) = crate::diag::did_you_mean(&r.host, &known) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if known.is_empty() {
            d = d.with_help("no hosts are declared; add a `hosts:` section or pass its file with -f");
        }
        cx.diags.push(d);
    }
    let memory = size(cx, e, &["memory"], p("memory"), &r.memory, MIB);
    let maxmem = r.maxmem.as_ref().and_then(|m| size(cx, e, &["maxmem"], p("maxmem"), m, MIB));
    let memory_mib = memory.map(|b| b.div_ceil(MIB)).unwrap_or(0);
    if memory.is_some_and(|b| b % MIB != 0) {
        cx.err(e, &["memory"], p("memory"), "memory must be a whole number of MiB");
    }
    let maxmem_mib = maxmem.map(|b| b.div_ceil(MIB)).unwrap_or(memory_mib);
    if maxmem_mib < memory_mib {
        cx.err(e, &["maxmem"], p("maxmem"), format!("maxmem ({maxmem_mib} MiB) is below memory ({memory_mib} MiB)"));
    }
    if r.vcpus == 0 {
        cx.err(e, &["vcpus"], p("vcpus"), "a VM needs at least one vCPU");
    }
    if let Some(max) = r.maxvcpus {
        if max < r.vcpus {
            cx.err(e, &["maxvcpus"], p("maxvcpus"), format!("maxvcpus ({max}) is below vcpus ({})", r.vcpus));
        }
    }
    let cpus = pinning(cx, e, host);
    let disks = disks(cx, e);
    let networks = networks(cx, e);
    let console = console(cx, e);
    let snapshots = snapshots(cx, e);
    extra(cx, e);
    let repository = r.repository.clone().or_else(|| host.and_then(|h| h.repository.clone()));
    if let Some(repo) = &r.repository {
        if let Err(m) = path_ok(repo) {
            cx.err(e, &["repository"], p("repository"), m);
        }
    } else if host.is_some() && repository.is_none() {
        cx.err(
            e,
            &[],
            p("repository"),
            format!("VM `{}` has no repository: set `repository` on it or on host `{}`", e.name, r.host),
        );
    }
    Some(Vm {
        name: e.name.clone(),
        host: r.host.clone(),
        state: r.state.unwrap_or_default(),
        vm_type: r.vm_type.unwrap_or_default(),
        memory_mib,
        maxmem_mib,
        vcpus: r.vcpus,
        maxvcpus: r.maxvcpus,
        cpus,
        disks,
        networks,
        console,
        snapshots,
        extra_config: r.extra_config.clone(),
        shutdown_timeout: Duration::from_secs(u64::from(r.shutdown_timeout.unwrap_or(120))),
        force_stop: r.force_stop,
        allow_destroy: r.allow_destroy,
        repository: repository.unwrap_or_default(),
        loc: Some(e.loc.clone()),
    })
}

fn pinning(cx: &mut Ctx, e: &Entry<RawVm>, host: Option<&Host>) -> Option<Pinning> {
    let r = &e.raw;
    let path = format!("vms.{}.cpus", e.name);
    let pin = match r.cpus.as_ref()? {
        RawCpus::All(s) => match CpuSet::parse(s) {
            Ok(set) => Pinning::All(set),
            Err(m) => {
                cx.err(e, &["cpus"], path, format!("bad CPU set: {m}"));
                return None;
            }
        },
        RawCpus::PerVcpu(items) => {
            let want = r.maxvcpus.unwrap_or(r.vcpus) as usize;
            if items.len() != want {
                let which = if r.maxvcpus.is_some() { "maxvcpus" } else { "vcpus" };
                cx.err(
                    e,
                    &["cpus"],
                    path.clone(),
                    format!(
                        "the per-vCPU `cpus` list has {} entries but {which} is {want}; xm needs one entry per vCPU",
                        items.len()
                    ),
                );
            }
            let mut sets = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match CpuSet::parse(item) {
                    Ok(s) => sets.push(s),
                    Err(m) => cx.err(e, &["cpus", &i.to_string()], format!("{path}[{i}]"), format!("bad CPU set: {m}")),
                }
            }
            if sets.len() != items.len() {
                return None;
            }
            Pinning::PerVcpu(sets)
        }
    };
    if let Some(reserved) = host.and_then(|h| h.reserved_cpus.as_ref()) {
        let clash = pin.union().intersection(reserved);
        if !clash.is_empty() {
            cx.err(
                e,
                &["cpus"],
                path,
                format!("pinned to CPU {clash}, which host `{}` reserves for dom0 (reserved_cpus: {reserved})", r.host),
            );
        }
    }
    Some(pin)
}

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

fn disks(cx: &mut Ctx, e: &Entry<RawVm>) -> Vec<Disk> {
    let mut out: Vec<(Option<String>, DiskSource, DiskMode, bool, usize)> = Vec::new();
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
            RawDisk { name: Some(name), path: None, .. } => {
                let Some(sz) = &d.size else {
                    cx.err(e, &["disks", &idx], p(""), format!("disk `{name}` needs a `size`"));
                    continue;
                };
                let bytes = match sz {
                    RawSize::Number(n) => Ok(*n),
                    RawSize::Text(t) => parse_size(t, 1),
                };
                let bytes = match bytes {
                    Ok(b) if b > 0 => b,
                    Ok(_) => {
                        cx.err(e, &["disks", &idx, "size"], p(".size"), "bad size: zero");
                        continue;
                    }
                    Err(m) => {
                        cx.err(e, &["disks", &idx, "size"], p(".size"), format!("bad size: {m}"));
                        continue;
                    }
                };
                let expanded = match expand_braces(name) {
                    Ok(v) => v,
                    Err(m) => {
                        cx.err(e, &["disks", &idx, "name"], p(".name"), format!("bad brace range: {m}"));
                        continue;
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
    // Devices: explicit ones first, the rest take xvda, xvdb, … in order.
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

/// 0 → a, 25 → z, 26 → aa (Linux's xvd naming).
fn letters(mut n: usize) -> String {
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

fn networks(cx: &mut Ctx, e: &Entry<RawVm>) -> Vec<Nic> {
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
                cx.err(e, &["networks", &idx, "mac"], p("mac"), m);
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

fn console(cx: &mut Ctx, e: &Entry<RawVm>) -> Console {
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
        let password = match &v.password {
            None => None,
            Some(RawSecret::Inline(_)) => {
                cx.diags.push(
                    Diagnostic::error(
                        Some(e.loc_at(&["console", "vnc", "password"])),
                        p("vnc.password"),
                        "VNC password written inline",
                    )
                    .with_help(
                        "secrets do not belong in git: use `password: { env: VAR }` or `password: { file: /path }`",
                    ),
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
        };
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

fn snapshots(cx: &mut Ctx, e: &Entry<RawVm>) -> Snapshots {
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

fn extra(cx: &mut Ctx, e: &Entry<RawVm>) {
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
        } else if OWNED_KEYS.contains(&key.as_str()) {
            cx.err(
                e,
                &["extra_config", key],
                path,
                format!("`{key}` is managed by domform; use the VM's own fields instead of extra_config"),
            );
        }
    }
}

fn licence(cx: &mut Ctx, e: &Entry<RawLicence>, vms: &[Entry<RawVm>], broken: &BTreeSet<String>) -> Option<Licence> {
    let r = &e.raw;
    for (i, name) in r.vms.iter().enumerate() {
        if !vms.iter().any(|v| &v.name == name) && !broken.contains(name) {
            cx.diags.push(Diagnostic::error(
                Some(e.loc_at(&["vms", &i.to_string()])),
                format!("licences.{}.vms[{i}]", e.name),
                format!("unknown VM `{name}`"),
            ));
        }
    }
    let factor = r.core_factor.unwrap_or(0.5);
    if !(factor > 0.0 && factor <= 1.0) {
        cx.diags.push(Diagnostic::error(
            Some(e.loc_at(&["core_factor"])),
            format!("licences.{}.core_factor", e.name),
            "core_factor must be in (0, 1]; x86 is 0.5",
        ));
    }
    if r.max_cores == Some(0) {
        cx.diags.push(Diagnostic::error(
            Some(e.loc_at(&["max_cores"])),
            format!("licences.{}.max_cores", e.name),
            "max_cores must be at least 1",
        ));
    }
    Some(Licence {
        name: e.name.clone(),
        vms: r.vms.clone(),
        max_cores: r.max_cores,
        core_factor: factor,
        loc: Some(e.loc.clone()),
    })
}

fn cross_checks(cx: &mut Ctx, model: &Model, loaded: &Loaded) {
    // One MAC, one NIC: duplicate MACs break bridging in ways that are slow to diagnose.
    let mut macs: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &loaded.vms {
        let Some(vm) = model.vms.get(&e.name) else { continue };
        for (i, nic) in vm.networks.iter().enumerate() {
            if let Some(mac) = &nic.mac {
                if let Some(other) = macs.insert(mac, &vm.name) {
                    cx.err(
                        e,
                        &["networks", &i.to_string(), "mac"],
                        format!("vms.{}.networks[{i}].mac", vm.name),
                        format!("MAC {mac} is also used by VM `{other}`"),
                    );
                }
            }
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
