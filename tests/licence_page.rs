//! `domform licence --html`: the page's structure for hosts with adjacent and split sibling
//! numbering (read back as XML, not compared as pixels), and the page in headless Chromium.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;

use domform::licence::{self, html, map};
use domform::manifest;
use domform::model::Model;
use domform::observe::{CfgFile, Observed};
use domform::xen;
use vmcfg::VmCfg;

/// `xm info -n` text: `sockets` × `cores` × 2 threads, adjacent (2k, 2k+1) or split (k, k+n/2).
fn info(host: &str, sockets: u32, cores: u32, split: bool) -> String {
    let nr = sockets * cores * 2;
    let mut s = format!(
        "host                   : {host}\nnr_cpus                : {nr}\nnr_nodes               : {sockets}\n\
         cores_per_socket       : {cores}\nthreads_per_core       : 2\ncpu_mhz                : 2294\n\
         total_memory           : 65536\nfree_memory            : 30000\nxen_major              : 4\n\
         xen_minor              : 4\nxen_extra              : .4OVM\ncpu_topology           :\n\
         cpu:    core    socket     node\n"
    );
    for cpu in 0..nr {
        let (socket, core) = if split {
            let c = cpu % (nr / 2);
            (c / cores, c % cores)
        } else {
            (cpu / (cores * 2), (cpu % (cores * 2)) / 2)
        };
        s.push_str(&format!("{cpu:3}:{core:8} {socket:8} {socket:8}\n"));
    }
    s
}

fn dom(name: &str, id: u32, cpus: &str) -> String {
    format!(
        "(domain\n    (domid {id})\n    (vcpus 2)\n    (cpus {cpus})\n    (name {name})\n    (maxmem 2048)\n    \
         (memory 2048)\n    (online_vcpus 2)\n    (image (hvm (kernel '')))\n    (state -b----)\n)\n"
    )
}

fn cfg(name: &str, simple: &str, cpus: &str, ha: bool) -> CfgFile {
    let text = format!(
        "name = '{name}'\nOVM_simple_name = '{simple}'\nmemory = 2048\nvcpus = 2\ncpus = '{cpus}'\nOVM_high_availability = {}\n",
        if ha { "True" } else { "False" }
    );
    CfgFile {
        path: format!("/OVS/Repositories/r/VirtualMachines/{name}/vm.cfg"),
        cfg: VmCfg::parse(&text).expect("cfg"),
        text,
    }
}

fn observed(host: &str, info_text: &str, domains: &str, cfgs: Vec<CfgFile>) -> Observed {
    Observed {
        host: host.into(),
        info: Some(xen::parse_xm_info(info_text).expect("xm info")),
        domains: xen::parse_xm_list_long(domains).expect("xm list -l"),
        cfgs,
        ..Observed::default()
    }
}

fn model(yaml: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(yaml.as_bytes())).expect("write");
    manifest::load(&[path]).unwrap_or_else(|e| panic!("{e:#?}"))
}

const YAML: &str = "hosts:\n  adj: { transport: local, repository: /OVS/Repositories/r }\n  split: { transport: local, repository: /OVS/Repositories/r }\n\
vms:\n  db01: { host: split, memory: 2GiB, vcpus: 2, cpus: \"1,5\" }\n  db02: { host: split, memory: 2GiB, vcpus: 2, cpus: \"3,7\" }\n  big: { host: adj, memory: 2GiB, vcpus: 2, cpus: \"4-7\" }\n\
licences:\n  oracle-ee: { vms: [db01, db02, big], max_cores: 8 }\n";

/// Two hosts: `adj` (2 sockets × 4 cores, adjacent siblings) and `split` (1 × 4, split).
fn page() -> (String, Vec<map::HostMap>) {
    let m = model(YAML);
    let adj = observed(
        "adj",
        &info("adj-dom0", 2, 4, false),
        &format!("{}{}", dom("Domain-0", 0, "((0 1) (0 1))"), dom("big", 3, "((4 5 6 7) (4 5 6 7))")),
        vec![cfg("big", "big", "4-7", false)],
    );
    let split = observed(
        "split",
        &info("split-dom0", 1, 4, true),
        &format!(
            "{}{}{}{}",
            dom("Domain-0", 0, "((0 4) (0 4))"),
            dom("db01", 1, "((1 5) (1 5))"),
            dom("appb", 2, "((2) (2))"),
            dom("db02", 4, "((3) (3))")
        ),
        vec![cfg("db01", "db01", "1,5", true), cfg("appb", "app <b>", "2", false), cfg("db02", "db02", "3,7", false)],
    );
    let obs = [&adj, &split];
    let rows = licence::report(&m, &obs);
    let maps = map::maps(&m, &obs, &rows);
    (html::page(&maps, "2026-12-02T00:00:00Z"), maps)
}

