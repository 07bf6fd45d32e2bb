//! Test harness: a simulated host in a temp dir, driven through
//! `xmsim::run_with_io` with captured stdout/stderr.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct Host {
    pub dir: tempfile::TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Host {
    /// A host with the given `topology.conf` text (None: default host).
    pub fn new(topology: Option<&str>) -> Host {
        let dir = tempfile::tempdir().unwrap();
        if let Some(t) = topology {
            std::fs::create_dir_all(dir.path().join("state")).unwrap();
            std::fs::write(dir.path().join("state/topology.conf"), t).unwrap();
        }
        Host { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `xm args...` (or `argv0 args...`) with `stdin` as input.
    pub fn run_as(&self, argv0: &str, args: &[&str], stdin: &[u8]) -> Out {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut inp = stdin;
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = {
            let mut io = xmsim::Io { stdin: &mut inp, stdout: &mut out, stderr: &mut err, tty: false };
            xmsim::run_with_io(argv0, &args, &self.root(), &mut io)
        };
        Out { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
    }

    pub fn xm(&self, args: &[&str]) -> Out {
        self.run_as("/usr/sbin/xm", args, b"")
    }

    /// `xm` that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.xm(args);
        assert_eq!(o.code, 0, "xm {args:?} failed: {}", o.stderr);
        assert_eq!(o.stderr, "", "xm {args:?} wrote to stderr");
        o.stdout
    }

    /// `xm` that must fail with exit 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.xm(args);
        assert_eq!(o.code, 1, "xm {args:?} should fail; stdout: {}", o.stdout);
        o.stderr
    }

    /// Creates an (empty) disk image file and returns its path.
    pub fn disk(&self, name: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, b"").unwrap();
        p.display().to_string()
    }

    /// Writes a vm.cfg and returns its path.
    pub fn cfg(&self, file: &str, text: &str) -> String {
        let p = self.path(file);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Writes a simple PV vm.cfg for `name` with one disk and returns its path.
    pub fn simple_cfg(&self, name: &str, extra: &str) -> String {
        let disk = self.disk(&format!("{name}.img"));
        self.cfg(
            &format!("{name}.cfg"),
            &format!(
                "name = '{name}'\nmemory = '1024'\nvcpus = 2\n\
                 disk = ['file:{disk},xvda,w']\n\
                 vif = ['mac=00:21:f6:00:00:01,bridge=xenbr0']\n{extra}"
            ),
        )
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.root()).join(rel).exists()
    }
}

/// Rows of `xm list` after the header, split on whitespace.
pub fn list_rows(out: &str) -> Vec<Vec<String>> {
    out.lines().skip(1).map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}
