//! YAML text → located [`Node`] tree, from yaml-rust2's marked events, within resource limits.
//!
//! A desired-state file is untrusted input (it may come from a merge request): a 463-byte file
//! of nested aliases ("billion laughs") once made `validate` use 4 GB and abort, because every
//! alias copied its anchor's whole subtree. So the builder bounds what a file may cost, each
//! limit a located error, and stops building at the first one (memory stays bounded):
//! - [`MAX_FILE_BYTES`]: larger files are refused before they are read (`load.rs`);
//! - [`MAX_DEPTH`]: nesting deeper than this is refused (the tree is walked recursively);
//! - [`MAX_ALIAS_WEIGHT`]: what aliases copy, counted as nodes and scalar bytes, is bounded.
//!
//! With these, validating any file under 1 MiB stays far below 100 MB of memory
//! (`tests/yaml_limits.rs` measures the peak in a child process).

use std::path::PathBuf;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::tree::{Node, NodeKind};
use crate::diag::{Diagnostic, Location};

/// Largest desired-state file read (1 MiB: thousands of VMs; split a larger fleet into files).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Deepest nesting of sequences and mappings (domform's schema needs fewer than 10 levels).
pub const MAX_DEPTH: usize = 64;
/// Most that aliases may copy in one file, in bytes as [`measure`] estimates them
/// ([`NODE_BYTES`] per node plus the scalar text): 8 MiB (`<<: *defaults` merges cost little).
pub const MAX_ALIAS_WEIGHT: usize = 8 << 20;
/// What one node costs in memory, about (the node, its location, its allocation).
pub const NODE_BYTES: usize = 96;

/// Parses one YAML document into a [`Node`]. An empty file gives `None`.
pub fn parse(text: &str, file: &Arc<PathBuf>) -> Result<Option<Node>, Diagnostic> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(file, text.len() as u64));
    }
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: Default::default(),
        root: None,
        docs: 0,
        error: None,
        aliased: 0,
        stopped: false,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        if let Some(d) = builder.error {
            return Err(d);
        }
        return Err(Diagnostic::error(Some(loc_of(file, e.marker())), "", format!("YAML syntax error: {}", e.info())));
    }
    if let Some(d) = builder.error {
        return Err(d);
    }
    Ok(builder.root)
}

/// The error for a file over [`MAX_FILE_BYTES`], located at its first line.
pub fn too_big(file: &Arc<PathBuf>, bytes: u64) -> Diagnostic {
    Diagnostic::error(
        Some(Location { file: file.clone(), line: 1, col: 1 }),
        "",
        format!("the file is {bytes} bytes; domform reads files of at most {MAX_FILE_BYTES} bytes (1 MiB)"),
    )
    .with_help("split the desired state into several files in one directory (`-f DIR`)")
}

fn loc_of(file: &Arc<PathBuf>, m: &Marker) -> Location {
    Location { file: file.clone(), line: m.line(), col: m.col() + 1 }
}

/// A node's weight (about its bytes in memory: [`NODE_BYTES`] per node plus its scalar text)
/// and depth (a scalar is 0).
pub fn measure(n: &Node) -> (usize, usize) {
    let add = |(w, d): (usize, usize), c: &Node| {
        let (cw, cd) = measure(c);
        (w.saturating_add(cw), d.max(cd + 1))
    };
    match &n.kind {
        NodeKind::Scalar { text, .. } => (NODE_BYTES + text.len(), 0),
        NodeKind::Seq(items) => items.iter().fold((NODE_BYTES, 1), add),
        NodeKind::Map(entries) => entries.iter().fold((NODE_BYTES, 1), |acc, (k, v)| add(add(acc, k), v)),
    }
}

enum Partial {
    Seq(Node, usize, Vec<Node>),
    Map(Node, usize, Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    file: Arc<PathBuf>,
    stack: Vec<Partial>,
    /// Anchored nodes with their weights and depths.
    anchors: std::collections::HashMap<usize, (Node, usize, usize)>,
    root: Option<Node>,
    docs: usize,
    error: Option<Diagnostic>,
    /// Weight copied by aliases so far.
    aliased: usize,
    /// A limit was hit: later events are ignored.
    stopped: bool,
}

impl Builder {
    /// Records the first error; a limit error also drops what was built (memory stays bounded).
    fn fail(&mut self, loc: Location, message: String, limit: bool) {
        if self.error.is_none() {
            self.error = Some(Diagnostic::error(Some(loc), "", message));
        }
        if limit {
            self.stopped = true;
            self.stack.clear();
            self.anchors.clear();
            self.root = None;
        }
    }

    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let (w, d) = measure(&node);
            self.anchors.insert(anchor, (node.clone(), w, d));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Partial::Seq(_, _, items)) => items.push(node),
            Some(Partial::Map(_, _, entries, pending)) => match pending.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar { .. }) && self.error.is_none() {
                        self.error =
                            Some(Diagnostic::error(Some(node.loc.clone()), "", "mapping keys must be plain scalars"));
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        let loc = loc_of(&self.file, &mark);
        match ev {
            Event::DocumentStart => {
                self.docs += 1;
                if self.docs > 1 && self.error.is_none() {
                    self.error = Some(Diagnostic::error(
                        Some(loc),
                        "",
                        "more than one YAML document in a file; use one file per document",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push_node(Node { kind: NodeKind::Scalar { text, plain }, loc }, anchor);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => self.fail(
                loc,
                format!("nesting deeper than {MAX_DEPTH} levels (limit); a domform file needs fewer than 10"),
                true,
            ),
            Event::SequenceStart(anchor, _) => {
                let head = Node { kind: NodeKind::Seq(Vec::new()), loc };
                self.stack.push(Partial::Seq(head, anchor, Vec::new()));
            }
            Event::MappingStart(anchor, _) => {
                let head = Node { kind: NodeKind::Map(Vec::new()), loc };
                self.stack.push(Partial::Map(head, anchor, Vec::new(), None));
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Partial::Seq(mut head, anchor, items)) => {
                    head.kind = NodeKind::Seq(items);
                    self.push_node(head, anchor);
                }
                Some(Partial::Map(mut head, anchor, entries, _)) => {
                    head.kind = NodeKind::Map(entries);
                    self.push_node(head, anchor);
                }
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, w, d)| (*w, *d)) {
                Some((w, _)) if self.aliased.saturating_add(w) > MAX_ALIAS_WEIGHT => self.fail(
                    loc,
                    format!(
                        "aliases here would copy more than {} MiB in all (limit; nested aliases, a \"billion laughs\"?)",
                        MAX_ALIAS_WEIGHT >> 20
                    ),
                    true,
                ),
                Some((_, d)) if self.stack.len() + d > MAX_DEPTH => self.fail(
                    loc,
                    format!("this alias nests deeper than {MAX_DEPTH} levels (limit)"),
                    true,
                ),
                Some((w, _)) => {
                    self.aliased += w;
                    if let Some((node, _, _)) = self.anchors.get(&id).cloned() {
                        self.push_node(node, 0);
                    }
                }
                None => {
                    if self.error.is_none() {
                        self.error = Some(Diagnostic::error(Some(loc), "", "alias to an unknown anchor"));
                    }
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}
