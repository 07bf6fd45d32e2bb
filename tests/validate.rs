//! Every validation rule, with a failing and a passing case, through the public loader.

use std::io::Write;
use std::path::PathBuf;

use domform::diag::Diagnostic;
use domform::manifest;

const HOST: &str =
    "hosts:\n  h1:\n    address: 10.0.0.1\n    repository: /OVS/Repositories/r1\n    reserved_cpus: \"0-1\"\n";

fn load(yaml: &str) -> Result<domform::model::Model, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.yaml");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(yaml.as_bytes())).expect("write");
    manifest::load(&[path])
}

fn vm(body: &str) -> String {
    format!("{HOST}vms:\n  v1:\n    host: h1\n{body}")
}

/// Asserts the VM body fails with exactly one error containing `needle`, located on `line`.
fn fails(body: &str, needle: &str, line: usize) {
    let errs = load(&vm(body)).expect_err(&format!("should fail: {needle}"));
    let errs: Vec<_> = errs.into_iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "one error expected for {needle:?}, got {errs:#?}");
    assert!(
        errs[0].message.contains(needle) || errs[0].help.as_deref().is_some_and(|h| h.contains(needle)),
        "{needle:?} not in {:#?}",
        errs[0]
    );
    let loc = errs[0].location.as_ref().expect("located");
    assert_eq!(loc.line, line, "line of {needle:?}: {:#?}", errs[0]);
}

fn passes(body: &str) -> domform::model::Vm {
    let model = load(&vm(body)).unwrap_or_else(|e| panic!("should pass: {e:#?}"));
    model.vms.get("v1").cloned().expect("v1")
}

const BASE: &str = "    memory: 1GiB\n    vcpus: 2\n";

#[test]
fn unknown_key_with_suggestion() {
    fails("    memroy: 1GiB\n    memory: 1GiB\n    vcpus: 1\n", "did you mean `memory`?", 9);
    passes(BASE);
}

#[test]
fn unknown_top_level_key() {
    let errs = load(&format!("{HOST}vmss: {{}}\n")).expect_err("typo");
    assert!(errs[0].help.as_deref() == Some("did you mean `vms`?"), "{errs:#?}");
    assert!(load(&format!("{HOST}vms: {{}}\n")).is_ok());
}

#[test]
fn unknown_host() {
    let errs = load(&format!("{HOST}vms:\n  v1:\n    host: h2\n{BASE}")).expect_err("h2 unknown");
    assert!(errs[0].message.contains("unknown host `h2`"));
    assert_eq!(errs[0].location.as_ref().map(|l| (l.line, l.col)), Some((8, 11)));
    passes(BASE);
}

#[test]
fn duplicate_vm_across_files_names_both_places() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), vm(BASE)).expect("write");
    std::fs::write(dir.path().join("b.yaml"), format!("vms:\n  v1:\n    host: h1\n{BASE}")).expect("write");
    let errs = manifest::load(&[dir.path().to_path_buf()]).expect_err("duplicate");
    let d = errs.iter().find(|d| d.message.contains("declared twice")).expect("duplicate reported");
    assert!(d.location.as_ref().is_some_and(|l| l.file.ends_with("b.yaml")));
    assert!(d.help.as_deref().is_some_and(|h| h.contains("a.yaml:7:3")), "{d:#?}");
    // Two files with different VMs merge.
    std::fs::write(dir.path().join("b.yaml"), format!("vms:\n  v2:\n    host: h1\n{BASE}")).expect("write");
    let model = manifest::load(&[dir.path().to_path_buf()]).expect("merged");
    assert_eq!(model.vms.len(), 2);
}

