//! Shared fixtures for the integration tests.
#![allow(dead_code)]

use vmcfg::VmCfg;

pub const SAMPLES: [(&str, &str); 8] = [
    ("sample-01", include_str!("../../../../tests/fixtures/vm.cfg/sample-01.cfg")),
    ("sample-02", include_str!("../../../../tests/fixtures/vm.cfg/sample-02.cfg")),
    ("sample-03", include_str!("../../../../tests/fixtures/vm.cfg/sample-03.cfg")),
    ("sample-04", include_str!("../../../../tests/fixtures/vm.cfg/sample-04.cfg")),
    ("sample-05", include_str!("../../../../tests/fixtures/vm.cfg/sample-05.cfg")),
    ("sample-06", include_str!("../../../../tests/fixtures/vm.cfg/sample-06.cfg")),
    ("sample-07", include_str!("../../../../tests/fixtures/vm.cfg/sample-07.cfg")),
    ("sample-08", include_str!("../../../../tests/fixtures/vm.cfg/sample-08.cfg")),
];

pub fn parse(name: &str, text: &str) -> VmCfg {
    match VmCfg::parse(text) {
        Ok(c) => c,
        Err(e) => panic!("{name} must parse: {e}"),
    }
}

pub fn sample(n: usize) -> VmCfg {
    let (name, text) = SAMPLES[n - 1];
    parse(name, text)
}
