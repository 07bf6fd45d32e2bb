//! The YAML loader: the located tree and raw types in memory (UTF-8 inputs), then the whole
//! `manifest::load` (read, tree, raw types, validation) through a temp file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn temp_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| std::env::temp_dir().join(format!("domform-fuzz-{}.yaml", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        domform_fuzz::checks::yaml_tree(text);
    }
    domform_fuzz::checks::yaml_load_file(data, temp_file());
});
