//! `virsh capabilities`: the host's CPU topology, for the licence report and whole-core pinning.
//!
//! Oracle's hard-partitioning rules count physical cores, and a vCPU pinned to one hyperthread
//! licenses its whole core; so domform needs, for every logical CPU libvirt can pin to, the
//! socket and core it sits on. libvirt prints that under `<host><topology><cells>` as
//! `<cpu id socket_id die_id core_id siblings/>` per cell (the `<host><cpu><topology>` summary
//! counts one socket per NUMA cell and cannot be trusted). Everything else in the document is
//! skipped. `core_id` is numbered per die and not contiguous (sysfs), so a core is the triple
//! `(socket, die, core)`; [`Topology::host_info`] folds it into the `(socket, core)` shape the
//! licence module already uses for Xen's `xm info -n`.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::model::cpuset::CpuSet;
use crate::xen::{CpuTopo, HostInfo};

/// One logical CPU (thread) of `<cell><cpus>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// `id`: the number `vcpupin` and `<vcpupin cpuset>` use.
    pub id: u32,
    /// `socket_id`; libvirt leaves the placement out when it does not know the siblings.
    pub socket_id: Option<u32>,
    /// `die_id` (libvirt ≥ 6.0; 0 when absent).
    pub die_id: u32,
    /// `core_id`, within the die.
    pub core_id: Option<u32>,
    /// `siblings`: the threads sharing this CPU's core, itself included.
    pub siblings: Option<CpuSet>,
}

/// One NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// `id`.
    pub id: u32,
    /// `<memory unit='KiB'>`, in KiB.
    pub memory_kib: Option<u64>,
    /// Its CPUs, in document order.
    pub cpus: Vec<Cpu>,
}

/// `<host><topology>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// The cells, in document order.
    pub cells: Vec<Cell>,
}

/// A physical core and its threads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Core {
    /// Socket.
    pub socket: u32,
    /// Die within the socket.
    pub die: u32,
    /// `core_id` within the die.
    pub core: u32,
    /// Its logical CPUs.
    pub threads: CpuSet,
}

/// Parses the `<host><topology>` of `virsh capabilities`; errors name the line.
pub fn parse_capabilities(text: &str) -> Result<Topology, String> {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut topo = Topology::default();
    loop {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| format!("capabilities, line {}: {e}", line_of(text, at)))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                element(&mut topo, &path, &name, &e, text, at)?;
                path.push(name);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                element(&mut topo, &path, &name, &e, text, at)?;
            }
            Event::Text(t) if path_is(&path, &["capabilities", "host", "topology", "cells", "cell", "memory"]) => {
                let raw = t.unescape().map_err(|e| format!("capabilities, line {}: {e}", line_of(text, at)))?;
                let kib = raw.trim().parse::<u64>().map_err(|_| {
                    format!("capabilities, line {}: cell memory `{}` is not a number", line_of(text, at), raw.trim())
                })?;
                if let Some(cell) = topo.cells.last_mut() {
                    cell.memory_kib = Some(kib);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if topo.cells.is_empty() {
        return Err("capabilities: no <host><topology><cells><cell>".into());
    }
    Ok(topo)
}

/// The domain types libvirt offers for x86_64 HVM guests (`<guest><os_type>hvm</os_type><arch
/// name='x86_64'><domain type='qemu'/><domain type='kvm'/>`), in document order, each once: a
/// new domain is defined with `kvm` when it is offered, else `qemu` (TCG, no `/dev/kvm`).
/// Reading stops at the first XML error ([`parse_capabilities`] reports it for the same text).
pub fn domain_types(text: &str) -> Vec<String> {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let (mut os_type, mut arch) = (String::new(), String::new());
    let mut out: Vec<String> = Vec::new();
    while let Ok(event) = reader.read_event() {
        let opens = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let attrs = attributes(&e, 0).unwrap_or_default();
                if name == "guest" && path_is(&path, &["capabilities"]) {
                    (os_type, arch) = (String::new(), String::new());
                } else if name == "arch" && path_is(&path, &["capabilities", "guest"]) {
                    arch = attrs.get("name").cloned().unwrap_or_default();
                } else if name == "domain" && path_is(&path, &["capabilities", "guest", "arch"]) {
                    let kind = attrs.get("type").cloned().unwrap_or_default();
                    if os_type == "hvm" && arch == "x86_64" && !kind.is_empty() && !out.contains(&kind) {
                        out.push(kind);
                    }
                }
                if opens {
                    path.push(name);
                }
            }
            Event::Text(t) if path_is(&path, &["capabilities", "guest", "os_type"]) => {
                os_type = t.unescape().map(|s| s.trim().to_string()).unwrap_or_default();
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn path_is(path: &[String], want: &[&str]) -> bool {
    path.len() == want.len() && path.iter().zip(want).all(|(a, b)| a == b)
}

const CELLS: [&str; 4] = ["capabilities", "host", "topology", "cells"];

/// Records a `<cell>` or a `<cpu>` when it is where the topology lives.
fn element(
    topo: &mut Topology,
    path: &[String],
    name: &str,
    e: &BytesStart,
    text: &str,
    at: usize,
) -> Result<(), String> {
    let line = line_of(text, at);
    let attrs = attributes(e, line)?;
    if name == "cell" && path_is(path, &CELLS) {
        let id = number(&attrs, "id", "cell", line)?
            .ok_or_else(|| format!("capabilities, line {line}: <cell> without id"))?;
        topo.cells.push(Cell { id, memory_kib: None, cpus: Vec::new() });
    } else if name == "cpu" && path.len() == 6 && path_is(&path[..4], &CELLS) && path[5] == "cpus" {
        let id =
            number(&attrs, "id", "cpu", line)?.ok_or_else(|| format!("capabilities, line {line}: <cpu> without id"))?;
        let siblings = match attrs.get("siblings") {
            Some(s) => {
                Some(CpuSet::parse(s).map_err(|e| format!("capabilities, line {line}: cpu {id} siblings `{s}`: {e}"))?)
            }
            None => None,
        };
        let cpu = Cpu {
            id,
            socket_id: number(&attrs, "socket_id", "cpu", line)?,
            die_id: number(&attrs, "die_id", "cpu", line)?.unwrap_or(0),
            core_id: number(&attrs, "core_id", "cpu", line)?,
            siblings,
        };
        if let Some(cell) = topo.cells.last_mut() {
            cell.cpus.push(cpu);
        }
    }
    Ok(())
}

fn attributes(e: &BytesStart, line: usize) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("capabilities, line {line}: {err}"))?;
        let value = a.unescape_value().map_err(|err| format!("capabilities, line {line}: {err}"))?;
        out.insert(String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(), value.into_owned());
    }
    Ok(out)
}

