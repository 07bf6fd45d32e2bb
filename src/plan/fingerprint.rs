//! A fingerprint of what was observed on a host, so a saved plan can be refused as stale.
//!
//! It covers what the plan depends on (vm.cfg texts, domains and their state, memory, vCPUs
//! and affinity, disk file sizes; a Manager's config.xml and JDBC modules) and leaves out what
//! changes by itself (CPU time, free memory). FNV-1a, because the value must be stable across builds and Rust versions.

use crate::observe::Observed;

/// FNV-1a 64 over bytes.
pub fn fnv1a(data: &[u8], mut h: u64) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// FNV-1a's offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The fingerprint, as 16 hex digits.
pub fn of(obs: &Observed) -> String {
    let mut facts: Vec<String> = Vec::new();
    for c in &obs.cfgs {
        facts.push(format!("cfg {} {}", c.path, c.text));
    }
    for d in &obs.domains {
        let aff: Vec<String> =
            d.affinity.iter().map(|a| a.as_ref().map(|s| s.to_string()).unwrap_or_default()).collect();
        facts.push(format!(
            "dom {} {:?} {} {} {} {}",
            d.name,
            d.id,
            d.state.word(),
            d.memory_mib,
            d.online_vcpus,
            aff.join("|")
        ));
    }
    for (path, f) in &obs.files {
        facts.push(format!("file {path} {}", f.size));
    }
    if let Some(lv) = &obs.libvirt {
        for d in &lv.domains {
            facts.push(format!("libvirt {} {:?} {}", d.name, d.state, d.xml));
        }
    }
    if let Some(m) = &obs.manager {
        facts.push(format!("manager-domain {} {}", m.domain, m.domain_exists));
        facts.extend(m.config_xml.iter().map(|c| format!("manager-config {c}")));
        facts.extend(m.modules.iter().map(|f| format!("manager-jdbc {} {}", f.path, f.text)));
    }
    facts.sort();
    let h = facts.iter().fold(FNV_OFFSET, |h, f| fnv1a(f.as_bytes(), fnv1a(b"\n", h)));
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::FileSize;

    #[test]
    fn changes_with_facts_only() {
        let mut a = Observed { host: "h".into(), ..Observed::default() };
        a.files.insert("/r/d.img".into(), FileSize { size: 1, allocated: 0 });
        let fa = of(&a);
        a.elapsed = std::time::Duration::from_secs(3);
        assert_eq!(of(&a), fa, "timings are not facts");
        a.files.insert("/r/d.img".into(), FileSize { size: 2, allocated: 0 });
        assert_ne!(of(&a), fa);
        assert_eq!(fnv1a(b"a", FNV_OFFSET), 0xaf63_dc4c_8601_ec8c);
    }
}
