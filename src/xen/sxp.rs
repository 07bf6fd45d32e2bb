//! S-expressions as xend prints them (`xm list -l`, `xm create --dryrun`).
//!
//! xend's `sxp.py` writes nested lists of atoms: bare atoms run to whitespace or a parenthesis,
//! quoted atoms use `'…'` or `"…"` with backslash escapes (`''` is the empty string), and values
//! may wrap onto the next line (`(uname\n    file:/…)`). `xm list -l` prints one top-level
//! `(domain …)` per domain, so the parser reads any number of expressions. It uses an explicit
//! stack with a depth limit, so hostile nesting is an error rather than a stack overflow.

use super::XenParseError;

/// Deepest nesting accepted; real `xm list -l` output stays under 6.
pub const MAX_DEPTH: usize = 128;

/// One S-expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sxp {
    /// A bare or quoted atom, unquoted and unescaped.
    Atom(String),
    /// A parenthesised list.
    List(Vec<Sxp>),
}

impl Sxp {
    /// The atom's text, if this is an atom.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Sxp::Atom(a) => Some(a),
            Sxp::List(_) => None,
        }
    }

    /// The list's items (empty for an atom).
    pub fn items(&self) -> &[Sxp] {
        match self {
            Sxp::Atom(_) => &[],
            Sxp::List(items) => items,
        }
    }

    /// The head atom of a list: `domain` in `(domain …)`.
    pub fn head(&self) -> Option<&str> {
        self.items().first().and_then(Sxp::as_atom)
    }

    /// The items after the head.
    pub fn rest(&self) -> &[Sxp] {
        self.items().get(1..).unwrap_or(&[])
    }

    /// The first sub-list whose head atom is `name`.
    pub fn child(&self, name: &str) -> Option<&Sxp> {
        self.rest().iter().find(|item| item.head() == Some(name))
    }

    /// Every sub-list whose head atom is `name`, in order.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sxp> + 'a {
        self.rest().iter().filter(move |item| item.head() == Some(name))
    }

    /// The atom after the head in the first `(name value)` sub-list.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(|c| c.rest().first()).and_then(Sxp::as_atom)
    }
}

/// Parses every top-level expression.
pub fn parse_all(text: &str) -> Result<Vec<Sxp>, XenParseError> {
    Ok(parse_all_located(text)?.into_iter().map(|(_, sxp)| sxp).collect())
}

/// Parses every top-level expression, each with the 1-based line it starts on.
pub fn parse_all_located(text: &str) -> Result<Vec<(usize, Sxp)>, XenParseError> {
    let mut top = Vec::new();
    // Open lists: (line of the `(`, items so far).
    let mut stack: Vec<(usize, Vec<Sxp>)> = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let start = line;
        let done = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            '(' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XenParseError::new(line, format!("nesting deeper than {MAX_DEPTH} lists")));
                }
                stack.push((line, Vec::new()));
                continue;
            }
            ')' => match stack.pop() {
                Some((open, items)) => (open, Sxp::List(items)),
                None => return Err(XenParseError::new(line, "`)` without a matching `(`")),
            },
            '\'' | '"' => (start, Sxp::Atom(quoted(&mut chars, c, start, &mut line)?)),
            c => {
                let mut atom = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '(' | ')' | '\'' | '"') {
                        break;
                    }
                    atom.push(n);
                    chars.next();
                }
                (start, Sxp::Atom(atom))
            }
        };
        match stack.last_mut() {
            Some((_, items)) => items.push(done.1),
            None => top.push(done),
        }
    }
    match stack.first() {
        Some((open, _)) => Err(XenParseError::new(*open, "`(` is never closed")),
        None => Ok(top),
    }
}

