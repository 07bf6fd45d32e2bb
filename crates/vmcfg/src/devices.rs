//! Helpers for the device stanzas inside vm.cfg lists: `disk` entries
//! (`file:/path,xvda,w`) and `key=value` stanzas used by `vif` and `vfb`.

/// One `disk = [...]` entry, e.g. `file:/OVS/Repositories/R/VirtualDisks/D.img,xvda,w`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// `"file"`, `"phy"`, `"tap:aio"`, …
    pub backend: String,
    /// The target; `file:///x` is normalised to `/x`.
    pub path: String,
    /// Guest device name without the `:cdrom` suffix, e.g. `"xvda"`.
    pub frontend: String,
    /// The frontend carried a `:cdrom` suffix.
    pub cdrom: bool,
    /// `"r"`, `"w"`, `"w!"` (xl's `"ro"`/`"rw"` are accepted too).
    pub mode: String,
}

const MODES: &[&str] = &["r", "w", "w!", "ro", "rw"];

fn is_driver_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl DiskSpec {
    /// Parse an xm disk stanza `backend:path,frontend[:cdrom],mode`.
    pub fn parse(stanza: &str) -> Result<DiskSpec, String> {
        let parts: Vec<&str> = stanza.split(',').map(str::trim).collect();
        let [uname, dev, mode] = parts.as_slice() else {
            return Err(format!(
                "disk stanza {stanza:?}: expected 'backend:path,frontend,mode' (3 fields, found {})",
                parts.len()
            ));
        };
        let (backend, path) = split_uname(uname)
            .ok_or_else(|| format!("disk stanza {stanza:?}: missing 'backend:' prefix in {uname:?}"))?;
        if path.is_empty() {
            return Err(format!("disk stanza {stanza:?}: empty path"));
        }
        let (frontend, cdrom) = match dev.split_once(':') {
            None => (*dev, false),
            Some((f, "cdrom")) => (f, true),
            Some((f, "disk")) => (f, false),
            Some((_, other)) => {
                return Err(format!("disk stanza {stanza:?}: unknown device type {other:?} (expected 'cdrom')"))
            }
        };
        if frontend.is_empty() {
            return Err(format!("disk stanza {stanza:?}: empty frontend device"));
        }
        if !MODES.contains(mode) {
            return Err(format!("disk stanza {stanza:?}: unknown mode {mode:?} (expected r, w or w!)"));
        }
        Ok(DiskSpec { backend, path, frontend: frontend.to_string(), cdrom, mode: (*mode).to_string() })
    }

    /// The stanza in the form OVM writes: `file:/path,xvda,w`,
    /// `file:/x.iso,xvdb:cdrom,r`.
    pub fn to_stanza(&self) -> String {
        let cdrom = if self.cdrom { ":cdrom" } else { "" };
        format!("{}:{},{}{},{}", self.backend, self.path, self.frontend, cdrom, self.mode)
    }
}

/// Split `tap:aio:/x.img` into (`tap:aio`, `/x.img`); `file:///x` gives
/// (`file`, `/x`).
fn split_uname(uname: &str) -> Option<(String, String)> {
    let (first, mut rest) = uname.split_once(':')?;
    if !is_driver_word(first) {
        return None;
    }
    let mut backend = first.to_string();
    if first == "tap" || first == "tap2" {
        // Driver words: tap:aio:/x, tap:tapdisk:aio:/x.
        while let Some((word, more)) = rest.split_once(':') {
            if !is_driver_word(word) {
                break;
            }
            backend.push(':');
            backend.push_str(word);
            rest = more;
        }
    }
    let path = if rest.starts_with("//") { format!("/{}", rest.trim_start_matches('/')) } else { rest.to_string() };
    Some((backend, path))
}

