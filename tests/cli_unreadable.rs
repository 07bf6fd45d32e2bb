//! Imperative commands never act on a host they cannot read (issue 14): with an `xm list -l`
//! that does not parse, `stop` once said "already stopped" (exit 0), `start` ran `xm create`
//! on a running domain and `snapshot create` did not pause the VM. Now start, stop, restart,
//! snapshot, console, vnc and import exit 1 naming the host and the parse error, and run no
//! `xm` command that changes anything.
//!
//! The host is this machine (`transport: local`) with a fake `xm` first on PATH that answers
//! `info -n` properly, prints garbage for `list -l` and logs every call.

#[allow(dead_code)] // DOM0 is for the planner tests
mod common;

use std::path::Path;
use std::process::Command;

fn setup(dir: &Path) -> std::path::PathBuf {
    let repo = dir.join("repo");
    let vmdir = repo.join("VirtualMachines/0004fb00000600001111222233334444");
    std::fs::create_dir_all(&vmdir).expect("mkdir");
    std::fs::create_dir_all(repo.join("VirtualDisks")).expect("mkdir");
    std::fs::write(
        vmdir.join("vm.cfg"),
        format!(
            "name = '0004fb00000600001111222233334444'\nOVM_simple_name = 'app01'\nmemory = 1024\nvcpus = 1\n\
             disk = ['file:{}/VirtualDisks/a.img,xvda,w']\n",
            repo.display()
        ),
    )
    .expect("cfg");
    std::fs::write(repo.join("VirtualDisks/a.img"), "").expect("disk");
    std::fs::write(dir.join("info.txt"), common::info_text()).expect("info");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let xm = bin.join("xm");
    std::fs::write(
        &xm,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{d}/xm.log'\ncase \"$1\" in\n  info) cat '{d}/info.txt' ;;\n  \
             list) echo '(domain (domid 0) (name Domain-0'; echo '((( garbage'; exit 0 ;;\n  *) exit 0 ;;\nesac\n",
            d = dir.display()
        ),
    )
    .expect("xm");
    std::process::Command::new("chmod").arg("+x").arg(&xm).status().expect("chmod");
    let yaml = dir.join("domform.yaml");
    std::fs::write(&yaml, format!("hosts:\n  h1:\n    transport: local\n    repository: {}\n", repo.display()))
        .expect("yaml");
    yaml
}

#[test]
fn imperative_commands_refuse_a_host_whose_xm_list_does_not_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = setup(dir.path());
    let y = yaml.to_str().expect("utf-8");
    let path = format!("{}:{}", dir.path().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let runs: [&[&str]; 9] = [
        &["stop", "app01", "-f", y],
        &["start", "app01", "-f", y],
        &["restart", "app01", "-f", y],
        &["snapshot", "create", "app01", "s1", "-f", y],
        &["console", "app01", "-f", y],
        &["vnc", "app01", "-f", y, "--once"],
        &["import", "--host", "h1", "-f", y],
        &["snapshot", "list", "app01", "-f", y],
        &["plan", "-f", y],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_domform"))
            .args(args)
            .env("PATH", &path)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run domform");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("h1") && err.contains("cannot parse `xm list -l`"), "{args:?}: {err}");
        assert!(!err.contains("error: error:"), "{args:?}: {err}");
    }
    let log = std::fs::read_to_string(dir.path().join("xm.log")).unwrap_or_default();
    for line in log.lines() {
        assert!(line.starts_with("info") || line.starts_with("list"), "a changing xm command ran: {line}\n{log}");
    }
    assert!(!dir.path().join("repo/Snapshots").exists(), "a snapshot was made");
}
