//! `virsh list --all`, `virsh vcpuinfo DOM`, `virsh vcpupin DOM` and `virsh nodeinfo` as typed values.
//!
//! These are what `toolstack: libvirt` observes besides the domain XML: which domains exist and
//! in which state (the XML does not say whether a domain runs), and the live vCPU affinity, the
//! proof that a `vcpupin --live` took (the XML's `<cputune>` only says what was asked). They are
//! run with `LC_ALL=C` so that the words are English. Column widths change with the names and
//! between libvirt versions (virsh 0.9's fixed columns, 1.x's `VCPU: CPU Affinity` with `0: 1`
//! rows, 5.x+'s `vshTable` with `0   1` rows), so rows are read by their words, not by offsets.
//! Errors name the command and the line.

use crate::model::cpuset::CpuSet;

/// A domain's state as `virsh list` prints it (`virDomainState` via `virshDomainStateToString`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomState {
    /// `running`.
    Running,
    /// `idle` (blocked, Xen).
    Idle,
    /// `paused`.
    Paused,
    /// `in shutdown`.
    InShutdown,
    /// `shut off`.
    ShutOff,
    /// `crashed`.
    Crashed,
    /// `pmsuspended`.
    PmSuspended,
    /// `no state`.
    NoState,
}

/// Longest first, so that no word is taken for the tail of another.
const STATES: [(&str, DomState); 8] = [
    ("pmsuspended", DomState::PmSuspended),
    ("in shutdown", DomState::InShutdown),
    ("shut off", DomState::ShutOff),
    ("no state", DomState::NoState),
    ("running", DomState::Running),
    ("crashed", DomState::Crashed),
    ("paused", DomState::Paused),
    ("idle", DomState::Idle),
];

impl DomState {
    /// Has a QEMU (or Xen domain) behind it: everything but `shut off`.
    pub fn is_active(self) -> bool {
        self != DomState::ShutOff
    }
}

/// One row of `virsh list --all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDomain {
    /// `Id`; `None` for `-` (not running).
    pub id: Option<u32>,
    /// `Name`.
    pub name: String,
    /// `State`.
    pub state: DomState,
}

fn err(what: &str, line: usize, msg: impl std::fmt::Display) -> String {
    format!("virsh {what}, line {line}: {msg}")
}

/// True for the header and the `-----` rule under it.
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| c == '-')
}

/// Parses `virsh list --all` (LC_ALL=C). Names may hold spaces; the state is the known word
/// at the end of the row.
pub fn parse_list(text: &str) -> Result<Vec<ListedDomain>, String> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || is_rule(t) {
            continue;
        }
        if !seen_header {
            let words: Vec<&str> = t.split_whitespace().collect();
            if words != ["Id", "Name", "State"] {
                return Err(err("list", n, format!("expected the `Id Name State` header, found `{t}`")));
            }
            seen_header = true;
            continue;
        }
        let (id_text, rest) =
            t.split_once(char::is_whitespace).ok_or_else(|| err("list", n, format!("`{t}` has no name")))?;
        let id = match id_text {
            "-" => None,
            s => Some(s.parse::<u32>().map_err(|_| err("list", n, format!("id `{s}` is not a number")))?),
        };
        let rest = rest.trim();
        let (name, state) = STATES
            .iter()
            .find_map(|(word, st)| {
                rest.strip_suffix(word).filter(|name| name.ends_with(char::is_whitespace)).map(|name| (name, *st))
            })
            .ok_or_else(|| err("list", n, format!("no known state at the end of `{t}`")))?;
        let name = name.trim_end();
        if id.is_some() != state.is_active() {
            return Err(err("list", n, format!("id `{id_text}` does not go with the state of `{name}`")));
        }
        out.push(ListedDomain { id, name: name.to_string(), state });
    }
    if !seen_header {
        return Err(err("list", 1, "no `Id Name State` header"));
    }
    Ok(out)
}

/// One vCPU of `virsh vcpuinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcpuInfo {
    /// `VCPU`.
    pub vcpu: u32,
    /// `CPU`: where it last ran; `None` for `N/A`.
    pub cpu: Option<u32>,
    /// `State` (`running`, `offline`, ...).
    pub state: String,
    /// `CPU Affinity`: the host CPUs it may run on.
    pub affinity: CpuSet,
}

/// An affinity as `vcpuinfo` prints it: a `y`/`-` map over the host's CPUs (`-y` = CPU 1),
/// or with `--pretty` a set followed by `(out of N)`.
pub fn parse_affinity_map(text: &str) -> Result<CpuSet, String> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c == 'y' || c == '-') {
        let cpus = t.chars().enumerate().filter(|(_, c)| *c == 'y').map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX));
        return Ok(CpuSet::from_cpus(cpus));
    }
    let set = t.split(" (out of").next().unwrap_or(t);
    CpuSet::parse(set).map_err(|e| format!("affinity `{t}`: {e}"))
}

