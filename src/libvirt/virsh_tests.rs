use super::*;

const LIST: &str = include_str!("../../tests/fixtures/libvirt/list-all.txt");
const VCPUINFO: &str = include_str!("../../tests/fixtures/libvirt/vcpuinfo.txt");
const VCPUPIN: &str = include_str!("../../tests/fixtures/libvirt/vcpupin.txt");

#[test]
fn list_all_from_the_test_host() {
    let got = parse_list(LIST).expect("parse");
    let want = vec![
        ListedDomain { id: Some(1), name: "g1".into(), state: DomState::Running },
        ListedDomain { id: Some(2), name: "g3".into(), state: DomState::Paused },
        ListedDomain { id: None, name: "g2".into(), state: DomState::ShutOff },
    ];
    assert_eq!(got, want);
}

#[test]
fn list_reads_every_state_word_and_names_with_spaces() {
    // virsh 0.9/1.x fixed columns.
    let text = " Id    Name                           State
----------------------------------------------------
 3     web 01                         in shutdown
 4     db                             crashed
 5     sleepy                         pmsuspended
 6     xen-guest                      idle
 7     odd                            no state
 -     was running                    shut off
";
    let got: Vec<(Option<u32>, String, DomState)> =
        parse_list(text).expect("parse").into_iter().map(|d| (d.id, d.name, d.state)).collect();
    assert_eq!(
        got,
        vec![
            (Some(3), "web 01".to_string(), DomState::InShutdown),
            (Some(4), "db".to_string(), DomState::Crashed),
            (Some(5), "sleepy".to_string(), DomState::PmSuspended),
            (Some(6), "xen-guest".to_string(), DomState::Idle),
            (Some(7), "odd".to_string(), DomState::NoState),
            (None, "was running".to_string(), DomState::ShutOff),
        ]
    );
}

#[test]
fn list_errors_name_the_line() {
    let e = parse_list(" Id   Name   State\n------\n 1    g1     flying\n").expect_err("state");
    assert!(e.contains("line 3") && e.contains("no known state"), "{e}");
    let e = parse_list(" Id   Name   State\n------\n x    g1     running\n").expect_err("id");
    assert!(e.contains("line 3") && e.contains("`x`"), "{e}");
    let e = parse_list(" Id   Name   State\n------\n -    g1     running\n").expect_err("id/state");
    assert!(e.contains("line 3") && e.contains("does not go with"), "{e}");
    let e = parse_list(" 1    g1running\n").expect_err("header");
    assert!(e.contains("line 1") && e.contains("header"), "{e}");
    let e = parse_list(" Id   Name   State\n 1    g1running\n").expect_err("glued");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn vcpuinfo_after_a_live_pin() {
    let got = parse_vcpuinfo(VCPUINFO).expect("parse");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].vcpu, got[0].cpu, got[0].state.as_str()), (0, Some(1), "running"));
    assert_eq!(got[0].affinity, CpuSet::from_cpus([1]));
    assert_eq!((got[1].vcpu, got[1].cpu), (1, Some(0)));
    assert_eq!(got[1].affinity, CpuSet::from_cpus([0, 1]));
}

#[test]
fn affinity_maps_and_pretty_sets() {
    assert_eq!(parse_affinity_map("--y-y---").expect("map"), CpuSet::from_cpus([2, 4]));
    assert_eq!(parse_affinity_map("0-1,4 (out of 8)").expect("pretty"), CpuSet::from_cpus([0, 1, 4]));
    assert!(parse_affinity_map("yes").is_err());
}

#[test]
fn vcpuinfo_errors_name_the_line() {
    let e = parse_vcpuinfo("VCPU:           0\nCPU:            x\n").expect_err("cpu");
    assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
    let e = parse_vcpuinfo("VCPU:           0\nCPU:            1\n\nVCPU: 1\nCPU Affinity:   yq\n").expect_err("aff");
    assert!(e.contains("line 1") && e.contains("no `CPU Affinity`"), "{e}");
    let e = parse_vcpuinfo("VCPU:           0\nCPU Affinity:   yq\n").expect_err("aff");
    assert!(e.contains("line 2") && e.contains("yq"), "{e}");
    let e = parse_vcpuinfo("CPU:            1\n").expect_err("outside");
    assert!(e.contains("line 1") && e.contains("outside"), "{e}");
}

#[test]
fn vcpupin_table_from_the_test_host() {
    let got = parse_vcpupin(VCPUPIN).expect("parse");
    assert_eq!(got, vec![(0, CpuSet::from_cpus([1])), (1, CpuSet::from_cpus([0, 1]))]);
}

#[test]
fn vcpupin_colon_rows_of_older_virsh() {
    let text = "VCPU: CPU Affinity\n----------------------------------\n   0: 2-3\n   1: 0,5\n";
    let got = parse_vcpupin(text).expect("parse");
    assert_eq!(got, vec![(0, CpuSet::from_cpus([2, 3])), (1, CpuSet::from_cpus([0, 5]))]);
}

#[test]
fn vcpupin_errors_name_the_line() {
    let e = parse_vcpupin(" VCPU   CPU Affinity\n----\n 0      1\n z      1\n").expect_err("vcpu");
    assert!(e.contains("line 4") && e.contains("`z`"), "{e}");
    let e = parse_vcpupin(" VCPU   CPU Affinity\n----\n 0      5-2\n").expect_err("set");
    assert!(e.contains("line 3"), "{e}");
    let e = parse_vcpupin(" VCPU   CPU Affinity\n 0\n").expect_err("empty");
    assert!(e.contains("line 2") && e.contains("no affinity"), "{e}");
    assert!(parse_vcpupin("").expect_err("header").contains("header"));
}

const NODEINFO: &str = include_str!("../../tests/fixtures/libvirt/nodeinfo.txt");

#[test]
fn nodeinfo_from_the_test_host_agrees_with_its_capabilities() {
    let n = parse_nodeinfo(NODEINFO).expect("parse");
    assert_eq!(n.model, "x86_64");
    assert_eq!((n.cpus, n.mhz, n.sockets_per_cell, n.cores_per_socket, n.threads_per_core), (2, 2596, 1, 2, 1));
    assert_eq!((n.cells, n.memory_kib), (1, 24684084));
    let caps = include_str!("../../tests/fixtures/libvirt/capabilities-real.xml");
    let t = crate::libvirt::caps::parse_capabilities(caps).expect("caps");
    let info = t.host_info("h").expect("info");
    assert_eq!(info.nr_cpus, n.cpus);
    assert_eq!(info.nr_nodes, n.cells);
    assert_eq!(info.physical_cores(), n.cells * n.sockets_per_cell * n.cores_per_socket);
}

#[test]
fn nodeinfo_errors_name_the_key_and_line() {
    let bad = NODEINFO.replace("2596 MHz", "fast MHz");
    let e = parse_nodeinfo(&bad).expect_err("mhz");
    assert!(e.contains("line 3") && e.contains("CPU frequency"), "{e}");
    let missing: String = NODEINFO.lines().filter(|l| !l.starts_with("NUMA")).map(|l| format!("{l}\n")).collect();
    assert!(parse_nodeinfo(&missing).expect_err("missing").contains("no `NUMA cell(s)`"));
}
