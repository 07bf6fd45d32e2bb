//! Sorting a plan by the `reconcile:` policy: which changes a scheduled run makes unattended,
//! and which it only reports, with the reason.
//!
//! A change is made when every kind of change it holds is allowed for its cause. A VM update
//! that mixes kinds (vm.cfg memory edited by hand *and* the live pinning moved) is split: the
//! live repairs (`xm vcpu-pin`, `mem-set`, `vcpu-set`, `block-attach` of a field shown as
//! `… (live)`) do not depend on the vm.cfg write, so an allowed one runs on its own, with its
//! own cause. Dependencies are kept: a change that needs one left out (wholly or in part) is
//! left too, and a VM with anything left does not get its apply record rewritten, since that
//! record would turn the intent still pending into "drift" on the next run.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::policy::{ChangeKind, Policy};
use crate::model::Model;
use crate::observe::Observed;
use crate::plan::cause::{self, Cause};
use crate::plan::{Action, Change, HostPlan, Op, Resource};

/// A change (or part of one) and why it was made or left.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sorted {
    /// The change's id (`vm/db01`, `power/db01`).
    pub id: String,
    /// The VM or disk name.
    pub name: String,
    /// The kinds it holds.
    pub kinds: Vec<ChangeKind>,
    /// Its cause (none: a manager change).
    pub cause: Option<Cause>,
    /// The fields it touches.
    pub fields: Vec<String>,
    /// Why it is left (none: it is made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// One host's plan sorted: what runs, what is reported.
#[derive(Debug, Clone, Default)]
pub struct HostSort {
    /// The changes to make, in plan order.
    pub run: Vec<Change>,
    /// What they are, for the report.
    pub fixed: Vec<Sorted>,
    /// What is left, with the reason.
    pub left: Vec<Sorted>,
}

/// The kinds of change `c` holds.
pub fn kinds(c: &Change) -> BTreeSet<ChangeKind> {
    let one = |k| BTreeSet::from([k]);
    match (c.resource, c.action) {
        (Resource::Power, _) => one(ChangeKind::Power),
        (Resource::Disk, _) => one(ChangeKind::Disks),
        (Resource::Snapshot, _) => one(ChangeKind::Snapshots),
        (Resource::Manager, _) => one(ChangeKind::Manager),
        (Resource::Vm, Action::Update) if !c.fields.is_empty() => {
            c.fields.iter().map(|f| field_kind(f.field.as_str())).collect()
        }
        (Resource::Vm, _) => one(ChangeKind::Config),
    }
}

/// The kind of a plan field (`memory`, `cpus (live)`, …).
pub fn field_kind(field: &str) -> ChangeKind {
    match field.strip_suffix(" (live)").unwrap_or(field) {
        "memory" | "maxmem" => ChangeKind::Memory,
        "vcpus" | "maxvcpus" => ChangeKind::Vcpus,
        "cpus" => ChangeKind::Pinning,
        "disk" => ChangeKind::Disks,
        _ => ChangeKind::Config,
    }
}

/// Whether `policy` lets a change of `cause` holding `kinds` run unattended.
pub fn allowed(policy: &Policy, cause: Option<Cause>, kinds: &BTreeSet<ChangeKind>) -> bool {
    let set = match cause {
        Some(Cause::Drift) => &policy.drift,
        Some(Cause::Intent) => &policy.intent,
        Some(Cause::New) => &policy.new,
        None => return false,
    };
    !kinds.is_empty() && kinds.is_subset(set)
}

fn describe(c: &Change, why: Option<String>) -> Sorted {
    Sorted {
        id: c.id.clone(),
        name: c.name.clone(),
        kinds: kinds(c).into_iter().collect(),
        cause: c.cause,
        fields: c.fields.iter().map(|f| f.field.as_str().to_string()).collect(),
        why,
    }
}

/// The toolstack verb that repairs a live field of this kind.
fn live_verb(kind: ChangeKind) -> Option<&'static str> {
    match kind {
        ChangeKind::Pinning => Some("vcpu-pin"),
        ChangeKind::Memory => Some("mem-set"),
        ChangeKind::Vcpus => Some("vcpu-set"),
        ChangeKind::Disks => Some("block-attach"),
        _ => None,
    }
}

