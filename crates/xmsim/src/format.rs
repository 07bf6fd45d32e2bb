//! Output printers, byte-for-byte in the layouts of xend's `xm` (and `xl`).
//!
//! domform parses these outputs, and its parsers are tested against the
//! simulator, so the printf formats below are copied from Xen 4.2's
//! `tools/python/xen/xm/main.py` / `XendNode.py` and `xl_cmdimpl.c` (see
//! `tests/fixtures/xen-cli/`). Python's `%8.1f` and friends map to Rust's
//! `{:>8.1}`; Python 2's `str(float)` (12 significant digits) is [`py_float`].

use crate::cpuset;
use crate::state::Domain;
use crate::topology::Topology;

/// The 6-character xm state: r b p s c d, `-` when unset.
pub fn xm_state(d: &Domain) -> String {
    let shutting = d.shutdown.is_some();
    let flag = |on: bool, c: char| if on { c } else { '-' };
    [
        flag(d.is_dom0(), 'r'),
        flag(!d.is_dom0() && !d.paused && !shutting, 'b'),
        flag(d.paused, 'p'),
        flag(shutting, 's'),
        '-',
        '-',
    ]
    .iter()
    .collect()
}

/// `xm list` (brief form).
pub fn xm_list(doms: &[Domain], now: f64) -> String {
    let mut out = format!("{:<40} {:>5} {:>5} {:>5} {:>10} {:>9}\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
    for d in doms {
        out.push_str(&format!(
            "{:<40} {:>5} {:>5} {:>5} {:>10} {:>8.1}\n",
            d.name,
            d.domid,
            d.memory,
            d.online_vcpus,
            xm_state(d),
            d.cpu_time(now)
        ));
    }
    out
}

/// `xl list`: tabs in the header, 5th flag is the shutdown reason.
pub fn xl_list(doms: &[Domain], now: f64) -> String {
    let mut out = String::from("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
    for d in doms {
        let s = xm_state(d);
        out.push_str(&format!(
            "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}\n",
            d.name,
            d.domid,
            d.memory,
            d.online_vcpus,
            s,
            d.cpu_time(now)
        ));
    }
    out
}

/// The cpu set a vcpu may run on (its pinning, or every cpu).
fn effective_affinity(d: &Domain, vcpu: usize, nr_cpus: usize) -> Vec<usize> {
    match d.affinity.get(vcpu) {
        Some(a) if !a.is_empty() => a.clone(),
        _ => (0..nr_cpus).collect(),
    }
}

/// `xm vcpu-list`.
pub fn vcpu_list(doms: &[Domain], topo: &Topology, now: f64) -> String {
    let nr = topo.nr_cpus();
    let mut out = format!(
        "{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}\n",
        "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "CPU Affinity"
    );
    for d in doms {
        let per_vcpu = d.cpu_time(now) / f64::from(d.online_vcpus.max(1));
        for v in 0..d.max_vcpus as usize {
            let aff = effective_affinity(d, v, nr);
            let online = v < d.online_vcpus as usize;
            let (cpu, state, time) = if online {
                let pick = aff.get((d.domid as usize * 7 + v) % aff.len().max(1)).copied().unwrap_or(0);
                let running = d.is_dom0() && v == 0;
                // xm prints 'p' only for offline vcpus; a paused domain's
                // vcpus are neither running nor blocked (matching the
                // "--p---" that xm list shows for it).
                let st = if running {
                    "r--"
                } else if d.paused {
                    "---"
                } else {
                    "-b-"
                };
                (pick.to_string(), st, per_vcpu * (1.0 + v as f64 * 0.01))
            } else {
                ("-".to_string(), "--p", 0.0)
            };
            out.push_str(&format!(
                "{:<32} {:>5} {:>5} {:>5} {:>5}  {:>8.1} {}\n",
                d.name,
                d.domid,
                v,
                cpu,
                state,
                time,
                cpuset::format_affinity(&aff, nr)
            ));
        }
    }
    out
}

/// Python 2 `str(float)`: 12 significant digits, trailing zeros trimmed.
pub fn py_float(f: f64) -> String {
    if !f.is_finite() {
        return "0.0".into();
    }
    let int_digits = if f.abs() < 1.0 { 1 } else { (f.abs().log10().floor() as i32 + 1).max(1) };
    let decimals = (12 - int_digits).max(1) as usize;
    let mut s = format!("{f:.decimals$}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.push('0');
    }
    s
}

/// `xm info` (and `xm info -n`).
pub fn info(doms: &[Domain], topo: &Topology, numa: bool) -> String {
    let used = crate::state::used_memory(doms);
    let free = topo.total_memory_mib.saturating_sub(used);
    let m = topo.dom0_memory_mib;
    let mut items: Vec<(&str, String)> = vec![
        ("host", topo.hostname.clone()),
        ("release", "4.1.12-124.40.6.3.el6uek.x86_64".into()),
        ("version", "#2 SMP Mon Jul 27 20:10:45 PDT 2020".into()),
        ("machine", "x86_64".into()),
        ("nr_cpus", topo.nr_cpus().to_string()),
        ("nr_nodes", topo.nr_nodes().to_string()),
        ("cores_per_socket", topo.cores_per_socket.to_string()),
        ("threads_per_core", topo.threads_per_core.to_string()),
        ("cpu_mhz", "2294".into()),
        ("hw_caps", "bfebfbff:2c100800:00000000:41707f00:77fefbff:00000000:00000021:000037ab".into()),
        ("virt_caps", "hvm hvm_directio".into()),
        ("total_memory", topo.total_memory_mib.to_string()),
        ("free_memory", free.to_string()),
        ("free_cpus", "0".into()),
    ];
    if numa {
        items.push(("cpu_topology", cpu_topology(topo)));
        items.push(("numa_info", numa_info(topo, free)));
    }
    items.extend([
        ("xen_major", "4".to_string()),
        ("xen_minor", "4".into()),
        ("xen_extra", ".4OVM".into()),
        ("xen_caps", "xen-3.0-x86_64 xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 ".into()),
        ("xen_scheduler", "credit".into()),
        ("xen_pagesize", "4096".into()),
        ("platform_params", "virt_start=0xffff800000000000".into()),
        ("xen_changeset", String::new()),
        (
            "xen_commandline",
            format!(
                "placeholder dom0_mem={m}M,max:{m}M dom0_max_vcpus={} dom0_vcpus_pin \
                 no-bootscrub loglvl=all guest_loglvl=error/all com1=115200,8n1 \
                 conring_size=1m console=com1 console_to_ring crashkernel=448M@128M xsave=1",
                topo.dom0_max_vcpus()
            ),
        ),
        ("cc_compiler", "gcc (GCC) 4.4.7 20120313 (Red Hat 4.4.7-18.0.7)".into()),
        ("cc_compile_by", "mockbuild".into()),
        ("cc_compile_domain", "us.oracle.com".into()),
        ("cc_compile_date", "Wed Aug 26 10:23:59 PDT 2020".into()),
        ("xend_config_format", "4".into()),
    ]);
    let mut out = String::new();
    for (k, v) in items {
        // Python: print "%-23s:" % key, value  -> a space after the colon.
        out.push_str(&format!("{k:<23}: {v}\n"));
    }
    out
}

/// XendNode.format_cpu_to_core_socket_node (value starts with a newline).
fn cpu_topology(topo: &Topology) -> String {
    let mut s = String::from("\ncpu:    core    socket     node");
    for cpu in 0..topo.nr_cpus() {
        let (core, socket, node) = topo.cpu_location(cpu);
        s.push_str(&format!("\n{cpu:>3}:{core:>8} {socket:>8} {node:>8}"));
    }
    s
}

/// XendNode.format_numa_info: per-node memory and the distance matrix.
fn numa_info(topo: &Topology, free: u64) -> String {
    let n = topo.nr_nodes().max(1);
    let mut s = String::from("\nnode: TotalMemory FreeMemory dma32Memory NodeDist:");
    for i in 0..n {
        s.push_str(&format!("{i:>4} "));
    }
    let per_node = topo.total_memory_mib / n as u64;
    let free_per_node = free / n as u64;
    for i in 0..n {
        let dma32 = if i == 0 { per_node.min(3840) } else { 0 };
        s.push_str(&format!("\n{i:>4}:  {per_node:>8}MB {free_per_node:>8}MB  {dma32:>8}MB         :"));
        for j in 0..n {
            let dist = if i == j { 10 } else { 20 };
            s.push_str(&format!("{dist:>4} "));
        }
    }
    s
}

/// xm's uptime string: `[N day[s], ]HH:MM[:SS]`.
pub fn uptime_string(secs: f64, with_seconds: bool) -> String {
    let mut up = secs.max(0.0).round() as u64;
    let days = up / 86400;
    up -= days * 86400;
    let hours = up / 3600;
    up -= hours * 3600;
    let minutes = up / 60;
    let seconds = up - minutes * 60;
    let mut s = String::new();
    if days > 0 {
        s.push_str(&format!("{days} day{}, ", if days > 1 { "s" } else { "" }));
    }
    s.push_str(&format!("{hours:>2}:{minutes:02}"));
    if with_seconds {
        s.push_str(&format!(":{seconds:02}"));
    }
    s
}

/// `xm uptime [-s]`.
pub fn uptime(doms: &[Domain], now: f64, short: bool) -> String {
    let mut out = String::new();
    if !short {
        out.push_str(&format!("{:<33} {:>4} {} \n", "Name", "ID", "Uptime"));
    }
    for d in doms {
        let up = uptime_string(now - d.start_time, !short);
        if short {
            let t = crate::state::timestamp(now);
            let hms = t.get(11..19).unwrap_or("00:00:00");
            out.push_str(&format!(" {hms} up {up}, {} ({})\n", d.name, d.domid));
        } else {
            out.push_str(&format!("{:<33} {:>4} {}\n", d.name, d.domid, up));
        }
    }
    out
}

/// `xm sched-credit` table.
pub fn sched_credit(doms: &[Domain]) -> String {
    let mut out = format!("{:<33} {:>4} {:>6} {:>4}\n", "Name", "ID", "Weight", "Cap");
    for d in doms {
        out.push_str(&format!("{:<33} {:>4} {:>6} {:>4}\n", d.name, d.domid, d.cpu_weight, d.cpu_cap));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_floats() {
        assert_eq!(py_float(1467059760.94), "1467059760.94");
        assert_eq!(py_float(266.840330081), "266.840330081");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(5.5), "5.5");
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime_string(136.0 * 86400.0 + 38.0 * 60.0 + 43.0, true), "136 days,  0:38:43");
        assert_eq!(uptime_string(86400.0 + 3600.0 * 14.0, true), "1 day, 14:00:00");
        assert_eq!(uptime_string(59.0, false), " 0:00");
    }
}
