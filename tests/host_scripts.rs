//! Every script domform runs on a host, against the oldest supported dom0 userland.
//!
//! Oracle VM 3.0-3.2 dom0s are Oracle Linux 5: bash 3.2, coreutils 5.97 (no `truncate`, no
//! `timeout`, no `cp --reflink`) and maybe no flock(1) (docs/hosts-userland.md). Here each
//! generated script must parse under `dash` and `bash --posix`, avoid bash-4-only syntax, and the
//! parts that replaced the missing tools must work under dash with a PATH that lacks them: an
//! "OL5" folder holding every tool of this machine except `truncate`, `timeout` and `flock`, with a
//! `cp` that rejects `--reflink` as coreutils 5.97 does. No root needed.

use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use domform::apply::script;
use domform::licence::evidence;
use domform::model::Toolstack;
use domform::observe::lock;
use domform::observe::{self, ObserveRequest};
use domform::plan::{Action, Change, Impact, Op, Resource};
use domform::transport::write_atomic_script;

const DASH: &str = "/bin/dash";

/// dash is Debian's /bin/sh; a machine without it cannot run these checks.
fn have_dash(test: &str) -> bool {
    if Path::new(DASH).exists() {
        return true;
    }
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{test}: {DASH} is required under CI=true");
    eprintln!("\n!!! SKIPPED {test}: no {DASH} (apt-get install dash) !!!\n");
    false
}

fn change(id: &str, ops: Vec<Op>) -> Change {
    Change {
        id: id.into(),
        resource: Resource::Vm,
        name: id.into(),
        action: Action::Update,
        impact: Impact::Live,
        fields: Vec::new(),
        file: None,
        ops,
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    }
}

/// One of every op, with paths that need quoting.
fn every_op() -> Vec<Op> {
    let r = "/OVS/Repositories/r 1";
    vec![
        Op::CreateDisk { path: format!("{r}/VirtualDisks/a b.img"), size: 1 << 30 },
        Op::GrowDisk { path: format!("{r}/VirtualDisks/a b.img"), from: 1 << 30, to: 2 << 30 },
        Op::WriteFile {
            path: format!("{r}/VirtualMachines/x/vm.cfg"),
            content: "name = 'x'\n".into(),
            backup: true,
            secrets: Vec::new(),
        },
        Op::Xen { args: vec!["create".into(), format!("{r}/VirtualMachines/x/vm.cfg")] },
        Op::Virsh { args: vec!["define".into(), "--file".into(), format!("{r}/VirtualMachines/x/domain.xml")] },
        Op::Shutdown { domain: "x".into(), timeout_secs: 30, force: true },
        Op::Shutdown { domain: "x".into(), timeout_secs: 30, force: false },
        Op::RemoveVmDir { dir: format!("{r}/VirtualMachines/x") },
        Op::DeleteFile { path: format!("{r}/VirtualDisks/a b.img") },
        Op::Snapshot {
            parent: format!("{r}/Snapshots/x"),
            name: None,
            vm: "x".into(),
            cfg_path: format!("{r}/VirtualMachines/x/vm.cfg"),
            disks: vec![format!("{r}/VirtualDisks/a b.img")],
            pause: Some("x".into()),
            memory: Some("x".into()),
            allow_full_copy: false,
            running: true,
            domain: None,
        },
        Op::Revert {
            dir: format!("{r}/Snapshots/x/s1"),
            cfg_path: format!("{r}/VirtualMachines/x/vm.cfg"),
            disks: vec![(format!("{r}/Snapshots/x/s1/disks/00-a b.img"), format!("{r}/VirtualDisks/a b.img"))],
            domain: None,
        },
        // The libvirt forms: the domain's XML kept, suspend/save/restore around the clones.
        Op::Snapshot {
            parent: format!("{r}/Snapshots/x y"),
            name: Some("s 1".into()),
            vm: "x y".into(),
            cfg_path: String::new(),
            disks: vec![format!("{r}/VirtualDisks/a b.img")],
            pause: Some("x y".into()),
            memory: Some("x y".into()),
            allow_full_copy: false,
            running: true,
            domain: Some("x y".into()),
        },
        Op::Snapshot {
            parent: format!("{r}/Snapshots/x y"),
            name: None,
            vm: "x y".into(),
            cfg_path: String::new(),
            disks: vec![format!("{r}/VirtualDisks/a b.img")],
            pause: None,
            memory: None,
            allow_full_copy: true,
            running: false,
            domain: Some("x y".into()),
        },
        Op::Revert {
            dir: format!("{r}/Snapshots/x y/s 1"),
            cfg_path: String::new(),
            disks: vec![(format!("{r}/Snapshots/x y/s 1/disks/00-a b.img"), format!("{r}/VirtualDisks/a b.img"))],
            domain: Some("x y".into()),
        },
        Op::DeleteSnapshot { dir: format!("{r}/Snapshots/x/s1") },
        Op::ReplaceFile { path: "/u01/domain/config/jdbc/ds.xml".into(), content: "<a/>\n".into() },
        Op::RunCommand { command: "/u01/bin/restart.sh".into() },
        Op::OrElse {
            first: Box::new(Op::DeleteSnapshot { dir: format!("{r}/Snapshots/x/s2") }),
            on_failure: vec![Op::Xen { args: vec!["create".into(), format!("{r}/VirtualMachines/x/vm.cfg")] }],
        },
    ]
}

