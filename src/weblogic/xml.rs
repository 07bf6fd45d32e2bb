//! Locating elements of a WebLogic descriptor by byte offset, and editing only their text.
//!
//! Parsing and re-serializing would reorder attributes, drop comments, change quoting and
//! whitespace, and risk touching the `{AES}` password. Instead quick-xml's tokenizer gives each
//! element's byte range, and an edit replaces the text between a start and an end tag, or
//! inserts a whole element with its siblings' indentation. Every byte outside the edited
//! ranges is copied as it was. Elements are matched by local name, so a prefixed document
//! (`<jdbc:url>`) works too, and inserted elements take their parent's prefix.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::pool;

/// Where one element is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Name as written (with its prefix).
    pub qname: String,
    /// From `<` of the start tag to after `>` of the end tag.
    pub outer: (usize, usize),
    /// Between the tags (empty range at the end of `<x/>`).
    pub inner: (usize, usize),
    /// Written as `<x/>`.
    pub empty: bool,
}

/// A child of `<jdbc-connection-pool-params>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolChild {
    /// Local name.
    pub element: String,
    /// Where it is.
    pub span: Span,
    /// Its text, `Err` when it holds markup.
    pub value: Result<String, String>,
}

/// What domform needs from a JDBC module (`config/jdbc/*-jdbc.xml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    /// `<name>` of the data source.
    pub name: Option<String>,
    /// `<jdbc-driver-params><url>` and its text.
    pub url: Option<(Span, Result<String, String>)>,
    /// The `user` property's value.
    pub user: Option<String>,
    /// `<jdbc-driver-params>`.
    pub driver_params: Option<Span>,
    /// `<jdbc-connection-pool-params>`.
    pub pool_params: Option<Span>,
    /// Its children, in file order.
    pub pool_children: Vec<PoolChild>,
    /// The root's first child (to learn the file's indentation step).
    pub first_child: Option<Span>,
}

/// One change to the text: delete `del` bytes at `at`, insert `ins` there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Byte offset in the original text.
    pub at: usize,
    /// Bytes removed.
    pub del: usize,
    /// Text inserted.
    pub ins: String,
}

fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

fn names(e: &BytesStart<'_>) -> (String, String) {
    let q = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let l = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    (l, q)
}

