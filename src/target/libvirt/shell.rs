//! The shell of a libvirt host's steps that differ from a Xen host's: a graceful stop with a
//! time limit, the read-back of live pinning, and a snapshot's toolstack steps (the domain's XML
//! kept, `virsh suspend`/`resume` around the copies, memory by `virsh save`/`restore`). Everything else (files, disks, the batch
//! around the steps) is [`crate::apply::script`]'s; every value goes through [`quote`].

use crate::apply::script::SnapshotSpec;
use crate::transport::quote;
use crate::xen::VcpuRow;

/// `virsh shutdown` asks the guest (ACPI) and returns at once, so the step polls `domstate` until
/// `shut off`, sending the request again every 10 s (a guest can miss the first press: libvirt
/// research, gotcha on restore), for `secs` seconds; then `destroy` when `force`, else a failure
/// that says how to allow it. Nothing is done when the domain is already off.
pub fn shutdown(virsh: &str, domain: &str, secs: u64, force: bool) -> String {
    let d = quote(domain);
    let on_timeout = if force {
        format!(
            "{{ echo {}; {virsh} destroy --domain {d}; }}",
            quote(&format!("{domain} did not stop cleanly within {secs}s; destroying it (force_stop)"))
        )
    } else {
        format!(
            "{{ echo {} >&2; false; }}",
            quote(&format!(
                "{domain} did not stop within {secs}s; set `force_stop: true` to power it off after the timeout"
            ))
        )
    };
    format!(
        "{{ st() {{ {virsh} domstate --domain {d} 2>/dev/null | head -n 1; }}; \
if [ \"$(st)\" != 'shut off' ]; then {virsh} shutdown --domain {d} >/dev/null || true; e=$(( $(date +%s) + {secs} )); n=$(( $(date +%s) + 10 )); \
while [ \"$(st)\" != 'shut off' ] && [ \"$(date +%s)\" -le \"$e\" ]; do \
if [ \"$(date +%s)\" -ge \"$n\" ]; then {virsh} shutdown --domain {d} >/dev/null 2>&1; n=$(( $(date +%s) + 10 )); fi; \
sleep 0.2 2>/dev/null || sleep 1; done; \
[ \"$(st)\" = 'shut off' ] || {on_timeout}; fi; }}"
    )
}

/// A libvirt domain's snapshot, in [`SnapshotSpec::frame`]: its persistent XML (with the VNC
/// password: `--security-info`) written as `domain.xml`, mode 0600, before the pause; the domain
/// suspended around the disk clones. With memory, `virsh save` (of the suspended domain, marked
/// to come back as it was) turns the domain off, the disks are cloned, and `virsh restore` runs
/// it again, also when a clone failed. When that restore fails, the memory file is kept beside
/// the snapshot (`<name>.memory.save`) and the step fails saying so: it is the guest's state.
pub fn snapshot(sp: &SnapshotSpec<'_>, domain: &str) -> String {
    let v = sp.tool;
    let prep = format!(
        "( umask 077 && {v} dumpxml --inactive --security-info --domain {} > \"$t/domain.xml\" )",
        quote(domain)
    );
    let resume = match sp.pause {
        Some(p) => format!("{v} resume --domain {} >/dev/null || {{ [ \"$rc\" -ne 0 ] || rc=1; }}", quote(p)),
        None => ":".into(),
    };
    let pause = match sp.pause {
        Some(p) => format!("{v} suspend --domain {} >/dev/null || rc=$?", quote(p)),
        None => ":".into(),
    };
    let mut copies = Vec::new();
    let unpause = match sp.memory {
        Some(m) => {
            let after = if sp.pause.is_some() { "--running" } else { "--paused" };
            copies.push(format!(
                "{v} save --domain {} \"$t/memory.save\" {after} >/dev/null && s=1 && chmod 600 \"$t/memory.save\"",
                quote(m)
            ));
            format!(
                "if [ $s -eq 1 ]; then {v} restore --file \"$t/memory.save\" >/dev/null || {{ mv -f -T -- \"$t/memory.save\" \"$d.memory.save\"; \
echo {} \"$d.memory.save\" >&2; [ \"$rc\" -ne 0 ] || rc=1; }}; else {resume}; fi",
                quote(&format!("{m} was saved but not restored; its memory is in"))
            )
        }
        None => resume,
    };
    copies.extend(sp.clones());
    sp.frame(&prep, &pause, &copies, &unpause, &sp.manifest(&format!("domain={domain}")))
}

