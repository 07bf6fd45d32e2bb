//! The shell of a libvirt host's steps that differ from a Xen host's: a graceful stop with a
//! time limit, and the read-back of live pinning. Everything else (files, disks, the batch
//! around the steps) is [`crate::apply::script`]'s; every value goes through [`quote`].

use crate::transport::quote;
use crate::xen::VcpuRow;

/// `virsh shutdown` asks the guest (ACPI) and returns at once, so the step polls `domstate` until
/// `shut off`, sending the request again every 10 s (a guest can miss the first press: libvirt
/// research, gotcha on restore), for `secs` seconds; then `destroy` when `force`, else a failure
/// that says how to allow it. Nothing is done when the domain is already off.
pub fn shutdown(virsh: &str, domain: &str, secs: u64, force: bool) -> String {
    let d = quote(domain);
    let on_timeout = if force {
        format!(
            "{{ echo {}; {virsh} destroy --domain {d}; }}",
            quote(&format!("{domain} did not stop cleanly within {secs}s; destroying it (force_stop)"))
        )
    } else {
        format!(
            "{{ echo {} >&2; false; }}",
            quote(&format!(
                "{domain} did not stop within {secs}s; set `force_stop: true` to power it off after the timeout"
            ))
        )
    };
    format!(
        "{{ st() {{ {virsh} domstate --domain {d} 2>/dev/null | head -n 1; }}; \
if [ \"$(st)\" != 'shut off' ]; then {virsh} shutdown --domain {d} >/dev/null || true; e=$(( $(date +%s) + {secs} )); n=$(( $(date +%s) + 10 )); \
while [ \"$(st)\" != 'shut off' ] && [ \"$(date +%s)\" -le \"$e\" ]; do \
if [ \"$(date +%s)\" -ge \"$n\" ]; then {virsh} shutdown --domain {d} >/dev/null 2>&1; n=$(( $(date +%s) + 10 )); fi; \
sleep 0.2 2>/dev/null || sleep 1; done; \
[ \"$(st)\" = 'shut off' ] || {on_timeout}; fi; }}"
    )
}

/// Reads the affinity of every vCPU of each domain, one `vcpuinfo` per domain, each preceded by
/// a `@@dom NAME` line so [`parse_vcpuinfo_all`] knows whose rows follow.
pub fn vcpuinfo_all(virsh: &str, domains: &[&str]) -> String {
    let parts: Vec<String> = domains
        .iter()
        .map(|d| format!("printf '@@dom %s\\n' {q} && {virsh} vcpuinfo --domain {q}", q = quote(d)))
        .collect();
    format!("LC_ALL=C; export LC_ALL; {}", parts.join(" && "))
}

/// Reads [`vcpuinfo_all`]'s output as `xm vcpu-list` rows.
pub fn parse_vcpuinfo_all(text: &str) -> Result<Vec<VcpuRow>, String> {
    let mut out = Vec::new();
    for block in text.split("@@dom ").skip(1) {
        let (name, rest) = block.split_once('\n').unwrap_or((block, ""));
        for v in crate::libvirt::virsh::parse_vcpuinfo(rest)? {
            out.push(VcpuRow {
                name: name.to_string(),
                id: None,
                vcpu: v.vcpu,
                cpu: v.cpu,
                state: v.state,
                time: 0.0,
                affinity: v.affinity,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpuinfo_of_two_domains_reads_back_as_rows() {
        let text = "@@dom db 1\nVCPU:           0\nCPU:            1\nState:          running\nCPU time:       1.2s\nCPU Affinity:   -y\n\n\
VCPU:           1\nCPU:            0\nState:          running\nCPU time:       0.1s\nCPU Affinity:   yy\n\n@@dom web\nVCPU:           0\nCPU:            N/A\nState:          offline\nCPU Affinity:   y-\n\n";
        let rows = parse_vcpuinfo_all(text).expect("parses");
        let got: Vec<(String, u32, String)> =
            rows.iter().map(|r| (r.name.clone(), r.vcpu, r.affinity.to_string())).collect();
        assert_eq!(
            got,
            vec![("db 1".into(), 0, "1".into()), ("db 1".into(), 1, "0-1".into()), ("web".into(), 0, "0".into())]
        );
    }

    #[test]
    fn shutdown_quotes_the_name_and_only_destroys_when_forced() {
        let s = shutdown("virsh -c 'qemu:///system'", "db 1; rm -rf /", 30, false);
        assert!(s.contains("--domain 'db 1; rm -rf /'"), "{s}");
        assert!(!s.contains("destroy"), "{s}");
        assert!(shutdown("virsh", "x", 30, true).contains("virsh destroy --domain x"));
    }
}
