//! Sizes with units (`40GiB`, `512M`, `4096`), brace ranges (`data{01..10}`) and safe names.
//!
//! Units follow qemu-img and the IEC: `K`, `M`, `G`, `T` and `KiB`…`TiB` are binary; `KB`…`TB`
//! are decimal, because users write both and mean different things.

/// Bytes in one MiB.
pub const MIB: u64 = 1024 * 1024;

/// Parses a size. A bare number means `bare_unit` bytes (1 for disks, MiB for memory).
pub fn parse_size(text: &str, bare_unit: u64) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("`{text}` is not a size (try `40GiB` or `512MiB`)"));
    }
    let mult: u64 = match unit.trim() {
        "" => bare_unit,
        "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!("unknown unit `{other}` in `{text}` (use B, KiB, MiB, GiB, TiB or KB, MB, GB, TB)"))
        }
    };
    let value: f64 = num.parse().map_err(|_| format!("`{text}` is not a size"))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes > (1u64 << 62) as f64 {
        return Err(format!("`{text}` is too large"));
    }
    if bytes.fract() != 0.0 {
        return Err(format!("`{text}` is not a whole number of bytes"));
    }
    let bytes = bytes as u64;
    if bytes == 0 {
        return Err(format!("`{text}` is zero"));
    }
    Ok(bytes)
}

/// Formats bytes the short way: `40GiB`, `512MiB`, `1536KiB`, `100B`.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// A size for people, rounded: exact multiples as [`format_size`] prints them (`40GiB`), others
/// with one decimal below 10 of the unit (`1.5GiB`, `12MiB`), so measured sizes stay short.
pub fn format_size_approx(bytes: u64) -> String {
    for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size {
            if bytes.is_multiple_of(size) {
                return format!("{}{unit}", bytes / size);
            }
            let v = bytes as f64 / size as f64;
            return if v < 9.95 { format!("{v:.1}{unit}") } else { format!("{v:.0}{unit}") };
        }
    }
    format!("{bytes}B")
}

/// The most names one brace range may make (a VM holds at most [`MAX_DISKS_PER_VM`] disks;
/// `data{1..4096}` once made an apply create 4,096 disks before it failed).
pub const MAX_BRACE_ITEMS: usize = 256;

/// The most disks one VM may declare (far beyond what a guest uses; bigger is a typo).
pub const MAX_DISKS_PER_VM: usize = 256;

/// The most vCPUs a Xen 4.x guest may have (`HVM_MAX_VCPUS`; PV guests are held to the same).
pub const MAX_VCPUS: u32 = 128;

/// Expands one numeric brace range: `data{01..10}` → data01 … data10 (width kept from the
/// first bound when it has leading zeros). A name without braces is returned as it is.
pub fn expand_braces(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('{') else {
        if name.contains('}') {
            return Err(format!("`{name}` has `}}` without `{{`"));
        }
        return Ok(vec![name.to_string()]);
    };
    let close = name[open..].find('}').map(|i| open + i).ok_or_else(|| format!("`{name}` has `{{` without `}}`"))?;
    let (prefix, inner, suffix) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    if suffix.contains('{') || suffix.contains('}') {
        return Err(format!("`{name}`: only one brace range per name"));
    }
    let (a, b) = inner.split_once("..").ok_or_else(|| format!("`{name}`: a brace range looks like `{{01..10}}`"))?;
    let lo: u64 = a.parse().map_err(|_| format!("`{name}`: `{a}` is not a number"))?;
    let hi: u64 = b.parse().map_err(|_| format!("`{name}`: `{b}` is not a number"))?;
    if lo > hi {
        return Err(format!("`{name}`: the range runs backwards"));
    }
    let count = hi - lo + 1;
    if count > MAX_BRACE_ITEMS as u64 {
        return Err(format!("`{name}` makes {count} names; at most {MAX_BRACE_ITEMS} per range"));
    }
    let width = if a.len() > 1 && a.starts_with('0') { a.len() } else { 0 };
    Ok((lo..=hi).map(|n| format!("{prefix}{n:0width$}{suffix}")).collect())
}

