//! `domform licence --evidence DIR`: the pack an auditor keeps.
//!
//! For each host: the raw outputs the count rests on (`xm info -n`, `xm vcpu-list`, `xm list -l`
//! and the vm.cfg of each licensed VM; on a libvirt host `virsh capabilities`, `nodeinfo` and
//! each licensed domain's XML, `vcpuinfo` and `vcpupin`), each with the UTC time the host printed just before it,
//! the host's address and SSH host-key fingerprint; then the HTML page, the JSON report and a
//! `MANIFEST.sha256` in `sha256sum -c` format, so anyone can check the pack later with standard
//! tools. The raw outputs are read in one extra exec per host, right after observing. Secrets
//! (VNC passwords, WebLogic `{AES}` values) are redacted before anything is written, and each
//! redaction is noted in the host's `meta.json`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Tool, Toolstack};
use crate::transport::{quote, Transport, TransportError};

/// One raw output.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RawOutput {
    /// What was run (`xm info -n`, `cat <vm.cfg>`).
    pub command: String,
    /// The file it is stored in, relative to the host's folder.
    pub file: String,
    /// UTC time the host printed just before running it.
    pub read_at: String,
    /// Exit status.
    pub status: i32,
    /// Whether secrets were redacted from it.
    pub redacted: bool,
    /// The output itself (not serialised: it is the file).
    #[serde(skip)]
    pub text: String,
}

/// What was read from one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostEvidence {
    /// Host name as declared.
    pub host: String,
    /// Address domform connected to.
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// The host key the connection verified, OpenSSH style (`ssh-rsa SHA256:...`).
    pub ssh_host_key: Option<String>,
    /// The outputs.
    pub outputs: Vec<RawOutput>,
}

/// One licensed VM to collect: its Xen name, vm.cfg path, and whether it runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// Simple name (for the folder).
    pub vm: String,
    /// Xen domain name.
    pub xen_name: String,
    /// Its vm.cfg, when it has one.
    pub cfg: Option<String>,
    /// Running now (`xm list -l NAME` only then).
    pub running: bool,
}

/// A file name from untrusted text: letters, digits, `.`, `_`, `-`; nothing else.
pub fn safe_name(s: &str) -> String {
    let out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    let out = out.trim_start_matches('.').to_string();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// The read-only script: each section `<marker> <n> <UTC time>`, output, `<marker> rc <status>`.
/// On a Xen host the outputs are `xm info -n`, `xm vcpu-list`, each licensed VM's `xm list -l`
/// and vm.cfg; on a libvirt host `virsh capabilities` (the topology), `virsh nodeinfo`, and each
/// licensed VM's persistent XML (its `<cputune>`; without `--security-info`, so no password),
/// and when it runs its live XML, `vcpuinfo` and `vcpupin` (the affinity in force).
pub fn script(tool: &Tool, targets: &[Target], marker: &str) -> (String, Vec<(String, String)>) {
    let cmds =
        if tool.toolstack == Toolstack::Libvirt { libvirt_cmds(&tool.cmd, targets) } else { xen_cmds(tool, targets) };
    let mut s = format!("M={}\nLC_ALL=C; export LC_ALL\n", quote(marker));
    s.push_str("s() { printf '%s %s %s\\n' \"$M\" \"$1\" \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"; shift; \"$@\" 2>&1; r=$?; printf '\\n%s rc %s\\n' \"$M\" \"$r\"; }\n");
    for (i, (_, _, shell)) in cmds.iter().enumerate() {
        let _ = writeln!(s, "s {i} {shell}");
    }
    (s, cmds.into_iter().map(|(c, f, _)| (c, f)).collect())
}

/// (what the pack calls it, the file it goes in, the shell that reads it)
type Cmd = (String, String, String);

fn xen_cmds(tool: &Tool, targets: &[Target]) -> Vec<Cmd> {
    let tool = tool.name();
    let mut cmds: Vec<Cmd> = vec![
        (format!("{tool} info -n"), "info-n.txt".into(), format!("{tool} info -n")),
        (format!("{tool} vcpu-list"), "vcpu-list.txt".into(), format!("{tool} vcpu-list")),
    ];
    for t in targets {
        let dir = format!("vm-{}", safe_name(&t.vm));
        if t.running {
            cmds.push((
                format!("{tool} list -l {}", t.xen_name),
                format!("{dir}/list-l.txt"),
                format!("{tool} list -l {}", quote(&t.xen_name)),
            ));
        }
        if let Some(cfg) = &t.cfg {
            cmds.push((format!("cat {cfg}"), format!("{dir}/vm.cfg"), format!("cat -- {}", quote(cfg))));
        }
    }
    cmds
}

fn libvirt_cmds(virsh: &str, targets: &[Target]) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = vec![
        ("virsh capabilities".into(), "capabilities.xml".into(), format!("{virsh} capabilities")),
        ("virsh nodeinfo".into(), "nodeinfo.txt".into(), format!("{virsh} nodeinfo")),
    ];
    for t in targets {
        let dir = format!("vm-{}", safe_name(&t.vm));
        let d = quote(&t.xen_name);
        let mut read = |what: &str, file: &str, args: &str| {
            cmds.push((
                format!("virsh {what} {}", t.xen_name),
                format!("{dir}/{file}"),
                format!("{virsh} {args} --domain {d}"),
            ));
        };
        read("dumpxml --inactive", "domain.xml", "dumpxml --inactive");
        if t.running {
            read("dumpxml", "live.xml", "dumpxml");
            read("vcpuinfo", "vcpuinfo.txt", "vcpuinfo");
            read("vcpupin", "vcpupin.txt", "vcpupin");
        }
    }
    cmds
}

