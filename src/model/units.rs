//! Sizes with units (`40GiB`, `512M`, `4096`), brace ranges (`data{01..10}`) and safe names.
//!
//! Units follow qemu-img and the IEC: `K`, `M`, `G`, `T` and `KiB`…`TiB` are binary; `KB`…`TB`
//! are decimal, because users write both and mean different things.

use thiserror::Error;

/// Why a size does not parse (the texts are what users read after `bad size: `).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    /// No number in front.
    #[error("`{0}` is not a size (try `40GiB` or `512MiB`)")]
    NoNumber(String),
    /// A unit domform does not know.
    #[error("unknown unit `{unit}` in `{text}` (use B, KiB, MiB, GiB, TiB or KB, MB, GB, TB)")]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The whole size.
        text: String,
    },
    /// The number does not parse (`1.2.3G`).
    #[error("`{0}` is not a size")]
    BadNumber(String),
    /// Beyond 2^62 bytes.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// A fraction of a byte.
    #[error("`{0}` is not a whole number of bytes")]
    Fraction(String),
    /// Zero bytes.
    #[error("`{0}` is zero")]
    Zero(String),
}

/// Why a name is refused (file names, shell commands and vm.cfg all carry it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Empty.
    #[error("empty name")]
    Empty,
    /// Over 128 characters.
    #[error("name is {0} characters long; at most 128")]
    TooLong(usize),
    /// A character outside the allowed set; `vm` names may also have single spaces.
    #[error("`{}` contains {bad:?}; names may use only letters, digits, `.`, `_`{}", name.escape_debug(), if *vm { ", `-` and single spaces" } else { " and `-`" })]
    BadChar {
        /// The name (a VM name with its spaces as `_`).
        name: String,
        /// The first bad character.
        bad: char,
        /// A VM name (single spaces allowed).
        vm: bool,
    },
    /// Starts with `-` or `.`.
    #[error("`{0}` must not start with `-` or `.`")]
    LeadingDashOrDot(String),
    /// A VM name with leading, trailing or double spaces.
    #[error("`{}`: spaces only between words, one at a time", .0.escape_debug())]
    Spaces(String),
}

/// Why a MAC address is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MacError {
    /// Not six hex pairs.
    #[error("`{0}` is not a MAC address like `00:16:3e:01:02:03`")]
    Malformed(String),
    /// The first octet does not parse.
    #[error("`{0}` is not a MAC address")]
    NotMac(String),
    /// A multicast address.
    #[error("`{0}` is a multicast address; a NIC needs a unicast one")]
    Multicast(String),
}

/// Bytes in one MiB.
pub const MIB: u64 = 1024 * 1024;

/// Parses a size. A bare number means `bare_unit` bytes (1 for disks, MiB for memory).
pub fn parse_size(text: &str, bare_unit: u64) -> Result<u64, SizeError> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(SizeError::NoNumber(text.into()));
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
        other => return Err(SizeError::UnknownUnit { unit: other.into(), text: text.into() }),
    };
    let value: f64 = num.parse().map_err(|_| SizeError::BadNumber(text.into()))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes > (1u64 << 62) as f64 {
        return Err(SizeError::TooLarge(text.into()));
    }
    if bytes.fract() != 0.0 {
        return Err(SizeError::Fraction(text.into()));
    }
    let bytes = bytes as u64;
    if bytes == 0 {
        return Err(SizeError::Zero(text.into()));
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
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 128 {
        return Err(NameError::TooLong(name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(NameError::BadChar { name: name.into(), bad, vm: false });
    }
    if name.starts_with(['-', '.']) {
        return Err(NameError::LeadingDashOrDot(name.into()));
    }
    Ok(())
}

/// A VM's name: [`check_name`]'s characters and single spaces inside, because OVM simple
/// names often have them ("DB Server 01"). Every use reaches the shell through `quote`.
pub fn check_vm_name(name: &str) -> Result<(), NameError> {
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return Err(NameError::Spaces(name.into()));
    }
    check_name(&name.replace(' ', "_")).map_err(|e| match e {
        NameError::BadChar { name, bad, .. } => NameError::BadChar { name, bad, vm: true },
        other => other,
    })
}

/// A MAC address `xx:xx:xx:xx:xx:xx`, unicast.
pub fn check_mac(mac: &str) -> Result<(), MacError> {
    let parts: Vec<&str> = mac.split(':').collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(MacError::Malformed(mac.into()));
    }
    let first = u8::from_str_radix(parts[0], 16).map_err(|_| MacError::NotMac(mac.into()))?;
    if first & 1 == 1 {
        return Err(MacError::Multicast(mac.into()));
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
    fn messages_say_what_is_wrong() {
        let msg = |r: Result<u64, SizeError>| r.map_err(|e| e.to_string()).expect_err("fails");
        assert_eq!(msg(parse_size("GiB", 1)), "`GiB` is not a size (try `40GiB` or `512MiB`)");
        assert_eq!(
            msg(parse_size("12 parsecs", 1)),
            "unknown unit `parsecs` in `12 parsecs` (use B, KiB, MiB, GiB, TiB or KB, MB, GB, TB)"
        );
        assert_eq!(msg(parse_size("1.2.3G", 1)), "`1.2.3G` is not a size");
        assert_eq!(msg(parse_size("0.3B", 1)), "`0.3B` is not a whole number of bytes");
        assert_eq!(msg(parse_size("0", 1)), "`0` is zero");
        let name = |r: Result<(), NameError>| r.map_err(|e| e.to_string()).expect_err("fails");
        assert_eq!(name(check_name("a;b")), "`a;b` contains ';'; names may use only letters, digits, `.`, `_` and `-`");
        assert_eq!(
            name(check_vm_name("DB 01;x")),
            "`DB_01;x` contains ';'; names may use only letters, digits, `.`, `_`, `-` and single spaces"
        );
        assert_eq!(name(check_vm_name("DB  01")), "`DB  01`: spaces only between words, one at a time");
        assert_eq!(name(check_name(".x")), "`.x` must not start with `-` or `.`");
        assert_eq!(
            check_mac("01:00:5e:00:00:01").map_err(|e| e.to_string()),
            Err("`01:00:5e:00:00:01` is a multicast address; a NIC needs a unicast one".to_string())
        );
    }

    #[test]
    fn macs() {
        assert!(check_mac("00:21:f6:5b:b5:f7").is_ok());
        for bad in ["00:21:f6:5b:b5", "zz:21:f6:5b:b5:f7", "01:00:5e:00:00:01", "0:21:f6:5b:b5:f7"] {
            assert!(check_mac(bad).is_err(), "{bad:?} should fail");
        }
    }
}
