//! "apply, then plan shows no changes", proven without root: on a stateful fake host (the xm
//! simulator behind the local transport, `tests/common/simhost.rs`), for every example in
//! `examples/` through the real binary (`examples.rs`), and for edits of a converged host
//! through the library's observe → plan → apply (`planner.rs`).

#[path = "../common/simhost.rs"]
mod simhost;

mod examples;
mod planner;