#[test]
fn duplicate_disk_names() {
    fails(
        &format!("{BASE}    disks:\n      - {{ name: a, size: 1G }}\n      - {{ name: a, size: 1G }}\n"),
        "declared twice",
        13,
    );
    fails(
        &format!("{BASE}    disks:\n      - {{ name: \"a{{1..3}}\", size: 1G }}\n      - {{ name: a2, size: 1G }}\n"),
        "`a2` is declared twice",
        13,
    );
    let v = passes(&format!("{BASE}    disks:\n      - {{ name: a, size: 1G }}\n      - {{ name: b, size: 1G }}\n"));
    assert_eq!(v.disks.iter().map(|d| d.device.as_str()).collect::<Vec<_>>(), vec!["xvda", "xvdb"]);
}

#[test]
fn cpu_set_syntax() {
    fails("    memory: 1GiB\n    vcpus: 1\n    cpus: \"4-x\"\n", "bad CPU set", 11);
    let v = passes("    memory: 1GiB\n    vcpus: 1\n    cpus: \"4-7,^5\"\n");
    assert_eq!(v.cpus.map(|p| p.union().to_string()), Some("4,6-7".to_string()));
}

#[test]
fn per_vcpu_list_length() {
    fails("    memory: 1GiB\n    vcpus: 2\n    cpus: [\"4\", \"5\", \"6\"]\n", "has 3 entries but vcpus is 2", 11);
    fails("    memory: 1GiB\n    vcpus: 2\n    maxvcpus: 4\n    cpus: [\"4\", \"5\"]\n", "maxvcpus is 4", 12);
    passes("    memory: 1GiB\n    vcpus: 2\n    maxvcpus: 3\n    cpus: [\"4\", \"5\", \"6-7\"]\n");
}

#[test]
fn pinning_inside_reserved_cpus() {
    fails("    memory: 1GiB\n    vcpus: 1\n    cpus: \"1-3\"\n", "reserves for dom0", 11);
    passes("    memory: 1GiB\n    vcpus: 1\n    cpus: \"2-3\"\n");
}

#[test]
fn bad_sizes() {
    fails("    memory: 4 parsecs\n    vcpus: 1\n", "unknown unit", 9);
    fails(&format!("{BASE}    disks:\n      - {{ name: a, size: 0 }}\n"), "zero", 12);
    fails("    memory: 2GiB\n    maxmem: 1GiB\n    vcpus: 1\n", "below memory", 10);
    let v = passes("    memory: 2048\n    vcpus: 1\n");
    assert_eq!(v.memory_mib, 2048);
}

#[test]
fn bad_macs() {
    fails(
        &format!("{BASE}    networks:\n      - {{ bridge: xenbr0, mac: \"00:21:f6:zz:00:01\" }}\n"),
        "not a MAC address",
        12,
    );
    passes(&format!("{BASE}    networks:\n      - {{ bridge: xenbr0, mac: \"00:21:F6:00:00:01\" }}\n"));
}

#[test]
fn duplicate_macs_across_vms() {
    let y = format!(
        "{HOST}vms:\n  a:\n    host: h1\n{BASE}    networks: [{{ bridge: b, mac: \"00:16:3e:00:00:01\" }}]\n  b:\n    host: h1\n{BASE}    networks: [{{ bridge: b, mac: \"00:16:3e:00:00:01\" }}]\n"
    );
    let errs = load(&y).expect_err("same MAC");
    assert!(errs.iter().any(|d| d.message.contains("also used by VM `a`")), "{errs:#?}");
}

#[test]
fn brace_range_limit() {
    fails(&format!("{BASE}    disks:\n      - {{ name: \"d{{1..257}}\", size: 1G }}\n"), "at most 256", 12);
    let v = passes(&format!("{BASE}    disks:\n      - {{ name: \"d{{001..100}}\", size: 1G }}\n"));
    assert_eq!(v.disks.len(), 100);
    assert_eq!(v.disks[99].device, "xvdcv");
}

#[test]
fn unsafe_names() {
    let errs = load(&format!("{HOST}vms:\n  \"a;rm -rf /\":\n    host: h1\n{BASE}")).expect_err("unsafe");
    assert!(errs.iter().any(|d| d.message.contains("VM name")), "{errs:#?}");
    fails(&format!("{BASE}    disks:\n      - {{ name: \"$(reboot)\", size: 1G }}\n"), "disk name", 12);
    fails(&format!("{BASE}    snapshots: {{ present: [\"a b\"] }}\n"), "snapshot name", 11);
    passes(&format!("{BASE}    snapshots: {{ present: [before-upgrade], keep: 3 }}\n"));
}

