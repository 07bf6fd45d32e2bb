//! Minimal edits of a domain's devices and vCPU count, for `virsh define` of an existing domain.
//!
//! Like [`super::domain`]'s `set_*` functions, each returns [`Edit`]s that touch only the
//! element (or the attributes) domform owns: an added device goes last in `<devices>`, indented
//! like its siblings; a removed one takes its line with it; a changed attribute keeps every
//! other attribute of its tag byte for byte, including a `passwd=` domform never reads. The
//! element shapes are the ones `generate.rs` writes for a new domain, so a VM planned
//! from scratch and one edited into the same state read back the same.

use super::domain::{below, esc, find, indent_at, nodes, required, Edit, Node};

/// The first `<prefix><letters>` target device (`vda`, `vdb`, … `vdaa`) not in `existing`.
pub fn next_target_dev(existing: &[String], prefix: &str) -> String {
    (0..)
        .map(|n| format!("{prefix}{}", crate::model::validate::device_letters(n)))
        .find(|cand| !existing.contains(cand))
        .unwrap_or_else(|| format!("{prefix}a"))
}

/// `<disk>` as lines (nested lines indented by two spaces). The bus follows the target's
/// prefix: `vd` virtio, `hd` IDE, `sd` SATA; a `/dev/` path is a block device.
pub(super) fn disk_lines(path: &str, target: &str, readonly: bool, shareable: bool, cdrom: bool) -> Vec<String> {
    let bus = match target.get(..2) {
        Some("hd") => "ide",
        Some("sd") => "sata",
        _ => "virtio",
    };
    let (kind, source) = if path.starts_with("/dev/") { ("block", "dev") } else { ("file", "file") };
    let mut l = vec![
        format!("<disk type='{kind}' device='{}'>", if cdrom { "cdrom" } else { "disk" }),
        "  <driver name='qemu' type='raw'/>".to_string(),
        format!("  <source {source}='{}'/>", esc(path)),
        format!("  <target dev='{}' bus='{bus}'/>", esc(target)),
    ];
    if readonly || cdrom {
        l.push("  <readonly/>".into());
    }
    if shareable {
        l.push("  <shareable/>".into());
    }
    l.push("</disk>".into());
    l
}

/// `<interface type='bridge'>` as lines; the model is `virtio` unless another is given.
pub(super) fn interface_lines(bridge: &str, mac: Option<&str>, model: Option<&str>) -> Vec<String> {
    let mut l = vec!["<interface type='bridge'>".to_string()];
    if let Some(mac) = mac {
        l.push(format!("  <mac address='{}'/>", esc(mac)));
    }
    l.push(format!("  <source bridge='{}'/>", esc(bridge)));
    l.push(format!("  <model type='{}'/>", esc(model.unwrap_or("virtio"))));
    l.push("</interface>".into());
    l
}

/// The serial port on a pty and the console on it, as lines.
pub(super) fn serial_lines() -> Vec<String> {
    ["<serial type='pty'>", "  <target port='0'/>", "</serial>"]
        .into_iter()
        .chain(["<console type='pty'>", "  <target type='serial' port='0'/>", "</console>"])
        .map(String::from)
        .collect()
}

/// The `port=`/`autoport=` pair: a fixed port, or libvirt's first free one.
pub(super) fn vnc_port_attrs(port: Option<u16>) -> [(&'static str, String); 2] {
    match port {
        Some(p) => [("port", p.to_string()), ("autoport", "no".into())],
        None => [("port", "-1".into()), ("autoport", "yes".into())],
    }
}

/// `lines`, each indented by `ind`, one a line.
pub(super) fn block(lines: &[String], ind: &str) -> String {
    lines.iter().map(|l| format!("{ind}{l}")).collect::<Vec<_>>().join("\n")
}

/// `<devices>`' children named `kind`, in file order.
fn devices_named<'a>(all: &'a [Node], kind: &str) -> Vec<&'a Node> {
    let mut v: Vec<&Node> =
        all.iter().filter(|n| n.path.len() == 3 && n.path[1] == "devices" && n.path[2] == kind).collect();
    v.sort_by_key(|n| n.outer.0);
    v
}

/// An attribute of `parent`'s child element `child`.
fn child_attr<'a>(all: &'a [Node], parent: &Node, child: &str, attr: &str) -> Option<&'a str> {
    all.iter()
        .find(|n| {
            n.outer.0 >= parent.inner.0
                && n.outer.1 <= parent.inner.1
                && n.path.len() == parent.path.len() + 1
                && n.path.last().is_some_and(|l| l == child)
        })
        .and_then(|n| n.attr(attr))
}

