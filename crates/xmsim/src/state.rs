//! Persistent simulator state, shared by every `xm` invocation on a host.
//!
//! Each command is a separate process, so the "hypervisor" lives on disk:
//!
//! ```text
//! <root>/topology.conf        host description (optional, see topology.rs)
//! <root>/domains/<domid>.json one file per running domain (Domain-0 too)
//! <root>/next_domid           domid counter: ids are never reused
//! <root>/commands.log         one line per invocation (timestamp + argv)
//! <root>/.lock                exclusive lock held while state is touched
//! ```
//!
//! Files are written through a temp file and `rename`, and every command
//! holds `.lock`, so concurrent invocations cannot corrupt state. Timed
//! transitions (a shutdown reaching its deadline) are applied lazily when a
//! command starts, by [`Store::apply_transitions`].

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::topology::Topology;

/// Seconds since the epoch, as a float (xend's `start_time`).
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A virtual block device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Disk {
    /// e.g. `file:/OVS/Repositories/.../x.img` or `phy:/dev/sdb7`.
    pub uname: String,
    /// Frontend name without `/dev/`, e.g. `xvda`.
    pub dev: String,
    pub cdrom: bool,
    /// `w` or `r`.
    pub mode: String,
}

/// A virtual network interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vif {
    pub bridge: String,
    pub mac: String,
}

/// A VNC framebuffer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vfb {
    pub vnclisten: String,
    pub port: u32,
    pub keymap: String,
}

/// A shutdown or reboot in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingShutdown {
    /// Epoch seconds when the domain is gone (or restarted); `None` while the
    /// domain is paused (a paused guest cannot act on the request).
    pub deadline: Option<f64>,
    pub reboot: bool,
}

/// One running domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Domain {
    pub domid: u32,
    pub name: String,
    pub uuid: String,
    /// Current memory, MiB.
    pub memory: u64,
    /// Maximum memory, MiB.
    pub maxmem: u64,
    pub online_vcpus: u32,
    pub max_vcpus: u32,
    /// Per-vcpu hard affinity (len == max_vcpus); an empty list = not pinned.
    pub affinity: Vec<Vec<usize>>,
    pub cpu_weight: u32,
    pub cpu_cap: u32,
    pub hvm: bool,
    pub bootloader: String,
    pub on_poweroff: String,
    pub on_reboot: String,
    pub on_crash: String,
    pub paused: bool,
    pub shutdown: Option<PendingShutdown>,
    pub start_time: f64,
    pub disks: Vec<Disk>,
    pub vifs: Vec<Vif>,
    pub vfb: Option<Vfb>,
    pub console_port: u32,
    /// The vm.cfg this domain was created from (empty for Domain-0).
    pub cfg_path: String,
    /// Domain-0 only: the topology values it was generated from.
    #[serde(default)]
    pub fingerprint: String,
}

impl Domain {
    pub fn is_dom0(&self) -> bool {
        self.domid == 0
    }

    /// Builds Domain-0 from the host description.
    pub fn dom0(topo: &Topology, start_time: f64) -> Domain {
        let n = topo.dom0_max_vcpus() as u32;
        Domain {
            domid: 0,
            name: "Domain-0".into(),
            uuid: "00000000-0000-0000-0000-000000000000".into(),
            memory: topo.dom0_memory_mib,
            maxmem: topo.dom0_memory_mib,
            online_vcpus: n,
            max_vcpus: n,
            affinity: vec![topo.dom0_cpus.clone(); n as usize],
            cpu_weight: 65535,
            cpu_cap: 0,
            hvm: false,
            bootloader: String::new(),
            on_poweroff: "destroy".into(),
            on_reboot: "restart".into(),
            on_crash: "restart".into(),
            paused: false,
            shutdown: None,
            start_time,
            disks: vec![],
            vifs: vec![],
            vfb: None,
            console_port: 0,
            cfg_path: String::new(),
            fingerprint: topo.dom0_fingerprint(),
        }
    }

    /// Simulated consumed cpu time in seconds (grows slowly with uptime).
    pub fn cpu_time(&self, now: f64) -> f64 {
        let up = (now - self.start_time).max(0.0);
        let rate = if self.is_dom0() { 0.05 } else { 0.01 };
        up * rate * f64::from(self.online_vcpus.max(1))
    }
}

/// Memory (MiB) used by all domains, Domain-0 included.
pub fn used_memory(doms: &[Domain]) -> u64 {
    doms.iter().fold(0u64, |acc, d| acc.saturating_add(d.memory))
}

