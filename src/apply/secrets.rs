//! The edge where a plan's secret references become values: just before a host's script is
//! built, never earlier.
//!
//! A plan holds placeholders and references (`plan::secrets`), so it can be printed and saved;
//! this module reads each declared secret again (environment variable or file), checks its tag
//! against the one planned with (a password changed since `plan -o` is refused, naming the
//! source, rather than written unreviewed), takes a kept password from the host's vm.cfg as
//! observed under the lock (the stale check has proven it is the file planned against), and
//! returns a host plan with real values, which lives in memory only as long as the script is
//! built. No error names a value.

use vmcfg::VmCfg;

use crate::model::secret::{describe, read_vnc_password};
use crate::observe::Observed;
use crate::plan::secrets::{password_at, put_password, SecretSlot, SecretSource};
use crate::plan::{HostPlan, Op};

/// `hp` with every secret reference resolved; `obs` is the host as observed under the lock.
/// An error names the change and the variable or file, never a value.
pub fn resolve(hp: &HostPlan, obs: Option<&Observed>) -> Result<HostPlan, String> {
    let mut out = hp.clone();
    for c in &mut out.changes {
        for op in &mut c.ops {
            resolve_op(op, &hp.host, obs).map_err(|e| format!("{}: {e}; nothing was applied on this host", c.id))?;
        }
    }
    Ok(out)
}

fn resolve_op(op: &mut Op, host: &str, obs: Option<&Observed>) -> Result<(), String> {
    match op {
        Op::WriteFile { path, content, secrets, .. } if secrets.iter().any(|s| s.xml_domain.is_some()) => {
            for slot in secrets.iter() {
                let value = match (&slot.source, &slot.xml_domain) {
                    (SecretSource::Host { .. }, Some(d)) => kept_xml(obs, d).map_err(|e| format!("{path}: {e}"))?,
                    _ => crate::target::libvirt::secret::escape(
                        &value_of(slot, host, None).map_err(|e| format!("{path}: {e}"))?,
                    ),
                };
                *content = crate::target::libvirt::secret::fill(content, &slot.placeholder, &value)
                    .map_err(|e| format!("{path}: {e}"))?;
            }
            secrets.clear();
            Ok(())
        }
        Op::WriteFile { path, content, secrets, .. } if !secrets.is_empty() => {
            let mut cfg = VmCfg::parse(content).map_err(|e| format!("the planned {path} does not parse: {e}"))?;
            let old = obs.and_then(|o| o.cfgs.iter().find(|c| c.path == *path)).map(|c| &c.cfg);
            for slot in secrets.iter() {
                if password_at(&cfg, slot.vfb).as_deref() != Some(slot.placeholder.as_str()) {
                    return Err(format!("the planned {path} has no `{}` where its secret list says", slot.placeholder));
                }
                let value = value_of(slot, host, old).map_err(|e| format!("{path}: {e}"))?;
                put_password(&mut cfg, slot.vfb, &value);
            }
            *content = cfg.render();
            secrets.clear();
            Ok(())
        }
        Op::OrElse { first, on_failure } => {
            resolve_op(first, host, obs)?;
            on_failure.iter_mut().try_for_each(|o| resolve_op(o, host, obs))
        }
        _ => Ok(()),
    }
}

/// The password libvirt holds for `domain` as observed under the lock (escaped as in its XML).
fn kept_xml(obs: Option<&Observed>, domain: &str) -> Result<String, String> {
    obs.and_then(|o| o.libvirt.as_ref())
        .and_then(|lv| lv.domains.iter().find(|d| d.name == domain))
        .and_then(|d| d.vnc_password.as_ref())
        .map(|s| s.expose().to_string())
        .ok_or_else(|| format!("domain `{domain}` no longer has the VNC password the plan keeps"))
}