/// Every script domform generates for a host, by name.
fn all_scripts() -> Vec<(String, String)> {
    let m = "@@domform-0123456789abcdef";
    let mut out = Vec::new();
    for ts in [Toolstack::Xm, Toolstack::Xl, Toolstack::Libvirt] {
        let req = ObserveRequest {
            toolstack: ts,
            uri: "qemu+ssh://x y/system".into(),
            repositories: vec!["/OVS/Repositories/r 1".into()],
            extra_paths: vec!["/x/it's.img".into()],
        };
        let obs = observe::script::build(&req, m);
        out.push((
            format!("lock+observe {ts:?}"),
            lock::script("/OVS/Repositories/r 1/.domform.lock", "controller=c pid=1", m, &obs),
        ));
        out.push((format!("observe {ts:?}"), obs));
        out.push((
            format!("apply {ts:?}"),
            script::build(&[change("vm/x", every_op())], &domform::model::Tool::with_uri(ts, "qemu:///system"), m),
        ));
        let target = evidence::Target {
            vm: "x".into(),
            xen_name: "0004fb00000600001234".into(),
            cfg: Some("/OVS/Repositories/r 1/VirtualMachines/x/vm.cfg".into()),
            running: true,
        };
        let tool = domform::model::Tool::with_uri(ts, "qemu:///system");
        out.push((format!("licence evidence {ts:?}"), evidence::script(&tool, &[target], m).0));
    }
    out.push(("manager observe".into(), domform::target::manager::observe::script("/u01/domain", m)));
    out.push(("write atomic".into(), write_atomic_script("/etc/x y", true)));
    out.push(("write atomic, no backup".into(), write_atomic_script("/etc/x y", false)));
    out
}

fn run(sh: &str, args: &[&str], script: &str) -> Output {
    Command::new(sh).args(args).arg("-c").arg(script).output().expect("shell runs")
}