/// Splits a VM update into the live repairs `policy` allows (with their own cause) and the rest.
fn split(c: &Change, policy: &Policy, cause_of: &dyn Fn(&Change) -> Option<Cause>) -> Option<(Change, Change)> {
    if c.resource != Resource::Vm || c.action != Action::Update {
        return None;
    }
    let mut part = Change { fields: Vec::new(), ops: Vec::new(), file: None, verify_pins: Vec::new(), ..c.clone() };
    let mut rest = Change { fields: Vec::new(), ..c.clone() };
    for f in &c.fields {
        let kind = field_kind(f.field.as_str());
        let live = f.field.as_str().ends_with(" (live)");
        // Only one live field per kind exists when no vm.cfg field of that kind is planned.
        let alone = live
            && !c.fields.iter().any(|g| g.field.as_str() != f.field.as_str() && field_kind(g.field.as_str()) == kind);
        let mut probe = Change { fields: vec![f.clone()], ..part.clone() };
        probe.cause = cause_of(&probe).or(c.cause);
        if alone && live_verb(kind).is_some() && allowed(policy, probe.cause, &BTreeSet::from([kind])) {
            part.fields.push(f.clone());
        } else {
            rest.fields.push(f.clone());
        }
    }
    if part.fields.is_empty() {
        return None;
    }
    let verbs: Vec<&str> = part.fields.iter().filter_map(|f| live_verb(field_kind(f.field.as_str()))).collect();
    let mine = |op: &Op| matches!(op, Op::Xen { args } if args.first().is_some_and(|v| verbs.contains(&v.as_str())));
    part.ops = c.ops.iter().filter(|op| mine(op)).cloned().collect();
    rest.ops = c.ops.iter().filter(|op| !mine(op)).cloned().collect();
    if verbs.contains(&"vcpu-pin") {
        part.verify_pins = c.verify_pins.clone();
        rest.verify_pins.clear();
    }
    part.cause = cause_of(&part).or(c.cause);
    rest.cause = cause_of(&rest).or(c.cause);
    Some((part, rest))
}

/// The cause of a (part of a) change of `vm`, from the apply record observed on the host.
fn cause_fn<'a>(model: &'a Model, obs: Option<&'a Observed>) -> impl Fn(&Change) -> Option<Cause> + 'a {
    move |c: &Change| {
        let vm_name = c.name.split('/').next().unwrap_or_default();
        let vm = model.vms.get(vm_name)?;
        let record = obs
            .and_then(|o| o.applied.get(&cause::record_path(&vm.repository, &vm.name)))
            .and_then(|t| cause::parse(t));
        Some(cause::cause_of(c, &cause::intent_fields(vm), record.as_ref()))
    }
}

/// Sorts one host's plan (in apply order) by `policy`.
pub fn sort_host(model: &Model, obs: Option<&Observed>, hp: &HostPlan, policy: &Policy) -> HostSort {
    let cause_of = cause_fn(model, obs);
    let mut out = HostSort::default();
    for c in &hp.changes {
        let missing: Vec<&str> =
            c.depends_on.iter().map(String::as_str).filter(|d| out.left.iter().any(|l| l.id == *d)).collect();
        if !missing.is_empty() {
            out.left.push(describe(c, Some(format!("needs {}, which is left", missing.join(", ")))));
            continue;
        }
        if allowed(policy, c.cause, &kinds(c)) {
            out.fixed.push(describe(c, None));
            out.run.push(c.clone());
            continue;
        }
        let why = |c: &Change| {
            let cause = c.cause.map_or("no cause", Cause::word);
            let ks: Vec<&str> = kinds(c).into_iter().map(ChangeKind::word).collect();
            format!("the policy does not fix {} {cause}", ks.join(", "))
        };
        match split(c, policy, &cause_of) {
            Some((part, rest)) => {
                out.fixed.push(describe(&part, None));
                if !rest.fields.is_empty() {
                    out.left.push(describe(&rest, Some(why(&rest))));
                }
                out.run.push(part);
            }
            None => out.left.push(describe(c, Some(why(c)))),
        }
    }
    keep_records_honest(&mut out);
    out
}

