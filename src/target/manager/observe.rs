//! Reading an Oracle VM Manager host: one exec lists the WebLogic domain's JDBC modules with
//! their contents and `config/config.xml`, in sections like a hypervisor's observe script.
//!
//! The Manager's version is taken as declared; what the planner checks on the host is the data
//! source itself (a `jdbc:mysql:` URL means the bundled MySQL repository of 3.2 Simple installs
//! and of every 3.3/3.4 Manager, refused with that reason).

use std::time::Instant;

use crate::diag::Diagnostic;
use crate::model::manager::Manager;
use crate::observe::{sections, Observed};
use crate::transport::{quote, Transport, TransportError};

/// A file read from the Manager host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerFile {
    /// Absolute path.
    pub path: String,
    /// Exact text.
    pub text: String,
}

/// What was read from a Manager host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerObserved {
    /// The WebLogic domain folder.
    pub domain: String,
    /// The folder exists.
    pub domain_exists: bool,
    /// `<domain>/config/config.xml`, when readable.
    pub config_xml: Option<String>,
    /// `<domain>/config/jdbc/*.xml`, in name order.
    pub modules: Vec<ManagerFile>,
}

/// The read-only script.
pub fn script(domain: &str, marker: &str) -> String {
    let d = quote(domain);
    let mut s = format!("M={}\nLC_ALL=C; export LC_ALL\n", quote(marker));
    s.push_str("s() { k=$1; a=$2; shift 2; printf '%s %s %s\\n' \"$M\" \"$k\" \"$a\"; \"$@\" 2>&1; r=$?; printf '\\n%s rc %s\\n' \"$M\" \"$r\"; }\n");
    s.push_str(&format!("s domain - test -d {d}\n"));
    s.push_str(&format!("s config - cat -- {d}/config/config.xml\n"));
    s.push_str(&format!(
        "for f in {d}/config/jdbc/*.xml; do [ -f \"$f\" ] || continue; s jdbc \"$f\" cat -- \"$f\"; done\n"
    ));
    s
}

/// Parses the script's output into facts (host problems go to `problems`).
pub fn parse(host: &str, domain: &str, stdout: &str, marker: &str) -> (ManagerObserved, Vec<Diagnostic>) {
    let mut m = ManagerObserved { domain: domain.to_string(), ..ManagerObserved::default() };
    let mut problems = Vec::new();
    let mut saw_domain = false;
    for sec in sections::split(stdout, marker) {
        let ok = sec.status == Some(0);
        match sec.kind.as_str() {
            "domain" => {
                saw_domain = sec.status.is_some();
                m.domain_exists = ok;
            }
            "config" if ok => m.config_xml = Some(sec.body),
            "jdbc" if ok => m.modules.push(ManagerFile { path: sec.arg, text: sec.body }),
            "jdbc" => problems.push(Diagnostic::error(
                None,
                host,
                format!("{host}: cannot read {}: {}", sec.arg, sec.body.trim()),
            )),
            _ => {}
        }
    }
    if !saw_domain {
        problems.push(Diagnostic::error(
            None,
            host,
            format!("{host}: the observe output ended early (connection lost?)"),
        ));
    }
    m.modules.sort_by(|a, b| a.path.cmp(&b.path));
    (m, problems)
}

/// Observes with exactly one exec.
pub fn observe(t: &mut dyn Transport, m: &Manager) -> Result<Observed, TransportError> {
    let marker = crate::observe::script::new_marker();
    let start = Instant::now();
    let out = t.exec(&script(&m.domain, &marker), &[])?;
    let mut obs = observed(&m.name, &m.domain, &out.stdout_text(), &marker);
    obs.execs = 1;
    obs.elapsed = start.elapsed();
    Ok(obs)
}

/// The facts as an [`Observed`] (its `manager` part set).
pub fn observed(host: &str, domain: &str, stdout: &str, marker: &str) -> Observed {
    let (m, problems) = parse(host, domain, stdout, marker);
    Observed { host: host.to_string(), manager: Some(m), problems, ..Observed::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_read_only_and_parses() {
        let s = script("/u01/my domain", "@@domform-0");
        assert!(s.contains("'/u01/my domain'/config/jdbc/*.xml"));
        for verb in ["rm ", "mv ", " > ", "sed", "ovmm"] {
            assert!(!s.lines().filter(|l| !l.starts_with("s() {")).any(|l| l.contains(verb)), "{verb}: {s}");
        }
        let m = "@@domform-0";
        let out = format!(
            "{m} domain -\n\n{m} rc 0\n{m} config -\n<domain/>\n\n{m} rc 0\n{m} jdbc /d/config/jdbc/b.xml\n<b/>\n{m} rc 0\n\
             {m} jdbc /d/config/jdbc/a.xml\n<a/>\n{m} rc 0\n{m} jdbc /d/config/jdbc/c.xml\nPermission denied\n{m} rc 1\n"
        );
        let (o, problems) = parse("m1", "/d", &out, m);
        assert!(o.domain_exists);
        assert_eq!(o.config_xml.as_deref(), Some("<domain/>\n"));
        assert_eq!(
            o.modules.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["/d/config/jdbc/a.xml", "/d/config/jdbc/b.xml"]
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("c.xml"));
    }
}