#[test]
fn every_host_script_parses_under_dash_and_bash_posix() {
    if !have_dash("every_host_script_parses_under_dash_and_bash_posix") {
        return;
    }
    for (name, text) in all_scripts() {
        for (sh, args) in [(DASH, &["-n"][..]), ("bash", &["--posix", "-n"][..])] {
            let out = run(sh, args, &text);
            assert!(
                out.status.success(),
                "{name} does not parse under {sh}: {}\n{text}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn no_host_script_uses_bash4_syntax_or_missing_tools() {
    // dash -n accepts `[[` and friends as command names, so they are looked for as text. The
    // values in these scripts are plain, so a hit is the script's own syntax.
    let banned = [
        ("[[", "bash test"),
        ("|&", "bash 4 pipe"),
        ("&>", "bash redirection"),
        ("mapfile", "bash 4"),
        ("readarray", "bash 4"),
        (",,}", "bash 4 case change"),
        ("^^}", "bash 4 case change"),
        ("<<<", "bash here-string"),
        ("<(", "bash process substitution"),
        ("$'", "bash quoting"),
        ("declare ", "bash"),
        ("function ", "bash"),
        ("=(", "bash array"),
        ("[@]", "bash array"),
        ("%q", "bash printf"),
        ("${PIPESTATUS", "bash"),
        ("truncate", "coreutils 7.0, not on OL5"),
        ("timeout ", "coreutils 7.0, not on OL5"),
        ("flock -", "util-linux flock(1), maybe not on OL5: only behind `command -v flock`"),
    ];
    for (name, text) in all_scripts() {
        for (token, why) in banned {
            for line in text.lines().filter(|l| l.contains(token)) {
                let guarded = token == "flock -" && text.contains("if command -v flock");
                assert!(guarded, "{name}: `{token}` ({why}) in: {line}");
            }
        }
    }
}

/// A folder standing in for OL5's PATH: this machine's tools, minus what OL5 lacks, plus a
/// `cp` that rejects `--reflink` like coreutils 5.97, and `python` when python3 exists.
struct Ol5Path {
    dir: tempfile::TempDir,
}

impl Ol5Path {
    fn new() -> Ol5Path {
        let dir = tempfile::tempdir().expect("tempdir");
        let hidden = ["truncate", "timeout", "flock", "cp", "python", "reflink", "xm"];
        for e in std::fs::read_dir("/usr/bin").expect("/usr/bin").flatten() {
            let name = e.file_name();
            if !hidden.iter().any(|h| name == *h) {
                let _ = symlink(e.path(), dir.path().join(&name));
            }
        }
        let real_cp = std::fs::canonicalize("/usr/bin/cp").expect("cp");
        let p = Ol5Path { dir };
        p.tool(
            "cp",
            &format!(
                "#!/bin/sh\nfor a in \"$@\"; do case $a in --) break ;; --reflink*) echo \"cp: unrecognized option \\`$a'\" >&2; exit 1 ;; esac; done\nexec {} --reflink=never \"$@\"\n",
                real_cp.display()
            ),
        );
        if Path::new("/usr/bin/python3").exists() {
            let _ = symlink("/usr/bin/python3", p.dir.path().join("python"));
        }
        p
    }

    fn tool(&self, name: &str, text: &str) {
        let f = self.dir.path().join(name);
        let _ = std::fs::remove_file(&f);
        std::fs::write(&f, text).expect("write tool");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.path().join(name));
    }

    fn cmd(&self, script: &str) -> Command {
        let mut c = Command::new(DASH);
        c.arg("-c").arg(script).env_clear().env("PATH", self.dir.path()).env("LC_ALL", "C");
        c
    }

    fn run(&self, script: &str) -> Output {
        self.cmd(script).stdin(Stdio::null()).output().expect("dash runs")
    }

    fn has(&self, name: &str) -> bool {
        self.dir.path().join(name).exists()
    }
}

fn batch(ops: Vec<Op>) -> String {
    script::build(&[change("step", ops)], &domform::model::Tool::xen(Toolstack::Xm), "@@m")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn disks_are_made_sparse_and_grown_without_truncate() {
    if !have_dash("disks_are_made_sparse_and_grown_without_truncate") {
        return;
    }
    let ol5 = Ol5Path::new();
    assert!(!ol5.has("truncate"));
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("a disk.img");
    let p = disk.to_str().expect("utf-8").to_string();
    let gib = 1u64 << 30;

    let out = ol5.run(&batch(vec![Op::CreateDisk { path: p.clone(), size: 3 * gib + 512 }]));
    assert!(out.status.success(), "{}", text(&out));
    let meta = std::fs::metadata(&disk).expect("made");
    assert_eq!(meta.len(), 3 * gib + 512);
    assert!(meta.blocks() < 64, "sparse: {} blocks", meta.blocks());
    assert!(!text(&out).contains("records"), "dd's counts are shown only on failure: {}", text(&out));

    // An existing file is never overwritten.
    let again = ol5.run(&batch(vec![Op::CreateDisk { path: p.clone(), size: gib }]));
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    assert_eq!(std::fs::metadata(&disk).expect("kept").len(), 3 * gib + 512);

    // Growing keeps the data; shrinking is refused and changes nothing.
    let mut f = std::fs::OpenOptions::new().write(true).open(&disk).expect("open");
    f.write_all(b"KEEP-ME").expect("write");
    drop(f);
    let out = ol5.run(&batch(vec![Op::GrowDisk { path: p.clone(), from: 3 * gib + 512, to: 5 * gib }]));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::metadata(&disk).expect("grown").len(), 5 * gib);
    let shrink = ol5.run(&batch(vec![Op::GrowDisk { path: p.clone(), from: 5 * gib, to: gib }]));
    assert!(!shrink.status.success());
    assert!(text(&shrink).contains("not shrinking"), "{}", text(&shrink));
    assert_eq!(std::fs::metadata(&disk).expect("kept").len(), 5 * gib);
    let same = ol5.run(&batch(vec![Op::GrowDisk { path: p.clone(), from: 5 * gib, to: 5 * gib }]));
    assert!(same.status.success(), "{}", text(&same));
    let mut head = [0u8; 7];
    std::io::Read::read_exact(&mut std::fs::File::open(&disk).expect("open"), &mut head).expect("read");
    assert_eq!(&head, b"KEEP-ME");
}

/// Pids of processes whose command line contains `needle`.
fn pids_with(needle: &str) -> Vec<String> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(needle) {
            pids.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    pids
}

#[test]
fn a_wedged_shutdown_is_stopped_by_the_watchdog_and_nothing_is_left_running() {
    if !have_dash("a_wedged_shutdown_is_stopped_by_the_watchdog_and_nothing_is_left_running") {
        return;
    }
    let ol5 = Ol5Path::new();
    assert!(!ol5.has("timeout"));
    // A unique sleep length marks the wedged `xm shutdown -w` in the process table.
    let wedge = format!("{}.{}", 40 + std::process::id() % 50, std::process::id() % 997);
    ol5.tool(
        "xm",
        &format!(
            "#!/bin/sh\ncase $1 in\n  list) exit 0 ;;\n  shutdown) if [ \"$3\" = slow ]; then exec sleep {wedge}; fi; exit 0 ;;\n  destroy) echo \"destroyed $2\" ;;\nesac\n"
        ),
    );
    let stop = |domain: &str, secs: u64, force: bool| {
        let start = Instant::now();
        let out = ol5.run(&batch(vec![Op::Shutdown { domain: domain.into(), timeout_secs: secs, force }]));
        (out, start.elapsed())
    };

    let (out, took) = stop("fast", 30, false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(took < Duration::from_secs(2), "a quick shutdown returns at once, took {took:?}");

    let (out, took) = stop("slow", 1, true);
    assert!(out.status.success(), "force: {}", text(&out));
    assert!(
        text(&out).contains("destroyed slow") && text(&out).contains("did not stop cleanly within 1s"),
        "{}",
        text(&out)
    );
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(4), "the limit is 1-2 s, took {took:?}");
    assert!(pids_with(&format!("sleep {wedge}")).is_empty(), "the wedged shutdown was stopped");

    let (out, took) = stop("slow", 1, false);
    assert!(!out.status.success());
    assert!(text(&out).contains("did not stop within 1s"), "{}", text(&out));
    assert!(!text(&out).contains("destroyed"), "{}", text(&out));
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(pids_with(&format!("sleep {wedge}")).is_empty(), "nothing left behind");
}

/// Starts the lock script under `ol5` and waits until it printed its `observed` marker or ended.
fn start_lock(ol5: &Ol5Path, lock_file: &str) -> (Child, String) {
    let s = lock::script(lock_file, "controller=test pid=1", "@@m", "echo body");
    let mut child =
        ol5.cmd(&s).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = [0u8; 256];
    loop {
        use std::io::Read;
        let n = stdout.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        if out.contains("@@m observed") {
            break;
        }
    }
    (child, out)
}

#[test]
fn the_host_lock_works_without_flock_through_python() {
    if !have_dash("the_host_lock_works_without_flock_through_python") {
        return;
    }
    let ol5 = Ol5Path::new();
    if !ol5.has("python") {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "python3 is required under CI=true");
        eprintln!("\n!!! SKIPPED the_host_lock_works_without_flock_through_python: no /usr/bin/python3 !!!\n");
        return;
    }
    assert!(!ol5.has("flock"));
    let dir = tempfile::tempdir().expect("tempdir");
    let lock_file = dir.path().join(".domform.lock");
    let l = lock_file.to_str().expect("utf-8");

    let (mut first, out) = start_lock(&ol5, l);
    assert!(out.contains("@@m locked\nbody\n@@m observed"), "first takes the lock: {out}");
    let (mut second, out) = start_lock(&ol5, l);
    let status = second.wait().expect("second ends");
    assert_eq!(status.code(), Some(75), "{out}");
    assert!(out.contains("@@m busy\ncontroller=test pid=1"), "second names the holder: {out}");

    // Closing the first one's stdin ends it; the kernel frees the lock with it.
    drop(first.stdin.take());
    first.wait().expect("first ends");
    let (mut third, out) = start_lock(&ol5, l);
    assert!(out.contains("@@m observed"), "the lock is free again: {out}");
    drop(third.stdin.take());
    third.wait().expect("third ends");

    // Neither flock nor python: a clear error, not "busy".
    let bare = Ol5Path::new();
    bare.remove("python");
    let out = bare.run(&lock::script(l, "c", "@@m", "echo body"));
    assert_eq!(out.status.code(), Some(71), "{}", text(&out));
    assert!(text(&out).contains("neither flock(1) nor python"), "{}", text(&out));
}

#[test]
fn clones_fall_back_from_cp_reflink_to_ocfs2_reflink() {
    if !have_dash("clones_fall_back_from_cp_reflink_to_ocfs2_reflink") {
        return;
    }
    let ol5 = Ol5Path::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("reflink.log");
    let real_cp = std::fs::canonicalize("/usr/bin/cp").expect("cp");
    // ocfs2-tools' reflink, played by a plain copy that logs its call.
    ol5.tool(
        "reflink",
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ ! -e \"$2\" ] || exit 1\nexec {} -- \"$1\" \"$2\"\n",
            log.display(),
            real_cp.display()
        ),
    );
    let src = dir.path().join("d.img");
    std::fs::write(&src, b"DISK").expect("write");
    let dst = dir.path().join("clone.img");
    let s = format!("{}cl {} {} 0", script::CLONE_FN, shq(&src), shq(&dst));
    let out = ol5.run(&s);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&dst).expect("clone"), b"DISK");
    assert!(std::fs::read_to_string(&log).expect("reflink ran").contains("clone.img"));

    // Without reflink and without full copies allowed: a clear refusal, nothing left behind.
    ol5.remove("reflink");
    let dst2 = dir.path().join("clone2.img");
    let out = ol5.run(&format!("{}cl {} {} 0", script::CLONE_FN, shq(&src), shq(&dst2)));
    assert!(!out.status.success());
    assert!(text(&out).contains("allow_full_copy"), "{}", text(&out));
    assert!(!dst2.exists());
}

fn shq(p: &Path) -> String {
    domform::transport::quote(p.to_str().expect("utf-8"))
}
