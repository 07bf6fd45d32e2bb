//! Typed readings of the Xen toolstack's text output (`xm info -n`, `xm list -l`, `xm list`,
//! `xm vcpu-list`).
//!
//! domform reads each host in one ssh exec and gets plain text back; these parsers turn it into
//! values for the planner and for `domform list`. They follow the printf formats of xend
//! (`tools/python/xen/xm/main.py`, `XendNode.py`) and are total: any input gives either a value or
//! a [`XenParseError`] naming the line, never a panic, because a reconciler that edits
//! hypervisors must not fall over on a surprising host.

pub mod domain;
pub mod fields;
pub mod info;
pub mod list;
pub mod sxp;

use std::fmt;

pub use domain::{parse_xm_list_long, DomState, Domain, Vbd, Vif};
pub use info::{parse_xm_info, CpuTopo, HostInfo};
pub use list::{parse_vcpu_list, parse_xm_list, BriefDomain, VcpuRow};
pub use sxp::{parse_all, Sxp};

/// Why some toolstack output could not be read, and where (1-based line of the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenParseError {
    /// 1-based line of the input; the line after the last one when something is missing at the end.
    pub line: usize,
    /// What is wrong, naming the offending text.
    pub message: String,
}

impl XenParseError {
    /// An error at `line`.
    pub fn new(line: usize, message: impl Into<String>) -> XenParseError {
        XenParseError { line, message: message.into() }
    }
}

impl fmt::Display for XenParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for XenParseError {}

/// The line after the last one: where a missing item "would have been".
pub(crate) fn end_line(text: &str) -> usize {
    text.lines().count() + 1
}

/// Fields of a line split on whitespace, each with its byte offset in the line.
pub(crate) fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Sample extraction and a deterministic mutation loop shared by the parser tests.

    /// The lines after the `# SOURCE <tag>…` note (tag `:` for a bare `# SOURCE:`) up to the next `# SOURCE`, without `#` notes.
    pub fn section(text: &str, tag: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# SOURCE") {
                inside = rest.trim_start().starts_with(tag);
                continue;
            }
            if inside && !line.starts_with('#') {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// `count` deterministic mutations of `sample` (deletions, insertions, swaps, cuts).
    pub fn mutations(sample: &str, count: usize) -> Vec<String> {
        const ALPHABET: &[char] =
            &['(', ')', '\'', '"', '\\', ':', '-', ' ', '\n', '\t', '0', '9', '.', ',', '^', 'a', 'r', 'é'];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ sample.len() as u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let base: Vec<char> = sample.chars().collect();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let mut chars = base.clone();
            let edits = 1 + next() % 4;
            for _ in 0..edits {
                let len = chars.len().max(1);
                let at = (next() as usize) % len;
                let ch = ALPHABET[(next() as usize) % ALPHABET.len()];
                match next() % 6 {
                    0 if !chars.is_empty() => {
                        chars.remove(at.min(chars.len() - 1));
                    }
                    1 => chars.insert(at.min(chars.len()), ch),
                    2 if !chars.is_empty() => {
                        let last = chars.len() - 1;
                        chars[at.min(last)] = ch;
                    }
                    3 => chars.truncate(at),
                    4 => {
                        let end = (at + (next() as usize) % 40).min(chars.len());
                        let piece: Vec<char> = chars[at.min(end)..end].to_vec();
                        chars.splice(at.min(end)..at.min(end), piece);
                    }
                    _ => {
                        let digits = ['0', '7', '9', '-', '4'];
                        for _ in 0..(next() % 12) {
                            chars.insert(at.min(chars.len()), digits[(next() as usize) % digits.len()]);
                        }
                    }
                }
            }
            out.push(chars.into_iter().collect());
        }
        out
    }
}
