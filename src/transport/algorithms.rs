//! SSH algorithm preferences: OpenSSH's `KexAlgorithms` / `HostKeyAlgorithms` / `Ciphers` /
//! `MACs` syntax and meaning, resolved into the lists domform offers.
//!
//! Why our own lists: libssh2 is built with its SHA-1 algorithms (Oracle VM 3.x servers speak
//! nothing newer, see `.cargo/config.toml`), and libssh2 would offer every algorithm it was built
//! with. domform instead offers what a current OpenSSH client offers, plus two additions so that
//! OVM 3.3/3.4 (OpenSSH 5.3) works with no settings: the `ssh-rsa` host-key signature (SHA-1;
//! the host key itself stays pinned in known_hosts) and the `hmac-sha1` MAC (HMAC does not rest
//! on SHA-1's collision resistance; OpenSSH 9 still offers it by default). The SHA-1 key
//! exchanges that OVM 3.0–3.2 (OpenSSH 4.3) need are never offered unless a host asks:
//! `kex_algorithms: "+diffie-hellman-group14-sha1"`.
//!
//! A value is a comma-separated list that replaces the defaults, `+list` appends to them,
//! `-list` removes from them (`*` and `?` wildcards allowed), `^list` puts them first, as in
//! ssh_config(5).

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Key exchange (`kex_algorithms`).
    Kex,
    /// Host-key signature types (`host_key_algorithms`).
    HostKey,
    /// Ciphers (`ciphers`).
    Ciphers,
    /// Message authentication codes (`macs`).
    Macs,
}

/// Every kind, in the order the YAML documents them.
pub const KINDS: [Kind; 4] = [Kind::Kex, Kind::HostKey, Kind::Ciphers, Kind::Macs];

const KEX: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
];

// Certificates are left out: the host key is checked against known_hosts lines, which a
// certificate never matches.
const HOST_KEY: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

const CIPHERS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
];

const MACS: &[&str] = &[
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1",
];

/// libssh2's key-exchange pseudo-algorithms (extension negotiation, strict kex against the
/// Terrapin attack): always offered, never user-visible.
pub const KEX_PSEUDO: &[&str] = &["ext-info-c", "kex-strict-c-v00@openssh.com"];

impl Kind {
    /// The YAML key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Kex => "kex_algorithms",
            Kind::HostKey => "host_key_algorithms",
            Kind::Ciphers => "ciphers",
            Kind::Macs => "macs",
        }
    }

    /// The ssh_config option with the same meaning (for `transport: openssh`).
    pub fn ssh_option(self) -> &'static str {
        match self {
            Kind::Kex => "KexAlgorithms",
            Kind::HostKey => "HostKeyAlgorithms",
            Kind::Ciphers => "Ciphers",
            Kind::Macs => "MACs",
        }
    }

    /// domform's default list, best first.
    pub fn defaults(self) -> &'static [&'static str] {
        match self {
            Kind::Kex => KEX,
            Kind::HostKey => HOST_KEY,
            Kind::Ciphers => CIPHERS,
            Kind::Macs => MACS,
        }
    }

    /// What the linked libssh2 can do (without the pseudo-algorithms).
    pub fn supported(self) -> Vec<String> {
        use ssh2::MethodType as M;
        let method = match self {
            Kind::Kex => M::Kex,
            Kind::HostKey => M::HostKey,
            Kind::Ciphers => M::CryptCs,
            Kind::Macs => M::MacCs,
        };
        let Ok(session) = ssh2::Session::new() else { return Vec::new() };
        session
            .supported_algs(method)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !KEX_PSEUDO.contains(a))
            .map(String::from)
            .collect()
    }
}

/// Algorithm settings of one host: the raw ssh_config-style values, `None` for the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// `kex_algorithms`.
    pub kex: Option<String>,
    /// `host_key_algorithms`.
    pub host_key: Option<String>,
    /// `ciphers`.
    pub ciphers: Option<String>,
    /// `macs`.
    pub macs: Option<String>,
}

impl Algorithms {
    /// The raw value for one kind.
    pub fn get(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::Kex => self.kex.as_deref(),
            Kind::HostKey => self.host_key.as_deref(),
            Kind::Ciphers => self.ciphers.as_deref(),
            Kind::Macs => self.macs.as_deref(),
        }
    }
}

