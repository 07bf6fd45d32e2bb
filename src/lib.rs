//! domform: a declarative, agentless reconciler for Xen hosts (Oracle VM 3 first).
//!
//! Module map, in the order data flows:
//! - [`manifest`]: YAML files → located tree → raw serde types (every error located).
//! - [`model`]: validated desired state (typed names, units, CPU sets).
//! - [`transport`]: the one seam to a host (SSH via ssh2, local, an in-memory fake) and the one
//!   shell-quoting function.
//! - [`xen`]: parsers for `xm info -n`, `xm list -l`, `xm list`, `xm vcpu-list` text (never panic).
//! - [`observe`]: one exec per host reads everything, parsed into typed facts; hosts in parallel.
//! - [`weblogic`]: OVM Manager's WebLogic JDBC data source: Oracle thin URLs, pool parameters,
//!   minimal text edits of the XML descriptor.
//! - [`engine`]: sessions (a host's connection and lock) and the one run loop every command uses.
//! - [`render`]: tables and JSON for stdout.
//! - [`diag`]: diagnostics with `file:line:col`, rendered cargo-style.
//! - [`cli`]: the command line.

#![warn(missing_docs)]

pub mod apply;
pub mod cli;
pub mod diag;
pub mod engine;
pub mod libvirt;
pub mod licence;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod ops;
pub mod plan;
pub mod render;
pub mod target;
pub mod transport;
pub mod weblogic;
pub mod xen;
