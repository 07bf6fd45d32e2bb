//! `xm info` / `xm info -n`: the host's CPUs, memory and Xen build.
//!
//! The planner needs the CPU topology to pin vCPUs licence-correctly (whole cores, both
//! hyperthreads) and the dom0 vCPU count to keep guests off dom0's CPUs. `xm info` prints
//! `"%-23s:" % key, value` lines (`total_memory`/`free_memory` in MiB); with `-n` it adds a
//! `cpu_topology` table (`'%3d:%8d %8d %8d' % (cpu, core, socket, node)`, from
//! `XendNode.format_cpu_to_core_socket_node`) and a `numa_info` table, which is skipped.

use std::collections::{BTreeMap, BTreeSet};

use super::{end_line, XenParseError};
use crate::model::cpuset::MAX_CPU;

/// What `xm info` says about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `host`: the dom0 hostname.
    pub hostname: String,
    /// Logical CPUs (hyperthreads).
    pub nr_cpus: u32,
    /// NUMA nodes.
    pub nr_nodes: u32,
    /// Cores in one socket.
    pub cores_per_socket: u32,
    /// Hyperthreads in one core.
    pub threads_per_core: u32,
    /// Clock speed, when printed.
    pub cpu_mhz: Option<u32>,
    /// Host memory in MiB.
    pub total_memory_mib: u64,
    /// Memory not given to any domain, in MiB.
    pub free_memory_mib: u64,
    /// `xen_major.xen_minor` + `xen_extra`, e.g. `4.4.4OVM`.
    pub xen_version: String,
    /// `dom0_max_vcpus=N` from `xen_commandline`, if set.
    pub dom0_max_vcpus: Option<u32>,
    /// The `cpu_topology` table of `xm info -n` (empty without `-n`).
    pub topology: Vec<CpuTopo>,
}

/// One row of the `cpu_topology` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CpuTopo {
    /// Logical CPU number (as used by `cpus=` and `xm vcpu-pin`).
    pub cpu: u32,
    /// Core number within the socket.
    pub core: u32,
    /// Socket number.
    pub socket: u32,
    /// NUMA node.
    pub node: u32,
}

impl HostInfo {
    /// Sockets: distinct sockets in the topology, else `nr_cpus / (cores_per_socket * threads_per_core)`.
    pub fn sockets(&self) -> u32 {
        if self.topology.is_empty() {
            let per_socket = self.cores_per_socket.saturating_mul(self.threads_per_core).max(1);
            return self.nr_cpus / per_socket;
        }
        count(self.topology.iter().map(|t| t.socket).collect::<BTreeSet<_>>().len())
    }

    /// Physical cores: distinct (socket, core) pairs in the topology, else `nr_cpus / threads_per_core`.
    pub fn physical_cores(&self) -> u32 {
        if self.topology.is_empty() {
            return self.nr_cpus / self.threads_per_core.max(1);
        }
        count(self.topology.iter().map(|t| (t.socket, t.core)).collect::<BTreeSet<_>>().len())
    }

    /// `(socket, core)` of a logical CPU; `None` without a topology table (numbering differs by
    /// vendor, so it is never guessed) or for an unknown CPU.
    pub fn core_of(&self, cpu: u32) -> Option<(u32, u32)> {
        self.topology.iter().find(|t| t.cpu == cpu).map(|t| (t.socket, t.core))
    }