/// Parses `virsh vcpuinfo DOM` (LC_ALL=C): blocks of `Key: value` lines.
pub fn parse_vcpuinfo(text: &str) -> Result<Vec<VcpuInfo>, String> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, VcpuInfo, bool)> = None;
    for (i, line) in text.lines().enumerate().chain(std::iter::once((text.lines().count(), ""))) {
        let n = i + 1;
        if line.trim().is_empty() {
            if let Some((start, info, has_affinity)) = cur.take() {
                if !has_affinity {
                    return Err(err("vcpuinfo", start, format!("VCPU {} has no `CPU Affinity`", info.vcpu)));
                }
                out.push(info);
            }
            continue;
        }
        let (key, value) =
            line.split_once(':').ok_or_else(|| err("vcpuinfo", n, format!("`{}` is not `Key: value`", line.trim())))?;
        let value = value.trim();
        let number = |v: &str| {
            v.parse::<u32>().map_err(|_| err("vcpuinfo", n, format!("{}: `{v}` is not a number", key.trim())))
        };
        match (key.trim(), cur.as_mut()) {
            ("VCPU", None) => {
                let info =
                    VcpuInfo { vcpu: number(value)?, cpu: None, state: String::new(), affinity: CpuSet::default() };
                cur = Some((n, info, false));
            }
            ("VCPU", Some(_)) => return Err(err("vcpuinfo", n, "`VCPU` before the previous block ended")),
            (_, None) => return Err(err("vcpuinfo", n, format!("`{}` outside a VCPU block", key.trim()))),
            ("CPU", Some((_, info, _))) => info.cpu = if value == "N/A" { None } else { Some(number(value)?) },
            ("State", Some((_, info, _))) => info.state = value.to_string(),
            ("CPU Affinity", Some((_, info, has))) => {
                info.affinity = parse_affinity_map(value).map_err(|e| err("vcpuinfo", n, e))?;
                *has = true;
            }
            _ => {} // `CPU time` and anything newer.
        }
    }
    Ok(out)
}

/// Parses `virsh vcpupin DOM` (the query form, LC_ALL=C): `(vcpu, affinity)` per row, from
/// either `0: 1` or `0      1` rows.
pub fn parse_vcpupin(text: &str) -> Result<Vec<(u32, CpuSet)>, String> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || is_rule(t) {
            continue;
        }
        if !seen_header {
            if !(t.starts_with("VCPU") && t.ends_with("CPU Affinity")) {
                return Err(err("vcpupin", n, format!("expected the `VCPU CPU Affinity` header, found `{t}`")));
            }
            seen_header = true;
            continue;
        }
        let (vcpu, set) = match t.split_once(':') {
            Some((v, s)) => (v.trim(), s.trim()),
            None => t.split_once(char::is_whitespace).map(|(v, s)| (v, s.trim())).unwrap_or((t, "")),
        };
        let vcpu = vcpu.parse::<u32>().map_err(|_| err("vcpupin", n, format!("vCPU `{vcpu}` is not a number")))?;
        if set.is_empty() {
            return Err(err("vcpupin", n, format!("vCPU {vcpu} has no affinity")));
        }
        let set = parse_affinity_map(set).map_err(|e| err("vcpupin", n, e))?;
        out.push((vcpu, set));
    }
    if !seen_header {
        return Err(err("vcpupin", 1, "no `VCPU CPU Affinity` header"));
    }
    Ok(out)
}

/// `virsh nodeinfo`: the host summary. libvirt counts `CPU socket(s)` per NUMA cell, so cores
/// are counted from the capabilities topology; this is the cross-check of its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `CPU model` (the architecture, e.g. `x86_64`).
    pub model: String,
    /// `CPU(s)`: logical CPUs.
    pub cpus: u32,
    /// `CPU frequency` in MHz.
    pub mhz: u32,
    /// `CPU socket(s)` (per cell).
    pub sockets_per_cell: u32,
    /// `Core(s) per socket`.
    pub cores_per_socket: u32,
    /// `Thread(s) per core`.
    pub threads_per_core: u32,
    /// `NUMA cell(s)`.
    pub cells: u32,
    /// `Memory size` in KiB.
    pub memory_kib: u64,
}

/// Parses `virsh nodeinfo` (LC_ALL=C); every key is required.
pub fn parse_nodeinfo(text: &str) -> Result<NodeInfo, String> {
    let mut keys: std::collections::BTreeMap<&str, (usize, &str)> = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| err("nodeinfo", i + 1, format!("`{}` is not `Key: value`", line.trim())))?;
        keys.insert(k.trim(), (i + 1, v.trim()));
    }
    let get = |k: &str| keys.get(k).copied().ok_or_else(|| err("nodeinfo", 1, format!("no `{k}`")));
    let num = |k: &str, unit: &str| -> Result<u64, String> {
        let (n, v) = get(k)?;
        let digits = v.strip_suffix(unit).unwrap_or(v).trim();
        digits.parse::<u64>().map_err(|_| err("nodeinfo", n, format!("{k}: `{v}` is not a number")))
    };
    let small = |k: &str, unit: &str| -> Result<u32, String> {
        let v = num(k, unit)?;
        u32::try_from(v)
            .map_err(|_| err("nodeinfo", get(k).map(|g| g.0).unwrap_or(1), format!("{k}: {v} is too large")))
    };
    Ok(NodeInfo {
        model: get("CPU model")?.1.to_string(),
        cpus: small("CPU(s)", "")?,
        mhz: small("CPU frequency", "MHz")?,
        sockets_per_cell: small("CPU socket(s)", "")?,
        cores_per_socket: small("Core(s) per socket", "")?,
        threads_per_core: small("Thread(s) per core", "")?,
        cells: small("NUMA cell(s)", "")?,
        memory_kib: num("Memory size", "KiB")?,
    })
}

#[cfg(test)]
#[path = "virsh_tests.rs"]
mod tests;
