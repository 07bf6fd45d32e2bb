//! `xm console`: a scripted guest serial console.
//!
//! domform uses the console for first-boot and rescue work: it waits for a
//! `login:` prompt, logs in, runs commands and detaches with Ctrl-]. The
//! simulated guest prints a little boot text and a login prompt, accepts
//! `root` with any password, then behaves like a minimal shell (each command
//! line gives a new prompt). Like a real guest tty it echoes typed input
//! (not the password) and ends lines with `\r\n`. Ctrl-] (0x1d) detaches at
//! once, as does EOF; both exit 0. The state lock is released first, so
//! other `xm` commands can run while a console is attached.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};

use crate::commands::{error, find, parse_opts, wrong_args, CmdResult, Session};
use crate::state::{civil_from_days, now, Domain};

/// Ctrl-] — xenconsole's escape character.
pub const DETACH: u8 = 0x1d;

/// `xm console [-q] <dom>`.
pub fn console_cmd(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('q', "quiet", false)])?;
    if o.pos.len() != 1 {
        return Err(wrong_args(s.prog, "console", 1, 1));
    }
    let doms = s.load()?;
    let d = doms[find(&doms, &o.pos[0])?].clone();
    attach(s, &d)
}

/// Attaches to a domain's console until detach or EOF.
pub fn attach(s: &mut Session, d: &Domain) -> CmdResult {
    if d.is_dom0() {
        return Err(error("Domain-0 has no PV console to attach to"));
    }
    s.unlock();
    let raw = s.io.tty && stty(&["raw", "-echo"]);
    let host = d.name.split('.').next().unwrap_or(&d.name).to_string();
    let res = converse(&host, s.io.stdin, s.io.stdout);
    if raw {
        stty(&["sane"]);
    }
    res.map_err(|e| error(format!("console: {e}")))
}

fn stty(args: &[&str]) -> bool {
    Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success())
}

/// `Mon Jun 27 20:36:00 2016`, like `Last login:` prints it (UTC).
fn ctime(t: f64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = t.max(0.0) as i64;
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {y}",
        DAYS[(days % 7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn banner(host: &str) -> String {
    format!(
        "\r\n\
         [  OK  ] Started Login Service.\r\n\
         [  OK  ] Started Command Scheduler.\r\n\
         [  OK  ] Reached target Multi-User System.\r\n\
         \r\n\
         Oracle Linux Server 7.9\r\n\
         Kernel 4.14.35-2047.510.5.5.el7uek.x86_64 on an x86_64\r\n\
         \r\n\
         {host} login: "
    )
}

enum Phase {
    Login,
    Password(String),
    Shell,
}

/// Runs the console conversation over any reader/writer.
pub fn converse(host: &str, input: &mut dyn Read, out: &mut dyn Write) -> io::Result<()> {
    let prompt = format!("[root@{host} ~]# ");
    let say = |out: &mut dyn Write, s: &str| -> io::Result<()> {
        out.write_all(s.as_bytes())?;
        out.flush()
    };
    say(out, &banner(host))?;
    let mut phase = Phase::Login;
    let mut line: Vec<u8> = Vec::new();
    let mut prev = 0u8;
    let mut byte = [0u8; 1];
    loop {
        let n = match input.read(&mut byte) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        let b = byte[0];
        let after_cr = prev == b'\r';
        prev = b;
        let echo = !matches!(phase, Phase::Password(_));
        match b {
            DETACH => return Ok(()),
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                say(out, "\r\n")?;
                let text = String::from_utf8_lossy(&line).trim().to_string();
                line.clear();
                phase = enter(out, host, &prompt, phase, text)?;
            }
            0x7f | 0x08 => {
                if line.pop().is_some() && echo {
                    say(out, "\x08 \x08")?;
                }
            }
            0x03 => {
                line.clear();
                let p = match phase {
                    Phase::Shell => prompt.clone(),
                    _ => format!("\r\n{host} login: "),
                };
                say(out, &format!("^C\r\n{p}"))?;
                phase = match phase {
                    Phase::Shell => Phase::Shell,
                    _ => Phase::Login,
                };
            }
            0x04 if line.is_empty() && matches!(phase, Phase::Shell) => {
                say(out, "logout\r\n")?;
                say(out, &banner(host))?;
                phase = Phase::Login;
            }
            _ => {
                line.push(b);
                if echo {
                    out.write_all(&[b])?;
                    out.flush()?;
                }
            }
        }
    }
}

/// A line ended with Enter: the next phase of the login, or a shell command run.
fn enter(out: &mut dyn Write, host: &str, prompt: &str, phase: Phase, text: String) -> io::Result<Phase> {
    let say = |out: &mut dyn Write, s: &str| -> io::Result<()> {
        out.write_all(s.as_bytes())?;
        out.flush()
    };
    Ok(match phase {
        Phase::Login if text.is_empty() => {
            say(out, &format!("{host} login: "))?;
            Phase::Login
        }
        Phase::Login => {
            say(out, "Password: ")?;
            Phase::Password(text)
        }
        Phase::Password(user) if user == "root" => {
            say(out, &format!("Last login: {} on hvc0\r\n{prompt}", ctime(now() - 3600.0)))?;
            Phase::Shell
        }
        Phase::Password(_) => {
            say(out, &format!("Login incorrect\r\n\r\n{host} login: "))?;
            Phase::Login
        }
        Phase::Shell => shell_line(out, host, prompt, &text)?,
    })
}

fn shell_line(out: &mut dyn Write, host: &str, prompt: &str, cmd: &str) -> io::Result<Phase> {
    let reply = match cmd.split_whitespace().next().unwrap_or("") {
        "exit" | "logout" => {
            out.write_all(b"logout\r\n")?;
            out.write_all(banner(host).as_bytes())?;
            out.flush()?;
            return Ok(Phase::Login);
        }
        "hostname" => format!("{host}\r\n"),
        "whoami" => "root\r\n".to_string(),
        "echo" => format!("{}\r\n", cmd.strip_prefix("echo").unwrap_or("").trim()),
        _ => String::new(),
    };
    out.write_all(reply.as_bytes())?;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    Ok(Phase::Shell)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talk(input: &[u8]) -> String {
        let mut inp = input;
        let mut out = Vec::new();
        converse("vm1", &mut inp, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn login_and_shell() {
        let out = talk(b"root\rsecret\rhostname\r\x1dignored");
        assert!(out.contains("vm1 login: root\r\nPassword: \r\nLast login: "));
        assert!(!out.contains("secret"));
        assert!(out.contains("[root@vm1 ~]# hostname\r\nvm1\r\n[root@vm1 ~]# "));
        assert!(out.ends_with("[root@vm1 ~]# "));
    }

    #[test]
    fn eof_and_bad_user() {
        let out = talk(b"bob\nx\n");
        assert!(out.ends_with("Login incorrect\r\n\r\nvm1 login: "));
        assert!(talk(b"").ends_with("vm1 login: "));
    }

    #[test]
    fn ctime_format() {
        assert_eq!(ctime(1_467_059_760.0), "Mon Jun 27 20:36:00 2016");
        assert_eq!(ctime(0.0), "Thu Jan  1 00:00:00 1970");
    }
}
