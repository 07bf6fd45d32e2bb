//! Sizes against the host (issue 14): absurd memory, vCPUs, disks and brace ranges are refused
//! before anything runs; more disk than the repository has free is allowed (sparse) and said.

mod common;
use common::{info_text, DOM0};

use domform::diag::Diagnostic;
use domform::manifest;
use domform::model::Model;
use domform::observe::{Observed, Repository};
use domform::plan;
use domform::xen;

const REPO: &str = "/OVS/Repositories/r";

fn load(vm_body: &str) -> Result<Model, Vec<Diagnostic>> {
    let yaml =
        format!("hosts:\n  h1:\n    transport: local\n    repository: {REPO}\nvms:\n  big:\n    host: h1\n{vm_body}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    manifest::load(&[path])
}

fn errors(vm_body: &str) -> String {
    load(vm_body).expect_err("refused").iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

fn observed(fs: &str, free: u64) -> Observed {
    Observed {
        host: "h1".into(),
        info: Some(xen::parse_xm_info(&info_text()).expect("xm info parses")),
        domains: xen::parse_xm_list_long(DOM0).expect("xm list -l parses"),
        repos: vec![Repository {
            path: REPO.into(),
            exists: true,
            fs_type: Some(fs.into()),
            free_bytes: Some(free),
            ..Repository::default()
        }],
        ..Observed::default()
    }
}

fn plan_of(vm_body: &str, fs: &str, free: u64) -> plan::HostPlan {
    let m = load(vm_body).unwrap_or_else(|e| panic!("{e:?}"));
    plan::plan_host(&m, &observed(fs, free))
}

#[test]
fn memory_and_vcpus_beyond_the_host_are_refused_at_plan_time() {
    let hp = plan_of("    memory: 10240TiB\n    vcpus: 2\n", "ocfs2", 1 << 40);
    assert!(hp.errors.iter().any(|e| e.contains("10240TiB") && e.contains("64GiB in all")), "{:?}", hp.errors);
    assert!(hp.changes.is_empty() || !hp.errors.is_empty());
    let hp = plan_of("    memory: 1GiB\n    vcpus: 16\n", "ocfs2", 1 << 40);
    assert!(hp.errors.iter().any(|e| e.contains("16 vCPUs") && e.contains("8 logical CPUs")), "{:?}", hp.errors);
    let hp = plan_of("    memory: 1GiB\n    vcpus: 2\n    maxvcpus: 12\n", "ocfs2", 1 << 40);
    assert!(hp.errors.iter().any(|e| e.contains("12 vCPUs")), "{:?}", hp.errors);
    let hp = plan_of("    memory: 4GiB\n    vcpus: 8\n", "ocfs2", 1 << 40);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
}

#[test]
fn xen_limits_and_absurd_sizes_are_refused_by_validation() {
    let e = errors("    memory: 1GiB\n    vcpus: 10000\n");
    assert!(e.contains("vcpus is 10000; a Xen guest has at most 128") && e.contains("domform.yaml:"), "{e}");
    // 18 EB as a byte count: fits a u64, not a file offset.
    let e = errors("    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: huge, size: 18000000000000000000 }\n");
    assert!(e.contains("larger than any file can be (8 EiB)") && e.contains("domform.yaml:"), "{e}");
    let e = errors("    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: \"d{1..4096}\", size: 1GiB }\n");
    assert!(e.contains("at most 256"), "{e}");
    let e = errors(
        "    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: \"a{1..200}\", size: 1GiB }\n      - { name: \"b{1..200}\", size: 1GiB }\n",
    );
    assert!(e.contains("400 disks; a VM has at most 256"), "{e}");
}

#[test]
fn disks_against_the_repository() {
    // Larger than the file system's largest file: refused.
    let hp =
        plan_of("    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: d, size: 20TiB }\n", "ext2/ext3", 1 << 50);
    assert!(hp.errors.iter().any(|e| e.contains("20TiB") && e.contains("16TiB")), "{:?}", hp.errors);
    let hp =
        plan_of("    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: d, size: 20TiB }\n", "ocfs2", 1 << 50);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    // More than is free: sparse, so allowed, and said.
    let body = "    memory: 1GiB\n    vcpus: 1\n    disks:\n      - { name: \"d{1..2}\", size: 600GiB }\n";
    let hp = plan_of(body, "ocfs2", 1 << 40);
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    assert!(hp.warnings.iter().any(|w| w.contains("1200GiB") && w.contains("sparse")), "{:?}", hp.warnings);
    assert_eq!(hp.changes.iter().filter(|c| c.id.starts_with("disk/")).count(), 2);
    let hp = plan_of(body, "ocfs2", 4 << 40);
    assert!(hp.warnings.is_empty(), "{:?}", hp.warnings);
}
