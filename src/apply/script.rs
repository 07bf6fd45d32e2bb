//! Plan ops → one shell script per host, with step markers.
//!
//! All of a host's changes run in one exec (the round trip is the unit of cost: creating 100
//! disks is one exec). Each change is a step between `<marker> step <id>` and `<marker> rc <n>`
//! lines, so a failure names its change and shows what the command printed; the first failing
//! step stops the host. Every value reaches the shell through [`quote`].
//!
//! The commands are the ones every supported dom0 has, down to Oracle Linux 5 (OVM 3.0-3.2:
//! bash 3.2, coreutils 5.97) and they parse under a POSIX sh (docs/hosts-userland.md): no
//! `truncate` (a sparse file is `dd … seek=SIZE count=0`), no `timeout` (a polling watchdog), and
//! a clone is tried with `cp --reflink=always`, then OCFS2's `reflink`, whichever the host has.

use crate::model::{Tool, Toolstack};
use crate::plan::paths::{guarded_chain, written_paths};
use crate::plan::{Change, Op};
use crate::target::libvirt::shell as libvirt_shell;
use crate::transport::limit::WATCHDOG_FNS;
use crate::transport::quote;

/// Sets the size of file `p` (quoted) to `size` bytes with `dd`, creating it sparse when missing:
/// `truncate -s` without `truncate` (coreutils 7.0; OL5 has 5.97). `dd` truncates to `seek` when
/// the file is larger, so callers guard against shrinking. dd's record counts are shown only when
/// it fails.
fn dd_size(p: &str, size: u64) -> String {
    format!(
        "{{ e=$(dd if=/dev/null of={p} bs=1 seek={size} count=0 2>&1) || {{ printf '%s\\n' \"$e\" >&2; false; }}; }}"
    )
}

/// `tool shutdown -w` under a watchdog (no `timeout`: coreutils 7.0). The shell polls the
/// background shutdown and sends it SIGTERM, as `timeout` would, once `secs` have passed; every
/// sleep is a foreground child, so nothing outlives the step. Fails when the shutdown failed or
/// was stopped. `date +%s` ticks in whole seconds: the limit is between `secs` and `secs`+1.
fn shutdown_watchdog(tool: &str, d: &str, secs: u64) -> String {
    format!(
        "{tool} shutdown -w {d} & p=$!; e=$(( $(date +%s) + {secs} )); \
while kill -0 \"$p\" 2>/dev/null; do if [ \"$(date +%s)\" -gt \"$e\" ]; then kill -TERM \"$p\" 2>/dev/null; break; fi; \
sleep 0.2 2>/dev/null || sleep 1; done; wait \"$p\""
    )
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".")
}

/// One op as a shell command group that succeeds or fails as a whole, preceded by the link
/// guard for the paths it writes.
pub fn op_to_shell(op: &Op, tool: &Tool) -> String {
    let body = op_body(op, tool);
    match link_guard(op) {
        Some(guard) => format!("{{ {guard} && {body}; }}"),
        None => body,
    }
}

/// A test, run on the host just before the op, that no component of a path it writes (from
/// the repository's `VirtualDisks/`, `VirtualMachines/` or `Snapshots/` folder down) is a
/// symbolic link: one may be planted between plan and apply (`plan::paths`).
pub fn link_guard(op: &Op) -> Option<String> {
    let mut chain: Vec<String> = Vec::new();
    for p in written_paths(op) {
        for c in guarded_chain(&p) {
            if !chain.contains(&c) {
                chain.push(c);
            }
        }
    }
    if chain.is_empty() {
        return None;
    }
    let list: Vec<String> = chain.iter().map(|p| quote(p)).collect();
    Some(format!(
        "{{ l=; for p in {}; do [ ! -L \"$p\" ] || l=$p; done; [ -z \"$l\" ] || {{ echo \"refusing to write through $l: it is a symbolic link (planted in the repository?)\" >&2; false; }}; }}",
        list.join(" ")
    ))
}

