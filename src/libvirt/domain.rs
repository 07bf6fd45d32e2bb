//! A libvirt domain's XML (`virsh dumpxml`): a typed view of what domform reconciles, and
//! minimal edits for `virsh define`.
//!
//! libvirt owns most of a domain's XML (addresses, aliases, controllers it adds, elements newer
//! versions invent), and an operator may have added their own. So domform never re-serializes a
//! domain: quick-xml's tokenizer gives every element's byte range, [`parse`] reads the few values
//! domform cares about, and the `set_*` functions return [`Edit`]s that replace only the bytes of
//! the elements domform owns (`<memory>`, `<currentMemory>`, `<vcpu>`'s count, `<cputune>`'s
//! `<vcpupin>`s, domform's own `<metadata>` child). Everything else stays byte for byte.
//! The VNC password is read only as "present or not" and never kept.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::model::CpuSet;

/// The namespace of domform's element inside `<metadata>`: a URN, since libvirt accepts any
/// URI there and domform owns no web domain to put in a URL.
pub const METADATA_NS: &str = "urn:domform:metadata:1";

/// One element: its path of local names, attributes (unescaped; a `passwd=` value is dropped,
/// so no password is ever held here) and byte ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    /// Local names from the root down to this element.
    pub(super) path: Vec<String>,
    /// `(name as written, unescaped value)`.
    pub(super) attrs: Vec<(String, String)>,
    /// From `<` of the start tag to after `>` of the end tag.
    pub(super) outer: (usize, usize),
    /// Between the tags (empty at the end of `<x/>`).
    pub(super) inner: (usize, usize),
}

impl Node {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    pub(super) fn is(&self, path: &[&str]) -> bool {
        self.path.len() == path.len() && self.path.iter().zip(path).all(|(a, b)| a == b)
    }
}

/// A disk (`<devices><disk>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `device=` (`disk`, `cdrom`, ...).
    pub device: String,
    /// `<source file=>` of a file-backed disk, or `<source dev=>` of a block device.
    pub file: Option<String>,
    /// `<target dev=>`.
    pub target: Option<String>,
    /// `<readonly/>` present.
    pub readonly: bool,
    /// `<shareable/>` present (vm.cfg mode `w!`).
    pub shareable: bool,
}

/// A network interface (`<devices><interface>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `<source bridge=>`.
    pub bridge: Option<String>,
    /// `<mac address=>`.
    pub mac: Option<String>,
    /// `<model type=>`.
    pub model: Option<String>,
}

/// `<graphics type='vnc'>`. Debug shows only whether a password is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vnc {
    /// `port=` (`-1` while autoport has not chosen one).
    pub port: Option<i32>,
    /// `autoport='yes'`.
    pub autoport: bool,
    /// `listen=`.
    pub listen: Option<String>,
    /// `passwd=` present (only with `--security-info`).
    pub has_password: bool,
    /// `keymap=`.
    pub keymap: Option<String>,
}

/// What domform reads from a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Domain {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`.
    pub uuid: Option<String>,
    /// `<memory>` in KiB.
    pub memory_kib: u64,
    /// `<currentMemory>` in KiB.
    pub current_memory_kib: Option<u64>,
    /// `<vcpu>`'s count (the maximum).
    pub vcpus: u32,
    /// `<vcpu current=>`.
    pub vcpus_current: Option<u32>,
    /// `<vcpu placement=>`.
    pub placement: Option<String>,
    /// `<cputune><vcpupin>`: (vCPU, set), in file order.
    pub pins: Vec<(u32, CpuSet)>,
    /// Disks in file order.
    pub disks: Vec<Disk>,
    /// Interfaces in file order.
    pub interfaces: Vec<Interface>,
    /// A `<serial type='pty'>`.
    pub serial_pty: bool,
    /// The first `<graphics type='vnc'>`.
    pub vnc: Option<Vnc>,
    /// `<domform:simple-name>` in domform's metadata element (the OVM simple name).
    pub simple_name: Option<String>,
}

