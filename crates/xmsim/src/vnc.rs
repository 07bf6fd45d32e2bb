//! A VNC port that really answers: the simulated qemu/vncfb behind `(location host:port)`.
//!
//! domform's `vnc` command forwards a local port through SSH to the VNC port `xm list -l`
//! reports; its test needs bytes to cross. So when `xm create` (or `restore`) starts a domain
//! with a framebuffer, the real `xm` process re-executes itself as `xm __vnc-serve <listen>
//! <port> <name>` in its own process group with stdio detached. That server binds the address
//! and port the domain reports, greets every connection with `RFB 003.008\n` (what a VNC server
//! sends first), echoes whatever it receives, and exits once no domain named `<name>` with that
//! port exists any more (polled every 0.5 s). The parent waits until the port is bound, so the
//! port is open when `xm create` returns. Only the real binary serves ([`enable`]); library
//! callers (the simulator's own tests) never spawn processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::state::{now, Domain};

/// The hidden sub-command the server runs as.
pub const SERVE_CMD: &str = "__vnc-serve";

/// What a VNC server sends first (RFB protocol version 3.8).
pub const GREETING: &[u8] = b"RFB 003.008\n";

const POLL: Duration = Duration::from_millis(500);

static SERVE: AtomicBool = AtomicBool::new(false);

/// Lets `create` start VNC servers (called by the real binary's entry point only).
pub fn enable() {
    SERVE.store(true, Ordering::SeqCst);
}

/// Whether VNC servers are started (and ports must be bindable to be chosen).
pub fn enabled() -> bool {
    SERVE.load(Ordering::SeqCst)
}

/// Whether `listen:port` can be bound now (a free-port search skips ports others hold).
pub fn bindable(listen: &str, port: u32) -> bool {
    !enabled() || u16::try_from(port).is_ok_and(|p| TcpListener::bind((listen, p)).is_ok())
}

/// Starts the server for a domain's framebuffer, if it has one; waits until it listens.
/// Failures are ignored: xm's own output must not change because a port could not be served.
pub fn spawn(root: &Path, prog: &str, d: &Domain) {
    let Some(vfb) = d.vfb.as_ref().filter(|_| enabled()) else { return };
    let Ok(exe) = std::env::current_exe() else { return };
    let child = Command::new(exe)
        .arg0(prog)
        .args([SERVE_CMD, &vfb.vnclisten, &vfb.port.to_string(), &d.name])
        .env("XMSIM_ROOT", root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Ok(mut child) = child {
        // One line once bound (or EOF if it gave up); the pipe is never written again.
        if let Some(out) = child.stdout.take() {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
        }
    }
}

/// `xm __vnc-serve <listen> <port> <name>`: serves until the domain is gone. Returns the exit code.
pub fn serve(root: &Path, args: &[String]) -> i32 {
    let [listen, port, name] = args else { return 2 };
    let Ok(port) = port.parse::<u16>() else { return 2 };
    let Ok(listener) = TcpListener::bind((listen.as_str(), port)) else { return 1 };
    if listener.set_nonblocking(true).is_err() {
        return 1;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"listening\n");
        let _ = out.flush();
    }
    loop {
        loop {
            match listener.accept() {
                Ok((conn, _)) => {
                    std::thread::spawn(move || echo(conn));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            }
        }
        if !alive(root, name, u32::from(port)) {
            return 0;
        }
        std::thread::sleep(POLL);
    }
}

fn echo(mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    if conn.write_all(GREETING).is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A domain `name` with a framebuffer on `port` exists and is not past a final shutdown.
fn alive(root: &Path, name: &str, port: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(root.join("domains")) else { return false };
    let t = now();
    entries.filter_map(Result::ok).any(|e| {
        let Ok(text) = std::fs::read_to_string(e.path()) else { return false };
        let Ok(d) = serde_json::from_str::<Domain>(&text) else { return false };
        let gone = d.shutdown.as_ref().is_some_and(|s| !s.reboot && s.deadline.is_some_and(|dl| dl <= t));
        d.name == name && d.vfb.as_ref().is_some_and(|v| v.port == port) && !gone
    })
}
