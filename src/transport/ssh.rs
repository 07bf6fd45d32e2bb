//! SSH with libssh2 (the ssh2 crate): one connection per host, reused for every exec.
//!
//! Safety first: the host key is checked against known_hosts before authenticating; an unknown
//! key is refused unless the host says `accept-new` (then it is recorded), and a changed key is
//! always refused. Keys come from a file or ssh-agent; passwords are not supported on purpose.
//! Speed: TCP_NODELAY, keepalives, and the caller batches work so one exec does a lot.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;

use ssh2::{Channel, CheckResult, KnownHostFileKind, Session};

use super::algorithms::{self, Kind, KINDS};
use super::{read_until_marker, Background, ExecOutput, Transport, TransportError};
use crate::model::{Host, HostKeyPolicy};

/// Scripts longer than this are sent on stdin to `sh -s` instead of in the exec request.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// An open SSH connection to one host.
pub struct SshTransport {
    name: String,
    session: Session,
    execs: usize,
    background: Option<Channel>,
    host_key: Option<String>,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport").field("host", &self.name).field("execs", &self.execs).finish()
    }
}

fn default_known_hosts() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root")).join(".ssh/known_hosts")
}

impl SshTransport {
    /// Connects, checks the host key, authenticates.
    pub fn connect(host: &Host) -> Result<SshTransport, TransportError> {
        let name = host.name.clone();
        let conn_err = |m: String| TransportError::Connect { host: name.clone(), message: m };
        let addrs: Vec<_> = (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| conn_err(format!("cannot resolve {}: {e}", host.address)))?
            .collect();
        let mut last = String::from("no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, host.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let tcp = tcp.ok_or_else(|| conn_err(last))?;
        let _ = tcp.set_nodelay(true);
        // A host that vanishes (link down, powered off) must not hang an apply forever: TCP
        // keepalive notices an idle dead peer, TCP_USER_TIMEOUT one with unacknowledged data.
        let sock = socket2::SockRef::from(&tcp);
        let ka = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(10))
            .with_interval(std::time::Duration::from_secs(5))
            .with_retries(3);
        let _ = sock.set_tcp_keepalive(&ka);
        let _ = sock.set_tcp_user_timeout(Some(std::time::Duration::from_secs(30)));
        let mut session = Session::new().map_err(|e| conn_err(e.to_string()))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(u32::try_from(host.connect_timeout.as_millis()).unwrap_or(u32::MAX));
        let offered = set_preferences(&session, host).map_err(conn_err)?;
        session.handshake().map_err(|e| conn_err(handshake_error(&e, &offered)))?;
        check_host_key(&session, host)?;
        log_negotiated(&session, host);
        let mut auth = authenticate(&session, host);
        if auth.is_err() && !session.authenticated() {
            // An RSA key signs with rsa-sha2-* when the server lists them in server-sig-algs, but
            // a server may list them and still accept only `ssh-rsa` signatures (OpenSSH < 7.2
            // semantics kept by PubkeyAcceptedAlgorithms): one more try with SHA-1 signatures.
            if session.method_pref(ssh2::MethodType::SignAlgo, "ssh-rsa").is_ok()
                && authenticate(&session, host).is_ok()
            {
                tracing::debug!(host = %host.name, "authenticated with an ssh-rsa (SHA-1) signature");
                auth = Ok(());
            }
        }
        auth.map_err(|m| conn_err(format!("authentication as {} failed ({m})", host.user)))?;
        if !session.authenticated() {
            return Err(conn_err(format!("authentication as {} failed", host.user)));
        }
        // No timeout on execs: a clean shutdown may legitimately take minutes. Keepalives
        // notice a dead peer instead.
        session.set_timeout(0);
        session.set_keepalive(true, 15);
        let host_key = session.host_key().map(|(_, t)| key_type_name(t)).and_then(|t| {
            session.host_key_hash(ssh2::HashType::Sha256).map(|h| format!("{t} {}", super::sha256_fingerprint(h)))
        });
        Ok(SshTransport { name, session, execs: 0, background: None, host_key })
    }

    /// The underlying session (for consoles and port forwards).
    pub fn session(&self) -> &Session {
        &self.session
    }
}