/// One change to the text: delete `del` bytes at `at`, insert `ins` there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Byte offset in the original text.
    pub at: usize,
    /// Bytes removed.
    pub del: usize,
    /// Text inserted.
    pub ins: String,
}

/// Line number (1-based) of byte `pos`.
pub fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

pub(super) fn where_(text: &str, pos: usize) -> String {
    format!("line {}, byte {pos}", line_of(text, pos))
}

fn attrs_of(e: &BytesStart<'_>, text: &str, at: usize) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("{}: bad attribute: {err}", where_(text, at)))?;
        let name = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        if name == "passwd" {
            out.push((name, String::new()));
            continue;
        }
        let value =
            a.unescape_value().map_err(|err| format!("{}: attribute {name}: {err}", where_(text, at)))?.into_owned();
        out.push((name, value));
    }
    Ok(out)
}

/// Every element of `text`, children before their parents.
pub(super) fn nodes(text: &str) -> Result<Vec<Node>, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut open: Vec<Node> = Vec::new();
    let mut out = Vec::new();
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let ev = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(0);
            format!("{}: not well-formed XML: {e}", where_(text, at))
        })?;
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match ev {
            Event::Start(e) => {
                let mut path = open.last().map(|n| n.path.clone()).unwrap_or_default();
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                let attrs = attrs_of(&e, text, before)?;
                open.push(Node { path, attrs, outer: (before, 0), inner: (after, 0) });
            }
            Event::End(_) => {
                let Some(mut n) = open.pop() else {
                    return Err(format!("{}: an end tag without a start tag", where_(text, before)));
                };
                n.outer.1 = after;
                n.inner.1 = before;
                out.push(n);
            }
            Event::Empty(e) => {
                let mut path = open.last().map(|n| n.path.clone()).unwrap_or_default();
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                let attrs = attrs_of(&e, text, before)?;
                out.push(Node { path, attrs, outer: (before, after), inner: (after, after) });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match open.last() {
        Some(n) => Err(format!("the text ends inside <{}> opened at {}", n.path.join("/"), where_(text, n.outer.0))),
        None => Ok(out),
    }
}

/// The unescaped text of an element without children.
fn text_of(text: &str, n: &Node) -> Result<String, String> {
    let raw = &text[n.inner.0..n.inner.1];
    if raw.contains('<') {
        return Err(format!("<{}> at {} holds markup, not just text", n.path.join("/"), where_(text, n.outer.0)));
    }
    quick_xml::escape::unescape(raw)
        .map(|c| c.trim().to_string())
        .map_err(|e| format!("<{}> at {}: {e}", n.path.join("/"), where_(text, n.outer.0)))
}

fn number<T: std::str::FromStr>(text: &str, n: &Node, what: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("<{}> at {}: {what} `{value}` is not a number", n.path.join("/"), where_(text, n.outer.0)))
}

/// KiB from a libvirt memory element's text and `unit=` (default KiB).
fn kib(text: &str, n: &Node) -> Result<u64, String> {
    let value: u64 = number(text, n, "the size", &text_of(text, n)?)?;
    let unit = n.attr("unit").unwrap_or("KiB");
    let (mul, div): (u64, u64) = match unit {
        "b" | "bytes" => (1, 1024),
        "KB" => (1000, 1024),
        "k" | "KiB" => (1, 1),
        "MB" => (1_000_000, 1024),
        "M" | "MiB" => (1024, 1),
        "GB" => (1_000_000_000, 1024),
        "G" | "GiB" => (1024 * 1024, 1),
        "TB" => (1_000_000_000_000, 1024),
        "T" | "TiB" => (1024 * 1024 * 1024, 1),
        other => return Err(format!("<{}> at {}: unknown unit `{other}`", n.path.join("/"), where_(text, n.outer.0))),
    };
    value
        .checked_mul(mul)
        .map(|v| v.div_ceil(div))
        .ok_or_else(|| format!("<{}> at {}: the size overflows", n.path.join("/"), where_(text, n.outer.0)))
}

