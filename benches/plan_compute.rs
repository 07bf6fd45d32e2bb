//! Plan compute alone (no I/O): 10,000 declared VMs on 10 hosts, all converged, so the planner
//! compares every vm.cfg key, disk and live setting and finds nothing to do. Also times the
//! YAML load and a plan that creates everything. Prints wall times and peak RSS.
//!
//!   cargo bench --bench plan_compute            (VMS=10000 HOSTS=10 by default)

use std::fmt::Write as _;
use std::time::Instant;

use domform::model::CpuSet;
use domform::observe::{CfgFile, FileSize, Observed};
use domform::plan;
use domform::xen::{DomState, Domain, HostInfo};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// The desired state: `vms` VMs spread over `hosts` local hosts, each with three disks.
fn estate_yaml(vms: usize, hosts: usize) -> String {
    let mut y = String::from("hosts:\n");
    for h in 0..hosts {
        let _ = writeln!(
            y,
            "  h{h}:\n    transport: local\n    repository: /OVS/Repositories/r{h}\n    reserved_cpus: \"0-1\""
        );
    }
    y.push_str("vms:\n");
    for i in 0..vms {
        let _ = writeln!(
            y,
            "  vm{i:05}:\n    host: h{}\n    memory: 1GiB\n    vcpus: 2\n    cpus: \"2-3\"\n    disks:\n      - {{ name: system, size: 10GiB }}\n      - {{ name: \"d{{1..2}}\", size: 1GiB }}\n    networks: [{{ bridge: xenbr0, mac: \"00:16:3e:{:02x}:{:02x}:{:02x}\" }}]",
            i % hosts,
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        );
    }
    y
}

/// A 16-thread host with plenty of memory.
fn host_info() -> HostInfo {
    HostInfo {
        hostname: "h".into(),
        nr_cpus: 16,
        nr_nodes: 1,
        cores_per_socket: 8,
        threads_per_core: 2,
        cpu_mhz: None,
        total_memory_mib: 1 << 24,
        free_memory_mib: 1 << 23,
        xen_version: "4.4.4OVM".into(),
        dom0_max_vcpus: Some(2),
        topology: Vec::new(),
    }
}

/// The hosts as they are after a first apply: every VM's vm.cfg, disks and running domain.
fn converged(model: &domform::model::Model, empty: &[Observed]) -> Vec<Observed> {
    // Converged hosts, built straight from the desired state (the vm.cfg domform writes, its
    // disks, its running domains), so the process holds only the model and the observed facts.
    let mut converged = empty.to_vec();
    for obs in converged.iter_mut() {
        for vm in model.vms.values().filter(|v| v.host == obs.host) {
            let naming = plan::desired::naming(vm);
            let (cfg, _) = plan::desired::desired_cfg(vm, None, &naming);
            for d in &vm.disks {
                if let (Some(path), domform::model::DiskSource::New { size, .. }) =
                    (plan::desired::disk_path(vm, d), &d.source)
                {
                    obs.files.insert(path, FileSize { size: *size, allocated: 0 });
                }
            }
            obs.domains.push(Domain {
                id: Some(obs.domains.len() as u32 + 1),
                name: naming.xen_name.clone(),
                uuid: None,
                state: DomState { blocked: true, ..DomState::default() },
                memory_mib: 1024,
                maxmem_mib: 1024,
                vcpus: 2,
                online_vcpus: 2,
                affinity: vec![Some(CpuSet::from_cpus([2, 3])); 2],
                image: Some("hvm".into()),
                vbds: vec![],
                vifs: vec![],
                vnc_location: None,
                cpu_time: 1.0,
            });
            let text = cfg.render();
            obs.cfgs.push(CfgFile { path: naming.cfg_path, cfg: vmcfg::VmCfg::parse(&text).expect("parses"), text });
        }
    }
    converged
}

fn main() {
    let vms = env("VMS", 10_000);
    let hosts = env("HOSTS", 10);
    let dir = std::env::temp_dir().join(format!("domform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let y = estate_yaml(vms, hosts);
    let file = dir.join("estate.yaml");
    std::fs::write(&file, &y).expect("write yaml");

    let t = Instant::now();
    let model = domform::manifest::load(&[file]).expect("valid");
    let load = t.elapsed();

    let info = host_info();
    let empty: Vec<Observed> = (0..hosts)
        .map(|h| Observed { host: format!("h{h}"), info: Some(info.clone()), ..Observed::default() })
        .collect();

    let converged = converged(&model, &empty);
    let refs: Vec<&Observed> = converged.iter().collect();
    // Inputs (model + observed facts) are resident now; reset the high-water mark (Linux
    // clear_refs 5) so the peak below is what planning itself adds on top of them.
    let inputs_kib = status_kib("VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let mut times = Vec::new();
    let mut noop = None;
    for _ in 0..5 {
        let t = Instant::now();
        let p = plan::plan(&model, &refs);
        times.push(t.elapsed());
        noop = Some(p);
    }
    times.sort();
    let noop = noop.expect("planned");
    let pending: usize = noop.hosts.iter().map(|h| h.changes.len() + h.errors.len()).sum();
    assert_eq!(pending, 0, "converged hosts must plan empty");
    let peak_kib = status_kib("VmHWM:");
    // Last, the plan a first apply runs: everything to create.
    let refs_empty: Vec<&Observed> = empty.iter().collect();
    let t = Instant::now();
    let create = plan::plan(&model, &refs_empty);
    let create_time = t.elapsed();
    let n_create: usize = create.hosts.iter().map(|h| h.changes.len()).sum();
    let _ = std::fs::remove_dir_all(&dir);
    println!("| VMs | hosts | load+validate YAML | plan, everything to create ({n_create} changes) | no-op plan (median of 5) | RSS of inputs (model + observed) | peak RSS while planning | added by planning |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {vms} | {hosts} | {:.1} ms | {:.1} ms | {:.1} ms | {} MiB | {} MiB | {} MiB |",
        load.as_secs_f64() * 1e3,
        create_time.as_secs_f64() * 1e3,
        times[2].as_secs_f64() * 1e3,
        inputs_kib / 1024,
        peak_kib / 1024,
        peak_kib.saturating_sub(inputs_kib) / 1024
    );
}
