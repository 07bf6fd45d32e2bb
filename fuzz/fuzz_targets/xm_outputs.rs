//! `xm info -n`, `xm list -l`, `xm list`, `xm vcpu-list` parsers and the SXP reader on one input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    domform_fuzz::checks::xm_outputs(&domform_fuzz::checks::text(data));
});
