//! domform: a declarative, agentless reconciler for Xen hosts (Oracle VM 3 first).
//!
//! Module map, in the order data flows:
//! - [`manifest`]: YAML files → located tree → raw serde types (every error located).
//! - [`model`]: validated desired state (typed names, units, CPU sets).
//! - [`diag`]: diagnostics with `file:line:col`, rendered cargo-style.
//! - [`cli`]: the command line; the only place that prints.

#![warn(missing_docs)]

pub mod cli;
pub mod diag;
pub mod manifest;
pub mod model;