/// Written to a temp file made with `set -C` (never through one planted there), the old file
/// kept as `.domform-bak` when asked, then renamed over it.
fn write_file_shell(path: &str, content: &str, backup: bool) -> String {
    let p = quote(path);
    let bak = if backup {
        format!("{{ [ ! -e {p} ] || cp -p {p} {}; }} && ", quote(&format!("{path}.domform-bak")))
    } else {
        String::new()
    };
    format!(
        "{{ mkdir -p {dir} && t={p}.domform-tmp.$$ && printf '%s' {c} | (set -C; cat > \"$t\") && {bak}mv -f \"$t\" {p} || {{ rm -f \"$t\"; false; }}; }}",
        dir = quote(parent(path)),
        c = quote(content)
    )
}

/// A clean shutdown when the domain is running; after `timeout_secs`, `destroy` with `force`,
/// else a failure that says how to allow it.
fn shutdown_shell(tool: &str, domain: &str, timeout_secs: u64, force: bool) -> String {
    let d = quote(domain);
    let on_timeout = if force {
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
    format!(
        "{{ if {tool} list {d} >/dev/null 2>&1; then {{ {}; }} || {on_timeout}; fi; }}",
        shutdown_watchdog(tool, &d, timeout_secs)
    )
}

fn op_body(op: &Op, tl: &Tool) -> String {
    let tool = tl.cmd.as_str();
    match op {
        Op::CreateDisk { path, size } => {
            let p = quote(path);
            format!(
                "{{ if [ -e {p} ]; then echo {} >&2; false; else {} || {{ rm -f -- {p}; false; }}; fi; }}",
                quote(&format!("{path} already exists; not overwriting it")),
                dd_size(&p, *size)
            )
        }
        Op::GrowDisk { path, to, .. } => {
            let p = quote(path);
            format!(
                "{{ s=$(stat -c %s -- {p}) && if [ \"$s\" -gt {to} ]; then echo {p}\" is $s bytes, more than {to}; not shrinking it\" >&2; false; \
elif [ \"$s\" -lt {to} ]; then {}; fi; }}",
                dd_size(&p, *to)
            )
        }
        Op::WriteFile { path, secrets, .. } if !secrets.is_empty() => format!(
            "{{ echo {} >&2; false; }}",
            quote(&format!("{path}: the plan's secret references were not resolved; not writing it"))
        ),
        Op::WriteFile { path, content, backup, .. } => write_file_shell(path, content, *backup),
        Op::Xen { args } | Op::Virsh { args } => {
            let argv: Vec<String> = args.iter().map(|a| quote(a)).collect();
            format!("{tool} {}", argv.join(" "))
        }
        Op::Shutdown { domain, timeout_secs, force } if tl.toolstack == Toolstack::Libvirt => {
            crate::target::libvirt::shell::shutdown(tool, domain, *timeout_secs, *force)
        }
        Op::Shutdown { domain, timeout_secs, force } => shutdown_shell(tool, domain, *timeout_secs, *force),
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
        Op::Snapshot { .. } => snapshot_op(op, tool),
        Op::Revert { dir, cfg_path, disks, domain: None } => revert_shell(disks, ":", &restore_cfg(dir, cfg_path)),
        Op::Revert { dir, disks, domain: Some(d), .. } => revert_shell(
            disks,
            &libvirt_shell::check_definition(tool, dir, d),
            &libvirt_shell::define_from(tool, dir, d),
        ),
        Op::DeleteSnapshot { dir } => {
            let d = quote(dir);
            format!("{{ [ -f {d}/manifest ] && grep -qx 'made_by=domform' {d}/manifest && rm -rf -- {d}; }}")
        }
        Op::ReplaceFile { path, content } => crate::target::manager::shell::replace_file(path, content),
        Op::RunCommand { command } => crate::target::manager::shell::run_command(command),
        Op::OrElse { first, on_failure } => {
            let undo: Vec<String> = on_failure.iter().map(|o| op_to_shell(o, tl)).collect();
            format!(
                "{{ {} || {{ r=$?; echo 'failed; putting things back as they were' >&2; {}; (exit $r); }}; }}",
                op_to_shell(first, tl),
                if undo.is_empty() { ":".to_string() } else { undo.join("; ") }
            )
        }
    }
}

/// A `snapshot` op: a Xen VM's ([`snapshot_shell`]) or a libvirt domain's.
fn snapshot_op(op: &Op, tool: &str) -> String {
    let Op::Snapshot { parent, name, vm, cfg_path, disks, pause, memory, allow_full_copy, running, domain } = op else {
        return "false".into(); // only called with a snapshot op
    };
    let sp = SnapshotSpec {
        tool,
        parent,
        name: name.as_deref(),
        vm,
        disks,
        pause: pause.as_deref(),
        memory: memory.as_deref(),
        allow_full: *allow_full_copy,
        running: *running,
    };
    match domain {
        Some(d) => libvirt_shell::snapshot(&sp, d),
        None => snapshot_shell(&sp, cfg_path),
    }
}

/// The name a disk gets inside a snapshot folder.
pub fn snapshot_file(index: usize, path: &str) -> String {
    format!("disks/{index:02}-{}", path.rsplit('/').next().unwrap_or("disk"))
}

/// Shell helper defined once per script: `cl SRC DST FULL` makes DST a copy-on-write clone of
/// SRC, a full sparse copy only when FULL is 1, and never writes into something already at DST
/// (a dangling link planted there included: `[ -e ]` is false for one, so `[ -L ]` too).
/// Clones are tried, not assumed: `cp --reflink=always` (coreutils 8.x on a kernel whose file
/// system has FICLONE: XFS, OCFS2 from Linux 4.10), then ocfs2-tools' `reflink` (OCFS2 on OVM's
/// UEK kernels; coreutils 5.97 on OL5 has no `--reflink`, and OL6's UEK4 OCFS2 no FICLONE).
/// A failed attempt may leave an empty DST (coreutils 8.4 does): it is removed before the next.
pub const CLONE_FN: &str = "cl() { [ ! -e \"$2\" ] && [ ! -L \"$2\" ] || { echo \"$2 is in the way\" >&2; return 1; }; \
if cp --reflink=always -T -- \"$1\" \"$2\" 2>/dev/null; then return 0; fi; rm -f -- \"$2\"; \
if command -v reflink >/dev/null 2>&1 && reflink \"$1\" \"$2\" 2>/dev/null; then return 0; fi; rm -f -- \"$2\"; \
if [ \"$3\" = 1 ]; then cp --sparse=always -T -- \"$1\" \"$2\"; return; fi; \
echo \"cannot reflink $1: its file system does not support reflinks (OCFS2 and XFS with reflink=1 do); set snapshots.allow_full_copy: true to allow a full sparse copy\" >&2; return 1; }\n";

/// What one `snapshot` op does, rendered by `snapshot_shell` (Xen) or
/// `target::libvirt::shell::snapshot` (libvirt).
pub struct SnapshotSpec<'a> {
    /// The toolstack command (`xm`, `virsh -c 'URI'`).
    pub tool: &'a str,
    /// `<repo>/Snapshots/<vm>`.
    pub parent: &'a str,
    /// Snapshot name (`None`: `auto-<UTC time>`).
    pub name: Option<&'a str>,
    /// VM simple name.
    pub vm: &'a str,
    /// Disk files.
    pub disks: &'a [String],
    /// Domain to pause.
    pub pause: Option<&'a str>,
    /// Domain whose memory to save.
    pub memory: Option<&'a str>,
    /// A full sparse copy is allowed.
    pub allow_full: bool,
    /// The VM was running.
    pub running: bool,
}

