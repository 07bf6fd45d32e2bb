//! A stateful fake host, without root: the xm simulator (`crates/xmsim`) behind the local
//! transport, on an OVM-style repository in a temporary folder.
//!
//! Why: the fake transport replays fixed replies and keeps no host state, so "apply, then plan
//! shows no changes" could only be proven by the root e2e tests (network namespaces, sshd). Here
//! every script domform sends runs in a real `sh` against a host that remembers what it was told:
//! the simulator keeps domains, memory and pinning in its state folder, disks are real sparse
//! files, vm.cfg files are real files. `xm` on the host's PATH is domform's own binary through a
//! link (it acts as the simulator when called `xm`, as `domform demo` does); tests read the
//! simulator's state in process through the `xmsim` library.
//!
//! Layout of the folder:
//! - `OVS/Repositories/<id>/{VirtualMachines,VirtualDisks,ISOs,Templates}` and `.ovsrepo`;
//! - `xmsim/` with `topology.conf`: the simulator's state (`XMSIM_ROOT`);
//! - `bin/xm` (the link) and `bin/reflink`: ocfs2-tools' `reflink`, played by a sparse copy, so
//!   snapshots work as on OVM's OCFS2 repositories although the folder is on ext4 or tmpfs.
//!
//! Include it with `#[path = "../common/simhost.rs"] mod simhost;` (or `common/simhost.rs` from a
//! single-file test); a test crate that uses only part of it should not fail on dead code.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use domform::model::{Host, Model};
use domform::observe::{self, Observed};
use domform::plan::{self, HostPlan};
use domform::transport::local::LocalTransport;
use domform::transport::Transport;

/// The simulated machine: CPUs, memory, dom0's share.
pub struct Topology {
    /// Sockets × cores per socket × threads per core logical CPUs, siblings adjacent.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// dom0's CPUs, xend syntax (`0-1`).
    pub dom0_cpus: String,
    /// Host memory in MiB.
    pub memory_mib: u64,
}

impl Default for Topology {
    /// 2 sockets × 8 cores × 2 threads (32 CPUs), 512 GiB: room for every example.
    fn default() -> Self {
        Topology { sockets: 2, cores: 8, threads: 2, dom0_cpus: "0-1".into(), memory_mib: 512 * 1024 }
    }
}

/// One simulated Oracle VM server; the folder is removed when it is dropped.
pub struct SimHost {
    dir: tempfile::TempDir,
    repo_id: String,
}

