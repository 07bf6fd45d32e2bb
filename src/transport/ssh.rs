//! SSH with libssh2 (the ssh2 crate): one connection per host, reused for every exec.
//!
//! Safety first: the host key is checked against known_hosts before authenticating; an unknown
//! key is refused unless the host says `accept-new` (then it is recorded), and a changed key is
//! always refused. Keys come from a file or ssh-agent; passwords are not supported on purpose.
//! Speed: TCP_NODELAY, keepalives, and the caller batches work so one exec does a lot.
//! Time limits: libssh2's session timeout (`Session::set_timeout`) is set to what is left of the
//! exec's [`Limit`] before every blocking call, so a read on a hung host fails with a timeout;
//! the channel is then closed and the exec reported as timed out ([`super::limit`]).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Instant;

use ssh2::{Channel, CheckResult, KnownHostFileKind, Session};

use super::algorithms::{self, Kind, KINDS};
use super::limit::Deadline;
use super::{read_until_marker, Background, ExecOutput, Limit, Transport, TransportError};
use crate::model::{Host, HostKeyPolicy};

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

/// The first of `addrs` that accepts a TCP connection within `timeout`; else the last error.
fn tcp_connect(
    addrs: &[std::net::SocketAddr],
    timeout: std::time::Duration,
) -> Result<TcpStream, Option<(std::net::SocketAddr, std::io::Error)>> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((*a, e)),
        }
    }
    Err(last)
}

/// No Nagle delay; and a host that vanishes (link down, powered off) must not hang an apply
/// forever: TCP keepalive notices an idle dead peer, TCP_USER_TIMEOUT one with unacknowledged data.
fn tune_socket(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let sock = socket2::SockRef::from(tcp);
    let ka = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(10))
        .with_interval(std::time::Duration::from_secs(5))
        .with_retries(3);
    let _ = sock.set_tcp_keepalive(&ka);
    let _ = sock.set_tcp_user_timeout(Some(std::time::Duration::from_secs(30)));
}