/// Calls `visit(path of local names, span)` for every element, children before parents.
fn walk(text: &str, mut visit: impl FnMut(&[String], &Span)) -> Result<(), String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<(String, String, usize, usize)> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(0);
                return Err(format!("line {}: not well-formed XML: {e}", line_of(text, at)));
            }
        };
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match ev {
            Event::Start(e) => {
                let (l, q) = names(&e);
                path.push(l.clone());
                stack.push((l, q, before, after));
            }
            Event::End(_) => {
                let Some((_, q, os, is)) = stack.pop() else {
                    return Err(format!("line {}: an end tag without a start tag", line_of(text, before)));
                };
                visit(&path, &Span { qname: q, outer: (os, after), inner: (is, before), empty: false });
                path.pop();
            }
            Event::Empty(e) => {
                let (l, q) = names(&e);
                path.push(l);
                visit(&path, &Span { qname: q, outer: (before, after), inner: (after, after), empty: true });
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match stack.last() {
        Some((l, ..)) => Err(format!("the file ends inside <{l}>")),
        None => Ok(()),
    }
}

/// The text of an element without children (CDATA allowed), unescaped.
pub fn text_of(text: &str, span: &Span) -> Result<String, String> {
    let raw = &text[span.inner.0..span.inner.1];
    let t = raw.trim();
    if let Some(c) = t.strip_prefix("<![CDATA[").and_then(|c| c.strip_suffix("]]>")) {
        if !c.contains("]]>") {
            return Ok(c.to_string());
        }
    }
    if raw.contains('<') {
        return Err(format!("<{}> on line {} holds markup, not just text", span.qname, line_of(text, span.outer.0)));
    }
    quick_xml::escape::unescape(raw)
        .map(|c| c.into_owned())
        .map_err(|e| format!("<{}> on line {}: {e}", span.qname, line_of(text, span.outer.0)))
}

/// Reads a JDBC module.
pub fn scan(text: &str) -> Result<Module, String> {
    let mut m = Module::default();
    let mut root: Option<String> = None;
    let mut prop: (Option<String>, Option<String>) = (None, None);
    walk(text, |path, span| {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match p.as_slice() {
            [r] => root = Some(r.to_string()),
            [_, child] => {
                if m.first_child.is_none() {
                    m.first_child = Some(span.clone());
                }
                match *child {
                    "name" => m.name = text_of(text, span).ok(),
                    "jdbc-driver-params" => m.driver_params = Some(span.clone()),
                    "jdbc-connection-pool-params" => m.pool_params = Some(span.clone()),
                    _ => {}
                }
            }
            [_, "jdbc-driver-params", "url"] => m.url = Some((span.clone(), text_of(text, span))),
            [_, "jdbc-driver-params", "properties", "property", "name"] => prop.0 = text_of(text, span).ok(),
            [_, "jdbc-driver-params", "properties", "property", "value"] => prop.1 = text_of(text, span).ok(),
            [_, "jdbc-driver-params", "properties", "property"] => {
                if prop.0.as_deref().map(str::trim) == Some("user") {
                    m.user = prop.1.as_deref().map(|v| v.trim().to_string());
                }
                prop = (None, None);
            }
            [_, "jdbc-connection-pool-params", child] => m.pool_children.push(PoolChild {
                element: child.to_string(),
                span: span.clone(),
                value: text_of(text, span),
            }),
            _ => {}
        }
    })?;
    match root.as_deref() {
        Some("jdbc-data-source") => Ok(m),
        Some(other) => Err(format!("the root element is <{other}>, not <jdbc-data-source>")),
        None => Err("no root element".into()),
    }
}

/// `<descriptor-file-name>`s of the `<jdbc-system-resource>`s in `config/config.xml`
/// (relative to `config/`, e.g. `jdbc/OVMDS-jdbc.xml`).
pub fn descriptor_files(config_xml: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    walk(config_xml, |path, span| {
        if let [_, a, b] = path {
            if a == "jdbc-system-resource" && b == "descriptor-file-name" {
                if let Ok(t) = text_of(config_xml, span) {
                    out.push(t.trim().to_string());
                }
            }
        }
    })?;
    Ok(out)
}

/// Escapes `&`, `<` and `>` for element text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Applies edits (offsets in the original text; edits at the same offset keep their order).
pub fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.at);
    let mut out = String::with_capacity(text.len() + edits.iter().map(|e| e.ins.len()).sum::<usize>());
    let mut pos = 0;
    for e in edits {
        let at = e.at.max(pos);
        out.push_str(&text[pos..at]);
        out.push_str(&e.ins);
        pos = (e.at + e.del).max(at);
    }
    out.push_str(&text[pos..]);
    out
}

/// Replaces an element's text (`<x/>` becomes `<x>text</x>`, keeping its attributes).
pub fn set_text(text: &str, span: &Span, value: &str) -> Edit {
    if span.empty {
        let slash = text[span.outer.0..span.outer.1].rfind('/').map_or(span.outer.1 - 2, |i| span.outer.0 + i);
        Edit { at: slash, del: span.outer.1 - slash, ins: format!(">{}</{}>", escape(value), span.qname) }
    } else {
        Edit { at: span.inner.0, del: span.inner.1 - span.inner.0, ins: escape(value) }
    }
}

