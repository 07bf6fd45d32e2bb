//! Physical CPU sets in xend's syntax: `"0-3,5,^1"`.
//!
//! xend (`XendConfig._convert_cpus_to_list`) reads comma items in order: `a-b` adds a range,
//! `n` adds one CPU, `^n` removes one. Order matters: `"0-3,^1,1"` is {0,1,2,3}. The same
//! function serves the YAML `cpus` field, vm.cfg `cpus`, and `xm vcpu-list` affinity output
//! (which also prints `any cpu` and `no cpus`).
//!
//! Output has one notation everywhere (`list`, its JSON, plans): a set as compressed ranges
//! (`4-7,9`), and pinning that differs between vCPUs as `vCPUs:set` groups ([`per_vcpu_text`]),
//! never vm.cfg's Python list or `xm vcpu-list`'s one line per vCPU.

use std::collections::BTreeSet;
use std::fmt;

/// Why a CPU set does not parse (the texts follow `bad CPU set: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuSetError {
    /// Nothing at all.
    #[error("empty CPU set")]
    Empty,
    /// `5-3`.
    #[error("range `{0}` runs backwards")]
    Backwards(String),
    /// `^2-3`.
    #[error("`{0}`: `^` removes one CPU, not a range")]
    RemovesRange(String),
    /// Every CPU removed again.
    #[error("`{0}` leaves no CPU")]
    NoneLeft(String),
    /// Not a number.
    #[error("`{0}` is not a CPU number or range")]
    NotNumber(String),
    /// Beyond [`MAX_CPU`].
    #[error("CPU {0} is beyond {MAX_CPU}")]
    Beyond(u32),
}

/// The largest CPU number accepted (xm's `all` is 0-63; real boxes reach a few hundred threads).
pub const MAX_CPU: u32 = 4095;

/// A set of physical CPU (thread) numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuSet(BTreeSet<u32>);

impl CpuSet {
    /// Parses xend syntax. Errors say which item is wrong.
    pub fn parse(text: &str) -> Result<CpuSet, CpuSetError> {
        let mut set = BTreeSet::new();
        if text.trim().is_empty() {
            return Err(CpuSetError::Empty);
        }
        for raw in text.split(',') {
            let item = raw.trim();
            let (remove, body) = match item.strip_prefix('^') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let (lo, hi) = match body.split_once('-') {
                Some((a, b)) => (cpu_number(a, item)?, cpu_number(b, item)?),
                None => {
                    let n = cpu_number(body, item)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(CpuSetError::Backwards(item.into()));
            }
            if remove && lo != hi {
                return Err(CpuSetError::RemovesRange(item.into()));
            }
            for cpu in lo..=hi {
                if remove {
                    set.remove(&cpu);
                } else {
                    set.insert(cpu);
                }
            }
        }
        if set.is_empty() {
            return Err(CpuSetError::NoneLeft(text.into()));
        }
        Ok(CpuSet(set))
    }

    /// Parses `xm vcpu-list` affinity: `any cpu` (all of `0..nr_cpus`), `no cpus`, or a set.
    pub fn parse_affinity(text: &str, nr_cpus: u32) -> Result<CpuSet, CpuSetError> {
        match text.trim() {
            "any cpu" => Ok(CpuSet((0..nr_cpus).collect())),
            "no cpus" | "none" => Ok(CpuSet::default()),
            other => CpuSet::parse(other),
        }
    }

    /// A set from numbers.
    pub fn from_cpus(cpus: impl IntoIterator<Item = u32>) -> CpuSet {
        CpuSet(cpus.into_iter().collect())
    }

    /// The CPUs, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// Number of CPUs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No CPU at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Membership.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }

    /// CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.intersection(&other.0).copied().collect())
    }

    /// CPUs in either set.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.union(&other.0).copied().collect())
    }

    /// The highest CPU number.
    pub fn highest(&self) -> Option<u32> {
        self.0.iter().next_back().copied()
    }
}

