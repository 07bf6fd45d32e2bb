//! Reaching many hosts: transient failures of reads are tried again (never a refused key, never
//! a time limit), and every connect failure names its phase, how long it ran and the limit that
//! ran out. The connect errors come from real sockets on 127.0.0.1.

mod common;
use common::{info_text, DOM0};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use domform::manifest;
use domform::model::Model;
use domform::observe::fleet::{observe_hosts, ATTEMPTS};
use domform::transport::fake::FakeTransport;
use domform::transport::ssh::SshTransport;
use domform::transport::{ExecOutput, Transport, TransportError};

fn model(host: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, format!("hosts:\n{host}")).expect("write");
    manifest::load(&[path]).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn section(m: &str, kind: &str, body: &str) -> String {
    format!("{m} {kind} -\n{body}\n{m} rc 0\n")
}

/// A host that answers observe like a healthy dom0 with no VMs.
fn healthy() -> FakeTransport {
    FakeTransport::new("h1", |script: &str, _| {
        let m = script.lines().next().and_then(|l| l.strip_prefix("M=")).unwrap_or_default().trim_matches('\'');
        let out = [section(m, "info", &info_text()), section(m, "domains-sxp", DOM0)].concat();
        ExecOutput { status: 0, stdout: out.into_bytes(), ..ExecOutput::default() }
    })
}

fn connect_error(transient: bool) -> TransportError {
    TransportError::Connect { host: "h1".into(), message: "SSH handshake failed after 0.1 s: reset".into(), transient }
}

const HOST: &str = "  h1: { transport: local, repository: /OVS/Repositories/r }\n";

#[test]
fn a_dropped_first_connection_is_tried_again() {
    let m = model(HOST);
    let calls = AtomicUsize::new(0);
    let connect = |_: &domform::model::Host| -> Result<Box<dyn Transport>, TransportError> {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(connect_error(true))
        } else {
            Ok(Box::new(healthy()))
        }
    };
    let r = observe_hosts(&m, &["h1".into()], 4, &connect);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one retry");
    let obs = r[0].observed.as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert!(obs.info.is_some() && !obs.problems.iter().any(|p| p.is_error()), "{:?}", obs.problems);
}

#[test]
fn a_connection_lost_mid_observe_is_tried_again_not_planned_from() {
    let m = model(HOST);
    let calls = AtomicUsize::new(0);
    let connect = |_: &domform::model::Host| -> Result<Box<dyn Transport>, TransportError> {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            // Half an answer, then the connection drops.
            Ok(Box::new(FakeTransport::new("h1", |_, _| ExecOutput {
                status: -1,
                stdout: b"@@x info -\nhost : h".to_vec(),
                lost: Some("connection to h1 lost: reset by peer".into()),
                ..ExecOutput::default()
            })))
        } else {
            Ok(Box::new(healthy()))
        }
    };
    let r = observe_hosts(&m, &["h1".into()], 4, &connect);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(r[0].observed.as_ref().is_ok_and(|o| o.info.is_some()));
}

#[test]
fn refused_keys_and_time_limits_are_not_tried_again_and_retries_are_bounded() {
    let m = model(HOST);
    for (err, want_calls) in [
        (connect_error(false), 1),
        (TransportError::HostKey { host: "h1".into(), message: "changed".into() }, 1),
        (TransportError::TimedOut { host: "h1".into(), message: "observe timed out".into() }, 1),
        (connect_error(true), ATTEMPTS as usize),
    ] {
        let calls = AtomicUsize::new(0);
        let connect = |_: &domform::model::Host| -> Result<Box<dyn Transport>, TransportError> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err.clone())
        };
        let r = observe_hosts(&m, &["h1".into()], 4, &connect);
        assert_eq!(calls.load(Ordering::SeqCst), want_calls, "{err}");
        let msg = r[0].observed.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
        if want_calls > 1 {
            assert!(msg.contains(&format!("(after {ATTEMPTS} attempts)")), "{msg}");
        }
    }
}

/// A host entry for the built-in SSH at 127.0.0.1:`port`.
fn ssh_host(port: u16, timeout: u32) -> domform::model::Host {
    let m = model(&format!(
        "  h1: {{ address: 127.0.0.1, port: {port}, connect_timeout: {timeout}, known_hosts: /dev/null }}\n"
    ));
    m.hosts["h1"].clone()
}

fn connect_message(host: &domform::model::Host) -> (String, bool) {
    match SshTransport::connect(host) {
        Ok(_) => panic!("must not connect"),
        Err(e) => (e.to_string(), e.is_transient()),
    }
}

#[test]
fn tcp_connect_refused_names_the_phase_and_address() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let (msg, transient) = connect_message(&ssh_host(port, 2));
    assert!(msg.starts_with(&format!("cannot connect to h1: TCP connect to 127.0.0.1:{port} failed after ")), "{msg}");
    assert!(msg.contains("refused") && !msg.contains("ran out"), "{msg}");
    assert!(transient, "a refused port may be an sshd restarting");
}

#[test]
fn a_silent_server_runs_out_the_connect_timeout_in_the_handshake() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = [0u8; 256];
        // Read the client's banner, say nothing, hold the connection for a while.
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_secs(2));
    });
    let (msg, transient) = connect_message(&ssh_host(port, 1));
    assert!(msg.contains(&format!("SSH handshake with 127.0.0.1:{port} failed after 1.")), "{msg}");
    assert!(msg.ends_with("(connect_timeout 1 s ran out)"), "{msg}");
    assert!(transient);
    let _ = server.join();
}

#[test]
fn a_server_that_hangs_up_fails_the_handshake_without_a_limit() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let _ = s.write_all(b"SSH-2.0-NotReally\r\n");
    });
    let (msg, _) = connect_message(&ssh_host(port, 5));
    assert!(msg.contains(&format!("SSH handshake with 127.0.0.1:{port} failed after ")), "{msg}");
    assert!(!msg.contains("ran out") && !msg.trim_end().ends_with(':'), "a reason, no limit: {msg}");
    let _ = server.join();
}
