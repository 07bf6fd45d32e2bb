//! Command-line plumbing shared by all sub-commands: xm-style errors,
//! usage texts and getopt-like option parsing.
//!
//! xm is a Python program using `getopt.gnu_getopt` and an `arg_check`
//! helper; domform (and humans) see their exact messages, e.g.
//! `Error: 'xm vcpu-pin' requires 3 arguments.` on stderr with the usage on
//! stdout, or `Error: option -z not recognized`, so they are reproduced here.

use std::fmt::Display;

/// A failed command (exit status 1): the text for stderr, and text for
/// stdout (xm prints usage help there after a usage error).
#[derive(Debug)]
pub struct Fail(pub String, pub String);

pub type CmdResult = Result<(), Fail>;

/// `Error: <msg>`, as xm's `err()` prints it.
pub fn error(msg: impl Display) -> Fail {
    Fail(format!("Error: {msg}"), String::new())
}

/// xend's XendInvalidDomain text.
pub fn no_domain(spec: &str) -> Fail {
    error(format!("Domain '{spec}' does not exist."))
}

/// Synopses for usage errors and `help`: (command, synopsis, description).
const USAGE: &[(&str, &str, &str)] = &[
    ("console", "[-q|--quiet] <Domain>", "Attach to <Domain>'s console."),
    ("create", "<ConfigFile> [options] [vars]", "Create a domain based on <ConfigFile>."),
    ("destroy", "<Domain>", "Terminate a domain immediately."),
    ("domid", "<DomainName>", "Convert a domain name to domain id."),
    ("domname", "<DomId>", "Convert a domain id to domain name."),
    ("domstate", "<Domain>", "Get the state of a domain."),
    ("info", "[-c|--config] [-n|--numa]", "Get information about Xen host."),
    ("list", "[options] [Domain, ...]", "List information about all/some domains."),
    ("mem-max", "<Domain> <Mem>", "Set the maximum amount reservation for a domain."),
    ("mem-set", "<Domain> <Mem>", "Set the current memory usage for a domain."),
    ("pause", "<Domain>", "Pause execution of a domain."),
    ("reboot", "<Domain> [-wa]", "Reboot a domain."),
    ("restore", "<CheckpointFile> [-p]", "Restore a domain from a saved state."),
    ("save", "[-c|-f] <Domain> <CheckpointFile>", "Save a domain state to restore later."),
    ("sched-credit", "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]", "Get/set credit scheduler parameters."),
    ("shutdown", "<Domain> [-waRH]", "Shutdown a domain."),
    ("unpause", "<Domain>", "Unpause a paused domain."),
    ("uptime", "[-s] [Domain, ...]", "Print uptime for all/some domains."),
    ("vcpu-list", "[Domain, ...]", "List the VCPUs for all/some domains."),
    ("vcpu-pin", "<Domain> <VCPU|all> <CPUs|all>", "Set which CPUs a VCPU can use."),
    ("vcpu-set", "<Domain> <vCPUs>", "Set the number of active VCPUs for allowed for the domain."),
    ("block-attach", "<Domain> <BackDev> <FrontDev> <Mode> [BackDomain]", "Create a new virtual block device."),
    ("block-detach", "<Domain> <DevId> [-f|--force]", "Destroy a domain's virtual block device."),
    ("block-list", "<Domain> [--long]", "List virtual block devices for a domain."),
];

pub fn usage_of(prog: &str, cmd: &str) -> String {
    match USAGE.iter().find(|(c, _, _)| *c == cmd) {
        Some((c, syn, desc)) => format!("Usage: {prog} {c} {syn}\n\n{desc}\n"),
        None => format!("Usage: {prog} {cmd}\n"),
    }
}

/// `Error: 'xm <cmd>' requires N argument(s).` plus the usage text.
pub fn wrong_args(prog: &str, cmd: &str, lo: usize, hi: usize) -> Fail {
    let head = if lo == hi {
        format!("'{prog} {cmd}' requires {lo} argument{}.", if lo == 1 { "" } else { "s" })
    } else {
        format!("'{prog} {cmd}' requires between {lo} and {hi} arguments.")
    };
    // err() adds a newline after the message's own; usage goes to stdout.
    Fail(format!("Error: {head}\n\n"), usage_of(prog, cmd))
}

pub fn short_help(prog: &str) -> String {
    let mut s = format!("Usage: {prog} <subcommand> [args]\n\nControl, list, and manipulate Xen guest instances.\n\n");
    for (c, _, desc) in USAGE {
        s.push_str(&format!(" {c:<15} {desc}\n"));
    }
    s
}

/// Parsed command-line options of one sub-command.
#[derive(Debug, Default)]
pub struct Opts {
    pub flags: Vec<&'static str>,
    pub values: Vec<(&'static str, String)>,
    pub pos: Vec<String>,
}

impl Opts {
    pub fn has(&self, long: &str) -> bool {
        self.flags.contains(&long) || self.values.iter().any(|(k, _)| *k == long)
    }
    pub fn value(&self, long: &str) -> Option<&str> {
        self.values.iter().rev().find(|(k, _)| *k == long).map(|(_, v)| v.as_str())
    }
}

/// getopt-style parsing: `spec` is (short, long, takes_value). Options may
/// appear anywhere (xm uses gnu_getopt); `--` ends them.
pub fn parse_opts(args: &[String], spec: &[(char, &'static str, bool)]) -> Result<Opts, Fail> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            o.pos.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(&(_, l, takes)) = spec.iter().find(|(_, l, _)| *l == name) else {
                return Err(error(format!("option --{name} not recognized")));
            };
            if takes {
                let v = match inline {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(error(format!("option --{name} requires argument"))),
                };
                o.values.push((l, v));
            } else {
                o.flags.push(l);
            }
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let Some(&(_, l, takes)) = spec.iter().find(|(s, _, _)| *s == c) else {
                    return Err(error(format!("option -{c} not recognized")));
                };
                if takes {
                    let rest: String = chars[j..].iter().collect();
                    let v = if !rest.is_empty() {
                        rest
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(error(format!("option -{c} requires argument")));
                    };
                    o.values.push((l, v));
                    break;
                }
                o.flags.push(l);
            }
        } else {
            o.pos.push(a.clone());
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopt_like() {
        let spec = [('w', "wait", false), ('a', "all", false), ('d', "domain", true)];
        let o = parse_opts(&args(&["x", "-wa", "--domain=d1", "y"]), &spec).unwrap();
        assert!(o.has("wait") && o.has("all"));
        assert_eq!(o.value("domain"), Some("d1"));
        assert_eq!(o.pos, vec!["x", "y"]);
        let o = parse_opts(&args(&["-dfoo", "--", "-w"]), &spec).unwrap();
        assert_eq!(o.value("domain"), Some("foo"));
        assert_eq!(o.pos, vec!["-w"]);
        assert_eq!(parse_opts(&args(&["-z"]), &spec).unwrap_err().0, "Error: option -z not recognized");
        assert!(parse_opts(&args(&["--domain"]), &spec).is_err());
        assert!(parse_opts(&args(&["-é"]), &spec).is_err());
    }

    #[test]
    fn usage_errors() {
        let f = wrong_args("xm", "destroy", 1, 1);
        assert_eq!(f.0, "Error: 'xm destroy' requires 1 argument.\n\n");
        assert!(f.1.starts_with("Usage: xm destroy <Domain>\n"));
    }
}
