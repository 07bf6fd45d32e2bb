//! After live pinning, read `xm vcpu-list` back and check every vCPU landed where asked.
//!
//! `xm vcpu-pin` can succeed and still leave a vCPU elsewhere (a racing `xm vcpu-pin` by hand, a
//! toolstack that ignores an offline vCPU); a hard partition that is not in place is a licence
//! problem, so apply says so instead of trusting the exit code. Costs one exec, only when
//! something was pinned.

use crate::model::{CpuSet, Tool, Toolstack};
use crate::plan::Change;
use crate::transport::{quote, Limit, Transport};
use crate::xen::parse_vcpu_list;

/// `(domain, vcpu or all, set)` the changes promise (`Change::verify_pins`).
pub fn expected(changes: &[Change]) -> Vec<(String, Option<u32>, CpuSet)> {
    changes
        .iter()
        .flat_map(|c| &c.verify_pins)
        .filter_map(|p| CpuSet::parse(&p.cpus).ok().map(|set| (p.domain.clone(), p.vcpu, set)))
        .collect()
}

/// Mismatches between what was pinned and what `vcpu-list` shows; `Err` when it cannot be read.
pub fn verify(
    t: &mut dyn Transport,
    tl: &Tool,
    want: &[(String, Option<u32>, CpuSet)],
    limit: Option<&Limit>,
) -> Result<Vec<String>, String> {
    let tool = tl.name();
    let verb = if tl.toolstack == Toolstack::Libvirt { "vcpuinfo" } else { "vcpu-list" };
    let mut doms: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
    doms.sort_unstable();
    doms.dedup();
    let script = if tl.toolstack == Toolstack::Libvirt {
        crate::target::libvirt::shell::vcpuinfo_all(&tl.cmd, &doms)
    } else {
        let args: Vec<String> = doms.iter().map(|d| quote(d)).collect();
        format!("{} vcpu-list {}", tl.cmd, args.join(" "))
    };
    // Read-only, so a transient failure (a channel refused, a connection cut) is tried again.
    let mut attempt = 1;
    let out = loop {
        let why = match t.exec_limited(&script, &[], limit) {
            Ok(out) if out.lost.is_none() => break out,
            Ok(out) => out.lost.unwrap_or_default(),
            Err(e) if e.is_transient() => e.to_string(),
            Err(e) => return Err(e.to_string()),
        };
        if attempt >= crate::observe::fleet::ATTEMPTS {
            return Err(format!("`{tool} {verb}` could not be read after {attempt} attempts: {why}"));
        }
        tracing::info!(host = %t.host(), "verify attempt {attempt} failed: {why}; trying again");
        std::thread::sleep(std::time::Duration::from_millis(500 << (attempt - 1)));
        attempt += 1;
    };
    if out.timed_out {
        let after = limit.map(|l| format!(" after {} s", l.after.as_secs())).unwrap_or_default();
        return Err(format!("`{tool} {verb}` timed out{after} (step_timeout)"));
    }
    if out.status != 0 {
        let said = [out.stderr_text(), out.stdout_text().trim().to_string()].into_iter().find(|s| !s.is_empty());
        return Err(format!(
            "`{tool} {verb}` exited with status {}: {}",
            out.status,
            said.unwrap_or_else(|| "it printed nothing".into())
        ));
    }
    let rows = if tl.toolstack == Toolstack::Libvirt {
        crate::target::libvirt::shell::parse_vcpuinfo_all(&out.stdout_text())?
    } else {
        parse_vcpu_list(&out.stdout_text(), crate::model::cpuset::MAX_CPU + 1).map_err(|e| e.to_string())?
    };
    let mut bad = Vec::new();
    for (dom, vcpu, set) in want {
        for r in rows.iter().filter(|r| &r.name == dom && vcpu.is_none_or(|v| v == r.vcpu)) {
            if &r.affinity != set {
                bad.push(format!("{dom} vCPU {} has affinity {} instead of {set}", r.vcpu, r.affinity));
            }
        }
        if !rows.iter().any(|r| &r.name == dom) {
            bad.push(format!("{dom} is not in `{tool} {verb}`"));
        }
    }
    Ok(bad)
}
