//! Reading files and turning each top-level entry into raw types, collecting every error.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::raw::{RawHost, RawLicence, RawReconcile, RawVm};
use super::raw_manager::RawManager;
use super::tree::{self, Node, NodeKind};
use crate::diag::{did_you_mean, Diagnostic, Location};

/// One named entry (a host, VM or licence) and where it was written.
#[derive(Debug, Clone)]
pub struct Entry<T> {
    /// Its name (the mapping key).
    pub name: String,
    /// Its raw value.
    pub raw: T,
    /// Location of the key.
    pub loc: Location,
    /// The value node, to locate later errors inside it.
    pub node: Node,
    /// Keys left out because their values did not deserialize (each already reported), so
    /// the entry's other mistakes are reported too.
    pub dropped: Vec<String>,
}

impl<T> Entry<T> {
    /// Location of a field inside this entry (or of the nearest parent that exists).
    pub fn loc_at(&self, path: &[&str]) -> Location {
        let mut n = path.len();
        loop {
            if let Some(node) = self.node.at(&path[..n]) {
                return node.loc.clone();
            }
            if n == 0 {
                return self.loc.clone();
            }
            n -= 1;
        }
    }
}

/// Everything read from the files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Hosts, in file order.
    pub hosts: Vec<Entry<RawHost>>,
    /// VMs, in file order.
    pub vms: Vec<Entry<RawVm>>,
    /// Licence groups, in file order.
    pub licences: Vec<Entry<RawLicence>>,
    /// Oracle VM Manager hosts, in file order.
    pub managers: Vec<Entry<RawManager>>,
    /// `host_defaults:` (the first one; a second is an error naming both).
    pub host_defaults: Option<Entry<RawHost>>,
    /// `reconcile:` (the first one; a second is an error naming both).
    pub reconcile: Option<Entry<RawReconcile>>,
    /// Names whose entries failed to load (so references to them are not reported twice).
    pub broken: BTreeSet<String>,
    /// Files read.
    pub files: Vec<PathBuf>,
}

/// Top-level keys of a file (the fields of [`super::raw::RawFile`]).
pub const TOP_KEYS: &[&str] = &["version", "hosts", "vms", "licences", "managers", "host_defaults", "reconcile"];

/// Expands paths: a file as it is; a directory's `*.yaml` and `*.yml` files, sorted.
pub fn expand(paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut files: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| {
                            f.is_file() && matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                        })
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        diags.push(Diagnostic::error(
                            None,
                            "",
                            format!("{}: no *.yaml files in this directory", p.display()),
                        ));
                    }
                    out.extend(files);
                }
                Err(e) => {
                    diags.push(Diagnostic::error(None, "", format!("{}: cannot read directory: {e}", p.display())))
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// Reads every file; returns what loaded and every diagnostic.
pub fn read_all(paths: &[PathBuf]) -> (Loaded, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut loaded = Loaded::default();
    for file in expand(paths, &mut diags) {
        read_one(&file, &mut loaded, &mut diags);
        loaded.files.push(file);
    }
    (loaded, diags)
}

fn read_one(file: &Path, loaded: &mut Loaded, diags: &mut Vec<Diagnostic>) {
    let name = Arc::new(file.to_path_buf());
    // Not read at all when too big (a desired-state file is untrusted input: see tree::events).
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if size > super::events::MAX_FILE_BYTES {
        diags.push(super::events::too_big(&name, size));
        return;
    }
    let text = match std::fs::read(file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                diags.push(Diagnostic::error(None, "", format!("{}: not UTF-8 text", file.display())));
                return;
            }
        },
        Err(e) => {
            diags.push(Diagnostic::error(None, "", format!("{}: cannot read: {e}", file.display())));
            return;
        }
    };
    let root = match tree::parse(&text, &name) {
        Ok(Some(root)) => root,
        Ok(None) => return,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let NodeKind::Map(entries) = &root.kind else {
        diags.push(Diagnostic::error(
            Some(root.loc.clone()),
            "",
            "a domform file is a mapping with `hosts`, `vms` and `licences`",
        ));
        return;
    };
    let mut seen = BTreeSet::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        if !seen.insert(key) {
            diags.push(Diagnostic::error(Some(k.loc.clone()), key, format!("duplicate key `{key}`")));
            continue;
        }
        match key {
            "version" => match v.as_str() {
                Some("1") => {}
                _ => diags.push(Diagnostic::error(
                    Some(v.loc.clone()),
                    "version",
                    "unsupported file version; this domform reads `version: 1`",
                )),
            },
            "hosts" => section(v, "hosts", &mut loaded.hosts, &mut loaded.broken, diags),
            "vms" => section(v, "vms", &mut loaded.vms, &mut loaded.broken, diags),
            "licences" => section(v, "licences", &mut loaded.licences, &mut loaded.broken, diags),
            "managers" => section(v, "managers", &mut loaded.managers, &mut loaded.broken, diags),
            "host_defaults" => once(k, v, "host_defaults", &mut loaded.host_defaults, diags),
            "reconcile" => once(k, v, "reconcile", &mut loaded.reconcile, diags),
            other => {
                let mut d = Diagnostic::error(Some(k.loc.clone()), other, format!("unknown top-level key `{other}`"));
                if let Some(s) = did_you_mean(other, TOP_KEYS) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_help(
                        "known keys here: `version`, `hosts`, `vms`, `licences`, `managers`, `host_defaults`, `reconcile`",
                    );
                }
                diags.push(d);
            }
        }
    }
}

