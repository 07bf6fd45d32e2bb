//! vm.cfg parser: no panic; parse → render → re-parse and set()/remove() keep values right.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    domform_fuzz::checks::vmcfg_parse(&domform_fuzz::checks::text(data));
});
