//! `domform apply [PLANFILE]`.

use crate::render::escape as esc;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{load_or_report, select_targets};
use crate::apply::{HostReport, StepStatus};
use crate::observe::fleet::{default_connector, Connector, Mode};
use crate::plan::Plan;
use crate::render::plan as render;

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Reads a saved plan.
fn read_plan(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: not a domform plan: {e}", path.display(), e.line(), e.column()))?;
    if plan.format_version != crate::plan::FORMAT_VERSION {
        return Err(format!(
            "{}: plan format {} is not {}; make the plan again with this domform",
            path.display(),
            plan.format_version,
            crate::plan::FORMAT_VERSION
        ));
    }
    Ok(plan)
}

/// Plans (or checks a saved plan) under the host locks, confirms, executes, reports.
pub fn run(
    planfile: Option<&Path>,
    files: &[PathBuf],
    limit: &[String],
    target: &[String],
    auto_approve: bool,
    parallel: usize,
) -> ExitCode {
    let Some(mut model) = load_or_report(files) else { return ExitCode::FAILURE };
    crate::ops::resolve_secrets(&mut model);
    let saved = match planfile.map(read_plan).transpose() {
        Ok(p) => p,
        Err(e) => {
            say(&format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let wanted: Vec<String> = match &saved {
        Some(p) => p.hosts.iter().map(|h| h.host.clone()).collect(),
        None => limit.to_vec(),
    };
    if let Err(code) = super::check_targets(&model, target) {
        return code;
    }
    let hosts = match select_targets(&model, &wanted) {
        Ok(h) => h,
        Err(code) => return code,
    };
    apply_with(&model, &hosts, target, saved.as_ref(), auto_approve, parallel, &default_connector)
}

/// The apply flow with a given connector (used by `demo`).
pub(crate) fn apply_with(
    model: &crate::model::Model,
    hosts: &[String],
    target: &[String],
    saved: Option<&Plan>,
    auto_approve: bool,
    parallel: usize,
    connect: &Connector<'_>,
) -> ExitCode {
    let (mut plan, results) = crate::ops::observe_and_plan(model, hosts, parallel, connect, Mode::Lock);
    plan.retain_targets(target);
    if let Some(saved) = saved {
        match saved_plan_to_run(&plan, saved) {
            Ok(p) => plan = p,
            Err(e) => {
                say(&format!("error: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(render::human(&plan, crate::render::stdout_color()).as_bytes());
    // A host that ran out of time while being read (a wedged xend) is left out, named, and
    // fails the run; the other hosts still apply. Any other error stops everything, as before.
    let timed_out: Vec<HostReport> = results
        .iter()
        .filter_map(|r| match &r.observed {
            Err(crate::apply::LockError::Transport(e @ crate::transport::TransportError::TimedOut { .. })) => {
                Some(HostReport { host: r.host.clone(), steps: Vec::new(), error: Some(e.to_string()), execs: 1 })
            }
            _ => None,
        })
        .collect();
    let skipped = |host: &str| timed_out.iter().any(|t| t.host == host);
    if plan.hosts.iter().any(|h| !h.errors.is_empty() && !skipped(&h.host)) {
        for e in plan.hosts.iter().flat_map(|h| &h.errors) {
            super::error(e);
        }
        say("error: the plan has errors; nothing was applied");
        return ExitCode::FAILURE;
    }
    for t in &timed_out {
        say(&format!(
            "error: {}; that host is left out, the others are applied",
            t.error.as_deref().unwrap_or_default()
        ));
    }
    plan.hosts.retain(|h| !skipped(&h.host));
    if plan.is_empty() {
        if timed_out.is_empty() {
            return ExitCode::SUCCESS;
        }
        let (text, _) = report_text(&timed_out);
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return ExitCode::FAILURE;
    }
    if saved.is_none() && !auto_approve {
        if !std::io::stdin().is_terminal() {
            say("error: no terminal to confirm on; pass --auto-approve, or save a plan with `plan -o` and apply that");
            return ExitCode::FAILURE;
        }
        say("\nDo you want to perform these actions? Only 'yes' will be accepted.");
        let _ = write!(std::io::stderr(), "  Enter a value: ");
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            say("Apply cancelled; nothing was changed.");
            return ExitCode::FAILURE;
        }
    }
    let mut reports = crate::ops::execute(model, &plan, results, parallel);
    reports.extend(timed_out);
    reports.sort_by(|a, b| a.host.cmp(&b.host));
    let (text, ok) = report_text(&reports);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The plan to run for a saved plan, under the lock: refused when a host changed since it was
/// made (per-host fingerprint) or when the re-made plan `fresh` differs (the desired state or a
/// secret's value changed). The saved plan itself runs: its secrets are references resolved at
/// the edge (`apply::secrets`). Host text redacted when it was saved (a Manager's `{AES}` values)
/// cannot run as saved; then `fresh`, equal to it but for those values, runs.
fn saved_plan_to_run(fresh: &Plan, saved: &Plan) -> Result<Plan, String> {
    let stale: Vec<String> = saved
        .hosts
        .iter()
        .filter_map(|s| {
            let now = fresh.hosts.iter().find(|h| h.host == s.host).map(|h| h.fingerprint.as_str()).unwrap_or("");
            (now != s.fingerprint).then(|| {
                format!(
                    "{} (planned at {}, now {})",
                    s.host,
                    s.fingerprint,
                    if now.is_empty() { "unreadable" } else { now }
                )
            })
        })
        .collect();
    if !stale.is_empty() {
        return Err(format!("the saved plan is stale: these hosts changed since it was made: {}\nnothing was applied; run `domform plan` again", stale.join(", ")));
    }
    // Why the plan cannot be made now (a secret that cannot be read) says more than "changed".
    let errors: Vec<&str> = fresh.hosts.iter().flat_map(|h| &h.errors).map(String::as_str).collect();
    if !errors.is_empty() {
        return Err(format!("{}\nnothing was applied", errors.join("\n")));
    }
    let as_json = |p: &Plan| serde_json::from_str::<serde_json::Value>(&render::json(p)).ok();
    if as_json(fresh) != as_json(saved) {
        return Err("the desired state changed since the plan was made (the hosts did not); nothing was applied; run `domform plan` again".into());
    }
    let redacted = saved.hosts.iter().flat_map(|h| &h.changes).flat_map(|c| &c.ops).any(|o| match o {
        crate::plan::Op::WriteFile { content, .. } | crate::plan::Op::ReplaceFile { content, .. } => {
            content.contains(render::REDACTED)
        }
        _ => false,
    });
    Ok(if redacted { fresh.clone() } else { saved.clone() })
}

/// The apply report for people; `true` when everything succeeded. Folded unless `-v`.
pub(crate) fn report_text(reports: &[HostReport]) -> (String, bool) {
    report_text_with(reports, crate::render::verbose())
}

/// The apply report. Unless `verbose`, more than [`render::FOLD_AFTER`] steps of one kind done
/// on a host (100 disk creates) show as one `✓` line: how many, first … last in natural order.
/// Other steps, and every step that did not succeed, are listed one a line.
pub(crate) fn report_text_with(reports: &[HostReport], verbose: bool) -> (String, bool) {
    let (mut done, mut failed, mut not_run) = (0, 0, 0);
    let mut s = String::from("\n");
    for r in reports {
        if r.steps.is_empty() && r.error.is_none() {
            continue;
        }
        s.push_str(&format!("Host {} ({} exec{}):\n", r.host, r.execs, if r.execs == 1 { "" } else { "s" }));
        let kind = |id: &str| id.split_once('/').map_or(id, |(k, _)| k).to_string();
        let done_of = |k: &str| -> Vec<&str> {
            r.steps
                .iter()
                .filter(|st| matches!(st.status, StepStatus::Done) && kind(&st.id) == k)
                .map(|st| st.id.as_str())
                .collect()
        };
        let mut folded: Vec<String> = Vec::new();
        for step in &r.steps {
            match &step.status {
                StepStatus::Done if folded.contains(&kind(&step.id)) => {}
                StepStatus::Done if !verbose && done_of(&kind(&step.id)).len() > render::FOLD_AFTER => {
                    let k = kind(&step.id);
                    let ids = done_of(&k);
                    done += ids.len();
                    s.push_str(&format!("  ✓ {}\n", done_summary(&k, &ids)));
                    folded.push(k);
                }
                StepStatus::Done => {
                    done += 1;
                    s.push_str(&format!("  ✓ {}\n", esc::line(&step.id)));
                }
                StepStatus::Failed { exit_status, output } => {
                    failed += 1;
                    // A check (verify/pinning) has no exit status of its own; never print `exit ?`.
                    let code = exit_status.map(|c| format!(" (exit {c})")).unwrap_or_default();
                    s.push_str(&format!("  ✗ {} failed{code}\n", esc::line(&step.id)));
                    for line in render::redact(output).lines() {
                        s.push_str(&format!("      {}\n", esc::line(line)));
                    }
                    if output.trim().is_empty() {
                        s.push_str("      (it printed nothing)\n");
                    }
                }
                StepStatus::Interrupted => {
                    failed += 1;
                    s.push_str(&format!(
                        "  ? {} interrupted: the connection was lost while it ran (it may have run in part)\n",
                        esc::line(&step.id)
                    ));
                }
                StepStatus::TimedOut { after_secs } => {
                    failed += 1;
                    s.push_str(&format!(
                        "  ⏱ {} timed out after {after_secs} s (step_timeout): stopped, it may have run in part\n",
                        step.id
                    ));
                }
                StepStatus::NotRun => {
                    not_run += 1;
                    s.push_str(&format!("  · {} not run\n", esc::line(&step.id)));
                }
            }
        }
        if let Some(e) = &r.error {
            s.push_str(&format!("  error: {}\n", esc::text(&render::redact(e))));
        }
    }
    let ok = failed == 0 && not_run == 0 && reports.iter().all(|r| r.error.is_none());
    s.push_str(&format!(
        "Apply {}: {done} done, {failed} failed, {not_run} not run.\n",
        if ok { "complete" } else { "FAILED" }
    ));
    (s, ok)
}

/// `100 disk done: disk/web01/data1 … disk/web01/data100 (-v lists each)`.
fn done_summary(kind: &str, ids: &[&str]) -> String {
    let first = ids.iter().copied().min_by(|a, b| crate::render::natural_cmp(a, b)).unwrap_or_default();
    let last = ids.iter().copied().max_by(|a, b| crate::render::natural_cmp(a, b)).unwrap_or_default();
    format!("{} {} done: {} … {} (-v lists each)", ids.len(), esc::line(kind), esc::line(first), esc::line(last))
}

#[cfg(test)]
mod tests {
    use super::{report_text, report_text_with};
    use crate::apply::{HostReport, StepReport, StepStatus};

    #[test]
    fn failed_step_output_and_errors_are_redacted() {
        let pw = "Pw-7f3a9";
        let output = format!("cannot write vm.cfg: vncpasswd = '{pw}'\nvfb = ['type=vnc,vncpasswd={pw}']\n");
        let report = HostReport {
            host: "h1".into(),
            steps: vec![StepReport {
                id: "vm/web01".into(),
                status: StepStatus::Failed { exit_status: Some(1), output },
            }],
            error: Some(format!("h1: bad line vncpasswd = '{pw}'")),
            execs: 1,
        };
        let (text, ok) = report_text(&[report]);
        assert!(!ok);
        assert!(!text.contains(pw), "{text}");
        assert!(text.contains("vncpasswd = '(redacted)'") && text.contains("vncpasswd=(redacted)"), "{text}");
    }

    #[test]
    fn hundred_done_steps_fold_to_one_line_per_host() {
        let step = |id: String| StepReport { id, status: StepStatus::Done };
        let mut steps: Vec<StepReport> = (1..=100).map(|i| step(format!("disk/web01/data{i}"))).collect();
        steps.sort_by(|a, b| a.id.cmp(&b.id)); // as text: data1, data10, data100, data11, …
        steps.push(step("vm/web01".into()));
        steps.push(StepReport {
            id: "power/web01".into(),
            status: StepStatus::Failed { exit_status: Some(1), output: "no".into() },
        });
        let host = |name: &str, steps: Vec<StepReport>| HostReport { host: name.into(), steps, error: None, execs: 1 };
        let reports = [host("h1", steps.clone()), host("h2", steps[..3].to_vec())];
        let (text, ok) = report_text_with(&reports, false);
        assert!(!ok);
        assert_eq!(
            text,
            "\nHost h1 (1 exec):\n  ✓ 100 disk done: disk/web01/data1 … disk/web01/data100 (-v lists each)\n  \
             ✓ vm/web01\n  ✗ power/web01 failed (exit 1)\n      no\nHost h2 (1 exec):\n  ✓ disk/web01/data1\n  ✓ disk/web01/data10\n  \
             ✓ disk/web01/data100\nApply FAILED: 104 done, 1 failed, 0 not run.\n"
        );
        let (full, _) = report_text_with(&reports, true);
        assert_eq!(full.matches("  ✓ ").count(), 104, "{full}");
        assert!(
            full.contains("  ✓ disk/web01/data57\n") && full.contains("Apply FAILED: 104 done, 1 failed, 0 not run.\n")
        );
    }
}
