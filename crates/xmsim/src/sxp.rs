//! `xm list -l`: domains as xend S-expressions.
//!
//! domform reads pinning (`(cpus ...)`), devices and state from this form,
//! so it is printed like xend's pretty printer does it (see
//! `tests/fixtures/xen-cli/xm-list-long-sxp.txt`): a list that fits in 80
//! columns stays on one line; otherwise its head stays on the `(` line, each
//! further element goes on its own line indented by 4, and the closing paren
//! gets a line of its own. Atoms with characters outside `[A-Za-z0-9.-_:/~]`
//! are quoted the way Python's `repr` quotes them (`''`, `'a|b'`).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::format::{py_float, xm_state};
use crate::state::Domain;
use crate::topology::Topology;

/// An S-expression.
#[derive(Debug, Clone)]
pub enum Sx {
    Atom(String),
    List(Vec<Sx>),
}

fn a(s: impl ToString) -> Sx {
    Sx::Atom(s.to_string())
}

fn kv(k: &str, v: impl ToString) -> Sx {
    Sx::List(vec![a(k), a(v)])
}

fn node(k: &str, children: Vec<Sx>) -> Sx {
    let mut v = vec![a(k)];
    v.extend(children);
    Sx::List(v)
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:/~".contains(c));
    if plain || s == "@" {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// One-line rendering.
pub fn flat(sx: &Sx) -> String {
    match sx {
        Sx::Atom(s) => quote(s),
        Sx::List(items) => {
            let inner: Vec<String> = items.iter().map(flat).collect();
            format!("({})", inner.join(" "))
        }
    }
}

const WIDTH: usize = 80;

/// Pretty rendering starting at column `indent`.
pub fn pretty(sx: &Sx, indent: usize) -> String {
    let one = flat(sx);
    let items = match sx {
        Sx::List(items) if indent + one.len() > WIDTH && !items.is_empty() => items,
        _ => return one,
    };
    let pad = " ".repeat(indent + 4);
    let mut s = String::from("(");
    let head_is_atom = matches!(items[0], Sx::Atom(_));
    s.push_str(&pretty(&items[0], indent + 1));
    for child in &items[1..] {
        s.push('\n');
        s.push_str(&pad);
        s.push_str(&pretty(child, indent + 4));
    }
    if head_is_atom {
        s.push('\n');
        s.push_str(&" ".repeat(indent));
    }
    s.push(')');
    s
}

/// A stable uuid-shaped string derived from `seed` (device uuids).
pub fn derived_uuid(seed: &str) -> String {
    let mut h1 = DefaultHasher::new();
    seed.hash(&mut h1);
    let x = h1.finish();
    let mut h2 = DefaultHasher::new();
    (seed, x).hash(&mut h2);
    let y = h2.finish();
    let hex = format!("{x:016x}{y:016x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn cpus_sx(d: &Domain) -> Sx {
    Sx::List(d.affinity.iter().map(|cpus| Sx::List(cpus.iter().map(a).collect())).collect())
}

fn image_sx(d: &Domain) -> Sx {
    if d.is_dom0() {
        return node(
            "image",
            vec![node(
                "linux",
                vec![
                    kv("kernel", ""),
                    kv("expose_host_uuid", 0),
                    kv("superpages", 0),
                    kv("nomigrate", 0),
                    kv("tsc_mode", 0),
                ],
            )],
        );
    }
    let mut items = vec![kv("kernel", ""), kv("expose_host_uuid", 0), kv("superpages", 0), kv("videoram", 4)];
    if d.hvm {
        let vnc = u8::from(d.vfb.is_some());
        items.extend([kv("hpet", 0), kv("stdvga", 0)]);
        if let Some(v) = &d.vfb {
            items.push(kv("vnclisten", &v.vnclisten));
        }
        items.extend([
            kv("loader", "/usr/lib/xen/boot/hvmloader"),
            kv("xen_platform_pci", 1),
            node("pci", vec![Sx::List(vec![])]),
            kv("hap", 1),
            kv("localtime", 0),
            kv("timer_mode", 1),
            kv("apic", 1),
            kv("usbdevice", "tablet"),
            kv("serial", "pty"),
            kv("vncunused", 1),
            kv("boot", "c"),
            kv("pae", 1),
            kv("acpi", 1),
            kv("vnc", vnc),
            kv("nographic", 0),
            kv("nomigrate", 0),
            kv("tsc_mode", 0),
            kv("guest_os_type", "linux"),
            kv("device_model", "/usr/lib/xen/bin/qemu-dm"),
            kv("isa", 0),
            node("notes", vec![kv("SUSPEND_CANCEL", 1)]),
        ]);
        node("image", vec![node("hvm", items)])
    } else {
        items.extend([
            node("pci", vec![Sx::List(vec![])]),
            kv("nomigrate", 0),
            kv("tsc_mode", 0),
            kv("device_model", "/usr/lib/xen/bin/qemu-dm"),
            node(
                "notes",
                vec![
                    kv("GUEST_OS", "linux"),
                    kv("LOADER", "generic"),
                    kv("SUSPEND_CANCEL", 1),
                    kv("XEN_VERSION", "xen-3.0"),
                ],
            ),
        ]);
        node("image", vec![node("linux", items)])
    }
}

fn devices_sx(d: &Domain) -> Vec<Sx> {
    let mut out = Vec::new();
    let dev = |inner: Sx| node("device", vec![inner]);
    for (i, v) in d.vifs.iter().enumerate() {
        out.push(dev(node(
            "vif",
            vec![
                kv("bridge", &v.bridge),
                kv("mac", &v.mac),
                kv("script", "/etc/xen/scripts/vif-bridge"),
                kv("uuid", derived_uuid(&format!("{}/vif/{i}", d.uuid))),
                kv("backend", 0),
            ],
        )));
    }
    if !d.hvm && d.vfb.is_some() {
        out.push(dev(node("vkbd", vec![kv("backend", 0)])));
    }
    out.push(dev(node(
        "console",
        vec![
            kv("protocol", "vt100"),
            kv("location", d.console_port),
            kv("uuid", derived_uuid(&format!("{}/console", d.uuid))),
        ],
    )));
    let protocol = if d.hvm { "x86_64-abi" } else { "x86_32-abi" };
    for (i, disk) in d.disks.iter().enumerate() {
        let kind = if disk.cdrom { "cdrom" } else { "disk" };
        out.push(dev(node(
            "vbd",
            vec![
                kv("protocol", protocol),
                kv("uuid", derived_uuid(&format!("{}/vbd/{}", d.uuid, disk.dev))),
                kv("bootable", u8::from(i == 0)),
                kv("dev", format!("{}:{kind}", disk.dev)),
                kv("uname", &disk.uname),
                kv("mode", &disk.mode),
                kv("discard-enable", 0),
                kv("backend", 0),
                kv("VDI", ""),
            ],
        )));
    }
    if let Some(v) = &d.vfb {
        out.push(dev(node(
            "vfb",
            vec![
                kv("vncunused", 1),
                kv("vnc", 1),
                kv("uuid", derived_uuid(&format!("{}/vfb", d.uuid))),
                kv("vnclisten", &v.vnclisten),
                kv("keymap", &v.keymap),
                kv("location", format!("{}:{}", v.vnclisten, v.port)),
            ],
        )));
    }
    out
}

/// The `(domain ...)` expression of one domain.
pub fn domain_sx(d: &Domain, now: f64) -> Sx {
    let mut items = vec![
        kv("domid", d.domid),
        kv("cpu_weight", d.cpu_weight),
        kv("cpu_cap", d.cpu_cap),
        kv("pool_name", "Pool-0"),
        kv("bootloader", &d.bootloader),
        kv("vcpus", d.max_vcpus),
        Sx::List(vec![a("cpus"), cpus_sx(d)]),
        kv("on_poweroff", &d.on_poweroff),
    ];
    if !d.is_dom0() {
        items.push(kv("description", ""));
    }
    let bootloader_args = if d.bootloader.is_empty() { "" } else { "-q" };
    items.extend([
        kv("on_crash", &d.on_crash),
        kv("uuid", &d.uuid),
        kv("bootloader_args", bootloader_args),
        kv("name", &d.name),
        kv("on_reboot", &d.on_reboot),
        kv("maxmem", d.maxmem),
        kv("memory", d.memory),
        kv("shadow_memory", 0),
        kv("features", ""),
        kv("on_xend_start", "ignore"),
        kv("on_xend_stop", "ignore"),
    ]);
    if !d.is_dom0() {
        items.push(kv("start_time", format!("{:.2}", d.start_time)));
    }
    items.extend([
        kv("cpu_time", py_float(d.cpu_time(now))),
        kv("online_vcpus", d.online_vcpus),
        image_sx(d),
        kv("status", if d.paused { 3 } else { 2 }),
        kv("state", xm_state(d)),
    ]);
    if !d.is_dom0() {
        let mfn = 1_044_476u64.saturating_sub(u64::from(d.domid) * 4099);
        items.push(kv("store_mfn", mfn));
        if !d.hvm {
            items.push(kv("console_mfn", mfn.saturating_sub(1)));
        }
        items.extend(devices_sx(d));
    }
    node("domain", items)
}

/// `xm list -l` output for the given domains.
pub fn list_long(doms: &[Domain], _topo: &Topology, now: f64) -> String {
    let mut out = String::new();
    for d in doms {
        out.push_str(&pretty(&domain_sx(d, now), 0));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_layout() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("-b----"), "-b----");
        assert_eq!(quote("127.0.0.1:5900"), "127.0.0.1:5900");
        assert_eq!(quote("a|b"), "'a|b'");
        let long = "x".repeat(90);
        let sx = node("device", vec![node("vbd", vec![kv("uname", &long), kv("mode", "w")])]);
        let text = pretty(&sx, 0);
        let want =
            format!("(device\n    (vbd\n        (uname\n            {long}\n        )\n        (mode w)\n    )\n)");
        assert_eq!(text, want);
        let cpus = Sx::List(vec![a("cpus"), Sx::List(vec![Sx::List(vec![]), Sx::List(vec![])])]);
        assert_eq!(pretty(&cpus, 4), "(cpus (() ()))");
    }
}
