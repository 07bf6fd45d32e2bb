//! The observe script's stdout: section splitting and `observe::parse` for xm and xl hosts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    domform_fuzz::checks::observe_output(&domform_fuzz::checks::text(data));
});
