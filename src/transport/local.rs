//! Running on this machine: for domform on dom0 itself, and for `demo`.
//!
//! Every script runs in its own process group (as sshd makes every session its own), so a time
//! limit can end everything the script started, and the host-side watchdog's `kill 0`
//! ([`super::limit::WATCHDOG_FNS`]) never reaches domform itself.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::limit;
use super::{Background, ExecOutput, Limit, Transport, TransportError};

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
            .stderr(stderr)
            .process_group(0);
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

    fn exec_limited(
        &mut self,
        script: &str,
        stdin: &[u8],
        limit: Option<&Limit>,
    ) -> Result<ExecOutput, TransportError> {
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: script.lines().next().unwrap_or_default().chars().take(80).collect(),
            message: m,
        };
        let (command, input) = super::command_and_input(script, stdin).map_err(err)?;
        let mut child = self.sh(command, Stdio::piped()).spawn().map_err(|e| err(format!("cannot start sh: {e}")))?;
        if let Some(mut pipe) = child.stdin.take() {
            let data = input;
            // A thread, so a script that prints a lot before reading stdin cannot deadlock us.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let got = limit::collect(&mut child, limit, kill_group).map_err(|e| err(e.to_string()))?;
        let status = got.status.and_then(|s| s.code()).unwrap_or(-1);
        Ok(ExecOutput { status, stdout: got.stdout, stderr: got.stderr, lost: None, timed_out: got.timed_out })
    }

    fn exec_count(&self) -> usize {
        self.execs
    }

    fn start_background(
        &mut self,
        script: &str,
        marker: &str,
        limit: Option<&Limit>,
    ) -> Result<Background, TransportError> {
        self.end_background();
        self.execs += 1;
        let err = |m: String| TransportError::Exec {
            host: self.name.clone(),
            command: "background script".into(),
            message: m,
        };
        let mut child = self.sh(script, Stdio::null()).spawn().map_err(|e| err(format!("cannot start sh: {e}")))?;
        match limit::await_marker(&mut child, marker, limit).map_err(|e| err(e.to_string()))? {
            (true, output, _) => {
                self.background = Some(child);
                Ok(Background { output, ended: None, timed_out: false })
            }
            (false, output, timed_out) => {
                if timed_out {
                    kill_group(&mut child);
                }
                let status = child.wait().map_err(|e| err(e.to_string()))?;
                let ended = if timed_out { -1 } else { status.code().unwrap_or(-1) };
                Ok(Background { output, ended: Some(ended), timed_out })
            }
        }
    }

    fn end_background(&mut self) {
        if let Some(mut child) = self.background.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// Kills the script's whole process group (it leads its own, see [`LocalTransport::sh`]).
fn kill_group(child: &mut Child) {
    let pgid = format!("-{}", child.id());
    let killed = Command::new("kill").args(["-KILL", "--", &pgid]).stderr(Stdio::null()).status();
    if !killed.is_ok_and(|s| s.success()) {
        let _ = child.kill();
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

    /// Regression: a 200 KiB script (the apply batch of a VM with 100 disks is that large) failed
    /// with "Argument list too long" because it was one `sh -c` argument.
    #[test]
    fn a_script_larger_than_one_exec_argument_runs() {
        let mut t = LocalTransport::new("here");
        let filler = format!(": {}\n", "x".repeat(1000));
        let script = format!("{}echo \"ran $((6 * 7))\"\nexit 4\n", filler.repeat(200));
        assert!(script.len() > 128 * 1024);
        let out = t.exec(&script, &[]).expect("runs");
        assert_eq!((out.status, out.stdout_text().as_str()), (4, "ran 42\n"), "{}", out.stderr_text());
        assert!(t.exec(&script, b"data").is_err(), "a large script cannot also take stdin");
    }

    /// A `sleep` unique to this call, so a test can tell its processes from anybody else's,
    /// including those of the other tests running in parallel in this process.
    fn sleeper() -> String {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("sleep {}.{:07}{n:03}", 300 + std::process::id() % 100, std::process::id())
    }

    /// Whether a process matching `pattern` is still alive after up to two seconds of waiting
    /// (a killed process may take a moment to leave the process table).
    fn running(pattern: &str) -> bool {
        let alive = || Command::new("pgrep").args(["-f", pattern]).output().is_ok_and(|o| o.status.success());
        for _ in 0..40 {
            if !alive() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        true
    }

    #[test]
    fn a_limit_gives_up_and_kills_the_process_group() {
        let mut t = LocalTransport::new("here");
        let sl = sleeper();
        let limit = Limit::total(std::time::Duration::from_millis(500));
        let out =
            t.exec_limited(&format!("echo started; ( {sl} ) & {sl}; echo never"), &[], Some(&limit)).expect("runs");
        assert!(out.timed_out);
        assert_eq!(out.status, -1);
        assert_eq!(out.stdout_text(), "started\n");
        assert!(!running(&sl), "the script's processes outlived the limit");
        let quick = t.exec_limited("echo ok", &[], Some(&limit)).expect("runs");
        assert!(!quick.timed_out);
        assert_eq!((quick.status, quick.stdout_text().as_str()), (0, "ok\n"));
    }

    #[test]
    fn a_per_line_limit_restarts_at_its_lines() {
        let mut t = LocalTransport::new("here");
        // Wide margins: CI machines are busy, and a step that overruns would fail spuriously.
        let limit = Limit::per_line(std::time::Duration::from_millis(1500), "@@ step");
        let steps = "for i in 1 2 3 4; do echo \"@@ step $i\"; sleep 0.5; done; echo end";
        let out = t.exec_limited(steps, &[], Some(&limit)).expect("runs");
        assert!(!out.timed_out, "2 s of 0.5 s steps under a 1.5 s per-step limit: {out:?}");
        assert!(out.stdout_text().ends_with("end\n"));
        let out =
            t.exec_limited("echo '@@ step 1'; sleep 0.2; echo '@@ step 2'; sleep 5", &[], Some(&limit)).expect("runs");
        assert!(out.timed_out);
        assert_eq!(out.stdout_text(), "@@ step 1\n@@ step 2\n");
    }

    #[test]
    fn a_background_script_that_never_prints_its_marker_is_given_up() {
        let mut t = LocalTransport::new("here");
        let sl = sleeper();
        let limit = Limit::total(std::time::Duration::from_millis(500));
        let bg = t.start_background(&format!("echo partial; {sl}; echo '@@m'"), "@@m", Some(&limit)).expect("starts");
        assert!(bg.timed_out);
        assert_eq!(bg.output, "partial\n");
        assert!(!running(&sl));
        let bg = t.start_background("echo body; echo '@@m'; exec cat >/dev/null", "@@m", Some(&limit)).expect("starts");
        assert_eq!((bg.output.as_str(), bg.ended, bg.timed_out), ("body\n", None, false));
        t.end_background();
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
