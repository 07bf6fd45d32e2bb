//! Secrets (VNC passwords): a value that cannot be printed by accident.
//!
//! The desired state only names where a secret comes from ([`SecretRef`]); the value is read at
//! the edge (before planning, so the pure planner can compare it with the host's, and again when
//! a plan is executed) and is carried in a [`Secret`] whose `Debug` prints `(redacted)`, so a
//! `{:?}` in a log or an error can never leak it. A plan holds only the reference, a
//! [`placeholder`] in the vm.cfg text, and the value's [`tag`]: a slow salted hash that tells
//! apply whether the value changed since the plan was made without the plan holding it.
//! Messages about a secret name the VM and the variable or file, never the value.

use std::fmt;

use sha2::{Digest, Sha256};

use super::SecretRef;

/// PBKDF2 rounds of a [`tag`]: guessing a password from a plan file costs this many HMACs a try.
const TAG_ROUNDS: u32 = 100_000;

/// A secret value. Only [`Secret::expose`] gives the text, for the one place that writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    tag: String,
}

impl Secret {
    /// Wraps a value (tests and the reader below), without a tag.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret { value: value.into(), tag: String::new() }
    }

    /// The same value with its [`tag`] for `src` on `host` computed (once, at the edge).
    pub fn tagged(self, src: &SecretRef, host: &str) -> Secret {
        let tag = tag(&self, src, host);
        Secret { tag, ..self }
    }

    /// The value, for writing it into vm.cfg.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The [`tag`] given by [`Secret::tagged`] (empty before).
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// What stands for a declared secret in planned vm.cfg text: `(secret: env VNC_PW)`,
/// `(secret: file /etc/domform/db01.vncpw)`. Characters that would end a `vfb` stanza item or a
/// quoted string (`,` `'` `"` `\`, blanks, controls) are shown as `_`: the text is for people;
/// the plan's `secrets` entry carries the exact source.
pub fn placeholder(src: &SecretRef) -> String {
    let (kind, name) = match src {
        SecretRef::Env(var) => ("env", var.clone()),
        SecretRef::File(path) => ("file", path.display().to_string()),
    };
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, ',' | '\'' | '"' | '\\') { c } else { '_' })
        .collect();
    format!("(secret: {kind} {safe})")
}

/// What stands for a password domform keeps from the host's vm.cfg (`plan::secrets`).
pub const KEPT: &str = "(secret: kept from host)";

/// True for text [`placeholder`] made, or [`KEPT`].
pub fn is_placeholder(text: &str) -> bool {
    text == KEPT || (["(secret: env ", "(secret: file "].iter().any(|p| text.starts_with(p)) && text.ends_with(')'))
}

/// The tag of a secret value read from `src` for `host`: PBKDF2-HMAC-SHA256 of the value, salted
/// with the host and the source, [`TAG_ROUNDS`] rounds, 16 bytes in hex. Stable (the same value
/// gives the same tag in `plan` and in `apply`), one-way, and slow to guess from.
pub fn tag(value: &Secret, src: &SecretRef, host: &str) -> String {
    let salt = format!("domform-secret-tag-v1\0{host}\0{}", describe(src));
    let block = pbkdf2_sha256(value.expose().as_bytes(), salt.as_bytes(), TAG_ROUNDS);
    block[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 with the key already absorbed: (inner, outer) hash states.
fn hmac_key(key: &[u8]) -> (Sha256, Sha256) {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    (Sha256::new_with_prefix(k.map(|b| b ^ 0x36)), Sha256::new_with_prefix(k.map(|b| b ^ 0x5c)))
}

fn hmac(key: &(Sha256, Sha256), msg: &[u8]) -> [u8; 32] {
    let inner = key.0.clone().chain_update(msg).finalize();
    key.1.clone().chain_update(inner).finalize().into()
}

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The compression state after one 64-byte block.
fn state_after(block: [u8; 64]) -> [u32; 8] {
    let mut st = SHA256_IV;
    sha2::compress256(&mut st, &[block.into()]);
    st
}

/// SHA-256 of (the block `st` absorbed, then `msg`): one padded block for a 32-byte message.
fn finish32(st: &[u32; 8], msg: &[u8; 32]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(msg);
    block[32] = 0x80;
    block[56..].copy_from_slice(&(96u64 * 8).to_be_bytes());
    let mut st = *st;
    sha2::compress256(&mut st, &[block.into()]);
    let mut out = [0u8; 32];
    out.chunks_exact_mut(4).zip(st).for_each(|(o, w)| o.copy_from_slice(&w.to_be_bytes()));
    out
}

/// The first 32-byte block of PBKDF2-HMAC-SHA256 (RFC 8018), all a tag needs. The rounds after
/// the first hash 32 bytes each, two compressions a round on precomputed key states (how
/// OpenSSL does it), so 100,000 rounds cost milliseconds.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let key = hmac_key(password);
    let mut u = hmac(&key, &[salt, &1u32.to_be_bytes()].concat());
    let mut k = [0u8; 64];
    if password.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(password));
    } else {
        k[..password.len()].copy_from_slice(password);
    }
    let (inner, outer) = (state_after(k.map(|b| b ^ 0x36)), state_after(k.map(|b| b ^ 0x5c)));
    let mut t = u;
    for _ in 1..rounds {
        u = finish32(&outer, &finish32(&inner, &u));
        t.iter_mut().zip(u).for_each(|(a, b)| *a ^= b);
    }
    t
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret((redacted))")
    }
}

