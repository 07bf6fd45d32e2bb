//! Consoles in vm.cfg: the Xen text console and VNC, in the form each VM type needs.
//!
//! The VNC console only works once a kernel was found, so a PV guest whose boot is broken needs
//! the Xen text console: `serial = 'pty'` plus `console=hvc0` (or `xvc0`) on the kernel line
//! through `extra`, appended to what is there, never twice (facts §6). VNC is written as OVM
//! writes it: top-level `vnc`/`vncunused`/`vnclisten`/`vncdisplay`/`keymap`/`vncpasswd` keys for
//! HVM, one `vfb = ['type=vnc,…']` stanza for PV (facts §2.3). Everything is compared by meaning,
//! so a converged VM plans nothing; keys not declared are left as they are. The password arrives
//! already read (`ops::resolve_secrets`); this module never does I/O, and the file it helps build
//! is sealed before it enters the plan (`plan::secrets`: placeholders, not values).

use vmcfg::{parse_kv_stanza, render_kv_stanza, Value};

use super::desired::Editor;
use crate::model::{Vm, VmType, Vnc};
use crate::xen::fields::Key;

/// VNC displays count from this port.
pub(super) const VNC_BASE: u16 = 5900;

/// Where a vfb listens when its stanza does not say (xend's default, and domform's).
pub(super) const DEFAULT_LISTEN: &str = "127.0.0.1";

/// True when the text console owns `extra` (a PV guest with `serial: true`): a declared
/// `extra_config.extra` is then the base the console argument is appended to.
pub fn owns_extra(vm: &Vm) -> bool {
    vm.console.serial && vm.vm_type == VmType::Pv
}

/// Why the VM cannot be planned: a declared VNC password that could not be read (or was never
/// read: a caller that skipped `ops::resolve_secrets` must not silently drop the password).
pub fn password_problem(vm: &Vm) -> Option<String> {
    let vnc = vm.console.vnc.as_ref()?;
    let src = vnc.password.as_ref()?;
    match &vnc.password_value {
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(e.clone()),
        None => Some(format!(
            "VM `{}`: the VNC password ({}) was not read before planning",
            vm.name,
            crate::model::secret::describe(src)
        )),
    }
}

/// Sets the console keys of `vm` in the edited vm.cfg. `declared_extra` is extra_config's `extra`.
pub(super) fn edit(ed: &mut Editor<'_>, vm: &Vm, declared_extra: Option<&str>) {
    if owns_extra(vm) {
        kernel_console(ed, &vm.console.pv_console, declared_extra);
    }
    if let Some(vnc) = &vm.console.vnc {
        match vm.vm_type {
            VmType::Hvm => hvm_vnc(ed, vnc),
            VmType::Pv => pv_vnc(ed, vnc),
        }
    }
}

/// `console=<dev>` (with or without options such as `,115200`) is on the command line.
fn has_console(cmdline: &str, dev: &str) -> bool {
    cmdline.split_whitespace().any(|t| t.strip_prefix("console=").and_then(|v| v.split(',').next()) == Some(dev))
}

/// The command line with `console=<dev>` appended unless it is already there.
pub fn with_console(cmdline: &str, dev: &str) -> String {
    let base = cmdline.trim();
    match (has_console(base, dev), base.is_empty()) {
        (true, _) => base.to_string(),
        (false, true) => format!("console={dev}"),
        (false, false) => format!("{base} console={dev}"),
    }
}

fn kernel_console(ed: &mut Editor<'_>, dev: &str, declared: Option<&str>) {
    let current = ed.current(Key::Extra).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let want = with_console(declared.unwrap_or(&current), dev);
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let same = |o: &Value| match (o.as_str(), declared) {
        // Declared: the whole command line is ours, word by word.
        (Some(s), Some(_)) => words(s) == words(&want),
        (Some(s), None) => has_console(s, dev),
        (None, _) => false,
    };
    ed.set(Key::Extra, Value::Str(want.clone()), same);
}

