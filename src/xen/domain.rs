//! `xm list -l`: every domain's full xend record as S-expressions.
//!
//! This is the one read that shows vCPU pinning (`(cpus ((4 5) (4 5)))`, one list per vCPU,
//! `()` = not pinned), disks (`(device (vbd (uname file:/OVS/…)))`), bridges and the VNC port,
//! so the planner compares desired and actual state from it. Domain-0 is included (id 0).

use std::fmt;

use super::sxp::{parse_all_located, Sxp};
use super::XenParseError;
use crate::model::cpuset::{CpuSet, MAX_CPU};

/// Most vCPUs accepted for one domain (garbage must not allocate gigabytes).
pub const MAX_VCPUS: u32 = MAX_CPU + 1;

/// One domain from `xm list -l`.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// `domid`; `None` for a managed domain that is not running.
    pub id: Option<u32>,
    /// xend name (on OVM the VM id without dashes).
    pub name: String,
    /// Dashed UUID.
    pub uuid: Option<String>,
    /// The six xm state flags.
    pub state: DomState,
    /// Current memory in MiB.
    pub memory_mib: u64,
    /// Maximum memory in MiB.
    pub maxmem_mib: u64,
    /// vCPUs configured.
    pub vcpus: u32,
    /// vCPUs online.
    pub online_vcpus: u32,
    /// Affinity per vCPU (`vcpus` entries); `None` = not pinned.
    pub affinity: Vec<Option<CpuSet>>,
    /// Image kind: `linux` (PV) or `hvm`.
    pub image: Option<String>,
    /// Disks (`vbd`, `tap`, `tap2` devices).
    pub vbds: Vec<Vbd>,
    /// Network interfaces.
    pub vifs: Vec<Vif>,
    /// VNC `host:port` of the `vfb` device, e.g. `127.0.0.1:5900`.
    pub vnc_location: Option<String>,
    /// CPU seconds used.
    pub cpu_time: f64,
}

/// A disk as xend reports it; missing fields are empty strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vbd {
    /// Guest device as given, e.g. `xvda:disk` or `hdc:cdrom`.
    pub dev: String,
    /// Backing, e.g. `file:/OVS/Repositories/…/VirtualDisks/….img` or `phy:/dev/…`.
    pub uname: String,
    /// `w` or `r`.
    pub mode: String,
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    /// MAC address.
    pub mac: Option<String>,
    /// Bridge it is plugged into.
    pub bridge: Option<String>,
}

/// The six xm state flags, in xm's order `r b p s c d`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DomState {
    /// `r`: on a CPU now.
    pub running: bool,
    /// `b`: blocked (idle, waiting for an event).
    pub blocked: bool,
    /// `p`: paused.
    pub paused: bool,
    /// `s`: the guest asked to shut down, reboot or suspend.
    pub shutdown: bool,
    /// `c`: crashed.
    pub crashed: bool,
    /// `d`: being destroyed.
    pub dying: bool,
}

const FLAGS: [char; 6] = ['r', 'b', 'p', 's', 'c', 'd'];

impl DomState {
    /// Parses six flag characters (`r-----`, `-b----`, …): any character but `-` sets its flag.
    pub fn parse(text: &str) -> Result<DomState, String> {
        let chars: Vec<char> = text.chars().collect();
        let [r, b, p, s, c, d] = chars[..] else {
            return Err(format!("state `{text}` is not 6 flag characters (like `-b----`)"));
        };
        let set = |ch: char| ch != '-';
        Ok(DomState {
            running: set(r),
            blocked: set(b),
            paused: set(p),
            shutdown: set(s),
            crashed: set(c),
            dying: set(d),
        })
    }

    /// One word for tables: `dying`, `crashed`, `shutdown`, `paused`, else `running` (r, b or
    /// no flag: a runnable domain waiting for a CPU shows `------`).
    pub fn word(&self) -> &'static str {
        if self.dying {
            "dying"
        } else if self.crashed {
            "crashed"
        } else if self.shutdown {
            "shutdown"
        } else if self.paused {
            "paused"
        } else {
            "running"
        }
    }

    fn flags(&self) -> [bool; 6] {
        [self.running, self.blocked, self.paused, self.shutdown, self.crashed, self.dying]
    }
}

/// The six flags as xm prints them.
impl fmt::Display for DomState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = self.flags().iter().zip(FLAGS).map(|(&on, ch)| if on { ch } else { '-' }).collect();
        f.write_str(&text)
    }
}

/// Parses `xm list -l` output: one `(domain …)` per domain. Errors name the line the offending
/// domain starts on.
pub fn parse_xm_list_long(text: &str) -> Result<Vec<Domain>, XenParseError> {
    parse_all_located(text)?
        .iter()
        .map(|(line, sxp)| {
            if sxp.head() != Some("domain") {
                return Err(XenParseError::new(*line, "expected `(domain …)`"));
            }
            domain(sxp).map_err(|message| {
                let name = sxp.value("name").map(|n| format!("domain `{n}`: ")).unwrap_or_default();
                XenParseError::new(*line, format!("{name}{message}"))
            })
        })
        .collect()
}