/// Adds `lines` as the last child of `<devices>`, indented like the first child.
fn insert_device(text: &str, all: &[Node], lines: &[String]) -> Result<Vec<Edit>, String> {
    let devices = required(all, &["domain", "devices"])?;
    let ind = indent_at(text, devices.outer.0);
    let first = all.iter().filter(|n| n.path.len() == 3 && n.path[1] == "devices").min_by_key(|n| n.outer.0);
    let child_ind = first.map(|c| indent_at(text, c.outer.0)).filter(|i| !i.is_empty());
    let child_ind = child_ind.map_or_else(|| format!("{ind}  "), str::to_string);
    if devices.inner.0 == devices.outer.1 {
        let ins = format!("<devices>\n{}\n{ind}</devices>", block(lines, &child_ind));
        return Ok(vec![Edit { at: devices.outer.0, del: devices.outer.1 - devices.outer.0, ins }]);
    }
    let close = devices.inner.1;
    let close_ind = indent_at(text, close);
    if !close_ind.is_empty() || text[..close].ends_with('\n') {
        let ins = format!("{}\n", block(lines, &child_ind));
        return Ok(vec![Edit { at: close - close_ind.len(), del: 0, ins }]);
    }
    // `</devices>` follows other text on its line: keep the element on that line too.
    let ins: String = lines.iter().map(|l| l.trim_start()).collect();
    Ok(vec![Edit { at: close, del: 0, ins }])
}

/// Removes `n` with the line break and indentation before it (when it stands on its own line).
fn remove(text: &str, n: &Node) -> Edit {
    let lead = indent_at(text, n.outer.0).len();
    let start = n.outer.0 - lead;
    let start = if lead > 0 || text[..start].ends_with('\n') { start.saturating_sub(1) } else { start };
    Edit { at: start, del: n.outer.1 - start, ins: String::new() }
}

/// `(name, where the name starts, the value's span)` of each attribute of a start tag.
fn attr_spans(tag: &str) -> Vec<(&str, usize, (usize, usize))> {
    let b = tag.as_bytes();
    let mut i = tag.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(tag.len());
    let mut out = Vec::new();
    loop {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let name_start = i;
        while b.get(i).is_some_and(|c| !c.is_ascii_whitespace() && !matches!(*c, b'=' | b'/' | b'>')) {
            i += 1;
        }
        if i == name_start {
            return out;
        }
        let name = &tag[name_start..i];
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace() || *c == b'=') {
            i += 1;
        }
        let Some(q) = b.get(i).copied().filter(|q| matches!(*q, b'\'' | b'"')) else { return out };
        let Some(len) = tag[i + 1..].find(char::from(q)) else { return out };
        out.push((name, name_start, (i + 1, i + 1 + len)));
        i += len + 2;
    }
}

/// Sets (`Some`) or removes (`None`) attributes of `n`'s start tag; new ones go after the last.
fn set_attrs(text: &str, n: &Node, changes: &[(&str, Option<String>)]) -> Vec<Edit> {
    let at = n.outer.0;
    let tag = &text[at..n.inner.0];
    let spans = attr_spans(tag);
    let mut edits = Vec::new();
    let mut added = String::new();
    for (name, value) in changes {
        match (spans.iter().find(|s| s.0 == *name), value) {
            (Some((_, _, (a, b))), Some(v)) => edits.push(Edit { at: at + a, del: b - a, ins: esc(v) }),
            (Some((_, ns, (_, b))), None) => {
                let start = tag[..*ns].trim_end().len();
                edits.push(Edit { at: at + start, del: b + 1 - start, ins: String::new() });
            }
            (None, Some(v)) => added += &format!(" {name}='{}'", esc(v)),
            (None, None) => {}
        }
    }
    if !added.is_empty() {
        let close = tag.strip_suffix("/>").or_else(|| tag.strip_suffix('>')).unwrap_or(tag);
        edits.push(Edit { at: at + close.trim_end().len(), del: 0, ins: added });
    }
    edits
}

/// Adds a disk (see [`disk_lines`]) as the last device; its target must be free.
pub fn add_disk(
    text: &str,
    path: &str,
    target_dev: &str,
    readonly: bool,
    shareable: bool,
    cdrom: bool,
) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let taken = disk_targets(text)?;
    if taken.iter().any(|t| t == target_dev) {
        return Err(format!("the domain already has a disk on target `{target_dev}`"));
    }
    insert_device(text, &all, &disk_lines(path, target_dev, readonly, shareable, cdrom))
}

/// The target devices of the domain's disks, in file order.
pub fn disk_targets(text: &str) -> Result<Vec<String>, String> {
    let all = nodes(text)?;
    Ok(devices_named(&all, "disk")
        .iter()
        .filter_map(|d| child_attr(&all, d, "target", "dev"))
        .map(String::from)
        .collect())
}

