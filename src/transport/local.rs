//! Running on this machine: for domform on dom0 itself, and for `demo`.
//!
//! Every script runs in its own process group (as sshd makes every session its own), so a time
//! limit can end everything the script started, and the host-side watchdog's `kill 0`
//! ([`super::limit::WATCHDOG_FNS`]) never reaches domform itself.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::limit::Deadline;
use super::{read_until_marker, Background, ExecOutput, Limit, Transport, TransportError};

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
        let mut child = self.sh(script, Stdio::piped()).spawn().map_err(|e| err(format!("cannot start sh: {e}")))?;
        let mut deadline = Deadline::new(limit);
        if let Some(mut pipe) = child.stdin.take() {
            let data = stdin.to_vec();
            // A thread, so a script that prints a lot before reading stdin cannot deadlock us.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = e.read_to_end(&mut buf);
                buf
            })
        });
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        if let Some(mut out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut chunk = [0u8; 16 * 1024];
                while let Ok(n) = out.read(&mut chunk) {
                    if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        } else {
            drop(tx);
        }
        let mut stdout = Vec::new();
        let mut timed_out = false;
        loop {
            let next = match deadline.remaining() {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(left) => rx.recv_timeout(left),
            };
            match next {
                Ok(chunk) => {
                    deadline.saw_stdout(&chunk);
                    stdout.extend_from_slice(&chunk);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    break;
                }
            }
        }
        // stdout closed: the script is ending; it still gets the rest of its time to exit.
        while !timed_out && limit.is_some() {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if deadline.expired() => timed_out = true,
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
                Err(e) => return Err(err(e.to_string())),
            }
        }
        if timed_out {
            kill_group(&mut child);
        }
        let status = child.wait().map_err(|e| err(e.to_string()))?;
        let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        let status = if timed_out { -1 } else { status.code().unwrap_or(-1) };
        Ok(ExecOutput { status, stdout, stderr, lost: None, timed_out })
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
        let Some(mut out) = child.stdout.take() else {
            let status = child.wait().map_err(|e| err(e.to_string()))?;
            return Ok(Background {
                output: String::new(),
                ended: Some(status.code().unwrap_or(-1)),
                timed_out: false,
            });
        };
        // The marker is awaited on a thread so the limit can be enforced here; what the thread
        // read so far is shared, so a timeout still reports it.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let shared = seen.clone();
        let marker_owned = marker.to_string();
        std::thread::spawn(move || {
            let mut reader = Progress { inner: &mut out, seen: shared };
            let mut output = String::new();
            let _ = tx.send(read_until_marker(&mut reader, &marker_owned, &mut output).map(|f| (f, output)));
        });
        let deadline = Deadline::new(limit);
        let got = match deadline.remaining() {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(left) => rx.recv_timeout(left),
        };
        match got {
            Ok(Ok((true, output))) => {
                self.background = Some(child);
                Ok(Background { output, ended: None, timed_out: false })
            }
            Ok(Ok((false, output))) => {
                let status = child.wait().map_err(|e| err(e.to_string()))?;
                Ok(Background { output, ended: Some(status.code().unwrap_or(-1)), timed_out: false })
            }
            Ok(Err(e)) => Err(err(e.to_string())),
            Err(_) => {
                kill_group(&mut child);
                let _ = child.wait();
                let output = seen.lock().map(|s| s.clone()).unwrap_or_default();
                Ok(Background { output, ended: Some(-1), timed_out: true })
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

/// A reader that also copies what it reads into `seen` (lossy text).
struct Progress<'a, R: Read> {
    inner: &'a mut R,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut s) = self.seen.lock() {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Ok(n)
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

    /// A unique `sleep` so the test can tell its processes from anybody else's.
    fn sleeper() -> String {
        format!("sleep {}.{}", 300 + std::process::id() % 100, std::process::id())
    }

    fn running(pattern: &str) -> bool {
        Command::new("pgrep").args(["-f", pattern]).output().is_ok_and(|o| o.status.success())
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
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!running(&sl), "the script's processes outlived the limit");
        let quick = t.exec_limited("echo ok", &[], Some(&limit)).expect("runs");
        assert!(!quick.timed_out);
        assert_eq!((quick.status, quick.stdout_text().as_str()), (0, "ok\n"));
    }

    #[test]
    fn a_per_line_limit_restarts_at_its_lines() {
        let mut t = LocalTransport::new("here");
        let limit = Limit::per_line(std::time::Duration::from_millis(700), "@@ step");
        let steps = "for i in 1 2 3 4; do echo \"@@ step $i\"; sleep 0.4; done; echo end";
        let out = t.exec_limited(steps, &[], Some(&limit)).expect("runs");
        assert!(!out.timed_out, "1.6 s of 0.4 s steps under a 0.7 s per-step limit: {out:?}");
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
