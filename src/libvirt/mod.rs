//! Building blocks for `toolstack: libvirt` (issue 17): pure parsers of what `virsh` prints on a
//! libvirt host, and minimal edits of a domain's XML, tested on outputs captured from the libvirt
//! test hosts. Nothing here is wired into observe, the planner, the engine or the targets yet;
//! the toolstack is built on them.

pub mod caps;
pub mod devices;
pub mod domain;
pub mod generate;
pub mod import;
pub mod virsh;
