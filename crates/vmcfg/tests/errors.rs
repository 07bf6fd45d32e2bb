//! Syntax errors carry exact positions; nothing panics on arbitrary input.

mod common;

use common::SAMPLES;
use vmcfg::{ParseError, Value, VmCfg};

fn err(text: &str) -> ParseError {
    match VmCfg::parse(text) {
        Ok(c) => panic!("{text:?} should not parse, got {:?}", c.entries()),
        Err(e) => e,
    }
}

fn at(text: &str, line: usize, col: usize, needle: &str) {
    let e = err(text);
    assert_eq!((e.line, e.col), (line, col), "{text:?}: {e}");
    assert!(e.message.contains(needle), "{text:?}: {e} (wanted {needle:?})");
}

#[test]
fn exact_error_positions() {
    at("name = 'abc\nvcpus = 1\n", 1, 8, "unterminated string");
    at("a = 1\nname = \"abc", 2, 8, "unterminated string");
    at("disk = ['a',\n  'b'\n", 1, 8, "'[' is never closed");
    at("disk = ['a',\n  'b'\nvcpus = 1\n", 3, 1, "line 1, column 8 is not closed");
    at("x = foo()\n", 1, 5, "function calls are not allowed");
    at("x = foo\n", 1, 5, "unknown name 'foo'");
    at("= 3\n", 1, 1, "missing key");
    at("1abc = 2\n", 1, 1, "invalid key '1abc'");
    at("a = 1\n\x00\x01garbage\n", 2, 1, "unexpected character");
    at("a = 1\nvcpus = 1+2\n", 2, 10, "not expressions");
    at("a = 1\nb\n", 2, 2, "expected '=' after key 'b'");
    at("a = 1\nimport os\n", 2, 1, "Python keyword");
    at("memory = \n", 1, 10, "missing value");
    at("a = 1 b = 2\n", 1, 7, "after the value of 'a'");
    at("a = 1;; b = 2\n", 1, 7, "expected a `key = value`");
    at("x = {'a' 1}\n", 1, 10, "expected ':'");
    at("x = (1, 2\n", 1, 5, "'(' is never closed");
    at("x = 1 \\\n + 2\n", 1, 7, "line continuation");
    at("x = '\\xZZ'\n", 1, 6, "invalid \\x escape");
    at("x = 99999999999999999999\n", 1, 5, "too large");
    at("x = -'a'\n", 1, 5, "must be followed by a number");
    at("  é = 1\n", 1, 3, "unexpected character");
    at("x = a = 1\n", 1, 5, "unknown name 'a'");
    at("x = 1 = 1\n", 1, 7, "chained assignment");
    at("x = [1 2]\n", 1, 8, "expected ',' or ']'");
    at("x = 017\n", 1, 5, "leading zero");
}

#[test]
fn display_format() {
    let e = err("x = foo()\n");
    assert!(e.to_string().starts_with("line 1, column 5: "), "{e}");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("function calls"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(err(&deep).message.contains("nested too deeply"));
    let open = format!("x = {}", "(".repeat(100_000));
    let _ = err(&open);
}

#[test]
fn accepted_oddities() {
    let text = "a=-3\nb = 1.5\nc = r'C:\\x'\nd = ('x')\ne = ('x',)\nf = 'a' \"b\"\n\
                g = None\nh = {}\ni = 0x10\nj = '''multi\nline'''\nk = [\n]\n  l = 2 # indented\n";
    let cfg = VmCfg::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.get("a"), Some(&Value::Int(-3)));
    assert_eq!(cfg.get("b"), Some(&Value::Float(1.5)));
    assert_eq!(cfg.get("c"), Some(&Value::Str("C:\\x".into())));
    assert_eq!(cfg.get("d"), Some(&Value::Str("x".into())));
    assert_eq!(cfg.get("e"), Some(&Value::Tuple(vec![Value::Str("x".into())])));
    assert_eq!(cfg.get("f"), Some(&Value::Str("ab".into())));
    assert_eq!(cfg.get("g"), Some(&Value::None));
    assert_eq!(cfg.get("h"), Some(&Value::Dict(vec![])));
    assert_eq!(cfg.get("i"), Some(&Value::Int(16)));
    assert_eq!(cfg.get("j"), Some(&Value::Str("multi\nline".into())));
    assert_eq!(cfg.get("k"), Some(&Value::List(vec![])));
    assert_eq!(cfg.get("l"), Some(&Value::Int(2)));
    assert_eq!(cfg.line_of("k"), Some(12));
    assert_eq!(cfg.render(), text);
    let crlf = "a = 1\r\nb = 'x'\r\n";
    let cfg = VmCfg::parse(crlf).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.get("b"), Some(&Value::Str("x".into())));
    assert_eq!(cfg.render(), crlf);
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[char] = &[
    '\'', '"', '[', ']', '(', ')', '{', '}', ',', ':', ';', '=', '#', '\\', '\n', ' ', '\t', '-', '+', '.', '0', '1',
    '9', 'e', 'x', 'u', 'r', 'T', 'N', '_', 'a', '\u{e9}', '\0', '\r', '*',
];

fn mutate(rng: &mut Rng, base: &str) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let len = chars.len();
        let pos = rng.below(len + 1);
        match rng.below(5) {
            0 => {
                let n = rng.below(8).min(len - pos.min(len));
                chars.drain(pos..pos + n);
            }
            1 | 2 => chars.insert(pos, ALPHABET[rng.below(ALPHABET.len())]),
            3 => {
                let n = rng.below(40).min(len - pos.min(len));
                let slice: Vec<char> = chars[pos..pos + n].to_vec();
                let at = rng.below(chars.len() + 1);
                chars.splice(at..at, slice);
            }
            _ => chars.truncate(pos),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn fuzz_mutated_samples_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ok = 0;
    // VMCFG_FUZZ_ITERS=1000000 for a longer local run.
    let iters = std::env::var("VMCFG_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    for iter in 0..iters {
        let (_, base) = SAMPLES[iter % SAMPLES.len()];
        let text = mutate(&mut rng, base);
        let Ok(cfg) = VmCfg::parse(&text) else { continue };
        ok += 1;
        assert_eq!(cfg.render(), text);
        let keys: Vec<String> = cfg.keys().iter().map(|k| k.to_string()).collect();
        if keys.is_empty() {
            continue;
        }
        let key = &keys[rng.below(keys.len())];
        let mut edited = cfg.clone();
        edited.set(key, Value::Str(format!("v{iter}'\\\n")));
        edited.set("added_key", Value::Int(-7));
        let reparsed =
            VmCfg::parse(&edited.render()).unwrap_or_else(|e| panic!("set broke {text:?}: {e}\n{}", edited.render()));
        assert_eq!(reparsed.entries(), edited.entries(), "{text:?}");
        let mut removed = cfg.clone();
        assert!(removed.remove(key));
        let reparsed = VmCfg::parse(&removed.render())
            .unwrap_or_else(|e| panic!("remove broke {text:?}: {e}\n{}", removed.render()));
        assert_eq!(reparsed.entries(), removed.entries(), "{text:?}");
        assert_eq!(reparsed.get(key), None);
    }
    assert!(ok > 100, "fuzz produced too few parseable inputs ({ok})");
}