/// The next free target for a new disk (`vd…`) or CD-ROM (`hd…`) of this domain.
pub fn next_disk_target(text: &str, cdrom: bool) -> Result<String, String> {
    Ok(next_target_dev(&disk_targets(text)?, if cdrom { "hd" } else { "vd" }))
}

/// Removes every disk whose source file (or block device) is `path`.
pub fn remove_disk(text: &str, path: &str) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let edits: Vec<Edit> = devices_named(&all, "disk")
        .into_iter()
        .filter(|d| {
            child_attr(&all, d, "source", "file").or_else(|| child_attr(&all, d, "source", "dev")) == Some(path)
        })
        .map(|d| remove(text, d))
        .collect();
    if edits.is_empty() {
        return Err(format!("the domain has no disk `{path}`"));
    }
    Ok(edits)
}

/// Adds `element` as the last child of `parent`, indented like its first child.
fn append_child(text: &str, all: &[Node], parent: &Node, element: &str) -> Edit {
    let first = all
        .iter()
        .filter(|n| n.path.len() == parent.path.len() + 1 && n.outer.0 >= parent.inner.0 && n.outer.1 <= parent.inner.1)
        .min_by_key(|n| n.outer.0);
    let ind = first.map_or("", |c| indent_at(text, c.outer.0));
    let (close, close_ind) = (parent.inner.1, indent_at(text, parent.inner.1));
    if ind.is_empty() || close_ind.is_empty() {
        Edit { at: close, del: 0, ins: element.to_string() }
    } else {
        Edit { at: close - close_ind.len(), del: 0, ins: format!("{ind}{element}\n") }
    }
}

/// Sets the `<model type=…>` of the interface(s) with this MAC (compared without case), adding
/// a `<model>` to one that has none.
pub fn set_interface_model(text: &str, mac: &str, model: &str) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let mut edits = Vec::new();
    let with_mac = |n: &&Node| child_attr(&all, n, "mac", "address").is_some_and(|m| m.eq_ignore_ascii_case(mac));
    for n in devices_named(&all, "interface").into_iter().filter(with_mac) {
        match below(&all, n, &["model"]).next() {
            Some(m) => edits.extend(set_attrs(text, m, &[("type", Some(model.to_string()))])),
            None => edits.push(append_child(text, &all, n, &format!("<model type='{}'/>", esc(model)))),
        }
    }
    if edits.is_empty() {
        return Err(format!("the domain has no interface with MAC {mac}"));
    }
    Ok(edits)
}

/// Sets the `<readonly/>` and `<shareable/>` of every disk whose source is `path`: an absent
/// one is added as the disk's last child (indented like its others), a present one unwanted
/// is removed; the disk's other children (its `<address>`, a `<driver>` the admin tuned) stay.
pub fn set_disk_flags(text: &str, path: &str, readonly: bool, shareable: bool) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let mut edits = Vec::new();
    let source = |d: &Node| child_attr(&all, d, "source", "file").or_else(|| child_attr(&all, d, "source", "dev"));
    for d in devices_named(&all, "disk").into_iter().filter(|d| source(d) == Some(path)) {
        for (flag, want) in [(["readonly"], readonly), (["shareable"], shareable)] {
            let have: Vec<&Node> = below(&all, d, &flag).collect();
            let flag = flag[0];
            if want && have.is_empty() {
                edits.push(append_child(text, &all, d, &format!("<{flag}/>")));
            } else if !want {
                edits.extend(have.into_iter().map(|n| remove(text, n)));
            }
        }
    }
    Ok(edits)
}

/// Adds an interface on `bridge` (see [`interface_lines`]); its MAC must not be there yet.
pub fn add_interface(text: &str, bridge: &str, mac: Option<&str>, model: Option<&str>) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    if let Some(mac) = mac {
        let same = |n: &&Node| child_attr(&all, n, "mac", "address").is_some_and(|m| m.eq_ignore_ascii_case(mac));
        if devices_named(&all, "interface").iter().any(same) {
            return Err(format!("the domain already has an interface with MAC {mac}"));
        }
    }
    insert_device(text, &all, &interface_lines(bridge, mac, model))
}

/// Removes the interface(s) with this MAC (compared without case).
pub fn remove_interface(text: &str, mac: &str) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let edits: Vec<Edit> = devices_named(&all, "interface")
        .into_iter()
        .filter(|n| child_attr(&all, n, "mac", "address").is_some_and(|m| m.eq_ignore_ascii_case(mac)))
        .map(|n| remove(text, n))
        .collect();
    if edits.is_empty() {
        return Err(format!("the domain has no interface with MAC {mac}"));
    }
    Ok(edits)
}

