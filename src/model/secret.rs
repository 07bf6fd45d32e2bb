//! Secrets (VNC passwords): a value that cannot be printed by accident.
//!
//! The desired state only names where a secret comes from ([`SecretRef`]); the value is read at
//! the edge, by the command line before planning (the planner is pure and does no I/O), and is
//! carried in a [`Secret`] whose `Debug` prints `(redacted)`, so a `{:?}` in a log or an error
//! can never leak it. Messages about a secret name the VM and the variable or file, never the
//! value.

use std::fmt;

use super::SecretRef;

/// A secret value. Only [`Secret::expose`] gives the text, for the one place that writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (tests and the reader below).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for writing it into vm.cfg.
    pub fn expose(&self) -> &str {
        &self.0
    }
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
/// its whole extent.
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
    Ok(Secret(value))
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
}