/// Glob match with `*` and `?` (ssh_config patterns).
fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Resolves `spec` (or the defaults when `None`) against what `supported` holds. Defaults the
/// library lacks are skipped; a name the library lacks is an error naming what it has.
pub fn resolve(kind: Kind, spec: Option<&str>, supported: &[String]) -> Result<Vec<String>, String> {
    let defaults: Vec<String> =
        kind.defaults().iter().filter(|d| supported.iter().any(|s| s == *d)).map(|d| d.to_string()).collect();
    let Some(spec) = spec else { return Ok(defaults) };
    let spec = spec.trim();
    let (op, list) = match spec.chars().next() {
        Some(c @ ('+' | '-' | '^')) => (Some(c), &spec[1..]),
        _ => (None, spec),
    };
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(format!("`{spec}` has an empty name; write names separated by commas"));
    }
    for item in &items {
        let wild = item.contains(['*', '?']);
        if wild && op != Some('-') {
            return Err(format!("`{item}`: wildcards are allowed only in a `-` list"));
        }
        if !wild && !supported.iter().any(|s| s == item) {
            return Err(format!(
                "`{item}` is not a {} this domform can use; it has: {}",
                kind.key(),
                supported.join(", ")
            ));
        }
    }
    let out: Vec<String> = match op {
        None => {
            let mut v: Vec<String> = Vec::new();
            for i in items {
                if !v.iter().any(|x| x == i) {
                    v.push(i.to_string());
                }
            }
            v
        }
        Some('+') => {
            let mut v = defaults;
            for i in items {
                if !v.iter().any(|x| x == i) {
                    v.push(i.to_string());
                }
            }
            v
        }
        Some('^') => {
            let mut v: Vec<String> = Vec::new();
            for i in &items {
                if !v.iter().any(|x| x == i) {
                    v.push(i.to_string());
                }
            }
            v.extend(defaults.into_iter().filter(|d| !items.contains(&d.as_str())));
            v
        }
        Some(_) => defaults.into_iter().filter(|d| !items.iter().any(|p| matches(p, d))).collect(),
    };
    if out.is_empty() {
        return Err(format!("`{spec}` leaves no {} to offer", kind.key()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(kind: Kind) -> Vec<String> {
        kind.supported()
    }

    #[test]
    fn the_library_has_what_ovm_servers_need() {
        // Built with SHA-1 (.cargo/config.toml): without it OVM 3.x servers are unreachable.
        assert!(lib(Kind::HostKey).contains(&"ssh-rsa".to_string()));
        assert!(lib(Kind::Kex).contains(&"diffie-hellman-group14-sha1".to_string()));
        assert!(lib(Kind::Kex).contains(&"diffie-hellman-group-exchange-sha1".to_string()));
        assert!(lib(Kind::Macs).contains(&"hmac-sha1".to_string()));
        assert!(lib(Kind::Ciphers).contains(&"aes128-ctr".to_string()));
    }

    #[test]
    fn defaults_reach_ovm_3_3_but_offer_no_sha1_key_exchange() {
        let kex = resolve(Kind::Kex, None, &lib(Kind::Kex)).expect("kex");
        assert!(kex.contains(&"diffie-hellman-group-exchange-sha256".to_string()), "OpenSSH 5.3 has it");
        assert!(!kex.iter().any(|k| k.ends_with("sha1")), "{kex:?}");
        let hk = resolve(Kind::HostKey, None, &lib(Kind::HostKey)).expect("hk");
        assert_eq!(hk.last().map(String::as_str), Some("ssh-rsa"), "offered, but last");
        assert!(!hk.iter().any(|k| k.contains("cert")));
        let mac = resolve(Kind::Macs, None, &lib(Kind::Macs)).expect("mac");
        assert!(mac.contains(&"hmac-sha1".to_string()));
        assert!(!mac.iter().any(|m| m.contains("md5") || m.ends_with("-96")));
    }

    #[test]
    fn plus_appends_minus_removes_caret_prepends_plain_replaces() {
        let sup = lib(Kind::Kex);
        let plus = resolve(Kind::Kex, Some("+diffie-hellman-group14-sha1"), &sup).expect("plus");
        assert_eq!(plus.last().map(String::as_str), Some("diffie-hellman-group14-sha1"));
        assert_eq!(plus.len(), KEX.len() + 1);
        let minus = resolve(Kind::Kex, Some("-ecdh-*,curve25519-sha256@libssh.org"), &sup).expect("minus");
        assert!(!minus.iter().any(|k| k.starts_with("ecdh-") || k == "curve25519-sha256@libssh.org"), "{minus:?}");
        assert!(minus.contains(&"curve25519-sha256".to_string()));
        let caret = resolve(Kind::Kex, Some("^diffie-hellman-group14-sha256"), &sup).expect("caret");
        assert_eq!(caret[0], "diffie-hellman-group14-sha256");
        assert_eq!(caret.len(), KEX.len());
        let plain = resolve(Kind::Kex, Some("diffie-hellman-group14-sha1, diffie-hellman-group-exchange-sha1"), &sup)
            .expect("plain");
        assert_eq!(plain, vec!["diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1"]);
    }

    #[test]
    fn mistakes_are_errors() {
        let sup = lib(Kind::HostKey);
        let e = resolve(Kind::HostKey, Some("+ssh-rsaa"), &sup).expect_err("typo");
        assert!(e.contains("`ssh-rsaa` is not a host_key_algorithms") && e.contains("ssh-rsa"), "{e}");
        assert!(resolve(Kind::HostKey, Some("+"), &sup).is_err());
        assert!(resolve(Kind::HostKey, Some("ssh-*"), &sup).expect_err("wild").contains("wildcards"));
        assert!(resolve(Kind::HostKey, Some("-*"), &sup).expect_err("empty").contains("leaves no"));
        assert!(matches("ecdh-sha2-*", "ecdh-sha2-nistp256") && !matches("ecdh-?", "ecdh-ab"));
    }
}
