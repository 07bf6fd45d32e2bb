//! The minimal-edit writer: set / remove / append keep everything else
//! byte-identical.

mod common;

use common::{sample, SAMPLES};
use vmcfg::{parse_value, Value, VmCfg};

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn lines(t: &str) -> Vec<&str> {
    t.split('\n').collect()
}

#[test]
fn set_existing_key_changes_only_that_line() {
    for (name, text) in SAMPLES {
        let mut cfg = common::parse(name, text);
        let key = cfg.keys()[cfg.keys().len() / 2].to_string();
        let line = cfg.line_of(&key).unwrap_or(0);
        cfg.set(&key, Value::Int(42));
        let out = cfg.render();
        let (before, after) = (lines(text), lines(&out));
        assert_eq!(before.len(), after.len(), "{name}");
        for (n, (a, b)) in before.iter().zip(&after).enumerate() {
            if n + 1 != line {
                assert_eq!(a, b, "{name}: line {} changed", n + 1);
            }
        }
        let again = common::parse(name, &out);
        assert_eq!(again.get(&key), Some(&Value::Int(42)), "{name}");
        assert_eq!(again.line_of(&key), Some(line));
        assert_eq!(again.keys(), common::parse(name, text).keys());
    }
}

#[test]
fn set_keeps_text_before_value_and_inline_comment() {
    let mut cfg = sample(7);
    cfg.set("serial", s("vc"));
    assert!(cfg.render().contains("\nserial = 'vc' # enable serial console\n"));
    cfg.set("boot", s("c"));
    assert!(cfg.render().contains("\nboot='c'\n"));
    cfg.set("on_reboot", s("destroy"));
    assert!(cfg.render().contains("\non_reboot   = 'destroy'\n"));
    let mut cfg = sample(2);
    cfg.set("memory", s("8192"));
    assert!(cfg.render().contains("\nmemory = '8192'  \nmaxmem"));
}

#[test]
fn set_duplicate_key_replaces_last_and_drops_earlier() {
    let (_, text) = SAMPLES[6];
    let mut cfg = sample(7);
    cfg.set("name", s("newname"));
    let out = cfg.render();
    assert_eq!(out.matches("name = ").count(), 1 + text.matches("simple_name").count());
    assert!(!out.contains("InrepidHVM"));
    assert!(out.contains("\nname = 'newname'\nbootloader="));
    assert_eq!(lines(&out).len(), lines(text).len() - 1);
    // Only the first `name` line went away; everything else is identical.
    let expected = text.replacen("name = \"InrepidHVM\"\n", "", 1).replace("\"IntrepidPV\"", "'newname'");
    assert_eq!(out, expected);
    let again = common::parse("s7", &out);
    assert_eq!(again.get("name"), Some(&s("newname")));
    assert_eq!(again.keys()[0], "builder");
}

#[test]
fn set_new_key_appends() {
    let mut cfg = sample(1);
    cfg.set("cpus", s("12-19"));
    let (_, text) = SAMPLES[0];
    assert_eq!(cfg.render(), format!("{text}cpus = '12-19'\n"));
    assert_eq!(cfg.keys().last(), Some(&"cpus"));

    // No trailing newline: one is added first.
    let mut cfg = VmCfg::parse("a = 1 # c").unwrap_or_else(|e| panic!("{e}"));
    cfg.set("b", Value::List(vec![s("x"), Value::Int(2)]));
    assert_eq!(cfg.render(), "a = 1 # c\nb = ['x', 2]\n");
    cfg.set("b", Value::None);
    assert_eq!(cfg.render(), "a = 1 # c\nb = None\n");
    assert_eq!(cfg.line_of("b"), Some(2));
}

#[test]
fn set_invalid_key_is_refused() {
    let mut cfg = sample(8);
    let before = cfg.render();
    cfg.set("bad key", Value::Int(1));
    cfg.set("1abc", Value::Int(1));
    cfg.set("import", Value::Int(1));
    assert_eq!(cfg.render(), before);
    assert!(cfg.try_set("x-y", Value::Int(1)).is_err());
    assert!(cfg.try_set("x_y", Value::Int(1)).is_ok());
}

#[test]
fn set_multiline_value() {
    let text = "# head\ndisk = [\n  'a', # first\n  'b',\n]  # disks\nvcpus = 2\n";
    let mut cfg = VmCfg::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.get("disk"), Some(&Value::List(vec![s("a"), s("b")])));
    cfg.set("disk", Value::List(vec![s("c")]));
    assert_eq!(cfg.render(), "# head\ndisk = ['c']  # disks\nvcpus = 2\n");
    assert!(cfg.remove("disk"));
    assert_eq!(cfg.render(), "# head\nvcpus = 2\n");
}

