//! What a command came to, as a value: the command line turns it into the process exit code in
//! one place (`cli::exit_code`), so the contract (0, 1, 2) is written once.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or nothing to do (exit 0).
    Ok,
    /// A plan with changes, when the caller asked to be told (`plan --detailed-exitcode`; exit 2).
    Pending,
    /// An error, a refusal or a cancelled confirmation; the reason was printed (exit 1).
    Failed,
}

impl Outcome {
    /// `Ok` when `ok`, else `Failed`.
    pub fn from_ok(ok: bool) -> Self {
        if ok {
            Outcome::Ok
        } else {
            Outcome::Failed
        }
    }

    /// The process exit code: 0 ok, 1 error, 2 changes pending.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::Pending => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn the_exit_code_contract() {
        assert_eq!([Outcome::Ok, Outcome::Failed, Outcome::Pending].map(Outcome::code), [0, 1, 2]);
        assert_eq!(Outcome::from_ok(false), Outcome::Failed);
    }
}
