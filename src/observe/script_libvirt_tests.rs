//! A libvirt host's domain reads against a real `virsh` and libvirt's `test:///` driver (a
//! node file, read afresh by every virsh process, so every call sees the same domains): the
//! batched reads give byte for byte the sections the one-virsh-per-read fallback gives, for
//! names with quotes, spaces, `&` and a leading `-`; and a failed batch falls back.

use super::*;
use crate::observe::sections::{split, Section};
use crate::transport::{local::LocalTransport, Transport};

const NODE: &str = r#"<node>
  <domain type='test'><name>it's a  b</name><uuid>00000000-0000-0000-0000-000000000001</uuid><memory>65536</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>-dash &amp; "q" \x</name><uuid>00000000-0000-0000-0000-000000000002</uuid><memory>65536</memory><os><type>hvm</type></os><test:runstate>5</test:runstate>
  </domain>
  <domain type='test'><name>plain</name><uuid>00000000-0000-0000-0000-000000000003</uuid><memory>65536</memory><os><type>hvm</type></os></domain>
</node>
"#;

/// A `virsh` on PATH that passes everything to the real one, except that with `FAIL_BATCH` set
/// a batch (an argument holding a newline) fails as virsh does: a message on stderr, exit 1.
/// Each call adds a line to `VIRSH_LOG`.
const WRAPPER: &str = "#!/bin/sh\necho >>\"$VIRSH_LOG\"\nnl='\n'\ncase \"$*\" in *\"$nl\"*) if [ -n \"$FAIL_BATCH\" ]; then echo 'error: boom' >&2; exit 1; fi;; esac\nexec \"$REAL_VIRSH\" \"$@\"\n";

fn real_virsh() -> Option<String> {
    let out = std::process::Command::new("sh").args(["-c", "command -v virsh"]).output().ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then_some(p)
}

/// The sections of one observe, and how many `virsh` processes it started.
fn run(shell: &str, dir: &std::path::Path, real: &str, fail_batch: bool) -> (Vec<Section>, usize) {
    let log = dir.join("virsh.log");
    std::fs::write(&log, "").expect("log");
    let node = dir.join("node.xml");
    let req = ObserveRequest {
        toolstack: Toolstack::Libvirt,
        uri: format!("test://{}", node.display()),
        repositories: vec![],
        extra_paths: vec![],
    };
    let marker = "@@domform-t";
    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut t = LocalTransport::new("here")
        .with_env("PATH", path)
        .with_env("REAL_VIRSH", real.to_string())
        .with_env("FAIL_BATCH", if fail_batch { "1" } else { "" }.to_string())
        .with_env("VIRSH_LOG", log.display().to_string())
        .with_env("TMPDIR", dir.join("tmp").display().to_string());
    let script = build(&req, marker);
    let out = t.exec(&format!("exec {shell} -c {}", quote(&script)), &[]).expect("runs");
    let calls = std::fs::read_to_string(&log).expect("log").lines().count();
    (split(&out.stdout_text(), marker), calls)
}

/// A folder with the node file, the `virsh` wrapper in `bin/` and an empty `tmp/`.
fn setup(node: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("node.xml"), node).expect("node");
    std::fs::create_dir_all(dir.path().join("bin")).expect("bin");
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
    let wrapper = dir.path().join("bin/virsh");
    std::fs::write(&wrapper, WRAPPER).expect("wrapper");
    std::process::Command::new("chmod").arg("+x").arg(&wrapper).status().expect("chmod");
    dir
}

#[test]
fn batched_domain_reads_match_one_virsh_per_read() {
    let Some(real) = real_virsh() else {
        eprintln!("\n!!! SKIPPED batched_domain_reads_match_one_virsh_per_read: no virsh (apt-get install libvirt-clients) !!!\n");
        return;
    };
    let dir = setup(NODE);
    for shell in ["sh", "bash"] {
        let (batched, calls) = run(shell, dir.path(), &real, false);
        let (per_read, fallback_calls) = run(shell, dir.path(), &real, true);
        // capabilities, list --all, the names, the batch; the fallback adds 2 lists and 7 reads.
        assert_eq!((calls, fallback_calls), (4, 4 + 2 + 7), "{shell}: virsh processes started");
        let got: Vec<(&str, &str, Option<i32>)> =
            batched.iter().map(|s| (s.kind.as_str(), s.arg.as_str(), s.status)).collect();
        let odd = "-dash & \"q\" \\x";
        let want = [
            ("lv-xml", "it's a  b"),
            ("lv-xml", "plain"),
            ("lv-xml", odd),
            ("lv-live", "it's a  b"),
            ("lv-vcpu", "it's a  b"),
            ("lv-live", "plain"),
            ("lv-vcpu", "plain"),
            ("lv-caps", "-"),
            ("lv-list", "-"),
        ];
        assert_eq!(got, want.map(|(k, a)| (k, a, Some(0))), "{shell}");
        assert!(batched[2].body.contains("<name>-dash &amp;"), "{shell}: {}", batched[2].body);
        assert!(batched[4].body.contains("CPU Affinity"), "{shell}: {}", batched[4].body);
        assert_eq!(batched, per_read, "{shell}: the batch differs from one virsh per read");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).expect("ls").collect();
        assert!(left.is_empty(), "{shell}: temp folder left behind");
    }
}

/// Long names: a batch ends past 64 KiB of commands, so two running domains with 12,000-byte
/// names take two batches (each under Linux's 128 KiB for one argument); a 30,000-byte name's
/// reads alone are over it, the batch cannot start, and the reads fall back to one virsh each.
#[test]
fn long_names_split_batches_and_an_oversized_one_falls_back() {
    let Some(real) = real_virsh() else {
        eprintln!("\n!!! SKIPPED long_names_split_batches_and_an_oversized_one_falls_back: no virsh !!!\n");
        return;
    };
    let dom = |name: &str, n: u32| {
        format!("<domain type='test'><name>{name}</name><uuid>00000000-0000-0000-0000-00000000000{n}</uuid><memory>65536</memory><os><type>hvm</type></os></domain>")
    };
    let (a, b, huge) = ("a".repeat(12_000), "b".repeat(12_000), "c".repeat(30_000));
    // caps, list --all and the names; then the batches, or (the batch never starts: E2BIG) the
    // fallback's 2 lists and 3 reads.
    for (node, names, want_calls) in [
        (format!("<node>{}{}</node>", dom(&a, 1), dom(&b, 2)), vec![&a, &b], 3 + 2),
        (format!("<node>{}</node>", dom(&huge, 3)), vec![&huge], 3 + 2 + 3),
    ] {
        let dir = setup(&node);
        let (got, calls) = run("sh", dir.path(), &real, false);
        let (per_read, _) = run("sh", dir.path(), &real, true);
        assert_eq!(calls, want_calls, "virsh processes for names of {} bytes", names[0].len());
        assert_eq!(got, per_read, "the same sections either way");
        let xml: Vec<&str> =
            got.iter().filter(|s| s.kind == "lv-xml" && s.status == Some(0)).map(|s| s.arg.as_str()).collect();
        assert_eq!(xml, names.iter().map(|n| n.as_str()).collect::<Vec<_>>());
        assert!(got.iter().any(|s| s.kind == "lv-vcpu" && s.body.contains("CPU Affinity")), "vcpuinfo read");
    }
}