/// One element of the page: name, attributes, text inside, parent index.
#[derive(Debug, Default, Clone)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    parent: Option<usize>,
}

/// Reads the page as XML (it is well-formed by design) into a flat list of elements.
fn elements(page: &str) -> Vec<El> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(page);
    let mut out: Vec<El> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        match r.read_event().unwrap_or_else(|e| panic!("page is not well-formed at {}: {e}", r.buffer_position())) {
            Event::Start(e) => {
                let el = el_of(&e, stack.last().copied());
                out.push(el);
                stack.push(out.len() - 1);
            }
            Event::Empty(e) => out.push(el_of(&e, stack.last().copied())),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let t = t.unescape().expect("text").into_owned();
                for i in &stack {
                    out[*i].text.push_str(&t);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    out
}

fn el_of(e: &quick_xml::events::BytesStart<'_>, parent: Option<usize>) -> El {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("attribute");
            (String::from_utf8_lossy(a.key.as_ref()).into_owned(), a.unescape_value().expect("value").into_owned())
        })
        .collect();
    El { name: String::from_utf8_lossy(e.name().as_ref()).into_owned(), attrs, text: String::new(), parent }
}

fn within(els: &[El], mut i: usize, ancestor: usize) -> bool {
    while let Some(p) = els[i].parent {
        if p == ancestor {
            return true;
        }
        i = p;
    }
    false
}

/// For one host section: (socket, core) → (groups, [(cpu, vms, dom0)]).
type Cores = BTreeMap<(u32, u32), (String, Vec<(u32, String, bool)>)>;

fn cores_of(els: &[El], host: &str) -> Cores {
    let sec =
        els.iter().position(|e| e.attrs.get("data-host").map(String::as_str) == Some(host)).expect("host section");
    let mut out = Cores::new();
    for (i, e) in els
        .iter()
        .enumerate()
        .filter(|(i, e)| within(els, *i, sec) && e.attrs.get("class").map(String::as_str) == Some("core"))
    {
        let key = (e.attrs["data-socket"].parse().expect("socket"), e.attrs["data-core"].parse().expect("core"));
        let threads = els
            .iter()
            .enumerate()
            .filter(|(j, t)| within(els, *j, i) && t.attrs.contains_key("data-cpu"))
            .map(|(_, t)| {
                (
                    t.attrs["data-cpu"].parse().expect("cpu"),
                    t.attrs["data-vms"].clone(),
                    t.attrs["class"].contains("dom0"),
                )
            })
            .collect();
        out.insert(key, (e.attrs["data-groups"].clone(), threads));
    }
    out
}

#[test]
fn split_siblings_are_drawn_by_core_with_groups_dom0_and_findings() {
    let (page, _) = page();
    let els = elements(&page);
    let cores = cores_of(&els, "split");
    assert_eq!(cores.len(), 4, "{cores:#?}");
    // Split numbering: core k holds threads k and k+4.
    for k in 0..4u32 {
        let cpus: Vec<u32> = cores[&(0, k)].1.iter().map(|t| t.0).collect();
        assert_eq!(cpus, [k, k + 4], "core {k}");
    }
    assert_eq!(cores[&(0, 0)].1, [(0, String::new(), true), (4, String::new(), true)], "dom0 on core 0");
    assert_eq!(cores[&(0, 1)], ("oracle-ee".to_string(), vec![(1, "db01".into(), false), (5, "db01".into(), false)]));
    assert_eq!(cores[&(0, 2)].0, "", "app is not licensed: core 2 is not outlined");
    assert_eq!(cores[&(0, 2)].1[0].1, "app <b>", "names are text, escaped, never markup");
    // db02: vm.cfg 3,7 but live 3 only → drawn on both, counted as one core.
    assert_eq!(cores[&(0, 3)].0, "oracle-ee");
    let group =
        els.iter().find(|e| e.attrs.get("data-group").map(String::as_str) == Some("oracle-ee") && e.name == "tr");
    let group = group.expect("group row");
    assert_eq!((group.attrs["data-cores"].as_str(), group.attrs["data-licences"].as_str()), ("2", "1"));
    let findings: Vec<(String, String)> = els
        .iter()
        .filter(|e| e.name == "li" && e.attrs.contains_key("data-kind"))
        .map(|e| (e.attrs["data-kind"].clone(), e.attrs["data-vm"].clone()))
        .collect();
    for want in [("ha", "db01"), ("half-core", "app <b>"), ("configured-live", "db02")] {
        assert!(findings.contains(&(want.0.to_string(), want.1.to_string())), "{want:?} in {findings:?}");
    }
    assert!(!page.contains("<b>:") && page.contains("app &lt;b&gt;"), "escaped");
}

