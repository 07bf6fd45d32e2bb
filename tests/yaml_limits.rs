//! YAML resource limits (issue 14): alias expansion, nesting depth and file size are bounded,
//! each with a located error, and validating any file under 1 MB stays under 100 MB.
//!
//! Memory is measured honestly: each input is validated in a child process (this test binary
//! run again for one ignored test), which then reports its own peak resident set (`VmHWM` from
//! `/proc/self/status`); the parent asserts on that number. A timing would prove nothing.

use std::path::PathBuf;
use std::process::Command;

use domform::manifest;

/// The classic 9-level "billion laughs" (10⁹ strings), a 463-byte-class file.
fn billion_laughs() -> String {
    let mut s =
        String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..9 {
        let p = format!("*a{}", i - 1);
        s.push_str(&format!("a{i}: &a{i} [{}]\n", vec![p; 10].join(",")));
    }
    s
}

const MB: usize = 1_000_000;

/// Worst cases just under 1 MB, by name (the child validates one of them).
fn input(case: &str) -> String {
    match case {
        "billion-laughs" => billion_laughs(),
        // Many tiny aliases: each copies little, together the most nodes an alias budget allows.
        "many-aliases" => {
            let mut s = String::from("x: &x a\nvms:\n  v:\n    host: h\n    disks:\n");
            while s.len() < MB - 16 {
                s.push_str("      - *x\n");
            }
            s
        }
        // One big anchor copied until the budget ends.
        "big-anchor" => {
            let mut s = format!("x: &x \"{}\"\ny:\n", "b".repeat(200_000));
            while s.len() < MB - 16 {
                s.push_str("  - *x\n");
            }
            s
        }
        // Half a million one-character scalars in flow style.
        "flat-flow" => {
            let mut s = String::from("vms: [");
            while s.len() < MB - 4 {
                s.push_str("a,");
            }
            s.push_str("a]\n");
            s
        }
        // Block entries that all deserialize and validate (networks of one VM).
        "many-entries" => {
            let mut s = String::from("hosts:\n  h: { address: h.example.com, repository: /OVS/Repositories/r }\nvms:\n  v:\n    host: h\n    memory: 1GiB\n    vcpus: 1\n    networks:\n");
            while s.len() < MB - 40 {
                s.push_str("      - { bridge: xenbr0 }\n");
            }
            s
        }
        // Nesting as deep as the file allows.
        "deep" => "[".repeat(MB - 1),
        _ => panic!("unknown case {case}"),
    }
}

const CASES: [&str; 6] = ["billion-laughs", "many-aliases", "big-anchor", "flat-flow", "many-entries", "deep"];

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("domform.yaml");
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
#[ignore = "the child half of validating_any_file_under_1_mb_stays_under_100_mb"]
fn child_validates_one_case() {
    let Ok(case) = std::env::var("DOMFORM_LIMITS_CASE") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, &input(&case));
    let errors = manifest::load(&[path]).err().unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).expect("VmHWM").trim().to_string();
    println!("CASE-RESULT errors={} first={:?} hwm={hwm}", errors.len(), errors.first().map(|e| e.to_string()));
}

#[test]
fn validating_any_file_under_1_mb_stays_under_100_mb() {
    let exe = std::env::current_exe().expect("test binary");
    for case in CASES {
        assert!(input(case).len() < MB, "{case} is not under 1 MB");
        let out = Command::new(&exe)
            .args(["--exact", "child_validates_one_case", "--ignored", "--nocapture", "--test-threads=1"])
            .env("DOMFORM_LIMITS_CASE", case)
            .output()
            .expect("child runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{case}: child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = stdout
            .lines()
            .find_map(|l| l.find("CASE-RESULT").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("{case}: {stdout}"));
        let kb: u64 = line
            .rsplit("hwm=")
            .next()
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{case}: no VmHWM in {line}"));
        eprintln!("{case}: peak {} MB ({line})", kb / 1000);
        assert!(kb < 100_000, "{case}: validating used {kb} kB at peak (limit 100 MB): {line}");
    }
}

fn errors_of(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, text);
    manifest::load(&[path]).expect_err("refused").iter().map(|d| d.to_string()).collect()
}

#[test]
fn each_limit_is_a_located_error() {
    let e = errors_of(&billion_laughs());
    assert!(e.iter().any(|d| d.contains("domform.yaml:") && d.contains("billion laughs")), "{e:?}");
    let e = errors_of(&format!("vms: {}{}", "[".repeat(200), "]".repeat(200)));
    assert!(e.iter().any(|d| d.contains("domform.yaml:1:") && d.contains("deeper than 64")), "{e:?}");
    // Aliases that would nest past the limit.
    let nest = |inner: &str| format!("{}{inner}{}", "[".repeat(30), "]".repeat(30));
    let mut s = format!("a0: &a0 {}\n", nest("x"));
    for i in 1..4 {
        s.push_str(&format!("a{i}: &a{i} {}\n", nest(&format!("*a{}", i - 1))));
    }
    let e = errors_of(&s);
    assert!(e.iter().any(|d| d.contains("domform.yaml:") && d.contains("nests deeper")), "{e:?}");
    let e = errors_of(&format!("# {}\nvms: {{}}\n", "x".repeat(1 << 20)));
    assert!(e.iter().any(|d| d.contains("domform.yaml:1:1") && d.contains("at most 1048576 bytes")), "{e:?}");
    // Ordinary anchors and merges still work.
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = "hosts:\n  h: { address: h.example.com, repository: /OVS/Repositories/r }\n\
              vms:\n  a: &base { host: h, memory: 1GiB, vcpus: 1 }\n  b: *base\n";
    manifest::load(&[write(&dir, ok)]).unwrap_or_else(|e| panic!("anchors refused: {e:?}"));
}
