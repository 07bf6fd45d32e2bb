//! The vm.cfg keys domform writes, and how each is treated, in ONE table.
//!
//! Four places used to spell the same vocabulary as strings: the planner's desired vm.cfg
//! (`plan/desired.rs`, `plan/console.rs`), the live changes for a running domain
//! (`plan/vm.rs`), the import that reads a vm.cfg back (`plan/import.rs`), and the keys
//! `extra_config` may not set (`model/validate`). A typo in one of them was silent. Now each
//! key is a [`Key`] and its row in [`TABLE`] says whether a running domain takes it live, how
//! an existing value is compared, whether `extra_config` may set it and what import reads it
//! back as; tests tie the four users to the table (`tests/vocabulary.rs`).
//!
//! A plan's field names ([`Field`]) carry the key too, but serialize as the same strings as
//! before (`memory`, `cpus (live)`, `size`), so the JSON plan format does not change.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A vm.cfg key domform writes (in a new vm.cfg, or as a minimal edit of an existing one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `name`: the Xen domain name.
    Name,
    /// `uuid`.
    Uuid,
    /// `OVM_simple_name`: the name people and domform use.
    SimpleName,
    /// `OVM_description`.
    Description,
    /// `OVM_domain_type` (`xen_hvm`, `xen_pvm`).
    DomainType,
    /// `builder` (`hvm`, or absent for PV).
    Builder,
    /// `boot` (HVM boot order).
    Boot,
    /// `bootloader` (PV: pygrub).
    Bootloader,
    /// `on_poweroff`.
    OnPoweroff,
    /// `on_reboot`.
    OnReboot,
    /// `on_crash`.
    OnCrash,
    /// `memory` (MiB).
    Memory,
    /// `maxmem` (MiB).
    Maxmem,
    /// `vcpus`.
    Vcpus,
    /// `maxvcpus`.
    Maxvcpus,
    /// `cpus`: the pinning.
    Cpus,
    /// `disk`: the disk stanzas.
    Disk,
    /// `vif`: the NIC stanzas.
    Vif,
    /// `serial` (`pty`: the text console).
    Serial,
    /// `extra`: the PV kernel command line (`console=hvc0`).
    Extra,
    /// `vnc` (HVM).
    Vnc,
    /// `vncunused` (HVM).
    VncUnused,
    /// `vncdisplay` (HVM).
    VncDisplay,
    /// `vnclisten` (HVM).
    VncListen,
    /// `keymap` (HVM).
    Keymap,
    /// `vncpasswd` (HVM).
    VncPasswd,
    /// `vfb`: the PV framebuffer stanzas (VNC).
    Vfb,
}

/// How a running domain takes a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Only at its next restart.
    Restart,
    /// `xm mem-set` (up to the domain's maxmem).
    MemSet,
    /// `xm vcpu-set` (up to the domain's vCPU ceiling).
    VcpuSet,
    /// `xm vcpu-pin`.
    VcpuPin,
    /// `xm block-attach` for added disks (when no disk is removed or moved).
    BlockAttach,
}

/// How the host's value is compared with the desired one (by meaning, never by text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Written into a new vm.cfg only; an existing VM keeps what it has.
    Created,
    /// An integer: `4096` = `'4096'`.
    Int,
    /// A flag: `1` = `'1'` = `True`.
    Flag,
    /// A string, exactly.
    Text,
    /// CPU sets as sets, per vCPU (`'4-5'` = `'4,5'`).
    CpuSets,
    /// Disk stanzas in order, paths by meaning (`file:///x` = `file:/x`, `rw` = `w`).
    Disks,
    /// NIC stanzas in order, the declared keys only (MAC case-insensitive).
    Vifs,
    /// The kernel command line word by word, or only that `console=` is on it.
    KernelCmdline,
    /// The VNC stanza's keys, with xend's defaults for the missing ones.
    VncStanza,
}

