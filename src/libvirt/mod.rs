//! Building blocks for `toolstack: libvirt` (issue 17): pure parsers of what `virsh` prints on a
//! libvirt host, the domain XML of a new VM, minimal edits of an existing domain's XML, and
//! domains (or OVM vm.cfg files) read back as declarations, tested on outputs captured from the
//! libvirt test hosts. docs/libvirt.md maps every declared field to its XML. Nothing here is
//! wired into observe, the planner, the engine or the targets yet; the toolstack is built on
//! them.

pub mod caps;
pub mod devices;
pub mod domain;
pub mod generate;
pub mod import;
pub mod virsh;
