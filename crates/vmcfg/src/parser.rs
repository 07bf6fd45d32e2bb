//! Statement and literal parser: turns the token stream into `key = value`
//! assignments that remember where their key and value text live.

use crate::lexer::{error_at, line_col, tokenize, Tok, Token};
use crate::{ParseError, Value};

/// Deeper nesting than this is rejected (protects the stack on hostile input).
const MAX_DEPTH: usize = 64;

/// Python keywords (2 and 3), which cannot be assigned to.
const KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "exec", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
    "print", "raise", "return", "try", "while", "with", "yield", "True", "False", "None",
];

/// Whether `key` can be written as the target of a vm.cfg assignment: a
/// Python identifier `[A-Za-z_][A-Za-z0-9_]*` that is not a keyword.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&key)
}

/// One `key = value` assignment, with byte offsets into the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stmt {
    pub key: String,
    pub key_start: usize,
    pub value_start: usize,
    pub value_end: usize,
    pub value: Value,
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    i: usize,
    prev_end: usize,
}

pub(crate) fn parse_statements(text: &str) -> Result<Vec<Stmt>, ParseError> {
    let toks = tokenize(text)?;
    let mut p = Parser { text, toks, i: 0, prev_end: 0 };
    p.statements()
}

/// Parse a single value (used by tests and by `Value` round trips).
pub(crate) fn parse_value_text(text: &str) -> Result<Value, ParseError> {
    let toks = tokenize(text)?;
    let mut p = Parser { text, toks, i: 0, prev_end: 0 };
    while p.peek() == &Tok::Newline {
        p.bump();
    }
    let v = p.value(0)?;
    while p.peek() == &Tok::Newline {
        p.bump();
    }
    match p.peek() {
        Tok::Eof => Ok(v),
        t => Err(p.err_here(format!("unexpected {} after value", describe(t)))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("name '{s}'"),
        Tok::Int(_) | Tok::Float(_) => "number".to_string(),
        Tok::BadNum(s, _) => format!("'{s}'"),
        Tok::Str(_) => "string".to_string(),
        Tok::Punct(c) | Tok::Op(c) => format!("'{c}'"),
        Tok::Newline => "end of line".to_string(),
        Tok::Eof => "end of file".to_string(),
    }
}

const EOF_TOKEN: Token = Token { tok: Tok::Eof, start: 0, end: 0 };

impl Parser<'_> {
    fn cur(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&EOF_TOKEN)
    }

    fn peek(&self) -> &Tok {
        &self.cur().tok
    }

    fn peek2(&self) -> &Tok {
        self.toks.get(self.i + 1).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn bump(&mut self) -> Tok {
        let t = self.cur().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        if t.tok != Tok::Eof {
            self.prev_end = t.end;
        }
        t.tok
    }

    fn here(&self) -> usize {
        if self.peek() == &Tok::Eof {
            self.text.len()
        } else {
            self.cur().start
        }
    }

    fn err_here(&self, msg: impl Into<String>) -> ParseError {
        error_at(self.text, self.here(), msg)
    }

    fn statements(&mut self) -> Result<Vec<Stmt>, ParseError> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Tok::Eof => return Ok(out),
                Tok::Newline => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            // One logical line: `stmt (; stmt)* ;?`
            loop {
                let stmt = self.statement()?;
                let key = stmt.key.clone();
                out.push(stmt);
                match self.peek() {
                    Tok::Newline => {
                        self.bump();
                        break;
                    }
                    Tok::Eof => break,
                    Tok::Punct(';') => {
                        self.bump();
                        if matches!(self.peek(), Tok::Newline | Tok::Eof) {
                            break;
                        }
                    }
                    Tok::Punct('=') => {
                        return Err(self.err_here("chained assignment is not supported"));
                    }
                    t => {
                        let msg = format!(
                            "unexpected {} after the value of '{key}' \
                             (only literal values are allowed, not expressions)",
                            describe(t)
                        );
                        return Err(self.err_here(msg));
                    }
                }
            }
        }
    }

    fn statement(&mut self) -> Result<Stmt, ParseError> {
        let key_start = self.here();
        let key = match self.peek().clone() {
            Tok::Ident(k) if is_valid_key(&k) => k,
            Tok::Ident(k) => {
                return Err(self.err_here(format!("'{k}' is a Python keyword and cannot be used as a key")))
            }
            Tok::BadNum(w, _) => {
                return Err(self.err_here(format!("invalid key '{w}': keys must be Python identifiers")))
            }
            Tok::Punct('=') => return Err(self.err_here("missing key before '='")),
            t => return Err(self.err_here(format!("expected a `key = value` assignment, found {}", describe(&t)))),
        };
        self.bump();
        if self.peek() != &Tok::Punct('=') {
            let found = describe(self.peek());
            return Err(self.err_here(format!("expected '=' after key '{key}', found {found}")));
        }
        self.bump();
        if matches!(self.peek(), Tok::Newline | Tok::Eof | Tok::Punct(';')) {
            return Err(self.err_here(format!("missing value for '{key}'")));
        }
        let value_start = self.here();
        let value = self.value(0)?;
        Ok(Stmt { key, key_start, value_start, value_end: self.prev_end, value })
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err_here("values are nested too deeply"));
        }
        let start = self.here();
        match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                i64::try_from(n).map(Value::Int).map_err(|_| error_at(self.text, start, "integer literal is too large"))
            }
            Tok::Float(f) => {
                self.bump();
                Ok(Value::Float(f))
            }
            Tok::Punct(sign @ ('-' | '+')) => {
                self.bump();
                match self.bump() {
                    Tok::Int(n) => {
                        let n = i128::from(n);
                        let n = if sign == '-' { -n } else { n };
                        i64::try_from(n)
                            .map(Value::Int)
                            .map_err(|_| error_at(self.text, start, "integer literal is too large"))
                    }
                    Tok::Float(f) => Ok(Value::Float(if sign == '-' { -f } else { f })),
                    _ => Err(error_at(self.text, start, format!("'{sign}' must be followed by a number"))),
                }
            }
            Tok::Str(s) => {
                self.bump();
                let mut s = s;
                // Adjacent literals concatenate, as in Python: 'a' 'b'.
                while let Tok::Str(more) = self.peek() {
                    s.push_str(more);
                    self.bump();
                }
                Ok(Value::Str(s))
            }
            Tok::Ident(name) => self.name_value(&name),
            Tok::Punct('[') => {
                self.bump();
                let (items, _) = self.sequence(start, ']', depth)?;
                Ok(Value::List(items))
            }
            Tok::Punct('(') => {
                self.bump();
                let (mut items, comma) = self.sequence(start, ')', depth)?;
                if items.len() == 1 && !comma {
                    // `(x)` is just a parenthesised x, not a tuple.
                    Ok(items.pop().unwrap_or(Value::None))
                } else {
                    Ok(Value::Tuple(items))
                }
            }
            Tok::Punct('{') => {
                self.bump();
                self.dict(start, depth)
            }
            Tok::BadNum(w, why) => Err(self.err_here(format!("{why}: '{w}'"))),
            Tok::Eof => Err(self.err_here("missing value at end of file")),
            t => Err(self.err_here(format!("expected a value, found {}", describe(&t)))),
        }
    }

    /// `True`, `False` or `None`; any other name (a variable, a call) is not a literal.
    fn name_value(&mut self, name: &str) -> Result<Value, ParseError> {
        match name {
            "True" => {
                self.bump();
                Ok(Value::Bool(true))
            }
            "False" => {
                self.bump();
                Ok(Value::Bool(false))
            }
            "None" => {
                self.bump();
                Ok(Value::None)
            }
            _ if self.peek2() == &Tok::Punct('(') => {
                Err(self.err_here(format!("function calls are not allowed ('{name}(...)')")))
            }
            _ => Err(self.err_here(format!(
                "unknown name '{name}': only literals (strings, numbers, True, False, None, \
                     lists, tuples, dicts) are allowed"
            ))),
        }
    }

    fn unclosed(&self, open_at: usize, open: char, close: char) -> ParseError {
        let (l, c) = line_col(self.text, open_at);
        let found = describe(self.peek());
        if self.peek() == &Tok::Eof {
            error_at(self.text, open_at, format!("'{open}' is never closed (reached end of file)"))
        } else {
            self.err_here(format!(
                "expected ',' or '{close}', found {found} \
                 (the '{open}' at line {l}, column {c} is not closed)"
            ))
        }
    }

    /// Elements up to `close`; returns them and whether any comma was seen.
    fn sequence(&mut self, open_at: usize, close: char, depth: usize) -> Result<(Vec<Value>, bool), ParseError> {
        let open = if close == ']' { '[' } else { '(' };
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.peek() == &Tok::Punct(close) {
                self.bump();
                return Ok((items, comma));
            }
            if self.peek() == &Tok::Eof {
                return Err(self.unclosed(open_at, open, close));
            }
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Tok::Punct(',') => {
                    self.bump();
                    comma = true;
                }
                Tok::Punct(c) if *c == close => {}
                _ => return Err(self.unclosed(open_at, open, close)),
            }
        }
    }

    fn dict(&mut self, open_at: usize, depth: usize) -> Result<Value, ParseError> {
        let mut pairs = Vec::new();
        loop {
            if self.peek() == &Tok::Punct('}') {
                self.bump();
                return Ok(Value::Dict(pairs));
            }
            if self.peek() == &Tok::Eof {
                return Err(self.unclosed(open_at, '{', '}'));
            }
            let k = self.value(depth + 1)?;
            if self.peek() != &Tok::Punct(':') {
                let found = describe(self.peek());
                return Err(self.err_here(format!("expected ':' after dict key, found {found}")));
            }
            self.bump();
            let v = self.value(depth + 1)?;
            pairs.push((k, v));
            match self.peek() {
                Tok::Punct(',') => {
                    self.bump();
                }
                Tok::Punct('}') => {}
                _ => return Err(self.unclosed(open_at, '{', '}')),
            }
        }
    }
}