/// What `import` reads a key back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import {
    /// This field of the declaration (`memory`, `console.vnc.port`, …).
    Reads(&'static str),
    /// Not read, and why.
    Skips(&'static str),
}

/// One key's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The key.
    pub key: Key,
    /// Its name in vm.cfg.
    pub name: &'static str,
    /// How a running domain takes it.
    pub live: Live,
    /// How it is compared.
    pub compare: Compare,
    /// `extra_config` may set it (else it is domform's: use the VM's own fields).
    pub extra_config: bool,
    /// What import reads it back as.
    pub import: Import,
}

const CREATED_ONCE: &str = "written once into a new vm.cfg; an existing VM keeps its own";
const IDENTITY: &str = "the host's identity of the VM, kept as it is; VMs are matched by OVM_simple_name";

const fn row(key: Key, name: &'static str, live: Live, compare: Compare, extra_config: bool, import: Import) -> Spec {
    Spec { key, name, live, compare, extra_config, import }
}

use Compare as C;
use Import::{Reads, Skips};
use Live::Restart;

/// Every key, in [`Key`] order (`TABLE[k as usize].key == k`, tested).
pub const TABLE: &[Spec] = &[
    row(Key::Name, "name", Restart, C::Created, false, Skips(IDENTITY)),
    row(Key::Uuid, "uuid", Restart, C::Created, false, Skips(IDENTITY)),
    row(Key::SimpleName, "OVM_simple_name", Restart, C::Created, false, Reads("the VM's name")),
    row(Key::Description, "OVM_description", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::DomainType, "OVM_domain_type", Restart, C::Created, true, Skips("follows `builder`")),
    row(Key::Builder, "builder", Restart, C::Created, false, Reads("type")),
    row(Key::Boot, "boot", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::Bootloader, "bootloader", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::OnPoweroff, "on_poweroff", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::OnReboot, "on_reboot", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::OnCrash, "on_crash", Restart, C::Created, true, Skips(CREATED_ONCE)),
    row(Key::Memory, "memory", Live::MemSet, C::Int, false, Reads("memory")),
    row(Key::Maxmem, "maxmem", Restart, C::Int, false, Reads("maxmem")),
    row(Key::Vcpus, "vcpus", Live::VcpuSet, C::Int, false, Reads("vcpus")),
    row(Key::Maxvcpus, "maxvcpus", Restart, C::Int, false, Reads("maxvcpus")),
    row(Key::Cpus, "cpus", Live::VcpuPin, C::CpuSets, false, Reads("cpus")),
    row(Key::Disk, "disk", Live::BlockAttach, C::Disks, false, Reads("disks")),
    row(Key::Vif, "vif", Restart, C::Vifs, false, Reads("networks")),
    row(Key::Serial, "serial", Restart, C::Text, false, Reads("console.serial")),
    row(Key::Extra, "extra", Restart, C::KernelCmdline, true, Reads("console.pv_console")),
    row(Key::Vnc, "vnc", Restart, C::Flag, false, Reads("console.vnc")),
    row(Key::VncUnused, "vncunused", Restart, C::Flag, false, Reads("console.vnc.port")),
    row(Key::VncDisplay, "vncdisplay", Restart, C::Int, false, Reads("console.vnc.port")),
    row(Key::VncListen, "vnclisten", Restart, C::Text, false, Reads("console.vnc.listen")),
    row(Key::Keymap, "keymap", Restart, C::Text, false, Reads("console.vnc.keymap")),
    row(Key::VncPasswd, "vncpasswd", Restart, C::Text, false, Skips("a secret: declare console.vnc.password")),
    row(Key::Vfb, "vfb", Restart, C::VncStanza, false, Reads("console.vnc")),
];

impl Key {
    /// Every key.
    pub fn all() -> impl Iterator<Item = Key> {
        TABLE.iter().map(|s| s.key)
    }

    /// This key's row.
    pub fn spec(self) -> &'static Spec {
        &TABLE[self as usize]
    }

    /// Its name in vm.cfg.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The key named `name` (exact, as vm.cfg spells it).
    pub fn parse(name: &str) -> Option<Key> {
        TABLE.iter().find(|s| s.name == name).map(|s| s.key)
    }
}

/// True for a vm.cfg key `extra_config` may not set: domform writes it from the VM's fields.
pub fn owned_by_domform(name: &str) -> bool {
    Key::parse(name).is_some_and(|k| !k.spec().extra_config)
}