fn hvm_vnc(ed: &mut Editor<'_>, vnc: &Vnc) {
    ed.put(Key::Vnc, Value::Int(1));
    match vnc.port {
        Some(port) => {
            let display = i64::from(port.saturating_sub(VNC_BASE));
            ed.put(Key::VncUnused, Value::Int(0));
            ed.put(Key::VncDisplay, Value::Int(display));
        }
        None => {
            ed.put(Key::VncUnused, Value::Int(1));
            ed.remove(Key::VncDisplay);
        }
    }
    ed.put(Key::VncListen, Value::Str(vnc.listen.clone()));
    if let Some(k) = &vnc.keymap {
        ed.put(Key::Keymap, Value::Str(k.clone()));
    }
    if let Some(Ok(pw)) = &vnc.password_value {
        let pw = pw.expose();
        ed.put(Key::VncPasswd, Value::Str(pw.to_string()));
    }
}

pub(super) fn get<'a>(kv: &'a [(String, String)], k: &str) -> Option<&'a str> {
    kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

pub(super) fn is_vnc_stanza(kv: &[(String, String)]) -> bool {
    get(kv, "type") == Some("vnc") || (get(kv, "type").is_none() && get(kv, "vnc") == Some("1"))
}

/// The vfb stanza's meaning equals the declared VNC console.
fn vfb_matches(vnc: &Vnc, kv: &[(String, String)]) -> bool {
    let int = |k: &str| get(kv, k).and_then(|v| v.parse::<i64>().ok());
    // xend's defaults: a vfb finds an unused port and listens on 127.0.0.1.
    let unused = int("vncunused").unwrap_or(1);
    let port_ok = match vnc.port {
        Some(p) => unused == 0 && int("vncdisplay") == Some(i64::from(p.saturating_sub(VNC_BASE))),
        None => unused == 1 && get(kv, "vncdisplay").is_none(),
    };
    let pw_ok = match &vnc.password_value {
        Some(Ok(pw)) => get(kv, "vncpasswd") == Some(pw.expose()),
        _ => true,
    };
    is_vnc_stanza(kv)
        && port_ok
        && pw_ok
        && get(kv, "vnclisten").unwrap_or(DEFAULT_LISTEN) == vnc.listen
        && vnc.keymap.as_deref().is_none_or(|k| get(kv, "keymap") == Some(k))
}

/// The declared stanza, keeping the other keys of the existing one and their order.
fn vfb_stanza(vnc: &Vnc, existing: Option<&str>) -> String {
    let mut kv = existing.map(parse_kv_stanza).unwrap_or_default();
    let mut put = |k: &str, v: String| match kv.iter_mut().find(|(key, _)| key == k) {
        Some(slot) => slot.1 = v,
        None => kv.push((k.to_string(), v)),
    };
    put("type", "vnc".into());
    match vnc.port {
        Some(p) => {
            put("vncunused", "0".into());
            put("vncdisplay", p.saturating_sub(VNC_BASE).to_string());
        }
        None => put("vncunused", "1".into()),
    }
    put("vnclisten", vnc.listen.clone());
    if let Some(Ok(pw)) = &vnc.password_value {
        put("vncpasswd", pw.expose().to_string());
    }
    if let Some(k) = &vnc.keymap {
        put("keymap", k.clone());
    }
    if vnc.port.is_none() {
        kv.retain(|(k, _)| k != "vncdisplay");
    }
    render_kv_stanza(&kv)
}

fn pv_vnc(ed: &mut Editor<'_>, vnc: &Vnc) {
    let old: Vec<String> = ed
        .current(Key::Vfb)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let at = old.iter().position(|s| is_vnc_stanza(&parse_kv_stanza(s)));
    let stanza = vfb_stanza(vnc, at.map(|i| old[i].as_str()));
    let mut items: Vec<Value> = old.iter().map(|s| Value::Str(s.clone())).collect();
    match at {
        Some(i) => items[i] = Value::Str(stanza),
        None => items.insert(0, Value::Str(stanza)),
    }
    let same = |o: &Value| {
        o.as_list().is_some_and(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(parse_kv_stanza)
                .find(|kv| is_vnc_stanza(kv))
                .is_some_and(|kv| vfb_matches(vnc, &kv))
        })
    };
    ed.set(Key::Vfb, Value::List(items), same);
}
