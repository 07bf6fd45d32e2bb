//! The one function that quotes values for the remote shell.
//!
//! Every value that reaches a shell (VM names, paths, CPU sets, sizes) goes through [`quote`],
//! so a name like `a;rm -rf /` can only ever be an argument, never a command. Values are
//! single-quoted for POSIX `sh`; a single quote inside becomes `'\''`.

/// Quotes one argument for `sh`. Safe words are left bare for readable logs.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if safe {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quotes each argument and joins them with spaces: a command line.
pub fn command<S: AsRef<str>>(args: &[S]) -> String {
    args.iter().map(|a| quote(a.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn safe_words_stay_bare() {
        assert_eq!(quote("xm"), "xm");
        assert_eq!(quote("/OVS/Repositories/x/vm.cfg"), "/OVS/Repositories/x/vm.cfg");
        assert_eq!(quote("4-7,^5"), "'4-7,^5'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn hostile_values_come_back_unchanged_through_a_real_shell() {
        let hostile = [
            "a;rm -rf /",
            "$(touch /tmp/domform-pwned)",
            "`id`",
            "it's",
            "''",
            "a\nb",
            "tab\there",
            "back\\slash",
            "ünïcödé",
            "*",
            "-rf",
            "\"double\"",
            "x'; echo pwned; '",
            "DB Server 01",
            "/OVS/Repositories/r/VirtualDisks/DB Server 01_system.img",
            " leading and trailing ",
        ];
        for h in hostile {
            let out = Command::new("sh").arg("-c").arg(format!("printf %s {}", quote(h))).output().expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), h, "round trip of {h:?}");
        }
        assert!(!std::path::Path::new("/tmp/domform-pwned").exists());
    }

    #[test]
    fn command_joins_quoted_arguments() {
        assert_eq!(command(&["xm", "vcpu-pin", "my vm", "all", "4-7"]), "xm vcpu-pin 'my vm' all 4-7");
    }
}
