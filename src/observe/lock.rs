//! The host lock: one apply per host at a time, held for the whole apply.
//!
//! A background script takes `flock` on `<repository>/.domform.lock` (the repository, because
//! vm.cfg files live there and a pool may share it), writes who holds it, prints the observe
//! output, and then waits on its stdin. The kernel releases the lock when that script ends:
//! when domform closes it, or when domform dies and sshd (or the pipe) closes it. So a killed
//! run never leaves a lock behind to take over by hand; a second apply fails fast and names
//! the holder (controller host, pid, start time). A scheduled `reconcile --lock-timeout` tries
//! the busy lock again until its deadline instead (`fleet.rs`, `Mode::LockWaiting`).
//!
//! The lock is `flock(2)` on the script's fd 9, taken with `flock -n 9` where util-linux has
//! flock(1), else with Python's `fcntl.flock` on the same inherited fd (every OVM dom0 has
//! Python: xend is written in it; Python 2.4 on OL5, whose util-linux 2.13 may lack flock(1)).
//! Either way the lock belongs to the open file behind fd 9, so it lives exactly as long as the
//! script, whichever program took it.
//!
//! It lives in `observe` because taking it *is* an observe: the lock script prints the observe
//! output in the same round trip; which observe, and which lock file, is the target kind's
//! (`crate::target::lock_and_observe`). Who holds it afterwards is the engine's `Session`, which ends
//! the script (and so frees the lock) when it is dropped.

use crate::transport::{quote, Limit, Transport, TransportError};

/// Why a host could not be locked and observed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another apply holds the lock.
    #[error("{host} is locked by another apply ({holder}); try again when it has finished")]
    Busy {
        /// Host.
        host: String,
        /// Holder line (controller, pid, start time).
        holder: String,
    },
    /// The lock could not be taken for another reason.
    #[error("{host}: cannot take the lock {path}: {message}")]
    Failed {
        /// Host.
        host: String,
        /// Lock file.
        path: String,
        /// Output.
        message: String,
    },
    /// The host could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Why [`locked`] failed.
pub enum Locked {
    /// Busy, could not lock, or the host could not be reached.
    Lock(LockError),
    /// The limit ran out before the observe part finished; what it printed so far.
    TimedOut {
        /// The run's section marker.
        marker: String,
        /// What the observe part printed before the limit.
        output: String,
    },
}

impl From<TransportError> for Locked {
    fn from(e: TransportError) -> Self {
        Locked::Lock(LockError::Transport(e))
    }
}

/// Starts the lock script around `observe(marker)`; returns what the observe part printed and
/// the marker. Each target kind brings its own observe script (`target::lock_and_observe`).
pub fn locked(
    t: &mut dyn Transport,
    name: &str,
    path: String,
    limit: &Limit,
    observe: impl FnOnce(&str) -> String,
) -> Result<(String, String), Locked> {
    let marker = super::script::new_marker();
    let text = script(&path, &holder_info(), &marker, &observe(&marker));
    let (locked, observed) = markers(&marker);
    let bg = t.start_background(&text, &observed, Some(limit))?;
    if bg.timed_out || super::timed_out_on_host(&bg.output, &marker) {
        t.end_background();
        let output = bg.output.split_once(&format!("{locked}\n")).map(|(_, rest)| rest).unwrap_or_default();
        return Err(Locked::TimedOut { marker, output: output.to_string() });
    }
    if let Some(status) = bg.ended {
        let busy = format!("{marker} busy\n");
        return Err(Locked::Lock(match bg.output.split_once(&busy) {
            Some((_, holder)) => LockError::Busy { host: name.to_string(), holder: holder.trim().to_string() },
            None => LockError::Failed {
                host: name.to_string(),
                path,
                message: format!("exit status {status}: {}", bg.output.trim()),
            },
        }));
    }
    let body = bg.output.split_once(&format!("{locked}\n")).map(|(_, rest)| rest).unwrap_or(&bg.output);
    Ok((body.to_string(), marker))
}

/// The lock file for a host with these repositories.
pub fn lock_path(repositories: &[String]) -> String {
    match repositories.first() {
        Some(r) => format!("{r}/.domform.lock"),
        None => "/var/lock/domform.lock".into(),
    }
}

/// Who is applying: this machine, this process, now.
pub fn holder_info() -> String {
    let host =
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    format!("controller={host} pid={} started={}", std::process::id(), utc_now())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Marker lines of the lock script.
pub fn markers(marker: &str) -> (String, String) {
    (format!("{marker} locked"), format!("{marker} observed"))
}

/// `lk`: takes an exclusive, non-blocking flock on fd 9; returns 1 when another process holds
/// it, 2 when it cannot lock at all (message on stdout, where the caller reads it).
const LOCK_FN: &str =
    "lk() { if command -v flock >/dev/null 2>&1; then flock -n 9; r=$?; [ $r -le 1 ] || r=2; return $r; fi; \
if command -v python >/dev/null 2>&1; then python -c 'import errno, fcntl, sys
try:
    fcntl.flock(9, fcntl.LOCK_EX | fcntl.LOCK_NB)
except IOError:
    e = sys.exc_info()[1]
    if e.errno in (errno.EAGAIN, errno.EACCES):
        sys.exit(1)
    sys.stdout.write(\"flock: %s\\n\" % e)
    sys.exit(2)'; return $?; fi; \
echo 'neither flock(1) nor python is on this host: cannot take the host lock'; return 2; }\n";

/// The lock script: busy → prints `<marker> busy` and the holder, exits 75; locked → prints
/// `<marker> locked`, runs `observe`, prints `<marker> observed` and waits on stdin.
pub fn script(lock: &str, holder: &str, marker: &str, observe: &str) -> String {
    let l = quote(lock);
    let h = quote(&format!("{lock}.holder"));
    let m = quote(marker);
    format!(
        "{LOCK_FN}exec 9>>{l} || exit 70\n\
         lk; r=$?\n\
         if [ $r -eq 1 ]; then printf '%s busy\\n' {m}; cat {h} 2>/dev/null; exit 75; fi\n\
         [ $r -eq 0 ] || exit 71\n\
         printf '%s\\n' {info} > {h}\n\
         printf '%s locked\\n' {m}\n\
         {observe}\n\
         printf '%s observed\\n' {m}\n\
         exec cat >/dev/null\n",
        info = quote(holder)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_format() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }

    #[test]
    fn lock_lives_in_the_repository() {
        assert_eq!(lock_path(&["/OVS/Repositories/r".into()]), "/OVS/Repositories/r/.domform.lock");
    }
}