fn domain(d: &Sxp) -> Result<Domain, String> {
    let id = optional_number(d, "domid")?;
    let name = d.value("name").ok_or("`(name …)` is missing")?.to_string();
    let state = DomState::parse(d.value("state").ok_or("`(state …)` is missing")?)?;
    let memory_mib = number(d, "memory")?;
    let maxmem_mib = optional_number(d, "maxmem")?.unwrap_or(memory_mib);
    let vcpus: u32 = number(d, "vcpus")?;
    if vcpus > MAX_VCPUS {
        return Err(format!("vcpus {vcpus} is beyond {MAX_VCPUS}"));
    }
    let online_vcpus = optional_number(d, "online_vcpus")?.unwrap_or(if id.is_some() { vcpus } else { 0 });
    let cpu_time = match d.value("cpu_time") {
        None => 0.0,
        Some(t) => match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => v,
            _ => return Err(format!("cpu_time `{t}` is not a number of seconds")),
        },
    };
    let image = d.child("image").and_then(|i| i.rest().iter().find_map(Sxp::head)).map(str::to_string);
    let (mut vbds, mut vifs, mut vnc_location) = (Vec::new(), Vec::new(), None);
    for dev in d.children("device").flat_map(Sxp::rest) {
        let text = |name: &str| dev.value(name).map(str::to_string);
        match dev.head() {
            Some("vbd" | "tap" | "tap2") => vbds.push(Vbd {
                dev: text("dev").unwrap_or_default(),
                uname: text("uname").unwrap_or_default(),
                mode: text("mode").unwrap_or_default(),
            }),
            Some("vif") => vifs.push(Vif { mac: text("mac"), bridge: text("bridge") }),
            Some("vfb") if vnc_location.is_none() => vnc_location = text("location"),
            _ => {}
        }
    }
    Ok(Domain {
        id,
        name,
        uuid: d.value("uuid").map(str::to_string),
        state,
        memory_mib,
        maxmem_mib,
        vcpus,
        online_vcpus,
        affinity: affinity(d, vcpus)?,
        image,
        vbds,
        vifs,
        vnc_location,
        cpu_time,
    })
}

fn number<T: std::str::FromStr>(d: &Sxp, key: &str) -> Result<T, String> {
    optional_number(d, key)?.ok_or_else(|| format!("`({key} …)` is missing"))
}

fn optional_number<T: std::str::FromStr>(d: &Sxp, key: &str) -> Result<Option<T>, String> {
    match d.value(key) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{key} `{v}` is not a whole number")),
    }
}

/// `(cpus (() ()))` → unpinned per vCPU; `(cpus ((4 5) (4 5)))` → pinned per vCPU; older xend's
/// `(cpus '0-3')` applies to every vCPU. Normalised to `vcpus` entries (missing = unpinned).
fn affinity(d: &Sxp, vcpus: u32) -> Result<Vec<Option<CpuSet>>, String> {
    let mut out: Vec<Option<CpuSet>> = match d.child("cpus").and_then(|c| c.rest().first()) {
        None => Vec::new(),
        Some(Sxp::Atom(a)) if a.trim().is_empty() => Vec::new(),
        Some(Sxp::Atom(a)) => {
            let set = CpuSet::parse(a).map_err(|e| format!("cpus: {e}"))?;
            vec![Some(set); vcpus as usize]
        }
        Some(Sxp::List(per_vcpu)) => per_vcpu.iter().map(cpu_list).collect::<Result<_, _>>()?,
    };
    out.resize(vcpus as usize, None);
    Ok(out)
}

