//! Parser and minimal-edit writer for Xen `xm`/`xl` domain config files
//! (`vm.cfg`).
//!
//! # Why a minimal-edit writer
//!
//! On an Oracle VM 3 host the `vm.cfg` of a guest is owned by OVM Manager and
//! its agent: they rewrite it, they put their own keys in it (`OVM_*`,
//! `guest_os_type`, …), and operators hand-edit it and leave comments. domform
//! only wants to change the handful of keys it manages. Regenerating the file
//! from a data model would drop unknown keys, reorder the file, lose
//! comments, and produce noisy diffs that OVM Manager then fights with. So
//! [`VmCfg`] keeps the original source text and every edit splices only the
//! value text of the affected assignment: [`VmCfg::render`] of an unmodified
//! file is byte-identical to the input, and [`VmCfg::set`] leaves every other
//! line untouched.
//!
//! # Format
//!
//! vm.cfg is a Python file of `name = value` statements (xm `execfile`s it;
//! xl parses a subset of the same syntax). Accepted here: ints (also
//! negative, hex, Python 2 `L` suffix), floats, strings in single, double or
//! triple quotes with `u`/`r`/`b` prefixes and Python escapes, adjacent string
//! concatenation, `True`/`False`/`None`, lists, tuples and dicts (nested,
//! trailing commas, spanning lines), `#` comments, blank lines, and `;` as a
//! statement separator. Anything else — names, calls, operators, `\` line
//! continuations, unterminated strings or brackets, a line that is not
//! `key = value` — is a [`ParseError`] with a 1-based line and column; the
//! parser never panics and never skips input.
//!
//! ```
//! use vmcfg::{Value, VmCfg};
//! # fn main() -> Result<(), vmcfg::ParseError> {
//! let mut cfg = VmCfg::parse("memory = '4096'\nvcpus = 2 # two\n")?;
//! assert_eq!(cfg.get("memory").and_then(Value::as_int), Some(4096));
//! cfg.set("vcpus", Value::Int(4));
//! assert_eq!(cfg.render(), "memory = '4096'\nvcpus = 4 # two\n");
//! # Ok(())
//! # }
//! ```

mod cfg;
pub mod devices;
mod lexer;
mod parser;
mod value;
mod writer;

use std::fmt;

pub use cfg::VmCfg;
pub use devices::{parse_kv_stanza, render_kv_stanza, DiskSpec};
pub use parser::is_valid_key;
pub use value::Value;

/// A syntax error, with a 1-based line and (character) column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parse a single Python literal, e.g. the output of [`Value::to_python`].
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    parser::parse_value_text(text)
}
