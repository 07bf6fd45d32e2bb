//! Output layouts: xm list, xl list, vcpu-list, info, list -l.

mod common;
use common::{list_rows, Host};

const OVM_NAME: &str = "0004fb0000060000cfe2da48f9e2120e";
const LONG_NAME: &str = "scaqab10client01vm08.us.oracle.example-45chr"; // 44
const HEADER: &str = "Name                                        ID   Mem VCPUs      State   Time(s)";

fn long_name() -> String {
    let n = format!("{LONG_NAME}x");
    assert_eq!(n.len(), 45);
    n
}

fn two_vms(h: &Host) {
    let d1 = h.disk("d1.img");
    let c1 = h.cfg(
        "vm1.cfg",
        &format!(
            "name = '{OVM_NAME}'\nuuid = '0004fb00-0006-0000-cfe2-da48f9e2120e'\nmemory = 4096\n\
             maxvcpus = 2\nvcpus = 2\nbuilder = 'hvm'\nvnc = 1\nvnclisten = '127.0.0.1'\n\
             disk = ['file:{d1},xvda,w', 'file:/nonexistent/x.iso,xvdb:cdrom,r']\n\
             vif = ['mac=00:21:f6:5b:b5:f7,bridge=10238073c2']\nOVM_simple_name = 'ESXi-01'\n"
        ),
    );
    let c2 = h.simple_cfg(&long_name(), "memory = '65536'\nmaxmem = '65536'\nvcpus = 8\nmaxvcpus = 68\n");
    let out = h.ok(&["create", &c1]);
    assert_eq!(out, format!("Using config file \"{c1}\".\nStarted domain {OVM_NAME} (id=1)\n"));
    let out = h.ok(&["create", &c2]);
    assert!(out.ends_with(&format!("Started domain {} (id=2)\n", long_name())));
}

#[test]
fn xm_list_matches_printf_layout() {
    let h = Host::new(Some("total_memory_mib = 131072\n"));
    two_vms(&h);
    let out = h.ok(&["list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], HEADER);
    // Domain-0: '%-40s %5s %5d %5d %10s %8.1f'
    assert!(lines[1].starts_with("Domain-0                                     0  1024     2     r----- "));
    assert_eq!(lines[1].len(), 78);
    assert_eq!(lines[2], "0004fb0000060000cfe2da48f9e2120e             1  4096     2     -b----      0.0");
    // A 45-character name is not truncated and pushes the columns right.
    assert_eq!(lines[3], format!("{}     2 65536     8     -b----      0.0", long_name()));
    // Parse back from the right, as domform does.
    let rows = list_rows(&out);
    assert_eq!(rows[2], vec![long_name(), "2".into(), "65536".into(), "8".into(), "-b----".into(), "0.0".into()]);
    // A single domain, by name and by id.
    let one = h.ok(&["list", OVM_NAME]);
    assert_eq!(one.lines().count(), 2);
    assert_eq!(h.ok(&["list", "2"]).lines().nth(1).unwrap(), lines[3]);
}

#[test]
fn domain_ids_grow_and_are_never_reused() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "memory = 256\n");
    let b = h.simple_cfg("b", "memory = 256\n");
    h.ok(&["create", "-q", &a]);
    assert_eq!(h.ok(&["create", "-q", &b]), "");
    assert_eq!(h.ok(&["domid", "b"]), "2\n");
    h.ok(&["destroy", "b"]);
    h.ok(&["destroy", "1"]);
    h.ok(&["create", &b]);
    assert_eq!(h.ok(&["domid", "b"]), "3\n");
    assert_eq!(h.ok(&["domname", "3"]), "b\n");
    let ids: Vec<String> = list_rows(&h.ok(&["list"])).iter().map(|r| r[1].clone()).collect();
    assert_eq!(ids, vec!["0", "3"]);
}

