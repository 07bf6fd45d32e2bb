//! The real binary on a local simulated host (this crate's binary acts as `xm` through a link,
//! as `domform demo` does), so every generated script goes through a real `sh` (issue 14):
//! - names users really have: OVM simple names often contain spaces ("DB Server 01"); they
//!   are declarable, importable and quoted everywhere;
//! - destructive commands ask on a terminal and need `--auto-approve` without one;
//! - `licence` names max_cores as a number, `import` fails when it skipped VMs;
//! - the README's 100-disk plan is what this domform prints.
//! - a saved plan holds no VNC password, runs as saved, and the host gets the password.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Names with spaces, built from word pools (a small property test: every one must survive).
fn names() -> Vec<String> {
    let words = ["DB", "Server", "01", "web.front", "app_2", "x-y", "Oracle"];
    let mut out = vec!["DB Server 01".to_string()];
    let mut seed: u32 = 14;
    while out.len() < 4 {
        let mut parts = Vec::new();
        for _ in 0..(2 + seed % 3) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            parts.push(words[(seed >> 16) as usize % words.len()]);
        }
        let n = parts.join(" ");
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

struct Estate {
    root: tempfile::TempDir,
    file: PathBuf,
}

fn setup(names: &[String]) -> Estate {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    let repo = r.join("OVS/Repositories/0004fb00000300000000000000d3e0d0");
    for d in ["VirtualMachines", "VirtualDisks"] {
        std::fs::create_dir_all(repo.join(d)).expect("mkdir");
    }
    let sim = r.join("xmsim");
    std::fs::create_dir_all(&sim).expect("mkdir");
    std::fs::write(
        sim.join("topology.conf"),
        "hostname = h1\nsockets = 1\ncores_per_socket = 4\nthreads_per_core = 2\nsiblings = adjacent\ndom0_cpus = 0-1\n\
         total_memory_mib = 16384\ndom0_memory_mib = 1024\nshutdown_seconds = 0.1\n",
    )
    .expect("topology");
    std::fs::create_dir_all(r.join("bin")).expect("mkdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_domform"), r.join("bin/xm")).expect("link xm");
    let mut yaml = format!("hosts:\n  h1:\n    transport: local\n    repository: {}\nvms:\n", repo.display());
    for (i, n) in names.iter().enumerate() {
        yaml.push_str(&format!(
            "  {n}:\n    host: h1\n    memory: 256MiB\n    vcpus: 1\n    disks:\n      - {{ name: system, size: 8MiB }}\n    \
             networks:\n      - {{ bridge: xenbr0, mac: \"00:21:f6:00:00:{:02x}\" }}\n",
            i + 1
        ));
    }
    let file = r.join("domform.yaml");
    std::fs::write(&file, yaml).expect("yaml");
    Estate { root, file }
}

