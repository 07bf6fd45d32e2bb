//! The one confirmation prompt: before an apply, and before a destructive command (a snapshot
//! deleted or reverted, a VM destroyed with `--force`).
//!
//! On a terminal only `yes` goes on; without one only `--auto-approve` does (a script never
//! hangs waiting for an answer nobody will type).

use std::io::{BufRead, IsTerminal, Write};

/// Asks `question` on stderr and reads the answer from stdin. `Err` is why nothing happens.
pub fn confirm(question: &str, auto_approve: bool) -> Result<(), String> {
    if auto_approve {
        return Ok(());
    }
    let terminal = std::io::stdin().is_terminal();
    confirm_with(question, terminal, &mut std::io::stdin().lock(), &mut std::io::stderr())
}

/// [`confirm`] with its terminal test, input and prompt output given (for tests).
pub fn confirm_with(
    question: &str,
    terminal: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
) -> Result<(), String> {
    let question = crate::render::escape::line(question);
    if !terminal {
        return Err(format!(
            "{question}: no terminal to confirm on; pass --auto-approve (or, for apply, save a plan with `plan -o` and apply that)"
        ));
    }
    let _ = write!(prompt, "\n{question}? Only 'yes' will be accepted: ");
    let _ = prompt.flush();
    let mut answer = String::new();
    let _ = input.read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err("cancelled; nothing was changed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::confirm_with;

    #[test]
    fn only_yes_goes_on() {
        let mut out = Vec::new();
        assert_eq!(confirm_with("Apply", true, &mut &b"yes\n"[..], &mut out), Ok(()));
        assert_eq!(String::from_utf8_lossy(&out), "\nApply? Only 'yes' will be accepted: ");
        for answer in ["y\n", "YES please\n", "\n", ""] {
            let e = confirm_with("Apply", true, &mut answer.as_bytes(), &mut Vec::new()).expect_err(answer);
            assert!(e.contains("cancelled"), "{e}");
        }
    }

    #[test]
    fn without_a_terminal_nothing_is_read() {
        let mut out = Vec::new();
        let e = confirm_with("Delete snapshot `s1`", false, &mut &b"yes\n"[..], &mut out).expect_err("no terminal");
        assert!(e.starts_with("Delete snapshot `s1`: no terminal") && e.contains("--auto-approve"), "{e}");
        assert!(out.is_empty());
    }
}
