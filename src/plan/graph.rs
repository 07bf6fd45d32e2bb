//! Ordering a host's changes with petgraph.
//!
//! Edges come from each change's `depends_on` (disks before the VM that uses them, vm.cfg
//! before start). Kahn's algorithm with a min-heap on the change id gives the same order on
//! every run; a cycle is an error that names its members (tarjan SCCs).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use petgraph::graphmap::DiGraphMap;

use super::Change;

/// Sorts changes so every change follows what it depends on; ties by id.
pub fn order(changes: Vec<Change>) -> Result<Vec<Change>, String> {
    let index: BTreeMap<String, usize> = changes.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
    let mut g: DiGraphMap<usize, ()> = DiGraphMap::new();
    for i in 0..changes.len() {
        g.add_node(i);
    }
    for (i, c) in changes.iter().enumerate() {
        for dep in &c.depends_on {
            match index.get(dep) {
                Some(&j) => {
                    g.add_edge(j, i, ());
                }
                None => return Err(format!("change `{}` depends on `{dep}`, which is not in the plan", c.id)),
            }
        }
    }
    let mut indegree: Vec<usize> =
        (0..changes.len()).map(|i| g.neighbors_directed(i, petgraph::Incoming).count()).collect();
    let mut ready: BinaryHeap<Reverse<(&str, usize)>> =
        (0..changes.len()).filter(|&i| indegree[i] == 0).map(|i| Reverse((changes[i].id.as_str(), i))).collect();
    let mut sorted = Vec::with_capacity(changes.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        sorted.push(i);
        for j in g.neighbors_directed(i, petgraph::Outgoing) {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse((changes[j].id.as_str(), j)));
            }
        }
    }
    if sorted.len() < changes.len() {
        let cycles: Vec<String> = petgraph::algo::tarjan_scc(&g)
            .into_iter()
            .filter(|scc| scc.len() > 1 || scc.iter().any(|&n| g.contains_edge(n, n)))
            .map(|scc| {
                let mut names: Vec<&str> = scc.iter().map(|&n| changes[n].id.as_str()).collect();
                names.sort();
                names.join(" → ")
            })
            .collect();
        return Err(format!("dependency cycle between changes: {}", cycles.join("; ")));
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    Ok(sorted.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Impact, Resource};

    fn c(id: &str, deps: &[&str]) -> Change {
        Change {
            id: id.into(),
            resource: Resource::Vm,
            name: id.into(),
            action: Action::Create,
            impact: Impact::Live,
            fields: vec![],
            file: None,
            ops: vec![],
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            verify_pins: Vec::new(),
            cause: None,
        }
    }

    #[test]
    fn dependencies_first_then_ids() {
        let out =
            order(vec![c("power/a", &["vm/a"]), c("vm/a", &["disk/a/x"]), c("disk/a/x", &[]), c("disk/a/b", &[])])
                .expect("acyclic");
        let ids: Vec<&str> = out.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["disk/a/b", "disk/a/x", "vm/a", "power/a"]);
    }

    #[test]
    fn cycles_name_their_members() {
        let e = order(vec![c("a", &["b"]), c("b", &["a"]), c("z", &[])]).expect_err("cycle");
        assert!(e.contains("a → b"), "{e}");
        assert!(!e.contains('z'), "{e}");
    }

    #[test]
    fn unknown_dependency_is_an_error() {
        assert!(order(vec![c("a", &["nope"])]).is_err());
    }
}
