//! The [`Value`] type: the Python literal subset that can appear on the
//! right-hand side of a vm.cfg assignment, and its Python `repr` rendering.

use std::fmt;

/// A Python literal as found in a vm.cfg file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `4096`, `-1`, `0x10`.
    Int(i64),
    /// `1.5`, `1e3`.
    Float(f64),
    /// `'pty'`, `"pty"`, `u'…'`, `r'…'` (escapes already decoded).
    Str(String),
    /// `True` / `False`.
    Bool(bool),
    /// `None`.
    None,
    /// `[a, b]`.
    List(Vec<Value>),
    /// `(a, b)`, `(a,)`, `()`.
    Tuple(Vec<Value>),
    /// `{k: v}`; key order is kept as written.
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// The string, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Ints, and strings holding an int (`'65536'`, as OVM writes `memory`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
    }

    /// `True`/`False`, or the ints `1`/`0` (`vnc = 1`).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }

    /// The elements of a list or a tuple.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// Python `repr` in the style the OVM agent writes: strings in single
    /// quotes (with `\`, `'` and control characters escaped), lists as
    /// `['a', 'b']`, dicts as `{'k': 'v'}`, `True`/`False`/`None`.
    ///
    /// The output always parses back to an equal value, with two exceptions
    /// that have no Python literal: infinite floats are written as `1e999`
    /// (which reads back as infinity) and NaN is written as `None`.
    pub fn to_python(&self) -> String {
        let mut out = String::new();
        write_python(self, &mut out);
        out
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_python())
    }
}

fn write_python(v: &Value, out: &mut String) {
    match v {
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(x) => write_float(*x, out),
        Value::Str(s) => write_str(s, out),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::None => out.push_str("None"),
        Value::List(items) => {
            out.push('[');
            write_seq(items, out);
            out.push(']');
        }
        Value::Tuple(items) => {
            out.push('(');
            write_seq(items, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::Dict(pairs) => {
            out.push('{');
            for (n, (k, v)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_python(k, out);
                out.push_str(": ");
                write_python(v, out);
            }
            out.push('}');
        }
    }
}

fn write_seq(items: &[Value], out: &mut String) {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        write_python(item, out);
    }
}

fn write_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("None");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "1e999" } else { "-1e999" });
    } else {
        // `{:?}` always keeps a `.` or an exponent (`4.0`, `1e20`), so the
        // text reads back as a float, not an int.
        out.push_str(&format!("{x:?}"));
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn repr_matches_python_style() {
        let v = Value::List(vec![Value::Str("a".into()), Value::Str("b".into())]);
        assert_eq!(v.to_python(), "['a', 'b']");
        let d = Value::Dict(vec![
            (Value::Str("k".into()), Value::Str("v".into())),
            (Value::Str("n".into()), Value::Int(-3)),
        ]);
        assert_eq!(d.to_string(), "{'k': 'v', 'n': -3}");
        assert_eq!(Value::Tuple(vec![Value::Int(1)]).to_python(), "(1,)");
        assert_eq!(Value::Tuple(vec![]).to_python(), "()");
        assert_eq!(Value::Bool(false).to_python(), "False");
        assert_eq!(Value::None.to_python(), "None");
        assert_eq!(Value::Float(4.0).to_python(), "4.0");
        assert_eq!(Value::Float(f64::INFINITY).to_python(), "1e999");
        assert_eq!(Value::Float(f64::NAN).to_python(), "None");
        assert_eq!(Value::Str("a'b\\c\n\u{1}".into()).to_python(), "'a\\'b\\\\c\\n\\x01'");
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::Str("65536".into()).as_int(), Some(65536));
        assert_eq!(Value::Str("12-19".into()).as_int(), None);
        assert_eq!(Value::Int(7).as_int(), Some(7));
        assert_eq!(Value::Int(1).as_bool(), Some(true));
        assert_eq!(Value::Int(2).as_bool(), None);
        assert_eq!(Value::Bool(false).as_bool(), Some(false));
        assert_eq!(Value::Str("x".into()).as_str(), Some("x"));
        assert_eq!(Value::Int(1).as_str(), None);
        assert_eq!(Value::Tuple(vec![Value::None]).as_list().map(<[_]>::len), Some(1));
        assert_eq!(Value::Str("[]".into()).as_list(), None);
    }
}