/// Where a secret comes from, for messages (`environment variable `X``, `file /p`).
pub fn describe(src: &SecretRef) -> String {
    match src {
        SecretRef::Env(var) => format!("environment variable `{var}`"),
        SecretRef::File(path) => format!("file {}", path.display()),
    }
}

/// Reads a VNC password from its source. The error names the source, never the value.
///
/// A file gives its first line (without the line end). The value must be printable ASCII without
/// spaces, quotes, backslashes or commas: it is written inside a vm.cfg string and, for PV guests,
/// inside a `vfb` stanza where a comma ends it, and [`crate::render::plan::redact`] must find
/// its whole extent in host output.
pub fn read_vnc_password(src: &SecretRef) -> Result<Secret, String> {
    let what = describe(src);
    let value = match src {
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => return Err(format!("{what} is not set")),
            Err(std::env::VarError::NotUnicode(_)) => return Err(format!("{what} is not valid UTF-8")),
        },
        SecretRef::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => text.lines().next().unwrap_or_default().to_string(),
            Err(e) => return Err(format!("cannot read {what}: {}", e.kind())),
        },
    };
    check(&value).map_err(|why| format!("the VNC password in {what} {why}"))?;
    Ok(Secret::new(value))
}

fn check(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("is empty");
    }
    let bad = |c: char| !c.is_ascii_graphic() || matches!(c, '\'' | '"' | '\\' | ',' | '=');
    if value.chars().any(bad) {
        return Err("may only hold printable ASCII without spaces, quotes, backslashes, commas or `=`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("Pw-7f3a9");
        assert!(!format!("{s:?}").contains("Pw-7f3a9"));
        assert_eq!(s.expose(), "Pw-7f3a9");
    }

    #[test]
    fn file_first_line_and_errors_name_the_source_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pw");
        std::fs::write(&p, "Pw-7f3a9\nsecond line\n").expect("write");
        assert_eq!(read_vnc_password(&SecretRef::File(p.clone())).expect("reads").expose(), "Pw-7f3a9");
        std::fs::write(&p, "Pw 7f3a9\n").expect("write");
        let e = read_vnc_password(&SecretRef::File(p.clone())).expect_err("space");
        assert!(e.contains(&p.display().to_string()) && !e.contains("7f3a9"), "{e}");
        let e = read_vnc_password(&SecretRef::File(dir.path().join("missing"))).expect_err("missing");
        assert!(e.starts_with("cannot read file ") && e.contains("missing"), "{e}");
        let e = read_vnc_password(&SecretRef::Env("DOMFORM_TEST_SURELY_UNSET_VAR".into())).expect_err("unset");
        assert_eq!(e, "environment variable `DOMFORM_TEST_SURELY_UNSET_VAR` is not set");
    }

    #[test]
    fn pbkdf2_matches_rfc_7914_vectors() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(pbkdf2_sha256(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        assert_eq!(
            hex(pbkdf2_sha256(b"Password", b"NaCl", 80_000)),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    #[test]
    fn tag_is_stable_per_value_host_and_source_and_hides_the_value() {
        let env = SecretRef::Env("X".into());
        let t = tag(&Secret::new("Pw-7f3a9"), &env, "h1");
        // Python: hashlib.pbkdf2_hmac('sha256', b'Pw-7f3a9', salt, 100000, 16).hex()
        assert_eq!(t, "a2bbd8323246ce762a2afe60f97e7a80");
        assert_eq!(t, tag(&Secret::new("Pw-7f3a9"), &env, "h1"));
        assert_ne!(t, tag(&Secret::new("Pw-7f3a8"), &env, "h1"));
        assert_ne!(t, tag(&Secret::new("Pw-7f3a9"), &env, "h2"));
        assert_ne!(t, tag(&Secret::new("Pw-7f3a9"), &SecretRef::File("X".into()), "h1"));
        assert!(!t.contains("7f3a9"));
    }

    #[test]
    fn placeholders_name_the_source_and_fit_a_vfb_stanza() {
        assert_eq!(placeholder(&SecretRef::Env("VNC_PW".into())), "(secret: env VNC_PW)");
        let odd = placeholder(&SecretRef::File("/s/a b,c'd".into()));
        assert_eq!(odd, "(secret: file /s/a_b_c_d)");
        assert!(is_placeholder(&odd) && is_placeholder(KEPT) && !is_placeholder("Pw-7f3a9"));
        assert!(!is_placeholder("(secret: a host's own password)"));
    }
}
