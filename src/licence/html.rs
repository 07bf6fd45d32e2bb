//! `domform licence --html`: one self-contained page an auditor can read on screen and on A4.
//!
//! No script, no external asset (a Content-Security-Policy forbids any), every string from a
//! host or the YAML escaped. The markup is well-formed (XHTML-compatible), so tests read its
//! structure with an XML reader instead of comparing pixels. Colour is never the only carrier of
//! meaning: each thread also names its VMs and each core lists its licence groups, so a
//! black-and-white printout says the same.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::map::{CoreMap, HostMap};

/// Fill colours for VMs (colour-blind-safe first, then more).
const VM_COLOURS: &[&str] = &[
    "#88ccee", "#ddcc77", "#cc6677", "#117733", "#aa4499", "#44aa99", "#999933", "#882255", "#6699cc", "#e69f00",
    "#56b4e9", "#009e73", "#f0e442", "#d55e00", "#cc79a7", "#b3b3b3",
];
/// Outline colours for licence groups.
const GROUP_COLOURS: &[&str] = &["#d62728", "#1f3fbf", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
body { margin: 1.5em; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.2em 0 .3em; } h3 { font-size: 10pt; margin: .2em 0; }
small, .muted { color: #555; font-weight: normal; }
table { border-collapse: collapse; margin: .4em 0; } th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
.host { break-before: page; } .host:first-of-type { break-before: auto; }
.sockets { display: flex; flex-wrap: wrap; gap: 10px; }
.socket { border: 1px solid #444; padding: 4px; flex: 1 1 300px; max-width: 100%; break-inside: avoid; }
.cores { display: grid; grid-template-columns: repeat(auto-fill, minmax(58px, 1fr)); gap: 7px; padding: 4px; }
.core { border: 1px solid #666; padding: 2px; background: #fafafa; }
.core-id { font-size: 7pt; color: #333; display: block; }
.groups-of-core { font-size: 7pt; font-weight: bold; display: block; min-height: 1em; }
.threads { display: flex; gap: 2px; }
.thread { flex: 1; min-height: 30px; border: 1px solid #888; font-size: 7pt; text-align: center; overflow: hidden; word-break: break-all; }
.thread .cpu { font-weight: bold; display: block; }
.dom0 { background-image: repeating-linear-gradient(45deg, #bbb 0 3px, #fff 3px 6px); }
.swatch { display: inline-block; width: 1em; height: 1em; border: 1px solid #555; vertical-align: middle; }
.warnings li { margin: .2em 0; } .warn { color: #8a4b00; } .bad { color: #a00; font-weight: bold; }
@page { size: A4; margin: 12mm; }
@media print { body { margin: 0; } * { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"#;

fn colour_of<'a>(table: &'a BTreeMap<String, usize>, vm: &str) -> &'a str {
    table.get(vm).map(|i| VM_COLOURS[i % VM_COLOURS.len()]).unwrap_or("#ffffff")
}

fn fill(colours: &[&str], dom0: bool) -> String {
    match (colours.len(), dom0) {
        (0, _) => String::new(),
        (1, false) => format!("background: {};", colours[0]),
        _ => {
            // Stripes: several VMs (or a VM and dom0) on one thread.
            let mut all: Vec<&str> = colours.to_vec();
            if dom0 {
                all.push("#bbbbbb");
            }
            let step = 100.0 / all.len() as f64;
            let stops: Vec<String> = all
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} {:.1}% {:.1}%", i as f64 * step, (i + 1) as f64 * step))
                .collect();
            format!("background: linear-gradient(135deg, {});", stops.join(", "))
        }
    }
}

fn core_html(
    out: &mut String,
    socket: u32,
    c: &CoreMap,
    vm_colours: &BTreeMap<String, usize>,
    group_idx: &BTreeMap<String, usize>,
) {
    let rings: Vec<String> = c
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let colour = GROUP_COLOURS[group_idx.get(g).copied().unwrap_or(0) % GROUP_COLOURS.len()];
            format!("0 0 0 {}px {colour}", 3 * (i + 1))
        })
        .collect();
    let style = if rings.is_empty() { String::new() } else { format!(" style=\"box-shadow: {};\"", rings.join(", ")) };
    let _ = write!(
        out,
        "<div class=\"core\" data-socket=\"{socket}\" data-core=\"{}\" data-groups=\"{}\"{style}><span class=\"core-id\">core {}</span><span class=\"groups-of-core\">{}</span><div class=\"threads\">",
        c.core,
        esc(&c.groups.join(" ")),
        c.core,
        esc(&c.groups.join(", "))
    );
    for t in &c.threads {
        let colours: Vec<&str> = t.vms.iter().map(|v| colour_of(vm_colours, v)).collect();
        let class = if t.dom0 { "thread dom0" } else { "thread" };
        let mut label = t.vms.iter().map(|v| esc(v)).collect::<Vec<_>>().join(" ");
        if t.dom0 {
            label = if label.is_empty() { "dom0".into() } else { format!("dom0 {label}") };
        }
        let title = format!("CPU {}: {}", t.cpu, if label.is_empty() { "free".to_string() } else { label.clone() });
        let _ = write!(
            out,
            "<div class=\"{class}\" data-cpu=\"{}\" data-vms=\"{}\" title=\"{}\" style=\"{}\"><span class=\"cpu\">{}</span>{label}</div>",
            t.cpu,
            esc(&t.vms.join(" ")),
            title,
            fill(&colours, t.dom0),
            t.cpu
        );
    }
    out.push_str("</div></div>");
}

/// The host's licence groups: cores counted, licences, and whether the pinning holds.
fn groups_html(out: &mut String, h: &HostMap, group_idx: &BTreeMap<String, usize>) {
    out.push_str("<h3>Licence groups</h3><table class=\"groups\"><tr><th>group</th><th>VMs</th><th>cores counted</th><th>core factor</th><th>licences</th><th>max_cores</th><th>status</th></tr>");
    for g in &h.groups {
        let colour = GROUP_COLOURS[group_idx.get(&g.group).copied().unwrap_or(0) % GROUP_COLOURS.len()];
        let status = match (&g.error, g.violation, g.unpinned.is_empty()) {
            (Some(e), _, _) => format!("<span class=\"bad\">error: {}</span>", esc(e)),
            (None, true, _) => "<span class=\"bad\">VIOLATION</span>".into(),
            (None, false, false) => format!("<span class=\"warn\">unpinned: {}</span>", esc(&g.unpinned.join(", "))),
            (None, false, true) => "ok".into(),
        };
        let vms: Vec<String> = g.vms.iter().map(|m| esc(&m.vm)).collect();
        let _ = write!(
            out,
            "<tr data-group=\"{}\" data-cores=\"{}\" data-licences=\"{}\"><td><span class=\"swatch\" style=\"border: 3px solid {colour};\"></span> {}</td><td>{}</td><td>{} of {}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{status}</td></tr>",
            esc(&g.group),
            g.cores,
            g.licences,
            esc(&g.group),
            vms.join(", "),
            g.cores,
            g.host_cores,
            g.core_factor,
            g.licences,
            g.max_cores.map(|m| m.to_string()).unwrap_or_else(|| "-".into())
        );
    }
    out.push_str("</table>");
}

fn host_html(out: &mut String, h: &HostMap, group_idx: &BTreeMap<String, usize>) {
    let vm_colours: BTreeMap<String, usize> = h.vms.iter().enumerate().map(|(i, v)| (v.vm.clone(), i)).collect();
    let cores: usize = h.sockets.iter().map(|s| s.cores.len()).sum();
    let _ = write!(
        out,
        "<section class=\"host\" data-host=\"{}\"><h2>Host {} <small>({}): {} socket(s), {cores} cores, {} threads; dom0 on {}</small></h2><div class=\"sockets\">",
        esc(&h.host),
        esc(&h.host),
        esc(&h.hostname),
        h.sockets.len(),
        h.nr_cpus,
        esc(h.dom0.as_deref().unwrap_or("unknown (not pinned)"))
    );
    for s in &h.sockets {
        let _ = write!(
            out,
            "<div class=\"socket\" data-socket=\"{}\"><h3>Socket {}</h3><div class=\"cores\">",
            s.socket, s.socket
        );
        for c in &s.cores {
            core_html(out, s.socket, c, &vm_colours, group_idx);
        }
        out.push_str("</div></div>");
    }
    out.push_str("</div>");
    groups_html(out, h, group_idx);
    out.push_str("<h3>VMs</h3><table class=\"vms\"><tr><th>VM</th><th>pinned in vm.cfg</th><th>live affinity</th><th>licence groups</th><th>findings</th></tr>");
    for v in &h.vms {
        let found: Vec<String> = h
            .warnings
            .iter()
            .filter(|w| w.vm.as_deref() == Some(v.vm.as_str()))
            .map(|w| format!("<span class=\"warn\" data-kind=\"{}\">{}</span>", w.kind, esc(&w.text)))
            .collect();
        let _ = write!(
            out,
            "<tr data-vm=\"{}\"><td><span class=\"swatch\" style=\"background: {};\"></span> {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.vm),
            colour_of(&vm_colours, &v.vm),
            esc(&v.vm),
            esc(v.configured.as_deref().unwrap_or("not pinned")),
            if v.running { esc(v.live.as_deref().unwrap_or("not pinned")) } else { "not running".into() },
            esc(&v.groups.join(", ")),
            found.join("<br/>")
        );
    }
    out.push_str("</table>");
    if !h.warnings.is_empty() {
        out.push_str("<h3>Findings</h3><ul class=\"warnings\">");
        for w in &h.warnings {
            let _ = write!(
                out,
                "<li data-kind=\"{}\" data-vm=\"{}\" data-group=\"{}\">{}</li>",
                w.kind,
                esc(w.vm.as_deref().unwrap_or("")),
                esc(w.group.as_deref().unwrap_or("")),
                esc(&w.text)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// The page for `maps`, generated at `generated` (UTC, RFC 3339).
pub fn page(maps: &[HostMap], generated: &str) -> String {
    let mut group_idx: BTreeMap<String, usize> = BTreeMap::new();
    for g in maps.iter().flat_map(|m| m.groups.iter()) {
        let n = group_idx.len();
        group_idx.entry(g.group.clone()).or_insert(n);
    }
    let mut out = String::from(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>",
    );
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>",
    );
    out.push_str("<title>domform: hard partitioning and licences</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>");
    let total: u32 = maps.iter().flat_map(|m| m.groups.iter()).map(|g| g.licences).sum();
    let _ = write!(
        out,
        "<h1>Hard partitioning and processor licences</h1><p class=\"muted\">Observed {} by domform {} on {} host(s). Licences = physical cores in scope × core factor, rounded up. Threads show the VMs pinned to them (vm.cfg or live); hatched threads are dom0's; coloured rings mark the cores each licence group counts.</p>",
        esc(generated),
        env!("CARGO_PKG_VERSION"),
        maps.len()
    );
    out.push_str(
        "<table class=\"summary\"><tr><th>host</th><th>group</th><th>cores</th><th>licences</th><th>status</th></tr>",
    );
    for m in maps {
        for g in &m.groups {
            let status = if g.error.is_some() || g.violation { "<span class=\"bad\">see host</span>" } else { "ok" };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>",
                esc(&m.host),
                esc(&g.group),
                g.cores,
                g.licences
            );
        }
    }
    let _ =
        write!(out, "<tr><th colspan=\"3\">total</th><th data-total=\"{total}\">{total}</th><th></th></tr></table>");
    for m in maps {
        host_html(&mut out, m, &group_idx);
    }
    out.push_str("</body></html>\n");
    out
}