impl SshTransport {
    /// Connects, checks the host key, authenticates.
    pub fn connect(host: &Host) -> Result<SshTransport, TransportError> {
        let name = host.name.clone();
        let t0 = Instant::now();
        let limit = host.connect_timeout.as_secs();
        // Every failure names its phase, how long it ran, and the limit when it ran out.
        let fail = |phase: String, why: String, ran_out: bool, transient: bool| TransportError::Connect {
            host: name.clone(),
            message: format!(
                "{phase} failed after {:.1} s: {why}{}",
                t0.elapsed().as_secs_f64(),
                if ran_out { format!(" (connect_timeout {limit} s ran out)") } else { String::new() }
            ),
            transient,
        };
        let addrs: Vec<_> = (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("resolving {}", host.address), e.to_string(), false, false))?
            .collect();
        if addrs.is_empty() {
            return Err(fail(format!("resolving {}", host.address), "no address".into(), false, false));
        }
        let tcp = tcp_connect(&addrs, host.connect_timeout).map_err(|last| match last {
            Some((a, e)) => {
                let ran_out = e.kind() == std::io::ErrorKind::TimedOut;
                fail(format!("TCP connect to {a}"), e.to_string(), ran_out, true)
            }
            None => fail("TCP connect".into(), "no address".into(), false, true),
        })?;
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| host.address.clone());
        tune_socket(&tcp);
        let mut session = Session::new().map_err(|e| fail("starting libssh2".into(), e.to_string(), false, false))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(u32::try_from(host.connect_timeout.as_millis()).unwrap_or(u32::MAX));
        let offered =
            set_preferences(&session, host).map_err(|m| fail("choosing SSH algorithms".into(), m, false, false))?;
        session.handshake().map_err(|e| {
            let ran_out = is_timeout(&e);
            fail(format!("SSH handshake with {peer}"), handshake_error(&e, &offered), ran_out, true)
        })?;
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
        // A timeout here is the server being slow, not a refused key: worth another try.
        let auth_phase = format!("authentication as {}", host.user);
        auth.map_err(|m| {
            let ran_out = m.contains("[Session(-9)]");
            fail(auth_phase.clone(), m, ran_out, ran_out)
        })?;
        if !session.authenticated() {
            return Err(fail(auth_phase, "the server did not accept the key".into(), false, false));
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

/// libssh2's "timed out" (LIBSSH2_ERROR_TIMEOUT).
fn is_timeout(e: &ssh2::Error) -> bool {
    matches!(e.code(), ssh2::ErrorCode::Session(-9))
}

/// A failed handshake, with what was offered when no algorithm matched.
fn handshake_error(e: &ssh2::Error, offered: &[(Kind, Vec<String>)]) -> String {
    let mut m = e.to_string();
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

    fn exec_limited(
        &mut self,
        script: &str,
        stdin: &[u8],
        limit: Option<&Limit>,
    ) -> Result<ExecOutput, TransportError> {
        self.execs += 1;
        let first_line: String = script.lines().next().unwrap_or_default().chars().take(80).collect();
        let err = |m: String| TransportError::Exec { host: self.name.clone(), command: first_line.clone(), message: m };
        let mut deadline = Deadline::new(limit);
        let timed_out =
            |stdout: Vec<u8>, stderr: Vec<u8>| ExecOutput { status: -1, stdout, stderr, lost: None, timed_out: true };
        self.arm(&deadline);
        let mut opened = self.session.channel_session();
        while opened.as_ref().is_err_and(|e| keepalive_wakeup_ssh(&deadline, e)) {
            self.arm(&deadline);
            opened = self.session.channel_session();
        }
        let mut ch = match opened {
            Ok(ch) => ch,
            Err(e) if ran_out_ssh(&deadline, &e) => return Ok(self.disarmed(timed_out(Vec::new(), Vec::new()))),
            Err(e) => return Err(self.disarmed(err(format!("open channel: {e}")))),
        };
        // An exec request carries the command in one SSH packet; servers refuse large ones
        // (a batch that writes 100 vm.cfg files is large). Such scripts go through stdin.
        let (command, input) = match super::command_and_input(script, stdin) {
            Ok(ci) => ci,
            Err(m) => return Err(self.disarmed(err(m))),
        };
        let sent = ch
            .exec(command)
            .map_err(|e| format!("exec: {e}"))
            .and_then(
                |()| if input.is_empty() { Ok(()) } else { ch.write_all(&input).map_err(|e| format!("stdin: {e}")) },
            )
            .and_then(|()| ch.send_eof().map_err(|e| format!("eof: {e}")));
        if let Err(m) = sent {
            if deadline.expired() || (m.contains("timed out") && nearly_out(&deadline)) {
                self.give_up(&mut ch);
                return Ok(timed_out(Vec::new(), Vec::new()));
            }
            return Err(self.disarmed(err(m)));
        }
        let (stdout, stderr) = match self.read_outputs(&mut ch, &mut deadline) {
            Ok(out) => out,
            Err(ended) => return Ok(ended),
        };
        self.arm(&deadline);
        let mut closed = ch.wait_close();
        while closed.as_ref().is_err_and(|e| keepalive_wakeup_ssh(&deadline, e)) {
            self.arm(&deadline);
            closed = ch.wait_close();
        }
        if let Err(e) = closed {
            if ran_out_ssh(&deadline, &e) {
                self.give_up(&mut ch);
                return Ok(timed_out(stdout, stderr));
            }
            return Err(self.disarmed(err(format!("close: {e}"))));
        }
        let status = ch.exit_status().map_err(|e| err(format!("exit status: {e}")));
        let status = self.disarmed(status)?;
        Ok(ExecOutput { status, stdout, stderr, lost: None, timed_out: false })
    }

    fn exec_count(&self) -> usize {
        self.execs
    }

    fn host_key(&self) -> Option<String> {
        self.host_key.clone()
    }

    fn start_background(
        &mut self,
        script: &str,
        marker: &str,
        limit: Option<&Limit>,
    ) -> Result<Background, TransportError> {
        self.end_background();
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: "background script".into(),
            message: m,
        };
        let deadline = Deadline::new(limit);
        let given_up = |output: String| Background { output, ended: Some(-1), timed_out: true };
        self.arm(&deadline);
        let mut ch = match self.session.channel_session().and_then(|mut ch| ch.exec(script).map(|()| ch)) {
            Ok(ch) => ch,
            Err(e) if ran_out_ssh(&deadline, &e) => return Ok(self.disarmed(given_up(String::new()))),
            Err(e) => return Err(self.disarmed(err(format!("start: {e}")))),
        };
        let mut output = String::new();
        let found = {
            let mut timed = Timed { session: &self.session, ch: &mut ch, deadline: &deadline };
            read_until_marker(&mut timed, marker, &mut output)
        };
        match found {
            Ok(true) => {
                self.background = Some(ch);
                Ok(self.disarmed(Background { output, ended: None, timed_out: false }))
            }
            Ok(false) => {
                let _ = ch.wait_close();
                let status = ch.exit_status().unwrap_or(-1);
                Ok(self.disarmed(Background { output, ended: Some(status), timed_out: false }))
            }
            Err(e) if ran_out(&deadline, &e) => {
                self.give_up(&mut ch);
                Ok(given_up(output))
            }
            Err(e) => Err(self.disarmed(err(e.to_string()))),
        }
    }

    fn end_background(&mut self) {
        if let Some(mut ch) = self.background.take() {
            let _ = ch.send_eof();
            let _ = ch.wait_close();
        }
    }
}