impl SnapshotSpec<'_> {
    /// `cl` of every disk into `"$t"/disks/NN-<file>`.
    pub fn clones(&self) -> Vec<String> {
        let full = if self.allow_full { "1" } else { "0" };
        self.disks
            .iter()
            .enumerate()
            .map(|(i, d)| format!("cl {} \"$t\"/{} {full}", quote(d), quote(&snapshot_file(i, d))))
            .collect()
    }

    /// The manifest's lines, each a shell word; `def` says what holds the definition
    /// (`cfg=<vm.cfg>` or `domain=<name>`).
    pub fn manifest(&self, def: &str) -> Vec<String> {
        let mut m = vec![
            quote("format=1"),
            quote("made_by=domform"),
            quote(&format!("vm={}", self.vm)),
            "\"name=$n\"".to_string(),
            "\"created=$(date -u +%Y-%m-%dT%H:%M:%SZ)\"".to_string(),
            quote(&format!("running={}", self.running)),
            quote(def),
        ];
        if self.memory.is_some() {
            m.push(quote("memory=memory.save"));
        }
        for (i, d) in self.disks.iter().enumerate() {
            m.push(format!(
                "{}\"$(stat -c %s -- {})\"",
                quote(&format!("disk={d}|{}|", snapshot_file(i, d))),
                quote(d)
            ));
        }
        m
    }

    /// The frame around a snapshot: the folder built as `<name>.domform-tmp` and renamed when
    /// complete; `prep` runs first, then `pause` (which sets `rc` on failure), the `copies` when
    /// it worked, `unpause` always, then the manifest. A failed snapshot's temp folder is removed.
    /// `s` is for the copies to note a memory save (`target::libvirt::shell::snapshot`).
    pub fn frame(&self, prep: &str, pause: &str, copies: &[String], unpause: &str, manifest: &[String]) -> String {
        let n = match self.name {
            Some(n) => quote(n),
            None => "auto-$(date -u +%Y%m%dT%H%M%SZ)".into(),
        };
        format!(
            "{{ n={n}; d={p}/\"$n\"; t=\"$d.domform-tmp\"; rc=0; s=0; \
if [ -e \"$d\" ]; then echo \"snapshot $d already exists\" >&2; false; else \
{{ [ ! -L \"$t\" ] || {{ echo \"$t is a symbolic link\" >&2; false; }}; }} && rm -rf -- \"$t\" && \
mkdir -p -- {p} && mkdir -- \"$t\" \"$t/disks\" && {prep} && {{ {pause}; \
if [ $rc -eq 0 ]; then {{ {copies}; }} || rc=$?; fi; \
{unpause}; \
if [ $rc -eq 0 ]; then {{ printf '%s\\n' {manifest} > \"$t/manifest\" && mv -T -- \"$t\" \"$d\"; }} || rc=$?; fi; \
[ $rc -eq 0 ] || rm -rf -- \"$t\"; echo \"snapshot $d\"; [ $rc -eq 0 ]; }}; fi; }}",
            p = quote(self.parent),
            copies = copies.join(" && "),
            manifest = manifest.join(" ")
        )
    }
}