/// A quoted atom after its opening `c` (`'` or `"`), backslash escapes read; `line` counts the
/// newlines inside it.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    c: char,
    start: usize,
    line: &mut usize,
) -> Result<String, XenParseError> {
    let mut atom = String::new();
    loop {
        match chars.next() {
            None => return Err(XenParseError::new(start, format!("quoted atom starting with {c} is never closed"))),
            Some(q) if q == c => break,
            Some('\\') => match chars.next() {
                Some('n') => atom.push('\n'),
                Some('t') => atom.push('\t'),
                Some('r') => atom.push('\r'),
                Some(other) => {
                    if other == '\n' {
                        *line += 1;
                    }
                    atom.push(other);
                }
                None => {
                    return Err(XenParseError::new(start, "quoted atom ends in a lone backslash"));
                }
            },
            Some(other) => {
                if other == '\n' {
                    *line += 1;
                }
                atom.push(other);
            }
        }
    }
    Ok(atom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Sxp {
        Sxp::Atom(s.into())
    }

    #[test]
    fn atoms_lists_and_quotes() {
        let parsed = parse_all("(a 'b c' '' \"d\\\"e\" (f) ())").expect("valid");
        let want = Sxp::List(vec![
            atom("a"),
            atom("b c"),
            atom(""),
            atom("d\"e"),
            Sxp::List(vec![atom("f")]),
            Sxp::List(vec![]),
        ]);
        assert_eq!(parsed, vec![want]);
    }

    #[test]
    fn several_top_level_expressions_and_lines() {
        let parsed = parse_all_located("(x 1)\n\n(y\n  2)\nz").expect("valid");
        let lines: Vec<usize> = parsed.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 3, 5]);
        assert_eq!(parsed[1].1.value("y"), None, "value looks at sub-lists, not the list itself");
        assert_eq!(parsed[2].1, atom("z"));
    }

    #[test]
    fn helpers() {
        let doms = parse_all("(domain (name a) (device (vif (mac m))) (device (vbd (dev xvda))) (cpus (() ())))")
            .expect("valid");
        let d = &doms[0];
        assert_eq!(d.head(), Some("domain"));
        assert_eq!(d.value("name"), Some("a"));
        assert_eq!(d.children("device").count(), 2);
        assert_eq!(d.child("device").and_then(|x| x.rest().first()).and_then(Sxp::head), Some("vif"));
        assert_eq!(d.value("cpus"), None, "a list is not an atom value");
        assert_eq!(d.value("missing"), None);
        assert_eq!(atom("x").head(), None);
    }

    #[test]
    fn multi_line_value() {
        let doms = parse_all("(vbd\n  (uname\n      file:/OVS/x.img\n  )\n  (mode w))").expect("valid");
        assert_eq!(doms[0].value("uname"), Some("file:/OVS/x.img"));
        assert_eq!(doms[0].value("mode"), Some("w"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_all("(a\n(b)\n").expect_err("unclosed");
        assert_eq!((e.line, e.to_string()), (1, "line 1: `(` is never closed".to_string()));
        assert_eq!(parse_all("(a)\n)").expect_err("extra").line, 2);
        assert_eq!(parse_all("(a\n 'oops)").expect_err("quote").line, 2);
        assert_eq!(parse_all("'a\\").expect_err("backslash").line, 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "(".repeat(10_000) + &")".repeat(10_000);
        let e = parse_all(&deep).expect_err("too deep");
        assert!(e.message.contains("nesting"), "{e}");
        let ok = "(".repeat(MAX_DEPTH) + &")".repeat(MAX_DEPTH);
        assert!(parse_all(&ok).is_ok());
    }

    #[test]
    fn real_sample_parses() {
        let text = include_str!("../../tests/fixtures/xen-cli/xm-list-long-sxp.txt");
        let sample = crate::xen::testutil::section(text, ":");
        let doms = parse_all(&sample).expect("sample parses");
        assert_eq!(doms.len(), 3);
        assert!(doms.iter().all(|d| d.head() == Some("domain")));
        assert_eq!(doms[0].child("image").and_then(|i| i.rest().first()).and_then(Sxp::head), Some("linux"));
    }

    #[test]
    fn mutations_never_panic() {
        let text = include_str!("../../tests/fixtures/xen-cli/xm-list-long-sxp.txt");
        for m in crate::xen::testutil::mutations(&crate::xen::testutil::section(text, ":"), 3000) {
            let _ = parse_all(&m);
        }
    }
}
