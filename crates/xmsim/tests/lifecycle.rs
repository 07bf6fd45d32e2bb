//! Domain lifecycle: shutdown timing, reboot, pause, live changes,
//! save/restore, block devices, console, the command log and concurrency.

mod common;
use common::{list_rows, Host};
use std::time::{Duration, Instant};

fn state_of(h: &Host, dom: &str) -> String {
    list_rows(&h.ok(&["list", dom]))[0][4].clone()
}

#[test]
fn slow_shutdown_shows_s_then_disappears() {
    let h = Host::new(Some("shutdown_seconds = 0.5\n"));
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    let t0 = Instant::now();
    assert_eq!(h.ok(&["shutdown", "a"]), "");
    assert!(t0.elapsed() < Duration::from_millis(400), "shutdown without -w must not block");
    assert_eq!(state_of(&h, "a"), "---s--");
    assert_eq!(h.ok(&["domstate", "a"]), "shutdown\n");
    let out = h.ok(&["shutdown", "-w", "a"]);
    assert_eq!(out, "Domain a terminated\nAll domains terminated\n");
    assert!(t0.elapsed() >= Duration::from_millis(500));
    assert_eq!(h.fails(&["list", "a"]), "Error: Domain 'a' does not exist.\n");
}

#[test]
fn shutdown_lazily_completes_and_zero_is_immediate() {
    let h = Host::new(Some("shutdown_seconds = 0.2\n"));
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    h.ok(&["shutdown", "a"]);
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(list_rows(&h.ok(&["list"])).len(), 1);

    let h = Host::new(None);
    let a = h.simple_cfg("a", "");
    let b = h.simple_cfg("b", "");
    h.ok(&["create", &a]);
    h.ok(&["create", &b]);
    h.ok(&["shutdown", "-a", "-w"]);
    assert_eq!(list_rows(&h.ok(&["list"])).len(), 1);
    assert_eq!(h.fails(&["shutdown", "Domain-0"]), "Error: Domain 0 cannot be shutdown\n");
    assert_eq!(h.fails(&["destroy", "0"]), "Error: Cannot destroy privileged domain 0\n");
}

#[test]
fn reboot_gives_a_new_domid() {
    let h = Host::new(Some("shutdown_seconds = 0.1\n"));
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    h.ok(&["reboot", "a"]);
    assert_eq!(state_of(&h, "a"), "---s--");
    assert_eq!(h.ok(&["reboot", "-w", "a"]), "Domain a rebooted\nAll domains rebooted\n");
    assert_eq!(h.ok(&["domid", "a"]), "2\n");
    assert_eq!(state_of(&h, "a"), "-b----");
}

#[test]
fn pause_unpause_and_paused_shutdown() {
    let h = Host::new(Some("shutdown_seconds = 0.1\n"));
    let a = h.simple_cfg("a", "");
    h.ok(&["create", "-p", &a]);
    assert_eq!(state_of(&h, "a"), "--p---");
    let vl = h.ok(&["vcpu-list", "a"]);
    assert!(vl.lines().skip(1).all(|l| l.split_whitespace().nth(4) == Some("---")), "{vl}");
    assert_eq!(h.fails(&["pause", "a"]), "Error: Domain is already paused\n");
    h.ok(&["unpause", "a"]);
    assert_eq!(state_of(&h, "a"), "-b----");
    assert_eq!(h.fails(&["unpause", "a"]), "Error: Domain is not paused\n");
    h.ok(&["pause", "a"]);
    // A paused guest cannot act on a shutdown request until unpaused.
    h.ok(&["shutdown", "a"]);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(state_of(&h, "a"), "--ps--");
    // Unpaused, it acts on the pending request by itself (no second shutdown needed). Polled,
    // not slept: on a loaded machine the next call may come after the 0.1 s shutdown anyway.
    h.ok(&["unpause", "a"]);
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        h.xm(&["list", "a"]).code != 0
    });
    assert!(gone, "the pending shutdown completes once unpaused");
    assert!(h.fails(&["list", "a"]).contains("does not exist"));
}

#[test]
fn vcpu_set_and_mem_set_limits() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "maxvcpus = 4\nmaxmem = 2048\n");
    h.ok(&["create", &a]);
    h.ok(&["vcpu-set", "a", "4"]);
    assert_eq!(list_rows(&h.ok(&["list", "a"]))[0][3], "4");
    assert_eq!(h.fails(&["vcpu-set", "a", "5"]), "Error: Cannot set vcpus greater than max vcpus on running domain\n");
    h.ok(&["mem-set", "a", "2048"]);
    assert_eq!(list_rows(&h.ok(&["list", "a"]))[0][2], "2048");
    assert!(h.fails(&["mem-set", "a", "4096"]).contains("memory_static_max"));
    h.ok(&["mem-set", "a", "1g"]);
    assert_eq!(list_rows(&h.ok(&["list", "a"]))[0][2], "1024");
    assert_eq!(
        h.fails(&["vcpu-pin", "a", "9", "1"]),
        "Error: Cannot pin vcpu: 9 to cpu: [1] - (22, 'Invalid argument')\n"
    );
}