/// A Xen VM's snapshot: its disks and vm.cfg, `xm save -c` for memory, paused around the copies.
fn snapshot_shell(sp: &SnapshotSpec<'_>, cfg_path: &str) -> String {
    let tool = sp.tool;
    let mut copies = sp.clones();
    copies.push(format!("cp -p -- {} \"$t/vm.cfg\"", quote(cfg_path)));
    if let Some(m) = sp.memory {
        copies.push(format!("{tool} save -c {} \"$t/memory.save\"", quote(m)));
    }
    let (pause_cmd, unpause_cmd) = match sp.pause {
        Some(d) => (
            format!("{tool} pause {} || rc=$?", quote(d)),
            format!("{tool} unpause {} || {{ [ \"$rc\" -ne 0 ] || rc=1; }}", quote(d)),
        ),
        None => (":".into(), ":".into()),
    };
    sp.frame(":", &pause_cmd, &copies, &unpause_cmd, &sp.manifest(&format!("cfg={cfg_path}")))
}

/// After `check`, every disk cloned to a temp name next to it; only when all clones worked are
/// they renamed over the originals, then `define` puts the definition back (vm.cfg copied, or
/// `virsh define`).
fn revert_shell(disks: &[(String, String)], check: &str, define: &str) -> String {
    let tmp = |orig: &str| quote(&format!("{orig}.domform-revert"));
    let clones: Vec<String> = disks.iter().map(|(snap, orig)| format!("cl {} {} 0", quote(snap), tmp(orig))).collect();
    let cleanup: Vec<String> =
        disks.iter().map(|(_, orig)| format!("{{ [ ! -f {t} ] || rm -f -- {t}; }}", t = tmp(orig))).collect();
    let renames: Vec<String> =
        disks.iter().map(|(_, orig)| format!("mv -f -T -- {} {}", tmp(orig), quote(orig))).collect();
    format!(
        "{{ if {check} && {clones}; then {renames} && {define}; \
else {cleanup}; echo 'revert stopped before touching any original disk' >&2; false; fi; }}",
        clones = clones.join(" && "),
        renames = renames.join(" && "),
        cleanup = cleanup.join("; "),
    )
}

