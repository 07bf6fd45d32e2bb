//! Sub-command dispatch and the commands that act on running domains.
//!
//! Every invocation takes the state lock, logs its argv, applies due timed
//! transitions and then runs one sub-command. Error texts and usage errors
//! follow xm's (`Error: Domain 'x' does not exist.`, `Error: 'xm vcpu-pin'
//! requires 3 arguments.`), because domform matches on them. Domain creation,
//! save/restore and block devices live in `create.rs`.

use std::path::Path;
use std::time::Duration;

use crate::opts::short_help;
pub use crate::opts::{error, no_domain, parse_opts, usage_of, wrong_args, CmdResult, Fail, Opts};
use crate::state::{now, Domain, LockGuard, PendingShutdown, Store};
use crate::topology::Topology;
use crate::{console, cpuset, create, format, sxp, Io};

/// One invocation's context: state, host, lock and I/O.
pub struct Session<'a, 'b> {
    pub prog: &'static str,
    pub store: Store,
    pub topo: Topology,
    lock: Option<LockGuard>,
    pub io: &'a mut Io<'b>,
}

impl Session<'_, '_> {
    /// All domains (Domain-0 first, then by domid), transitions applied.
    pub fn load(&self) -> Result<Vec<Domain>, Fail> {
        let doms = self.store.load(&self.topo).map_err(error)?;
        self.store.apply_transitions(doms, now()).map_err(error)
    }

    /// Releases the state lock (before waiting or talking on a console).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// Takes the state lock again.
    pub fn relock(&mut self) -> CmdResult {
        if self.lock.is_none() {
            self.lock = Some(self.store.lock().map_err(error)?);
        }
        Ok(())
    }

    /// Writes to stdout.
    pub fn out(&mut self, text: &str) -> CmdResult {
        self.io
            .stdout
            .write_all(text.as_bytes())
            .and_then(|()| self.io.stdout.flush())
            .map_err(|e| error(format!("writing output: {e}")))
    }

    pub fn save(&self, d: &Domain) -> CmdResult {
        self.store.save(d).map_err(error)
    }
}

/// Index of a domain addressed by name, numeric id or uuid.
pub fn find(doms: &[Domain], spec: &str) -> Result<usize, Fail> {
    doms.iter()
        .position(|d| d.name == spec)
        .or_else(|| spec.parse::<u32>().ok().and_then(|id| doms.iter().position(|d| d.domid == id)))
        .or_else(|| doms.iter().position(|d| d.uuid == spec))
        .ok_or_else(|| no_domain(spec))
}

/// Runs one invocation: lock, log, load the host, dispatch.
pub fn dispatch(prog: &'static str, args: &[String], root: &Path, io: &mut Io<'_>) -> CmdResult {
    let store = Store::open(root).map_err(error)?;
    let lock = store.lock().map_err(error)?;
    store.log_command(prog, args).map_err(error)?;
    let topo = Topology::load(root).map_err(error)?;
    let mut s = Session { prog, store, topo, lock: Some(lock), io };
    let Some((cmd, rest)) = args.split_first() else {
        let help = short_help(prog);
        return Err(Fail(String::new(), help));
    };
    match cmd.as_str() {
        "list" => list(&mut s, rest),
        "info" => info(&mut s, rest),
        "vcpu-list" => vcpu_list(&mut s, rest),
        "create" => create::create(&mut s, rest),
        "shutdown" => shutdown(&mut s, rest, false),
        "reboot" => shutdown(&mut s, rest, true),
        "destroy" => destroy(&mut s, rest),
        "pause" => pause(&mut s, rest, true),
        "unpause" => pause(&mut s, rest, false),
        "vcpu-pin" => vcpu_pin(&mut s, rest),
        "vcpu-set" => vcpu_set(&mut s, rest),
        "mem-set" => mem_set(&mut s, rest, false),
        "mem-max" => mem_set(&mut s, rest, true),
        "save" => create::save(&mut s, rest),
        "restore" => create::restore(&mut s, rest),
        "block-attach" => create::block_attach(&mut s, rest),
        "block-detach" => create::block_detach(&mut s, rest),
        "block-list" => create::block_list(&mut s, rest),
        "domid" | "domname" | "domstate" => lookup(&mut s, cmd, rest),
        "uptime" => uptime(&mut s, rest),
        "sched-credit" => sched_credit(&mut s, rest),
        "console" => console::console_cmd(&mut s, rest),
        "help" | "-h" | "--help" => {
            let help = match rest.first() {
                Some(c) => usage_of(prog, c),
                None => short_help(prog),
            };
            s.out(&help)
        }
        other => Err(error(format!("Subcommand {other} not found!"))),
    }
}

