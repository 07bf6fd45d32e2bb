//! Inputs the fuzz targets (`fuzz/`, see fuzz/README.md) found, replayed against the same checks.
//!
//! Each `tests/fixtures/fuzz/<target>/` file is an input that once crashed `<target>`; the test
//! for that folder feeds every file to the target's check function (the very code the fuzz
//! target runs, included from `fuzz/src/checks.rs`) and fails naming the file that panics.
//! A crash whose fix has not landed yet lives in `<target>/open/` with its own `#[ignore]`d test
//! below; when it is fixed, move the file up one level and delete that test.

#[path = "../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(target)
}

/// Feeds every file directly in `tests/fixtures/fuzz/<target>/` to `check`; returns how many.
fn replay_dir(target: &str, check: impl Fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir(target)) else { return 0 };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    for file in &files {
        replay(file, &check);
    }
    files.len()
}

fn replay(file: &Path, check: &impl Fn(&[u8])) {
    let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data))) {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(non-string panic)");
        panic!("{} (input {:?}) fails: {why}", file.display(), String::from_utf8_lossy(&data));
    }
}

/// A target's check on raw input bytes.
type Check = fn(&[u8]);

fn vmcfg_parse(data: &[u8]) {
    checks::vmcfg_parse(&checks::text(data));
}

fn xm_outputs(data: &[u8]) {
    checks::xm_outputs(&checks::text(data));
}

fn observe_output(data: &[u8]) {
    checks::observe_output(&checks::text(data));
}

fn yaml_load(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::yaml_tree(text);
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    checks::yaml_load_file(data, &tmp.path().join("fuzz.yaml"));
}

fn snapshot_manifest(data: &[u8]) {
    checks::snapshot_manifest(&checks::text(data));
}

#[test]
fn snapshot_manifest_regressions() {
    replay_dir("snapshot_manifest", snapshot_manifest);
}

#[test]
fn vmcfg_parse_regressions() {
    replay_dir("vmcfg_parse", vmcfg_parse);
}

#[test]
fn xm_outputs_regressions() {
    replay_dir("xm_outputs", xm_outputs);
}

#[test]
fn observe_output_regressions() {
    replay_dir("observe_output", observe_output);
}

#[test]
fn yaml_load_regressions() {
    replay_dir("yaml_load", yaml_load);
}

/// The seed corpora pass the checks too (so a check that is wrong for real inputs shows here,
/// not only as a fuzzing "crash").
#[test]
fn seed_corpora_pass() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let targets: [(&str, Check); 5] = [
        ("snapshot_manifest", snapshot_manifest),
        ("vmcfg_parse", vmcfg_parse),
        ("xm_outputs", xm_outputs),
        ("observe_output", observe_output),
        ("yaml_load", yaml_load),
    ];
    for (target, check) in targets {
        let files = std::fs::read_dir(seeds.join(target)).unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"));
        let mut n = 0;
        for file in files {
            replay(&file.expect("entry").path(), &check);
            n += 1;
        }
        assert!(n > 0, "fuzz/corpus/{target} is empty");
    }
}
