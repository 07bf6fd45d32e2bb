//! The real binary: exit codes, located errors, examples and the schema.

use std::process::Command;

fn domform(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_domform"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run domform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_example_validates() {
    let (code, out, err) = domform(&["validate", "-f", "examples/"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 host(s), 6 VM(s), 1 licence group(s)"), "{out}");
    for entry in std::fs::read_dir("examples").expect("examples dir") {
        let path = entry.expect("entry").path();
        let (code, _, err) = domform(&["validate", "-f", path.to_str().expect("utf-8 path")]);
        assert_eq!(code, 0, "{}: {err}", path.display());
    }
}

#[test]
fn ten_mistakes_give_ten_located_errors_in_one_run() {
    let file = "tests/fixtures/invalid/ten-mistakes.yaml";
    let (code, out, err) = domform(&["validate", "-f", file]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "errors go to stderr only: {out}");
    let located: Vec<&str> = err.lines().filter(|l| l.trim_start().starts_with(&format!("--> {file}:"))).collect();
    assert!(located.len() >= 10, "{err}");
    // Each distinct mistake is named once, with its key.
    for needle in [
        "unknown key `memroy`",
        "reserves for dom0",
        "unknown host `ovs9`",
        "unknown unit `parsecs`",
        "has 3 entries but vcpus is 2",
        "VM name: `bad;name`",
        "not a MAC address",
        "runs backwards",
        "at most 256",
        "`data` is declared twice",
        "VNC password written inline",
    ] {
        assert_eq!(err.matches(needle).count(), 1, "{needle}: {err}");
    }
    assert!(!err.contains("hunter2"), "secret echoed: {err}");
    assert!(err.contains("--> tests/fixtures/invalid/ten-mistakes.yaml:10:5"), "{err}");
}

#[test]
fn missing_default_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        Command::new(env!("CARGO_BIN_EXE_domform")).arg("validate").current_dir(dir.path()).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("domform.yaml: cannot read"));
}

#[test]
fn schema_is_committed_and_current() {
    // Regenerate with: cargo run -- schema > schemas/domform.schema.json
    let committed = std::fs::read_to_string("schemas/domform.schema.json").expect("schemas/domform.schema.json exists");
    let (code, fresh, _) = domform(&["schema"]);
    assert_eq!(code, 0);
    assert_eq!(
        committed, fresh,
        "schemas/domform.schema.json is stale: run `cargo run -- schema > schemas/domform.schema.json`"
    );
    assert_eq!(committed.trim_end(), domform::cli::schema_json());
}

#[test]
fn schema_covers_every_vm_field() {
    let schema: serde_json::Value = serde_json::from_str(&domform::cli::schema_json()).expect("json");
    let props = &schema["$defs"]["RawVm"]["properties"];
    for key in [
        "host",
        "state",
        "memory",
        "vcpus",
        "maxvcpus",
        "cpus",
        "disks",
        "networks",
        "console",
        "snapshots",
        "extra_config",
    ] {
        assert!(props.get(key).is_some(), "schema lacks vms.*.{key}");
    }
    assert_eq!(schema["$defs"]["RawVm"]["additionalProperties"], serde_json::Value::Bool(false));
}

