//! `domform vnc VM`: a local port tunnelled through SSH to the VM's VNC console.
//!
//! OVM binds VNC to 127.0.0.1 on dom0 (facts §6), so a viewer cannot reach it directly. The live
//! port comes from `xm list -l` (`(device (vfb … (location 127.0.0.1:5900)))`), or on a libvirt
//! host from the running domain's live XML (`<graphics type='vnc' port=… listen=…>`: autoport
//! chooses the port at each start), read by the same observe as every command; the forward
//! listens on 127.0.0.1 only.

use crate::engine::Outcome;
use std::io::Write;

use super::console::{fail, find_running};
use super::{load_or_report, VncArgs};
use crate::model::TransportKind;
use crate::render::escape;
use crate::transport::forward;

/// `host:port` of a vfb location; a wildcard listen address is reached on the host's loopback.
fn target(location: &str) -> Option<(String, u16)> {
    let (addr, port) = location.trim().rsplit_once(':')?;
    let port = port.parse().ok()?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let addr = match addr {
        "" | "0.0.0.0" | "::" => "127.0.0.1",
        a => a,
    };
    Some((addr.to_string(), port))
}

/// What a local host's VNC is: the address comes from the host (a libvirt domain's live XML
/// `listen=`), so it reaches the terminal escaped.
fn local_line(name: &str, addr: &str, port: u16) -> String {
    format!("VNC for {}: connect your viewer to {}:{port}", escape::line(name), escape::line(addr))
}

/// Finds the VNC port, forwards a local port to it, serves until interrupted (or `--once`).
pub fn run(a: &VncArgs) -> Outcome {
    let Some(model) = load_or_report(&a.files) else { return Outcome::Failed };
    let (host, dom) = match find_running(&model, &a.name, a.host.as_deref()) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let Some(h) = model.hosts.get(&host) else { return fail(&format!("unknown host `{host}`")) };
    let Some((addr, port)) = dom.vnc_location.as_deref().and_then(target) else {
        let seen = match h.toolstack {
            crate::model::Toolstack::Libvirt => "no VNC port in its live XML",
            _ => "no vfb location in `xm list -l`",
        };
        return fail(&format!(
            "`{}` has no VNC console on {host} ({seen}); declare `console.vnc` and restart the VM",
            a.name
        ));
    };
    if h.transport == TransportKind::Local {
        let _ = writeln!(std::io::stdout(), "{}", local_line(&a.name, &addr, port));
        return Outcome::Ok;
    }
    let listener = match forward::bind_local(a.local_port.unwrap_or(0)) {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on 127.0.0.1:{}: {e}", a.local_port.unwrap_or(0))),
    };
    let local = forward::local_addr(&listener).map(|s| s.to_string()).unwrap_or_default();
    let stop = if a.once { "exits after the first connection" } else { "Ctrl-C to stop" };
    let _ = writeln!(std::io::stdout(), "VNC for {}: connect your viewer to {local} ({stop})", escape::line(&a.name));
    let _ = std::io::stdout().flush();
    match forward::serve(h, &listener, &addr, port, a.once) {
        Ok(()) => Outcome::Ok,
        Err(e) => fail(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{local_line, target};

    #[test]
    fn a_host_address_reaches_the_terminal_escaped() {
        let (addr, port) = target("1.2.3.4\u{1b}]0;x\u{7}:5900").expect("a location");
        let line = local_line("db\u{1b}[2J", &addr, port);
        assert!(!line.contains('\u{1b}') && !line.contains('\u{7}'), "{line:?}");
    }

    #[test]
    fn locations() {
        assert_eq!(target("127.0.0.1:5900"), Some(("127.0.0.1".into(), 5900)));
        assert_eq!(target("0.0.0.0:5901"), Some(("127.0.0.1".into(), 5901)));
        assert_eq!(target("[::1]:5902"), Some(("::1".into(), 5902)));
        assert_eq!(target("nonsense"), None);
    }
}
