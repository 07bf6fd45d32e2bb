//! VNC passwords in domain XML, handled as in a vm.cfg (`plan::secrets`): never in a plan.
//!
//! libvirt prints a `<graphics passwd='…'>` only to `dumpxml --security-info`, and a domain
//! defined from XML without it loses its password. So observe reads the XML with the password
//! and [`seal`] at once puts [`KEPT`] in its place: the text every planner step, plan file and
//! diff sees holds no password, and the value stays in memory as a [`Secret`] for the one step
//! that writes the XML. A declared password stands in the XML as its reference's
//! [`placeholder`]; apply puts the value there (`apply::secrets`) just before the file is written.

use crate::model::secret::{placeholder, KEPT};
use crate::model::{Secret, Vm};
use crate::plan::secrets::{SecretSlot, SecretSource};
use crate::plan::{FieldChange, Impact};

/// `(start, end)` of the value of every `passwd` attribute of a `<graphics` element.
fn password_spans(xml: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find("<graphics").map(|i| i + from) {
        let end = xml[i..].find('>').map_or(xml.len(), |e| e + i);
        let tag = &xml[i..end];
        let mut at = 0;
        while let Some(p) = tag[at..].find("passwd=").map(|p| p + at) {
            let preceded = p > 0 && tag[..p].ends_with(char::is_whitespace);
            let q = tag[p + 7..].chars().next();
            at = p + 7;
            if let (true, Some(q @ ('\'' | '"'))) = (preceded, q) {
                let vstart = p + 8;
                if let Some(len) = tag[vstart..].find(q) {
                    out.push((i + vstart, i + vstart + len));
                    at = vstart + len;
                }
            }
        }
        from = end;
    }
    out
}

/// The XML with each VNC password replaced by [`KEPT`], and the first password (as written in
/// the XML, escaped).
pub fn seal(xml: &str) -> (String, Option<Secret>) {
    let spans = password_spans(xml);
    let first = spans.first().map(|&(a, b)| Secret::new(&xml[a..b]));
    let mut out = xml.to_string();
    for &(a, b) in spans.iter().rev() {
        out.replace_range(a..b, KEPT);
    }
    (out, first)
}

/// Puts `value` (already XML-escaped) where `placeholder` stands in a `passwd=`; exactly one.
pub fn fill(xml: &str, placeholder: &str, value: &str) -> Result<String, String> {
    let hits: Vec<(usize, usize)> =
        password_spans(xml).into_iter().filter(|&(a, b)| &xml[a..b] == placeholder).collect();
    match hits[..] {
        [(a, b)] => {
            let mut out = xml.to_string();
            out.replace_range(a..b, value);
            Ok(out)
        }
        _ => Err(format!("the planned domain XML has {} `{placeholder}` passwords, not one", hits.len())),
    }
}

/// XML-escapes a password for an attribute value.
pub fn escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;").replace('"', "&quot;")
}

/// Brings the VNC password of `text` (sealed) to what `vm` declares (an undeclared one stays), records the change, and
/// returns the slot that apply fills (none when the XML holds no password). `host_pw`: the
/// domain's password as observed; `domain`: its name, for a kept password.
pub fn plan(
    vm: &Vm,
    domain: &str,
    host_pw: Option<&Secret>,
    text: &mut String,
    fields: &mut Vec<FieldChange>,
    impact: Impact,
) -> Result<Option<SecretSlot>, String> {
    let declared = crate::plan::secrets::declared(vm);
    let same = match (declared, host_pw) {
        (Some((_, want)), Some(have)) => escape(want.expose()) == have.expose(),
        // Not declared: the host's password is kept (as a Xen host keeps an undeclared
        // `vncpasswd`; `import` never reads one, and its YAML must plan "No changes").
        (None, _) => true,
        (Some(_), None) => false,
    };
    let has_vnc = vm.console.vnc.is_some();
    if !same && has_vnc {
        let new = declared.map(|(src, _)| placeholder(src));
        super::edit::with(text, |t| crate::libvirt::devices::set_vnc_password(t, new.as_deref()))?;
        let shown = |s: Option<String>| s.unwrap_or_else(|| "(none)".into());
        fields.push(FieldChange {
            field: "vnc password".into(),
            old: Some(shown(host_pw.map(|_| KEPT.to_string()))),
            new: Some(shown(new)),
            impact,
        });
    }
    Ok(slot(text, declared, domain))
}

/// The slot for the password `text` holds: a declared one's reference, or the host's kept one.
pub fn slot(text: &str, declared: Option<(&crate::model::SecretRef, &Secret)>, domain: &str) -> Option<SecretSlot> {
    let spans = password_spans(text);
    let &(a, b) = spans.first()?;
    let holder = &text[a..b];
    if holder == KEPT {
        return Some(SecretSlot {
            vfb: None,
            placeholder: KEPT.into(),
            source: SecretSource::Host { vfb: None },
            xml_domain: Some(domain.to_string()),
        });
    }
    // The placeholder stands XML-escaped in the text (a file path may hold `&` or `<`).
    let (src, secret) = declared.filter(|(src, _)| escape(&placeholder(src)) == holder)?;
    let tag = secret.tag().to_string();
    let source = match src {
        crate::model::SecretRef::Env(var) => SecretSource::Env { var: var.clone(), tag },
        crate::model::SecretRef::File(p) => SecretSource::File { path: p.display().to_string(), tag },
    };
    Some(SecretSlot { vfb: None, placeholder: holder.to_string(), source, xml_domain: Some(domain.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<domain><devices>\n<graphics type='vnc' port='-1' autoport='yes' passwd='s3&amp;cr' listen='127.0.0.1'>\n<listen type='address'/></graphics>\n</devices></domain>";

    #[test]
    fn seal_takes_the_password_out_and_fill_puts_it_back() {
        let (sealed, pw) = seal(XML);
        assert!(!sealed.contains("s3&amp;cr"), "{sealed}");
        assert!(sealed.contains(&format!("passwd='{KEPT}'")), "{sealed}");
        assert_eq!(pw.as_ref().map(Secret::expose), Some("s3&amp;cr"));
        assert_eq!(format!("{pw:?}"), "Some(Secret((redacted)))");
        assert_eq!(fill(&sealed, KEPT, "s3&amp;cr").expect("one"), XML);
        assert!(fill(&sealed, "(secret: env X)", "v").is_err());
    }

    #[test]
    fn escape_makes_an_attribute_value() {
        assert_eq!(escape("a'b<&\""), "a&apos;b&lt;&amp;&quot;");
    }
}