/// The first node with exactly this path.
pub(super) fn find<'a>(all: &'a [Node], path: &[&str]) -> Option<&'a Node> {
    all.iter().find(|n| n.is(path))
}

/// Nodes below `parent` (by byte range) whose path ends in `tail`.
pub(super) fn below<'a>(all: &'a [Node], parent: &'a Node, tail: &'a [&'a str]) -> impl Iterator<Item = &'a Node> + 'a {
    all.iter().filter(move |n| {
        n.outer.0 >= parent.inner.0
            && n.outer.1 <= parent.inner.1
            && n.path.len() == parent.path.len() + tail.len()
            && n.path[parent.path.len()..].iter().zip(tail).all(|(a, b)| a == b)
    })
}

/// Domform's element inside `<metadata>`: a child that declares [`METADATA_NS`].
fn domform_metadata(all: &[Node]) -> Option<&Node> {
    all.iter().find(|n| {
        n.path.len() == 3
            && n.path[1] == "metadata"
            && n.attrs.iter().any(|(k, v)| (k == "xmlns" || k.starts_with("xmlns:")) && v == METADATA_NS)
    })
}

/// Reads a domain's XML.
pub fn parse(text: &str) -> Result<Domain, String> {
    let all = nodes(text)?;
    let root = all.last().ok_or("no root element")?;
    if root.path[0] != "domain" {
        return Err(format!("the root element is <{}>, not <domain>", root.path[0]));
    }
    let mut d = Domain {
        name: find(&all, &["domain", "name"]).map(|n| text_of(text, n)).transpose()?.ok_or("no <name> in <domain>")?,
        uuid: find(&all, &["domain", "uuid"]).map(|n| text_of(text, n)).transpose()?,
        memory_kib: find(&all, &["domain", "memory"])
            .map(|n| kib(text, n))
            .transpose()?
            .ok_or("no <memory> in <domain>")?,
        current_memory_kib: find(&all, &["domain", "currentMemory"]).map(|n| kib(text, n)).transpose()?,
        ..Domain::default()
    };
    let vcpu = find(&all, &["domain", "vcpu"]).ok_or("no <vcpu> in <domain>")?;
    d.vcpus = number(text, vcpu, "the vCPU count", &text_of(text, vcpu)?)?;
    d.vcpus_current = vcpu.attr("current").map(|c| number(text, vcpu, "current", c)).transpose()?;
    d.placement = vcpu.attr("placement").map(str::to_string);
    for pin in all.iter().filter(|n| n.is(&["domain", "cputune", "vcpupin"])) {
        let missing = |a: &str| format!("<vcpupin> at {} has no {a}=", where_(text, pin.outer.0));
        let v: u32 = number(text, pin, "vcpu", pin.attr("vcpu").ok_or_else(|| missing("vcpu"))?)?;
        let set = pin.attr("cpuset").ok_or_else(|| missing("cpuset"))?;
        let set = CpuSet::parse(set).map_err(|e| format!("<vcpupin> at {}: {e}", where_(text, pin.outer.0)))?;
        d.pins.push((v, set));
    }
    read_devices(text, &all, &mut d)?;
    if let Some(meta) = domform_metadata(&all) {
        let name = below(&all, meta, &["simple-name"]).next();
        d.simple_name = name.map(|n| text_of(text, n)).transpose()?;
    }
    Ok(d)
}

