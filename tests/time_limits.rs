//! Time limits through the fake transport: what observe and apply send as limits, and how a
//! limit that ran out is reported (the e2e side is `tests/e2e/slow.rs`).

use std::time::Duration;

use domform::apply::{self, StepStatus};
use domform::model::Toolstack;
use domform::observe::{self, ObserveRequest};
use domform::plan::{Action, Change, HostPlan, Impact, Op, Resource};
use domform::transport::fake::FakeTransport;
use domform::transport::{ExecOutput, Limit, Transport};

fn marker_of(script: &str) -> String {
    script.lines().next().and_then(|l| l.strip_prefix("M=")).unwrap_or_default().trim_matches('\'').to_string()
}

#[test]
fn an_observe_that_runs_out_names_the_host_the_limit_and_what_ran() {
    let fake = FakeTransport::new("h2", |script: &str, _: &[u8]| {
        let m = marker_of(script);
        ExecOutput {
            status: -1,
            stdout: format!("{m} fs /r\nxfs\n\n{m} rc 0\n").into_bytes(),
            timed_out: true,
            ..ExecOutput::default()
        }
    });
    let mut t = fake.clone();
    let req = ObserveRequest {
        toolstack: Toolstack::Xm,
        uri: String::new(),
        repositories: vec!["/r".into()],
        extra_paths: vec![],
    };
    let err = observe::observe_limited(&mut t, &req, Some(Duration::from_secs(3))).expect_err("timed out");
    assert_eq!(
        err.to_string(),
        "host h2: observe timed out after 3 s (observe_timeout) while running `xm info -n` and `xm list -l`; finished before: 1 file read"
    );
    assert_eq!(fake.limits(), [Some(Limit::total(Duration::from_secs(3)))], "the limit reaches the transport");
    assert!(fake.scripts()[0].contains("dfw_start 8\n"), "the host-side watchdog gets the limit + 5 s");
    assert_eq!(t.exec_count(), 1, "never retried");
}

fn change(id: &str, ops: Vec<Op>) -> Change {
    Change {
        id: id.into(),
        resource: Resource::Power,
        name: id.into(),
        action: Action::Create,
        impact: Impact::Live,
        fields: vec![],
        file: None,
        ops,
        depends_on: vec![],
        verify_pins: vec![],
        cause: None,
    }
}

#[test]
fn a_step_that_runs_out_is_reported_with_the_steps_before_and_after_it() {
    let fake = FakeTransport::new("h2", |script: &str, _: &[u8]| {
        let m = marker_of(script);
        ExecOutput {
            status: -1,
            stdout: format!("{m} step disk/a\n\n{m} rc 0\n{m} step power/a\n").into_bytes(),
            timed_out: true,
            ..ExecOutput::default()
        }
    });
    let hp = HostPlan::of_changes(
        "h2",
        vec![
            change("disk/a", vec![Op::CreateDisk { path: "/r/a.img".into(), size: 1 }]),
            change("power/a", vec![Op::Xen { args: vec!["create".into(), "/r/vm.cfg".into()] }]),
            change("power/b", vec![Op::Shutdown { domain: "b".into(), timeout_secs: 120, force: false }]),
        ],
    );
    let mut t = fake.clone();
    let report =
        apply::apply_host_limited(&mut t, &hp, &domform::model::Tool::xen(Toolstack::Xm), Some(Duration::from_secs(4)));
    let statuses: Vec<&StepStatus> = report.steps.iter().map(|s| &s.status).collect();
    assert_eq!(statuses, [&StepStatus::Done, &StepStatus::TimedOut { after_secs: 4 }, &StepStatus::NotRun]);
    assert_eq!(
        report.error.as_deref(),
        Some("host h2: apply timed out after 4 s (step_timeout) in step `power/a`; done before it: `disk/a`; not run: `power/b`; the next plan shows what is left")
    );
    assert_eq!(t.exec_count(), 1, "never retried");
    // The clock restarts at each step line and allows the longest step: the shutdown's 120 s + 60.
    let m = marker_of(&fake.scripts()[0]);
    assert_eq!(fake.limits(), [Some(Limit::per_line(Duration::from_secs(180), format!("{m} step ")))]);
    let script = &fake.scripts()[0];
    assert_eq!(script.matches("dfw_start 9\n").count(), 2, "4 s steps: host watchdog at 9 s");
    assert_eq!(script.matches("dfw_start 185\n").count(), 1, "the shutdown step: 180 + 5 s");
}
