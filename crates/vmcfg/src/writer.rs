//! Minimal-edit operations on [`VmCfg`]: every edit splices the source text
//! and shifts the recorded offsets of the assignments after it, so that the
//! rest of the file stays byte-identical.

use crate::parser::{is_valid_key, Stmt};
use crate::{Value, VmCfg};

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0c')
}

impl VmCfg {
    /// Set `key` to `value`.
    ///
    /// If the key is present, the value text of its LAST assignment is
    /// replaced in place (the key's position, the text before the value and
    /// any trailing inline comment are kept) and earlier duplicate
    /// assignments are removed. Otherwise `key = <value>` is appended at the
    /// end of the file (after a newline if the file does not end with one).
    ///
    /// An invalid key (not a Python identifier, or a keyword) cannot be
    /// written without making the file unparseable, so it is ignored; use
    /// [`VmCfg::try_set`] to get an error instead.
    pub fn set(&mut self, key: &str, value: Value) {
        // The only failure is an invalid key, documented as a no-op.
        let _ = self.try_set(key, value);
    }

    /// Like [`VmCfg::set`], but reports an invalid key as an error.
    pub fn try_set(&mut self, key: &str, value: Value) -> Result<(), String> {
        if !is_valid_key(key) {
            return Err(format!("invalid vm.cfg key {key:?}: keys must be Python identifiers and not keywords"));
        }
        let idxs: Vec<usize> = (0..self.stmts.len()).filter(|&i| self.stmts[i].key == key).collect();
        let Some((&last, earlier)) = idxs.split_last() else {
            self.append(key, value);
            return Ok(());
        };
        let (start, end) = (self.stmts[last].value_start, self.stmts[last].value_end);
        self.splice(start, end, &value.to_python());
        self.stmts[last].value = value;
        for &i in earlier.iter().rev() {
            self.remove_stmt(i);
        }
        Ok(())
    }

    fn append(&mut self, key: &str, value: Value) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        let key_start = self.text.len();
        self.text.push_str(key);
        self.text.push_str(" = ");
        let value_start = self.text.len();
        self.text.push_str(&value.to_python());
        let value_end = self.text.len();
        self.text.push('\n');
        self.stmts.push(Stmt { key: key.to_string(), key_start, value_start, value_end, value });
    }

    /// Remove every assignment of `key`. An assignment alone on its line(s)
    /// is removed with its whole line(s), including a trailing inline
    /// comment; neighbouring comment lines are kept. Returns whether the key
    /// existed.
    pub fn remove(&mut self, key: &str) -> bool {
        let mut found = false;
        for i in (0..self.stmts.len()).rev() {
            if self.stmts[i].key == key {
                self.remove_stmt(i);
                found = true;
            }
        }
        found
    }

    /// Render a fresh file from entries, one `key = value` per line in the
    /// given order (for new VMs). Invalid keys are skipped, as in
    /// [`VmCfg::set`]; a repeated key keeps its first position and last value.
    pub fn from_entries(entries: &[(&str, Value)]) -> VmCfg {
        let mut cfg = VmCfg { text: String::new(), stmts: Vec::new() };
        for (k, v) in entries {
            cfg.set(k, v.clone());
        }
        cfg
    }

    /// Replace `text[start..end]` with `repl`, shifting the offsets of
    /// everything at or after `end`.
    fn splice(&mut self, start: usize, end: usize, repl: &str) {
        self.text.replace_range(start..end, repl);
        let shift = |off: &mut usize| {
            if *off >= end {
                *off = *off - end + start + repl.len();
            }
        };
        for s in &mut self.stmts {
            shift(&mut s.key_start);
            shift(&mut s.value_start);
            shift(&mut s.value_end);
        }
    }

    /// Delete statement `i` from the text and from the statement list.
    fn remove_stmt(&mut self, i: usize) {
        let (ks, ve) = (self.stmts[i].key_start, self.stmts[i].value_end);
        let (start, end) = self.removal_range(ks, ve);
        self.stmts.remove(i);
        self.splice(start, end, "");
    }

    /// The byte range to delete for the statement spanning `ks..ve`.
    fn removal_range(&self, ks: usize, ve: usize) -> (usize, usize) {
        let text = self.text.as_str();
        let line_start = text[..ks].rfind('\n').map_or(0, |p| p + 1);
        let alone_before = text[line_start..ks].chars().all(is_blank);

        // After the value: blanks, maybe `;` and blanks, then what?
        let skip_blank = |from: usize| text[from..].find(|c: char| !is_blank(c)).map_or(text.len(), |p| from + p);
        let p = skip_blank(ve);
        let after_semi = if text[p..].starts_with(';') { Some(skip_blank(p + 1)) } else { None };
        let rest = after_semi.unwrap_or(p);
        let alone_after = rest >= text.len() || text[rest..].starts_with(['#', '\n']);

        match (alone_before, alone_after) {
            // The statement owns its line(s): drop them, newline included.
            (true, true) => {
                let eol = text[rest..].find('\n').map_or(text.len(), |n| rest + n + 1);
                (line_start, eol)
            }
            // `a = 1; b = 2` removing a: drop `a = 1; `.
            (true, false) => (ks, rest),
            // `a = 1; b = 2` removing b: drop `; b = 2`.
            (false, _) => {
                let semi = text[..ks].trim_end_matches(is_blank).strip_suffix(';').map(str::len);
                (semi.unwrap_or(ks), ve)
            }
        }
    }
}
