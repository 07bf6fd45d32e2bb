//! Choosing hosts: `--limit`, `--exclude` and `--shard i/n`, the way Ansible users choose
//! inventory hosts, plus a stable split so N runners cover a large estate without overlap.
//!
//! A term is a host (or manager) name, a name pattern with `*` (`ovs-fra-*`), or a label
//! `key=value` (labels are declared on hosts). `--limit` terms are a union, `--exclude` terms are
//! taken away from it, and `--shard i/n` keeps the hosts whose name hashes to shard `i` of `n`.
//! The shard depends only on the host's own name and `n`, so adding or removing a host never
//! moves another host to a different runner (a split by position would move half of them);
//! the price is that shards are only roughly equal (binomial spread, ±2√(hosts/n)).
//!
//! A term that matches nothing is an error with a "did you mean": a typo in a scheduled job
//! must not silently turn into "No changes". An empty shard is fine (more runners than hosts).

use sha2::{Digest, Sha256};

use super::Model;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--limit` terms (empty: every host).
    pub limit: Vec<String>,
    /// `--exclude` terms.
    pub exclude: Vec<String>,
    /// `--shard i/n`.
    pub shard: Option<Shard>,
}

impl Selection {
    /// Only these names or terms (what `--limit`/`--host` used to take).
    pub fn only(limit: &[String]) -> Self {
        Selection { limit: limit.to_vec(), ..Selection::default() }
    }
}

/// Shard `index` (1-based, as GitLab's `CI_NODE_INDEX`) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1..=total.
    pub index: u32,
    /// At least 1.
    pub total: u32,
}

impl Shard {
    /// Parses `i/n` with 1 ≤ i ≤ n.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{}` is not a shard: write i/n with 1 <= i <= n, e.g. 2/4", s.escape_debug());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, total): (u32, u32) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || total == 0 || index > total {
            return Err(bad());
        }
        Ok(Shard { index, total })
    }

    /// Whether `host` falls into this shard: the first 8 bytes of SHA-256(name), mod n.
    pub fn holds(&self, host: &str) -> bool {
        let digest = Sha256::digest(host.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % u64::from(self.total) == u64::from(self.index - 1)
    }
}

/// Checks a label key and value: keys like `site`, `tier`, `env.zone`; values without spaces,
/// `=` or `,` so `--limit key=value` can name them.
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    let key_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    if key.is_empty() || key.len() > 63 || !key.chars().all(key_ok) {
        return Err(format!("label key `{}`: use letters, digits, `_ - . /` (at most 63)", key.escape_debug()));
    }
    let value_ok = |c: char| !c.is_whitespace() && !c.is_control() && !matches!(c, '=' | ',' | '*');
    if value.is_empty() || value.len() > 255 || !value.chars().all(value_ok) {
        return Err(format!(
            "label `{key}` value `{}`: no spaces, `=`, `,` or `*` (at most 255 characters)",
            value.escape_debug()
        ));
    }
    Ok(())
}

/// The hosts (and, with `managers`, Oracle VM Manager hosts) chosen, sorted by name.
pub fn select(model: &Model, sel: &Selection, managers: bool) -> Result<Vec<String>, String> {
    let mut all: Vec<&str> = model.hosts.keys().map(String::as_str).collect();
    if managers {
        all.extend(model.managers.keys().map(String::as_str));
    }
    all.sort_unstable();
    all.dedup();
    let limit = terms(&sel.limit);
    let mut chosen: Vec<&str> = if limit.is_empty() { all.clone() } else { Vec::new() };
    for t in &limit {
        let hit = matching(model, &all, t, managers)?;
        chosen.extend(hit);
    }
    for t in &terms(&sel.exclude) {
        let hit = matching(model, &all, t, managers)?;
        chosen.retain(|h| !hit.contains(h));
    }
    chosen.sort_unstable();
    chosen.dedup();
    if let Some(shard) = sel.shard {
        chosen.retain(|h| shard.holds(h));
    }
    Ok(chosen.into_iter().map(String::from).collect())
}

/// The terms of repeated flags, each also split at commas (`--limit a,b`, Ansible's habit).
fn terms(given: &[String]) -> Vec<String> {
    given.iter().flat_map(|g| g.split(',')).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()
}

