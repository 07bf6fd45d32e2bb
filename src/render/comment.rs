//! The Markdown plan as a pull-request comment: it names the exact plan it shows (the SHA-256
//! of the plan file `plan -o` writes, so a reviewer can match the comment to the artifact that
//! `apply` will run), and it fits the platform's size limit.
//!
//! GitHub refuses comments over 65,536 characters and GitLab notes have a similar bound; a plan
//! that adds a thousand disks is longer. Cutting the text blindly would lose the end, where the
//! errors of the last hosts are, or cut a code fence in half and garble the rest. So the cut is
//! by structure: the summary line and the table of counts per host are always kept, then each
//! host's section whole while it fits, then for the remaining hosts only their heading, counts
//! and errors, and a last line that says what was left out and where the full plan is.

use sha2::{Digest, Sha256};

use super::plan as render;
use crate::plan::Plan;

/// GitHub's comment limit, in characters.
pub const GITHUB_LIMIT: usize = 65_536;

/// The bytes `plan -o FILE` saves for `plan`: its JSON sealed with a content hash
/// (`plan::saved`), so a hand edit is reported as one.
pub fn saved_bytes(plan: &Plan) -> String {
    let json = render::json(plan);
    crate::plan::saved::seal(&json).unwrap_or(json) + "\n"
}

