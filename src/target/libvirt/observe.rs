//! What a libvirt host's observe script printed, read into facts (pure).
//!
//! The script is the Xen host's (`observe::script`: the same repository reads, the same one exec)
//! with `virsh` calls instead of `xm`: `capabilities` and `list --all` side by side, then each
//! domain's persistent XML and, for a running one, its live XML and `vcpuinfo`. The persistent
//! XML is what domform compares and edits (it is what the next start uses); the live reads say
//! what is in force now (pinning, the VNC port). The host's topology and memory become a
//! Xen-shaped [`HostInfo`](crate::xen::HostInfo) and running domains Xen-shaped
//! [`Domain`](crate::xen::Domain)s, so the licence rules, capacity checks and `list` read a
//! libvirt host exactly as they read a Xen one.

use crate::diag::Diagnostic;
use crate::libvirt::caps;
use crate::libvirt::domain::{self, Domain as LvXml};
use crate::libvirt::virsh::{self, DomState, ListedDomain, VcpuInfo};
use crate::observe::sections::Section;
use crate::observe::Observed;
use crate::xen::{Domain, Vbd, Vif};

/// One libvirt domain as observed.
#[derive(Debug, Clone, Default)]
pub struct LvDomain {
    /// Its name.
    pub name: String,
    /// State from `virsh list --all` (`None`: defined after the list was read).
    pub state: Option<DomState>,
    /// Its id while running.
    pub id: Option<u32>,
    /// The persistent XML as `dumpxml --inactive --security-info` printed it, its VNC password
    /// replaced by a placeholder ([`super::secret::seal`]); edited in place by the planner.
    pub xml: String,
    /// The VNC password that XML held (as written there, XML-escaped).
    pub vnc_password: Option<crate::model::Secret>,
    /// That XML, read.
    pub def: Option<LvXml>,
    /// The live XML, read (running domains).
    pub live: Option<LvXml>,
    /// `vcpuinfo` (running domains).
    pub vcpus: Vec<VcpuInfo>,
}

impl LvDomain {
    /// Running or paused (a QEMU exists).
    pub fn active(&self) -> bool {
        self.state.is_some_and(DomState::is_active)
    }
}

/// What a libvirt host showed.
#[derive(Debug, Clone, Default)]
pub struct LibvirtObserved {
    /// Domain types this host can run (`kvm`, `qemu`, `xen`), from `capabilities`.
    pub domain_types: Vec<String>,
    /// Every defined domain.
    pub domains: Vec<LvDomain>,
}

impl LibvirtObserved {
    /// The domain named `name`, or the one whose domform metadata names it (an imported VM
    /// keeps its OVM simple name there).
    pub fn find(&self, name: &str) -> Option<&LvDomain> {
        self.domains.iter().find(|d| d.name == name).or_else(|| {
            self.domains.iter().find(|d| d.def.as_ref().and_then(|x| x.simple_name.as_deref()) == Some(name))
        })
    }
}

/// Collects the libvirt sections while `observe::parse` walks the output.
#[derive(Debug, Default)]
pub struct Acc {
    caps: Option<String>,
    list: Option<Vec<ListedDomain>>,
    xml: Vec<(String, String)>,
    xml_failed: Vec<(String, String)>,
    live: Vec<(String, String)>,
    vcpu: Vec<(String, String)>,
    live_failed: Vec<(String, String)>,
}

