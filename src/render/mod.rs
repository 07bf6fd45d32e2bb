//! Output for people and programs. The result goes to stdout; nothing else in domform prints
//! results (diagnostics and logs go to stderr through `tracing` and [`crate::cli`]).

pub mod comment;
pub mod escape;
pub mod licence;
pub mod list;
pub mod metrics;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod snapshots;
pub mod table;

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-v` given: human output shows every change and step in full instead of folding bulk ones.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether `-v` was given (see [`set_verbose`]).
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Orders names as people count: `d2` before `d10`, digit runs compared by value (then by
/// length, so `d01` and `d1` stay distinct), everything else byte by byte.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let trim = |s: &[u8]| {
                    let z = s.iter().take_while(|&&c| c == b'0').count();
                    s[z..].to_vec()
                };
                let (da, db) = (trim(&a[..na]), trim(&b[..nb]));
                let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(&db)).then_with(|| na.cmp(&nb));
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// Whether human output on stdout gets colour: `--color always|never`, else anstream's rules
/// (`NO_COLOR` off, `CLICOLOR_FORCE` on, a terminal on, anything else off).
pub fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// The same for stderr (logs).
pub fn stderr_color() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;

    #[test]
    fn natural_order() {
        let mut v = vec!["d10", "d9", "d1", "d4096", "d999", "d100", "d01", "a", "d"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a", "d", "d1", "d01", "d9", "d10", "d100", "d999", "d4096"]);
        assert_eq!(natural_cmp("data001", "data100"), std::cmp::Ordering::Less);
    }
}