/// SHA-256 of [`saved_bytes`], lower-case hex: what `sha256sum plan.json` prints.
pub fn plan_hash(plan: &Plan) -> String {
    Sha256::digest(saved_bytes(plan).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The Markdown plan with the plan's hash at the end, cut to at most `max` characters when
/// given (never below what the summary, table and footer need: those are always kept).
pub fn markdown(plan: &Plan, max: Option<usize>) -> String {
    let full = render::markdown(plan);
    let hash = plan_hash(plan);
    let whole = footer(&hash, None);
    let limit = max.unwrap_or(usize::MAX);
    if chars(&full) + chars(&whole) <= limit {
        return full + &whole;
    }
    let (head, sections) = split(&full);
    let total = sections.len();
    let shorts: Vec<String> = sections.iter().map(|s| short(s)).collect();
    // The footer's length hardly depends on the count it names; reserve its longest form.
    let reserve = chars(&footer(&hash, Some((total, total))));
    let mut out = head.to_string();
    let mut used = chars(head);
    let mut kept = 0;
    for (i, s) in sections.iter().enumerate() {
        let later: usize = shorts[i + 1..].iter().map(|s| chars(s)).sum();
        if used + chars(s) + later + reserve > limit {
            break;
        }
        out.push_str(s);
        used += chars(s);
        kept += 1;
    }
    for line in &shorts[kept..] {
        if used + chars(line) + reserve <= limit {
            out.push_str(line);
            used += chars(line);
        }
    }
    out + &footer(&hash, Some((kept, total)))
}

/// The last lines: the plan's hash and, when cut, what was left out.
fn footer(hash: &str, cut: Option<(usize, usize)>) -> String {
    let mut s = String::from("\n");
    if let Some((kept, total)) = cut {
        s.push_str(&format!(
            "✂️ **Cut to fit the comment limit:** {kept} of {total} host section(s) shown in full; the others show \
             their counts and errors only. The full plan is the saved plan file (the job's artifact).\n\n"
        ));
    }
    s.push_str(&format!(
        "<sub>plan file sha256 <code>{hash}</code> · `domform apply` of that file runs exactly this plan, or refuses \
         when a host changed since</sub>\n"
    ));
    s
}

/// The text before the first host section, and each host section (`<details>` … `</details>\n`).
fn split(md: &str) -> (&str, Vec<&str>) {
    let Some(first) = md.find("\n<details>") else { return (md, Vec::new()) };
    let head = &md[..first];
    let mut sections = Vec::new();
    let mut at = first;
    while let Some(end) = md[at..].find("</details>\n") {
        let stop = at + end + "</details>\n".len();
        sections.push(&md[at..stop]);
        at = stop;
    }
    (head, sections)
}

/// A host section without its diff: the heading (host and change count) and its ⛔ errors.
fn short(section: &str) -> String {
    let heading = section
        .lines()
        .find_map(|l| l.strip_prefix("<details><summary>").and_then(|l| l.strip_suffix("</summary>")))
        .unwrap_or("a host");
    let mut s = format!("\n- {heading} (details cut)\n");
    for e in section.lines().filter(|l| l.starts_with("- ⛔")) {
        s.push_str(&format!("  {e}\n"));
    }
    s
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Change, FieldChange, FileDiff, HostPlan, Impact, Resource};

    /// `hosts` hosts with `vms` VM updates each, every one a 40-line vm.cfg rewrite (~3 KB of diff).
    fn big_plan(hosts: usize, vms: usize) -> Plan {
        let cfg =
            |v: &str| (0..40).map(|n| format!("key{n} = '{v}-value-{n}-with-some-padding'\n")).collect::<String>();
        let change = |i: usize, v: usize| Change {
            id: format!("vm/vm{i}-{v}"),
            resource: Resource::Vm,
            name: format!("vm{i}-{v}"),
            action: Action::Update,
            impact: Impact::NeedsRestart,
            fields: vec![FieldChange {
                field: "memory".into(),
                old: Some("4096".into()),
                new: Some("8192".into()),
                impact: Impact::NeedsRestart,
            }],
            file: Some(FileDiff { path: format!("/OVS/r/vm{i}-{v}/vm.cfg"), old: cfg("old"), new: cfg("new") }),
            ops: vec![],
            depends_on: vec![],
            verify_pins: vec![],
            cause: None,
        };
        let host = |i: usize| HostPlan {
            host: format!("ovs{i:02}"),
            fingerprint: format!("f{i}"),
            changes: (0..vms).map(|v| change(i, v)).collect(),
            errors: if i == hosts - 1 { vec!["ovs-last: vm.cfg does not parse at line 3".into()] } else { vec![] },
            notes: vec![],
            warnings: vec![],
        };
        Plan { format_version: crate::plan::FORMAT_VERSION, hosts: (0..hosts).map(host).collect() }
    }

    #[test]
    fn a_short_plan_is_whole_and_names_its_hash() {
        let plan = big_plan(2, 3);
        let md = markdown(&plan, Some(GITHUB_LIMIT));
        assert!(md.starts_with(&render::markdown(&plan)), "{md}");
        assert!(md.contains(&format!("sha256 <code>{}</code>", plan_hash(&plan))));
        assert!(!md.contains("Cut to fit"));
        let (_, sections) = split(&md);
        assert_eq!(sections.len(), 2, "both hosts in full");
        assert_eq!(plan_hash(&plan).len(), 64);
    }

    #[test]
    fn a_long_plan_is_cut_by_host_and_keeps_summary_table_errors_and_hash() {
        let plan = big_plan(40, 5);
        let full = render::markdown(&plan);
        assert!(chars(&full) > GITHUB_LIMIT, "the test plan must be over the limit: {}", chars(&full));
        let md = markdown(&plan, Some(GITHUB_LIMIT));
        assert!(chars(&md) <= GITHUB_LIMIT, "{}", chars(&md));
        let (head, _) = split(&full);
        assert!(md.starts_with(head), "summary and table kept");
        assert!(md.contains("**Plan: 0 to create, 200 to update"), "{}", &md[..200]);
        assert!(md.contains("| ovs39 |"), "every host in the table");
        assert!(
            md.contains("- Host ovs39: 5 changes (details cut)\n  - ⛔ ovs-last: vm.cfg does not parse"),
            "errors kept"
        );
        let (_, kept) = split(&md);
        assert!(!kept.is_empty() && kept.len() < 40, "some hosts in full, not all: {}", kept.len());
        assert!(md.contains(&format!("Cut to fit the comment limit:** {} of 40 host section(s)", kept.len())));
        assert!(md.ends_with(&format!("sha256 <code>{}</code> · `domform apply` of that file runs exactly this plan, or refuses when a host changed since</sub>\n", plan_hash(&plan))));
        // Fences stay balanced: every ``` that opens a diff block is closed.
        assert_eq!(md.matches("```").count() % 2, 0);
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    }
}
