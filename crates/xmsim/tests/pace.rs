//! The real `xm` binary as a slow or wedged xend: per-call delay and hang mode (`pace.rs`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn xm(root: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xm"));
    c.env("XMSIM_ROOT", root).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

#[test]
fn every_call_waits_the_delay_and_calls_do_not_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("delay"), "1.5\n").expect("delay");
    let start = Instant::now();
    let out = xm(dir.path()).arg("list").output().expect("xm list");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Domain-0"));
    assert!(start.elapsed() >= Duration::from_millis(1500), "answered before the delay");
    // Four calls at once: xend answers them side by side, so they take far less than 4 delays.
    let start = Instant::now();
    let kids: Vec<_> = (0..4).map(|_| xm(dir.path()).args(["info", "-n"]).spawn().expect("spawn")).collect();
    for k in kids {
        assert!(k.wait_with_output().expect("wait").status.success());
    }
    assert!(start.elapsed() < Duration::from_millis(5500), "calls were serialised: {:?}", start.elapsed());
}

#[test]
fn hang_mode_never_answers_until_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hang"), "").expect("hang");
    let mut child = xm(dir.path()).arg("list").spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().expect("try_wait").is_none(), "a hung xm answered");
    // Switching hang mode off does not wake a call already hung, but new calls answer.
    std::fs::remove_file(dir.path().join("hang")).expect("unhang");
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().expect("try_wait").is_none(), "a hung xm woke up");
    let out = xm(dir.path()).arg("list").output().expect("xm list");
    assert!(out.status.success());
    // Only the listed sub-commands hang.
    std::fs::write(dir.path().join("hang"), "create\n").expect("hang create");
    let out = xm(dir.path()).args(["info", "-n"]).output().expect("xm info");
    assert!(out.status.success());
    let mut create = xm(dir.path()).args(["create", "/nonexistent/vm.cfg"]).spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(800));
    assert!(create.try_wait().expect("try_wait").is_none(), "xm create answered in hang mode");
    create.kill().expect("kill");
    let _ = create.wait();
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());
}
