//! The `xm` binary of the simulator (install it, or a symlink named `xl`, on
//! PATH). All logic lives in the library so domform can embed it.

fn main() {
    // args_os: a non-UTF-8 argument must not panic; it is passed on lossily.
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = argv.next().unwrap_or_else(|| "xm".to_string());
    let args: Vec<String> = argv.collect();
    std::process::exit(xmsim::run(&argv0, &args, None));
}
