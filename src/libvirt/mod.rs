//! Building blocks for `toolstack: libvirt` (issue 17): reading and minimally editing what
//! `virsh` prints and takes, as pure functions tested on real captured outputs. Nothing here is
//! wired into the planner, the engine or the targets yet; that is the next step of issue 17.

pub mod domain;
