//! A plan saved with `plan -o` and applied later: read it, then refuse it when it no longer
//! describes what would be done.
//!
//! Two checks, in this order, both under the host locks: each host's fingerprint (the observed
//! state it was planned from) must be unchanged, and the plan made now must equal the saved one
//! (the desired state may have changed while the hosts did not). Either failure applies nothing.

use std::path::Path;

use crate::plan::{Plan, FORMAT_VERSION};
use crate::render::plan as render;

/// Reads a saved plan; refuses another format version.
pub fn read(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::plan::saved::check(path, &text)?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: not a domform plan: {e}", path.display(), e.line(), e.column()))?;
    if plan.format_version != FORMAT_VERSION {
        return Err(format!(
            "{}: plan format {} is not {FORMAT_VERSION}; make the plan again with this domform",
            path.display(),
            plan.format_version,
        ));
    }
    Ok(plan)
}

/// The plan to run for `saved`, under the locks: refused when a host changed since it was
/// made (per-host fingerprint), when the plan cannot be made now (a secret that cannot be read
/// says so by name), or when the plan made now, `fresh`, differs (the desired state or a
/// secret's value changed). The saved plan itself runs: its secrets are references resolved at
/// the edge (`apply::secrets`). Host text redacted when it was saved (a Manager's `{AES}`
/// values) cannot run as saved; then `fresh`, equal to it but for those values, runs.
pub fn to_run(saved: &Plan, fresh: Plan) -> Result<Plan, String> {
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
        return Err(format!(
            "the saved plan is stale: these hosts changed since it was made: {}\nnothing was applied; run `domform plan` again",
            stale.join(", ")
        ));
    }
    let errors: Vec<&str> = fresh.hosts.iter().flat_map(|h| &h.errors).map(String::as_str).collect();
    if !errors.is_empty() {
        return Err(format!("{}\nnothing was applied", errors.join("\n")));
    }
    // Compared as JSON values: what was saved is what the plan file holds.
    let as_json = |p: &Plan| serde_json::from_str::<serde_json::Value>(&render::json(p)).ok();
    if as_json(&fresh) != as_json(saved) {
        return Err("the desired state changed since the plan was made (the hosts did not); nothing was applied; run `domform plan` again".into());
    }
    let redacted = saved.hosts.iter().flat_map(|h| &h.changes).flat_map(|c| &c.ops).any(|o| match o {
        crate::plan::Op::WriteFile { content, .. } | crate::plan::Op::ReplaceFile { content, .. } => {
            content.contains(render::REDACTED)
        }
        _ => false,
    });
    Ok(if redacted { fresh } else { saved.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::HostPlan;

    fn plan(hosts: Vec<HostPlan>) -> Plan {
        Plan { format_version: FORMAT_VERSION, hosts }
    }

    #[test]
    fn the_same_plan_passes() {
        let p = plan(vec![HostPlan::new("h1", "fp1")]);
        assert_eq!(to_run(&p, p.clone()), Ok(p.clone()), "the saved plan itself runs");
    }

    #[test]
    fn a_changed_host_is_named_with_both_fingerprints() {
        let saved = plan(vec![HostPlan::new("h1", "fp1"), HostPlan::new("h2", "fp2")]);
        let now = plan(vec![HostPlan::new("h1", "fp1"), HostPlan::failed("h2", "unreachable")]);
        let e = to_run(&saved, now).expect_err("stale");
        assert!(e.contains("stale") && e.contains("h2 (planned at fp2, now unreadable)") && !e.contains("h1"), "{e}");
    }

    #[test]
    fn a_changed_desired_state_on_unchanged_hosts_is_refused() {
        let saved = plan(vec![HostPlan::new("h1", "fp1")]);
        let mut now = saved.clone();
        now.hosts[0].notes.push("something else would happen".into());
        let e = to_run(&saved, now).expect_err("changed");
        assert!(e.contains("desired state changed"), "{e}");
    }

    #[test]
    fn a_plan_that_cannot_be_made_now_says_why() {
        let saved = plan(vec![HostPlan::new("h1", "fp1")]);
        let mut now = saved.clone();
        now.hosts[0].errors.push("VM `db01`: VNC password: environment variable `VNC_PW` is not set".into());
        let e = to_run(&saved, now).expect_err("unreadable secret");
        assert!(e.contains("`VNC_PW` is not set") && e.contains("nothing was applied"), "{e}");
    }

    #[test]
    fn another_format_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.json");
        std::fs::write(&path, r#"{"format_version": 0, "hosts": []}"#).expect("write");
        let e = read(&path).expect_err("old format");
        assert!(e.contains("plan format 0 is not"), "{e}");
    }
}
