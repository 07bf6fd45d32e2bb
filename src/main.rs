//! The `domform` binary: parse the command line, run, map the outcome to an exit code.
//!
//! Called through a link named `xm` or `xl`, it is the Xen simulator instead: that is how
//! `domform demo` gets a simulated host with nothing installed.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name == "xm" || name == "xl" {
        let rest: Vec<String> = args.collect();
        let code = xmsim::run(&argv0, &rest, None);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    domform::cli::main()
}