fn read_devices(text: &str, all: &[Node], d: &mut Domain) -> Result<(), String> {
    let attr_of = |parent: &Node, child: &'static str, attr: &str| {
        all.iter()
            .find(|n| {
                n.outer.0 >= parent.inner.0
                    && n.outer.1 <= parent.inner.1
                    && n.path.len() == parent.path.len() + 1
                    && n.path.last().map(String::as_str) == Some(child)
            })
            .and_then(|n| n.attr(attr).map(str::to_string))
    };
    let mut devices: Vec<&Node> = all.iter().filter(|n| n.path.len() == 3 && n.path[1] == "devices").collect();
    devices.sort_by_key(|n| n.outer.0);
    for dev in devices {
        match dev.path[2].as_str() {
            "disk" => d.disks.push(Disk {
                device: dev.attr("device").unwrap_or("disk").to_string(),
                file: attr_of(dev, "source", "file").or_else(|| attr_of(dev, "source", "dev")),
                target: attr_of(dev, "target", "dev"),
                readonly: below(all, dev, &["readonly"]).next().is_some(),
                shareable: below(all, dev, &["shareable"]).next().is_some(),
            }),
            "interface" => d.interfaces.push(Interface {
                bridge: attr_of(dev, "source", "bridge"),
                mac: attr_of(dev, "mac", "address"),
                model: attr_of(dev, "model", "type"),
            }),
            "serial" if dev.attr("type") == Some("pty") => d.serial_pty = true,
            "graphics" if dev.attr("type") == Some("vnc") && d.vnc.is_none() => {
                let port = dev.attr("port").map(|p| number(text, dev, "port", p)).transpose()?;
                d.vnc = Some(Vnc {
                    port,
                    autoport: dev.attr("autoport") == Some("yes"),
                    listen: dev.attr("listen").map(str::to_string),
                    has_password: dev.attr("passwd").is_some(),
                    keymap: dev.attr("keymap").map(str::to_string),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// `text` with `edits` applied (offsets are into `text`; edits must not overlap).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.at);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for e in sorted {
        out.push_str(&text[pos..e.at]);
        out.push_str(&e.ins);
        pos = e.at + e.del;
    }
    out.push_str(&text[pos..]);
    out
}

/// The whitespace before `pos` on its line ("" when other text precedes it there).
pub(super) fn indent_at(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let lead = &text[start..pos];
    if lead.chars().all(|c| c == ' ' || c == '\t') {
        lead
    } else {
        ""
    }
}

pub(super) fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

pub(super) fn required<'a>(all: &'a [Node], path: &[&str]) -> Result<&'a Node, String> {
    find(all, path).ok_or_else(|| format!("no <{}> in the domain", path[1..].join("><")))
}

/// Sets `<memory>` to `kib` KiB (rewrites that element only).
pub fn set_memory(text: &str, kib: u64) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let n = required(&all, &["domain", "memory"])?;
    Ok(vec![Edit { at: n.outer.0, del: n.outer.1 - n.outer.0, ins: format!("<memory unit='KiB'>{kib}</memory>") }])
}

/// Sets `<currentMemory>` to `kib` KiB, adding it after `<memory>` when absent.
pub fn set_current_memory(text: &str, kib: u64) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let element = format!("<currentMemory unit='KiB'>{kib}</currentMemory>");
    if let Some(n) = find(&all, &["domain", "currentMemory"]) {
        return Ok(vec![Edit { at: n.outer.0, del: n.outer.1 - n.outer.0, ins: element }]);
    }
    let m = required(&all, &["domain", "memory"])?;
    let ins = format!("\n{}{element}", indent_at(text, m.outer.0));
    Ok(vec![Edit { at: m.outer.1, del: 0, ins }])
}

/// Sets `<vcpu>`'s count (the maximum); its attributes stay. A `current=` above it is an error.
pub fn set_vcpus(text: &str, count: u32) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let n = required(&all, &["domain", "vcpu"])?;
    if let Some(cur) = n.attr("current").and_then(|c| c.trim().parse::<u32>().ok()) {
        if cur > count {
            return Err(format!("<vcpu current='{cur}'> is above the new count {count}"));
        }
    }
    Ok(vec![Edit { at: n.inner.0, del: n.inner.1 - n.inner.0, ins: count.to_string() }])
}

