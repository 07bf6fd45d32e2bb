//! End-to-end tests against real sshd test hosts running the xm simulator.
//! One integration binary (ripgrep's and cargo's habit); each module is one feature.

mod apply;
mod bastion;
mod console;
mod evidence;
mod faults;
mod harness;
mod hostile;
mod libvirt_apply;
mod libvirt_hosts;
mod libvirt_import;
mod libvirt_snapshot;
mod list;
mod manager;
mod pinning;
mod profiles;
mod quiet;
mod reconcile;
mod slow;
mod snapshot;
mod ssh;
mod ssh_algorithms;
