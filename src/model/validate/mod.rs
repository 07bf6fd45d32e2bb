//! Semantic checks: raw entries → [`Model`], every problem located.
//!
//! Rules (each has a failing and a passing unit test in `tests/validate.rs`): names are safe;
//! names are unique across files (both places named); VMs reference declared hosts; CPU sets
//! parse; per-vCPU lists have one entry per vCPU (`maxvcpus` when set, as xm create counts);
//! no VM is pinned to `reserved_cpus`; sizes and MACs are valid; brace ranges stay under
//! 4096 names; disk names and devices are unique within a VM; VNC passwords come from an
//! environment variable or a file, never inline; extra_config does not shadow owned keys.

mod devices;
mod ssh;
pub use devices::letters as device_letters;
use devices::{console, disks, extra, networks, snapshots};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::units::{check_name, check_vm_name, parse_size, MAX_VCPUS, MIB};
use super::{select, CpuSet, Host, Licence, Model, Pinning, Vm, DEFAULT_LIBVIRT_URI};
use crate::diag::{Diagnostic, Location};
use crate::manifest::load::{Entry, Loaded};
use crate::manifest::raw::{RawCpus, RawHost, RawLicence, RawSize, RawVm, TransportKind};

pub(super) struct Ctx<'a> {
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

    // Defaults are checked once, where they are written; a host then takes only good ones.
    let defaults = loaded.host_defaults.as_ref().and_then(|d| {
        let before = cx.diags.len();
        host_in(&mut cx, d, "host_defaults", None);
        (cx.diags.len() == before).then_some(&d.raw)
    });
    for e in &loaded.hosts {
        if !unique(&mut cx, &mut first_seen, "host", e) {
            continue;
        }
        match host_in(&mut cx, e, "hosts", defaults) {
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
        let connection =
            |d: &mut Vec<Diagnostic>, h: &Entry<RawHost>| host_in(&mut Ctx { diags: d }, h, "managers", defaults);
        match super::manager::manager(cx.diags, e, connection) {
            Some(m) => {
                model.managers.insert(e.name.clone(), m);
            }
            None => complete = false,
        }
    }
    model.reconcile = super::policy::Policy::from_raw(loaded.reconcile.as_ref().map(|e| &e.raw));
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
    let checked = if kind == "VM" { check_vm_name(&e.name) } else { check_name(&e.name) };
    if let Err(m) = checked {
        cx.diags.push(Diagnostic::error(Some(e.loc.clone()), e.name.clone(), format!("{kind} name: {m}")));
    }
    true
}