/// Resolves each `spec` (in the order given) or returns all domains.
fn select(doms: &[Domain], specs: &[String]) -> Result<Vec<Domain>, Fail> {
    if specs.is_empty() {
        return Ok(doms.to_vec());
    }
    specs.iter().map(|spec| find(doms, spec).map(|i| doms[i].clone())).collect()
}

fn list(s: &mut Session, args: &[String]) -> CmdResult {
    let o =
        parse_opts(args, &[('l', "long", false), ('x', "label", false), ('s', "state", true), ('p', "pool", true)])?;
    let doms = s.load()?;
    let mut sel = select(&doms, &o.pos)?;
    if let Some(state) = o.value("state") {
        sel.retain(|d| domstate(d) == state);
    }
    let t = now();
    let text = if o.has("long") {
        sxp::list_long(&sel, &s.topo, t)
    } else if s.prog == "xl" {
        format::xl_list(&sel, t)
    } else {
        format::xm_list(&sel, t)
    };
    s.out(&text)
}

fn info(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('c', "config", false), ('n', "numa", false)])?;
    if !o.pos.is_empty() {
        return Err(wrong_args(s.prog, "info", 0, 0));
    }
    let doms = s.load()?;
    let text = format::info(&doms, &s.topo, o.has("numa"));
    s.out(&text)
}

fn vcpu_list(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    let doms = s.load()?;
    let sel = select(&doms, &o.pos)?;
    let text = format::vcpu_list(&sel, &s.topo, now());
    s.out(&text)
}

/// Lower-case state word for `xm domstate` / `list --state`.
fn domstate(d: &Domain) -> &'static str {
    if d.is_dom0() {
        "running"
    } else if d.shutdown.is_some() {
        "shutdown"
    } else if d.paused {
        "paused"
    } else {
        "blocked"
    }
}

fn lookup(s: &mut Session, cmd: &str, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    if o.pos.len() != 1 {
        return Err(wrong_args(s.prog, cmd, 1, 1));
    }
    let doms = s.load()?;
    let d = &doms[find(&doms, &o.pos[0])?];
    let text = match cmd {
        "domid" => d.domid.to_string(),
        "domname" => d.name.clone(),
        _ => domstate(d).to_string(),
    };
    s.out(&format!("{text}\n"))
}

fn uptime(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[('s', "short", false)])?;
    let doms = s.load()?;
    let sel = select(&doms, &o.pos)?;
    let text = format::uptime(&sel, now(), o.has("short"));
    s.out(&text)
}

fn sched_credit(s: &mut Session, args: &[String]) -> CmdResult {
    let o =
        parse_opts(args, &[('d', "domain", true), ('w', "weight", true), ('c', "cap", true), ('p', "cpupool", true)])?;
    let mut doms = s.load()?;
    let Some(spec) = o.value("domain") else {
        let text = format::sched_credit(&doms);
        return s.out(&text);
    };
    let i = find(&doms, spec)?;
    let num = |k: &str| -> Result<Option<u32>, Fail> {
        o.value(k)
            .map(|v| v.parse::<u32>().map_err(|_| error(format!("invalid literal for int() with base 10: '{v}'"))))
            .transpose()
    };
    let (w, c) = (num("weight")?, num("cap")?);
    if w.is_none() && c.is_none() {
        let text = format::sched_credit(&doms[i..=i]);
        return s.out(&text);
    }
    if let Some(w) = w {
        if !(1..=65535).contains(&w) {
            return Err(error("weight out of range (1-65535)"));
        }
        doms[i].cpu_weight = w;
    }
    if let Some(c) = c {
        doms[i].cpu_cap = c;
    }
    s.save(&doms[i])
}

