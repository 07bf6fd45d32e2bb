use super::*;

const REAL: &str = include_str!("../../tests/fixtures/libvirt/capabilities-real.xml");
const FAKE: &str = include_str!("../../tests/fixtures/libvirt/capabilities-2s2c2t.xml");

#[test]
fn real_host_has_one_cell_and_two_single_thread_cores() {
    let t = parse_capabilities(REAL).expect("parse");
    assert_eq!(t.cells.len(), 1);
    assert_eq!(t.cells[0].id, 0);
    assert_eq!(t.cells[0].memory_kib, Some(24684084));
    let ids: Vec<u32> = t.cpus().iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![0, 1]);
    let cores = t.cores().expect("cores");
    assert_eq!(cores.len(), 2);
    assert_eq!((cores[1].socket, cores[1].die, cores[1].core), (0, 0, 1));
    assert_eq!(cores[1].threads, CpuSet::from_cpus([1]));
}

#[test]
fn host_cpu_summary_and_distances_are_not_taken_for_cpus() {
    // <host><cpu> has no id and <distances><sibling> is not a CPU: neither may become one.
    let t = parse_capabilities(FAKE).expect("parse");
    assert_eq!(t.cpus().len(), 8);
    assert!(t.cells.iter().all(|c| c.cpus.len() == 4));
}

#[test]
fn two_sockets_pair_threads_n_and_n_plus_4_on_one_core() {
    let t = parse_capabilities(FAKE).expect("parse");
    let cores = t.cores().expect("cores");
    let got: Vec<(u32, u32, String)> = cores.iter().map(|c| (c.socket, c.core, c.threads.to_string())).collect();
    let want = vec![
        (0, 0, CpuSet::from_cpus([0, 4]).to_string()),
        (0, 2, CpuSet::from_cpus([1, 5]).to_string()),
        (1, 0, CpuSet::from_cpus([2, 6]).to_string()),
        (1, 2, CpuSet::from_cpus([3, 7]).to_string()),
    ];
    assert_eq!(got, want);
}

#[test]
fn host_info_feeds_the_licence_core_count() {
    let info = parse_capabilities(FAKE).expect("parse").host_info("kvm1").expect("info");
    assert_eq!((info.nr_cpus, info.nr_nodes, info.cores_per_socket, info.threads_per_core), (8, 2, 2, 2));
    assert_eq!(info.sockets(), 2);
    assert_eq!(info.physical_cores(), 4);
    assert_eq!(info.total_memory_mib, 16384);
    assert_eq!(info.siblings(5), vec![1, 5]);
    assert_eq!(info.topology.iter().find(|t| t.cpu == 6).map(|t| t.node), Some(1));
    // Pinning to one hyperthread of each socket's first core licenses two cores.
    let cores = crate::licence::cores_of(&info, &CpuSet::from_cpus([0, 6])).expect("cores_of");
    assert_eq!(cores.into_iter().collect::<Vec<_>>(), vec![(0, 0), (1, 0)]);
}

#[test]
fn dies_keep_their_cores_apart() {
    let xml = "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='2'>
<cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>
<cpu id='1' socket_id='0' die_id='1' core_id='0' siblings='1'/>
</cpus></cell></cells></topology></host></capabilities>";
    let t = parse_capabilities(xml).expect("parse");
    assert_eq!(t.cores().expect("cores").len(), 2);
    let topo = t.cpu_topo().expect("topo");
    assert_ne!(topo[0].core, topo[1].core);
    assert_eq!(t.host_info("h").expect("info").physical_cores(), 2);
}

#[test]
fn siblings_that_disagree_with_core_ids_are_refused() {
    let xml = "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='2'>
<cpu id='0' socket_id='0' core_id='0' siblings='0-1'/>
<cpu id='1' socket_id='0' core_id='1' siblings='0-1'/>
</cpus></cell></cells></topology></host></capabilities>";
    let err = parse_capabilities(xml).expect("parse").cores().expect_err("disagree");
    assert!(err.contains("CPU 0 lists siblings 0-1"), "{err}");
}

#[test]
fn missing_placement_is_not_guessed() {
    let xml = "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='1'>
<cpu id='0'/></cpus></cell></cells></topology></host></capabilities>";
    let t = parse_capabilities(xml).expect("parse");
    assert!(t.cores().expect_err("no placement").contains("CPU 0 has no socket_id"));
    assert!(t.host_info("h").is_err());
}

#[test]
fn errors_name_the_line() {
    let xml = "<capabilities><host><topology><cells num='1'>\n<cell id='0'><cpus num='1'>\n<cpu id='x'/>\n</cpus></cell></cells></topology></host></capabilities>";
    let err = parse_capabilities(xml).expect_err("bad id");
    assert!(err.contains("line 3") && err.contains("id='x'"), "{err}");
    let err = parse_capabilities("<capabilities><host/></capabilities>").expect_err("no cells");
    assert!(err.contains("no <host><topology>"), "{err}");
}

#[test]
fn domain_types_are_the_x86_64_hvm_ones() {
    // The real host offers both (the i686 guest's are not counted twice); the hand-written one
    // only TCG.
    assert_eq!(domain_types(REAL), vec!["qemu".to_string(), "kvm".to_string()]);
    assert_eq!(domain_types(FAKE), vec!["qemu".to_string()]);
    let i686_only = REAL.replacen("<arch name='x86_64'>", "<arch name='aarch64'>", 1);
    assert_eq!(domain_types(&i686_only), Vec::<String>::new());
    let xen = "<capabilities><guest><os_type>xen</os_type><arch name='x86_64'><domain type='xen'/></arch></guest>\
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='xen'/></arch></guest></capabilities>";
    assert_eq!(domain_types(xen), vec!["xen".to_string()]);
    assert_eq!(domain_types("<capabilities><guest>"), Vec::<String>::new());
}