#[test]
fn completions_and_man_page_cover_every_subcommand() {
    let (code, bash, err) = domform(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(bash.contains("complete -F _domform") || bash.contains("_domform()"), "{bash}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = domform(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("licence") && out.contains("snapshot"), "{shell} lists subcommands");
    }
    let (code, man, err) = domform(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(man.starts_with(".ie") && man.contains(".TH domform 1"), "roff: {}", &man[..man.len().min(200)]);
    for sub in ["plan", "apply", "licence", "snapshot", "console", "completions"] {
        assert!(man.contains(sub), "man page lists `{sub}`");
    }
    let (code, _, err) = domform(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

#[test]
fn unknown_targets_and_limits_are_errors_with_did_you_mean() {
    // Checked before any host is contacted: the example hosts do not exist.
    let (code, out, err) = domform(&["plan", "-f", "examples/basic.yaml", "--target", "web1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("unknown target `web1` (did you mean `web01`?)"), "{err}");
    assert!(!out.contains("No changes"), "{out}");
    let (code, _, err) = domform(&["apply", "-f", "examples/basic.yaml", "--target", "nosuch", "--auto-approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown target `nosuch`"), "{err}");
    let (code, _, err) = domform(&["plan", "-f", "examples/basic.yaml", "--limit", "ovs"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown host or manager `ovs` (did you mean `ovs1`?)"), "{err}");
}

#[test]
fn colour_follows_no_color_clicolor_force_and_the_flag() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_domform"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .output()
            .expect("run domform");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).contains('\x1b')
    };
    assert!(!run(&["demo"], &[]), "not a terminal: no colour");
    assert!(run(&["demo"], &[("CLICOLOR_FORCE", "1")]), "CLICOLOR_FORCE forces colour");
    assert!(!run(&["demo"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), "NO_COLOR wins over it");
    assert!(!run(&["demo", "--color", "never"], &[("CLICOLOR_FORCE", "1")]), "--color never");
    assert!(run(&["demo", "--color", "always"], &[("NO_COLOR", "1")]), "--color always is the user's explicit word");
}

/// The long flags `domform ARGS -h` lists under "Options:" (its own) and "Global options:".
fn help_flags(args: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut full = args.to_vec();
    full.push("-h");
    let (code, out, err) = domform(&full);
    assert_eq!(code, 0, "{args:?} -h: {err}");
    let (own, global) = out.split_once("\nGlobal options:\n").unwrap_or((&out, ""));
    let flags = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with('-'))
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
            .map(|w| w.trim_end_matches(',').to_string())
            .collect()
    };
    (flags(own), flags(global))
}

/// `plan`'s own flags, in help order.
const PLAN_FLAGS: &[&str] = &[
    "--file",
    "--limit",
    "--exclude",
    "--shard",
    "--target",
    "--format",
    "--out",
    "--max-chars",
    "--detailed-exitcode",
    "--parallel",
];

#[test]
fn each_subcommand_help_shows_only_its_own_flags() {
    let vm = ["--file", "--host"];
    let shutdown = ["--timeout", "--force", "--auto-approve"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["validate"], vec!["--file"]),
        (vec!["list"], vec!["--file", "--limit", "--exclude", "--shard", "--format", "--wide", "--parallel"]),
        (vec!["plan"], PLAN_FLAGS.to_vec()),
        (vec!["apply"], vec!["--file", "--limit", "--exclude", "--shard", "--target", "--auto-approve", "--parallel"]),
        (
            vec!["reconcile"],
            vec![
                "--file",
                "--limit",
                "--exclude",
                "--shard",
                "--target",
                "--dry-run",
                "--report",
                "--metrics",
                "--lock-timeout",
                "--parallel",
            ],
        ),
        (vec!["start"], vm.to_vec()),
        (vec!["stop"], [&vm[..], &shutdown[..]].concat()),
        (vec!["restart"], [&vm[..], &shutdown[..]].concat()),
        (vec!["import"], vec!["--host", "--file", "--out", "--from-vm-cfg"]),
        (vec!["licence"], vec!["--file", "--host", "--format", "--parallel", "--html", "--evidence"]),
        (vec!["snapshot", "create"], [&vm[..], &["--memory", "--allow-full-copy"]].concat()),
        (vec!["snapshot", "list"], vm.to_vec()),
        (vec!["snapshot", "revert"], [&vm[..], &shutdown[..]].concat()),
        (vec!["snapshot", "delete"], [&vm[..], &["--auto-approve"]].concat()),
        (vec!["console"], vm.to_vec()),
        (vec!["vnc"], [&vm[..], &["--local-port", "--once"]].concat()),
        (vec!["demo"], vec![]),
        (vec!["schema"], vec![]),
        (vec!["completions"], vec![]),
        (vec!["man"], vec![]),
    ];
    for (args, want) in cases {
        let (own, global) = help_flags(&args);
        let mut want: Vec<String> = want.iter().map(|f| f.to_string()).collect();
        want.push("--help".into());
        assert_eq!(own, want, "`domform {} -h` options", args.join(" "));
        assert_eq!(
            global,
            ["--verbose...", "--quiet", "--color", "--max-handshakes"],
            "`domform {} -h` global options, apart",
            args.join(" ")
        );
    }
}

#[test]
fn top_level_help_lists_every_subcommand() {
    // Every subcommand `each_subcommand_help_shows_only_its_own_flags` checks (a new one needs
    // its line in both tests).
    let (_, top, _) = domform(&["--help"]);
    let listed: Vec<&str> = top
        .split_once("Commands:\n")
        .map(|(_, rest)| {
            rest.lines().take_while(|l| !l.is_empty()).filter_map(|l| l.split_whitespace().next()).collect()
        })
        .unwrap_or_default();
    assert_eq!(
        listed,
        [
            "validate",
            "list",
            "plan",
            "apply",
            "reconcile",
            "start",
            "stop",
            "restart",
            "import",
            "licence",
            "snapshot",
            "console",
            "vnc",
            "demo",
            "schema",
            "completions",
            "man",
            "help"
        ]
    );
}

#[test]
fn readme_shows_the_list_the_demo_prints() {
    let (code, out, err) = domform(&["demo"]);
    assert_eq!(code, 0, "{err}");
    let list = out
        .split_once("── 4. domform list ──\n")
        .and_then(|(_, rest)| rest.split_once("\n\n"))
        .map(|(table, _)| table)
        .expect("the demo prints its list");
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    assert!(readme.contains(&format!("```\n{list}\n```")), "README.md shows another list than the demo's:\n{list}");
}
