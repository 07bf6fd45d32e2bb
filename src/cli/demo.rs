//! `domform demo`: the whole loop on a built-in, simulated, local Oracle VM server.
//!
//! Zero set-up: a temporary folder holds an OVM-style repository and the xm simulator's state;
//! `xm` on the demo's PATH is this very binary (it acts as the simulator when called `xm`). The
//! host uses the local transport, so no SSH and no root are needed. It prints the desired
//! state, the plan, the apply report, and a second plan that must say "No changes": the same
//! run loop (`engine::run`) as `plan` and `apply`, over a local connector.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::{self, Format, Intent, Outcome, Request};
use crate::model::Host;
use crate::observe::fleet::observe_hosts;
use crate::transport::local::LocalTransport;
use crate::transport::{Transport, TransportError};

const REPO_ID: &str = "0004fb00000300000000000000d3e0d0";

fn demo_yaml(root: &Path) -> String {
    let repo = root.join("OVS/Repositories").join(REPO_ID);
    format!(
        "# The demo's desired state (a real estate would list SSH hosts instead of `transport: local`).
version: 1
hosts:
  demo-ovs:
    transport: local
    repository: {repo}
    reserved_cpus: \"0-1\"        # dom0's CPUs
vms:
  web01:
    host: demo-ovs
    memory: 1GiB
    vcpus: 2
    cpus: \"2-3\"                 # hard partition: one whole core (threads 2 and 3)
    disks:
      - {{ name: system, size: 8GiB }}
      - {{ name: \"data{{1..3}}\", size: 1GiB }}   # brace range: three disks
    networks:
      - {{ bridge: xenbr0, mac: \"00:21:f6:00:00:01\" }}
    console: {{ serial: true }}
  db01:
    host: demo-ovs
    state: stopped
    memory: 2GiB
    vcpus: 2
    disks:
      - {{ name: system, size: 20GiB }}
    networks:
      - {{ bridge: xenbr0, mac: \"00:21:f6:00:00:02\" }}
",
        repo = repo.display()
    )
}

fn setup(root: &Path) -> std::io::Result<PathBuf> {
    let repo = root.join("OVS/Repositories").join(REPO_ID);
    for d in ["VirtualMachines", "VirtualDisks", "ISOs", "Templates"] {
        std::fs::create_dir_all(repo.join(d))?;
    }
    std::fs::write(repo.join(".ovsrepo"), "OVS_REPO_ALIAS=demo-repository\n")?;
    let sim = root.join("xmsim");
    std::fs::create_dir_all(&sim)?;
    std::fs::write(
        sim.join("topology.conf"),
        "hostname = demo-ovs\nsockets = 1\ncores_per_socket = 4\nthreads_per_core = 2\nsiblings = adjacent\ndom0_cpus = 0-1\ntotal_memory_mib = 16384\ndom0_memory_mib = 1024\nshutdown_seconds = 0.5\n",
    )?;
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::os::unix::fs::symlink(std::env::current_exe()?, bin.join("xm"))?;
    let file = root.join("domform.yaml");
    std::fs::write(&file, demo_yaml(root))?;
    Ok(file)
}

/// Runs the demo.
pub fn run() -> Outcome {
    let root = std::env::temp_dir().join(format!("domform-demo-{}", std::process::id()));
    let code = match setup(&root) {
        Ok(file) => demo(&root, &file),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot set up the demo in {}: {e}", root.display());
            Outcome::Failed
        }
    };
    if std::env::var_os("DOMFORM_DEMO_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        println!("(kept {})", root.display());
    }
    code
}

fn demo(root: &Path, file: &Path) -> Outcome {
    println!("domform demo: the host below is SIMULATED (domform's xm simulator in {}).", root.display());
    println!("Nothing outside that folder is touched. Real hosts are reached over SSH.\n");
    println!("── desired state ({}) ──\n{}", file.display(), std::fs::read_to_string(file).unwrap_or_default());
    let Some(model) = super::load_or_report(&[file.to_path_buf()]) else { return Outcome::Failed };
    let path = format!("{}:{}", root.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let sim = root.join("xmsim").display().to_string();
    let connect = move |h: &Host| -> Result<Box<dyn Transport>, TransportError> {
        Ok(Box::new(
            LocalTransport::new(h.name.clone()).with_env("PATH", path.clone()).with_env("XMSIM_ROOT", sim.clone()),
        ))
    };
    let hosts: Vec<String> = model.hosts.keys().cloned().collect();
    let req = Request { model: &model, hosts: hosts.clone(), targets: &[], parallel: 1, connect: &connect };
    let plan = Intent::Plan { format: Format::Human, out: None, detailed: true, max_chars: None };

    println!("── 1. domform plan ──");
    engine::run(&req, &plan);

    println!("\n── 2. domform apply --auto-approve ──");
    let applied = engine::run(&req, &Intent::Apply { saved: None, auto_approve: true });

    println!("\n── 3. domform plan (again) ──");
    let again = engine::run(&req, &plan);

    println!("\n── 4. domform list ──");
    let results = observe_hosts(&model, &hosts, 1, &connect);
    let rows: Vec<_> =
        results.iter().filter_map(|r| r.observed.as_ref().ok()).flat_map(crate::render::list::rows).collect();
    print!("{}", crate::render::list::table(&rows, false));

    // With --detailed-exitcode semantics, `Ok` from the second plan means: no changes, no errors.
    if applied == Outcome::Ok && again == Outcome::Ok {
        println!("\nDemo complete: apply converged and the second plan is empty.");
        Outcome::Ok
    } else {
        let _ = writeln!(std::io::stderr(), "error: the demo did not converge (see above)");
        Outcome::Failed
    }
}
