//! Choosing hosts through the real binary: `--limit` with names, patterns and labels,
//! `--exclude`, and `--shard i/n` splitting an estate between runners without overlap
//! (local simulated hosts, so no root and no SSH).

use std::process::Command;

struct Estate {
    root: tempfile::TempDir,
}

/// Six local hosts (no VMs declared), labelled by site, each with its own repository folder.
fn estate() -> Estate {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    std::fs::create_dir_all(r.join("xmsim")).expect("mkdir");
    std::fs::create_dir_all(r.join("bin")).expect("mkdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_domform"), r.join("bin/xm")).expect("link xm");
    let mut yaml = String::from("version: 1\nhost_defaults: { transport: local, labels: { site: fra } }\nhosts:\n");
    for (name, labels) in [
        ("ovs-fra-1", "{ tier: db }"),
        ("ovs-fra-2", "{ tier: web }"),
        ("ovs-fra-3", "{ tier: web }"),
        ("ovs-ber-1", "{ site: ber, tier: db }"),
        ("ovs-ber-2", "{ site: ber, tier: web }"),
        ("ovs-muc-1", "{ site: muc }"),
    ] {
        let repo = r.join("repos").join(name);
        for d in ["VirtualMachines", "VirtualDisks"] {
            std::fs::create_dir_all(repo.join(d)).expect("mkdir");
        }
        yaml.push_str(&format!("  {name}: {{ repository: {}, labels: {labels} }}\n", repo.display()));
    }
    std::fs::write(r.join("domform.yaml"), yaml).expect("yaml");
    Estate { root }
}

impl Estate {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let r = self.root.path();
        let path = format!("{}:{}", r.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(env!("CARGO_BIN_EXE_domform"))
            .args(args)
            .args(["-f", r.join("domform.yaml").to_str().expect("utf-8")])
            .env("PATH", path)
            .env("XMSIM_ROOT", r.join("xmsim"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run domform");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// The hosts `plan` read, from its JSON.
    fn planned(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["plan", "--format", "json"];
        all.extend_from_slice(args);
        let (code, out, err) = self.run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        let plan: serde_json::Value = serde_json::from_str(&out).expect("plan JSON");
        let hosts = plan["hosts"].as_array().expect("hosts").iter();
        hosts.map(|h| h["host"].as_str().expect("host name").to_string()).collect()
    }
}

#[test]
fn limit_takes_names_patterns_and_labels_and_exclude_takes_them_away() {
    let e = estate();
    assert_eq!(e.planned(&[]).len(), 6);
    assert_eq!(e.planned(&["--limit", "site=fra"]), ["ovs-fra-1", "ovs-fra-2", "ovs-fra-3"]);
    assert_eq!(e.planned(&["--limit", "site=fra", "--exclude", "tier=web"]), ["ovs-fra-1"]);
    assert_eq!(e.planned(&["--limit", "ovs-ber-*,ovs-muc-1"]), ["ovs-ber-1", "ovs-ber-2", "ovs-muc-1"]);
    assert_eq!(e.planned(&["--exclude", "site=fra", "--exclude", "site=ber"]), ["ovs-muc-1"]);
    let (code, out, _) = e.run(&["list", "--format", "json", "--host", "tier=db"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"ovs-ber-1\"") && out.contains("\"ovs-fra-1\"") && !out.contains("ovs-fra-2"), "{out}");
}

#[test]
fn shards_split_the_chosen_hosts_without_overlap_or_gap() {
    let e = estate();
    for n in [2, 3, 6] {
        let mut seen: Vec<String> = Vec::new();
        for i in 1..=n {
            let shard = format!("{i}/{n}");
            let got = e.planned(&["--shard", &shard]);
            assert!(got.iter().all(|h| !seen.contains(h)), "{shard} repeats a host: {got:?} after {seen:?}");
            seen.extend(got);
        }
        seen.sort();
        assert_eq!(seen.len(), 6, "n={n}: {seen:?}");
    }
    let fra: usize = (1..=2).map(|i| e.planned(&["--limit", "site=fra", "--shard", &format!("{i}/2")]).len()).sum();
    assert_eq!(fra, 3, "a shard splits what --limit chose");
}

#[test]
fn a_choice_that_matches_nothing_fails_with_a_hint() {
    let e = estate();
    let (code, out, err) = e.run(&["plan", "--limit", "site=fr"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("no host or manager has the label `site=fr` (did you mean `site=fra`?)"), "{err}");
    let (code, _, err) = e.run(&["plan", "--exclude", "ovs-fra-9"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown host or manager `ovs-fra-9`"), "{err}");
    let (code, _, err) = e.run(&["plan", "--shard", "3/2"]);
    assert_eq!(code, 2, "clap's usage error: {err}");
    assert!(err.contains("`3/2` is not a shard"), "{err}");
}

#[test]
fn a_saved_plan_keeps_its_own_hosts() {
    let e = estate();
    let saved = e.root.path().join("plan.json");
    let (code, _, err) = e.run(&["plan", "--limit", "ovs-muc-1", "-o", saved.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = e.run(&["apply", saved.to_str().expect("utf-8"), "--limit", "ovs-fra-1"]);
    assert_eq!(code, 1);
    assert!(err.contains("a saved plan names its own hosts"), "{err}");
    let (code, out, err) = e.run(&["apply", saved.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
}
