//! Tests of the located YAML tree and its deserializer.

use super::*;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

fn tree(text: &str) -> Node {
    parse(text, &Arc::new(PathBuf::from("t.yaml"))).expect("parses").expect("not empty")
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // fields exist to be deserialized, not read
struct Vm {
    memory: String,
    vcpus: Option<u32>,
    tags: Option<Vec<String>>,
}

#[test]
fn locations_are_one_based() {
    let t = tree("a:\n  b: 1\n");
    let b = t.at(&["a", "b"]).expect("b");
    assert_eq!((b.loc.line, b.loc.col), (2, 6));
}

#[test]
fn unknown_keys_are_all_reported_and_skipped() {
    let t = tree("memory: 4GiB\nmemroy: 1\nvpcus: 2\n");
    let sink = RefCell::new(Vec::new());
    let vm: Vm = from_node(&t, "vms.x", &sink).expect("known keys still load");
    assert_eq!(vm.memory, "4GiB");
    let diags = sink.into_inner();
    assert_eq!(diags.len(), 2);
    assert_eq!(diags[0].path, "vms.x.memroy");
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `memory`?"));
    assert_eq!(diags[1].location.as_ref().map(|l| (l.line, l.col)), Some((3, 1)));
}

#[test]
fn type_errors_point_at_the_value() {
    let t = tree("memory: 4GiB\nvcpus: many\n");
    let sink = RefCell::new(Vec::new());
    let err = from_node::<Vm>(&t, "vms.x", &sink).expect_err("vcpus is not a number");
    assert_eq!(err.path.as_deref(), Some("vms.x.vcpus"));
    assert_eq!(err.location.map(|l| (l.line, l.col)), Some((2, 8)));
    assert!(err.message.contains("many"), "{}", err.message);
}

#[test]
fn list_items_are_located() {
    let t = tree("memory: x\ntags: [a, {b: 1}]\n");
    let sink = RefCell::new(Vec::new());
    let err = from_node::<Vm>(&t, "", &sink).expect_err("mapping is not a string");
    assert_eq!(err.path.as_deref(), Some("tags[1]"));
}

#[test]
fn missing_fields_point_at_the_mapping() {
    let t = tree("x:\n  vcpus: 1\n");
    let sink = RefCell::new(Vec::new());
    let err = from_node::<Vm>(t.get("x").expect("x"), "vms.x", &sink).expect_err("memory missing");
    assert!(err.message.contains("missing field `memory`"));
    assert_eq!(err.location.map(|l| l.line), Some(2));
}

#[test]
fn syntax_errors_are_located() {
    let err = parse("a: [1, 2\nb: 3\n", &Arc::new(PathBuf::from("t.yaml"))).expect_err("bad yaml");
    assert!(err.location.is_some());
    assert!(err.message.starts_with("YAML syntax error"));
}

#[test]
fn anchors_resolve() {
    let t = tree("a: &x {b: 1}\nc: *x\n");
    assert_eq!(t.at(&["c", "b"]).and_then(Node::as_str), Some("1"));
}

#[test]
fn duplicate_keys_are_errors() {
    let t = tree("memory: a\nmemory: b\n");
    let sink = RefCell::new(Vec::new());
    let _ = from_node::<Vm>(&t, "", &sink);
    assert!(sink.into_inner().iter().any(|d| d.message.contains("duplicate key `memory`")));
}