/// Names that are safe in file names, shell commands and vm.cfg: `[A-Za-z0-9._-]`, not
/// starting with `-` or `.`, at most 128 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > 128 {
        return Err(format!("name is {} characters long; at most 128", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "`{}` contains {bad:?}; names may use only letters, digits, `.`, `_` and `-`",
            name.escape_debug()
        ));
    }
    if name.starts_with(['-', '.']) {
        return Err(format!("`{name}` must not start with `-` or `.`"));
    }
    Ok(())
}

/// A VM's name: [`check_name`]'s characters and single spaces inside, because OVM simple
/// names often have them ("DB Server 01"). Every use reaches the shell through `quote`.
pub fn check_vm_name(name: &str) -> Result<(), String> {
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return Err(format!("`{}`: spaces only between words, one at a time", name.escape_debug()));
    }
    check_name(&name.replace(' ', "_")).map_err(|m| m.replace("`, `_` and `-`", "`, `_`, `-` and single spaces"))
}

/// A MAC address `xx:xx:xx:xx:xx:xx`, unicast.
pub fn check_mac(mac: &str) -> Result<(), String> {
    let parts: Vec<&str> = mac.split(':').collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(format!("`{mac}` is not a MAC address like `00:16:3e:01:02:03`"));
    }
    let first = u8::from_str_radix(parts[0], 16).map_err(|_| format!("`{mac}` is not a MAC address"))?;
    if first & 1 == 1 {
        return Err(format!("`{mac}` is a multicast address; a NIC needs a unicast one"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("40GiB", 1), Ok(40 << 30));
        assert_eq!(parse_size("40G", 1), Ok(40 << 30));
        assert_eq!(parse_size("1GB", 1), Ok(1_000_000_000));
        assert_eq!(parse_size("4096", MIB), Ok(4096 * MIB));
        assert_eq!(parse_size("1.5GiB", 1), Ok(3 << 29));
        for bad in ["", "GiB", "12 parsecs", "0", "-1G", "1e99T", "0.3B"] {
            assert!(parse_size(bad, 1).is_err(), "{bad:?} should fail");
        }
        assert_eq!(format_size(40 << 30), "40GiB");
        assert_eq!(format_size(1536 << 10), "1536KiB");
    }

    #[test]
    fn approximate_sizes_stay_short() {
        assert_eq!(format_size_approx(40 << 30), "40GiB");
        assert_eq!(format_size_approx(1536 << 20), "1.5GiB");
        assert_eq!(format_size_approx((12 << 20) + 300_000), "12MiB");
        assert_eq!(format_size_approx(10_737_418_240 + 209), "10GiB");
        assert_eq!(format_size_approx(1_048_576 + 4096), "1.0MiB");
        assert_eq!(format_size_approx(4096 + 209), "4.2KiB");
        assert_eq!(format_size_approx(0), "0B");
        assert_eq!(format_size_approx(1000), "1000B");
    }

    #[test]
    fn braces() {
        let names = expand_braces("data{01..10}").expect("valid");
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "data01");
        assert_eq!(names[9], "data10");
        assert_eq!(expand_braces("d{8..10}x").expect("valid"), vec!["d8x", "d9x", "d10x"]);
        assert_eq!(expand_braces("plain").expect("valid"), vec!["plain"]);
        assert!(expand_braces("d{1..257}").is_err());
        assert!(expand_braces("d{1..256}").is_ok());
        for bad in ["d{1..}", "d{a..b}", "d{5..1}", "d{1..2}{3..4}", "d}", "d{1..2"] {
            assert!(expand_braces(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("db01.prod_a-1").is_ok());
        assert!(check_vm_name("DB Server 01").is_ok());
        for bad in [" DB", "DB ", "DB  01", "DB\t01", "DB\n01", "a b;c", "-a b"] {
            assert!(check_vm_name(bad).is_err(), "{bad:?} should fail");
        }
        for bad in ["", "a;rm -rf /", "a b", "$(x)", "-rf", ".hidden", "ü", "a\nb", &"x".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn macs() {
        assert!(check_mac("00:21:f6:5b:b5:f7").is_ok());
        for bad in ["00:21:f6:5b:b5", "zz:21:f6:5b:b5:f7", "01:00:5e:00:00:01", "0:21:f6:5b:b5:f7"] {
            assert!(check_mac(bad).is_err(), "{bad:?} should fail");
        }
    }
}