/// Parse a `key=value,key=value` stanza (vif, vfb). Spaces around keys and
/// values are trimmed, empty items are skipped (so `''` gives an empty vec),
/// and an item without `=` yields an empty value.
pub fn parse_kv_stanza(stanza: &str) -> Vec<(String, String)> {
    stanza
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (item.to_string(), String::new()),
        })
        .collect()
}

/// Render pairs as `k=v,k=v` (the form OVM writes).
pub fn render_kv_stanza(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(s: &str) -> DiskSpec {
        match DiskSpec::parse(s) {
            Ok(d) => d,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn ovm_file_disk() {
        let d = disk("file:/OVS/Repositories/R/VirtualDisks/D.img,xvda,w");
        assert_eq!(d.backend, "file");
        assert_eq!(d.path, "/OVS/Repositories/R/VirtualDisks/D.img");
        assert_eq!(d.frontend, "xvda");
        assert!(!d.cdrom);
        assert_eq!(d.mode, "w");
        assert_eq!(d.to_stanza(), "file:/OVS/Repositories/R/VirtualDisks/D.img,xvda,w");
    }

    #[test]
    fn triple_slash_is_normalised() {
        let d = disk("file:///EXAVMIMAGES/x.img,xvdd,w");
        assert_eq!(d.path, "/EXAVMIMAGES/x.img");
        assert_eq!(d.to_stanza(), "file:/EXAVMIMAGES/x.img,xvdd,w");
    }

    #[test]
    fn cdrom_phy_tap() {
        let d = disk("file:/x.iso,xvdb:cdrom,r");
        assert!(d.cdrom);
        assert_eq!((d.frontend.as_str(), d.mode.as_str()), ("xvdb", "r"));
        assert_eq!(d.to_stanza(), "file:/x.iso,xvdb:cdrom,r");

        let d = disk("phy:/dev/sdb7,hda,w");
        assert_eq!((d.backend.as_str(), d.path.as_str()), ("phy", "/dev/sdb7"));
        let d = disk(" phy:hda1, hda1 ,w ");
        assert_eq!((d.backend.as_str(), d.path.as_str()), ("phy", "hda1"));
        assert_eq!(d.frontend, "hda1");

        let d = disk("tap:aio:/x.img,xvda,w!");
        assert_eq!((d.backend.as_str(), d.path.as_str()), ("tap:aio", "/x.img"));
        assert_eq!(d.mode, "w!");
        assert_eq!(d.to_stanza(), "tap:aio:/x.img,xvda,w!");

        let d = disk("phy:/dev/disk/by-path/pci-0:0:1,xvdc,w");
        assert_eq!(d.path, "/dev/disk/by-path/pci-0:0:1");
    }

    #[test]
    fn bad_disks() {
        for s in [
            "",
            "/x.img,xvda,w",
            "file:/x.img,xvda",
            "file:/x.img,xvda,w,extra",
            "file:,xvda,w",
            "file:/x,,w",
            "file:/x,xvda:floppy,w",
            "file:/x,xvda,x",
        ] {
            assert!(DiskSpec::parse(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn kv_stanzas() {
        let kv = parse_kv_stanza("mac=00:21:f6:5b:b5:f7,bridge=10238073c2");
        assert_eq!(
            kv,
            vec![
                ("mac".to_string(), "00:21:f6:5b:b5:f7".to_string()),
                ("bridge".to_string(), "10238073c2".to_string()),
            ]
        );
        assert_eq!(render_kv_stanza(&kv), "mac=00:21:f6:5b:b5:f7,bridge=10238073c2");
        assert_eq!(parse_kv_stanza("bridge = eth0"), vec![("bridge".to_string(), "eth0".to_string())]);
        assert!(parse_kv_stanza("").is_empty());
        assert!(parse_kv_stanza("  ").is_empty());
        assert_eq!(
            parse_kv_stanza("vncpasswd=,vnc"),
            vec![("vncpasswd".to_string(), String::new()), ("vnc".to_string(), String::new())]
        );
    }
}
