//! A saved plan file's content hash: `plan -o` seals the file, `apply PLANFILE` checks the seal
//! before anything else.
//!
//! Without it, a plan edited by hand (a size changed, a step deleted) reached the stale check
//! and was refused as "desired state changed", sending people to look for a change that was not
//! there. The hash is over the document's JSON value without the `content_hash` field, written
//! compactly, so re-indenting the file is not an edit but any changed value, key or step is. It
//! is a diagnosis, not a signature: the fingerprint and re-planning under the lock still decide
//! whether a plan may run. A plan without the field (`plan --format json > FILE`, an older
//! domform) is not checked.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The top-level field holding the hash.
pub const FIELD: &str = "content_hash";

fn digest(doc: &Value) -> String {
    let compact = serde_json::to_string(doc).unwrap_or_default();
    Sha256::digest(compact.as_bytes()).iter().fold(String::from("sha256:"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Adds `content_hash` as the first field of a plan's JSON text (as `render::plan::json`
/// prints it); the rest of the text is kept as it is.
pub fn seal(json: &str) -> Result<String, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("the plan is not JSON: {e}"))?;
    if !doc.is_object() {
        return Err("the plan is not a JSON object".into());
    }
    let body = json.trim_start().strip_prefix('{').ok_or("the plan is not a JSON object")?;
    Ok(format!("{{\n  \"{FIELD}\": \"{}\",{}", digest(&doc), body))
}

/// Checks the seal of a saved plan's text: an error naming the file when the hash does not
/// match (or is not a string); Ok when it matches or the file has none.
pub fn check(path: &Path, text: &str) -> Result<(), String> {
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(text) else {
        return Ok(()); // not a JSON object: the plan parser says what is wrong with it
    };
    let Some(stored) = doc.remove(FIELD) else { return Ok(()) };
    if stored.as_str() == Some(digest(&Value::Object(doc)).as_str()) {
        Ok(())
    } else {
        Err(format!("{} was edited after `domform plan` saved it (hash mismatch); make the plan again", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "{\n  \"format_version\": 1,\n  \"hosts\": [\n    {\n      \"host\": \"ovs1\",\n      \
                        \"changes\": [ { \"id\": \"disk/web01/system\", \"size\": 21474836480 } ]\n    }\n  ]\n}";

    #[test]
    fn a_sealed_plan_checks_and_keeps_its_text() {
        let sealed = seal(PLAN).expect("seals");
        assert!(sealed.starts_with("{\n  \"content_hash\": \"sha256:"), "{sealed}");
        assert!(sealed.ends_with(PLAN.trim_start_matches('{')), "the plan text follows unchanged: {sealed}");
        let doc: Value = serde_json::from_str(&sealed).expect("still JSON");
        assert_eq!(doc["hosts"][0]["host"], "ovs1");
        assert_eq!(check(Path::new("p.json"), &sealed), Ok(()));
        // Whitespace is not an edit.
        let compact = serde_json::to_string(&doc).expect("json");
        assert_eq!(check(Path::new("p.json"), &compact), Ok(()));
    }

    #[test]
    fn any_edited_value_key_or_hash_is_reported_as_an_edit() {
        let sealed = seal(PLAN).expect("seals");
        let edits = [
            sealed.replace("21474836480", "21474836481"),
            sealed.replace("\"host\": \"ovs1\"", "\"host\": \"ovs2\""),
            sealed.replace("\"size\"", "\"bytes\""),
            sealed.replace("\"sha256:", "\"sha256:0"),
            sealed.replace(", \"size\": 21474836480", ""),
        ];
        for edited in edits {
            assert_ne!(edited, sealed, "the edit applies");
            let err = check(Path::new("/tmp/p.json"), &edited).expect_err("an edit is found");
            assert_eq!(
                err,
                "/tmp/p.json was edited after `domform plan` saved it (hash mismatch); make the plan again"
            );
        }
    }

    #[test]
    fn unsealed_or_unreadable_plans_are_left_to_the_plan_parser() {
        assert_eq!(check(Path::new("p"), PLAN), Ok(()));
        assert_eq!(check(Path::new("p"), "not json"), Ok(()));
        assert!(seal("[1]").is_err());
    }
}