#[test]
fn xl_list_format() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    let o = h.run_as("/usr/sbin/xl", &["list"], b"");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "Name                                        ID   Mem VCPUs\tState\tTime(s)");
    assert_eq!(lines[2], "a                                            1  1024     2     -b----       0.0");
}

#[test]
fn vcpu_list_affinity() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "maxvcpus = 4\n");
    let b = h.simple_cfg("b", "vcpus = 2\ncpus = ['0-1', '2,3']\n");
    h.ok(&["create", &a]);
    h.ok(&["create", &b]);
    let out = h.ok(&["vcpu-list", "a"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Name                                ID  VCPU   CPU State   Time(s) CPU Affinity");
    assert_eq!(lines.len(), 5);
    let (name, rest) = lines[1].split_at(32);
    assert_eq!(name.trim_end(), "a");
    assert!(rest.starts_with("     1     0 "), "{rest:?}");
    assert!(rest.ends_with("   -b-       0.0 any cpu"), "{rest:?}");
    // Offline vcpus (number >= online vcpus): CPU '-' and state '--p'.
    assert_eq!(lines[4], "a                                    1     3     -   --p       0.0 any cpu");

    h.ok(&["vcpu-pin", "a", "all", "4-7"]);
    for l in h.ok(&["vcpu-list", "a"]).lines().skip(1) {
        assert!(l.ends_with(" 4-7"), "{l}");
        let cpu: usize = l.split_whitespace().nth(3).unwrap().parse().unwrap_or(4);
        assert!((4..=7).contains(&cpu));
    }
    h.ok(&["vcpu-pin", "a", "1", "0-3,8,^2"]);
    let l = h.ok(&["vcpu-list", "a"]);
    assert!(l.lines().nth(2).unwrap().ends_with(" 0-1,3"));
    h.ok(&["vcpu-pin", "a", "all", "all"]);
    assert!(h.ok(&["vcpu-list", "a"]).lines().skip(1).all(|l| l.ends_with("any cpu")));

    let out = h.ok(&["vcpu-list", "b"]);
    let aff: Vec<&str> = out.lines().skip(1).map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(aff, vec!["0-1", "2-3"]);
    // Domain-0 rows come first, pinned to dom0_cpus.
    let all = h.ok(&["vcpu-list"]);
    let first: Vec<&str> = all.lines().skip(1).take(2).collect();
    assert!(first.iter().all(|l| l.starts_with("Domain-0 ") && l.ends_with(" 0-1")));
    assert!(first[0].contains(" r-- "));
    // Live pinning does not touch the vm.cfg.
    assert!(!std::fs::read_to_string(&a).unwrap().contains("\ncpus"));
}

#[test]
fn list_long_sxp() {
    let h = Host::new(Some("total_memory_mib = 131072\n"));
    two_vms(&h);
    let b = h.simple_cfg("b", "cpus = '4-7'\nvfb = ['type=vnc,vncunused=1,vnclisten=0.0.0.0']\n");
    h.ok(&["create", &b]);
    let out = h.ok(&["list", "-l", OVM_NAME]);
    assert!(out.starts_with("(domain\n    (domid 1)\n    (cpu_weight 256)\n    (cpu_cap 0)\n"));
    assert!(out.contains("\n    (cpus (() ()))\n"));
    assert!(out.contains("\n    (uuid 0004fb00-0006-0000-cfe2-da48f9e2120e)\n"));
    assert!(out.contains(&format!("\n    (name {OVM_NAME})\n")));
    assert!(out.contains("\n    (maxmem 4096)\n    (memory 4096)\n"));
    assert!(out.contains("\n    (online_vcpus 2)\n    (image\n        (hvm\n"));
    assert!(out.contains("\n    (state -b----)\n"));
    assert!(out.contains("            (bridge 10238073c2)\n            (mac 00:21:f6:5b:b5:f7)\n"));
    assert!(out.contains("            (dev xvda:disk)\n"));
    assert!(out.contains("            (dev xvdb:cdrom)\n"));
    assert!(out.contains("            (location 127.0.0.1:5900)\n"));
    assert!(out.ends_with("\n    )\n)\n"));
    let out = h.ok(&["list", "--long", "b"]);
    assert!(out.contains("\n    (cpus ((4 5 6 7) (4 5 6 7)))\n"));
    assert!(out.contains("(image\n        (linux\n"));
    assert!(out.contains("    (device (vkbd (backend 0)))\n"));
    assert!(out.contains("            (location 0.0.0.0:5901)\n"));
    let all = h.ok(&["list", "-l"]);
    assert_eq!(all.matches("\n(domain\n").count() + 1, 4);
    assert!(all.starts_with("(domain\n    (domid 0)\n"));
    assert!(all.contains("    (cpus ((0 1) (0 1)))\n"));
    assert!(all.contains("    (state r-----)\n"));
}

const ADJACENT_TABLE: &str = "cpu_topology           : \n\
cpu:    core    socket     node\n\
\x20 0:       0        0        0\n\
\x20 1:       0        0        0\n\
\x20 2:       1        0        0\n\
\x20 3:       1        0        0\n\
\x20 4:       2        0        0\n\
\x20 5:       2        0        0\n\
\x20 6:       3        0        0\n\
\x20 7:       3        0        0\n\
numa_info              : \n";

const SPLIT_TABLE: &str = "cpu_topology           : \n\
cpu:    core    socket     node\n\
\x20 0:       0        0        0\n\
\x20 1:       1        0        0\n\
\x20 2:       2        0        0\n\
\x20 3:       3        0        0\n\
\x20 4:       0        0        0\n\
\x20 5:       1        0        0\n\
\x20 6:       2        0        0\n\
\x20 7:       3        0        0\n\
numa_info              : \n";

#[test]
fn info_topology_adjacent_and_split() {
    let topo = "sockets = 1\ncores_per_socket = 4\nthreads_per_core = 2\n";
    let h = Host::new(Some(&format!("{topo}siblings = adjacent\n")));
    let out = h.ok(&["info", "-n"]);
    assert!(out.contains(ADJACENT_TABLE), "{out}");
    let h = Host::new(Some(&format!("{topo}siblings = split\n")));
    let out = h.ok(&["info", "--numa"]);
    assert!(out.contains(SPLIT_TABLE), "{out}");
    assert!(!h.ok(&["info"]).contains("cpu_topology"));
}

#[test]
fn info_keys_and_memory() {
    let h = Host::new(Some(
        "sockets = 2\ncores_per_socket = 18\nthreads_per_core = 2\ndom0_cpus = 0-3\n\
         total_memory_mib = 262010\ndom0_memory_mib = 9216\nhostname = scas22adm05.us.oracle.com\n",
    ));
    let a = h.simple_cfg("a", "memory = 4096\n");
    h.ok(&["create", &a]);
    let out = h.ok(&["info"]);
    let get = |k: &str| {
        out.lines()
            .find(|l| l.split(':').next().unwrap().trim() == k)
            .map(|l| l.split_once(':').unwrap().1.trim().to_string())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert!(out.starts_with("host                   : scas22adm05.us.oracle.com\n"));
    assert_eq!(get("nr_cpus"), "72");
    assert_eq!(get("nr_nodes"), "2");
    assert_eq!(get("cores_per_socket"), "18");
    assert_eq!(get("threads_per_core"), "2");
    assert_eq!(get("total_memory"), "262010");
    assert_eq!(get("free_memory"), (262010 - 9216 - 4096).to_string());
    assert_eq!(get("xen_extra"), ".4OVM");
    assert!(get("xen_commandline").contains(" dom0_max_vcpus=4 "));
    assert!(out.ends_with("xend_config_format     : 4\n"));
    let keys: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap().trim()).collect();
    assert_eq!(keys.len(), 28);
}
