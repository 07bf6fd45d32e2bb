//! CPU-set strings as xend understands them.
//!
//! vm.cfg `cpus = "0-3,5,^1"` and `xm vcpu-pin` take the same little
//! language, and `xm vcpu-list` prints affinities in a compressed form.
//! domform generates and parses both, so the simulator must use xend's exact
//! semantics: items are applied left to right (`a-b` adds a range, `n` adds
//! one cpu, `^n` removes one), so `"0-3,^1,1"` is `[0, 1, 2, 3]`, and the
//! result is sorted and de-duplicated.

use std::collections::BTreeSet;

/// Parses one integer the way Python's `int()` does (surrounding blanks ok),
/// reporting failures with Python's own wording, as xm would show it.
fn py_int(s: &str) -> Result<usize, String> {
    let t = s.trim();
    t.parse::<usize>().map_err(|_| format!("invalid literal for int() with base 10: '{s}'"))
}

/// Parses a cpu-set string (`"0-3,5,^1"`) into a sorted, de-duplicated list.
///
/// An empty (or all-blank) string gives an empty list, which callers treat
/// as "not pinned".
pub fn parse(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus: Vec<usize> = Vec::new();
    if s.trim().is_empty() {
        return Ok(cpus);
    }
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err("string index out of range".to_string());
        }
        if let Some(rest) = item.strip_prefix('^') {
            let n = py_int(rest)?;
            cpus.retain(|&c| c != n);
        } else if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (py_int(a)?, py_int(b)?);
            if b >= a {
                if b - a > 4096 {
                    return Err(format!("cpu range too large: '{item}'"));
                }
                cpus.extend(a..=b);
            }
        } else {
            cpus.push(py_int(item)?);
        }
    }
    let set: BTreeSet<usize> = cpus.into_iter().collect();
    Ok(set.into_iter().collect())
}

/// Formats a cpu list the way `xm vcpu-list` prints affinities:
/// `any cpu` when it covers every cpu of the host, `no cpus` when empty,
/// otherwise compressed ranges such as `0-3,8,10-11`.
pub fn format_affinity(cpus: &[usize], nr_cpus: usize) -> String {
    let set: BTreeSet<usize> = cpus.iter().copied().collect();
    if nr_cpus > 0 && (0..nr_cpus).all(|c| set.contains(&c)) {
        return "any cpu".to_string();
    }
    if set.is_empty() {
        return "no cpus".to_string();
    }
    compress(&set.into_iter().collect::<Vec<_>>())
}

/// Compresses a sorted list into `a-b,c,d-e` ranges.
pub fn compress(sorted: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if start == end {
            parts.push(start.to_string());
        } else {
            parts.push(format!("{start}-{end}"));
        }
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xend_semantics() {
        assert_eq!(parse("0-3,5,^1").unwrap(), vec![0, 2, 3, 5]);
        assert_eq!(parse("0-3,^1,1").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse("^1,0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse("4").unwrap(), vec![4]);
        assert_eq!(parse(" 2 , 3 ").unwrap(), vec![2, 3]);
        assert_eq!(parse("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse("3-1").unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn errors_use_python_wording() {
        assert_eq!(parse("0-x").unwrap_err(), "invalid literal for int() with base 10: 'x'");
        assert!(parse("1,,2").is_err());
        assert!(parse("a").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("0-99999999").is_err());
    }

    #[test]
    fn affinity_format() {
        assert_eq!(format_affinity(&[0, 1, 2, 3, 4, 5, 6, 7], 8), "any cpu");
        assert_eq!(format_affinity(&[4, 5, 6, 7], 8), "4-7");
        assert_eq!(format_affinity(&[0, 1, 2, 3, 8, 10, 11], 16), "0-3,8,10-11");
        assert_eq!(format_affinity(&[], 8), "no cpus");
    }
}