fn one_domain(s: &Session, cmd: &str, o: &Opts) -> Result<(Vec<Domain>, usize), Fail> {
    if o.pos.len() != 1 {
        return Err(wrong_args(s.prog, cmd, 1, 1));
    }
    let doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    Ok((doms, i))
}

fn destroy(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    let (doms, i) = one_domain(s, "destroy", &o)?;
    if doms[i].is_dom0() {
        return Err(error(format!("Cannot destroy privileged domain {}", o.pos[0])));
    }
    s.store.remove(doms[i].domid).map_err(error)
}

fn pause(s: &mut Session, args: &[String], pause: bool) -> CmdResult {
    let cmd = if pause { "pause" } else { "unpause" };
    let o = parse_opts(args, &[])?;
    let (mut doms, i) = one_domain(s, cmd, &o)?;
    let d = &mut doms[i];
    if d.is_dom0() {
        return Err(error(format!("Cannot {cmd} privileged domain {}", o.pos[0])));
    }
    match (pause, d.paused) {
        (true, true) => return Err(error("Domain is already paused")),
        (false, false) => return Err(error("Domain is not paused")),
        _ => {}
    }
    d.paused = pause;
    if !pause {
        // A shutdown requested while paused starts once the guest runs.
        let secs = s.topo.shutdown_seconds;
        if let Some(p) = d.shutdown.as_mut() {
            if p.deadline.is_none() {
                p.deadline = Some(now() + secs);
            }
        }
    }
    s.save(&doms[i])
}

fn shutdown(s: &mut Session, args: &[String], reboot: bool) -> CmdResult {
    // xm's arg_check counts options too: shutdown takes 1-4, reboot 1-3.
    let (cmd, hi) = if reboot { ("reboot", 3) } else { ("shutdown", 4) };
    let n = args.iter().filter(|a| *a != "--").count();
    if n < 1 || n > hi {
        return Err(wrong_args(s.prog, cmd, 1, hi));
    }
    let o =
        parse_opts(args, &[('w', "wait", false), ('a', "all", false), ('R', "reboot", false), ('H', "halt", false)])?;
    if o.has("halt") && (reboot || o.has("reboot")) {
        return Err(error("Can't specify halt and reboot"));
    }
    let reboot = reboot || o.has("reboot");
    let mut doms = s.load()?;
    // (index, the name shutdown.py reports it by)
    let targets: Vec<(usize, String)> = if o.has("all") {
        (0..doms.len()).filter(|&i| !doms[i].is_dom0()).map(|i| (i, doms[i].name.clone())).collect()
    } else {
        match o.pos.len() {
            0 => return Err(error("No domain parameter given")),
            1 => {}
            _ => return Err(error("No multiple domain parameters allowed")),
        }
        vec![(find(&doms, &o.pos[0])?, o.pos[0].clone())]
    };
    let t = now();
    let mut uuids = Vec::new();
    for (i, shown) in targets {
        let d = &mut doms[i];
        if d.is_dom0() {
            return Err(error("Domain 0 cannot be shutdown"));
        }
        uuids.push((d.uuid.clone(), shown));
        if d.shutdown.is_none() {
            let deadline = (!d.paused).then_some(t + s.topo.shutdown_seconds);
            d.shutdown = Some(PendingShutdown { deadline, reboot });
            s.store.save(d).map_err(error)?;
        }
    }
    // Zero-length shutdowns complete at once.
    s.load()?;
    if !o.has("wait") {
        return Ok(());
    }
    let mut pending = uuids;
    while !pending.is_empty() {
        s.unlock();
        std::thread::sleep(Duration::from_millis(20));
        s.relock()?;
        let doms = s.load()?;
        let mut done = Vec::new();
        pending.retain(|(uuid, name)| {
            let d = doms.iter().find(|d| &d.uuid == uuid);
            let finished = if reboot { d.is_none_or(|d| d.shutdown.is_none()) } else { d.is_none() };
            if finished {
                done.push(name.clone());
            }
            !finished
        });
        for name in done {
            let word = if reboot { "rebooted" } else { "terminated" };
            s.out(&format!("Domain {name} {word}\n"))?;
        }
    }
    let word = if reboot { "rebooted" } else { "terminated" };
    s.out(&format!("All domains {word}\n"))
}