#[test]
fn vnc_password_never_inline() {
    let body = format!("{BASE}    console:\n      vnc: {{ password: hunter2 }}\n");
    fails(&body, "written inline", 12);
    let errs = load(&vm(&body)).expect_err("inline");
    assert!(!format!("{errs:?}").contains("hunter2"), "the secret must not be echoed");
    let v = passes(&format!("{BASE}    console:\n      vnc: {{ password: {{ env: V1_VNC }} }}\n"));
    assert!(v.console.vnc.is_some_and(|vnc| vnc.password.is_some()));
}

#[test]
fn disk_shapes() {
    fails(&format!("{BASE}    disks:\n      - {{ name: a }}\n"), "needs a `size`", 12);
    fails(&format!("{BASE}    disks:\n      - {{ name: a, size: 1G, path: /x.img }}\n"), "either `name`", 12);
    fails(&format!("{BASE}    disks:\n      - {{ path: relative.img }}\n"), "absolute path", 12);
    fails(&format!("{BASE}    disks:\n      - {{ path: \"/a,b.img\" }}\n"), "cannot hold", 12);
    fails(&format!("{BASE}    disks:\n      - {{ path: /q.img, mode: rw }}\n"), "unknown disk mode", 12);
    fails(&format!("{BASE}    disks:\n      - {{ path: /q.img, device: eth0 }}\n"), "not a guest disk device", 12);
    let v = passes(&format!("{BASE}    disks:\n      - {{ path: /OVS/q.img, mode: \"w!\", device: xvdc }}\n      - {{ name: s, size: 1G }}\n"));
    assert_eq!(v.disks[0].device, "xvdc");
    assert_eq!(v.disks[1].device, "xvda");
}

#[test]
fn extra_config_cannot_shadow_owned_keys() {
    fails(&format!("{BASE}    extra_config: {{ memory: 5 }}\n"), "managed by domform", 11);
    fails(&format!("{BASE}    extra_config: {{ \"a-b\": 5 }}\n"), "not a vm.cfg key", 11);
    let v = passes(&format!("{BASE}    extra_config: {{ on_crash: restart, hap: 1, OVM_high_availability: false }}\n"));
    assert_eq!(v.extra_config.len(), 3);
}

#[test]
fn vcpu_counts() {
    fails("    memory: 1GiB\n    vcpus: 0\n", "at least one vCPU", 10);
    fails("    memory: 1GiB\n    vcpus: 4\n    maxvcpus: 2\n", "below vcpus", 11);
    fails("    memory: 1GiB\n    vcpus: many\n", "expected a whole number", 10);
}

#[test]
fn state_values() {
    fails("    memory: 1GiB\n    vcpus: 1\n    state: runing\n", "did you mean `running`?", 11);
    assert_eq!(passes("    memory: 1GiB\n    vcpus: 1\n    state: paused\n").state, domform::model::VmState::Paused);
}

#[test]
fn licences_reference_vms() {
    let y = format!("{}licences:\n  ee: {{ vms: [v1, v9], max_cores: 0 }}\n", vm(BASE));
    let errs = load(&y).expect_err("bad licence");
    assert!(errs.iter().any(|d| d.message.contains("unknown VM `v9`")));
    assert!(errs.iter().any(|d| d.message.contains("max_cores must be at least 1")));
    let ok = load(&format!("{}licences:\n  ee: {{ vms: [v1], max_cores: 2 }}\n", vm(BASE))).expect("valid");
    assert!((ok.licences["ee"].core_factor - 0.5).abs() < f64::EPSILON);
}