fn cpu_list(list: &Sxp) -> Result<Option<CpuSet>, String> {
    let Sxp::List(items) = list else {
        return Err("cpus: expected one list of CPU numbers per vCPU".into());
    };
    let mut cpus = Vec::with_capacity(items.len());
    for item in items {
        let n = item.as_atom().and_then(|a| a.parse::<u32>().ok()).filter(|&n| n <= MAX_CPU);
        cpus.push(n.ok_or_else(|| format!("cpus: `{}` is not a CPU number", item.as_atom().unwrap_or("(…)")))?);
    }
    Ok((!cpus.is_empty()).then(|| CpuSet::from_cpus(cpus)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xen::testutil::{mutations, section};

    fn sample() -> String {
        section(include_str!("../../tests/fixtures/xen-cli/xm-list-long-sxp.txt"), ":")
    }

    #[test]
    fn ovm_sample() {
        let doms = parse_xm_list_long(&sample()).expect("parses");
        assert_eq!(doms.iter().map(|d| d.id).collect::<Vec<_>>(), vec![Some(1), Some(11), Some(0)]);
        let d1 = &doms[0];
        assert_eq!(d1.name, "0004fb0000060000236e45007b980aa1");
        assert_eq!(d1.uuid.as_deref(), Some("0004fb00-0006-0000-236e-45007b980aa1"));
        assert_eq!((d1.vcpus, d1.online_vcpus, d1.memory_mib, d1.maxmem_mib), (2, 2, 2048, 2048));
        assert_eq!(d1.affinity, vec![None, None]);
        assert_eq!(d1.image.as_deref(), Some("linux"));
        assert!(d1.state.blocked && !d1.state.running);
        assert_eq!(d1.state.to_string(), "-b----");
        assert_eq!(d1.vbds.len(), 1);
        assert_eq!(d1.vbds[0].dev, "xvda:disk");
        assert_eq!(
            d1.vbds[0].uname,
            "file:/OVS/Repositories/0004fb0000030000a5c9b5cf920f93e3/VirtualDisks/0004fb0000120000e77ab5d916c6c3c2.img"
        );
        assert_eq!(d1.vbds[0].mode, "w");
        assert_eq!(d1.vifs, vec![Vif { mac: Some("00:21:f6:00:08:b8".into()), bridge: Some("10e69b4de3".into()) }]);
        assert_eq!(d1.vnc_location.as_deref(), Some("127.0.0.1:5900"));
        assert!((d1.cpu_time - 266.840330081).abs() < 1e-9);

        let d11 = &doms[1];
        assert_eq!(d11.vnc_location.as_deref(), Some("127.0.0.1:5901"));
        assert_eq!(d11.state.word(), "running");
        assert!(d11.state.blocked);
        assert_eq!(d11.image.as_deref(), Some("hvm"));
        assert_eq!((d11.memory_mib, d11.maxmem_mib, d11.vcpus), (1030, 1032, 1));
        assert_eq!(d11.affinity, vec![None]);

        let dom0 = &doms[2];
        assert_eq!(dom0.name, "Domain-0");
        assert!(dom0.state.running);
        let pinned = CpuSet::parse("0-7").expect("valid");
        assert_eq!(dom0.affinity, vec![Some(pinned.clone()), Some(pinned)]);
        assert_eq!(dom0.affinity[0].as_ref().map(ToString::to_string).as_deref(), Some("0-7"));
        assert!(dom0.vbds.is_empty() && dom0.vifs.is_empty() && dom0.vnc_location.is_none());
    }

    #[test]
    fn pinned_guest_and_old_forms() {
        let text = "(domain (name g) (state ------) (memory 512) (vcpus 3)\n (cpus ((4 5 6 7) (4 5 6 7))))\n\
                    (domain (name h) (state --p---) (memory 512) (vcpus 2) (cpus '2-3'))";
        let doms = parse_xm_list_long(text).expect("parses");
        let set = CpuSet::parse("4-7").expect("valid");
        assert_eq!(doms[0].affinity, vec![Some(set.clone()), Some(set), None], "padded to vcpus");
        assert_eq!((doms[0].id, doms[0].online_vcpus, doms[0].maxmem_mib), (None, 0, 512));
        assert_eq!(doms[1].affinity[1].as_ref().map(ToString::to_string).as_deref(), Some("2-3"));
        assert_eq!(doms[1].state.word(), "paused");
    }

    #[test]
    fn dom_state_flags() {
        let s = DomState::parse("--p---").expect("valid");
        assert!(s.paused && !s.running);
        assert_eq!(DomState::parse("r-----").expect("valid").word(), "running");
        assert_eq!(DomState::parse("------").expect("valid").word(), "running");
        assert_eq!(DomState::parse("---s--").expect("valid").word(), "shutdown");
        assert_eq!(DomState::parse("----c-").expect("valid").word(), "crashed");
        assert_eq!(DomState::parse("--p--d").expect("valid").word(), "dying");
        assert_eq!(DomState::parse("xxxxxx").expect("valid").to_string(), "rbpscd");
        for bad in ["", "r----", "r------", "r-----\n"] {
            assert!(DomState::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_domain_line() {
        let text = sample().replace("(memory 1030)", "(memory lots)");
        let e = parse_xm_list_long(&text).expect_err("bad memory");
        assert_eq!(e.line, 99);
        assert_eq!(
            e.to_string(),
            "line 99: domain `0004fb00000600007c522c7d71072a52`: memory `lots` is not a whole number"
        );
        assert_eq!(parse_xm_list_long("(vm (name x))").expect_err("not a domain").line, 1);
        assert!(parse_xm_list_long("(domain (name x) (state r-----) (vcpus 1))").is_err());
        let bad_cpu = "(domain (name x) (state r-----) (memory 1) (vcpus 1) (cpus ((a))))";
        assert!(parse_xm_list_long(bad_cpu).expect_err("cpu").message.contains("`a`"));
        let many = "(domain (name x) (state r-----) (memory 1) (vcpus 4000000000))";
        assert!(parse_xm_list_long(many).is_err());
    }

    #[test]
    fn mutations_never_panic() {
        for m in mutations(&sample(), 3000) {
            let _ = parse_xm_list_long(&m);
        }
    }
}
