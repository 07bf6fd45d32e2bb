//! An interactive `xm console` session: the guest's text console on the local terminal.
//!
//! Over SSH the console needs a pty on the host (xenconsole talks to a terminal), so the channel
//! asks for one of the local terminal's size, then runs the command. Both directions are pumped
//! by one loop over a non-blocking session (a Channel is tied to its Session, so one thread owns
//! both); a second thread only reads local stdin, which cannot be made non-blocking portably,
//! and hands the bytes over. Ctrl-] (0x1d) detaches as in xm: it is still sent, so the remote
//! `xm console` ends too, but nothing typed after it is forwarded. The local terminal is in raw
//! mode while attached and restored on every way out ([`super::tty::RawMode`]).

use std::io::{ErrorKind, Read, Write};
use std::process::Command;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use super::ssh::SshTransport;
use super::tty::{self, RawMode};
use super::TransportError;
use crate::model::{Host, TransportKind};

/// xenconsole's escape character, Ctrl-].
pub const DETACH: u8 = 0x1d;

/// After Ctrl-], how long the remote side may take to print its last bytes and close.
const DRAIN: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_millis(10);

/// Runs `command` (`xm console <domain>`) attached to the local terminal; returns its exit
/// status (0 after a detach).
pub fn attach(host: &Host, command: &str) -> Result<i32, TransportError> {
    match host.transport {
        TransportKind::Local => local(host, command),
        TransportKind::Ssh => ssh(host, command),
        TransportKind::Openssh => openssh(host, command),
    }
}

fn openssh(host: &Host, command: &str) -> Result<i32, TransportError> {
    // ssh makes the pty and puts this terminal in raw mode; `-e none` so that only xm's Ctrl-]
    // detaches, as with the built-in SSH.
    let status = super::openssh::direct(host, &["-tt", "-e", "none"], Some(command)).status().map_err(|e| {
        TransportError::Exec { host: host.name.clone(), command: command.to_string(), message: e.to_string() }
    })?;
    Ok(status.code().unwrap_or(-1))
}

fn local(host: &Host, command: &str) -> Result<i32, TransportError> {
    // The local xm handles the terminal and Ctrl-] itself, as on dom0.
    let status = Command::new("sh").arg("-c").arg(command).status().map_err(|e| TransportError::Exec {
        host: host.name.clone(),
        command: command.to_string(),
        message: e.to_string(),
    })?;
    Ok(status.code().unwrap_or(-1))
}

/// Bytes typed on the local terminal, read by a thread (blocking reads of stdin).
fn stdin_reader() -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

fn ssh(host: &Host, command: &str) -> Result<i32, TransportError> {
    let t = SshTransport::connect(host)?;
    let session = t.session();
    let err = |m: String| TransportError::Exec { host: host.name.clone(), command: command.to_string(), message: m };
    let mut ch = session.channel_session().map_err(|e| err(format!("open channel: {e}")))?;
    let (cols, rows) = tty::size();
    ch.request_pty("xterm", None, Some((cols, rows, 0, 0))).map_err(|e| err(format!("pty: {e}")))?;
    ch.exec(command).map_err(|e| err(format!("exec: {e}")))?;
    let _raw = RawMode::enter();
    session.set_blocking(false);
    let input = stdin_reader();
    let mut out = std::io::stdout();
    let (mut pending, mut detached_at, mut stdin_open) = (Vec::<u8>::new(), None::<Instant>, true);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut busy = false;
        while stdin_open && detached_at.is_none() {
            match input.try_recv() {
                Ok(bytes) => {
                    busy = true;
                    match bytes.iter().position(|&b| b == DETACH) {
                        Some(i) => {
                            pending.extend_from_slice(&bytes[..=i]);
                            detached_at = Some(Instant::now());
                        }
                        None => pending.extend_from_slice(&bytes),
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => stdin_open = false,
            }
        }
        if !pending.is_empty() {
            match ch.write(&pending) {
                Ok(n) => {
                    pending.drain(..n);
                    busy = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(err(format!("send: {e}"))),
            }
        }
        match ch.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                busy = true;
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(err(format!("receive: {e}"))),
        }
        if ch.eof() {
            break;
        }
        if detached_at.is_some_and(|t| pending.is_empty() && t.elapsed() > DRAIN) {
            // Detached locally; the remote end did not close in time: leave it.
            return Ok(0);
        }
        if !busy {
            std::thread::sleep(IDLE);
        }
    }
    session.set_blocking(true);
    let _ = ch.wait_close();
    let status = ch.exit_status().unwrap_or(-1);
    Ok(if detached_at.is_some() { 0 } else { status })
}