#[test]
fn host_fields() {
    let errs = load("hosts:\n  h1:\n    repository: relative\n    reserved_cpus: \"0-\"\n").expect_err("bad host");
    assert!(errs.iter().any(|d| d.message.contains("has no `address`")));
    assert!(errs.iter().any(|d| d.message.contains("absolute path")));
    assert!(errs.iter().any(|d| d.message.contains("bad CPU set")));
    let ok =
        load("hosts:\n  h1:\n    transport: local\n    repository: /OVS/r\n").expect("local host needs no address");
    assert_eq!(ok.hosts["h1"].address, "localhost");
}

#[test]
fn yaml_syntax_error_is_located() {
    let errs = load("hosts:\n  h1: [1, 2\nvms: {}\n").expect_err("syntax");
    assert!(errs[0].message.contains("YAML syntax error"));
    assert!(errs[0].location.is_some());
}

#[test]
fn unreadable_and_missing_files() {
    let errs = manifest::load(&[PathBuf::from("/nonexistent/domform.yaml")]).expect_err("missing");
    assert!(errs[0].message.contains("cannot read"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("x.yaml"), [0xff, 0xfe, 0x00]).expect("write");
    let errs = manifest::load(&[dir.path().join("x.yaml")]).expect_err("binary");
    assert!(errs[0].message.contains("not UTF-8"));
}

#[test]
fn no_panic_on_mangled_input() {
    // Deterministic mutations of a valid file: every result is Ok or located errors, never a panic.
    let base =
        vm(&format!("{BASE}    cpus: [\"4\", \"5\"]\n    disks:\n      - {{ name: \"d{{1..3}}\", size: 1G }}\n"));
    let bytes = base.as_bytes();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut m = bytes.to_vec();
        let pos = (seed as usize) % m.len();
        match seed % 4 {
            0 => m[pos] = (seed >> 8) as u8,
            1 => {
                m.remove(pos);
            }
            2 => m.insert(pos, b"{}[]:-\"'&*!|>\n\t#"[(seed >> 16) as usize % 16]),
            _ => m.truncate(pos),
        }
        let text = String::from_utf8_lossy(&m).into_owned();
        if let Err(errs) = load(&text) {
            assert!(errs.iter().any(Diagnostic::is_error));
        }
    }
}

fn messages(yaml: &str) -> String {
    let errs = load(yaml).expect_err("should fail");
    errs.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_missing_required_key_hides_no_other_mistake_of_the_vm() {
    // No `memory`, and a per-vCPU `cpus` list longer than `vcpus`: both reported.
    let m = messages(&vm("    vcpus: 2\n    cpus: [\"2\", \"3\", \"4\"]\n"));
    assert!(m.contains("VM `v1` needs `memory`") && m.contains("t.yaml:"), "{m}");
    assert!(m.contains("has 3 entries but vcpus is 2"), "{m}");
    // No `host` either, and a value of the wrong type: every mistake at once.
    let m = messages(&format!(
        "{HOST}vms:\n  v1:\n    vcpus: lots\n    memroy: 2\n    disks:\n      - {{ name: d, size: 12 parsecs }}\n    networks:\n      - {{ bridge: xenbr0, mac: nope }}\n"
    ));
    for needle in ["needs `host`", "needs `memory`", "vcpus", "did you mean `memory`?", "parsecs", "not a MAC address"]
    {
        assert!(m.contains(needle), "{needle:?} missing from:\n{m}");
    }
    assert!(!m.contains("needs `vcpus`"), "a key dropped for its bad value is not reported twice:\n{m}");
}

#[test]
fn absent_vms_need_no_memory_or_vcpus() {
    let model = load(&format!("{HOST}vms:\n  old:\n    host: h1\n    state: absent\n    allow_destroy: true\n"))
        .unwrap_or_else(|e| panic!("an absent VM without memory and vcpus: {e:#?}"));
    assert!(model.vms.contains_key("old"));
    let m = messages(&format!("{HOST}vms:\n  v2:\n    host: h1\n    state: stopped\n"));
    assert!(m.contains("needs `memory`") && m.contains("needs `vcpus`"), "{m}");
}
