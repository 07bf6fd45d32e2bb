//! A YAML tree that remembers where every node came from, and a serde `Deserializer` over it.
//!
//! serde_yaml reports a location only for the first syntax or type error and has no spans, but
//! domform must report *every* mistake with `file:line:col` in one run (a partly understood file
//! must never reach the planner). So files are parsed with yaml-rust2's marked events into
//! [`Node`]s, and the raw serde types are deserialized from these nodes. The deserializer:
//! - skips keys a struct does not know, recording each as a located diagnostic with a
//!   "did you mean" hint, so one typo does not hide the next;
//! - attaches the innermost node's location to every type error.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::diag::{did_you_mean, Diagnostic, Location};

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it starts.
    pub loc: Location,
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        /// The text.
        text: String,
        /// Unquoted (so `3` is a number and `~` is null).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order. Keys are scalars.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for `~`, `null` and empty plain scalars.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of keys and sequence indexes (as decimal strings).
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut node = self;
        for part in path {
            node = match &node.kind {
                NodeKind::Map(_) => node.get(part)?,
                NodeKind::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
                NodeKind::Scalar { .. } => return None,
            };
        }
        Some(node)
    }
}

pub use super::events::{parse, MAX_ALIAS_WEIGHT, MAX_DEPTH, MAX_FILE_BYTES};

/// A deserialization error, located at the innermost node that caused it.
#[derive(Debug, Clone)]
pub struct DeError {
    /// What went wrong.
    pub message: String,
    /// The node.
    pub location: Option<Location>,
    /// The key path.
    pub path: Option<String>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { message: msg.to_string(), location: None, path: None }
    }
}

impl DeError {
    /// Converts into a diagnostic.
    pub fn into_diagnostic(self) -> Diagnostic {
        Diagnostic::error(self.location, self.path.unwrap_or_default(), self.message)
    }
}

/// Deserializes `T` from a node. Unknown keys are pushed to `sink`; the first type error is returned.
pub fn from_node<'de, T: serde::Deserialize<'de>>(
    node: &Node,
    path: &str,
    sink: &RefCell<Vec<Diagnostic>>,
) -> Result<T, DeError> {
    T::deserialize(NodeDe { node, path: path.to_string(), sink })
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    sink: &'a RefCell<Vec<Diagnostic>>,
}