#[test]
fn remove_whole_lines_keeps_comments() {
    let mut cfg = sample(7);
    assert!(cfg.remove("name"));
    assert!(!cfg.remove("name"));
    assert!(cfg.remove("serial"));
    let out = cfg.render();
    assert!(!out.contains("name = \""));
    assert!(!out.contains("enable serial console"));
    assert!(out.contains("# --- intrepid.hvm ---\nbuilder"));
    assert!(out.contains("# --- intrepid.py ---\nmemory = 4096\nbootloader"));
    let again = common::parse("s7", &out);
    assert_eq!(again.get("name"), None);
    assert_eq!(again.get("vnc"), Some(&Value::Int(1)));

    let mut cfg = sample(8);
    assert!(cfg.remove("vfb"));
    assert!(cfg.render().ends_with(
        "vncunused = 1\n# manual replacement used by the author (vncpasswd value is the blog's placeholder):\n"
    ));
    assert!(!cfg.remove("nonexistent"));
}

#[test]
fn semicolon_separated_statements() {
    let text = "a = 1; b = 'x'; c = 3 # tail\nd = 4;\n";
    let cfg = VmCfg::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.keys(), vec!["a", "b", "c", "d"]);
    assert_eq!(cfg.line_of("c"), Some(1));

    let mut x = cfg.clone();
    x.set("b", Value::Int(2));
    assert_eq!(x.render(), "a = 1; b = 2; c = 3 # tail\nd = 4;\n");

    let mut x = cfg.clone();
    assert!(x.remove("a"));
    assert_eq!(x.render(), "b = 'x'; c = 3 # tail\nd = 4;\n");
    assert!(x.remove("c"));
    assert_eq!(x.render(), "b = 'x' # tail\nd = 4;\n");
    assert!(x.remove("b"));
    assert_eq!(x.render(), "d = 4;\n");
    assert!(x.remove("d"));
    assert_eq!(x.render(), "");
    assert!(x.keys().is_empty());
}

#[test]
fn from_entries_renders_fresh_file() {
    let cfg = VmCfg::from_entries(&[
        ("name", s("vm1")),
        ("memory", Value::Int(2048)),
        ("disk", Value::List(vec![s("file:/x.img,xvda,w")])),
        ("OVM_high_availability", Value::Bool(false)),
    ]);
    assert_eq!(
        cfg.render(),
        "name = 'vm1'\nmemory = 2048\ndisk = ['file:/x.img,xvda,w']\nOVM_high_availability = False\n"
    );
    assert_eq!(cfg.line_of("disk"), Some(3));
    assert_eq!(VmCfg::from_entries(&[]).render(), "");
}

#[test]
fn hostile_strings_round_trip() {
    let hostile = [
        "a'b\\c\n$(rm -rf /);",
        "\"'\\\\'\"",
        "tab\there\r\0\x7f\x1b[0m",
        "trailing backslash\\",
        "unicode \u{e9}\u{2028}\u{1f600}",
        "'''",
        "# not a comment",
        "",
    ];
    for h in hostile {
        let v = s(h);
        assert_eq!(parse_value(&v.to_python()), Ok(v.clone()), "{h:?}");
        let mut cfg = VmCfg::from_entries(&[("x", v.clone())]);
        cfg.set("y", Value::List(vec![v.clone(), Value::Dict(vec![(v.clone(), v.clone())])]));
        let again = VmCfg::parse(&cfg.render()).unwrap_or_else(|e| panic!("{h:?}: {e}"));
        assert_eq!(again.get("x"), Some(&v));
        assert_eq!(again.entries(), cfg.entries());
        assert_eq!(again.keys(), vec!["x", "y"]);
    }
}

#[test]
fn values_round_trip_through_to_python() {
    let values = [
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Float(-1.5e-7),
        Value::Float(1e300),
        Value::Float(4.0),
        Value::Tuple(vec![]),
        Value::Tuple(vec![s("one")]),
        Value::Tuple(vec![Value::Int(1), Value::None]),
        Value::Dict(vec![]),
        Value::List(vec![Value::List(vec![Value::Bool(true)]), Value::Dict(vec![(Value::Int(1), s("v"))])]),
    ];
    for v in values {
        assert_eq!(parse_value(&v.to_python()), Ok(v.clone()), "{v}");
    }
    assert_eq!(parse_value("1e999"), Ok(Value::Float(f64::INFINITY)));
}
