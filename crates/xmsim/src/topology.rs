//! The simulated host: cpu topology, memory and a few behaviour knobs.
//!
//! domform's pinning logic depends on which logical cpus are hyperthread
//! siblings, and real boxes number them in two ways (siblings adjacent, or
//! split by half the cpu count). Tests pick one through `topology.conf` in
//! the state dir, a file of `key = value` lines (`#` starts a comment).
//! A missing file gives the built-in default host.

use std::path::Path;

use crate::cpuset;

/// How hyperthread siblings are numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Siblings {
    /// Threads `2k` and `2k+1` share a core (generalised: `n / threads`).
    Adjacent,
    /// Thread `n` and `n + total_cores` share a core.
    Split,
}

/// The host description read from `topology.conf`.
#[derive(Debug, Clone)]
pub struct Topology {
    pub sockets: usize,
    pub cores_per_socket: usize,
    pub threads_per_core: usize,
    pub siblings: Siblings,
    /// Physical cpus Domain-0's vcpus are pinned to; their count is
    /// `dom0_max_vcpus`.
    pub dom0_cpus: Vec<usize>,
    pub total_memory_mib: u64,
    pub dom0_memory_mib: u64,
    pub hostname: String,
    /// How long a clean shutdown (or reboot) takes, in seconds.
    pub shutdown_seconds: f64,
    pub vnc_base_port: u32,
}

/// Keys accepted in `topology.conf` (documented in the crate README/report).
pub const KEYS: &[&str] = &[
    "sockets",
    "cores_per_socket",
    "threads_per_core",
    "siblings",
    "dom0_cpus",
    "total_memory_mib",
    "dom0_memory_mib",
    "hostname",
    "shutdown_seconds",
    "vnc_base_port",
];

impl Default for Topology {
    fn default() -> Self {
        Topology {
            sockets: 1,
            cores_per_socket: 4,
            threads_per_core: 2,
            siblings: Siblings::Adjacent,
            dom0_cpus: vec![0, 1],
            total_memory_mib: 16384,
            dom0_memory_mib: 1024,
            hostname: "ovs-sim.example.com".to_string(),
            shutdown_seconds: 0.0,
            vnc_base_port: 5900,
        }
    }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse::<T>().map_err(|_| format!("invalid value for {key}: '{v}'"))
}

impl Topology {
    /// Loads `<root>/topology.conf`, or the default when the file is absent.
    pub fn load(root: &Path) -> Result<Topology, String> {
        let path = root.join("topology.conf");
        match std::fs::read_to_string(&path) {
            Ok(text) => Topology::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Topology::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Parses the `key = value` text of a `topology.conf`.
    pub fn parse(text: &str) -> Result<Topology, String> {
        let mut t = Topology::default();
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let lineno = idx + 1;
            let (k, v) = line.split_once('=').ok_or_else(|| format!("line {lineno}: expected 'key = value'"))?;
            let key = k.trim();
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            let res: Result<(), String> = (|| {
                match key {
                    "sockets" => t.sockets = num(key, v)?,
                    "cores_per_socket" => t.cores_per_socket = num(key, v)?,
                    "threads_per_core" => t.threads_per_core = num(key, v)?,
                    "siblings" => {
                        t.siblings = match v {
                            "adjacent" => Siblings::Adjacent,
                            "split" => Siblings::Split,
                            _ => return Err(format!("siblings must be adjacent or split, not '{v}'")),
                        }
                    }
                    "dom0_cpus" => t.dom0_cpus = cpuset::parse(v)?,
                    "total_memory_mib" => t.total_memory_mib = num(key, v)?,
                    "dom0_memory_mib" => t.dom0_memory_mib = num(key, v)?,
                    "hostname" => t.hostname = v.to_string(),
                    "shutdown_seconds" => {
                        let s: f64 = num(key, v)?;
                        if !s.is_finite() || s < 0.0 {
                            return Err(format!("invalid value for {key}: '{v}'"));
                        }
                        t.shutdown_seconds = s;
                    }
                    "vnc_base_port" => t.vnc_base_port = num(key, v)?,
                    _ => return Err(format!("unknown key '{key}'")),
                }
                Ok(())
            })();
            res.map_err(|e| format!("line {lineno}: {e}"))?;
        }
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<(), String> {
        if self.sockets == 0 || self.cores_per_socket == 0 || self.threads_per_core == 0 {
            return Err("sockets, cores_per_socket and threads_per_core must be > 0".into());
        }
        if self.nr_cpus() > 4096 {
            return Err("too many cpus (max 4096)".into());
        }
        if self.dom0_cpus.is_empty() {
            return Err("dom0_cpus must not be empty".into());
        }
        if let Some(c) = self.dom0_cpus.iter().find(|&&c| c >= self.nr_cpus()) {
            return Err(format!("dom0_cpus: cpu {c} does not exist"));
        }
        if self.dom0_memory_mib >= self.total_memory_mib {
            return Err("dom0_memory_mib must be below total_memory_mib".into());
        }
        Ok(())
    }

    /// Logical cpus (hyperthreads), xm info's `nr_cpus`.
    pub fn nr_cpus(&self) -> usize {
        self.sockets.saturating_mul(self.cores_per_socket).saturating_mul(self.threads_per_core)
    }

    /// Physical cores over all sockets.
    pub fn total_cores(&self) -> usize {
        self.sockets.saturating_mul(self.cores_per_socket)
    }

    /// NUMA nodes: one per socket.
    pub fn nr_nodes(&self) -> usize {
        self.sockets
    }

    /// `(core, socket, node)` of a logical cpu, as `xm info -n` prints them
    /// (core numbers restart at 0 in each socket).
    pub fn cpu_location(&self, cpu: usize) -> (usize, usize, usize) {
        let global_core = match self.siblings {
            Siblings::Adjacent => cpu / self.threads_per_core,
            Siblings::Split => cpu % self.total_cores(),
        };
        let socket = global_core / self.cores_per_socket;
        (global_core % self.cores_per_socket, socket, socket)
    }

    /// Number of Domain-0 vcpus (`dom0_max_vcpus=` on the Xen command line).
    pub fn dom0_max_vcpus(&self) -> usize {
        self.dom0_cpus.len()
    }

    /// A fingerprint of the values Domain-0 is built from, so a changed
    /// `topology.conf` regenerates it.
    pub fn dom0_fingerprint(&self) -> String {
        format!("{}|{}|{}", cpuset::compress(&self.dom0_cpus), self.dom0_memory_mib, self.nr_cpus())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_locations() {
        let t = Topology::parse(
            "# box\nsockets = 2\ncores_per_socket = 2\nthreads_per_core = 2\nsiblings = split\n\
             dom0_cpus = \"0-3\"\nhostname = h1\nshutdown_seconds = 0.5\n",
        )
        .unwrap();
        assert_eq!(t.nr_cpus(), 8);
        assert_eq!(t.dom0_max_vcpus(), 4);
        assert_eq!(t.cpu_location(0), (0, 0, 0));
        assert_eq!(t.cpu_location(2), (0, 1, 1));
        assert_eq!(t.cpu_location(5), (1, 0, 0));
        assert_eq!(t.shutdown_seconds, 0.5);
    }

    #[test]
    fn bad_files() {
        assert!(Topology::parse("sockets = x").is_err());
        assert!(Topology::parse("bogus = 1").is_err());
        assert!(Topology::parse("dom0_cpus = 0-99").is_err());
        assert!(Topology::parse("siblings = weird").is_err());
        assert!(Topology::parse("novalue").is_err());
    }
}