/// Takes one section if it is a libvirt one; `false` leaves it to the Xen reader.
pub fn section(acc: &mut Acc, sec: &Section, obs: &mut Observed) -> bool {
    let host = obs.host.clone();
    let failed = sec.status != Some(0);
    let fail =
        |what: &str| Diagnostic::error(None, &host, format!("{host}: `virsh {what}` failed: {}", sec.body.trim()));
    match sec.kind.as_str() {
        "lv-caps" if failed => obs.problems.push(fail("capabilities")),
        "lv-caps" => acc.caps = Some(sec.body.clone()),
        "lv-list" if failed => obs.problems.push(fail("list --all")),
        "lv-list" => match virsh::parse_list(&sec.body) {
            Ok(l) => acc.list = Some(l),
            Err(e) => obs.problems.push(Diagnostic::error(None, &host, format!("{host}: {e}"))),
        },
        // Whether a failed dumpxml means the domain is gone is decided in `finish`.
        "lv-xml" if failed => acc.xml_failed.push((sec.arg.clone(), sec.body.trim().to_string())),
        // Whether a failed live read matters is decided in `finish` (a domain that stopped since
        // the list has no live state; one that runs must not have its pins guessed).
        "lv-live" | "lv-vcpu" if failed => acc.live_failed.push((sec.arg.clone(), sec.body.trim().to_string())),
        "lv-xml" => acc.xml.push((sec.arg.clone(), sec.body.clone())),
        "lv-live" => acc.live.push((sec.arg.clone(), sec.body.clone())),
        "lv-vcpu" => acc.vcpu.push((sec.arg.clone(), sec.body.clone())),
        _ => return false,
    }
    true
}

/// Turns what was collected into facts: `obs.libvirt`, `obs.info` and the running domains.
pub fn finish(acc: Acc, obs: &mut Observed) {
    let host = obs.host.clone();
    let mut lv = LibvirtObserved::default();
    let mut info = None;
    if let Some(text) = &acc.caps {
        lv.domain_types = domain_types(text);
        match caps::parse_capabilities(text).and_then(|t| t.host_info(&host)) {
            Ok(i) => info = Some(i),
            Err(e) => obs.problems.push(Diagnostic::error(
                None,
                &host,
                format!("{host}: cannot read `virsh capabilities`: {e}"),
            )),
        }
    }
    // A domain undefined between the list and its dumpxml is simply gone ("failed to get
    // domain"); any other failure leaves a domain that exists unread, and planning it as missing
    // would define it anew over its XML: the host is not planned.
    for (name, body) in &acc.xml_failed {
        if body.contains("failed to get domain") || body.contains("Domain not found") {
            obs.problems.push(Diagnostic::warning(None, &host, format!("{host}: domain `{name}`: {body}")));
        } else {
            obs.problems.push(Diagnostic::error(
                None,
                &host,
                format!("{host}: `virsh dumpxml` of domain `{name}` failed: {body}"),
            ));
        }
    }
    // A listed domain with no read at all: the reads failed and so did the fallback's own
    // `list` (libvirtd restarting), or it was undefined in between; either way not "missing".
    for l in acc.list.iter().flatten() {
        // (`list`'s table trims a name's outer blanks; the reads have it exactly.)
        if !acc.xml.iter().chain(&acc.xml_failed).any(|(n, _)| n.trim() == l.name) {
            obs.problems.push(Diagnostic::error(
                None,
                &host,
                format!("{host}: domain `{}` was listed but its XML was not read; plan again", l.name),
            ));
        }
    }
    let mut late = Vec::new();
    let mut problem = |m: String| obs.problems.push(Diagnostic::error(None, &host, format!("{host}: {m}")));
    for (name, raw) in acc.xml {
        let (xml, vnc_password) = super::secret::seal(&raw);
        let def = match domain::parse(&xml) {
            Ok(d) => Some(d),
            Err(e) => {
                problem(format!("the XML of domain `{name}` does not read: {e}; nothing is planned for this host"));
                None
            }
        };
        // (`list`'s table trims a name's outer blanks.)
        let listed = acc
            .list
            .as_ref()
            .and_then(|l| l.iter().find(|d| d.name == name).or_else(|| l.iter().find(|d| d.name == name.trim())));
        let (state, id) = (listed.map(|d| d.state), listed.and_then(|d| d.id));
        let live = acc.live.iter().find(|(n, _)| *n == name).and_then(|(_, x)| domain::parse(x).ok());
        let vcpus = match acc.vcpu.iter().find(|(n, _)| *n == name).map(|(_, t)| virsh::parse_vcpuinfo(t)) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                problem(format!("domain `{name}`: {e}"));
                Vec::new()
            }
            None => Vec::new(),
        };
        let d = LvDomain { name, state, id, xml, vnc_password, def, live, vcpus };
        late.extend(live_read(&d, &acc.live_failed, &host));
        lv.domains.push(d);
    }
    obs.problems.extend(late);
    if acc.list.is_none() && !obs.problems.iter().any(|p| p.message.contains("virsh list")) {
        obs.problems.push(Diagnostic::error(
            None,
            &host,
            format!("{host}: the observe output ended early (connection lost?)"),
        ));
    }
    obs.domains = lv.domains.iter().filter(|d| d.active()).map(xen_shaped).collect();
    obs.info = info;
    obs.libvirt = Some(lv);
}

