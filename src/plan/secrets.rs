//! Secrets in a plan are references, never values.
//!
//! A plan is printed, saved (`plan -o`), pasted into pull requests and read back by `apply`, so
//! it must hold no password, and yet apply must run it as saved. The planner therefore decides
//! with the values (the declared password, read at the edge into the model, is compared with the
//! host's in memory) and then *seals* the vm.cfg it writes: every `vncpasswd` value in it, the
//! top-level key or the `vncpasswd=` item of a `vfb` stanza, becomes a placeholder, and the
//! write op lists a [`SecretSlot`] per placeholder saying where the value comes from when the
//! file is written: the declared environment variable or file (with the value's tag, so a
//! secret changed since the plan was made is refused, not silently written), or the host's
//! own vm.cfg (a password domform keeps as it is; the stale check guarantees that file is the
//! one planned against). `apply::secrets` puts the values back just before the host script is
//! built. The diff and the field values are sealed the same way, so plans show
//! `vncpasswd = '(secret: env VNC_PW)'` and no render-time scanning hides what domform planned.

use serde::{Deserialize, Serialize};
use vmcfg::{parse_kv_stanza, Value, VmCfg};

use super::FieldChange;
use crate::model::secret::{placeholder, Secret};
use crate::model::{SecretRef, Vm};

pub use crate::model::secret::KEPT;

/// One secret in a vm.cfg a plan writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSlot {
    /// Where in the written file: `None` the top-level `vncpasswd`, `Some(i)` the `vncpasswd=`
    /// item of the `i`-th `vfb` stanza.
    pub vfb: Option<usize>,
    /// The text standing there for the value.
    pub placeholder: String,
    /// A libvirt domain's XML instead of a vm.cfg: the placeholder is the value of a
    /// `<graphics passwd=…>`, and a kept password is this domain's (`target::libvirt::secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml_domain: Option<String>,
    /// Where the value comes from when the file is written.
    pub source: SecretSource,
}

/// Where a secret's value comes from when a plan is executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum SecretSource {
    /// The declared environment variable; `tag` is the value's tag when planned.
    Env {
        /// Variable name.
        var: String,
        /// `model::secret::tag` of the value planned with.
        tag: String,
    },
    /// The declared file (first line); `tag` as for `Env`.
    File {
        /// Path on the controller.
        path: String,
        /// `model::secret::tag` of the value planned with.
        tag: String,
    },
    /// The host's vm.cfg at the written path, at this place (`vfb` as in [`SecretSlot`]).
    Host {
        /// Where in the host's file.
        vfb: Option<usize>,
    },
}

impl SecretSource {
    /// The declared source, for reading it again (`None` for [`SecretSource::Host`]).
    pub fn declared(&self) -> Option<(SecretRef, &str)> {
        match self {
            SecretSource::Env { var, tag } => Some((SecretRef::Env(var.clone()), tag)),
            SecretSource::File { path, tag } => Some((SecretRef::File(path.into()), tag)),
            SecretSource::Host { .. } => None,
        }
    }
}

/// A vm.cfg to write with its secrets replaced, and what replaces them.
pub struct Sealed {
    /// The file as the plan carries it.
    pub new: VmCfg,
    /// The host's file with its secrets replaced the same way (for the diff and field values).
    pub old: Option<VmCfg>,
    /// One entry per placeholder in `new`.
    pub slots: Vec<SecretSlot>,
}

/// The VM's declared VNC password and its source, when one was read.
pub fn declared(vm: &Vm) -> Option<(&SecretRef, &Secret)> {
    vm.console.vnc.as_ref().and_then(|v| match (&v.password, &v.password_value) {
        (Some(src), Some(Ok(pw))) => Some((src, pw)),
        _ => None,
    })
}

/// Every non-empty password in `cfg`, with its place.
pub fn passwords(cfg: &VmCfg) -> Vec<(Option<usize>, String)> {
    let mut out = Vec::new();
    if let Some(v) = cfg.get("vncpasswd").and_then(scalar).filter(|v| !v.is_empty()) {
        out.push((None, v));
    }
    for (i, item) in vfb_items(cfg).iter().enumerate() {
        if let Some((_, v)) =
            item.as_deref().map(parse_kv_stanza).and_then(|kv| kv.into_iter().find(|(k, _)| k == "vncpasswd"))
        {
            if !v.is_empty() {
                out.push((Some(i), v));
            }
        }
    }
    out
}

/// The password at a place, if any.
pub fn password_at(cfg: &VmCfg, vfb: Option<usize>) -> Option<String> {
    passwords(cfg).into_iter().find(|(at, _)| *at == vfb).map(|(_, v)| v)
}

/// Puts `value` at a place (only the `vncpasswd` item of a stanza changes, byte for byte).
pub fn put_password(cfg: &mut VmCfg, vfb: Option<usize>, value: &str) {
    let Some(i) = vfb else {
        cfg.set("vncpasswd", Value::Str(value.into()));
        return;
    };
    let Some(Value::List(items)) = cfg.get("vfb").cloned() else { return };
    let items = items
        .into_iter()
        .enumerate()
        .map(|(j, v)| match v {
            Value::Str(s) if j == i => Value::Str(replace_item(&s, "vncpasswd", value)),
            other => other,
        })
        .collect();
    cfg.set("vfb", Value::List(items));
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) => Some(v.to_python()),
        _ => None,
    }
}