#[test]
fn save_and_restore() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "cpus = '2-3'\n");
    h.ok(&["create", &a]);
    let ck = h.path("a.chk").display().to_string();
    h.ok(&["save", "-c", "a", &ck]);
    assert_eq!(h.ok(&["domid", "a"]), "1\n");
    h.ok(&["save", "a", &ck]);
    assert!(h.fails(&["list", "a"]).contains("does not exist"));
    h.ok(&["restore", &ck]);
    assert_eq!(h.ok(&["domid", "a"]), "2\n");
    assert!(h.ok(&["vcpu-list", "a"]).contains(" 2-3\n"));
    assert_eq!(h.fails(&["restore", &ck]), "Error: VM name 'a' already exists as domain 2\n");
    let bad = h.path("nodir/x.chk").display().to_string();
    assert_eq!(h.fails(&["save", "a", &bad]), format!("Error: xm save: Unable to create file {bad}\n"));
    let missing = h.path("missing.chk").display().to_string();
    assert_eq!(h.fails(&["restore", &missing]), format!("Error: xm restore: Unable to read file {missing}\n"));
    h.ok(&["destroy", "a"]);
    h.ok(&["restore", "-p", &ck]);
    assert_eq!(state_of(&h, "a"), "--p---");
}

#[test]
fn block_attach_detach_list() {
    let h = Host::new(None);
    let a = h.simple_cfg("a", "");
    h.ok(&["create", &a]);
    let d2 = h.disk("extra.img");
    h.ok(&["block-attach", "a", &format!("file:{d2}"), "xvdb", "w"]);
    let out = h.ok(&["block-list", "a"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Vdev  BE handle state evt-ch ring-ref BE-path");
    assert!(lines[1].starts_with("51712 "));
    assert!(lines[2].starts_with("51728 "));
    assert!(h.ok(&["list", "-l", "a"]).contains(&format!("(uname file:{d2})")));
    assert_eq!(
        h.fails(&["block-attach", "a", &format!("file:{d2}"), "xvdb", "w"]),
        "Error: Device 51728 (vbd) is already connected.\n"
    );
    assert!(h.fails(&["block-attach", "a", "file:/no/such.img", "xvdc", "w"]).contains("could not be connected"));
    h.ok(&["block-attach", "a", "file:/no/such.iso", "/dev/hdc:cdrom", "r"]);
    h.ok(&["block-detach", "a", "xvdb"]);
    h.ok(&["block-detach", "a", "5632"]);
    assert_eq!(h.ok(&["block-list", "a"]).lines().count(), 2);
    assert_eq!(h.fails(&["block-detach", "a", "xvdq"]), "Error: Device xvdq not connected\n");
}

#[test]
fn console_conversation() {
    let h = Host::new(None);
    let a = h.simple_cfg("vm1.example.com", "");
    h.ok(&["create", &a]);
    let o = h.run_as("xm", &["console", "vm1.example.com"], b"root\nroot\nuname -r\n\x1dafter");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("\r\nvm1 login: root\r\nPassword: \r\nLast login: "));
    assert!(o.stdout.ends_with("[root@vm1 ~]# uname -r\r\n[root@vm1 ~]# "));
    let o = h.run_as("xm", &["console", "-q", "1"], b"");
    assert_eq!(o.code, 0);
    assert!(o.stdout.ends_with("vm1 login: "));
    assert!(h.fails(&["console", "nope"]).contains("does not exist"));
}

#[test]
fn commands_are_logged() {
    let h = Host::new(None);
    h.ok(&["list"]);
    h.fails(&["vcpu-pin", "x", "all", "a b"]);
    let log = std::fs::read_to_string(h.root().join("commands.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with("Z xm list"));
    assert!(lines[1].ends_with(" xm vcpu-pin x all 'a b'"));
    assert_eq!(lines[0].len(), "2024-01-01T00:00:00.000Z xm list".len());
}

#[test]
fn concurrent_creates_keep_state_consistent() {
    let h = std::sync::Arc::new(Host::new(Some("total_memory_mib = 65536\n")));
    let mut cfgs = Vec::new();
    for t in 0..2 {
        for i in 0..6 {
            cfgs.push((t, h.simple_cfg(&format!("t{t}vm{i}"), "memory = 256\n")));
        }
    }
    let mut handles = Vec::new();
    for t in 0..2 {
        let h = h.clone();
        let mine: Vec<String> = cfgs.iter().filter(|(o, _)| *o == t).map(|(_, c)| c.clone()).collect();
        handles.push(std::thread::spawn(move || {
            for c in mine {
                let o = h.xm(&["create", &c]);
                assert_eq!(o.code, 0, "{}", o.stderr);
                let o = h.xm(&["list"]);
                assert_eq!(o.code, 0, "{}", o.stderr);
            }
        }));
    }
    for th in handles {
        th.join().unwrap();
    }
    let rows = list_rows(&h.ok(&["list"]));
    assert_eq!(rows.len(), 13);
    let mut ids: Vec<u32> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..=12).collect::<Vec<u32>>());
    assert!(!h.exists(".lock"));
    let log = std::fs::read_to_string(h.root().join("commands.log")).unwrap();
    assert_eq!(log.lines().count(), 25);
}

#[test]
fn concurrent_processes_via_the_binary() {
    let h = Host::new(Some("total_memory_mib = 65536\n"));
    let cfgs: Vec<String> = (0..8).map(|i| h.simple_cfg(&format!("p{i}"), "memory = 256\n")).collect();
    let spawn = |mine: Vec<String>| {
        let root = h.root();
        std::thread::spawn(move || {
            for c in mine {
                let st = std::process::Command::new(env!("CARGO_BIN_EXE_xm"))
                    .args(["create", "-q", &c])
                    .env("XMSIM_ROOT", &root)
                    .status()
                    .unwrap();
                assert!(st.success());
            }
        })
    };
    let a = spawn(cfgs[..4].to_vec());
    let b = spawn(cfgs[4..].to_vec());
    a.join().unwrap();
    b.join().unwrap();
    let rows = list_rows(&h.ok(&["list"]));
    let mut ids: Vec<u32> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..=8).collect::<Vec<u32>>());
}