/// What a running domain's missing live reads mean: nothing when it stopped since the list (its
/// reads say it is not running, or gone: a warning), else an error, since its pins in force would
/// be unknown and a plan could call a hard partition "No changes" without having read it.
fn live_read(d: &LvDomain, failed: &[(String, String)], host: &str) -> Option<Diagnostic> {
    let why: Vec<&str> = failed.iter().filter(|(n, _)| *n == d.name).map(|(_, b)| b.as_str()).collect();
    let read = d.live.is_some() && !d.vcpus.is_empty();
    if !d.active() || (read && why.is_empty()) {
        return None;
    }
    let gone = ["not running", "failed to get domain", "Domain not found"];
    if !why.is_empty() && why.iter().all(|b| gone.iter().any(|g| b.contains(g))) {
        return Some(Diagnostic::warning(None, host, format!("{host}: domain `{}`: {}", d.name, why.join("; "))));
    }
    let said = if why.is_empty() { "nothing was read".to_string() } else { why.join("; ") };
    Some(Diagnostic::error(
        None,
        host,
        format!("{host}: domain `{}` runs but its live state (XML, vcpuinfo) was not read: {said}; plan again", d.name),
    ))
}

/// A running libvirt domain as the licence rules and `list` read a Xen one.
fn xen_shaped(d: &LvDomain) -> Domain {
    let x = d.live.as_ref().or(d.def.as_ref());
    let kib = |k: u64| k / 1024;
    let vcpus =
        if d.vcpus.is_empty() { x.map_or(0, |x| x.vcpus_current.unwrap_or(x.vcpus)) } else { d.vcpus.len() as u32 };
    Domain {
        id: d.id,
        name: d.name.clone(),
        uuid: x.and_then(|x| x.uuid.clone()),
        state: crate::xen::DomState {
            running: d.state == Some(DomState::Running),
            paused: d.state == Some(DomState::Paused),
            crashed: d.state == Some(DomState::Crashed),
            ..Default::default()
        },
        memory_mib: x.map_or(0, |x| kib(x.current_memory_kib.unwrap_or(x.memory_kib))),
        maxmem_mib: x.map_or(0, |x| kib(x.memory_kib)),
        vcpus,
        online_vcpus: vcpus,
        affinity: d.vcpus.iter().map(|v| Some(v.affinity.clone())).collect(),
        image: Some("hvm".into()),
        vbds: x.map_or(Vec::new(), |x| {
            x.disks
                .iter()
                .map(|k| Vbd {
                    dev: format!("{}:{}", k.target.clone().unwrap_or_default(), k.device),
                    uname: k.file.as_ref().map(|f| format!("file:{f}")).unwrap_or_default(),
                    mode: if k.readonly { "r".into() } else { "w".into() },
                })
                .collect()
        }),
        vifs: x.map_or(Vec::new(), |x| {
            x.interfaces.iter().map(|i| Vif { mac: i.mac.clone(), bridge: i.bridge.clone() }).collect()
        }),
        vnc_location: x.and_then(|x| x.vnc.as_ref()).and_then(|v| {
            v.port.filter(|p| *p > 0).map(|p| format!("{}:{p}", v.listen.as_deref().unwrap_or("127.0.0.1")))
        }),
        cpu_time: 0.0,
    }
}

/// The `<domain type='…'/>` values of the capabilities' `<guest>` sections (`kvm`, `qemu`),
/// without repeats.
fn domain_types(caps: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in caps.split("<domain type=").skip(1) {
        let q = part.chars().next().unwrap_or('\'');
        if let Some(t) = part.get(1..).and_then(|r| r.split(q).next()) {
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
    }
    out
}