    /// The logical CPUs sharing `cpu`'s core, `cpu` included, ascending; empty when unknown.
    pub fn siblings(&self, cpu: u32) -> Vec<u32> {
        let Some(core) = self.core_of(cpu) else { return Vec::new() };
        let mut out: Vec<u32> = self.topology.iter().filter(|t| (t.socket, t.core) == core).map(|t| t.cpu).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Which part of the output a line belongs to.
enum Mode {
    Keys,
    /// After `cpu_topology :`, expecting the `cpu: core socket node` header.
    TopologyHeader,
    Topology,
    /// After `numa_info :`: its header and rows are skipped.
    Numa,
}

/// Parses `xm info` or `xm info -n` output.
pub fn parse_xm_info(text: &str) -> Result<HostInfo, XenParseError> {
    let mut keys: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    let mut topology: Vec<CpuTopo> = Vec::new();
    let mut mode = Mode::Keys;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Mode::TopologyHeader = mode {
            if is_topology_header(line) {
                mode = Mode::Topology;
                continue;
            }
            return Err(XenParseError::new(line_no, format!("expected `cpu: core socket node`, found `{line}`")));
        }
        if let Mode::Topology = mode {
            if let Some(row) = topology_row(line) {
                if topology.iter().any(|t| t.cpu == row.cpu) {
                    return Err(XenParseError::new(line_no, format!("cpu {} appears twice in cpu_topology", row.cpu)));
                }
                topology.push(row);
                continue;
            }
            mode = Mode::Keys;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(XenParseError::new(line_no, format!("expected `key : value`, found `{line}`")));
        };
        let (key, value) = (key.trim(), value.trim());
        if let Mode::Numa = mode {
            if key == "node" || key.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            mode = Mode::Keys;
        }
        match key {
            "cpu_topology" => mode = Mode::TopologyHeader,
            "numa_info" => mode = Mode::Numa,
            "cpu" if is_topology_header(line) => mode = Mode::Topology,
            _ => {
                keys.entry(key).or_insert((line_no, value));
            }
        }
    }
    if let Mode::TopologyHeader = mode {
        return Err(XenParseError::new(end_line(text), "cpu_topology has no table"));
    }
    let fields = Fields { keys, end: end_line(text) };
    let nr_cpus = fields.number("nr_cpus")?;
    let (line, _) = fields.get("nr_cpus")?;
    if nr_cpus == 0 || nr_cpus > MAX_CPU + 1 {
        return Err(XenParseError::new(line, format!("nr_cpus {nr_cpus} is not between 1 and {}", MAX_CPU + 1)));
    }
    let cores_per_socket = fields.positive("cores_per_socket")?;
    let threads_per_core = fields.positive("threads_per_core")?;
    let xen_extra = fields.keys.get("xen_extra").map_or("", |(_, v)| v);
    let xen_version =
        format!("{}.{}{}", fields.number::<u32>("xen_major")?, fields.number::<u32>("xen_minor")?, xen_extra);
    let cpu_mhz = match fields.keys.get("cpu_mhz") {
        Some(_) => Some(fields.number("cpu_mhz")?),
        None => None,
    };
    let dom0_max_vcpus = fields.keys.get("xen_commandline").and_then(|(_, cmd)| dom0_max_vcpus(cmd, nr_cpus));
    let hostname = fields.get("host")?.1.to_string();
    Ok(HostInfo {
        hostname,
        nr_cpus,
        nr_nodes: fields.number("nr_nodes")?,
        cores_per_socket,
        threads_per_core,
        cpu_mhz,
        total_memory_mib: fields.number("total_memory")?,
        free_memory_mib: fields.number("free_memory")?,
        xen_version,
        dom0_max_vcpus,
        topology,
    })
}

struct Fields<'a> {
    keys: BTreeMap<&'a str, (usize, &'a str)>,
    end: usize,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Result<(usize, &str), XenParseError> {
        self.keys
            .get(key)
            .copied()
            .ok_or_else(|| XenParseError::new(self.end, format!("required key `{key}` is missing")))
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, XenParseError> {
        let (line, value) = self.get(key)?;
        value.parse().map_err(|_| XenParseError::new(line, format!("{key} `{value}` is not a whole number")))
    }

    fn positive(&self, key: &str) -> Result<u32, XenParseError> {
        let n: u32 = self.number(key)?;
        if n == 0 {
            return Err(XenParseError::new(self.get(key)?.0, format!("{key} is 0")));
        }
        Ok(n)
    }
}

fn is_topology_header(line: &str) -> bool {
    line.split_whitespace().eq(["cpu:", "core", "socket", "node"])
}

/// `'%3d:%8d %8d %8d'`, or `None` when the line is something else.
fn topology_row(line: &str) -> Option<CpuTopo> {
    let (cpu, rest) = line.split_once(':')?;
    let mut nums = rest.split_whitespace().map(|n| n.parse::<u32>().ok());
    let (core, socket, node) = (nums.next()??, nums.next()??, nums.next()??);
    if nums.next().is_some() {
        return None;
    }
    let cpu: u32 = cpu.trim().parse().ok()?;
    (cpu <= MAX_CPU).then_some(CpuTopo { cpu, core, socket, node })
}