impl SshTransport {
    /// Reads the channel's stdout, then its stderr, to their ends. `Err` is the exec's outcome
    /// when it ended early: out of time, or the connection lost (with what arrived until then).
    fn read_outputs(&self, ch: &mut Channel, deadline: &mut Deadline) -> Result<(Vec<u8>, Vec<u8>), ExecOutput> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        // On a lost connection keep what arrived: it tells which steps already ran.
        let lost = |e: std::io::Error, stdout: Vec<u8>, stderr: Vec<u8>| ExecOutput {
            status: -1,
            stdout,
            stderr,
            lost: Some(format!("connection to {} lost: {e}", self.name)),
            timed_out: false,
        };
        let mut chunk = [0u8; 32 * 1024];
        for to_stderr in [false, true] {
            loop {
                self.arm(deadline);
                let read = if to_stderr { ch.stderr().read(&mut chunk) } else { ch.read(&mut chunk) };
                match read {
                    Ok(0) => break,
                    Ok(n) if to_stderr => stderr.extend_from_slice(&chunk[..n]),
                    Ok(n) => {
                        deadline.saw_stdout(&chunk[..n]);
                        stdout.extend_from_slice(&chunk[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if keepalive_wakeup(deadline, &e) => {}
                    Err(e) if ran_out(deadline, &e) => {
                        self.give_up(ch);
                        return Err(ExecOutput { status: -1, stdout, stderr, lost: None, timed_out: true });
                    }
                    Err(e) => return Err(self.disarmed(lost(e, stdout, stderr))),
                }
            }
        }
        Ok((stdout, stderr))
    }

    /// Sets libssh2's timeout for the next blocking call to what is left of the limit.
    fn arm(&self, deadline: &Deadline) {
        self.session.set_timeout(deadline.remaining_ms().unwrap_or(0));
    }

    /// Back to no timeout (the session's normal state), passing `v` through.
    fn disarmed<T>(&self, v: T) -> T {
        self.session.set_timeout(0);
        v
    }

    /// After a limit ran out: closes the channel without waiting long for the host's answer
    /// (the host-side watchdog ends what still runs there), then no timeout again.
    fn give_up(&self, ch: &mut Channel) {
        self.session.set_timeout(2000);
        let _ = ch.close();
        self.session.set_timeout(0);
    }
}

/// The error is the limit running out: libssh2's timeout (set from the deadline) or the
/// deadline itself (libssh2's clock and ours differ by a few milliseconds).
/// A socket timeout of a lost connection (TCP_USER_TIMEOUT) also reads as `TimedOut`, so that
/// kind counts only when the deadline is (nearly) reached.
fn ran_out(deadline: &Deadline, e: &std::io::Error) -> bool {
    deadline.expired() || (e.kind() == std::io::ErrorKind::TimedOut && nearly_out(deadline))
}

/// Less than [`CLOCK_SLACK`] left: libssh2's clock may have run out first.
fn nearly_out(deadline: &Deadline) -> bool {
    deadline.remaining().is_some_and(|r| r < CLOCK_SLACK)
}

/// How far libssh2's timer and ours may disagree.
const CLOCK_SLACK: std::time::Duration = std::time::Duration::from_millis(250);

/// libssh2 with keepalives on wakes a blocking call at each keepalive interval (15 s) to send
/// one, and reports that wake-up as "Timed out waiting on socket" (LIBSSH2_ERROR_TIMEOUT) even
/// though no timeout of ours ran out. A host that prints nothing for 15 s (a busy dom0, a long
/// `xm shutdown -w`) is not lost: keep waiting. A dead peer still ends the wait, as a socket
/// error, through TCP keepalive and TCP_USER_TIMEOUT.
fn keepalive_wakeup(deadline: &Deadline, e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut && !ran_out(deadline, e)
}

/// [`keepalive_wakeup`] for libssh2's own errors.
fn keepalive_wakeup_ssh(deadline: &Deadline, e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(-9) && !ran_out_ssh(deadline, e)
}

/// [`ran_out`] for libssh2's own errors.
fn ran_out_ssh(deadline: &Deadline, e: &ssh2::Error) -> bool {
    deadline.expired() || (e.code() == ssh2::ErrorCode::Session(-9 /* LIBSSH2_ERROR_TIMEOUT */) && nearly_out(deadline))
}

/// A channel read with the session timeout set to what is left of a deadline.
struct Timed<'a> {
    session: &'a Session,
    ch: &'a mut Channel,
    deadline: &'a Deadline,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            self.session.set_timeout(self.deadline.remaining_ms().unwrap_or(0));
            match self.ch.read(buf) {
                Err(e) if keepalive_wakeup(self.deadline, &e) => continue,
                r => return r,
            }
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
        crate::model::TransportKind::Ssh => {
            let _slot = super::gate::enter(&host.name);
            Ok(Box::new(SshTransport::connect(host)?))
        }
        crate::model::TransportKind::Openssh => {
            let _slot = super::gate::enter(&host.name);
            Ok(Box::new(super::openssh::OpensshTransport::connect(host)?))
        }
        crate::model::TransportKind::Local => Ok(Box::new(super::local::LocalTransport::new(host.name.clone()))),
    }
}
