//! The `reconcile:` policy: which kinds of change a scheduled run may make unattended, per
//! cause. The default is the empty policy, so a scheduled run that nobody configured only
//! reports; fixing is always something a person wrote down.

use std::collections::BTreeSet;

pub use crate::manifest::raw::ChangeKind;
use crate::manifest::raw::RawReconcile;

/// Kinds of change fixed unattended, per cause (`docs/reconcile.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Fixed when the host moved away from the last apply.
    pub drift: BTreeSet<ChangeKind>,
    /// Fixed when the YAML changed since the last apply.
    pub intent: BTreeSet<ChangeKind>,
    /// Fixed when domform never applied the VM.
    pub new: BTreeSet<ChangeKind>,
}

impl Policy {
    /// The policy a `reconcile:` section declares (none: fix nothing).
    pub fn from_raw(raw: Option<&RawReconcile>) -> Policy {
        let Some(fix) = raw.and_then(|r| r.fix.as_ref()) else { return Policy::default() };
        Policy {
            drift: fix.drift.iter().copied().collect(),
            intent: fix.intent.iter().copied().collect(),
            new: fix.new.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::raw::RawFix;

    #[test]
    fn nothing_declared_fixes_nothing() {
        assert_eq!(Policy::from_raw(None), Policy::default());
        assert_eq!(Policy::from_raw(Some(&RawReconcile { fix: None })), Policy::default());
        let raw = RawReconcile {
            fix: Some(RawFix { drift: vec![ChangeKind::Pinning, ChangeKind::Power], intent: vec![], new: vec![] }),
        };
        let p = Policy::from_raw(Some(&raw));
        assert_eq!(p.drift.into_iter().collect::<Vec<_>>(), [ChangeKind::Pinning, ChangeKind::Power]);
        assert!(p.intent.is_empty() && p.new.is_empty());
    }
}