impl Compare {
    /// Meaning-level equality for the scalar kinds (`Int`, `Flag`, `Text`); `None` for the
    /// kinds whose comparison needs the declaration (lists, stanzas, command lines).
    pub fn same_scalar(self, old: &vmcfg::Value, new: &vmcfg::Value) -> Option<bool> {
        let flag = |v: &vmcfg::Value| v.as_int().or_else(|| v.as_bool().map(i64::from));
        match self {
            C::Int => Some(old.as_int().is_some() && old.as_int() == new.as_int()),
            C::Flag => Some(flag(old).is_some() && flag(old) == flag(new)),
            C::Text => Some(old.as_str().is_some() && old.as_str() == new.as_str()),
            _ => None,
        }
    }
}

/// The name of one field of a plan change: a vm.cfg key, the live side of one (`cpus (live)`:
/// the running domain differs from a vm.cfg that is already right), or a free label (`size`,
/// `url`, an `extra_config` key). It is its name (so a saved plan read back equals the re-made
/// one, and the JSON is today's string); [`Field::cfg_key`] and [`Field::about`] give the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Field(Cow<'static, str>);

const LIVE_SUFFIX: &str = " (live)";

impl Field {
    /// A vm.cfg key.
    pub fn key(k: Key) -> Field {
        Field(Cow::Borrowed(k.name()))
    }

    /// The running domain's side of a key.
    pub fn live(k: Key) -> Field {
        Field(Cow::Owned(format!("{}{LIVE_SUFFIX}", k.name())))
    }

    /// The vm.cfg key this field is (not its live side).
    pub fn cfg_key(&self) -> Option<Key> {
        Key::parse(&self.0)
    }

    /// The key this field is about, vm.cfg or live side.
    pub fn about(&self) -> Option<Key> {
        self.cfg_key().or_else(|| self.0.strip_suffix(LIVE_SUFFIX).and_then(Key::parse))
    }

    /// The name as the plan shows and serializes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Field {
        Field(Cow::Owned(s.to_string()))
    }
}

impl From<String> for Field {
    fn from(s: String) -> Field {
        Field(Cow::Owned(s))
    }
}

impl From<Key> for Field {
    fn from(k: Key) -> Field {
        Field::key(k)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Field {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Field {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        String::deserialize(d).map(Field::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_key_order_and_names_are_unique() {
        for (i, s) in TABLE.iter().enumerate() {
            assert_eq!(s.key as usize, i, "{} is out of order", s.name);
            assert_eq!(Key::parse(s.name), Some(s.key));
        }
        let mut names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }

    #[test]
    fn field_names_round_trip_through_their_strings() {
        for name in ["memory", "cpus (live)", "disk (kept: shared)", "size", "on_crash", "memory (live) x"] {
            let f = Field::from(name);
            assert_eq!(f.as_str(), name);
            let json = serde_json::to_string(&f).expect("serializes");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Field>(&json).expect("parses"), f);
        }
        assert_eq!(Field::from("cpus (live)"), Field::live(Key::Cpus));
        assert_eq!(Field::from("cpus (live)").about(), Some(Key::Cpus));
        assert_eq!(Field::from("cpus (live)").cfg_key(), None);
        assert_eq!(Field::from("vncpasswd").cfg_key(), Some(Key::VncPasswd));
        assert_eq!(Field::from("memory (live) x").about(), None);
        assert_eq!(Field::from("size").about(), None);
    }

    #[test]
    fn scalar_comparison_is_by_meaning() {
        use vmcfg::Value as V;
        assert_eq!(C::Int.same_scalar(&V::Str("4096".into()), &V::Int(4096)), Some(true));
        assert_eq!(C::Flag.same_scalar(&V::Bool(true), &V::Int(1)), Some(true));
        assert_eq!(C::Flag.same_scalar(&V::Int(0), &V::Int(1)), Some(false));
        assert_eq!(C::Text.same_scalar(&V::Int(1), &V::Str("1".into())), Some(false));
        assert_eq!(C::Disks.same_scalar(&V::Int(1), &V::Int(1)), None);
    }
}
