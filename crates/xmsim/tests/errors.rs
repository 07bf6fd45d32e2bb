//! Refusals and error texts: create validation, usage errors, bad state.

mod common;
use common::Host;

#[test]
fn create_refuses_missing_disk() {
    let h = Host::new(None);
    let c =
        h.cfg("vm.cfg", "name = 'a'\nmemory = 512\ndisk = ['file:/OVS/Repositories/none/VirtualDisks/x.img,xvda,w']\n");
    let o = h.xm(&["create", &c]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, format!("Using config file \"{c}\".\n"));
    assert_eq!(o.stderr, "Error: Disk isn't accessible\n");
    // Nothing was created and no domid was used up.
    assert_eq!(h.ok(&["list"]).lines().count(), 2);
    let ok = h.simple_cfg("b", "");
    assert!(h.ok(&["create", &ok]).contains("(id=1)"));
}

#[test]
fn create_refuses_bad_cpus() {
    let h = Host::new(None);
    let c = h.simple_cfg("a", "cpus = '0-x'\n");
    assert_eq!(h.fails(&["create", &c]), "Error: Invalid cpus: invalid literal for int() with base 10: 'x'\n");
    let c = h.simple_cfg("a", "cpus = '4-8'\n");
    assert_eq!(h.fails(&["create", &c]), "Error: Invalid cpus: CPU 8 does not exist (this host has CPUs 0-7)\n");
    let c = h.simple_cfg("a", "cpus = {'a': 1}\n");
    assert!(h.fails(&["create", &c]).starts_with("Error: Invalid cpus"));
}

#[test]
fn create_refuses_wrong_per_vcpu_list_length() {
    let h = Host::new(None);
    // vcpus = 2 in simple_cfg, no maxvcpus: the list must have 2 items.
    let c = h.simple_cfg("a", "cpus = ['1', '2', '3']\n");
    assert_eq!(h.fails(&["create", &c]), "Error: vcpus and the item number of cpus are not same\n");
    // With maxvcpus set, the list length must equal maxvcpus.
    let c = h.simple_cfg("a", "maxvcpus = 4\ncpus = ['1', '2']\n");
    assert_eq!(h.fails(&["create", &c]), "Error: vcpus and the item number of cpus are not same\n");
    let c = h.simple_cfg("a", "maxvcpus = 4\ncpus = ['1', '2', '3-4', '^1,0-7']\n");
    h.ok(&["create", &c]);
    let aff: Vec<String> =
        h.ok(&["vcpu-list", "a"]).lines().skip(1).map(|l| l.split_whitespace().last().unwrap().to_string()).collect();
    assert_eq!(aff, vec!["1", "2", "3-4", "cpu"]);
}

#[test]
fn create_refuses_duplicate_name_and_low_memory() {
    let h = Host::new(Some("total_memory_mib = 4096\ndom0_memory_mib = 1024\n"));
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    assert_eq!(h.fails(&["create", &a]), "Error: VM name 'a' already exists as domain 1\n");
    let big = h.simple_cfg("big", "memory = 3000\n");
    assert!(h
        .fails(&["create", &big])
        .starts_with("Error: Not enough free memory and enable-dom0-ballooning is False"));
    let fits = h.simple_cfg("fits", "memory = 2048\n");
    h.ok(&["create", &fits]);
    assert!(h.ok(&["info"]).contains("\nfree_memory            : 0\n"));
}

#[test]
fn create_refuses_unreadable_and_unparsable_files() {
    let h = Host::new(None);
    assert_eq!(h.fails(&["create", "/no/such/vm.cfg"]), "Error: Unable to open config file: /no/such/vm.cfg\n");
    let c = h.cfg("bad.cfg", "name = 'a'\nmemory = [1,\n");
    let err = h.fails(&["create", &c]);
    assert!(err.starts_with(&format!("Error: {c}: line ")), "{err}");
    let c = h.cfg("noname.cfg", "memory = 512\n");
    assert_eq!(h.fails(&["create", &c]), "Error: Missing VM Name\n");
    assert!(h.fails(&["create"]).starts_with("Error: 'xm create' requires 1 argument.\n"));
}

