//! Hostile repositories (issue 14): the repository is untrusted input. Planted links, snapshot
//! manifests naming paths outside the VM's disks, vm.cfg disks outside the repository: the
//! planner refuses them all before anything runs.

mod common;
use common::{info_text, DOM0};

use domform::manifest;
use domform::model::Model;
use domform::observe::{CfgFile, FileSize, Observed, Repository, SnapshotInfo};
use domform::plan::{self, snapshot, Op};
use domform::xen;
use vmcfg::VmCfg;

const HOST: &str = "h1";
const REPO: &str = "/OVS/Repositories/r";
const CFG: &str = "/OVS/Repositories/r/VirtualMachines/0004fb00000600001111222233334444/vm.cfg";

fn observed(cfgs: &[(&str, &str)], files: &[&str]) -> Observed {
    Observed {
        host: HOST.into(),
        info: Some(xen::parse_xm_info(&info_text()).expect("xm info parses")),
        domains: xen::parse_xm_list_long(DOM0).expect("xm list -l parses"),
        cfgs: cfgs
            .iter()
            .map(|(p, t)| CfgFile { path: p.to_string(), text: t.to_string(), cfg: VmCfg::parse(t).expect("cfg") })
            .collect(),
        repos: vec![Repository { path: REPO.into(), exists: true, ..Repository::default() }],
        files: files.iter().map(|p| (p.to_string(), FileSize { size: 1 << 30, allocated: 0 })).collect(),
        ..Observed::default()
    }
}

