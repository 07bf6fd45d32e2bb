//! Tokenizer for the Python-literal subset used by vm.cfg files.
//!
//! Like Python's own tokenizer, newlines inside `[]`, `()` and `{}` are not
//! statement separators (implicit line joining), and comments run to the end
//! of the line. Token positions are byte offsets into the source so that the
//! writer can splice the original text.

use crate::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// Magnitude of an integer literal (a sign is a separate token).
    Int(u64),
    Float(f64),
    /// A word that starts like a number but is not a valid literal.
    BadNum(String, &'static str),
    Str(String),
    /// `= [ ] ( ) { } , : ; - +`
    Punct(char),
    /// Other Python operator characters; always an error for the parser,
    /// which can then explain that expressions are not supported.
    Op(char),
    Newline,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// 1-based (line, column) of a byte offset; columns count characters.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

pub(crate) fn error_at(text: &str, offset: usize, message: impl Into<String>) -> ParseError {
    let (line, col) = line_col(text, offset);
    ParseError { line, col, message: message.into() }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    out: Vec<Token>,
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer { text, pos: 0, depth: 0, out: Vec::new() };
    lx.run()?;
    lx.out.push(Token { tok: Tok::Eof, start: text.len(), end: text.len() });
    Ok(lx.out)
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    fn peek_at(&self, pos: usize) -> Option<char> {
        self.text.get(pos..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token { tok, start, end: self.pos });
    }

    fn err(&self, offset: usize, msg: impl Into<String>) -> ParseError {
        error_at(self.text, offset, msg)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek_at(self.pos) {
            let start = self.pos;
            match c {
                ' ' | '\t' | '\r' | '\x0c' => self.pos += 1,
                '#' => {
                    let rest = &self.text[start..];
                    self.pos += rest.find('\n').unwrap_or(rest.len());
                }
                '\n' => {
                    self.pos += 1;
                    if self.depth == 0 {
                        self.push(Tok::Newline, start);
                    }
                }
                '[' | '(' | '{' => {
                    self.pos += 1;
                    self.depth += 1;
                    self.push(Tok::Punct(c), start);
                }
                ']' | ')' | '}' => {
                    self.pos += 1;
                    self.depth = self.depth.saturating_sub(1);
                    self.push(Tok::Punct(c), start);
                }
                '=' | ',' | ':' | ';' | '-' | '+' => {
                    self.pos += 1;
                    self.push(Tok::Punct(c), start);
                }
                '\'' | '"' => self.string(start, start, "")?,
                '.' if self.peek_at(start + 1).is_some_and(|d| d.is_ascii_digit()) => self.number(start),
                c if c.is_ascii_digit() => self.number(start),
                c if is_ident_start(c) => self.ident(start)?,
                '\\' => return Err(self.err(start, "line continuation with '\\' is not supported outside strings")),
                '.' | '*' | '/' | '%' | '<' | '>' | '|' | '&' | '^' | '~' | '@' | '!' | '`' => {
                    self.pos += 1;
                    self.push(Tok::Op(c), start);
                }
                c => {
                    return Err(self.err(start, format!("unexpected character {c:?}")));
                }
            }
        }
        Ok(())
    }

    fn ident(&mut self, start: usize) -> Result<(), ParseError> {
        let rest = &self.text[start..];
        let len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
        let word = &rest[..len];
        self.pos = start + len;
        let is_prefix = matches!(word.to_ascii_lowercase().as_str(), "u" | "r" | "b" | "ur" | "br" | "rb");
        if is_prefix && matches!(self.peek_at(self.pos), Some('\'' | '"')) {
            let prefix = word.to_ascii_lowercase();
            return self.string(start, self.pos, &prefix);
        }
        self.push(Tok::Ident(word.to_string()), start);
        Ok(())
    }

    fn number(&mut self, start: usize) {
        let bytes = self.text.as_bytes();
        let mut end = start;
        while end < bytes.len() {
            let b = bytes[end];
            let exp_sign = (b == b'+' || b == b'-')
                && end > start
                && matches!(bytes[end - 1], b'e' | b'E')
                && !self.text[start..].starts_with("0x")
                && !self.text[start..].starts_with("0X");
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exp_sign {
                end += 1;
            } else {
                break;
            }
        }
        self.pos = end;
        let word = &self.text[start..end];
        let tok = classify_number(word);
        self.push(tok, start);
    }

    /// Lex a string literal whose opening quote is at `quote`; `start` is
    /// where the token (including any prefix) begins.
    fn string(&mut self, start: usize, quote: usize, prefix: &str) -> Result<(), ParseError> {
        let raw = prefix.contains('r');
        let unicode = prefix.contains('u');
        let q = self.text.as_bytes()[quote] as char;
        let triple_delim: String = std::iter::repeat_n(q, 3).collect();
        let triple = self.text[quote..].starts_with(&triple_delim);
        let mut pos = quote + if triple { 3 } else { 1 };
        let mut s = String::new();
        let unterminated = |this: &Self| this.err(start, "unterminated string");
        loop {
            let Some(c) = self.peek_at(pos) else {
                return Err(unterminated(self));
            };
            if triple && self.text[pos..].starts_with(&triple_delim) {
                pos += 3;
                break;
            }
            if !triple && c == q {
                pos += 1;
                break;
            }
            if c == '\n' && !triple {
                return Err(unterminated(self));
            }
            if c != '\\' {
                s.push(c);
                pos += c.len_utf8();
                continue;
            }
            // Backslash.
            let Some(e) = self.peek_at(pos + 1) else {
                return Err(unterminated(self));
            };
            if raw {
                s.push('\\');
                s.push(e);
                pos += 1 + e.len_utf8();
                continue;
            }
            pos = self.escape(pos, e, unicode, &mut s)?;
        }
        self.pos = pos;
        self.push(Tok::Str(s), start);
        Ok(())
    }

    /// Decode the escape whose backslash is at `pos` and whose next char is
    /// `e`; returns the position after it.
    fn escape(&self, pos: usize, e: char, unicode: bool, s: &mut String) -> Result<usize, ParseError> {
        let after = pos + 1 + e.len_utf8();
        let simple = match e {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'n' => Some(Some('\n')),
            't' => Some(Some('\t')),
            'r' => Some(Some('\r')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(c) = simple {
            s.extend(c);
            return Ok(after);
        }
        let (radix, min, max) = match e {
            '0'..='7' => (8, 1, 3),
            'x' => (16, 2, 2),
            'u' if unicode => (16, 4, 4),
            'U' if unicode => (16, 8, 8),
            'N' if unicode => {
                return Err(self.err(pos, "\\N{...} escapes are not supported"));
            }
            _ => {
                // Unknown escapes are kept verbatim, as Python does.
                s.push('\\');
                s.push(e);
                return Ok(after);
            }
        };
        let digits_start = if radix == 8 { pos + 1 } else { after };
        let rest = self.text.get(digits_start..).unwrap_or("");
        let n = rest.bytes().take(max).take_while(|b| (*b as char).is_digit(radix)).count();
        if n < min {
            return Err(self.err(pos, format!("invalid \\{e} escape")));
        }
        let code = u32::from_str_radix(&rest[..n], radix)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.err(pos, format!("invalid \\{e} escape")))?;
        s.push(code);
        Ok(digits_start + n)
    }
}

fn classify_number(word: &str) -> Tok {
    let lower = word.to_ascii_lowercase();
    let radix_body =
        [("0x", 16), ("0o", 8), ("0b", 2)].into_iter().find_map(|(p, r)| lower.strip_prefix(p).map(|b| (b, r)));
    if let Some((body, radix)) = radix_body {
        let body = body.strip_suffix('l').unwrap_or(body);
        if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
            return Tok::BadNum(word.to_string(), "invalid number literal");
        }
        return match u64::from_str_radix(body, radix) {
            Ok(n) => Tok::Int(n),
            Err(_) => Tok::BadNum(word.to_string(), "integer literal is too large"),
        };
    }
    if lower.contains(['.', 'e']) {
        let ok_chars = lower.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'));
        return match lower.parse::<f64>() {
            Ok(f) if ok_chars => Tok::Float(f),
            _ => Tok::BadNum(word.to_string(), "invalid number literal"),
        };
    }
    let digits = lower.strip_suffix('l').unwrap_or(&lower);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Tok::BadNum(word.to_string(), "invalid number literal");
    }
    if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
        return Tok::BadNum(
            word.to_string(),
            "integer with a leading zero is ambiguous (octal in Python 2, an error in Python 3)",
        );
    }
    match digits.parse::<u64>() {
        Ok(n) => Tok::Int(n),
        Err(_) => Tok::BadNum(word.to_string(), "integer literal is too large"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        match tokenize(s) {
            Ok(v) => v.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("12")[0], Tok::Int(12));
        assert_eq!(toks("0x1f")[0], Tok::Int(31));
        assert_eq!(toks("4096L")[0], Tok::Int(4096));
        assert_eq!(toks("1.5")[0], Tok::Float(1.5));
        assert_eq!(toks(".5")[0], Tok::Float(0.5));
        assert_eq!(toks("1e+3")[0], Tok::Float(1000.0));
        assert!(matches!(toks("1abc")[0], Tok::BadNum(..)));
        assert!(matches!(toks("017")[0], Tok::BadNum(..)));
        assert!(matches!(toks("1_000")[0], Tok::BadNum(..)));
        assert!(matches!(toks("99999999999999999999")[0], Tok::BadNum(..)));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(toks(r"'a\'b'")[0], Tok::Str("a'b".into()));
        assert_eq!(toks(r#""x\"y""#)[0], Tok::Str("x\"y".into()));
        assert_eq!(toks(r"'\x41\n\t\\\101\q'")[0], Tok::Str("A\n\t\\A\\q".into()));
        assert_eq!(toks(r"u'\u00e9'")[0], Tok::Str("\u{e9}".into()));
        assert_eq!(toks(r"'\u00e9'")[0], Tok::Str("\\u00e9".into()));
        assert_eq!(toks(r"r'a\'b'")[0], Tok::Str("a\\'b".into()));
        assert_eq!(toks("'''a\n'b'''")[0], Tok::Str("a\n'b".into()));
        assert!(tokenize(r"'\x4'").is_err());
        assert!(tokenize("'abc\n'").is_err());
        assert!(tokenize(r"r'\'").is_err());
    }

    #[test]
    fn newlines_inside_brackets_are_joined() {
        let t = toks("a = [1,\n 2] # c\nb");
        assert_eq!(t.iter().filter(|t| **t == Tok::Newline).count(), 1);
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\n\u{e9}x", 5), (2, 2));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