/// What a run of the real binary gave: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl SimHost {
    /// A host whose one repository is `/OVS/Repositories/<repo_id>` under the folder.
    pub fn new(repo_id: &str, topology: &Topology) -> SimHost {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = SimHost { dir, repo_id: repo_id.to_string() };
        for d in ["VirtualMachines", "VirtualDisks", "ISOs", "Templates"] {
            std::fs::create_dir_all(host.repo().join(d)).expect("mkdir repository");
        }
        std::fs::write(host.repo().join(".ovsrepo"), format!("OVS_REPO_ALIAS=sim-{repo_id}\n")).expect(".ovsrepo");
        let t = topology;
        std::fs::create_dir_all(host.sim_root()).expect("mkdir xmsim");
        std::fs::write(
            host.sim_root().join("topology.conf"),
            format!(
                "hostname = sim\nsockets = {}\ncores_per_socket = {}\nthreads_per_core = {}\nsiblings = adjacent\n\
                 dom0_cpus = {}\ntotal_memory_mib = {}\ndom0_memory_mib = 2048\nshutdown_seconds = 0.05\n",
                t.sockets, t.cores, t.threads, t.dom0_cpus, t.memory_mib
            ),
        )
        .expect("topology.conf");
        let bin = host.root().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir bin");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_domform"), bin.join("xm")).expect("link xm");
        let reflink = bin.join("reflink");
        std::fs::write(
            &reflink,
            "#!/bin/sh\n# ocfs2-tools' reflink, played by a sparse copy\nexec cp --sparse=always -- \"$1\" \"$2\"\n",
        )
        .expect("reflink");
        std::fs::set_permissions(&reflink, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        host
    }

    /// The folder everything lives in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The repository's path (as a host path: absolute, under the folder).
    pub fn repo(&self) -> PathBuf {
        self.root().join("OVS/Repositories").join(&self.repo_id)
    }

    fn sim_root(&self) -> PathBuf {
        self.root().join("xmsim")
    }

    /// The environment every script on this host runs with: the simulator first on PATH.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = format!("{}:{}", self.root().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        vec![("PATH".into(), path), ("XMSIM_ROOT".into(), self.sim_root().display().to_string())]
    }

    /// The local transport to this host, as domform's own `transport: local` would open it.
    pub fn transport(&self, name: &str) -> LocalTransport {
        self.env().into_iter().fold(LocalTransport::new(name), |t, (k, v)| t.with_env(k, v))
    }

    /// Runs the real `domform` binary with this host's environment and `extra` variables.
    pub fn domform(&self, args: &[&str], extra: &[(String, String)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_domform"))
            .args(args)
            .envs(self.env().into_iter().chain(extra.iter().cloned()))
            .stdin(Stdio::null())
            .output()
            .expect("run domform");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Run { code: out.status.code().unwrap_or(-1), out: text(&out.stdout), err: text(&out.stderr) }
    }

    /// One `xm` call, run in this process by the simulator's library: (exit code, stdout).
    pub fn xm(&self, args: &[&str]) -> (i32, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (mut stdin, mut out, mut err) = (std::io::empty(), Vec::new(), Vec::new());
        let mut io = xmsim::Io { stdin: &mut stdin, stdout: &mut out, stderr: &mut err, tty: false };
        let code = xmsim::run_with_io("xm", &args, &self.sim_root(), &mut io);
        (code, String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err))
    }

    /// The vm.cfg whose `OVM_simple_name` is `name`, with its path.
    pub fn vm_cfg(&self, name: &str) -> Option<(PathBuf, vmcfg::VmCfg)> {
        let dirs = std::fs::read_dir(self.repo().join("VirtualMachines")).expect("VirtualMachines");
        dirs.filter_map(Result::ok).map(|d| d.path().join("vm.cfg")).find_map(|p| {
            let cfg = vmcfg::VmCfg::parse(&std::fs::read_to_string(&p).ok()?).ok()?;
            let simple = cfg.get("OVM_simple_name").and_then(|v| v.as_str().map(str::to_string));
            (simple.as_deref() == Some(name)).then_some((p, cfg))
        })
    }

    /// Reads the host as `plan` does (one exec, no lock).
    pub fn observe(&self, model: &Model, host: &Host) -> Observed {
        let req = observe::request_for(host, observe::fleet::extra_paths(model, &host.name));
        observe::observe(&mut self.transport(&host.name), &req).expect("observe the simulated host")
    }

    /// What `plan` would do on this host now.
    pub fn plan(&self, model: &Model, host: &str) -> HostPlan {
        let h = model.hosts.get(host).expect("declared host");
        plan::plan_host(model, &self.observe(model, h))
    }

    /// `apply` through the library: lock and observe in one exec, plan, run the first `steps`
    /// changes (all with `usize::MAX`; fewer plays a run killed half-way), release the lock.
    /// Returns the plan that was (partly) run; panics when a step that ran failed.
    pub fn apply(&self, model: &Model, host: &str, steps: usize) -> HostPlan {
        let target = domform::target::resolve(model, host).expect("declared host");
        let mut t = self.transport(host);
        let obs = domform::target::lock_and_observe(&mut t, target.as_ref()).expect("lock and observe");
        let mut hp = plan::plan_host(model, &obs);
        assert!(hp.errors.is_empty(), "the plan has errors: {:?}", hp.errors);
        let full = hp.clone();
        hp.changes.truncate(steps);
        // Secrets become values at the edge, as `engine::execute` does.
        let hp = domform::apply::secrets::resolve(&hp, Some(&obs)).expect("secrets resolve");
        let report = target.apply(&mut t, &hp, None);
        t.end_background();
        assert!(report.ok(), "apply failed: {report:#?}");
        full
    }
}

/// Loads a model from YAML text (written to a file beside nothing else).
pub fn load(yaml: &str) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("domform.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    let mut model = domform::manifest::load(&[path]).unwrap_or_else(|e| panic!("model does not load: {e:#?}\n{yaml}"));
    domform::ops::resolve_secrets(&mut model);
    model
}