impl Estate {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_env(args, &[])
    }

    /// Runs with extra environment variables.
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let path = format!("{}:{}", self.root.path().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(env!("CARGO_BIN_EXE_domform"))
            .args(args)
            .envs(env.iter().copied())
            .env("PATH", path)
            .env("XMSIM_ROOT", self.root.path().join("xmsim"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run domform");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    fn f(&self) -> &str {
        self.file.to_str().expect("utf-8")
    }

    fn repo(&self) -> PathBuf {
        self.root.path().join("OVS/Repositories/0004fb00000300000000000000d3e0d0")
    }
}

fn exists(p: &Path) -> bool {
    p.exists()
}

#[test]
fn names_with_spaces_are_declared_applied_imported_and_quoted_everywhere() {
    let names = names();
    let e = setup(&names);
    let f = e.f().to_string();
    let (code, out, err) = e.run(&["validate", "-f", &f]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = e.run(&["apply", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    for n in &names {
        let disk = e.repo().join(format!("VirtualDisks/{n}_system.img"));
        assert!(exists(&disk), "{} was not made as one file", disk.display());
        for word in n.split(' ') {
            assert!(!exists(&e.repo().join(format!("VirtualDisks/{word}"))), "the name was split at a space");
        }
    }
    let (code, out, err) = e.run(&["plan", "-f", &f, "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged: {out}{err}");
    let (code, list, err) = e.run(&["list", "-f", &f, "--wide"]);
    assert_eq!(code, 0, "{err}");
    for n in &names {
        assert!(list.contains(n.as_str()), "{n} not listed:\n{list}");
    }
    let first = names[0].as_str();
    for args in [
        vec!["stop", first, "-f", &f],
        vec!["start", first, "-f", &f],
        vec!["snapshot", "create", first, "s1", "-f", &f, "--allow-full-copy"],
        vec!["plan", "-f", &f, "--target", first, "--detailed-exitcode"],
    ] {
        let (code, out, err) = e.run(&args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    assert!(exists(&e.repo().join(format!("Snapshots/{first}/s1/manifest"))), "snapshot folder keeps the name whole");
    let (code, list, _) = e.run(&["snapshot", "list", first, "-f", &f]);
    assert_eq!(code, 0);
    assert!(list.contains("s1"), "{list}");
    // Import: what the host runs now, names with spaces included, as YAML that loads.
    let imported = e.root.path().join("imported.yaml");
    let (code, out, err) = e.run(&["import", "--host", "h1", "-f", &f, "-o", imported.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&imported).expect("imported");
    assert!(!text.contains("# skipped"), "{text}");
    let hosts_only = e.root.path().join("hosts");
    std::fs::create_dir_all(&hosts_only).expect("mkdir");
    let yaml = std::fs::read_to_string(e.f()).expect("yaml");
    std::fs::write(hosts_only.join("hosts.yaml"), &yaml[..yaml.find("vms:").expect("vms")]).expect("write");
    std::fs::copy(&imported, hosts_only.join("vms.yaml")).expect("copy");
    let (code, out, err) = e.run(&["plan", "-f", hosts_only.to_str().expect("utf-8"), "--detailed-exitcode"]);
    assert_eq!(code, 0, "the imported names plan clean: {out}{err}\n{text}");
}

#[test]
fn destructive_commands_need_auto_approve_without_a_terminal() {
    let e = setup(&["db01".to_string()]);
    let f = e.f().to_string();
    let (code, out, err) = e.run(&["apply", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = e.run(&["snapshot", "create", "db01", "s1", "-f", &f, "--allow-full-copy"]);
    assert_eq!(code, 0, "{out}{err}");
    let snap = e.repo().join("Snapshots/db01/s1");
    // stdin is not a terminal here: refused, nothing deleted, nothing destroyed.
    for args in [
        vec!["snapshot", "delete", "db01", "s1", "-f", &f],
        vec!["snapshot", "revert", "db01", "s1", "-f", &f],
        vec!["stop", "db01", "-f", &f, "--force", "--timeout", "5"],
        vec!["restart", "db01", "-f", &f, "--force"],
    ] {
        let (code, out, err) = e.run(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("pass --auto-approve"), "{args:?}: {err}");
    }
    assert!(exists(&snap), "the snapshot was deleted without confirmation");
    let (code, list, _) = e.run(&["list", "-f", &f]);
    assert_eq!(code, 0);
    assert!(list.lines().any(|l| l.contains("db01") && l.contains("running")), "{list}");
    // With --auto-approve they run.
    let (code, out, err) = e.run(&["snapshot", "delete", "db01", "s1", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!exists(&snap));
    let (code, out, err) = e.run(&["stop", "db01", "-f", &f, "--force", "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn licence_says_max_cores_plainly_and_import_fails_when_it_skipped_vms() {
    let e = setup(&["db01".to_string()]);
    let f = e.f().to_string();
    let (code, out, err) = e.run(&["apply", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    // The licence group comes after the VM runs unpinned (a plan would refuse it).
    let yaml = std::fs::read_to_string(e.f()).expect("yaml");
    std::fs::write(&e.file, format!("{yaml}licences:\n  oracle: {{ vms: [db01], max_cores: 1 }}\n")).expect("yaml");
    let (code, out, err) = e.run(&["licence", "-f", &f]);
    assert_eq!(code, 1, "an unpinned VM counts the whole host, over max_cores 1: {out}{err}");
    assert!(err.contains("max_cores 1") && !err.contains("Some("), "{err}");
    assert!(!err.contains("error: error:"), "{err}");
    // A vm.cfg import cannot take (no memory): written as a comment, and the exit code says so.
    let odd = e.repo().join("VirtualMachines/0004fb0000060000aaaabbbbccccdddd");
    std::fs::create_dir_all(&odd).expect("mkdir");
    std::fs::write(
        odd.join("vm.cfg"),
        "name = '0004fb0000060000aaaabbbbccccdddd'\nOVM_simple_name = 'odd'\nvcpus = 1\n",
    )
    .expect("cfg");
    let (code, out, err) = e.run(&["import", "--host", "h1", "-f", &f]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("# skipped odd") && out.contains("db01"), "{out}");
    assert!(err.contains("1 VM(s) on h1 could not be imported") && !err.contains("error: error:"), "{err}");
}

#[test]
fn a_markdown_plan_fits_a_comment_limit_and_names_the_saved_plan_by_hash() {
    let names: Vec<String> = (1..=12).map(|i| format!("vm{i:02}")).collect();
    let e = setup(&names);
    let f = e.f().to_string();
    let saved = e.root.path().join("plan.json");
    let (code, full, err) = e.run(&["plan", "-f", &f, "--format", "markdown", "-o", saved.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&saved).expect("saved plan");
    let sha = std::process::Command::new("sha256sum").arg(&saved).output().expect("sha256sum");
    let hash = String::from_utf8_lossy(&sha.stdout).split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(hash.len(), 64, "{bytes:?}");
    assert!(full.contains(&format!("plan file sha256 <code>{hash}</code>")), "{full}");
    assert!(!full.contains("Cut to fit"));
    let (code, cut, err) = e.run(&["plan", "-f", &f, "--format", "markdown", "--max-chars", "2500"]);
    assert_eq!(code, 0, "{err}");
    assert!(full.chars().count() > 2500 && cut.chars().count() <= 2500, "{} -> {}", full.len(), cut.len());
    assert!(cut.contains("**Plan: 24 to create") && cut.contains("Cut to fit the comment limit"), "{cut}");
    assert!(cut.contains(&format!("plan file sha256 <code>{hash}</code>")), "{cut}");
    let (code, _, err) = e.run(&["plan", "-f", &f, "--max-chars", "2500"]);
    assert_eq!(code, 1);
    assert!(err.contains("--max-chars applies to --format markdown only"), "{err}");
}

/// Issue 16: each change says why. Nothing applied yet: `new`; the host edited by hand after an
/// apply: `drift`; the YAML edited: `intent`; and a record that is garbage counts as none.
#[test]
fn changes_are_labelled_new_drift_or_intent() {
    let e = setup(&["db01".to_string(), "web01".to_string()]);
    let f = e.f().to_string();
    let (code, out, err) = e.run(&["plan", "-f", &f]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+ vm db01 (create, new)") && out.contains("Causes: 6 new."), "{out}");
    let (code, out, err) = e.run(&["apply", "-f", &f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let records: Vec<_> = std::fs::read_dir(e.repo().join(".domform-applied")).expect("records").collect();
    assert_eq!(records.len(), 2, "one record per VM applied");
    let (code, out, _) = e.run(&["plan", "-f", &f, "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged, records and all: {out}");
    // By hand on the host: db01's memory in its vm.cfg.
    let cfgs: Vec<PathBuf> = std::fs::read_dir(e.repo().join("VirtualMachines"))
        .expect("ls")
        .map(|d| d.expect("entry").path().join("vm.cfg"))
        .collect();
    let db01 = cfgs
        .iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("OVM_simple_name = 'db01'")))
        .expect("db01's vm.cfg");
    let text = std::fs::read_to_string(db01).expect("read");
    std::fs::write(db01, text.replace("memory = 256", "memory = 512")).expect("edit by hand");
    // In git: web01's memory.
    let yaml = std::fs::read_to_string(e.f()).expect("yaml");
    let at = yaml.find("  web01:").expect("web01");
    let edited = format!("{}{}", &yaml[..at], yaml[at..].replacen("memory: 256MiB", "memory: 384MiB", 1));
    std::fs::write(&e.file, edited).expect("yaml");
    let (code, out, err) = e.run(&["plan", "-f", &f, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(plan["format_version"], 2);
    let cause = |id: &str| -> String {
        let changes = plan["hosts"][0]["changes"].as_array().expect("changes");
        let c = changes.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id} in {out}"));
        c["cause"].as_str().unwrap_or("none").to_string()
    };
    assert_eq!(cause("vm/db01"), "drift");
    assert_eq!(cause("vm/web01"), "intent");
    let (_, human, _) = e.run(&["plan", "-f", &f]);
    assert!(human.contains("~ vm db01 (update, drift)"), "{human}");
    assert!(human.contains("~ vm web01 (update, needs restart, intent)"), "{human}");
    assert!(human.contains("Causes: 1 drift, 1 intent."), "{human}");
    // A record somebody overwrote with junk is no record.
    for r in std::fs::read_dir(e.repo().join(".domform-applied")).expect("records") {
        std::fs::write(r.expect("entry").path(), "{\"format\": 1, \"vm\": 3}").expect("junk");
    }
    let (_, human, _) = e.run(&["plan", "-f", &f]);
    assert!(human.contains("~ vm db01 (update, new)") && human.contains("Causes: 2 new."), "{human}");
}

#[test]
fn a_hand_edited_saved_plan_is_reported_as_edited_not_stale() {
    let names = vec!["db01".to_string()];
    let e = setup(&names);
    let f = e.f().to_string();
    let planfile = e.root.path().join("plan.json");
    let p = planfile.to_str().expect("utf-8");
    let (code, out, err) = e.run(&["plan", "-f", &f, "-o", p]);
    assert_eq!(code, 0, "{out}{err}");
    let saved = std::fs::read_to_string(&planfile).expect("plan file");
    assert!(saved.starts_with("{\n  \"content_hash\": \"sha256:"), "{saved}");
    // Someone makes the disk bigger by hand in the saved plan.
    let edited = saved.replace("\"size\": 8388608", "\"size\": 9437184");
    assert_ne!(edited, saved, "the plan holds the disk size: {saved}");
    std::fs::write(&planfile, &edited).expect("write");
    let (code, out, err) = e.run(&["apply", p, "-f", &f]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("{p} was edited after `domform plan` saved it (hash mismatch); make the plan again")),
        "{err}"
    );
    assert!(!err.contains("stale") && !err.contains("desired state"), "{err}");
    assert!(!exists(&e.repo().join("VirtualDisks/db01_system.img")), "nothing was done");
    // The file as saved applies.
    std::fs::write(&planfile, &saved).expect("write");
    let (code, out, err) = e.run(&["apply", p, "-f", &f]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(exists(&e.repo().join("VirtualDisks/db01_system.img")));
}

#[test]
fn readme_shows_the_100_disk_plan_this_domform_prints() {
    let e = setup(&[]);
    let root = e.root.path().to_str().expect("utf-8").to_string();
    let repo = format!("{root}/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6");
    for d in ["VirtualMachines", "VirtualDisks"] {
        std::fs::create_dir_all(format!("{repo}/{d}")).expect("mkdir");
    }
    // The demo's web01, on a host named as in the README.
    let yaml = |extra: &str| {
        format!(
            "version: 1\nhosts:\n  ovs1:\n    transport: local\n    repository: {repo}\n    reserved_cpus: \"0-1\"\n\
             vms:\n  web01:\n    host: ovs1\n    memory: 1GiB\n    vcpus: 2\n    cpus: \"2-3\"\n    disks:\n      \
             - {{ name: system, size: 8GiB }}\n      - {{ name: \"data{{1..3}}\", size: 1GiB }}\n{extra}    networks:\n      \
             - {{ bridge: xenbr0, mac: \"00:21:f6:00:00:01\" }}\n    console: {{ serial: true }}\n"
        )
    };
    let f = e.file.to_str().expect("utf-8");
    std::fs::write(&e.file, yaml("")).expect("yaml");
    let (code, out, err) = e.run(&["apply", "-f", f, "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(&e.file, yaml("      - { name: \"data{001..100}\", size: 100GiB }\n")).expect("yaml");
    let (code, plan, err) = e.run(&["plan", "-f", f]);
    assert_eq!(code, 0, "{err}");
    // The repository-full warning depends on this machine's free space: compared without it.
    let comparable = |text: &str| -> String {
        let mut keep = true;
        text.lines()
            .filter(|l| {
                keep = (keep && !l.starts_with("  Warnings:")) || l.starts_with("Plan:");
                keep
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let shown = readme
        .split_once("the temporary folder taken out of the paths):\n\n```\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README.md holds the 100-disk plan");
    assert!(
        comparable(shown).contains("+ 100 disks web01/data001 … data100 (create, 100GiB each, intent)\n"),
        "{shown}"
    );
    assert_eq!(comparable(shown), comparable(&plan.replace(&root, "")));
}

/// The vm.cfg files on the simulated host, joined.
fn host_cfgs(e: &Estate) -> String {
    let dir = e.repo().join("VirtualMachines");
    let mut text = String::new();
    for d in std::fs::read_dir(dir).expect("VirtualMachines").flatten() {
        text.push_str(&std::fs::read_to_string(d.path().join("vm.cfg")).unwrap_or_default());
    }
    text
}

#[test]
fn a_saved_plan_holds_no_password_runs_as_saved_and_the_host_gets_it() {
    const VAR: &str = "DOMFORM_TEST_LOCAL_VNC_PW";
    let (pw1, pw2) = ("Pw-7f3a9", "Pw-second-7");
    let e = setup(&["VNC VM".to_string()]);
    let mut yaml = std::fs::read_to_string(e.f()).expect("yaml");
    yaml.push_str(&format!("    console:\n      vnc: {{ password: {{ env: {VAR} }} }}\n"));
    std::fs::write(e.f(), yaml).expect("yaml");
    let f = e.f().to_string();
    let saved = e.root.path().join("plan.json");
    let s = saved.to_str().expect("utf-8");
    let (code, out, err) = e.run_env(&["plan", "-f", &f, "-o", s], &[(VAR, pw1)]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&saved).expect("saved plan");
    assert!(!text.contains(pw1), "the saved plan holds the password:\n{text}");
    assert!(text.contains(&format!("vncpasswd = '(secret: env {VAR})'")) && !text.contains("(redacted)"), "{text}");
    let (code, out, err) = e.run_env(&["apply", s, "-f", &f], &[(VAR, pw1)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(pw1) && !err.contains(pw1), "{out}{err}");
    assert!(host_cfgs(&e).contains(&format!("vncpasswd = '{pw1}'")), "{}", host_cfgs(&e));
    let (code, out, err) = e.run_env(&["plan", "-f", &f, "--detailed-exitcode"], &[(VAR, pw1)]);
    assert_eq!(code, 0, "converged: {out}{err}");
    // A new value behind the same variable is a change, shown without either value.
    let (code, out, err) = e.run_env(&["plan", "-f", &f, "-o", s], &[(VAR, pw2)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("vncpasswd: (secret: kept from host) → (secret: env {VAR})")), "{out}");
    assert!(!out.contains(pw1) && !out.contains(pw2) && !std::fs::read_to_string(&saved).expect("plan").contains(pw2));
    // Unreadable when applied: a clear error naming the variable; nothing written.
    let (code, out, err) = e.run(&["apply", s, "-f", &f]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("environment variable `{VAR}` is not set")) && err.contains("nothing was applied"),
        "{err}"
    );
    // Changed again since the plan was made: refused, not written unreviewed.
    let (code, out, err) = e.run_env(&["apply", s, "-f", &f], &[(VAR, "Pw-third-9")]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(!err.contains("Pw-") && !out.contains("Pw-"), "{out}{err}");
    assert!(host_cfgs(&e).contains(&format!("vncpasswd = '{pw1}'")), "unchanged after refusals");
    let (code, out, err) = e.run_env(&["apply", s, "-f", &f], &[(VAR, pw2)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(host_cfgs(&e).contains(&format!("vncpasswd = '{pw2}'")), "{}", host_cfgs(&e));
}
