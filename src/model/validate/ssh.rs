//! How a host is reached: `host_defaults` merged under each host, the SSH algorithm lists
//! resolved (so a typo is a located error, not a failed handshake later), and the
//! `transport: openssh`-only keys kept to that transport.

use std::path::PathBuf;

use super::{expand_home, Ctx};
use crate::manifest::load::Entry;
use crate::manifest::raw::{RawHost, TransportKind};
use crate::transport::algorithms::{self, Algorithms, KINDS};

/// A host's raw fields with `d` filling the ones it leaves out (`address` is never defaulted).
pub(super) fn with_defaults(h: &RawHost, d: &RawHost) -> RawHost {
    RawHost {
        address: h.address.clone(),
        port: h.port.or(d.port),
        user: h.user.clone().or_else(|| d.user.clone()),
        identity_file: h.identity_file.clone().or_else(|| d.identity_file.clone()),
        known_hosts: h.known_hosts.clone().or_else(|| d.known_hosts.clone()),
        host_key_policy: h.host_key_policy.or(d.host_key_policy),
        transport: h.transport.or(d.transport),
        connect_timeout: h.connect_timeout.or(d.connect_timeout),
        observe_timeout: h.observe_timeout.or(d.observe_timeout),
        step_timeout: h.step_timeout.or(d.step_timeout),
        kex_algorithms: h.kex_algorithms.clone().or_else(|| d.kex_algorithms.clone()),
        host_key_algorithms: h.host_key_algorithms.clone().or_else(|| d.host_key_algorithms.clone()),
        ciphers: h.ciphers.clone().or_else(|| d.ciphers.clone()),
        macs: h.macs.clone().or_else(|| d.macs.clone()),
        ssh_config: h.ssh_config.clone().or_else(|| d.ssh_config.clone()),
        proxy_jump: h.proxy_jump.clone().or_else(|| d.proxy_jump.clone()),
        toolstack: h.toolstack.or(d.toolstack),
        uri: h.uri.clone().or_else(|| d.uri.clone()),
        repository: h.repository.clone().or_else(|| d.repository.clone()),
        repositories: if h.repositories.is_empty() { d.repositories.clone() } else { h.repositories.clone() },
        reserved_cpus: h.reserved_cpus.clone().or_else(|| d.reserved_cpus.clone()),
        labels: d.labels.iter().chain(&h.labels).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

/// The checked SSH settings of one host.
pub(super) struct Ssh {
    pub algorithms: Algorithms,
    pub ssh_config: Option<PathBuf>,
    pub proxy_jump: Option<String>,
}

fn raw_alg(r: &RawHost, kind: algorithms::Kind) -> Option<&String> {
    match kind {
        algorithms::Kind::Kex => r.kex_algorithms.as_ref(),
        algorithms::Kind::HostKey => r.host_key_algorithms.as_ref(),
        algorithms::Kind::Ciphers => r.ciphers.as_ref(),
        algorithms::Kind::Macs => r.macs.as_ref(),
    }
}

/// Checks the algorithm lists and the openssh-only keys of `r` (the merged fields of `e`).
pub(super) fn connection(cx: &mut Ctx, e: &Entry<RawHost>, r: &RawHost, p: &dyn Fn(&str) -> String) -> Ssh {
    let transport = r.transport.unwrap_or_default();
    let mut algs = Algorithms::default();
    for kind in KINDS {
        let Some(spec) = raw_alg(r, kind) else { continue };
        let key = kind.key();
        let bad = spec.chars().find(|c| c.is_whitespace() && *c != ' ' || c.is_control());
        if let Some(c) = bad {
            cx.err(e, &[key], p(key), format!("`{}` contains {c:?}", spec.escape_debug()));
            continue;
        }
        // libssh2 decides what `ssh` can offer; the system ssh checks its own names.
        if transport == TransportKind::Ssh {
            if let Err(m) = algorithms::resolve(kind, Some(spec), &kind.supported()) {
                cx.err(e, &[key], p(key), m);
                continue;
            }
        } else if spec.trim().is_empty() || spec.contains(' ') {
            cx.err(e, &[key], p(key), format!("`{spec}`: write names separated by commas, no spaces"));
            continue;
        }
        let v = Some(spec.trim().to_string());
        match kind {
            algorithms::Kind::Kex => algs.kex = v,
            algorithms::Kind::HostKey => algs.host_key = v,
            algorithms::Kind::Ciphers => algs.ciphers = v,
            algorithms::Kind::Macs => algs.macs = v,
        }
    }
    let mut only_openssh = |key: &str, set: bool| {
        if set && transport != TransportKind::Openssh {
            cx.err(
                e,
                &[key],
                p(key),
                format!("`{key}` needs `transport: openssh` (the system ssh reads it); the built-in SSH cannot use it"),
            );
        }
    };
    only_openssh("ssh_config", r.ssh_config.is_some());
    only_openssh("proxy_jump", r.proxy_jump.is_some());
    if let Some(j) = &r.proxy_jump {
        if j.is_empty() || j.starts_with('-') || j.chars().any(|c| c.is_whitespace() || c.is_control()) {
            cx.err(
                e,
                &["proxy_jump"],
                p("proxy_jump"),
                format!("`{}` is not `[user@]host[:port][,...]`", j.escape_debug()),
            );
        }
    }
    Ssh { algorithms: algs, ssh_config: r.ssh_config.as_deref().map(expand_home), proxy_jump: r.proxy_jump.clone() }
}