#[test]
fn fixture_samples() {
    // Real OVM vm.cfg files: their disks do not exist here, so xm refuses.
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/vm.cfg");
    let h = Host::new(Some("total_memory_mib = 262144\nsockets = 2\ncores_per_socket = 24\n"));
    for n in ["01", "02", "03", "05"] {
        let p = format!("{fixtures}/sample-{n}.cfg");
        assert_eq!(h.fails(&["create", &p]), "Error: Disk isn't accessible\n", "sample {n}");
    }
    // sample-06 uses phy: disks only (not checked), like real xend.
    let p = format!("{fixtures}/sample-06.cfg");
    assert!(h.ok(&["create", &p]).contains("Started domain ExampleDomain (id=1)"));
    // sample-02 with its disk images made local: pinned to 12-19.
    let text = std::fs::read_to_string(format!("{fixtures}/sample-02.cfg")).unwrap();
    let dir = h.path("imgs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut local = text.clone();
    let unames: Vec<&str> = text.split("'file:").skip(1).map(|part| part.split(',').next().unwrap()).collect();
    for (i, uname) in unames.iter().enumerate() {
        let img = dir.join(format!("{i}.img"));
        std::fs::write(&img, b"").unwrap();
        local = local.replacen(&format!("'file:{uname},"), &format!("'file:{},", img.display()), 1);
    }
    let c = h.cfg("s02.cfg", &local);
    h.ok(&["create", &c]);
    let vl = h.ok(&["vcpu-list", "scaqab10client01vm08.us.oracle.com"]);
    assert_eq!(vl.lines().count(), 69);
    assert!(vl.lines().skip(1).all(|l| l.ends_with(" 12-19")));
    assert_eq!(vl.lines().filter(|l| l.contains("--p")).count(), 60);
}

#[test]
fn usage_and_lookup_errors() {
    let h = Host::new(None);
    assert_eq!(h.fails(&["frobnicate"]), "Error: Subcommand frobnicate not found!\n");
    assert_eq!(h.fails(&["list", "ghost"]), "Error: Domain 'ghost' does not exist.\n");
    assert_eq!(h.fails(&["vcpu-list", "ghost"]), "Error: Domain 'ghost' does not exist.\n");
    assert_eq!(h.fails(&["destroy", "ghost"]), "Error: Domain 'ghost' does not exist.\n");
    // Like xm: the error on stderr, the command's usage on stdout.
    let o = h.xm(&["vcpu-pin", "Domain-0", "0"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "Error: 'xm vcpu-pin' requires 3 arguments.\n\n");
    assert!(o.stdout.starts_with("Usage: xm vcpu-pin <Domain> <VCPU|all> <CPUs|all>\n"));
    assert_eq!(h.fails(&["shutdown"]), "Error: 'xm shutdown' requires between 1 and 4 arguments.\n\n");
    assert_eq!(h.fails(&["reboot", "-w", "a", "b", "c"]), "Error: 'xm reboot' requires between 1 and 3 arguments.\n\n");
    assert_eq!(h.fails(&["shutdown", "-R", "-H", "a"]), "Error: Can't specify halt and reboot\n");
    assert!(h.fails(&["destroy"]).starts_with("Error: 'xm destroy' requires 1 argument.\n"));
    assert!(h
        .fails(&["block-attach", "a"])
        .starts_with("Error: 'xm block-attach' requires between 4 and 5 arguments.\n"));
    assert_eq!(h.fails(&["list", "--bogus"]), "Error: option --bogus not recognized\n");
    assert_eq!(h.fails(&["shutdown", "-z", "x"]), "Error: option -z not recognized\n");
    assert_eq!(h.fails(&["vcpu-pin", "0", "all", "x"]), "Error: invalid literal for int() with base 10: 'x'\n");
    assert!(h.fails(&["mem-set", "0", "lots"]).contains("invalid literal"));
    let o = h.xm(&[]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.starts_with("Usage: xm <subcommand> [args]"));
    assert!(h.ok(&["help"]).contains("vcpu-pin"));
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    let h = Host::new(None);
    h.ok(&["list"]);
    std::fs::write(h.root().join("domains/7.json"), "{not json").unwrap();
    let e = h.fails(&["list"]);
    assert!(e.starts_with("Error: corrupt state file "), "{e}");
    std::fs::remove_file(h.root().join("domains/7.json")).unwrap();
    std::fs::write(h.root().join("next_domid"), "banana").unwrap();
    let a = h.simple_cfg("a", "");
    assert!(h.fails(&["create", &a]).starts_with("Error: corrupt state file "));
    std::fs::write(h.root().join("topology.conf"), "sockets = many\n").unwrap();
    let e = h.fails(&["info"]);
    assert!(e.contains("topology.conf: line 1: invalid value for sockets"), "{e}");
}

#[test]
fn stale_lock_is_broken() {
    let h = Host::new(None);
    h.ok(&["list"]);
    let lock = h.root().join(".lock");
    std::fs::write(&lock, "99999\n").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
    h.ok(&["list"]);
    assert!(!lock.exists());
}
