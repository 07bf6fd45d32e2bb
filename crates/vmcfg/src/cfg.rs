//! [`VmCfg`]: a parsed vm.cfg that keeps its source text, and its read API.
//! The edit operations live in `writer.rs`.

use crate::lexer::line_col;
use crate::parser::{parse_statements, Stmt};
use crate::{ParseError, Value};

/// A parsed vm.cfg file.
///
/// Holds the exact source text plus, for each assignment, where its key and
/// value text are, so that edits touch only the bytes they must.
#[derive(Debug, Clone, PartialEq)]
pub struct VmCfg {
    pub(crate) text: String,
    /// Every assignment in file order (duplicates included).
    pub(crate) stmts: Vec<Stmt>,
}

impl VmCfg {
    /// Parse a whole vm.cfg file.
    pub fn parse(text: &str) -> Result<VmCfg, ParseError> {
        let stmts = parse_statements(text)?;
        Ok(VmCfg { text: text.to_string(), stmts })
    }

    fn last(&self, key: &str) -> Option<&Stmt> {
        self.stmts.iter().rev().find(|s| s.key == key)
    }

    /// The effective value of `key` (the last assignment wins, as in Python).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.last(key).map(|s| &s.value)
    }

    /// 1-based line of the (last) assignment of `key`.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.last(key).map(|s| line_col(&self.text, s.key_start).0)
    }

    /// Distinct keys in order of first appearance.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.stmts {
            if !out.contains(&s.key.as_str()) {
                out.push(&s.key);
            }
        }
        out
    }

    /// Distinct keys in order of first appearance, each with its effective
    /// (last assigned) value.
    pub fn entries(&self) -> Vec<(&str, &Value)> {
        self.keys().into_iter().filter_map(|k| self.get(k).map(|v| (k, v))).collect()
    }

    /// The file text, including every edit made so far. Byte-identical to the
    /// parsed input if nothing was changed.
    pub fn render(&self) -> String {
        self.text.clone()
    }
}