pub(super) fn path_ok(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` must be an absolute path"));
    }
    if let Some(c) = p.chars().find(|c| c.is_control() || matches!(c, ',' | '\'' | '"' | '\\')) {
        return Err(format!("`{}` contains {c:?}, which vm.cfg device stanzas cannot hold", p.escape_debug()));
    }
    Ok(())
}

pub(super) fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The connection fields of a `section` entry (`hosts`, `managers`, or `host_defaults` itself),
/// with `defaults` filling what the entry leaves out.
fn host_in(cx: &mut Ctx, e: &Entry<RawHost>, section: &str, defaults: Option<&RawHost>) -> Option<Host> {
    let merged;
    let r = match defaults {
        Some(d) => {
            merged = ssh::with_defaults(&e.raw, d);
            &merged
        }
        None => &e.raw,
    };
    let is_defaults = section == "host_defaults";
    let p = |f: &str| {
        if is_defaults {
            format!("host_defaults.{f}")
        } else {
            format!("{section}.{}.{f}", e.name)
        }
    };
    let transport = r.transport.unwrap_or_default();
    let address = address(cx, e, r, is_defaults, &p);
    let user = r.user.clone().unwrap_or_else(|| "root".into());
    if check_name(&user).is_err() {
        cx.err(e, &["user"], p("user"), format!("`{}` is not a valid user name", user.escape_debug()));
    }
    let repositories = repositories(cx, e, r, &p);
    for (key, secs) in [("observe_timeout", r.observe_timeout), ("step_timeout", r.step_timeout)] {
        if secs == Some(0) {
            cx.err(e, &[key], p(key), format!("`{key}` must be at least 1 second"));
        }
    }
    let reserved_cpus = r.reserved_cpus.as_ref().and_then(|s| {
        CpuSet::parse(s)
            .map_err(|m| cx.err(e, &["reserved_cpus"], p("reserved_cpus"), format!("bad CPU set: {m}")))
            .ok()
    });
    let ssh = ssh::connection(cx, e, r, &p);
    check_uri(cx, e, r, is_defaults, &p);
    for (k, v) in &r.labels {
        if let Err(m) = select::check_label(k, v) {
            cx.err(e, &["labels", k.as_str()], p(&format!("labels.{k}")), m);
        }
    }
    Some(Host {
        labels: r.labels.clone(),
        name: e.name.clone(),
        address,
        algorithms: ssh.algorithms,
        ssh_config: ssh.ssh_config,
        proxy_jump: ssh.proxy_jump,
        port_given: r.port.is_some(),
        user_given: r.user.is_some(),
        port: r.port.unwrap_or(22),
        user,
        identity_file: r.identity_file.as_deref().map(expand_home),
        known_hosts: r.known_hosts.as_deref().map(expand_home),
        host_key_policy: r.host_key_policy.unwrap_or_default(),
        transport,
        connect_timeout: Duration::from_secs(u64::from(r.connect_timeout.unwrap_or(10).max(1))),
        observe_timeout: r.observe_timeout.map_or(super::DEFAULT_OBSERVE_TIMEOUT, |s| Duration::from_secs(s.into())),
        step_timeout: r.step_timeout.map_or(super::DEFAULT_STEP_TIMEOUT, |s| Duration::from_secs(s.into())),
        toolstack: r.toolstack.unwrap_or_default(),
        uri: r.uri.clone().unwrap_or_else(|| DEFAULT_LIBVIRT_URI.to_string()),
        repository: r.repository.clone().or_else(|| r.repositories.first().cloned()),
        repositories,
        reserved_cpus,
        loc: Some(e.loc.clone()),
    })
}

/// `uri` belongs to libvirt hosts and is one `scheme:///…` word: it reaches `virsh -c` (quoted,
/// but a blank or control character in it is a mistake, not a URI).
fn check_uri(cx: &mut Ctx, e: &Entry<RawHost>, r: &RawHost, is_defaults: bool, p: &dyn Fn(&str) -> String) {
    let Some(uri) = &r.uri else { return };
    let libvirt = r.toolstack == Some(crate::model::Toolstack::Libvirt);
    if !libvirt && !is_defaults {
        cx.err(e, &["uri"], p("uri"), "`uri` is the libvirt connection; it needs `toolstack: libvirt`");
    } else if !uri.contains(":/") || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        cx.err(
            e,
            &["uri"],
            p("uri"),
            format!("`{}` is not a libvirt connection URI (like qemu:///system or xen:///system)", uri.escape_debug()),
        );
    }
}

/// The host's address: required for SSH, `localhost` for the local transport, refused in
/// `host_defaults` and when it could be read as an option or holds blanks.
fn address(cx: &mut Ctx, e: &Entry<RawHost>, r: &RawHost, is_defaults: bool, p: &dyn Fn(&str) -> String) -> String {
    match (&r.address, r.transport.unwrap_or_default()) {
        (Some(_), _) if is_defaults => {
            cx.err(e, &["address"], p("address"), "`address` belongs to each host, not to `host_defaults`");
            String::new()
        }
        (None, _) if is_defaults => String::new(),
        (Some(a), _)
            if a.is_empty() || a.starts_with('-') || a.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            cx.err(e, &["address"], p("address"), format!("`{}` is not a host name or address", a.escape_debug()));
            a.clone()
        }
        (Some(a), _) => a.clone(),
        (None, TransportKind::Local) => "localhost".into(),
        (None, TransportKind::Ssh | TransportKind::Openssh) => {
            cx.err(e, &[], p("address"), format!("host `{}` has no `address`", e.name));
            String::new()
        }
    }
}

/// `repository` and `repositories` as one list, each path checked, duplicates dropped.
fn repositories(cx: &mut Ctx, e: &Entry<RawHost>, r: &RawHost, p: &dyn Fn(&str) -> String) -> Vec<String> {
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
    repositories
}

fn size(cx: &mut Ctx, e: &Entry<RawVm>, at: &[&str], path: String, raw: &RawSize, bare: u64) -> Option<u64> {
    let r = match raw {
        RawSize::Number(n) => {
            n.checked_mul(bare).filter(|b| *b > 0).ok_or_else(|| format!("`{n}` is not a usable size"))
        }
        RawSize::Text(t) => parse_size(t, bare).map_err(|e| e.to_string()),
    };
    match r {
        Ok(b) => Some(b),
        Err(m) => {
            cx.err(e, at, path, format!("bad size: {m}"));
            None
        }
    }
}

