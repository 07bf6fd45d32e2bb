//! The one script that reads a whole host in one exec.
//!
//! The SSH exec is the unit of cost (~80 ms each on a LAN, whatever it runs), so observing a
//! host is a single generated script that prints every fact the planner needs in delimited
//! sections: `<marker> <kind> <arg>` … `<marker> rc <status>`. The marker carries a random
//! nonce so no vm.cfg content can fake a section boundary. Only read-only commands appear here.

use std::hash::{BuildHasher, Hasher};

use crate::model::Toolstack;
use crate::transport::quote;

/// A fresh random marker for one observe run.
pub fn new_marker() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("@@domform-{:016x}", h.finish())
}

/// What to read on one host.
#[derive(Debug, Clone)]
pub struct ObserveRequest {
    /// xm or xl.
    pub toolstack: Toolstack,
    /// Repository roots.
    pub repositories: Vec<String>,
    /// Existing disk paths the desired state mentions (stat'ed so the planner knows they exist).
    pub extra_paths: Vec<String>,
}

/// Builds the script.
pub fn build(req: &ObserveRequest, marker: &str) -> String {
    let m = quote(marker);
    let tool = match req.toolstack {
        Toolstack::Xm => "xm",
        Toolstack::Xl => "xl",
    };
    let mut s = String::new();
    s.push_str(&format!("M={m}\nLC_ALL=C; export LC_ALL\n"));
    // s KIND ARG CMD...: one section; stderr folded in so errors are seen where they happen.
    s.push_str("s() { k=$1; a=$2; shift 2; printf '%s %s %s\\n' \"$M\" \"$k\" \"$a\"; \"$@\" 2>&1; r=$?; printf '\\n%s rc %s\\n' \"$M\" \"$r\"; }\n");
    s.push_str(&format!("s info - {tool} info -n\n"));
    match req.toolstack {
        Toolstack::Xm => s.push_str("s domains-sxp - xm list -l\n"),
        Toolstack::Xl => {
            s.push_str("s list - xl list\n");
            s.push_str("s vcpus - xl vcpu-list\n");
        }
    }
    for repo in &req.repositories {
        let r = quote(repo);
        s.push_str(&format!("s fs {r} sh -c 'stat -f -c %T \"$1\" && df -P -k \"$1\" | tail -n 1' fs {r}\n"));
        s.push_str(&format!("s ovsrepo {r} cat -- {r}/.ovsrepo\n"));
        s.push_str(&format!("s disks {r} find {r}/VirtualDisks -maxdepth 1 -type f -printf '%s %b %p\\n'\n"));
        // Links where domform writes (a planted link would redirect a write): listed, refused.
        s.push_str(&format!(
            "s links {r} sh -c 'for d in \"$1\"/VirtualDisks \"$1\"/VirtualMachines \"$1\"/Snapshots; do if [ -e \"$d\" ] || [ -L \"$d\" ]; then find \"$d\" -maxdepth 3 -type l; fi; done; true' links {r}\n"
        ));
        s.push_str(&format!("s snapshots {r} find {r}/Snapshots -mindepth 2 -maxdepth 2 -type d\n"));
        // Nothing is read through a link planted in the repository (it could show a root-only
        // file in a plan): a linked manifest is skipped, a linked vm.cfg or VM folder is an error.
        s.push_str(&format!(
            "for f in {r}/Snapshots/*/*/manifest; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && [ ! -L \"${{f%/manifest}}\" ] || continue; s snapmanifest \"$f\" cat -- \"$f\"; done\n"
        ));
        s.push_str(&format!(
            "for f in {r}/VirtualMachines/*/vm.cfg; do [ -f \"$f\" ] || continue; \
if [ -L \"$f\" ] || [ -L \"${{f%/vm.cfg}}\" ]; then s cfg \"$f\" sh -c 'echo \"not read: a symbolic link (planted in the repository?)\"; exit 1'; \
else s cfg \"$f\" cat -- \"$f\"; fi; done\n"
        ));
    }
    if !req.extra_paths.is_empty() {
        let paths: Vec<String> = req.extra_paths.iter().map(|p| quote(p)).collect();
        s.push_str(&format!(
            "s paths - sh -c 'for p; do stat -L -c \"%s %b %n\" -- \"$p\" 2>/dev/null; done; true' paths {}\n",
            paths.join(" ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_read_only_and_quotes_paths() {
        let req = ObserveRequest {
            toolstack: Toolstack::Xm,
            repositories: vec!["/OVS/Repositories/r 1".into()],
            extra_paths: vec!["/x/it's.img".into()],
        };
        let s = build(&req, "@@domform-0");
        assert!(s.contains("xm list -l"));
        assert!(s.contains("'/OVS/Repositories/r 1'/VirtualMachines/*/vm.cfg"));
        assert!(s.contains("'/x/it'\\''s.img'"));
        for verb in ["create", "destroy", "shutdown", "vcpu-pin", "rm ", "mv ", "truncate", " > "] {
            let bad = s.lines().filter(|l| !l.starts_with("s() {")).any(|l| l.contains(verb));
            assert!(!bad, "observe script contains mutating `{verb}`:\n{s}");
        }
    }

    #[test]
    fn markers_differ() {
        assert_ne!(new_marker(), new_marker());
    }
}