/// A top-level key that may be declared once across all files (`host_defaults`, `reconcile`).
fn once<T: serde::de::DeserializeOwned>(
    k: &Node,
    v: &Node,
    what: &str,
    slot: &mut Option<Entry<T>>,
    diags: &mut Vec<Diagnostic>,
) {
    if v.is_null() {
        return;
    }
    if let Some(first) = slot {
        diags.push(
            Diagnostic::error(Some(k.loc.clone()), what, format!("`{what}` is declared twice"))
                .with_help(format!("first declared at {}", first.loc)),
        );
        return;
    }
    let sink = RefCell::new(Vec::new());
    match tree::from_node::<T>(v, what, &sink) {
        Ok(raw) => {
            *slot = Some(Entry { name: what.into(), raw, loc: k.loc.clone(), node: v.clone(), dropped: Vec::new() })
        }
        Err(e) => diags.push(e.into_diagnostic()),
    }
    diags.extend(sink.into_inner());
}

fn section<T: serde::de::DeserializeOwned>(
    node: &Node,
    what: &str,
    out: &mut Vec<Entry<T>>,
    broken: &mut BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    if node.is_null() {
        return;
    }
    let NodeKind::Map(entries) = &node.kind else {
        diags.push(Diagnostic::error(
            Some(node.loc.clone()),
            what,
            format!("`{what}` must be a mapping from names to entries"),
        ));
        return;
    };
    let mut seen = BTreeSet::new();
    for (k, v) in entries {
        let name = k.as_str().unwrap_or_default().to_string();
        let path = format!("{what}.{name}");
        if !seen.insert(name.clone()) {
            diags.push(Diagnostic::error(
                Some(k.loc.clone()),
                path,
                format!("`{name}` is declared twice in this file"),
            ));
            continue;
        }
        // A value of the wrong type fails the whole entry in serde; report it, leave that key
        // out and try again, so the entry's other mistakes are reported in the same run.
        let mut node = v.clone();
        let mut dropped = Vec::new();
        loop {
            let sink = RefCell::new(Vec::new());
            match tree::from_node::<T>(&node, &path, &sink) {
                Ok(raw) => {
                    diags.extend(sink.into_inner());
                    out.push(Entry { name, raw, loc: k.loc.clone(), node: v.clone(), dropped });
                    break;
                }
                Err(e) => {
                    let key = e.path.as_deref().and_then(|p| top_key(p, &path)).map(str::to_string);
                    diags.push(e.into_diagnostic());
                    match key {
                        Some(key) if !dropped.contains(&key) && remove_key(&mut node, &key) => dropped.push(key),
                        _ => {
                            diags.extend(sink.into_inner());
                            broken.insert(name);
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The entry's own key an error path is about: `vms.db01.disks[0].size` → `disks`.
fn top_key<'a>(error_path: &'a str, entry_path: &str) -> Option<&'a str> {
    let rest = error_path.strip_prefix(entry_path)?.strip_prefix('.')?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|k| !k.is_empty())
}

/// Removes `key` from a mapping node; false when it is not there.
fn remove_key(node: &mut Node, key: &str) -> bool {
    let NodeKind::Map(entries) = &mut node.kind else { return false };
    let before = entries.len();
    entries.retain(|(k, _)| k.as_str() != Some(key));
    entries.len() != before
}