fn number(attrs: &BTreeMap<String, String>, key: &str, what: &str, line: usize) -> Result<Option<u32>, String> {
    match attrs.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("capabilities, line {line}: <{what}> {key}='{v}' is not a number")),
    }
}

fn line_of(text: &str, at: usize) -> usize {
    let upto = at.min(text.len());
    text.as_bytes()[..upto].iter().filter(|b| **b == b'\n').count() + 1
}

impl Topology {
    /// Every logical CPU, ascending by id.
    pub fn cpus(&self) -> Vec<&Cpu> {
        let mut all: Vec<&Cpu> = self.cells.iter().flat_map(|c| c.cpus.iter()).collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// The physical cores, ascending by (socket, die, core). Errors when a CPU has no placement
    /// (cores are never guessed) or when `siblings` disagrees with the CPUs sharing its core.
    pub fn cores(&self) -> Result<Vec<Core>, String> {
        let mut by_core: BTreeMap<(u32, u32, u32), BTreeSet<u32>> = BTreeMap::new();
        for cpu in self.cpus() {
            let (Some(socket), Some(core)) = (cpu.socket_id, cpu.core_id) else {
                return Err(format!("capabilities: CPU {} has no socket_id/core_id; cores cannot be counted", cpu.id));
            };
            by_core.entry((socket, cpu.die_id, core)).or_default().insert(cpu.id);
        }
        let cores: Vec<Core> = by_core
            .into_iter()
            .map(|((socket, die, core), t)| Core { socket, die, core, threads: CpuSet::from_cpus(t) })
            .collect();
        for cpu in self.cpus() {
            let Some(sib) = &cpu.siblings else { continue };
            let core = cores.iter().find(|c| c.threads.contains(cpu.id));
            if let Some(core) = core.filter(|c| &c.threads != sib) {
                return Err(format!(
                    "capabilities: CPU {} lists siblings {sib}, but socket {} die {} core {} holds CPUs {}",
                    cpu.id, core.socket, core.die, core.core, core.threads
                ));
            }
        }
        Ok(cores)
    }

    /// The Xen-shaped topology table: `core` is `core_id`, offset by `die × (highest core_id + 1)`
    /// on multi-die sockets so that cores of different dies stay apart; `node` is the cell.
    pub fn cpu_topo(&self) -> Result<Vec<CpuTopo>, String> {
        self.cores()?;
        let stride = self.cpus().iter().filter_map(|c| c.core_id).max().unwrap_or(0) + 1;
        let mut out = Vec::new();
        for cell in &self.cells {
            for cpu in &cell.cpus {
                let (Some(socket), Some(core)) = (cpu.socket_id, cpu.core_id) else { continue };
                out.push(CpuTopo { cpu: cpu.id, core: cpu.die_id * stride + core, socket, node: cell.id });
            }
        }
        out.sort();
        Ok(out)
    }

    /// A [`HostInfo`] for the licence module: CPUs, cells, cores per socket, threads per core,
    /// memory (the cells' sum) and the topology table. `capabilities` does not say the free
    /// memory, the clock or a Xen version: those are 0, `None` and empty.
    pub fn host_info(&self, hostname: &str) -> Result<HostInfo, String> {
        let topology = self.cpu_topo()?;
        let cores = self.cores()?;
        let sockets = cores.iter().map(|c| c.socket).collect::<BTreeSet<_>>().len().max(1);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let threads_per_core = cores.iter().map(|c| c.threads.len()).max().unwrap_or(1);
        let kib: u64 = self.cells.iter().filter_map(|c| c.memory_kib).sum();
        Ok(HostInfo {
            hostname: hostname.to_string(),
            nr_cpus: count(topology.len()),
            nr_nodes: count(self.cells.len()),
            cores_per_socket: count(cores.len() / sockets),
            threads_per_core: count(threads_per_core),
            cpu_mhz: None,
            total_memory_mib: kib / 1024,
            free_memory_mib: 0,
            xen_version: String::new(),
            dom0_max_vcpus: None,
            topology,
        })
    }
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;