impl NodeDe<'_> {
    fn locate(&self, mut e: DeError) -> DeError {
        if e.location.is_none() {
            e.location = Some(self.node.loc.clone());
            e.path = Some(self.path.clone());
        }
        e
    }

    fn err(&self, msg: impl Into<String>) -> DeError {
        DeError { message: msg.into(), location: Some(self.node.loc.clone()), path: Some(self.path.clone()) }
    }

    fn describe(&self) -> String {
        match &self.node.kind {
            NodeKind::Scalar { text, .. } if self.node.is_null() => format!("nothing (`{text}`)"),
            NodeKind::Scalar { text, .. } => format!("`{text}`"),
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }

    fn scalar(&self, what: &str) -> Result<&str, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { text, .. } if !self.node.is_null() => Ok(text),
            _ => Err(self.err(format!("expected {what}, found {}", self.describe()))),
        }
    }

    fn child<'n>(&'n self, node: &'n Node, suffix: &str) -> NodeDe<'n> {
        NodeDe {
            node,
            path: if self.path.is_empty() {
                suffix.trim_start_matches('.').to_string()
            } else {
                format!("{}{suffix}", self.path)
            },
            sink: self.sink,
        }
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let text = self.scalar("a whole number")?;
            let n: $ty = text
                .trim()
                .replace('_', "")
                .parse()
                .map_err(|_| self.err(format!("expected a whole number, found `{text}`")))?;
            visitor.$visit(n).map_err(|e| self.locate(e))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            _ if self.node.is_null() => visitor.visit_unit(),
            NodeKind::Scalar { text, plain: true } => {
                if let Ok(b) = text.parse::<bool>() {
                    visitor.visit_bool(b)
                } else if let Ok(i) = text.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = text.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
                    && text.parse::<f64>().is_ok()
                {
                    visitor.visit_f64(text.parse::<f64>().unwrap_or_default())
                } else {
                    visitor.visit_str(text)
                }
            }
            NodeKind::Scalar { text, .. } => visitor.visit_str(text),
            NodeKind::Seq(_) => return self.deserialize_seq(visitor),
            NodeKind::Map(_) => return self.deserialize_map(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("true or false")?;
        match text {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(self.err(format!("expected true or false, found `{other}`"))),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a number")?;
        let n: f64 = text.trim().parse().map_err(|_| self.err(format!("expected a number, found `{text}`")))?;
        visitor.visit_f64(n).map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a string")?;
        visitor.visit_str(text).map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            let loc = self.node.loc.clone();
            let path = self.path.clone();
            visitor.visit_some(self).map_err(|mut e| {
                if e.location.is_none() {
                    e.location = Some(loc);
                    e.path = Some(path);
                }
                e
            })
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_unit()
        } else {
            Err(self.err(format!("expected nothing, found {}", self.describe())))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => {
                let access = Seq { de: &self, items, next: 0 };
                visitor.visit_seq(access).map_err(|e| self.locate(e))
            }
            _ => Err(self.err(format!("expected a list, found {}", self.describe()))),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.map_with(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.map_with(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let text = self.scalar(&format!("one of {}", list_words(variants)))?;
        if !variants.contains(&text) {
            let mut e = self.err(format!("unknown value `{text}`, expected one of {}", list_words(variants)));
            if let Some(s) = did_you_mean(text, variants) {
                e.message.push_str(&format!(" (did you mean `{s}`?)"));
            }
            return Err(e);
        }
        let de: de::value::StrDeserializer<'_, DeError> = text.into_deserializer();
        visitor.visit_enum(de).map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

impl NodeDe<'_> {
    fn map_with<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Map(entries) => {
                let mut seen: Vec<&str> = Vec::new();
                for (k, _) in entries {
                    if let Some(key) = k.as_str() {
                        if seen.contains(&key) {
                            self.sink.borrow_mut().push(Diagnostic::error(
                                Some(k.loc.clone()),
                                self.key_path(key),
                                format!("duplicate key `{key}`"),
                            ));
                        }
                        seen.push(key);
                        if let Some(fields) = fields {
                            if !fields.contains(&key) {
                                let mut d = Diagnostic::error(
                                    Some(k.loc.clone()),
                                    self.key_path(key),
                                    format!("unknown key `{key}`"),
                                );
                                d = match did_you_mean(key, fields) {
                                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                    None => d.with_help(format!("known keys here: {}", list_words(fields))),
                                };
                                self.sink.borrow_mut().push(d);
                            }
                        }
                    }
                }
                let access = Map { de: &self, entries, fields, next: 0, value: None };
                visitor.visit_map(access).map_err(|e| self.locate(e))
            }
            _ if fields.is_some() && self.node.is_null() => {
                let access = Map { de: &self, entries: &[], fields, next: 0, value: None };
                visitor.visit_map(access).map_err(|e| self.locate(e))
            }
            _ => Err(self.err(format!("expected a mapping, found {}", self.describe()))),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

fn list_words(words: &[&str]) -> String {
    words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

struct Seq<'a, 'b> {
    de: &'b NodeDe<'a>,
    items: &'b [Node],
    next: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.next) else {
            return Ok(None);
        };
        let idx = self.next;
        self.next += 1;
        seed.deserialize(self.de.child(item, &format!("[{idx}]"))).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Map<'a, 'b> {
    de: &'b NodeDe<'a>,
    entries: &'b [(Node, Node)],
    fields: Option<&'static [&'static str]>,
    next: usize,
    value: Option<(&'b Node, String)>,
}

impl<'de> MapAccess<'de> for Map<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        while let Some((k, v)) = self.entries.get(self.next) {
            self.next += 1;
            let key = k.as_str().unwrap_or_default();
            // Unknown keys were reported above; skipping them lets the rest be checked.
            if let Some(fields) = self.fields {
                if !fields.contains(&key) {
                    continue;
                }
            }
            self.value = Some((v, key.to_string()));
            return seed.deserialize(self.de.child(k, &format!(".{key}"))).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((node, key)) => seed.deserialize(self.de.child(node, &format!(".{key}"))),
            None => Err(self.de.err("internal error: value requested before key")),
        }
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