fn vfb_items(cfg: &VmCfg) -> Vec<Option<String>> {
    cfg.get("vfb")
        .and_then(Value::as_list)
        .map(|l| l.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// `stanza` with the value of item `key` replaced; other items keep their bytes.
fn replace_item(stanza: &str, key: &str, value: &str) -> String {
    let items: Vec<String> = stanza
        .split(',')
        .map(|item| match item.split_once('=') {
            Some((k, v)) if k.trim() == key => format!("{k}={value}{}", &v[v.trim_end().len()..]),
            _ => item.to_string(),
        })
        .collect();
    items.join(",")
}

/// Seals `new` (the desired vm.cfg, with real values) against the host's `old`; `declared` is
/// the VM's declared password. A value equal to the declared one stands for it; any other came
/// from the host's file, unchanged, and stands for the place it has there.
pub fn seal(new: &VmCfg, old: Option<&VmCfg>, declared: Option<(&SecretRef, &Secret)>) -> Result<Sealed, String> {
    let declared_slot = |at: Option<usize>, v: &str| {
        declared.filter(|(_, s)| s.expose() == v).map(|(src, s)| {
            let tag = s.tag().to_string();
            let source = match src {
                SecretRef::Env(var) => SecretSource::Env { var: var.clone(), tag },
                SecretRef::File(p) => SecretSource::File { path: p.display().to_string(), tag },
            };
            SecretSlot { vfb: at, placeholder: placeholder(src), source, xml_domain: None }
        })
    };
    let old_passwords = old.map(passwords).unwrap_or_default();
    let mut sealed = new.clone();
    let mut slots = Vec::new();
    for (at, v) in passwords(new) {
        let slot = match declared_slot(at, &v) {
            Some(s) => s,
            None => match old_passwords.iter().find(|(_, o)| *o == v) {
                Some((from, _)) => SecretSlot {
                    vfb: at,
                    placeholder: KEPT.into(),
                    source: SecretSource::Host { vfb: *from },
                    xml_domain: None,
                },
                None => return Err("a VNC password in the planned vm.cfg is neither declared nor the host's".into()),
            },
        };
        put_password(&mut sealed, at, &slot.placeholder);
        slots.push(slot);
    }
    let old = old.map(|o| {
        let mut sealed_old = o.clone();
        for (at, v) in &old_passwords {
            let shown = declared_slot(*at, v).map_or_else(|| KEPT.to_string(), |s| s.placeholder);
            put_password(&mut sealed_old, *at, &shown);
        }
        sealed_old
    });
    Ok(Sealed { new: sealed, old, slots })
}

/// Field values of the keys that hold passwords, shown from the sealed files.
pub fn seal_fields(fields: &mut [FieldChange], sealed: &Sealed) {
    let show = |c: Option<&VmCfg>, key: &str| {
        c.and_then(|c| c.get(key)).map(|v| match v {
            Value::Str(s) => s.clone(),
            other => other.to_python(),
        })
    };
    for f in fields.iter_mut().filter(|f| f.field == "vncpasswd" || f.field == "vfb") {
        f.old = show(sealed.old.as_ref(), f.field.as_str());
        f.new = show(Some(&sealed.new), f.field.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(t: &str) -> VmCfg {
        VmCfg::parse(t).expect("parses")
    }

    #[test]
    fn declared_and_kept_passwords_become_placeholders_with_their_sources() {
        let src = SecretRef::Env("VNC_PW".into());
        let pw = Secret::new("new-Pw").tagged(&src, "h1");
        let old = cfg("vncpasswd = 'old-Pw'\nvfb = ['type=sdl, vncpasswd=sdl-Pw', 'type=vnc,vncpasswd=old-Pw']\n");
        let new = cfg("vncpasswd = 'new-Pw'\nvfb = ['type=sdl, vncpasswd=sdl-Pw', 'type=vnc,vncpasswd=old-Pw']\n");
        let s = seal(&new, Some(&old), Some((&src, &pw))).expect("seals");
        let text = s.new.render();
        assert_eq!(
            text,
            "vncpasswd = '(secret: env VNC_PW)'\nvfb = ['type=sdl, vncpasswd=(secret: kept from host)', \
             'type=vnc,vncpasswd=(secret: kept from host)']\n"
        );
        let host = |vfb| SecretSource::Host { vfb };
        let sources: Vec<_> = s.slots.iter().map(|sl| (sl.vfb, sl.source.clone())).collect();
        let env = SecretSource::Env { var: "VNC_PW".into(), tag: pw.tag().into() };
        assert_eq!(sources, [(None, env), (Some(0), host(Some(0))), (Some(1), host(None))]);
        let old_text = s.old.expect("old").render();
        assert!(!old_text.contains("Pw'") && !old_text.contains("Pw,") && old_text.contains(KEPT), "{old_text}");
        assert!(!text.contains("new-Pw") && !text.contains("old-Pw") && !text.contains("sdl-Pw"));
    }

    #[test]
    fn put_back_gives_the_file_byte_for_byte() {
        let text = "vncpasswd = 'a-Pw' # c\nvfb = ['type=sdl, vncpasswd=b-Pw ,x=1']\n";
        let c = cfg(text);
        let s = seal(&c, Some(&c), None).expect("seals");
        let mut back = s.new.clone();
        for sl in &s.slots {
            let SecretSource::Host { vfb } = sl.source else { panic!("kept") };
            put_password(&mut back, sl.vfb, &password_at(&c, vfb).expect("on host"));
        }
        assert_eq!(back.render(), text);
    }

    #[test]
    fn a_value_from_nowhere_is_an_error_not_a_leak() {
        let e = seal(&cfg("vncpasswd = 'x-Pw'\n"), None, None).err().expect("refused");
        assert!(!e.contains("x-Pw"), "{e}");
    }
}