/// xm's int parse error text.
pub fn bad_int(v: &str) -> Fail {
    error(format!("invalid literal for int() with base 10: '{v}'"))
}

fn vcpu_pin(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    if o.pos.len() != 3 {
        return Err(wrong_args(s.prog, "vcpu-pin", 3, 3));
    }
    let mut doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let requested = if o.pos[2] == "all" { (0..64).collect() } else { cpuset::parse(&o.pos[2]).map_err(error)? };
    let nr = s.topo.nr_cpus();
    let d = &mut doms[i];
    let vcpus: Vec<usize> = if o.pos[1] == "all" {
        (0..d.max_vcpus as usize).collect()
    } else {
        vec![o.pos[1].trim().parse::<usize>().map_err(|_| bad_int(&o.pos[1]))?]
    };
    let cpumap: Vec<usize> = requested.iter().copied().filter(|&c| c < nr).collect();
    for &v in &vcpus {
        if v >= d.max_vcpus as usize || cpumap.is_empty() {
            return Err(error(format!("Cannot pin vcpu: {v} to cpu: {requested:?} - (22, 'Invalid argument')")));
        }
    }
    if d.affinity.len() < d.max_vcpus as usize {
        d.affinity.resize(d.max_vcpus as usize, Vec::new());
    }
    for v in vcpus {
        d.affinity[v] = cpumap.clone();
    }
    s.save(&doms[i])
}

fn vcpu_set(s: &mut Session, args: &[String]) -> CmdResult {
    let o = parse_opts(args, &[])?;
    if o.pos.len() != 2 {
        return Err(wrong_args(s.prog, "vcpu-set", 2, 2));
    }
    let mut doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let n: u32 = o.pos[1].trim().parse().map_err(|_| bad_int(&o.pos[1]))?;
    let d = &mut doms[i];
    if n > d.max_vcpus {
        return Err(error("Cannot set vcpus greater than max vcpus on running domain"));
    }
    if n == 0 {
        return Err(error("Invalid VCPU count: 0"));
    }
    d.online_vcpus = n;
    s.save(&doms[i])
}

/// xm's int_unit(): an integer with an optional k/m/g/t suffix, in MiB.
pub fn parse_mib(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c.to_ascii_lowercase()),
        _ => (v, 'm'),
    };
    let n: u64 = num.parse().ok()?;
    match unit {
        'k' => Some(n / 1024),
        'm' => Some(n),
        'g' => n.checked_mul(1024),
        't' => n.checked_mul(1024 * 1024),
        _ => None,
    }
}

fn mem_set(s: &mut Session, args: &[String], max: bool) -> CmdResult {
    let cmd = if max { "mem-max" } else { "mem-set" };
    let o = parse_opts(args, &[])?;
    if o.pos.len() != 2 {
        return Err(wrong_args(s.prog, cmd, 2, 2));
    }
    let mut doms = s.load()?;
    let i = find(&doms, &o.pos[0])?;
    let mib = parse_mib(&o.pos[1]).ok_or_else(|| bad_int(&o.pos[1]))?;
    if mib == 0 {
        return Err(error(format!("Invalid memory size: {}", o.pos[1])));
    }
    let used = crate::state::used_memory(&doms);
    let free = s.topo.total_memory_mib.saturating_sub(used);
    let d = &mut doms[i];
    if max {
        d.maxmem = mib;
        d.memory = d.memory.min(mib);
    } else {
        if mib > d.maxmem {
            return Err(error("memory_dynamic_max must be less than or equal to memory_static_max"));
        }
        if mib > d.memory && mib - d.memory > free {
            return Err(error(format!("Not enough free memory: need {} MiB more, {free} MiB free", mib - d.memory)));
        }
        d.memory = mib;
    }
    s.save(&doms[i])
}
