//! A local TCP port forwarded through SSH to a port on the host (the VNC console).
//!
//! OVM binds VNC to 127.0.0.1 on dom0, so a viewer needs a tunnel. The local side listens on
//! 127.0.0.1 only; each accepted connection opens a `direct-tcpip` channel to the target, as
//! `ssh -L` does. One thread runs a poll loop over the non-blocking listener, sockets and
//! channels: ssh2 channels are tied to their session, so one owner avoids locking around
//! libssh2, and no direction can block the other.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use ssh2::Channel;

use super::ssh::SshTransport;
use super::TransportError;
use crate::model::Host;

const IDLE: Duration = Duration::from_millis(5);

/// One forwarded connection.
struct Pipe {
    tcp: TcpStream,
    ch: Channel,
    to_remote: Vec<u8>,
    to_local: Vec<u8>,
    local_eof: bool,
    remote_eof: bool,
    eof_sent: bool,
}

/// Outcome of one pump step.
enum Step {
    Idle,
    Busy,
    Done,
}

fn would_block(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

impl Pipe {
    fn pump(&mut self, buf: &mut [u8]) -> Step {
        let mut busy = false;
        if !self.local_eof && self.to_remote.len() < buf.len() {
            match self.tcp.read(buf) {
                Ok(0) => self.local_eof = true,
                Ok(n) => {
                    self.to_remote.extend_from_slice(&buf[..n]);
                    busy = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => self.local_eof = true,
            }
        }
        if !self.to_remote.is_empty() {
            match self.ch.write(&self.to_remote) {
                Ok(n) => {
                    self.to_remote.drain(..n);
                    busy = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => return Step::Done,
            }
        }
        if self.local_eof && self.to_remote.is_empty() && !self.eof_sent {
            match self.ch.send_eof() {
                Ok(()) => self.eof_sent = true,
                Err(e) if e.code() == ssh2::ErrorCode::Session(-37) => {}
                Err(_) => return Step::Done,
            }
        }
        if !self.remote_eof && self.to_local.len() < buf.len() {
            match self.ch.read(buf) {
                Ok(0) if self.ch.eof() => self.remote_eof = true,
                Ok(0) => {}
                Ok(n) => {
                    self.to_local.extend_from_slice(&buf[..n]);
                    busy = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => self.remote_eof = true,
            }
        }
        if !self.to_local.is_empty() {
            match self.tcp.write(&self.to_local) {
                Ok(n) => {
                    self.to_local.drain(..n);
                    busy = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => return Step::Done,
            }
        }
        if self.remote_eof && self.to_local.is_empty() {
            let _ = self.tcp.shutdown(Shutdown::Write);
        }
        // A viewer that hung up (VNC has no half-close) ends the connection; so does a server
        // that closed, once what it sent was delivered.
        if (self.local_eof && self.eof_sent) || (self.remote_eof && self.to_local.is_empty()) {
            return Step::Done;
        }
        if busy {
            Step::Busy
        } else {
            Step::Idle
        }
    }
}

/// Binds 127.0.0.1:`local_port` (0: a free port) for [`serve`].
pub fn bind_local(local_port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", local_port))
}

/// Forwards every connection to `listener` to `target_host:target_port` as seen from `host`,
/// until interrupted, or (with `once`) until the first connection closes.
pub fn serve(
    host: &Host,
    listener: &TcpListener,
    target_host: &str,
    target_port: u16,
    once: bool,
) -> Result<(), TransportError> {
    if host.transport == crate::model::TransportKind::Openssh {
        return serve_openssh(host, listener, target_host, target_port, once);
    }
    let t = SshTransport::connect(host)?;
    let session = t.session();
    let err = |m: String| TransportError::Exec {
        host: host.name.clone(),
        command: format!("forward to {target_host}:{target_port}"),
        message: m,
    };
    listener.set_nonblocking(true).map_err(|e| err(e.to_string()))?;
    let mut pipes: Vec<Pipe> = Vec::new();
    let mut served = 0usize;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut busy = false;
        match listener.accept() {
            Ok((tcp, peer)) => {
                busy = true;
                session.set_blocking(true);
                let ch = session.channel_direct_tcpip(target_host, target_port, Some(("127.0.0.1", peer.port())));
                session.set_blocking(false);
                match ch {
                    Ok(ch) if tcp.set_nonblocking(true).is_ok() => {
                        let _ = tcp.set_nodelay(true);
                        pipes.push(Pipe {
                            tcp,
                            ch,
                            to_remote: Vec::new(),
                            to_local: Vec::new(),
                            local_eof: false,
                            remote_eof: false,
                            eof_sent: false,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("{}: cannot open {target_host}:{target_port} on the host: {e}", host.name);
                        served += 1;
                    }
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(err(format!("accept: {e}"))),
        }
        session.set_blocking(false);
        let mut i = 0;
        while i < pipes.len() {
            match pipes[i].pump(&mut buf) {
                Step::Idle => i += 1,
                Step::Busy => {
                    busy = true;
                    i += 1;
                }
                Step::Done => {
                    let mut p = pipes.swap_remove(i);
                    session.set_blocking(true);
                    let _ = p.ch.close();
                    session.set_blocking(false);
                    served += 1;
                }
            }
        }
        if once && served > 0 && pipes.is_empty() {
            session.set_blocking(true);
            return Ok(());
        }
        if !busy {
            std::thread::sleep(IDLE);
        }
    }
}

/// `transport: openssh`: each connection is an `ssh -W` (stdio forwarding, a direct-tcpip
/// channel like the built-in forward), pumped by two threads.
fn serve_openssh(
    host: &Host,
    listener: &TcpListener,
    target_host: &str,
    target_port: u16,
    once: bool,
) -> Result<(), TransportError> {
    let err = |m: String| TransportError::Exec {
        host: host.name.clone(),
        command: format!("forward to {target_host}:{target_port}"),
        message: m,
    };
    let target = format!("{target_host}:{target_port}");
    loop {
        let (tcp, _) = listener.accept().map_err(|e| err(format!("accept: {e}")))?;
        let mut child = super::openssh::direct(host, &["-W", &target], None)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot run ssh: {e}")))?;
        let (Some(mut to_remote), Some(mut from_remote)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(err("ssh has no pipes".into()));
        };
        let mut tcp_in = tcp.try_clone().map_err(|e| err(e.to_string()))?;
        let mut tcp_out = tcp;
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut tcp_in, &mut to_remote);
        });
        let down = std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_remote, &mut tcp_out);
            let _ = tcp_out.shutdown(Shutdown::Both);
        });
        if once {
            let _ = down.join();
            let _ = child.kill();
            let _ = child.wait();
            let _ = up.join();
            return Ok(());
        }
        std::thread::spawn(move || {
            let _ = down.join();
            let _ = child.kill();
            let _ = child.wait();
            let _ = up.join();
        });
    }
}

/// The address a listener got (for the message that tells the user where to connect).
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