/// The last `dom0_max_vcpus=` on the Xen command line; `min-max` ranges resolve as Xen does.
fn dom0_max_vcpus(cmdline: &str, nr_cpus: u32) -> Option<u32> {
    let value = cmdline.split_whitespace().filter_map(|w| w.strip_prefix("dom0_max_vcpus=")).next_back()?;
    match value.split_once('-') {
        Some((lo, hi)) => {
            let lo: u32 = if lo.is_empty() { 1 } else { lo.parse().ok()? };
            let hi: u32 = if hi.is_empty() { u32::MAX } else { hi.parse().ok()? };
            Some(nr_cpus.min(hi).max(lo))
        }
        None => value.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xen::testutil::{mutations, section};

    const FIXTURE: &str = include_str!("../../tests/fixtures/xen-cli/xm-info.txt");

    /// A 1 socket × 4 cores × 2 threads host whose siblings are split: thread n and n+4 share a core.
    const SPLIT_SIBLINGS: &str = "\
host                   : lab1
nr_cpus                : 8
nr_nodes               : 1
cores_per_socket       : 4
threads_per_core       : 2
total_memory           : 32768
free_memory            : 1024
xen_major              : 4
xen_minor              : 4
xen_extra              : .4OVM
cpu_topology           :
cpu:    core    socket     node
  0:       0        0        0
  1:       1        0        0
  2:       2        0        0
  3:       3        0        0
  4:       0        0        0
  5:       1        0        0
  6:       2        0        0
  7:       3        0        0
numa_info              :
node:    memsize    memfree    distances
   0:      32768       1024      10
xen_commandline        : dom0_mem=2G dom0_max_vcpus=1-2
";

    #[test]
    fn exadata_sample() {
        let info = parse_xm_info(&section(FIXTURE, "A")).expect("parses");
        assert_eq!(info.hostname, "scas22adm05.us.oracle.com");
        assert_eq!((info.nr_cpus, info.nr_nodes, info.cores_per_socket, info.threads_per_core), (72, 2, 18, 2));
        assert_eq!(info.cpu_mhz, Some(2294));
        assert_eq!((info.total_memory_mib, info.free_memory_mib), (262010, 131462));
        assert_eq!(info.xen_version, "4.4.4OVM");
        assert_eq!(info.dom0_max_vcpus, Some(4));
        assert!(info.topology.is_empty());
        assert_eq!((info.sockets(), info.physical_cores()), (2, 36));
        assert_eq!(info.core_of(0), None, "no guessing without a topology table");
        assert!(info.siblings(0).is_empty());
    }

    #[test]
    fn man_page_sample() {
        let info = parse_xm_info(&section(FIXTURE, "B")).expect("parses");
        assert_eq!(info.hostname, "talon");
        assert_eq!((info.nr_cpus, info.cores_per_socket, info.threads_per_core), (2, 1, 1));
        assert_eq!((info.total_memory_mib, info.free_memory_mib), (767, 37));
        assert_eq!(info.xen_version, "3.0");
        assert_eq!(info.dom0_max_vcpus, None);
        assert_eq!((info.sockets(), info.physical_cores()), (2, 2));
    }

    #[test]
    fn topology_with_split_siblings() {
        let info = parse_xm_info(SPLIT_SIBLINGS).expect("parses");
        assert_eq!(info.topology.len(), 8);
        assert_eq!(info.topology[5], CpuTopo { cpu: 5, core: 1, socket: 0, node: 0 });
        assert_eq!(info.core_of(1), Some((0, 1)));
        assert_eq!(info.core_of(5), Some((0, 1)));
        assert_eq!(info.core_of(8), None);
        assert_eq!(info.siblings(1), vec![1, 5]);
        assert_eq!(info.siblings(7), vec![3, 7]);
        assert_eq!((info.physical_cores(), info.sockets()), (4, 1));
        assert_eq!(info.dom0_max_vcpus, Some(2), "range min-max caps at max");
        assert_eq!(info.xen_version, "4.4.4OVM");
    }

    #[test]
    fn topology_stops_at_first_foreign_line() {
        let text = SPLIT_SIBLINGS.replace("  4:       0        0        0\n", "free_cpus              : 0\n");
        let info = parse_xm_info(&text).expect("parses");
        assert_eq!(info.topology.len(), 4, "rows after the interruption are not topology");
    }

    #[test]
    fn errors_name_the_line() {
        let missing = parse_xm_info("host : a\nnr_cpus : 2\n").expect_err("missing keys");
        assert_eq!(missing.line, 3);
        assert_eq!(missing.message, "required key `cores_per_socket` is missing");
        let bad = section(FIXTURE, "A").replace("nr_cpus                : 72", "nr_cpus                : lots");
        let e = parse_xm_info(&bad).expect_err("bad number");
        assert_eq!(e.to_string(), "line 5: nr_cpus `lots` is not a whole number");
        assert_eq!(parse_xm_info("host : a\ngarbage\n").expect_err("no colon").line, 2);
        let zero = section(FIXTURE, "B").replace("threads_per_core       : 1", "threads_per_core : 0");
        assert!(parse_xm_info(&zero).is_err());
        let huge = section(FIXTURE, "B").replace("nr_cpus                : 2", "nr_cpus : 99999999");
        assert!(parse_xm_info(&huge).is_err());
        let dup = SPLIT_SIBLINGS.replace("  4:       0", "  3:       0");
        assert_eq!(parse_xm_info(&dup).expect_err("dup").line, 17);
    }

    #[test]
    fn mutations_never_panic() {
        for sample in [section(FIXTURE, "A"), section(FIXTURE, "B"), SPLIT_SIBLINGS.to_string()] {
            for m in mutations(&sample, 2000) {
                if let Ok(info) = parse_xm_info(&m) {
                    let _ = (info.sockets(), info.physical_cores(), info.siblings(1));
                }
            }
        }
    }
}