fn cpu_number(text: &str, item: &str) -> Result<u32, CpuSetError> {
    let n: u32 = text.trim().parse().map_err(|_| CpuSetError::NotNumber(item.into()))?;
    if n > MAX_CPU {
        return Err(CpuSetError::Beyond(n));
    }
    Ok(n)
}

/// Compressed ranges as xm prints them: `0-3,8,10-11`.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end += 1;
                iter.next();
            }
            parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        }
        f.write_str(&parts.join(","))
    }
}

/// Per-vCPU sets in one line: the set alone when every vCPU has the same one (`4-7`), else
/// `V:SET` groups in vCPU order, a run of vCPUs with the same set as one range: `0:4 1:5`,
/// `0-1:4-5 2:6`. Empty input gives an empty string.
pub fn per_vcpu_text(sets: &[CpuSet]) -> String {
    let Some(first) = sets.first() else { return String::new() };
    if sets.iter().all(|s| s == first) {
        return first.to_string();
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=sets.len() {
        if i == sets.len() || sets[i] != sets[start] {
            let vcpus = if i - 1 == start { start.to_string() } else { format!("{start}-{}", i - 1) };
            groups.push(format!("{vcpus}:{}", sets[start]));
            start = i;
        }
    }
    groups.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(t: &str) -> Vec<u32> {
        CpuSet::parse(t).expect("valid").iter().collect()
    }

    #[test]
    fn xend_examples() {
        assert_eq!(set("0-3,5,^1"), vec![0, 2, 3, 5]);
        assert_eq!(set("0-3,^1,1"), vec![0, 1, 2, 3]);
        assert_eq!(set("2,3"), vec![2, 3]);
        assert_eq!(set("12-19").len(), 8);
        assert_eq!(set(" 4 - 7 "), vec![4, 5, 6, 7]);
    }

    #[test]
    fn bad_sets_are_errors() {
        for bad in ["", "a", "3-1", "1-", "^1-3", "0,^0", "5000", "1,,2", "-1"] {
            assert!(CpuSet::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn errors_name_the_wrong_item() {
        let msg = |t: &str| CpuSet::parse(t).map_err(|e| e.to_string()).expect_err("fails");
        assert_eq!(msg(" "), "empty CPU set");
        assert_eq!(msg("3-1"), "range `3-1` runs backwards");
        assert_eq!(msg("^1-3"), "`^1-3`: `^` removes one CPU, not a range");
        assert_eq!(msg("0,^0"), "`0,^0` leaves no CPU");
        assert_eq!(msg("1,x"), "`x` is not a CPU number or range");
        assert_eq!(msg("5000"), "CPU 5000 is beyond 4095");
    }

    #[test]
    fn prints_compressed_ranges() {
        assert_eq!(CpuSet::from_cpus([0, 1, 2, 3, 8, 10, 11]).to_string(), "0-3,8,10-11");
        assert_eq!(CpuSet::parse("18-95").expect("valid").to_string(), "18-95");
    }

    #[test]
    fn per_vcpu_groups_runs_of_equal_sets() {
        let s = |t: &str| CpuSet::parse(t).expect("valid");
        assert_eq!(per_vcpu_text(&[s("4-7"), s("4-7")]), "4-7");
        assert_eq!(per_vcpu_text(&[s("4"), s("5")]), "0:4 1:5");
        assert_eq!(per_vcpu_text(&[s("4,5"), s("4-5"), s("6"), s("8-9,11")]), "0-1:4-5 2:6 3:8-9,11");
        assert_eq!(per_vcpu_text(&[s("1"), s("2"), s("1")]), "0:1 1:2 2:1");
        assert_eq!(per_vcpu_text(&[]), "");
    }

    #[test]
    fn affinity_forms() {
        assert_eq!(CpuSet::parse_affinity("any cpu", 4).expect("ok").len(), 4);
        assert!(CpuSet::parse_affinity("no cpus", 4).expect("ok").is_empty());
        assert_eq!(CpuSet::parse_affinity("4-7", 8).expect("ok").to_string(), "4-7");
    }
}