/// Turns the pty serial console on (adds `<serial>` + `<console>` when there is no pty serial)
/// or off (removes every pty `<serial>` and every pty `<console>` on a serial target, and with
/// the last serial port `<os><bios useserial=…>`).
pub fn set_serial(text: &str, on: bool) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let serials: Vec<&Node> =
        devices_named(&all, "serial").into_iter().filter(|n| n.attr("type") == Some("pty")).collect();
    if on {
        return if serials.is_empty() { insert_device(text, &all, &serial_lines()) } else { Ok(Vec::new()) };
    }
    let consoles = devices_named(&all, "console").into_iter().filter(|n| {
        n.attr("type") == Some("pty") && child_attr(&all, n, "target", "type").is_none_or(|t| t == "serial")
    });
    let mut edits: Vec<Edit> = serials.iter().copied().chain(consoles).map(|n| remove(text, n)).collect();
    // libvirt refuses BIOS serial output without a serial port; it goes when the last one does.
    let all_serials = devices_named(&all, "serial").len();
    if let Some(bios) = find(&all, &["domain", "os", "bios"]).filter(|_| all_serials == serials.len()) {
        edits.extend(set_attrs(text, bios, &[("useserial", None)]));
    }
    Ok(edits)
}

/// Sets the VNC display: `None` removes every `<graphics type='vnc'>`; `Some((listen, port))`
/// changes the first one's `listen=`, `port=` and `autoport=` (and the address of its
/// `<listen type='address'>` children, which libvirt requires to agree), keeping its other
/// attributes (`keymap=`, `passwd=`), or adds one.
pub fn set_vnc(text: &str, vnc: Option<(&str, Option<u16>)>) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let existing: Vec<&Node> =
        devices_named(&all, "graphics").into_iter().filter(|n| n.attr("type") == Some("vnc")).collect();
    let Some((listen, port)) = vnc else {
        return Ok(existing.into_iter().map(|n| remove(text, n)).collect());
    };
    let [(p, pv), (a, av)] = vnc_port_attrs(port);
    let changes = [(p, Some(pv)), (a, Some(av)), ("listen", Some(listen.to_string()))];
    let Some(g) = existing.first() else {
        let attrs: String =
            changes.iter().map(|(k, v)| format!(" {k}='{}'", esc(v.as_deref().unwrap_or("")))).collect();
        return insert_device(text, &all, &[format!("<graphics type='vnc'{attrs}/>")]);
    };
    let mut edits = set_attrs(text, g, &changes);
    for l in below(&all, g, &["listen"]).filter(|l| l.attr("type") == Some("address")) {
        edits.extend(set_attrs(text, l, &[("address", Some(listen.to_string()))]));
    }
    Ok(edits)
}

/// The first `<graphics type='vnc'>`, or an error saying there is none.
fn first_vnc(all: &[Node]) -> Result<&Node, String> {
    devices_named(all, "graphics")
        .into_iter()
        .find(|n| n.attr("type") == Some("vnc"))
        .ok_or_else(|| "the domain has no VNC display".to_string())
}

/// Sets (or removes) the first VNC display's `keymap=`.
pub fn set_vnc_keymap(text: &str, keymap: Option<&str>) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    Ok(set_attrs(text, first_vnc(&all)?, &[("keymap", keymap.map(str::to_string))]))
}

/// Sets (or removes) the first VNC display's `passwd=`. Give it the plan's placeholder
/// (`generate::vnc_password_placeholder`), never the value: `apply::secrets` puts the value in
/// (`target::libvirt::secret::fill`) just before the XML is written on the host. Note that `virsh dumpxml` leaves
/// `passwd=` out unless asked for `--security-info`, so a domain redefined from plain
/// `dumpxml` text loses its password unless it is set again here.
pub fn set_vnc_password(text: &str, placeholder: Option<&str>) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    Ok(set_attrs(text, first_vnc(&all)?, &[("passwd", placeholder.map(str::to_string))]))
}

/// Sets `<vcpu>` to `max` with `current` of them online (`current=` only when it differs);
/// the other attributes stay.
pub fn set_vcpus_current(text: &str, current: u32, max: u32) -> Result<Vec<Edit>, String> {
    if current == 0 || current > max {
        return Err(format!("{current} vCPUs online of {max}: it must be 1 to {max}"));
    }
    let all = nodes(text)?;
    let n = required(&all, &["domain", "vcpu"])?;
    let mut edits = set_attrs(text, n, &[("current", (current != max).then(|| current.to_string()))]);
    edits.push(Edit { at: n.inner.0, del: n.inner.1 - n.inner.0, ins: max.to_string() });
    Ok(edits)
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
