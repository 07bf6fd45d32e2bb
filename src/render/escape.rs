//! Escaping what a terminal would act on, for every string that reaches human output.
//!
//! Names, paths and command output come from hosts, and hosts are not trusted: an
//! `OVM_simple_name` holding a newline drew fake rows in `list`, and one holding `ESC ] 0 ;`
//! set the terminal's title. [`line`] escapes every control character (C0, DEL, C1) and the
//! Unicode bidirectional overrides as `\u{…}`, for one-line fields (table cells, names, values);
//! [`text`] does the same but keeps `\n`, for multi-line messages (errors, a failed step's
//! output). Everything else, quotes and non-ASCII letters included, is shown as it is.

use std::borrow::Cow;

fn bad(c: char, keep_newline: bool) -> bool {
    (c.is_control() && !(keep_newline && c == '\n'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newline: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| bad(c, keep_newline)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c, keep_newline) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line: every control character escaped, newlines too.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// A message: control characters escaped, newlines kept.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// A message under a heading: [`text`], every line after the first indented by `indent`, so no
/// name from a host can start a line of its own (a fake `error:` or table row).
pub fn indented(s: &str, indent: &str) -> String {
    text(s).replace('\n', &format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_acts_on() {
        assert_eq!(line("DB Server 01"), "DB Server 01");
        assert_eq!(line("café 'x' \"y\""), "café 'x' \"y\"");
        assert_eq!(line("a\nb"), "a\\u{a}b");
        assert_eq!(line("\x1b]0;owned\x07"), "\\u{1b}]0;owned\\u{7}");
        assert_eq!(line("x\u{9b}31m\u{202e}"), "x\\u{9b}31m\\u{202e}");
        assert_eq!(line("tab\there\r"), "tab\\u{9}here\\u{d}");
        assert_eq!(text("one\ntwo\x1b[2J"), "one\ntwo\\u{1b}[2J");
        assert_eq!(indented("one\ntwo", "  "), "one\n  two");
    }
}