fn key_type_name(t: ssh2::HostKeyType) -> &'static str {
    use ssh2::HostKeyType as K;
    match t {
        K::Rsa => "ssh-rsa",
        K::Dss => "ssh-dss",
        K::Ecdsa256 => "ecdsa-sha2-nistp256",
        K::Ecdsa384 => "ecdsa-sha2-nistp384",
        K::Ecdsa521 => "ecdsa-sha2-nistp521",
        K::Ed25519 => "ssh-ed25519",
        K::Unknown => "unknown",
    }
}

/// Public-key authentication with the host's key file, or ssh-agent's keys.
fn authenticate(session: &Session, host: &Host) -> Result<(), String> {
    match &host.identity_file {
        Some(key) => {
            session.userauth_pubkey_file(&host.user, None, key, None).map_err(|e| format!("key {}: {e}", key.display()))
        }
        None => session.userauth_agent(&host.user).map_err(|e| format!("ssh-agent: {e}")),
    }
}

/// Sets the algorithm lists domform offers (see [`super::algorithms`]); returns them by kind.
fn set_preferences(session: &Session, host: &Host) -> Result<Vec<(Kind, Vec<String>)>, String> {
    use ssh2::MethodType as M;
    let mut offered = Vec::new();
    for kind in KINDS {
        let list = algorithms::resolve(kind, host.algorithms.get(kind), &kind.supported())
            .map_err(|m| format!("{}: {m}", kind.key()))?;
        // libssh2 adds its pseudo key exchanges (ext-info-c, strict kex) itself.
        let pref = list.join(",");
        let methods: &[M] = match kind {
            Kind::Kex => &[M::Kex],
            Kind::HostKey => &[M::HostKey],
            Kind::Ciphers => &[M::CryptCs, M::CryptSc],
            Kind::Macs => &[M::MacCs, M::MacSc],
        };
        for m in methods {
            session.method_pref(*m, &pref).map_err(|e| format!("{}: libssh2 refused `{pref}`: {e}", kind.key()))?;
        }
        offered.push((kind, list));
    }
    Ok(offered)
}

/// A failed handshake, with what was offered when no algorithm matched.
fn handshake_error(e: &ssh2::Error, offered: &[(Kind, Vec<String>)]) -> String {
    let mut m = format!("SSH handshake: {e}");
    if matches!(e.code(), ssh2::ErrorCode::Session(-5) | ssh2::ErrorCode::Session(-8)) {
        m.push_str(". The server accepts none of the algorithms offered (");
        let lists: Vec<String> = offered.iter().map(|(k, l)| format!("{}: {}", k.key(), l.join(","))).collect();
        m.push_str(&lists.join("; "));
        m.push_str("). An Oracle VM 3.0-3.2 server (OpenSSH 4.3) needs `kex_algorithms: \"+diffie-hellman-group14-sha1\"`; see docs/hosts.md");
    }
    m
}

fn log_negotiated(session: &Session, host: &Host) {
    use ssh2::MethodType as M;
    let m = |t| session.methods(t).unwrap_or("?").to_string();
    tracing::debug!(
        host = %host.name,
        "SSH negotiated kex {}, host key {}, cipher {}, mac {}",
        m(M::Kex),
        m(M::HostKey),
        m(M::CryptCs),
        m(M::MacCs)
    );
}