#[test]
fn adjacent_siblings_on_two_sockets() {
    let (page, maps) = page();
    let cores = cores_of(&elements(&page), "adj");
    assert_eq!(cores.len(), 8);
    assert_eq!(cores[&(1, 0)].1.iter().map(|t| t.0).collect::<Vec<_>>(), [8, 9], "socket 1 starts at CPU 8");
    for k in [2, 3] {
        assert_eq!(cores[&(0, k)].0, "oracle-ee", "big's cores outlined");
        assert!(cores[&(0, k)].1.iter().all(|t| t.1 == "big"));
    }
    assert!(cores[&(0, 0)].1.iter().all(|t| t.2), "dom0 0-1");
    // The JSON's per-core detail says the same as the drawing.
    let adj = maps.iter().find(|m| m.host == "adj").expect("adj");
    let detail: Vec<(u32, u32, Vec<u32>)> =
        adj.groups[0].core_detail.iter().map(|c| (c.socket, c.core, c.threads.clone())).collect();
    assert_eq!(detail, [(0, 2, vec![4, 5]), (0, 3, vec![6, 7])]);
    let csv = domform::render::licence::csv(&adj.groups);
    assert!(csv.lines().nth(1).expect("row").ends_with(",0:2(4 5)[big];0:3(6 7)[big]"), "{csv}");
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is missing under CI=true (.ci/run installs it)");
        }
        eprintln!("\n!!! SKIPPED the_page_renders_in_headless_chromium_without_console_errors: install the Debian package `chromium` !!!\n");
        return;
    };
    // A host of 2 sockets × 36 threads, as the issue asks.
    let m = model("hosts:\n  big: { transport: local, repository: /OVS/Repositories/r }\nvms:\n  db: { host: big, memory: 2GiB, vcpus: 2, cpus: \"4-11\" }\nlicences:\n  ee: { vms: [db] }\n");
    let o = observed(
        "big",
        &info("big-dom0", 2, 18, false),
        &format!(
            "{}{}",
            dom("Domain-0", 0, "((0 1 2 3) (0 1 2 3))"),
            dom("db", 1, "((4 5 6 7 8 9 10 11) (4 5 6 7 8 9 10 11))")
        ),
        vec![cfg("db", "db", "4-11", false)],
    );
    let rows = licence::report(&m, &[&o]);
    let page = html::page(&map::maps(&m, &[&o], &rows), "2026-12-02T00:00:00Z");
    assert_eq!(elements(&page).iter().filter(|e| e.attrs.contains_key("data-cpu")).count(), 72);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("licence.html");
    std::fs::write(&file, &page).expect("write");
    let shot = dir.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=794,1123",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(shot.exists(), "no screenshot: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Refused to") || l.contains("Failed to load"))
        .collect();
    assert!(console.is_empty(), "console errors: {console:#?}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("png")));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).expect("png frame");
    let bytes = &buf[..frame.buffer_size()];
    let px = frame.color_type.samples();
    let pixels: Vec<&[u8]> = bytes.chunks(px).collect();
    let non_white = pixels.iter().filter(|p| p.iter().take(3).any(|c| *c < 235)).count();
    let distinct: std::collections::BTreeSet<Vec<u8>> =
        pixels.iter().map(|p| p.iter().take(3).map(|c| c / 16).collect()).collect();
    assert!(non_white * 50 > pixels.len(), "the screenshot is blank: {non_white} of {} pixels drawn", pixels.len());
    assert!(distinct.len() >= 6, "expected the VM, dom0 and group colours: {} colours", distinct.len());
}