/// A VM with anything left keeps its old apply record: drop the record write from its changes.
fn keep_records_honest(out: &mut HostSort) {
    let vm_of = |name: &str| name.split('/').next().unwrap_or_default().to_string();
    let pending: BTreeMap<String, ()> = out.left.iter().map(|l| (vm_of(&l.name), ())).collect();
    let record_dir = format!("/{}/", cause::DIR);
    for c in out.run.iter_mut().filter(|c| pending.contains_key(&vm_of(&c.name))) {
        c.ops.retain(|op| !matches!(op, Op::WriteFile { path, .. } if path.contains(&record_dir)));
    }
    out.run.retain(|c| !c.ops.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FieldChange, Impact};

    fn xen(args: &[&str]) -> Op {
        Op::Xen { args: args.iter().map(|a| a.to_string()).collect() }
    }

    fn change(id: &str, resource: Resource, fields: &[&str], ops: Vec<Op>, cause: Cause) -> Change {
        Change {
            id: id.into(),
            resource,
            name: "db01".into(),
            action: if resource == Resource::Power { Action::Start } else { Action::Update },
            impact: Impact::Live,
            fields: fields
                .iter()
                .map(|f| FieldChange { field: (*f).into(), old: None, new: None, impact: Impact::Live })
                .collect(),
            file: None,
            ops,
            depends_on: vec![],
            verify_pins: vec![],
            cause: Some(cause),
        }
    }

    fn drift(kinds: &[ChangeKind]) -> Policy {
        Policy { drift: kinds.iter().copied().collect(), ..Policy::default() }
    }

    fn host(changes: Vec<Change>) -> HostPlan {
        HostPlan { changes, ..HostPlan::new("h1", "fp") }
    }

    /// vm.cfg memory edited by hand and the live pinning moved, in one change (as vm.rs plans it).
    fn memory_and_pinning() -> Change {
        let record = Op::WriteFile {
            path: "/r/.domform-applied/x.json".into(),
            content: String::new(),
            backup: false,
            secrets: vec![],
        };
        let cfg = Op::WriteFile { path: "/r/vm.cfg".into(), content: String::new(), backup: true, secrets: vec![] };
        let ops = vec![cfg, xen(&["mem-set", "d", "256"]), xen(&["vcpu-pin", "d", "all", "2-3"]), record];
        change("vm/db01", Resource::Vm, &["memory", "cpus (live)"], ops, Cause::Drift)
    }

    #[test]
    fn kinds_come_from_resources_and_fields() {
        let c = memory_and_pinning();
        assert_eq!(kinds(&c).into_iter().collect::<Vec<_>>(), [ChangeKind::Pinning, ChangeKind::Memory]);
        let p = change("power/db01", Resource::Power, &["state"], vec![], Cause::Drift);
        assert_eq!(kinds(&p).into_iter().collect::<Vec<_>>(), [ChangeKind::Power]);
        for (f, k) in
            [("maxvcpus", ChangeKind::Vcpus), ("disk (live)", ChangeKind::Disks), ("on_crash", ChangeKind::Config)]
        {
            assert_eq!(field_kind(f), k, "{f}");
        }
    }

    #[test]
    fn the_empty_policy_fixes_nothing_and_says_why() {
        let s = sort_host(&Model::default(), None, &host(vec![memory_and_pinning()]), &Policy::default());
        assert!(s.run.is_empty() && s.fixed.is_empty());
        assert_eq!(s.left.len(), 1);
        assert_eq!(s.left[0].why.as_deref(), Some("the policy does not fix pinning, memory drift"));
    }

    #[test]
    fn a_mixed_change_is_split_into_the_allowed_live_repair_and_the_rest() {
        let s = sort_host(&Model::default(), None, &host(vec![memory_and_pinning()]), &drift(&[ChangeKind::Pinning]));
        assert_eq!(s.run.len(), 1);
        assert_eq!(s.run[0].ops, vec![xen(&["vcpu-pin", "d", "all", "2-3"])], "only the pinning runs, no record");
        assert_eq!(s.fixed[0].kinds, [ChangeKind::Pinning]);
        assert_eq!(s.left[0].kinds, [ChangeKind::Memory]);
        assert_eq!(s.left[0].fields, ["memory"]);
        // Drift of both kinds allowed: the whole change runs, with its record.
        let both = drift(&[ChangeKind::Pinning, ChangeKind::Memory]);
        let s = sort_host(&Model::default(), None, &host(vec![memory_and_pinning()]), &both);
        assert_eq!((s.run.len(), s.left.len()), (1, 0));
        assert_eq!(s.run[0].ops.len(), 4);
        // The same change as intent is not drift: nothing runs.
        let mut c = memory_and_pinning();
        c.cause = Some(Cause::Intent);
        let s = sort_host(&Model::default(), None, &host(vec![c]), &both);
        assert!(s.run.is_empty());
    }

    #[test]
    fn a_change_needing_one_left_is_left_and_records_stay_old() {
        let mut power = change("power/db01", Resource::Power, &["state"], vec![xen(&["create", "x"])], Cause::Drift);
        power.depends_on = vec!["vm/db01".into()];
        let record = Op::WriteFile {
            path: "/r/.domform-applied/x.json".into(),
            content: String::new(),
            backup: false,
            secrets: vec![],
        };
        power.ops.push(record);
        let policy = drift(&[ChangeKind::Pinning, ChangeKind::Power]);
        let s = sort_host(&Model::default(), None, &host(vec![memory_and_pinning(), power.clone()]), &policy);
        assert_eq!(s.run.len(), 1, "the pinning part only");
        assert_eq!(s.left.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["vm/db01", "power/db01"]);
        assert_eq!(s.left[1].why.as_deref(), Some("needs vm/db01, which is left"));
        // Alone, the power change runs, but a VM with anything left keeps its old record.
        let mem = change("vm/db01", Resource::Vm, &["memory"], vec![], Cause::Drift);
        power.depends_on.clear();
        let s = sort_host(&Model::default(), None, &host(vec![mem, power]), &policy);
        assert_eq!(s.run.len(), 1);
        assert_eq!(s.run[0].ops, vec![xen(&["create", "x"])], "record write dropped");
    }
}