/// Splits the script's output into the commands' outputs (in order).
pub fn parse(stdout: &str, marker: &str, cmds: &[(String, String)]) -> Result<Vec<RawOutput>, String> {
    let mut out = Vec::new();
    let mut lines = stdout.split_inclusive('\n');
    while let Some(head) = lines.next() {
        let Some(rest) = head.trim_end_matches('\n').strip_prefix(marker).and_then(|r| r.strip_prefix(' ')) else {
            continue;
        };
        let (idx, time) = rest.split_once(' ').ok_or_else(|| format!("bad section header `{}`", head.trim_end()))?;
        let idx: usize = idx.parse().map_err(|_| format!("bad section number `{idx}`"))?;
        let (command, file) = cmds.get(idx).cloned().ok_or_else(|| format!("unexpected section {idx}"))?;
        let mut body = String::new();
        let mut status = None;
        for line in lines.by_ref() {
            if let Some(rc) = line.trim_end_matches('\n').strip_prefix(&format!("{marker} rc ")) {
                status = rc.trim().parse().ok();
                break;
            }
            body.push_str(line);
        }
        // The script prints a newline before the rc line so output without one stays intact.
        if body.ends_with('\n') {
            body.pop();
        }
        let redacted_text = crate::render::plan::redact(&body);
        out.push(RawOutput {
            command,
            file,
            read_at: time.to_string(),
            status: status.ok_or("the output ended early (connection lost?)")?,
            redacted: redacted_text != body,
            text: redacted_text,
        });
    }
    if out.len() != cmds.len() {
        return Err(format!("{} of {} outputs arrived", out.len(), cmds.len()));
    }
    Ok(out)
}

