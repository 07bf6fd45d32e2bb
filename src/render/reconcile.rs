//! The `reconcile` summary for people: per host what was fixed and what was left, and why.
//! Host strings go through [`super::escape`].

use super::escape::line;
use crate::engine::reconcile::{HostStatus, Reconciled};
use crate::engine::sort::Sorted;

fn change(verb: &str, s: &Sorted) -> String {
    let kinds: Vec<&str> = s.kinds.iter().map(|k| k.word()).collect();
    let cause = s.cause.map_or("no cause", |c| c.word());
    let why = s.why.as_deref().map(|w| format!(": {}", line(w))).unwrap_or_default();
    format!("  {verb} {} [{cause}; {}] {}{why}\n", line(&s.id), kinds.join(", "), line(&s.fields.join(", ")))
}

/// The summary printed on stdout.
pub fn text(r: &Reconciled) -> String {
    let mut out = String::new();
    let (mut fixed, mut left) = (0, 0);
    for h in &r.hosts {
        out.push_str(&format!("{}: {}\n", line(&h.host), h.status.word()));
        for e in &h.errors {
            out.push_str(&format!("  error: {}\n", line(e)));
        }
        for s in &h.fixed {
            out.push_str(&change("fixed", s));
        }
        for s in &h.left {
            out.push_str(&change("left ", s));
        }
        fixed += h.fixed.len();
        left += h.left.len();
    }
    let count = |s: HostStatus| r.hosts.iter().filter(|h| h.status == s).count();
    out.push_str(&format!(
        "Reconcile{}: {fixed} fixed, {left} left; hosts: {} ok, {} unreachable, {} locked, {} error ({}).\n",
        if r.dry_run { " (dry run)" } else { "" },
        count(HostStatus::Ok),
        count(HostStatus::Unreachable),
        count(HostStatus::Locked),
        count(HostStatus::Error),
        r.outcome,
    ));
    out
}