fn value_of(slot: &SecretSlot, host: &str, old: Option<&VmCfg>) -> Result<String, String> {
    if let SecretSource::Host { vfb } = slot.source {
        return old
            .and_then(|o| password_at(o, vfb))
            .ok_or_else(|| "the host's vm.cfg no longer holds the VNC password the plan keeps".to_string());
    }
    let Some((src, tag)) = slot.source.declared() else { return Err("no source".into()) };
    let secret = read_vnc_password(&src).map_err(|e| format!("VNC password: {e}"))?.tagged(&src, host);
    if secret.tag() != tag {
        return Err(format!(
            "the VNC password in {} changed since the plan was made; run `domform plan` again",
            describe(&src)
        ));
    }
    Ok(secret.expose().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::{placeholder, Secret};
    use crate::model::SecretRef;
    use crate::plan::{Action, Change, Impact, Resource};

    const P: &str = "/r/VirtualMachines/x/vm.cfg";

    fn plan_writing(content: &str, secrets: Vec<SecretSlot>) -> HostPlan {
        let op = Op::WriteFile { path: P.into(), content: content.into(), backup: true, secrets };
        HostPlan {
            host: "h1".into(),
            fingerprint: String::new(),
            changes: vec![Change {
                id: "vm/x".into(),
                resource: Resource::Vm,
                name: "x".into(),
                action: Action::Update,
                impact: Impact::Live,
                fields: Vec::new(),
                file: None,
                ops: vec![op],
                depends_on: Vec::new(),
                verify_pins: Vec::new(),
                cause: None,
            }],
            errors: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn written(hp: &HostPlan) -> String {
        match &hp.changes[0].ops[0] {
            Op::WriteFile { content, secrets, .. } if secrets.is_empty() => content.clone(),
            other => panic!("not a resolved write: {other:?}"),
        }
    }

    #[test]
    fn a_declared_file_secret_is_read_checked_against_its_tag_and_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("pw");
        std::fs::write(&f, "Pw-7f3a9\n").expect("write");
        let src = SecretRef::File(f.clone());
        let tag = Secret::new("Pw-7f3a9").tagged(&src, "h1").tag().to_string();
        let ph = placeholder(&src);
        let slot = SecretSlot {
            vfb: Some(0),
            placeholder: ph.clone(),
            source: SecretSource::File { path: f.display().to_string(), tag },
            xml_domain: None,
        };
        let hp = plan_writing(&format!("vfb = ['type=vnc,vncpasswd={ph}']\n"), vec![slot]);
        assert_eq!(written(&resolve(&hp, None).expect("resolves")), "vfb = ['type=vnc,vncpasswd=Pw-7f3a9']\n");
        // Changed since the plan: refused, naming the file, not the value.
        std::fs::write(&f, "Pw-other1\n").expect("write");
        let e = resolve(&hp, None).expect_err("changed");
        assert!(e.contains(&f.display().to_string()) && e.contains("changed since the plan"), "{e}");
        assert!(!e.contains("Pw-"), "{e}");
        // Unreadable: refused, naming the file.
        std::fs::remove_file(&f).expect("rm");
        let e = resolve(&hp, None).expect_err("gone");
        assert!(
            e.starts_with("vm/x: ") && e.contains("cannot read file") && e.contains(&f.display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_kept_secret_comes_from_the_host_file_observed_under_the_lock() {
        let slot = SecretSlot {
            vfb: None,
            placeholder: crate::plan::secrets::KEPT.into(),
            source: SecretSource::Host { vfb: None },
            xml_domain: None,
        };
        let hp = plan_writing("memory = 2048\nvncpasswd = '(secret: kept from host)'\n", vec![slot]);
        let host_text = "memory = 1024\nvncpasswd = 'host-Pw'\n";
        let obs = Observed {
            cfgs: vec![crate::observe::CfgFile {
                path: P.into(),
                text: host_text.into(),
                cfg: VmCfg::parse(host_text).expect("parses"),
            }],
            ..Observed::default()
        };
        assert_eq!(written(&resolve(&hp, Some(&obs)).expect("resolves")), "memory = 2048\nvncpasswd = 'host-Pw'\n");
        assert!(resolve(&hp, None).expect_err("no host file").contains("no longer holds"));
    }

    #[test]
    fn an_unresolved_write_is_refused_by_the_script_not_written_with_a_placeholder() {
        let slot = SecretSlot {
            vfb: None,
            placeholder: "(secret: env X)".into(),
            source: SecretSource::Env { var: "X".into(), tag: String::new() },
            xml_domain: None,
        };
        let hp = plan_writing("vncpasswd = '(secret: env X)'\n", vec![slot]);
        let sh = crate::apply::script::op_to_shell(
            &hp.changes[0].ops[0],
            &crate::model::Tool::xen(crate::model::Toolstack::Xm),
        );
        assert!(sh.contains("not resolved") && !sh.contains("printf"), "{sh}");
    }
}
