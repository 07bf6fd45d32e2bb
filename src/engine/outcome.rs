//! What a command came to, as a value: the command line turns it into the process exit code in
//! one place (`cli::exit_code`), so the contract is written once: 0 done or converged, 1 error,
//! 2 changes pending (`plan --detailed-exitcode`), and for `reconcile` 3 changes left,
//! 4 a host locked, 5 a host unreachable (docs/reconcile.md).

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or nothing to do (exit 0).
    Ok,
    /// A plan with changes, when the caller asked to be told (`plan --detailed-exitcode`; exit 2).
    Pending,
    /// An error, a refusal or a cancelled confirmation; the reason was printed (exit 1).
    Failed,
    /// `reconcile`: changes the policy did not let it make are left (exit 3).
    ChangesLeft,
    /// `reconcile`: a host was locked by another apply past `--lock-timeout` (exit 4).
    Locked,
    /// `reconcile`: a host could not be reached or read in time (exit 5).
    Unreachable,
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

    /// The process exit code: 0 ok, 1 error, 2 changes pending, 3 changes left, 4 locked,
    /// 5 unreachable.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::Pending => 2,
            Outcome::ChangesLeft => 3,
            Outcome::Locked => 4,
            Outcome::Unreachable => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn the_exit_code_contract() {
        let all = [
            Outcome::Ok,
            Outcome::Failed,
            Outcome::Pending,
            Outcome::ChangesLeft,
            Outcome::Locked,
            Outcome::Unreachable,
        ];
        assert_eq!(all.map(Outcome::code), [0, 1, 2, 3, 4, 5]);
        assert_eq!(Outcome::from_ok(false), Outcome::Failed);
    }
}