/// Exclusive lock on the state dir; released (file removed) on drop.
pub struct LockGuard {
    path: PathBuf,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Access to the state directory.
pub struct Store {
    root: PathBuf,
}

/// Uptime Domain-0 already has when the state dir is first used.
const DOM0_UPTIME: f64 = 3.0 * 86400.0 + 2.0 * 3600.0 + 17.0 * 60.0 + 42.0;

const LOCK_STALE: Duration = Duration::from_secs(30);

fn io_err(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

impl Store {
    /// Opens (creating if needed) the state directory.
    pub fn open(root: &Path) -> Result<Store, String> {
        fs::create_dir_all(root.join("domains")).map_err(|e| io_err(root, e))?;
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the exclusive lock, waiting for other invocations; a lock file
    /// older than 30 s is considered abandoned and broken.
    pub fn lock(&self) -> Result<LockGuard, String> {
        let path = self.root.join(".lock");
        let started = SystemTime::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(LockGuard { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > LOCK_STALE);
                    if stale {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed().unwrap_or_default() > LOCK_STALE * 2 {
                        return Err(format!("timed out waiting for {}", path.display()));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(io_err(&path, e)),
            }
        }
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), String> {
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let res = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        res.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(path, e)
        })
    }

    fn domain_path(&self, domid: u32) -> PathBuf {
        self.root.join("domains").join(format!("{domid}.json"))
    }

    /// Appends one line to `commands.log`.
    pub fn log_command(&self, argv0: &str, args: &[String]) -> Result<(), String> {
        let path = self.root.join("commands.log");
        let mut line = timestamp(now());
        line.push(' ');
        line.push_str(&shell_join(argv0, args));
        line.push('\n');
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| io_err(&path, e))
    }

    /// Loads all domains sorted by domid, creating (or refreshing) Domain-0.
    pub fn load(&self, topo: &Topology) -> Result<Vec<Domain>, String> {
        let dir = self.root.join("domains");
        let mut doms = Vec::new();
        let entries = fs::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
            let d: Domain =
                serde_json::from_str(&text).map_err(|e| format!("corrupt state file {}: {e}", path.display()))?;
            doms.push(d);
        }
        doms.sort_by_key(|d| d.domid);
        let fresh = match doms.first() {
            Some(d0) if d0.is_dom0() => (d0.fingerprint != topo.dom0_fingerprint()).then_some(d0.start_time),
            // The host "booted" a few days before the first xm command.
            _ => Some(now() - DOM0_UPTIME),
        };
        if let Some(start) = fresh {
            let d0 = Domain::dom0(topo, start);
            self.save(&d0)?;
            if doms.first().is_some_and(Domain::is_dom0) {
                doms[0] = d0;
            } else {
                doms.insert(0, d0);
            }
        }
        Ok(doms)
    }

    /// Writes one domain's file.
    pub fn save(&self, d: &Domain) -> Result<(), String> {
        let data = serde_json::to_vec_pretty(d).map_err(|e| e.to_string())?;
        self.write_atomic(&self.domain_path(d.domid), &data)
    }

    /// Removes a domain's file.
    pub fn remove(&self, domid: u32) -> Result<(), String> {
        let path = self.domain_path(domid);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Allocates the next domain id (monotonic, never reused).
    pub fn alloc_domid(&self) -> Result<u32, String> {
        let path = self.root.join("next_domid");
        let next: u32 = match fs::read_to_string(&path) {
            Ok(s) => s.trim().parse().map_err(|_| format!("corrupt state file {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(io_err(&path, e)),
        };
        let next = next.max(1);
        self.write_atomic(&path, format!("{}\n", next + 1).as_bytes())?;
        Ok(next)
    }

    /// Applies due shutdowns/reboots. Returns the updated domain list.
    pub fn apply_transitions(&self, mut doms: Vec<Domain>, now: f64) -> Result<Vec<Domain>, String> {
        let mut out = Vec::with_capacity(doms.len());
        for mut d in doms.drain(..) {
            let due = d.shutdown.as_ref().and_then(|s| s.deadline).is_some_and(|t| t <= now);
            if !due {
                out.push(d);
                continue;
            }
            let reboot = d.shutdown.as_ref().is_some_and(|s| s.reboot);
            self.remove(d.domid)?;
            if reboot {
                d.domid = self.alloc_domid()?;
                d.shutdown = None;
                d.paused = false;
                d.start_time = now;
                self.save(&d)?;
                out.push(d);
            }
        }
        out.sort_by_key(|d| d.domid);
        Ok(out)
    }
}

/// Joins argv into one shell-like line, quoting words that need it.
pub fn shell_join(argv0: &str, args: &[String]) -> String {
    let mut words = vec![argv0.to_string()];
    for a in args {
        let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,^@%+".contains(c));
        if plain {
            words.push(a.clone());
        } else {
            words.push(format!("'{}'", a.replace('\'', "'\\''")));
        }
    }
    words.join(" ")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for an epoch time (UTC).
pub fn timestamp(t: f64) -> String {
    let secs = t.floor() as i64;
    let millis = ((t - t.floor()) * 1000.0) as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day) — H. Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_467_059_760.94), "2016-06-27T20:36:00.940Z");
    }

    #[test]
    fn quoting() {
        let args = vec!["vcpu-pin".to_string(), "d".into(), "a b".into(), "".into()];
        assert_eq!(shell_join("xm", &args), "xm vcpu-pin d 'a b' ''");
    }
}