fn model(vms: &str) -> Model {
    let yaml = format!("hosts:\n  {HOST}:\n    transport: local\n    repository: {REPO}\nvms:\n{vms}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    manifest::load(&[path]).unwrap_or_else(|e| panic!("model does not load: {e:#?}"))
}

const WEB: &str =
    "  web01:\n    host: h1\n    memory: 2GiB\n    vcpus: 2\n    disks:\n      - { name: system, size: 10GiB }\n";

fn app_cfg(disks: &str) -> String {
    format!("name = '0004fb00000600001111222233334444'\nOVM_simple_name = 'app01'\nmemory = 1024\nvcpus = 1\ndisk = [{disks}]\n")
}

#[test]
fn a_link_planted_in_virtual_disks_is_refused_at_plan_time() {
    let mut obs = observed(&[], &[]);
    obs.links.insert(format!("{REPO}/VirtualDisks/web01_system.img"));
    let hp = plan::plan_host(&model(WEB), &obs);
    assert!(hp.errors.iter().any(|e| e.contains("symbolic link") && e.contains("web01_system.img")), "{:?}", hp.errors);
    // A linked VirtualDisks/ folder itself is refused the same way.
    let mut obs = observed(&[], &[]);
    obs.links.insert(format!("{REPO}/VirtualDisks"));
    let hp = plan::plan_host(&model(WEB), &obs);
    assert!(hp.errors.iter().any(|e| e.contains("symbolic link")), "{:?}", hp.errors);
}

#[test]
fn an_absent_vm_never_deletes_a_disk_outside_the_repository() {
    let cfg = app_cfg("'file:/etc/important.img,xvda,w'");
    let obs = observed(&[(CFG, &cfg)], &["/etc/important.img"]);
    let hp = plan::plan_host(
        &model("  app01:\n    host: h1\n    state: absent\n    allow_destroy: true\n    memory: 1GiB\n    vcpus: 1\n"),
        &obs,
    );
    let deletes: Vec<&Op> =
        hp.changes.iter().flat_map(|c| &c.ops).filter(|o| matches!(o, Op::DeleteFile { .. })).collect();
    assert!(!hp.errors.is_empty() || deletes.is_empty(), "would delete {deletes:?}");
    assert!(hp.errors.iter().any(|e| e.contains("/etc/important.img") && e.contains("outside")), "{:?}", hp.errors);
}

fn snap(manifest: &str) -> Result<SnapshotInfo, String> {
    SnapshotInfo::parse(&format!("{REPO}/Snapshots/app01/s1"), manifest)
}

#[test]
fn a_planted_manifest_cannot_choose_what_a_revert_overwrites() {
    let disk = format!("{REPO}/VirtualDisks/app01_system.img");
    let cfg = VmCfg::parse(&app_cfg(&format!("'file:{disk},xvda,w'"))).expect("cfg");
    let good = snap(&format!("made_by=domform\nvm=app01\nname=s1\ndisk={disk}|disks/00-app01_system.img|5\n"))
        .expect("a domform manifest parses");
    let changes = snapshot::revert_changes("app01", CFG, &cfg, None, &good, 60, false).expect("revert plans");
    let revert = changes.iter().flat_map(|c| &c.ops).find_map(|o| match o {
        Op::Revert { disks, .. } => Some(disks.clone()),
        _ => None,
    });
    assert_eq!(revert, Some(vec![(format!("{REPO}/Snapshots/app01/s1/disks/00-app01_system.img"), disk.clone())]));
    // A target that is not a disk of the VM's own vm.cfg.
    let evil = snap("made_by=domform\nvm=app01\ndisk=/etc/passwd|disks/00-passwd|5\n").expect("data parses");
    let e = snapshot::revert_changes("app01", CFG, &cfg, None, &evil, 60, false).expect_err("refused").to_string();
    assert!(e.contains("/etc/passwd") && e.contains("not a disk of"), "{e}");
    // A snapshot file outside the folder, a memory file outside it, another VM's name.
    for bad in [
        format!("disk={disk}|../../../../etc/shadow|5\n"),
        format!("disk={disk}|disks/../../x|5\n"),
        "memory=../../etc/x\n".to_string(),
        "vm=db01\n".to_string(),
        "name=other\n".to_string(),
    ] {
        assert!(snap(&bad).is_err(), "accepted {bad:?}");
    }
    // The right target kept under another file name.
    let moved = snap(&format!("disk={disk}|disks/00-other.img|5\n")).expect("data parses");
    assert!(snapshot::revert_changes("app01", CFG, &cfg, None, &moved, 60, false).is_err());
}

#[test]
fn written_paths_stay_inside_the_repository_or_are_declared() {
    // A declared `path:` disk outside the repository is fine; a new disk lands in VirtualDisks/.
    let m = model("  web01:\n    host: h1\n    memory: 2GiB\n    vcpus: 2\n    disks:\n      - { path: /srv/disks/web.img }\n      - { name: data, size: 1GiB }\n");
    let hp = plan::plan_host(&m, &observed(&[], &["/srv/disks/web.img"]));
    assert!(hp.errors.is_empty(), "{:?}", hp.errors);
    for c in &hp.changes {
        for p in c.ops.iter().flat_map(plan::paths::written_paths) {
            assert!(p.starts_with(&format!("{REPO}/")), "{} writes {p}", c.id);
        }
    }
}

#[test]
fn observe_reads_nothing_through_a_planted_link() {
    use domform::model::Toolstack;
    use domform::observe::ObserveRequest;
    use domform::transport::local::LocalTransport;
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("VirtualMachines/x")).expect("mkdir");
    std::fs::create_dir_all(repo.join("Snapshots/app01/s1")).expect("mkdir");
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:SECRET-HASH:19000::::::\n").expect("secret");
    std::os::unix::fs::symlink(&secret, repo.join("VirtualMachines/x/vm.cfg")).expect("link");
    std::os::unix::fs::symlink(&secret, repo.join("Snapshots/app01/s1/manifest")).expect("link");
    let req = ObserveRequest {
        toolstack: Toolstack::Xm,
        uri: String::new(),
        repositories: vec![repo.display().to_string()],
        extra_paths: vec![],
    };
    let obs = domform::observe::observe(&mut LocalTransport::new("h1"), &req).expect("runs");
    assert!(obs.cfgs.is_empty() && obs.snapshots.is_empty(), "{:?} {:?}", obs.cfgs, obs.snapshots);
    let problems: Vec<String> = obs.problems.iter().map(|p| p.to_string()).collect();
    assert!(problems.iter().any(|p| p.contains("vm.cfg") && p.contains("symbolic link")), "{problems:?}");
    assert!(!format!("{problems:?}").contains("SECRET"), "{problems:?}");
    assert!(obs.links.iter().any(|l| l.ends_with("VirtualMachines/x/vm.cfg")), "{:?}", obs.links);
}