/// Runs the script on an open connection.
pub fn collect(
    t: &mut dyn Transport,
    host: &crate::model::Host,
    targets: &[Target],
) -> Result<HostEvidence, TransportError> {
    let marker = crate::observe::script::new_marker();
    let (script, cmds) = script(&host.tool(), targets, &marker);
    let out = t.exec(&script, &[])?;
    let outputs = parse(&out.stdout_text(), &marker, &cmds).map_err(|m| TransportError::Exec {
        host: host.name.clone(),
        command: "licence evidence".into(),
        message: m,
    })?;
    Ok(HostEvidence {
        host: host.name.clone(),
        address: host.address.clone(),
        port: host.port,
        ssh_host_key: t.host_key(),
        outputs,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn write_new(root: &Path, rel: &str, bytes: &[u8], manifest: &mut Vec<(String, String)>) -> std::io::Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    manifest.push((sha256_hex(bytes), rel.to_string()));
    Ok(())
}

/// Writes the pack into `dir`, which must not exist or be empty; returns the files written.
pub fn write_pack(
    dir: &Path,
    hosts: &[HostEvidence],
    html: &str,
    json: &str,
    generated: &str,
) -> Result<Vec<PathBuf>, String> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!(
            "{} exists and is not empty; an evidence pack is written into a new folder",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut manifest: Vec<(String, String)> = Vec::new();
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    let readme = format!(
        "domform licence evidence, generated {generated} by domform {}.\n\n\
         licence-report.html  the core map and the count per licence group\n\
         licence-report.json  the same, machine-readable\n\
         hosts/<host>/        what each host printed, with meta.json (address, SSH host key, UTC read times)\n\n\
         Check that nothing changed since: sha256sum -c MANIFEST.sha256\n",
        env!("CARGO_PKG_VERSION")
    );
    write_new(dir, "README.txt", readme.as_bytes(), &mut manifest).map_err(io)?;
    write_new(dir, "licence-report.html", html.as_bytes(), &mut manifest).map_err(io)?;
    write_new(dir, "licence-report.json", json.as_bytes(), &mut manifest).map_err(io)?;
    for h in hosts {
        let base = format!("hosts/{}", safe_name(&h.host));
        for o in &h.outputs {
            write_new(dir, &format!("{base}/{}", o.file), o.text.as_bytes(), &mut manifest).map_err(io)?;
        }
        let meta = serde_json::to_string_pretty(h).map_err(|e| e.to_string())? + "\n";
        write_new(dir, &format!("{base}/meta.json"), meta.as_bytes(), &mut manifest).map_err(io)?;
    }
    manifest.sort_by(|a, b| a.1.cmp(&b.1));
    let text: String = manifest.iter().map(|(sum, rel)| format!("{sum}  {rel}\n")).collect();
    let mut none = Vec::new();
    write_new(dir, "MANIFEST.sha256", text.as_bytes(), &mut none).map_err(io)?;
    Ok(manifest.iter().map(|(_, rel)| dir.join(rel)).chain(std::iter::once(dir.join("MANIFEST.sha256"))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_with_times_and_redaction() {
        let targets = vec![Target {
            vm: "DB Server 01/../x".into(),
            xen_name: "0004fb00000600001".into(),
            cfg: Some("/OVS/Repositories/r/VirtualMachines/v/vm.cfg".into()),
            running: true,
        }];
        let (script, cmds) = script(&Tool::xen(Toolstack::Xm), &targets, "@@m");
        assert!(
            script.contains("xm list -l 0004fb00000600001")
                && script.contains("cat -- /OVS/Repositories/r/VirtualMachines/v/vm.cfg")
        );
        assert_eq!(cmds[2].1, "vm-DB_Server_01_.._x/list-l.txt", "no path separators from a VM name");
        let out = "@@m 0 2026-12-02T00:00:01Z\ninfo\n\n@@m rc 0\n@@m 1 2026-12-02T00:00:02Z\nvcpus\n@@m rc 0\n\
                   @@m 2 2026-12-02T00:00:03Z\n(domain)\n\n@@m rc 0\n@@m 3 2026-12-02T00:00:04Z\nvfb = ['vncpasswd=hunter2,type=vnc']\n\n@@m rc 0\n";
        let got = parse(out, "@@m", &cmds).expect("parse");
        assert_eq!(got.len(), 4);
        assert_eq!(
            (got[0].text.as_str(), got[0].read_at.as_str()),
            ("info\n", "2026-12-02T00:00:01Z"),
            "the output as printed, its last newline kept"
        );
        assert!(!got[3].text.contains("hunter2") && got[3].redacted, "{}", got[3].text);
        assert!(parse("@@m 0 t\ninfo\n", "@@m", &cmds).is_err(), "a cut output is an error");
    }

    #[test]
    fn a_libvirt_host_keeps_its_topology_and_each_licensed_domains_pinning() {
        let targets = [
            Target { vm: "DB 1".into(), xen_name: "DB 1".into(), cfg: None, running: true },
            Target { vm: "db2".into(), xen_name: "db2".into(), cfg: None, running: false },
        ];
        let (script, cmds) = script(&Tool::with_uri(Toolstack::Libvirt, "qemu:///system"), &targets, "@@m");
        let files: Vec<&str> = cmds.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "capabilities.xml",
                "nodeinfo.txt",
                "vm-DB_1/domain.xml",
                "vm-DB_1/live.xml",
                "vm-DB_1/vcpuinfo.txt",
                "vm-DB_1/vcpupin.txt",
                "vm-db2/domain.xml"
            ]
        );
        assert!(script.contains("virsh -c qemu:///system vcpuinfo --domain 'DB 1'"), "{script}");
        assert!(!script.contains("--security-info"), "no password is read for the pack: {script}");
    }

    #[test]
    fn pack_has_a_manifest_of_every_file_and_refuses_a_used_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pack = dir.path().join("pack");
        let h = HostEvidence {
            host: "h1".into(),
            address: "10.0.0.1".into(),
            port: 22,
            ssh_host_key: Some("ssh-ed25519 SHA256:abc".into()),
            outputs: vec![RawOutput {
                command: "xm info -n".into(),
                file: "info-n.txt".into(),
                read_at: "t".into(),
                status: 0,
                redacted: false,
                text: "x".into(),
            }],
        };
        let files = write_pack(&pack, &[h], "<html/>", "{}", "now").expect("pack");
        let manifest = std::fs::read_to_string(pack.join("MANIFEST.sha256")).expect("manifest");
        assert_eq!(manifest.lines().count(), files.len() - 1, "every file but the manifest itself");
        assert!(manifest.contains("  hosts/h1/info-n.txt\n") && manifest.contains("  hosts/h1/meta.json\n"));
        assert!(manifest.contains(&format!("{}  hosts/h1/info-n.txt", sha256_hex(b"x"))));
        assert!(write_pack(&pack, &[], "", "", "now").expect_err("used").contains("not empty"));
    }
}
