//! The run loop (`engine::run`) against a fake host, without root: the exit outcome of each
//! intent, and that the host lock is released however the loop ends.

mod common;
use common::{info_text, DOM0};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use domform::engine::{self, Format, Intent, Outcome, Request};
use domform::manifest;
use domform::model::{Host, Model};
use domform::plan::{HostPlan, Plan, FORMAT_VERSION};
use domform::transport::fake::FakeTransport;
use domform::transport::{Background, ExecOutput, Limit, Transport, TransportError};

fn model() -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, "hosts:\n  h1: { transport: local, repository: /OVS/Repositories/r }\n").expect("write");
    manifest::load(&[path]).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn section(m: &str, kind: &str, body: &str) -> String {
    format!("{m} {kind} -\n{body}\n{m} rc 0\n")
}

/// A healthy dom0 with no VMs; it answers the lock script with the lock taken.
fn healthy() -> FakeTransport {
    FakeTransport::new("h1", |script: &str, _| {
        let m = script.lines().find_map(|l| l.strip_prefix("M=")).unwrap_or_default().trim_matches('\'');
        let body = [section(m, "info", &info_text()), section(m, "domains-sxp", DOM0)].concat();
        let out = if script.contains(" locked\\n") { format!("{m} locked\n{body}{m} observed\n") } else { body };
        ExecOutput { status: 0, stdout: out.into_bytes(), ..ExecOutput::default() }
    })
}

/// The fake host, counting how often the lock script was ended.
struct Counting {
    inner: FakeTransport,
    released: Arc<AtomicUsize>,
}

impl Transport for Counting {
    fn host(&self) -> &str {
        self.inner.host()
    }
    fn exec_limited(&mut self, s: &str, i: &[u8], l: Option<&Limit>) -> Result<ExecOutput, TransportError> {
        self.inner.exec_limited(s, i, l)
    }
    fn exec_count(&self) -> usize {
        self.inner.exec_count()
    }
    fn start_background(&mut self, s: &str, m: &str, l: Option<&Limit>) -> Result<Background, TransportError> {
        self.inner.start_background(s, m, l)
    }
    fn end_background(&mut self) {
        self.released.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `intent` on the fake host: the outcome, the scripts it was sent, the lock releases.
fn run(intent: &Intent<'_>) -> (Outcome, Vec<String>, usize) {
    let m = model();
    let fake = healthy();
    let released = Arc::new(AtomicUsize::new(0));
    let (f, r) = (fake.clone(), released.clone());
    let connect = move |_: &Host| -> Result<Box<dyn Transport>, TransportError> {
        Ok(Box::new(Counting { inner: f.clone(), released: r.clone() }))
    };
    let req = Request { model: &m, hosts: vec!["h1".into()], targets: &[], parallel: 2, connect: &connect };
    let outcome = engine::run(&req, intent);
    (outcome, fake.scripts(), released.load(Ordering::SeqCst))
}

#[test]
fn a_plan_with_nothing_to_do_is_ok_and_takes_no_lock() {
    let (outcome, scripts, released) =
        run(&Intent::Plan { format: Format::Json, out: None, detailed: true, max_chars: None });
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(scripts.len(), 1, "one read-only exec");
    assert!(!scripts[0].contains("flock"), "plan takes no lock");
    assert_eq!(released, 0);
}

#[test]
fn an_apply_with_nothing_to_do_locks_once_and_releases_once() {
    let (outcome, scripts, released) = run(&Intent::Apply { saved: None, auto_approve: false });
    assert_eq!(outcome, Outcome::Ok, "no changes: no confirmation asked, nothing run");
    assert_eq!(scripts.len(), 1, "lock and observe only: {scripts:?}");
    assert!(scripts[0].contains("flock"));
    assert_eq!(released, 1, "the lock is released when the run ends");
}

#[test]
fn a_stale_saved_plan_is_refused_and_the_lock_released() {
    let saved = Plan { format_version: FORMAT_VERSION, hosts: vec![HostPlan::new("h1", "planned-long-ago")] };
    let (outcome, scripts, released) = run(&Intent::Apply { saved: Some(saved), auto_approve: false });
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(scripts.len(), 1, "nothing ran after the lock and observe: {scripts:?}");
    assert_eq!(released, 1);
}

#[test]
fn an_imperative_command_on_a_missing_vm_fails_and_releases_the_lock() {
    let make = |_: &engine::locate::Found<'_>| -> Result<engine::Made, String> { panic!("no VM to make changes for") };
    let (outcome, scripts, released) = run(&Intent::Changes { vm: "web01", lock: true, make: &make });
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(scripts.len(), 1);
    assert_eq!(released, 1);
}

#[test]
fn an_unreachable_host_fails_the_plan() {
    let m = model();
    let connect = |_: &Host| -> Result<Box<dyn Transport>, TransportError> {
        Err(TransportError::Connect { host: "h1".into(), message: "refused".into(), transient: false })
    };
    let req = Request { model: &m, hosts: vec!["h1".into()], targets: &[], parallel: 1, connect: &connect };
    let outcome =
        engine::run(&req, &Intent::Plan { format: Format::Human, out: None, detailed: true, max_chars: None });
    assert_eq!(outcome, Outcome::Failed);
}
