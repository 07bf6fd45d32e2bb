//! The one script that reads a whole host in one exec.
//!
//! The SSH exec is the unit of cost (~80 ms each on a LAN, whatever it runs), so observing a
//! host is a single generated script that prints every fact the planner needs in delimited
//! sections: `<marker> <kind> <arg>` … `<marker> rc <status>`. The marker carries a random
//! nonce so no vm.cfg content can fake a section boundary. Only read-only commands appear here.

use std::hash::{BuildHasher, Hasher};

use crate::model::Toolstack;
use crate::transport::limit::WATCHDOG_FNS;
use crate::transport::quote;

/// A fresh random marker for one observe run.
pub fn new_marker() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("@@domform-{:016x}", h.finish())
}

/// What to read on one host.
#[derive(Debug, Clone)]
pub struct ObserveRequest {
    /// xm, xl or libvirt.
    pub toolstack: Toolstack,
    /// libvirt's connection URI (unused for xm and xl).
    pub uri: String,
    /// Repository roots.
    pub repositories: Vec<String>,
    /// Existing disk paths the desired state mentions (stat'ed so the planner knows they exist).
    pub extra_paths: Vec<String>,
}

/// Shell helpers every observe script defines (also the host-side watchdog, see
/// [`crate::transport::limit`]). The only write they make is their own temp folder.
///
/// - `s KIND ARG CMD...`: one section; stderr folded in so errors are seen where they happen.
/// - `j N CMD...`: starts CMD in the background, output to `$d/N` (the xm calls: xend answers
///   slowly, so they run side by side while the files are read).
/// - `w KIND ARG N`: waits for job N and prints its section exactly as `s` would have.
/// - `c`: removes the temp folder (also on exit; TERM from the watchdog prints a `timeout` line).
pub const HELPERS: &str = "s() { k=$1; a=$2; shift 2; printf '%s %s %s\\n' \"$M\" \"$k\" \"$a\"; \"$@\" 2>&1; r=$?; printf '\\n%s rc %s\\n' \"$M\" \"$r\"; }
j() { n=$1; shift; \"$@\" >\"$d/$n\" 2>&1 9>&- & eval \"p$n=\\$!\"; }
w() { eval \"wait \\$p$3\"; r=$?; printf '%s %s %s\\n' \"$M\" \"$1\" \"$2\"; cat \"$d/$3\"; printf '\\n%s rc %s\\n' \"$M\" \"$r\"; }
c() { [ -z \"$d\" ] || rm -rf -- \"$d\"; d=; }
";

/// The hypervisor calls an observe starts side by side, as (section kind, command), in the order
/// they are printed. A libvirt host's per-domain reads follow in [`libvirt_domains`].
pub fn xen_calls(req: &ObserveRequest) -> Vec<(&'static str, String)> {
    match req.toolstack {
        Toolstack::Xm => vec![("info", "xm info -n".into()), ("domains-sxp", "xm list -l".into())],
        Toolstack::Xl => {
            vec![("info", "xl info -n".into()), ("list", "xl list".into()), ("vcpus", "xl vcpu-list".into())]
        }
        Toolstack::Libvirt => {
            let v = crate::model::Tool::with_uri(Toolstack::Libvirt, &req.uri).cmd;
            vec![("lv-caps", format!("{v} capabilities")), ("lv-list", format!("{v} list --all"))]
        }
    }
}

/// A libvirt host's domains: the persistent XML of every domain (what domform edits and defines;
/// with `--security-info`, or a VNC password would be lost when it is defined again), and for
/// each running one its live XML (the VNC port, the memory it has now) and `vcpuinfo` (the
/// affinity in force).
///
/// Each `virsh` process costs about 25 ms of CPU (starting libvirt's client library and
/// connecting; a read itself takes a millisecond or two), so the reads go to one `virsh` per
/// [`LV_BATCH`] domains (or 64 KiB of commands), each read's output closed by a virsh `echo` of the
/// section lines [`HELPERS`]' `s` prints. virsh runs every command of a batch even after one fails
/// and reports the failure only on stderr, with no status per command; so the batch output is used
/// only when every virsh of it exited 0 with nothing on stderr, and otherwise the reads run again
/// one `virsh` each, whose sections carry each read's own status (a domain undefined between the
/// list and its read is seen as that domain's failure, as before). Domain names cannot hold a
/// newline (libvirt refuses them), so a line is a name; awk quotes each for virsh's shell-like
/// parser (`'…'`, a `'` as `'\''`); `--domain` and `echo --` keep a name that starts with `-` from
/// reading as an option.
fn libvirt_domains(uri: &str) -> String {
    let v = crate::model::Tool::with_uri(Toolstack::Libvirt, uri).cmd;
    LV_DOMAINS.replace("{v}", &v).replace("{batch}", &LV_BATCH.to_string())
}

/// Domains per batched `virsh` call at most; a batch also ends once its one argument passes
/// 64 KiB, half Linux's limit for a single argument (long names). A domain whose reads alone
/// pass the limit makes its batch fail to start, and so the reads fall back to one `virsh` each.
const LV_BATCH: usize = 64;

/// [`libvirt_domains`]' script; `{v}` is `virsh -c URI`, `{batch}` [`LV_BATCH`].
const LV_DOMAINS: &str = r#"lvb() { [ -z "$lvc" ] || {v} "$lvc" </dev/null >>"$d/lv" 2>>"$d/lve" || echo "virsh exited $?" >>"$d/lve"; lvc=; lvk=0; }
lva() { lvc="$lvc
$1"; lvk=$((lvk + 1)); [ "$lvk" -lt {batch} ] && [ "${#lvc}" -lt 65536 ] || lvb; }
: >"$d/lv"; : >"$d/lve"
{v} "list --all --name; echo -- $M; list --name" </dev/null 2>>"$d/lve" | awk -v m="$M" -v sq="'" '$0 == m { r = 1; next } $0 == "" { next } { q = $0; gsub(sq, sq "\\\\" sq sq, q); print (r ? "R " : "A ") sq q sq }' | { lvc=; lvk=0; while IFS= read -r l; do q=${l#? }; case $l in
A*) lva "echo -- $M lv-xml $q
dumpxml --inactive --security-info --domain $q
echo
echo -- $M rc 0" ;;
R*) lva "echo -- $M lv-live $q
dumpxml --domain $q
echo
echo -- $M rc 0
echo -- $M lv-vcpu $q
vcpuinfo --domain $q
echo
echo -- $M rc 0" ;;
esac; done; lvb; }
if [ -s "$d/lve" ]; then
{v} list --all --name 2>/dev/null | while IFS= read -r n; do [ -n "$n" ] || continue; s lv-xml "$n" {v} dumpxml --inactive --security-info --domain "$n"; done
{v} list --name 2>/dev/null | while IFS= read -r n; do [ -n "$n" ] || continue; s lv-live "$n" {v} dumpxml --domain "$n"; s lv-vcpu "$n" {v} vcpuinfo --domain "$n"; done
else cat "$d/lv"; fi
"#;

/// Builds the script (no time limit).
pub fn build(req: &ObserveRequest, marker: &str) -> String {
    build_limited(req, marker, None)
}

/// Builds the script; with `host_secs`, a host-side watchdog ends it after that many seconds.
///
/// The xm/xl calls start first, in the background, each writing to a file in a `mktemp -d`
/// folder; the file sections are read meanwhile; then each call is waited for and printed in a
/// fixed order, byte for byte as a foreground section would be. So a host costs about one xend
/// answer, not one per call. POSIX sh only (bash 3.2 on OVM 3.0–3.2, dash).
pub fn build_limited(req: &ObserveRequest, marker: &str, host_secs: Option<u64>) -> String {
    let m = quote(marker);
    let mut s = String::new();
    s.push_str(&format!("M={m}\nLC_ALL=C; export LC_ALL\n"));
    s.push_str(HELPERS);
    s.push_str(WATCHDOG_FNS);
    s.push_str("d=\ntrap 'c' EXIT\ntrap 'printf \"\\n%s timeout\\n\" \"$M\"; exit 124' TERM\n");
    if let Some(secs) = host_secs {
        s.push_str(&format!("dfw_start {secs}\n"));
    }
    s.push_str("d=$(mktemp -d \"${TMPDIR:-/tmp}/domform-observe.XXXXXX\") || { echo 'cannot make a temp folder' >&2; exit 1; }\n");
    let calls = xen_calls(req);
    for (i, (_, cmd)) in calls.iter().enumerate() {
        s.push_str(&format!("j {} {cmd}\n", i + 1));
    }
    for repo in &req.repositories {
        let r = quote(repo);
        s.push_str(&format!("s fs {r} sh -c 'stat -f -c %T \"$1\" && df -P -k \"$1\" | tail -n 1' fs {r}\n"));
        s.push_str(&format!("s ovsrepo {r} cat -- {r}/.ovsrepo\n"));
        s.push_str(&format!("s disks {r} find {r}/VirtualDisks -maxdepth 1 -type f -printf '%s %b %p\\n'\n"));
        // Links where domform writes (a planted link would redirect a write): listed, refused.
        s.push_str(&format!(
            "s links {r} sh -c 'for d in \"$1\"/VirtualDisks \"$1\"/VirtualMachines \"$1\"/Snapshots \"$1\"/.domform-applied; do if [ -e \"$d\" ] || [ -L \"$d\" ]; then find \"$d\" -maxdepth 3 -type l; fi; done; true' links {r}\n"
        ));
        s.push_str(&format!("s snapshots {r} find {r}/Snapshots -mindepth 2 -maxdepth 2 -type d\n"));
        // Apparent and allocated size of every file in a snapshot folder, for `snapshot list`
        // (find's %b counts 512-byte blocks; -type f skips links, as the disks section does).
        s.push_str(&format!(
            "s snapfiles {r} find {r}/Snapshots -mindepth 3 -maxdepth 4 -type f -printf '%s %b %p\\n'\n"
        ));
        // Nothing is read through a link planted in the repository (it could show a root-only
        // file in a plan): a linked manifest is skipped, a linked vm.cfg or VM folder is an error.
        s.push_str(&format!(
            "for f in {r}/Snapshots/*/*/manifest; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && [ ! -L \"${{f%/manifest}}\" ] || continue; s snapmanifest \"$f\" cat -- \"$f\"; done\n"
        ));
        // What apply recorded (plan::cause); a linked folder or file is not read.
        s.push_str(&format!(
            "if [ -d {r}/{dir} ] && [ ! -L {r}/{dir} ]; then for f in {r}/{dir}/*.json; do [ -f \"$f\" ] && [ ! -L \"$f\" ] || continue; s applied \"$f\" head -c {max} -- \"$f\"; done; fi\n",
            dir = crate::plan::cause::DIR,
            max = crate::plan::cause::MAX_RECORD_BYTES + 1
        ));
        s.push_str(&format!(
            "for f in {r}/VirtualMachines/*/vm.cfg; do [ -f \"$f\" ] || continue; \
if [ -L \"$f\" ] || [ -L \"${{f%/vm.cfg}}\" ]; then s cfg \"$f\" sh -c 'echo \"not read: a symbolic link (planted in the repository?)\"; exit 1'; \
else s cfg \"$f\" cat -- \"$f\"; fi; done\n"
        ));
    }
    if !req.extra_paths.is_empty() {
        let paths: Vec<String> = req.extra_paths.iter().map(|p| quote(p)).collect();
        s.push_str(&format!(
            "s paths - sh -c 'for p; do stat -L -c \"%s %b %n\" -- \"$p\" 2>/dev/null; done; true' paths {}\n",
            paths.join(" ")
        ));
    }
    if req.toolstack == Toolstack::Libvirt {
        s.push_str(&libvirt_domains(&req.uri));
    }
    for (i, (kind, _)) in calls.iter().enumerate() {
        s.push_str(&format!("w {kind} - {}\n", i + 1));
    }
    if host_secs.is_some() {
        s.push_str("dfw_stop\n");
    }
    // Explicitly, not only by the EXIT trap: under the apply lock this script is followed by
    // `exec cat`, which replaces the shell without running traps.
    s.push_str("c\ntrap - EXIT TERM\n");
    s
}

/// What an observe that ran out of time was doing, from the output it printed: the section it
/// was in, or the xm calls it was still waiting for, and what finished before.
pub fn progress(req: &ObserveRequest, stdout: &str, marker: &str) -> String {
    let sections = super::sections::split(stdout, marker);
    let label = |kind: &str, arg: &str| match kind {
        "fs" => format!("stat -f / df {arg}"),
        "ovsrepo" => format!("cat {arg}/.ovsrepo"),
        "disks" => format!("find {arg}/VirtualDisks"),
        "snapshots" => format!("find {arg}/Snapshots"),
        "snapfiles" => format!("find {arg}/Snapshots (file sizes)"),
        "paths" => "stat of the declared disk paths".to_string(),
        "lv-xml" => format!("virsh dumpxml --inactive {arg}"),
        "lv-live" => format!("virsh dumpxml {arg}"),
        "lv-vcpu" => format!("virsh vcpuinfo {arg}"),
        _ => format!("cat {arg}"),
    };
    let calls = xen_calls(req);
    let done_calls: Vec<&str> = calls
        .iter()
        .filter(|(k, _)| sections.iter().any(|s| s.kind == *k && s.status.is_some()))
        .map(|(_, c)| c.as_str())
        .collect();
    let files = sections.iter().filter(|s| s.status.is_some() && !calls.iter().any(|(k, _)| *k == s.kind)).count();
    let running = match sections.iter().find(|s| s.status.is_none() && s.kind != "timeout") {
        Some(sec) => match calls.iter().find(|(k, _)| *k == sec.kind) {
            Some((_, cmd)) => format!("`{cmd}`"),
            None => format!("`{}`", label(&sec.kind, &sec.arg)),
        },
        None => {
            let waiting: Vec<String> = calls
                .iter()
                .filter(|(_, c)| !done_calls.contains(&c.as_str()))
                .map(|(_, c)| format!("`{c}`"))
                .collect();
            if waiting.is_empty() {
                "the observe script (all its output had arrived)".to_string()
            } else {
                waiting.join(" and ")
            }
        }
    };
    let mut done: Vec<String> = done_calls.iter().map(|c| format!("`{c}`")).collect();
    if files > 0 {
        done.push(format!("{files} file read{}", if files == 1 { "" } else { "s" }));
    }
    if done.is_empty() {
        format!("while running {running}; nothing had finished")
    } else {
        format!("while running {running}; finished before: {}", done.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_read_only_and_quotes_paths() {
        let req = ObserveRequest {
            toolstack: Toolstack::Xm,
            uri: String::new(),
            repositories: vec!["/OVS/Repositories/r 1".into()],
            extra_paths: vec!["/x/it's.img".into()],
        };
        let s = build_limited(&req, "@@domform-0", Some(8));
        assert!(s.contains("xm list -l"));
        assert!(s.contains("'/OVS/Repositories/r 1'/VirtualMachines/*/vm.cfg"));
        assert!(s.contains("'/x/it'\\''s.img'"));
        for verb in ["create", "destroy", "shutdown", "vcpu-pin", "rm ", "mv ", "truncate", " > "] {
            let generated = s.replace(HELPERS, "").replace(WATCHDOG_FNS, "");
            let bad = generated.lines().any(|l| l.contains(verb));
            assert!(!bad, "observe script contains mutating `{verb}`:\n{s}");
        }
    }

    /// The xm calls run in the background, yet each prints byte for byte as a foreground
    /// section would (stdout and stderr folded, exit status kept), in a fixed order, and the
    /// temp folder is gone afterwards; under dash (`sh` here) and bash.
    #[test]
    fn background_xm_sections_match_foreground_ones() {
        use crate::transport::{local::LocalTransport, Transport};
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&bin).expect("bin");
        std::fs::create_dir_all(&tmp).expect("tmp");
        // A slow xm: `info` answers last although it starts first; `list` fails with status 3.
        let xm = "#!/bin/sh\ncase \"$1\" in info) sleep 0.4; printf 'nr_cpus : 8\\n\\n';; \
                  list) sleep 0.1; echo '(domain'; echo 'oops' >&2; exit 3;; esac\n";
        std::fs::write(bin.join("xm"), xm).expect("xm");
        std::process::Command::new("chmod").args(["+x"]).arg(bin.join("xm")).status().expect("chmod");
        let req =
            ObserveRequest { toolstack: Toolstack::Xm, uri: String::new(), repositories: vec![], extra_paths: vec![] };
        let marker = "@@domform-t";
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let foreground = format!("M={marker}\n{HELPERS}s info - xm info -n\ns domains-sxp - xm list -l\n");
        for shell in ["sh", "bash"] {
            let script = build_limited(&req, marker, Some(30));
            let mut t = LocalTransport::new("here")
                .with_env("PATH", path.clone())
                .with_env("TMPDIR", tmp.display().to_string());
            let run = |t: &mut LocalTransport, s: &str| {
                let out = t.exec(&format!("exec {shell} -c {}", crate::transport::quote(s)), &[]).expect("runs");
                crate::observe::sections::split(&out.stdout_text(), marker)
            };
            let background = run(&mut t, &script);
            assert_eq!(background, run(&mut t, &foreground), "{shell}: differs from foreground sections");
            let got: Vec<(&str, &str, Option<i32>)> =
                background.iter().map(|s| (s.kind.as_str(), s.body.as_str(), s.status)).collect();
            assert_eq!(got, [("info", "nr_cpus : 8\n\n", Some(0)), ("domains-sxp", "(domain\noops\n", Some(3))]);
            let left: Vec<_> = std::fs::read_dir(&tmp).expect("ls").collect();
            assert!(left.is_empty(), "{shell}: temp folder left behind");
        }
    }

    #[test]
    fn progress_names_the_running_call_and_what_finished() {
        let req = ObserveRequest {
            toolstack: Toolstack::Xm,
            uri: String::new(),
            repositories: vec!["/r".into()],
            extra_paths: vec![],
        };
        let m = "@@m";
        let waiting = format!("{m} fs /r\nxfs\n\n{m} rc 0\n{m} cfg /r/VirtualMachines/a/vm.cfg\nx = 1\n\n{m} rc 0\n");
        assert_eq!(
            progress(&req, &waiting, m),
            "while running `xm info -n` and `xm list -l`; finished before: 2 file reads"
        );
        let one = format!("{waiting}{m} info -\nnr_cpus : 8\n\n{m} rc 0\n");
        assert_eq!(progress(&req, &one, m), "while running `xm list -l`; finished before: `xm info -n`, 2 file reads");
        let in_file = format!("{m} fs /r\nxfs\n\n{m} rc 0\n{m} cfg /r/VirtualMachines/a/vm.cfg\nx = 1\n");
        assert_eq!(
            progress(&req, &in_file, m),
            "while running `cat /r/VirtualMachines/a/vm.cfg`; finished before: 1 file read"
        );
        assert_eq!(progress(&req, "", m), "while running `xm info -n` and `xm list -l`; nothing had finished");
    }

    #[test]
    fn markers_differ() {
        assert_ne!(new_marker(), new_marker());
    }
}

#[cfg(test)]
#[path = "script_libvirt_tests.rs"]
mod libvirt_tests;
