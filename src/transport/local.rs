//! Running on this machine: for domform on dom0 itself, and for `demo`.

use std::io::Write;
use std::process::{Child, Command, Stdio};

use super::{read_until_marker, Background, ExecOutput, Transport, TransportError};

/// Runs scripts with `sh -c` on this machine, with optional extra environment (the demo puts
/// the simulator on `PATH` and points it at its state folder).
#[derive(Debug, Default)]
pub struct LocalTransport {
    name: String,
    env: Vec<(String, String)>,
    execs: usize,
    background: Option<Child>,
}

impl LocalTransport {
    /// A local host called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        LocalTransport { name: name.into(), env: Vec::new(), execs: 0, background: None }
    }

    /// `sh -c script` with this transport's environment, stdin and stdout piped.
    fn sh(&self, script: &str, stderr: Stdio) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(script)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        c
    }

    /// Adds an environment variable for every script.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl Transport for LocalTransport {
    fn host(&self) -> &str {
        &self.name
    }

    fn exec(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: script.lines().next().unwrap_or_default().chars().take(80).collect(),
            message: m,
        };
        let mut child = self.sh(script, Stdio::piped()).spawn().map_err(|e| err(format!("cannot start sh: {e}")))?;
        let writer = child.stdin.take().map(|mut pipe| {
            let data = stdin.to_vec();
            // A thread, so a script that prints a lot before reading stdin cannot deadlock us.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            })
        });
        let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
        if let Some(w) = writer {
            let _ = w.join();
        }
        Ok(ExecOutput { status: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr, lost: None })
    }

    fn exec_count(&self) -> usize {
        self.execs
    }

    fn start_background(&mut self, script: &str, marker: &str) -> Result<Background, TransportError> {
        self.end_background();
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: "background script".into(),
            message: m,
        };
        let mut child = self.sh(script, Stdio::null()).spawn().map_err(|e| err(format!("cannot start sh: {e}")))?;
        let mut output = String::new();
        let found = match child.stdout.as_mut() {
            Some(out) => read_until_marker(out, marker, &mut output).map_err(|e| err(e.to_string()))?,
            None => false,
        };
        if found {
            self.background = Some(child);
            Ok(Background { output, ended: None })
        } else {
            let status = child.wait().map_err(|e| err(e.to_string()))?;
            Ok(Background { output, ended: Some(status.code().unwrap_or(-1)) })
        }
    }

    fn end_background(&mut self) {
        if let Some(mut child) = self.background.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

impl Drop for LocalTransport {
    fn drop(&mut self) {
        self.end_background();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_stdin_status_and_streams() {
        let mut t = LocalTransport::new("here").with_env("DOMFORM_T", "v");
        let out = t.exec("read x; echo \"$x $DOMFORM_T\"; echo oops >&2; exit 3", b"hello\n").expect("runs");
        assert_eq!(out.status, 3);
        assert_eq!(out.stdout_text(), "hello v\n");
        assert_eq!(out.stderr_text(), "oops");
        assert_eq!(t.exec_count(), 1);
    }

    #[test]
    fn atomic_write_keeps_a_backup_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a dir 'quoted'");
        std::fs::create_dir(&path).expect("mkdir");
        let file = path.join("vm.cfg");
        let f = file.to_str().expect("utf-8");
        let mut t = LocalTransport::new("here");
        assert_eq!(t.read_file(f).expect("ok"), None);
        t.write_file_atomic(f, b"memory = 1\n", true).expect("first write");
        t.write_file_atomic(f, b"memory = 2\n", true).expect("second write");
        assert_eq!(t.read_file(f).expect("ok").as_deref(), Some(&b"memory = 2\n"[..]));
        assert_eq!(std::fs::read(format!("{f}.domform-bak")).expect("backup"), b"memory = 1\n");
        let leftovers: Vec<_> =
            std::fs::read_dir(&path).expect("ls").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temp files left: {leftovers:?}");
    }

    #[test]
    fn failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("missing-dir").join("vm.cfg");
        let mut t = LocalTransport::new("here");
        let e = t.write_file_atomic(f.to_str().expect("utf-8"), b"x", false).expect_err("no such folder");
        assert!(e.to_string().contains("here"), "{e}");
    }
}
