//! Plan ops → one shell script per host, with step markers.
//!
//! All of a host's changes run in one exec (the round trip is the unit of cost: creating 100
//! disks is one exec). Each change is a step between `<marker> step <id>` and `<marker> rc <n>`
//! lines, so a failure names its change and shows what the command printed; the first failing
//! step stops the host. Every value reaches the shell through [`quote`].

use crate::model::Toolstack;
use crate::plan::{Change, Op};
use crate::transport::quote;

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".")
}

/// One op as a shell command group that succeeds or fails as a whole.
pub fn op_to_shell(op: &Op, toolstack: Toolstack) -> String {
    let tool = match toolstack {
        Toolstack::Xm => "xm",
        Toolstack::Xl => "xl",
    };
    match op {
        Op::CreateDisk { path, size } => {
            let p = quote(path);
            format!(
                "{{ if [ -e {p} ]; then echo {} >&2; false; else truncate -s {size} {p}; fi; }}",
                quote(&format!("{path} already exists; not overwriting it"))
            )
        }
        Op::GrowDisk { path, to, .. } => {
            let p = quote(path);
            format!("{{ s=$(stat -c %s {p}) && [ \"$s\" -le {to} ] && truncate -s {to} {p}; }}")
        }
        Op::WriteFile { path, content, backup } => {
            let p = quote(path);
            let bak = if *backup {
                format!("{{ [ ! -e {p} ] || cp -p {p} {}; }} && ", quote(&format!("{path}.domform-bak")))
            } else {
                String::new()
            };
            format!(
                "{{ mkdir -p {dir} && t={p}.domform-tmp.$$ && printf '%s' {c} > \"$t\" && {bak}mv -f \"$t\" {p} || {{ rm -f \"$t\"; false; }}; }}",
                dir = quote(parent(path)),
                c = quote(content)
            )
        }
        Op::Xen { args } => {
            let argv: Vec<String> = args.iter().map(|a| quote(a)).collect();
            format!("{tool} {}", argv.join(" "))
        }
        Op::Shutdown { domain, timeout_secs, force } => {
            let d = quote(domain);
            let on_timeout = if *force {
                format!(
                    "{{ echo {}; {tool} destroy {d}; }}",
                    quote(&format!("{domain} did not stop cleanly within {timeout_secs}s; destroying it (force_stop)"))
                )
            } else {
                format!(
                    "{{ echo {} >&2; false; }}",
                    quote(&format!("{domain} did not stop within {timeout_secs}s; set `force_stop: true` to power it off after the timeout"))
                )
            };
            format!("{{ if {tool} list {d} >/dev/null 2>&1; then timeout {timeout_secs} {tool} shutdown -w {d} || {on_timeout}; fi; }}")
        }
        Op::RemoveVmDir { dir } => {
            let repo = parent(parent(dir));
            let name = dir.rsplit('/').next().unwrap_or("vm");
            let trash = format!("{repo}/.domform-trash");
            format!(
                "{{ mkdir -p {t} && mv -- {d} {t}/{n}.$(date +%Y%m%d%H%M%S); }}",
                t = quote(&trash),
                d = quote(dir),
                n = quote(name)
            )
        }
        Op::DeleteFile { path } => format!("rm -f -- {}", quote(path)),
    }
}

/// The batch script for a host's changes.
pub fn build(changes: &[Change], toolstack: Toolstack, marker: &str) -> String {
    let mut s = format!("M={}\nLC_ALL=C; export LC_ALL\n", quote(marker));
    for c in changes {
        let ops: Vec<String> = c.ops.iter().map(|o| op_to_shell(o, toolstack)).collect();
        let body = if ops.is_empty() { "true".to_string() } else { ops.join(" &&\n  ") };
        s.push_str(&format!(
            "printf '%s step %s\\n' \"$M\" {id}\n( {body} ) 2>&1; r=$?\nprintf '\\n%s rc %s\\n' \"$M\" \"$r\"\n[ \"$r\" -eq 0 ] || exit 1\n",
            id = quote(&c.id)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;
    use crate::transport::Transport;

    #[test]
    fn hostile_content_is_written_verbatim_and_never_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = format!("{}/vm dir/vm.cfg", dir.path().display());
        let content = "name = 'x'\n# $(touch /tmp/domform-pwned-apply) `id` ; rm -rf / 'quoted'\n";
        let op = Op::WriteFile { path: path.clone(), content: content.into(), backup: true };
        let mut t = LocalTransport::new("here");
        let out = t.exec(&op_to_shell(&op, Toolstack::Xm), &[]).expect("runs");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read_to_string(&path).expect("written"), content);
        assert!(!std::path::Path::new("/tmp/domform-pwned-apply").exists());
    }

    #[test]
    fn create_disk_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = format!("{}/d.img", dir.path().display());
        let op = Op::CreateDisk { path: path.clone(), size: 1 << 30 };
        let mut t = LocalTransport::new("here");
        assert_eq!(t.exec(&op_to_shell(&op, Toolstack::Xm), &[]).expect("runs").status, 0);
        let meta = std::fs::metadata(&path).expect("made");
        assert_eq!(meta.len(), 1 << 30);
        let again = t.exec(&op_to_shell(&op, Toolstack::Xm), &[]).expect("runs");
        assert_ne!(again.status, 0);
        assert!(again.stderr_text().contains("already exists"));
    }
}