/// Spaces and tabs from the start of the line to `pos`, when nothing else is there.
fn indent_at(text: &str, pos: usize) -> Option<&str> {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let ws = &text[start..pos];
    ws.chars().all(|c| c == ' ' || c == '\t').then_some(ws)
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

fn prefix(qname: &str) -> &str {
    qname.rsplit_once(':').map_or("", |(p, _)| &qname[..p.len() + 1])
}

/// A `<jdbc-connection-pool-params>` block holding `missing`, after `<jdbc-driver-params>`
/// (the data source has none yet).
fn new_pool_params(text: &str, m: &Module, missing: &[(&str, &String)], unit: &str) -> Result<Edit, String> {
    let nl = newline(text);
    let el = |p: &str, e: &str, v: &str| format!("<{p}{e}>{}</{p}{e}>", escape(v));
    let dp = m.driver_params.as_ref().ok_or("the data source has no <jdbc-driver-params>")?;
    let p = prefix(&dp.qname);
    let block: String = match indent_at(text, dp.outer.0) {
        Some(di) => {
            let kids: String = missing.iter().map(|(e, v)| format!("{nl}{di}{unit}{}", el(p, e, v))).collect();
            format!("{nl}{di}<{p}jdbc-connection-pool-params>{kids}{nl}{di}</{p}jdbc-connection-pool-params>")
        }
        None => {
            let kids: String = missing.iter().map(|(e, v)| el(p, e, v)).collect();
            format!("<{p}jdbc-connection-pool-params>{kids}</{p}jdbc-connection-pool-params>")
        }
    };
    Ok(Edit { at: dp.outer.1, del: 0, ins: block })
}

/// The edits that set `<url>` (when `url` is given) and the pool parameters (element, value)
/// that differ, inserting missing ones in schema order with their siblings' indentation.
pub fn edits(text: &str, m: &Module, url: Option<&str>, pool: &[(&str, String)]) -> Result<Vec<Edit>, String> {
    let mut out = Vec::new();
    if let Some(u) = url {
        let (span, _) = m.url.as_ref().ok_or("the data source has no <url> in <jdbc-driver-params>")?;
        out.push(set_text(text, span, u));
    }
    let mut missing: Vec<(&str, &String)> = Vec::new();
    for (element, value) in pool {
        match m.pool_children.iter().find(|c| c.element == *element) {
            Some(c) => out.push(set_text(text, &c.span, value)),
            None => missing.push((element, value)),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    missing.sort_by_key(|(e, _)| pool::rank(e).unwrap_or(usize::MAX));
    let nl = newline(text);
    let unit = match &m.first_child {
        Some(c) => indent_at(text, c.outer.0).filter(|i| !i.is_empty()).unwrap_or("  "),
        None => "  ",
    };
    let el = |p: &str, e: &str, v: &str| format!("<{p}{e}>{}</{p}{e}>", escape(v));
    let Some(pp) = &m.pool_params else {
        out.push(new_pool_params(text, m, &missing, unit)?);
        return Ok(out);
    };
    let p = prefix(&pp.qname);
    let parent_indent = indent_at(text, pp.outer.0);
    if m.pool_children.is_empty() {
        let ci = parent_indent.map(|i| format!("{i}{unit}"));
        let kids: String = missing
            .iter()
            .map(|(e, v)| match &ci {
                Some(ci) => format!("{nl}{ci}{}", el(p, e, v)),
                None => el(p, e, v),
            })
            .collect();
        if pp.empty {
            let close = match parent_indent {
                Some(i) => format!("{nl}{i}</{}>", pp.qname),
                None => format!("</{}>", pp.qname),
            };
            let slash = text[pp.outer.0..pp.outer.1].rfind('/').map_or(pp.outer.1 - 2, |i| pp.outer.0 + i);
            out.push(Edit { at: slash, del: pp.outer.1 - slash, ins: format!(">{kids}{close}") });
        } else {
            out.push(Edit { at: pp.inner.0, del: 0, ins: kids });
        }
        return Ok(out);
    }
    for (e, v) in missing {
        let r = pool::rank(e).unwrap_or(usize::MAX);
        let later = m.pool_children.iter().find(|c| pool::rank(&c.element).is_some_and(|cr| cr > r));
        if let Some(next) = later {
            let sep = indent_at(text, next.span.outer.0).map(|i| format!("{nl}{i}")).unwrap_or_default();
            out.push(Edit { at: next.span.outer.0, del: 0, ins: format!("{}{sep}", el(p, e, v)) });
        } else {
            let prev = m
                .pool_children
                .iter()
                .rev()
                .find(|c| pool::rank(&c.element).is_some_and(|cr| cr < r))
                .or(m.pool_children.last());
            let Some(prev) = prev else { continue };
            let sep = indent_at(text, prev.span.outer.0).map(|i| format!("{nl}{i}")).unwrap_or_default();
            out.push(Edit { at: prev.span.outer.1, del: 0, ins: format!("{sep}{}", el(p, e, v)) });
        }
    }
    Ok(out)
}
