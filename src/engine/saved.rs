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

/// `Ok` when `saved` may run: every host's fingerprint matches the plan made `now` (under the
/// locks) and the two plans are equal. The error says which check failed and that nothing ran.
pub fn check(saved: &Plan, now: &Plan) -> Result<(), String> {
    let stale: Vec<String> = saved
        .hosts
        .iter()
        .filter_map(|s| {
            let now = now.hosts.iter().find(|h| h.host == s.host).map(|h| h.fingerprint.as_str()).unwrap_or("");
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
    // Compared as JSON values: what was saved is what the plan file holds.
    let as_json = |p: &Plan| serde_json::from_str::<serde_json::Value>(&render::json(p)).ok();
    if as_json(now) != as_json(saved) {
        return Err("the desired state changed since the plan was made (the hosts did not); nothing was applied; run `domform plan` again".into());
    }
    Ok(())
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
        assert_eq!(check(&p, &p.clone()), Ok(()));
    }

    #[test]
    fn a_changed_host_is_named_with_both_fingerprints() {
        let saved = plan(vec![HostPlan::new("h1", "fp1"), HostPlan::new("h2", "fp2")]);
        let now = plan(vec![HostPlan::new("h1", "fp1"), HostPlan::failed("h2", "unreachable")]);
        let e = check(&saved, &now).expect_err("stale");
        assert!(e.contains("stale") && e.contains("h2 (planned at fp2, now unreadable)") && !e.contains("h1"), "{e}");
    }

    #[test]
    fn a_changed_desired_state_on_unchanged_hosts_is_refused() {
        let saved = plan(vec![HostPlan::new("h1", "fp1")]);
        let mut now = saved.clone();
        now.hosts[0].notes.push("something else would happen".into());
        let e = check(&saved, &now).expect_err("changed");
        assert!(e.contains("desired state changed"), "{e}");
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