/// Replaces `<cputune>`'s `<vcpupin>`s with `pins`, keeping its other children; adds
/// `<cputune>` after `<vcpu>` when absent.
pub fn set_pins(text: &str, pins: &[(u32, CpuSet)]) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let pin_line = |indent: &str, (v, set): &(u32, CpuSet)| format!("\n{indent}<vcpupin vcpu='{v}' cpuset='{set}'/>");
    let Some(tune) = find(&all, &["domain", "cputune"]) else {
        if pins.is_empty() {
            return Ok(Vec::new());
        }
        let vcpu = required(&all, &["domain", "vcpu"])?;
        let ind = indent_at(text, vcpu.outer.0);
        let inner: String = pins.iter().map(|p| pin_line(&format!("{ind}  "), p)).collect();
        let ins = format!("\n{ind}<cputune>{inner}\n{ind}</cputune>");
        return Ok(vec![Edit { at: vcpu.outer.1, del: 0, ins }]);
    };
    let ind = indent_at(text, tune.outer.0);
    let old: Vec<&Node> = below(&all, tune, &["vcpupin"]).collect();
    let child_ind = old.first().map_or_else(|| format!("{ind}  "), |p| indent_at(text, p.outer.0).to_string());
    let new: String = pins.iter().map(|p| pin_line(&child_ind, p)).collect();
    if tune.inner.0 == tune.inner.1 && text[tune.outer.0..tune.outer.1].ends_with("/>") {
        let ins = format!("<cputune>{new}\n{ind}</cputune>");
        return Ok(vec![Edit { at: tune.outer.0, del: tune.outer.1 - tune.outer.0, ins }]);
    }
    // Each old pin goes with the indentation and line break before it.
    let mut edits: Vec<Edit> = old
        .iter()
        .map(|p| {
            let lead = indent_at(text, p.outer.0).len();
            let start = p.outer.0 - lead;
            let start = if lead > 0 || text[..start].ends_with('\n') { start.saturating_sub(1) } else { start };
            Edit { at: start, del: p.outer.1 - start, ins: String::new() }
        })
        .collect();
    match edits.first_mut() {
        Some(first) => first.ins = new,
        None => edits.push(Edit { at: tune.inner.0, del: 0, ins: new }),
    }
    Ok(edits)
}

/// Sets domform's metadata element to hold `simple_name`, replacing an older one; adds it to
/// `<metadata>` (or adds `<metadata>` after `<uuid>`/`<name>`) when absent.
pub fn set_simple_name(text: &str, simple_name: &str) -> Result<Vec<Edit>, String> {
    let all = nodes(text)?;
    let element = |ind: &str| {
        format!(
            "<domform:vm xmlns:domform=\"{METADATA_NS}\">\n{ind}  <domform:simple-name>{}</domform:simple-name>\n{ind}</domform:vm>",
            esc(simple_name)
        )
    };
    if let Some(n) = domform_metadata(&all) {
        let ind = indent_at(text, n.outer.0);
        return Ok(vec![Edit { at: n.outer.0, del: n.outer.1 - n.outer.0, ins: element(ind) }]);
    }
    if let Some(meta) = find(&all, &["domain", "metadata"]) {
        let ind = indent_at(text, meta.outer.0);
        if meta.inner.0 == meta.inner.1 {
            let ins = format!("<metadata>\n{ind}  {}\n{ind}</metadata>", element(&format!("{ind}  ")));
            return Ok(vec![Edit { at: meta.outer.0, del: meta.outer.1 - meta.outer.0, ins }]);
        }
        let ins = format!("\n{ind}  {}", element(&format!("{ind}  ")));
        return Ok(vec![Edit { at: meta.inner.0, del: 0, ins }]);
    }
    let after = find(&all, &["domain", "uuid"]).map_or_else(|| required(&all, &["domain", "name"]), Ok)?;
    let ind = indent_at(text, after.outer.0);
    let ins = format!("\n{ind}<metadata>\n{ind}  {}\n{ind}</metadata>", element(&format!("{ind}  ")));
    Ok(vec![Edit { at: after.outer.1, del: 0, ins }])
}

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