/// The hosts one term names; none is an error that says what exists.
fn matching<'a>(model: &Model, all: &[&'a str], term: &str, managers: bool) -> Result<Vec<&'a str>, String> {
    let what = if managers { "host or manager" } else { "host" };
    if let Some((k, v)) = term.split_once('=') {
        let hit: Vec<&str> = all
            .iter()
            .copied()
            .filter(|h| model.hosts.get(*h).is_some_and(|host| host.labels.get(k).is_some_and(|x| x == v)))
            .collect();
        if hit.is_empty() {
            let mut used: Vec<String> =
                model.hosts.values().flat_map(|h| h.labels.iter().map(|(k, v)| format!("{k}={v}"))).collect();
            used.sort();
            used.dedup();
            let known: Vec<&str> = used.iter().map(String::as_str).collect();
            let hint =
                crate::diag::did_you_mean(term, &known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
            let listed = if used.is_empty() {
                "no host has labels".to_string()
            } else {
                format!("labels in use: {}", used.join(", "))
            };
            return Err(format!("no {what} has the label `{term}`{hint}; {listed}"));
        }
        return Ok(hit);
    }
    if term.contains('*') {
        let hit: Vec<&str> = all.iter().copied().filter(|h| glob(term, h)).collect();
        if hit.is_empty() {
            return Err(format!("`{term}` matches no {what}; declared: {}", all.join(", ")));
        }
        return Ok(hit);
    }
    match all.iter().find(|h| **h == term) {
        Some(h) => Ok(vec![*h]),
        None => {
            let hint =
                crate::diag::did_you_mean(term, all).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
            Err(format!("unknown {what} `{term}`{hint}; declared: {}", all.join(", ")))
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let yaml = "version: 1\nhost_defaults: { labels: { site: fra } }\nhosts:\n\
                    \x20 ovs-fra-1: { address: a1, labels: { tier: db } }\n\
                    \x20 ovs-fra-2: { address: a2, labels: { tier: web } }\n\
                    \x20 ovs-ber-1: { address: a3, labels: { site: ber, tier: db } }\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("d.yaml");
        std::fs::write(&f, yaml).expect("write");
        crate::manifest::load(&[f]).expect("valid")
    }

    fn pick(m: &Model, limit: &[&str], exclude: &[&str]) -> Result<Vec<String>, String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        select(m, &Selection { limit: s(limit), exclude: s(exclude), shard: None }, true)
    }

    #[test]
    fn names_patterns_labels_union_and_exclude() {
        let m = model();
        assert_eq!(pick(&m, &[], &[]).expect("all"), ["ovs-ber-1", "ovs-fra-1", "ovs-fra-2"]);
        assert_eq!(pick(&m, &["site=fra"], &[]).expect("defaults' label"), ["ovs-fra-1", "ovs-fra-2"]);
        assert_eq!(pick(&m, &["tier=db"], &[]).expect("own label"), ["ovs-ber-1", "ovs-fra-1"]);
        assert_eq!(pick(&m, &["ovs-fra-*"], &["tier=web"]).expect("glob minus label"), ["ovs-fra-1"]);
        assert_eq!(pick(&m, &["ovs-ber-1,ovs-fra-2"], &[]).expect("commas"), ["ovs-ber-1", "ovs-fra-2"]);
        assert_eq!(pick(&m, &[], &["*-1"]).expect("exclude only"), ["ovs-fra-2"]);
    }

    #[test]
    fn a_term_that_matches_nothing_is_an_error_that_helps() {
        let m = model();
        let e = pick(&m, &["ovs-fra-3"], &[]).expect_err("unknown");
        assert!(e.contains("unknown host or manager `ovs-fra-3` (did you mean `ovs-fra-2`?)"), "{e}");
        let e = pick(&m, &["site=fr"], &[]).expect_err("no such label");
        assert!(e.contains("(did you mean `site=fra`?)") && e.contains("labels in use: site=ber, site=fra"), "{e}");
        let e = pick(&m, &[], &["web*"]).expect_err("exclude typo");
        assert!(e.contains("`web*` matches no host"), "{e}");
    }

    #[test]
    fn shards_cover_every_host_once_and_do_not_move_when_hosts_are_added() {
        let hosts: Vec<String> = (1..=400).map(|i| format!("ovs{i:03}")).collect();
        for n in [1u32, 3, 4, 7] {
            let shards: Vec<Shard> = (1..=n).map(|i| Shard { index: i, total: n }).collect();
            let mut sizes = vec![0usize; n as usize];
            for h in &hosts {
                let owners: Vec<usize> = (0..n as usize).filter(|&i| shards[i].holds(h)).collect();
                assert_eq!(owners.len(), 1, "{h} in shards {owners:?} of {n}");
                sizes[owners[0]] += 1;
            }
            let fair = hosts.len() / n as usize;
            assert!(sizes.iter().all(|s| s.abs_diff(fair) <= fair / 3 + 3), "n={n}: {sizes:?}");
        }
        // A host's shard depends on its name only; these must never change, or every runner of
        // every user's pipeline would take over other hosts after an upgrade.
        let of = |h: &str| (1..=4).find(|&i| Shard { index: i, total: 4 }.holds(h)).unwrap_or(0);
        // Computed independently: int.from_bytes(hashlib.sha256(name).digest()[:8], "big") % 4 + 1.
        assert_eq!([of("ovs001"), of("ovs002"), of("ovs003"), of("db-fra-1")], [4, 2, 3, 2]);
    }

    #[test]
    fn a_bad_label_is_a_located_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("d.yaml");
        std::fs::write(&f, "version: 1\nhosts:\n  h1: { address: a, labels: { site: \"fra 1\" } }\n").expect("write");
        let errs = crate::manifest::load(&[f]).expect_err("bad label");
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert!(text.iter().any(|t| t.contains("hosts.h1.labels.site") && t.contains("no spaces")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("d.yaml:3:")), "{text:?}");
    }

    #[test]
    fn shard_and_label_syntax() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, total: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(Shard::parse(bad).expect_err(bad).contains("is not a shard"), "{bad}");
        }
        assert!(check_label("site", "fra-1").is_ok());
        assert!(check_label("bad key", "x").is_err());
        assert!(check_label("k", "a=b").is_err());
        assert!(check_label("k", "").is_err());
        assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "acb") && glob("*", "x") && !glob("ab*", "a"));
    }
}
