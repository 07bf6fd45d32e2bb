//! The apply report: per host, what ran (`✓`), failed (`✗`), was interrupted, timed out or did
//! not run, then one summary line. Steps that succeeded fold per kind unless `-v`, failures
//! never do: the report must say what happened, and the next plan says what is left.

use crate::apply::{HostReport, StepStatus};
use crate::render::escape as esc;

/// The apply report for people; `true` when everything succeeded. Folded unless `-v`.
pub fn text(reports: &[HostReport]) -> (String, bool) {
    text_with(reports, crate::render::verbose())
}

/// The apply report. Unless `verbose`, more than [`super::plan::FOLD_AFTER`] steps of one kind done
/// on a host (100 disk creates) show as one `✓` line: how many, first … last in natural order.
/// Other steps, and every step that did not succeed, are listed one a line.
pub fn text_with(reports: &[HostReport], verbose: bool) -> (String, bool) {
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
                StepStatus::Done if !verbose && done_of(&kind(&step.id)).len() > super::plan::FOLD_AFTER => {
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
                    for line in super::plan::redact(output).lines() {
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
            s.push_str(&format!("  error: {}\n", esc::text(&super::plan::redact(e))));
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
    use super::{text as report_text, text_with as report_text_with};
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