/// A Xen revert's definition step: the snapshot's vm.cfg copied over the VM's, atomically.
fn restore_cfg(dir: &str, cfg_path: &str) -> String {
    let cfg_tmp = quote(&format!("{cfg_path}.domform-revert"));
    format!(
        "cp -p -- {snapcfg} {cfg_tmp} && mv -f -T -- {cfg_tmp} {cfg}",
        snapcfg = quote(&format!("{dir}/vm.cfg")),
        cfg = quote(cfg_path)
    )
}

/// The batch script for a host's changes (no time limits).
pub fn build(changes: &[Change], tool: &Tool, marker: &str) -> String {
    build_limited(changes, tool, marker, |_| None)
}

/// The batch script; `host_secs(change)` is how long the host-side watchdog lets that step run
/// ([`crate::transport::limit`]). When it fires, the whole script is ended (later steps never
/// run) and a `<marker> timeout` line says so.
pub fn build_limited(
    changes: &[Change],
    tool: &Tool,
    marker: &str,
    host_secs: impl Fn(&Change) -> Option<u64>,
) -> String {
    let mut s = format!("M={}\nLC_ALL=C; export LC_ALL\n{CLONE_FN}{WATCHDOG_FNS}", quote(marker));
    s.push_str("trap 'printf \"\\n%s timeout\\n\" \"$M\"; exit 124' TERM\n");
    for c in changes {
        let ops: Vec<String> = c.ops.iter().map(|o| op_to_shell(o, tool)).collect();
        let body = if ops.is_empty() { "true".to_string() } else { ops.join(" &&\n  ") };
        let (start, stop) = match host_secs(c) {
            Some(secs) => (format!("dfw_start {secs}\n"), "; dfw_stop"),
            None => (String::new(), ""),
        };
        s.push_str(&format!(
            "printf '%s step %s\\n' \"$M\" {id}\n{start}( {body} ) 2>&1; r=$?{stop}\nprintf '\\n%s rc %s\\n' \"$M\" \"$r\"\n[ \"$r\" -eq 0 ] || exit 1\n",
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
        let op = Op::WriteFile { path: path.clone(), content: content.into(), backup: true, secrets: Vec::new() };
        let mut t = LocalTransport::new("here");
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read_to_string(&path).expect("written"), content);
        assert!(!std::path::Path::new("/tmp/domform-pwned-apply").exists());
    }

    #[test]
    fn replace_file_keeps_mode_and_backup() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = format!("{}/OVMDS-jdbc.xml", dir.path().display());
        std::fs::write(&path, "<old/>\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let op = Op::ReplaceFile { path: path.clone(), content: "<new a='$(x)'/>\n".into() };
        let mut t = LocalTransport::new("here");
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "<new a='$(x)'/>\n");
        assert_eq!(std::fs::read_to_string(format!("{path}.domform-bak")).expect("bak"), "<old/>\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let gone = Op::ReplaceFile { path: format!("{path}.nope"), content: "x".into() };
        let out = t.exec(&op_to_shell(&gone, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(out.status, 0);
        assert!(!std::path::Path::new(&format!("{path}.nope")).exists());
    }

    #[test]
    fn run_command_does_not_wait_for_daemons_it_starts() {
        let op = Op::RunCommand { command: "sleep 12 & echo started".into() };
        let mut t = LocalTransport::new("here");
        let start = std::time::Instant::now();
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_eq!(out.status, 0);
        assert!(out.stdout_text().contains("started"));
        assert!(start.elapsed() < std::time::Duration::from_secs(8), "waited for the background child");
        let fail = Op::RunCommand { command: "echo nope; exit 3".into() };
        let out = t.exec(&op_to_shell(&fail, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(out.status, 0);
        assert!(out.stdout_text().contains("nope"));
    }

    #[test]
    fn create_disk_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = format!("{}/d.img", dir.path().display());
        let op = Op::CreateDisk { path: path.clone(), size: 1 << 30 };
        let mut t = LocalTransport::new("here");
        assert_eq!(t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs").status, 0);
        let meta = std::fs::metadata(&path).expect("made");
        assert_eq!(meta.len(), 1 << 30);
        let again = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(again.status, 0);
        assert!(again.stderr_text().contains("already exists"));
    }

    #[test]
    fn a_link_planted_in_the_repository_is_refused_on_the_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        let disks = format!("{root}/R/VirtualDisks");
        std::fs::create_dir_all(&disks).expect("mkdir");
        std::fs::create_dir_all(format!("{root}/outside")).expect("mkdir");
        // Dangling: `[ -e ]` is false for it, so a plain existence test would follow it.
        let evil = format!("{root}/outside/evil.img");
        std::os::unix::fs::symlink(&evil, format!("{disks}/web01_system.img")).expect("symlink");
        let mut t = LocalTransport::new("here");
        let op = Op::CreateDisk { path: format!("{disks}/web01_system.img"), size: 1 << 20 };
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(out.status, 0);
        assert!(out.stderr_text().contains("symbolic link"), "{}", out.stderr_text());
        assert!(!std::path::Path::new(&evil).exists(), "the disk was created through the link");
        // A planted backup name would make `cp -p vm.cfg vm.cfg.domform-bak` write elsewhere.
        let vmdir = format!("{root}/R/VirtualMachines/x");
        std::fs::create_dir_all(&vmdir).expect("mkdir");
        std::fs::write(format!("{vmdir}/vm.cfg"), "name = 'x'\n").expect("cfg");
        let victim = format!("{root}/outside/victim");
        std::fs::write(&victim, "precious\n").expect("victim");
        std::os::unix::fs::symlink(&victim, format!("{vmdir}/vm.cfg.domform-bak")).expect("symlink");
        let op = Op::WriteFile {
            path: format!("{vmdir}/vm.cfg"),
            content: "name = 'y'\n".into(),
            backup: true,
            secrets: Vec::new(),
        };
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(out.status, 0);
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n");
        // A linked folder on the way (VirtualMachines/x → elsewhere) is refused too.
        std::fs::remove_file(format!("{vmdir}/vm.cfg.domform-bak")).expect("rm");
        std::fs::create_dir_all(format!("{root}/outside/vm")).expect("mkdir");
        std::os::unix::fs::symlink(format!("{root}/outside/vm"), format!("{root}/R/VirtualMachines/y"))
            .expect("symlink");
        let op = Op::WriteFile {
            path: format!("{root}/R/VirtualMachines/y/vm.cfg"),
            content: "x".into(),
            backup: false,
            secrets: Vec::new(),
        };
        let out = t.exec(&op_to_shell(&op, &Tool::xen(Toolstack::Xm)), &[]).expect("runs");
        assert_ne!(out.status, 0);
        assert!(!std::path::Path::new(&format!("{root}/outside/vm/vm.cfg")).exists());
    }
}