/// Run before a libvirt revert touches a disk: the snapshot's `domain.xml` must define this very
/// domain, its one `<uuid` being the domain's (`virsh domuuid`), so a file planted in the
/// snapshot folder cannot redefine another domain (`virsh define` replaces whichever domain the
/// XML's uuid names). A second `<uuid` anywhere (metadata, a comment) refuses it too.
pub fn check_definition(virsh: &str, dir: &str, domain: &str) -> String {
    let f = quote(&format!("{dir}/domain.xml"));
    format!(
        "{{ u=$({virsh} domuuid --domain {d}) && [ -f {f} ] && [ ! -L {f} ] && [ \"$(grep -o '<uuid' {f} | sed -n '$=')\" = 1 ] \
&& grep -q \"<uuid>$u</uuid>\" {f} || {{ echo {} >&2; false; }}; }}",
        quote(&format!("{dir}/domain.xml does not define {domain} (not its one <uuid>)")),
        d = quote(domain)
    )
}

/// A libvirt revert's definition step: `virsh define` of the snapshot's `domain.xml` (the
/// domain's XML as it was, VNC password included), never through a link.
pub fn define_from(virsh: &str, dir: &str, domain: &str) -> String {
    let f = quote(&format!("{dir}/domain.xml"));
    format!(
        "{{ [ -f {f} ] && [ ! -L {f} ] && {virsh} define --file {f} >/dev/null || {{ echo {} >&2; false; }}; }}",
        quote(&format!("could not define {domain} from {dir}/domain.xml"))
    )
}

/// Reads the affinity of every vCPU of each domain, one `vcpuinfo` per domain, each preceded by
/// a `@@dom NAME` line so [`parse_vcpuinfo_all`] knows whose rows follow.
pub fn vcpuinfo_all(virsh: &str, domains: &[&str]) -> String {
    let parts: Vec<String> = domains
        .iter()
        .map(|d| format!("printf '@@dom %s\\n' {q} && {virsh} vcpuinfo --domain {q}", q = quote(d)))
        .collect();
    format!("LC_ALL=C; export LC_ALL; {}", parts.join(" && "))
}