fn check_host_key(session: &Session, host: &Host) -> Result<(), TransportError> {
    let err = |m: String| TransportError::HostKey { host: host.name.clone(), message: m };
    let (key, key_type) = session.host_key().ok_or_else(|| err("the server sent no host key".into()))?;
    let path = host.known_hosts.clone().unwrap_or_else(default_known_hosts);
    let mut kh = session.known_hosts().map_err(|e| err(e.to_string()))?;
    if path.exists() {
        kh.read_file(&path, KnownHostFileKind::OpenSSH)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    }
    let fingerprint = session.host_key_hash(ssh2::HashType::Sha256).map(super::sha256_fingerprint).unwrap_or_default();
    match kh.check_port(&host.address, host.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(err(format!(
            "HOST KEY CHANGED for {}:{} ({fingerprint}); it differs from {}. This may be an attack; refusing. If the host was reinstalled, remove its old line from known_hosts.",
            host.address,
            host.port,
            path.display()
        ))),
        CheckResult::NotFound => match host.host_key_policy {
            HostKeyPolicy::Strict => Err(err(format!(
                "{}:{} is not in {} (key {fingerprint}). Add it (ssh-keyscan, or ssh once by hand) or set `host_key_policy: accept-new`.",
                host.address,
                host.port,
                path.display()
            ))),
            HostKeyPolicy::AcceptNew => {
                let entry = if host.port == 22 { host.address.clone() } else { format!("[{}]:{}", host.address, host.port) };
                kh.add(&entry, key, "added by domform (accept-new)", key_type.into()).map_err(|e| err(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                kh.write_file(&path, KnownHostFileKind::OpenSSH).map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
                tracing::warn!(host = %host.name, "accepted new host key {fingerprint} into {}", path.display());
                Ok(())
            }
        },
        CheckResult::Failure => Err(err(format!("cannot check the key against {}", path.display()))),
    }
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.name
    }

    fn exec(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.execs += 1;
        let first_line: String = script.lines().next().unwrap_or_default().chars().take(80).collect();
        let err = |m: String| TransportError::Exec { host: self.name.clone(), command: first_line.clone(), message: m };
        let mut ch = self.session.channel_session().map_err(|e| err(format!("open channel: {e}")))?;
        // An exec request carries the command in one SSH packet; servers refuse large ones
        // (a batch that writes 100 vm.cfg files is large). Such scripts go through stdin.
        let (command, input): (&str, Vec<u8>) = if script.len() > MAX_COMMAND_BYTES {
            if !stdin.is_empty() {
                return Err(err(format!("script of {} bytes cannot also take stdin", script.len())));
            }
            ("sh -s", script.as_bytes().to_vec())
        } else {
            (script, stdin.to_vec())
        };
        ch.exec(command).map_err(|e| err(format!("exec: {e}")))?;
        if !input.is_empty() {
            ch.write_all(&input).map_err(|e| err(format!("stdin: {e}")))?;
        }
        ch.send_eof().map_err(|e| err(format!("eof: {e}")))?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        // On a lost connection keep what arrived: it tells which steps already ran.
        let lost = |e: std::io::Error, stdout: Vec<u8>, stderr: Vec<u8>| ExecOutput {
            status: -1,
            stdout,
            stderr,
            lost: Some(format!("connection to {} lost: {e}", self.name)),
        };
        if let Err(e) = ch.read_to_end(&mut stdout) {
            return Ok(lost(e, stdout, stderr));
        }
        if let Err(e) = ch.stderr().read_to_end(&mut stderr) {
            return Ok(lost(e, stdout, stderr));
        }
        ch.wait_close().map_err(|e| err(format!("close: {e}")))?;
        let status = ch.exit_status().map_err(|e| err(format!("exit status: {e}")))?;
        Ok(ExecOutput { status, stdout, stderr, lost: None })
    }

    fn exec_count(&self) -> usize {
        self.execs
    }

    fn host_key(&self) -> Option<String> {
        self.host_key.clone()
    }

    fn start_background(&mut self, script: &str, marker: &str) -> Result<Background, TransportError> {
        self.end_background();
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: "background script".into(),
            message: m,
        };
        let mut ch = self.session.channel_session().map_err(|e| err(format!("open channel: {e}")))?;
        ch.exec(script).map_err(|e| err(format!("exec: {e}")))?;
        let mut output = String::new();
        if read_until_marker(&mut ch, marker, &mut output).map_err(|e| err(e.to_string()))? {
            self.background = Some(ch);
            return Ok(Background { output, ended: None });
        }
        let _ = ch.wait_close();
        Ok(Background { output, ended: Some(ch.exit_status().unwrap_or(-1)) })
    }

    fn end_background(&mut self) {
        if let Some(mut ch) = self.background.take() {
            let _ = ch.send_eof();
            let _ = ch.wait_close();
        }
    }
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        self.end_background();
    }
}

/// Opens the right transport for a host.
pub fn open(host: &Host) -> Result<Box<dyn Transport>, TransportError> {
    match host.transport {
        crate::model::TransportKind::Ssh => Ok(Box::new(SshTransport::connect(host)?)),
        crate::model::TransportKind::Openssh => Ok(Box::new(super::openssh::OpensshTransport::connect(host)?)),
        crate::model::TransportKind::Local => Ok(Box::new(super::local::LocalTransport::new(host.name.clone()))),
    }
}