/// `unknown host`, with the declared name it was probably meant to be.
fn unknown_host(e: &Entry<RawVm>, hosts: &BTreeMap<String, Host>, host_name: &str) -> Diagnostic {
    let known: Vec<&str> = hosts.keys().map(String::as_str).collect();
    let at = format!("vms.{}.host", e.name);
    let mut d = Diagnostic::error(Some(e.loc_at(&["host"])), at, format!("unknown host `{host_name}`"));
    if let Some(s) = crate::diag::did_you_mean(host_name, &known) {
        d = d.with_help(format!("did you mean `{s}`?"));
    } else if known.is_empty() {
        d = d.with_help("no hosts are declared; add a `hosts:` section or pass its file with -f");
    }
    d
}

/// `vcpus` at least 1, both counts within Xen's limit, `maxvcpus` not below `vcpus`.
fn check_vcpus(cx: &mut Ctx, e: &Entry<RawVm>, p: &dyn Fn(&str) -> String) {
    let r = &e.raw;
    let vcpus = r.vcpus.unwrap_or(0);
    if r.vcpus == Some(0) {
        cx.err(e, &["vcpus"], p("vcpus"), "a VM needs at least one vCPU");
    }
    for (key, n) in [("vcpus", r.vcpus), ("maxvcpus", r.maxvcpus)] {
        if let Some(n) = n.filter(|n| *n > MAX_VCPUS) {
            cx.err(e, &[key], p(key), format!("{key} is {n}; a Xen guest has at most {MAX_VCPUS} vCPUs"));
        }
    }
    if let Some(max) = r.maxvcpus {
        if max < vcpus {
            cx.err(e, &["maxvcpus"], p("maxvcpus"), format!("maxvcpus ({max}) is below vcpus ({vcpus})"));
        }
    }
}

fn vm(cx: &mut Ctx, e: &Entry<RawVm>, hosts: &BTreeMap<String, Host>, broken: &BTreeSet<String>) -> Option<Vm> {
    let r = &e.raw;
    let p = |f: &str| format!("vms.{}.{f}", e.name);
    let absent = r.state == Some(crate::manifest::raw::VmState::Absent);
    let mut missing = false;
    let mut require = |cx: &mut Ctx, key: &str, present: bool, why: &str| {
        if !present {
            missing = true;
            // A key dropped for a bad value was reported already.
            if !e.dropped.iter().any(|d| d == key) {
                cx.err(e, &[], p(key), format!("VM `{}` needs `{key}`{why}", e.name));
            }
        }
    };
    require(cx, "host", r.host.is_some(), "");
    require(cx, "memory", r.memory.is_some() || absent, " (unless `state: absent`)");
    require(cx, "vcpus", r.vcpus.is_some() || absent, " (unless `state: absent`)");
    let host_name = r.host.clone().unwrap_or_default();
    let host = hosts.get(&host_name);
    if host.is_none() && r.host.is_some() && !broken.contains(&host_name) {
        cx.diags.push(unknown_host(e, hosts, &host_name));
    }
    let memory = r.memory.as_ref().and_then(|m| size(cx, e, &["memory"], p("memory"), m, MIB));
    let maxmem = r.maxmem.as_ref().and_then(|m| size(cx, e, &["maxmem"], p("maxmem"), m, MIB));
    let memory_mib = memory.map(|b| b.div_ceil(MIB)).unwrap_or(0);
    if memory.is_some_and(|b| b % MIB != 0) {
        cx.err(e, &["memory"], p("memory"), "memory must be a whole number of MiB");
    }
    let maxmem_mib = maxmem.map(|b| b.div_ceil(MIB)).unwrap_or(memory_mib);
    if maxmem_mib < memory_mib {
        cx.err(e, &["maxmem"], p("maxmem"), format!("maxmem ({maxmem_mib} MiB) is below memory ({memory_mib} MiB)"));
    }
    let vcpus = r.vcpus.unwrap_or(0);
    check_vcpus(cx, e, &p);
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
            format!("VM `{}` has no repository: set `repository` on it or on host `{host_name}`", e.name),
        );
    }
    if missing {
        return None;
    }
    Some(Vm {
        name: e.name.clone(),
        host: host_name,
        state: r.state.unwrap_or_default(),
        vm_type: r.vm_type.unwrap_or_default(),
        memory_mib,
        maxmem_mib,
        vcpus,
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
            let want = r.maxvcpus.or(r.vcpus).unwrap_or(0) as usize;
            if r.maxvcpus.or(r.vcpus).is_some() && items.len() != want {
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
                format!(
                    "pinned to CPU {clash}, which host `{}` reserves for dom0 (reserved_cpus: {reserved})",
                    r.host.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    Some(pin)
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