/// Reads [`vcpuinfo_all`]'s output as `xm vcpu-list` rows.
pub fn parse_vcpuinfo_all(text: &str) -> Result<Vec<VcpuRow>, String> {
    let mut out = Vec::new();
    // Blocks open at a line start (a name may itself hold `@@dom `; none holds a newline).
    let text = format!("\n{text}");
    for block in text.split("\n@@dom ").skip(1) {
        let (name, rest) = block.split_once('\n').unwrap_or((block, ""));
        for v in crate::libvirt::virsh::parse_vcpuinfo(rest)? {
            out.push(VcpuRow {
                name: name.to_string(),
                id: None,
                vcpu: v.vcpu,
                cpu: v.cpu,
                state: v.state,
                time: 0.0,
                affinity: v.affinity,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Tool, Toolstack};
    use crate::plan::{Action, Change, Impact, Op, Resource};
    use crate::transport::{local::LocalTransport, Transport};
    use std::path::Path;

    /// A `virsh` that logs its subcommand and domain, prints an XML for `dumpxml` and a uuid for
    /// `domuuid`, writes the file for `save`, and fails `restore` when `FAIL_RESTORE` exists.
    fn fake_virsh(dir: &Path) -> Tool {
        let bin = dir.join("virsh");
        let script = format!(
            "#!/bin/sh\nd={d}\nprintf '%s %s\\n' \"$1\" \"$3\" >> \"$d/log\"\ncase $1 in\n\
dumpxml) echo \"<domain><name>$5</name></domain>\";;\nsave) printf mem > \"$4\";;\n\
restore) [ ! -e \"$d/FAIL_RESTORE\" ];;\ndomuuid) echo 0004fb00-1111;;\nesac\n",
            d = quote(&dir.display().to_string())
        );
        std::fs::write(&bin, script).expect("fake virsh");
        std::process::Command::new("chmod").arg("+x").arg(&bin).status().expect("chmod");
        Tool { toolstack: Toolstack::Libvirt, cmd: quote(&bin.display().to_string()) }
    }

    fn snapshot_op(dir: &Path, name: &str, disk: &str) -> Change {
        Change {
            id: "snapshot".into(),
            resource: Resource::Snapshot,
            name: "x".into(),
            action: Action::Create,
            impact: Impact::Live,
            fields: Vec::new(),
            file: None,
            ops: vec![Op::Snapshot {
                parent: format!("{}/Snapshots/db 1", dir.display()),
                name: Some(name.into()),
                vm: "db 1".into(),
                cfg_path: String::new(),
                disks: vec![disk.into()],
                pause: Some("db 1".into()),
                memory: Some("db 1".into()),
                allow_full_copy: true,
                running: true,
                domain: Some("db 1".into()),
            }],
            depends_on: Vec::new(),
            verify_pins: Vec::new(),
            cause: None,
        }
    }

    fn revert_op(dir: &Path, disk: &str) -> Change {
        let snap = format!("{}/Snapshots/db 1/s1", dir.display());
        let disks = vec![(format!("{snap}/disks/00-a.img"), disk.to_string())];
        Change {
            ops: vec![Op::Revert { dir: snap, cfg_path: String::new(), disks, domain: Some("db 1".into()) }],
            ..snapshot_op(dir, "unused", disk)
        }
    }

    #[test]
    fn a_revert_defines_only_a_domain_xml_with_the_domains_own_uuid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = dir.path().join("Snapshots/db 1/s1");
        std::fs::create_dir_all(snap.join("disks")).expect("mkdir");
        std::fs::write(snap.join("disks/00-a.img"), b"old").expect("copy");
        let disk = dir.path().join("a.img");
        let c = revert_op(dir.path(), &disk.display().to_string());
        for planted in [
            "<domain><name>other</name><uuid>0004fb00-2222</uuid></domain>",
            "<domain><name>db 1</name><uuid>0004fb00-2222</uuid><metadata><uuid>0004fb00-1111</uuid></metadata></domain>",
        ] {
            std::fs::write(&disk, b"new").expect("disk");
            std::fs::write(snap.join("domain.xml"), planted).expect("xml");
            let (status, log) = run(dir.path(), &c);
            assert_ne!(status, 0, "{planted}");
            assert!(!log.contains("define"), "{log}");
            assert_eq!(std::fs::read(&disk).expect("disk"), b"new", "no disk touched for {planted}");
        }
        std::fs::write(
            snap.join("domain.xml"),
            "<domain>\n  <name>db 1</name>\n  <uuid>0004fb00-1111</uuid>\n</domain>\n",
        )
        .expect("xml");
        let (status, log) = run(dir.path(), &c);
        assert_eq!(status, 0, "{log}");
        assert_eq!(log, format!("domuuid db 1\ndefine {}/domain.xml\n", snap.display()));
        assert_eq!(std::fs::read(&disk).expect("disk"), b"old");
    }

    /// Runs the batch script of `c` with the fake virsh, and a `reflink` that copies (the temp
    /// folder's file system may not clone, and a revert never makes a full copy).
    fn run(dir: &Path, c: &Change) -> (i32, String) {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        std::fs::write(bin.join("reflink"), "#!/bin/sh\ncp -- \"$1\" \"$2\"\n").expect("fake reflink");
        std::process::Command::new("chmod").arg("+x").arg(bin.join("reflink")).status().expect("chmod");
        let script = format!(
            "PATH={}:$PATH; export PATH\n{}",
            quote(&bin.display().to_string()),
            crate::apply::script::build(std::slice::from_ref(c), &fake_virsh(dir), "@@m")
        );
        let out = LocalTransport::new("here").exec(&script, &[]).expect("runs");
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        std::fs::remove_file(dir.join("log")).ok();
        (out.status, log)
    }

    #[test]
    fn a_memory_snapshot_saves_clones_and_restores_and_keeps_the_xml_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = dir.path().join("a b.img");
        std::fs::write(&disk, b"data").expect("disk");
        let (status, log) = run(dir.path(), &snapshot_op(dir.path(), "s1", &disk.display().to_string()));
        assert_eq!(status, 0, "{log}");
        let tmp = format!("{}/Snapshots/db 1/s1.domform-tmp", dir.path().display());
        assert_eq!(log, format!("dumpxml --security-info\nsuspend db 1\nsave db 1\nrestore {tmp}/memory.save\n"));
        let s1 = dir.path().join("Snapshots/db 1/s1");
        let xml = s1.join("domain.xml");
        assert_eq!(std::fs::read_to_string(&xml).expect("xml"), "<domain><name>db 1</name></domain>\n");
        assert_eq!(std::fs::metadata(&xml).expect("xml").permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(s1.join("disks/00-a b.img")).expect("copy"), b"data");
        assert_eq!(std::fs::read(s1.join("memory.save")).expect("memory"), b"mem");
        let manifest = std::fs::read_to_string(s1.join("manifest")).expect("manifest");
        assert!(manifest.contains("domain=db 1\n") && manifest.contains("memory=memory.save\n"), "{manifest}");
    }

    #[test]
    fn a_failed_clone_still_restores_and_a_failed_restore_keeps_the_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("gone.img").display().to_string();
        let (status, log) = run(dir.path(), &snapshot_op(dir.path(), "s1", &missing));
        assert_ne!(status, 0);
        assert!(
            log.ends_with("s1.domform-tmp/memory.save\n") && log.contains("save db 1\nrestore "),
            "restored: {log}"
        );
        assert!(
            !dir.path().join("Snapshots/db 1/s1.domform-tmp").exists()
                && !dir.path().join("Snapshots/db 1/s1").exists()
        );

        let disk = dir.path().join("a.img");
        std::fs::write(&disk, b"data").expect("disk");
        std::fs::write(dir.path().join("FAIL_RESTORE"), b"").expect("flag");
        let (status, log) = run(dir.path(), &snapshot_op(dir.path(), "s2", &disk.display().to_string()));
        assert_ne!(status, 0, "{log}");
        assert_eq!(std::fs::read(dir.path().join("Snapshots/db 1/s2.memory.save")).expect("kept"), b"mem");
        assert!(!dir.path().join("Snapshots/db 1/s2").exists());
    }

    #[test]
    fn vcpuinfo_of_two_domains_reads_back_as_rows() {
        let text = "@@dom db 1\nVCPU:           0\nCPU:            1\nState:          running\nCPU time:       1.2s\nCPU Affinity:   -y\n\n\
VCPU:           1\nCPU:            0\nState:          running\nCPU time:       0.1s\nCPU Affinity:   yy\n\n@@dom web\nVCPU:           0\nCPU:            N/A\nState:          offline\nCPU Affinity:   y-\n\n";
        let rows = parse_vcpuinfo_all(text).expect("parses");
        let got: Vec<(String, u32, String)> =
            rows.iter().map(|r| (r.name.clone(), r.vcpu, r.affinity.to_string())).collect();
        assert_eq!(
            got,
            vec![("db 1".into(), 0, "1".into()), ("db 1".into(), 1, "0-1".into()), ("web".into(), 0, "0".into())]
        );
    }

    /// Only a line that starts with `@@dom ` opens a domain's rows; a name may hold `@@dom `.
    #[test]
    fn a_name_holding_the_block_marker_keeps_its_rows() {
        let text =
            "@@dom a@@dom b\nVCPU:           0\nCPU:            1\nState:          running\nCPU Affinity:   -y\n\n";
        let rows = parse_vcpuinfo_all(text).expect("parses");
        let got: Vec<(&str, u32)> = rows.iter().map(|r| (r.name.as_str(), r.vcpu)).collect();
        assert_eq!(got, vec![("a@@dom b", 0)]);
    }

    #[test]
    fn shutdown_quotes_the_name_and_only_destroys_when_forced() {
        let s = shutdown("virsh -c 'qemu:///system'", "db 1; rm -rf /", 30, false);
        assert!(s.contains("--domain 'db 1; rm -rf /'"), "{s}");
        assert!(!s.contains("destroy"), "{s}");
        assert!(shutdown("virsh", "x", 30, true).contains("virsh destroy --domain x"));
    }
}
