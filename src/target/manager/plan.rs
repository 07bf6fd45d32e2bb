//! Planning an Oracle VM Manager host: its repository database data source, and a restart.
//!
//! Steps (pure, like the VM planner): refuse a 3.3/3.4 Manager (bundled MySQL, facts §7.1);
//! find the one JDBC module that is the OVM repository's (a declared `data_source`, else the
//! module with the `ovs` user, else the only Oracle/MySQL URL among the modules config.xml
//! lists; several or none is an error naming the files); refuse a MySQL URL; compare the URL
//! and each declared pool parameter by meaning; when something differs, plan a minimal text
//! edit of the file ([`crate::weblogic::xml`]) and, with `restart: true`, the restart after it.

use super::observe::{ManagerFile, ManagerObserved};
use crate::model::manager::Manager;
use crate::observe::Observed;
use crate::plan::{fingerprint, graph, Action, Change, FieldChange, FileDiff, HostPlan, Impact, Op, Resource};
use crate::weblogic::{pool, url, xml};

/// Plans one Manager host (pure).
pub fn plan_manager(m: &Manager, obs: &Observed) -> HostPlan {
    let mut hp = HostPlan {
        errors: obs.problems.iter().filter(|p| p.is_error()).map(|p| p.body()).collect(),
        ..HostPlan::new(&m.name, fingerprint::of(obs))
    };
    if !hp.errors.is_empty() {
        return hp;
    }
    match changes(m, obs, &mut hp.notes).and_then(graph::order) {
        Ok(c) => hp.changes = c,
        Err(e) => hp.errors.push(format!("manager `{}`: {e}", m.name)),
    }
    hp
}

fn changes(m: &Manager, obs: &Observed, notes: &mut Vec<String>) -> Result<Vec<Change>, String> {
    if m.bundled_mysql_only() {
        return Err(format!(
            "Oracle VM Manager {} keeps its repository in the bundled MySQL database; a service name, RAC or \
             Data Guard connection applies only to 3.0-3.2 with an Oracle database, so nothing is planned \
             (docs/manager-database.md)",
            m.version
        ));
    }
    let mo = obs.manager.as_ref().ok_or("the host could not be read")?;
    if !mo.domain_exists {
        return Err(format!("the WebLogic domain {} does not exist on the host; set `domain`", mo.domain));
    }
    let (file, module) = choose(m, mo).map_err(|e| e.to_string())?;
    let current = match &module.url {
        Some((_, Ok(u))) => u.trim().to_string(),
        Some((_, Err(e))) => return Err(format!("{}: {e}", file.path)),
        None => return Err(format!("{}: no <url> in <jdbc-driver-params>", file.path)),
    };
    if url::is_mysql(&current) {
        return Err(format!(
            "{} connects to MySQL (`{current}`): the bundled MySQL repository of 3.2 Simple installs and of 3.3/3.4; \
             a service name, RAC or Data Guard connection applies only to an Oracle database",
            file.path
        ));
    }
    if !url::is_oracle_thin(&current) {
        return Err(format!("{}: `{current}` is not an Oracle thin URL; domform edits only those", file.path));
    }
    let impact = if m.restart { Impact::Live } else { Impact::NeedsRestart };
    let desired = url::render(&m.database.connect);
    let mut fields = Vec::new();
    let new_url = (!url::same(&current, &desired)).then(|| desired.clone());
    if new_url.is_some() {
        fields.push(FieldChange { field: "url".into(), old: Some(current), new: Some(desired.clone()), impact });
    }
    let pool_edits = pool_changes(m, &module, file, impact, &mut fields)?;
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let edits =
        xml::edits(&file.text, &module, new_url.as_deref(), &pool_edits).map_err(|e| format!("{}: {e}", file.path))?;
    let new = xml::apply(&file.text, edits);
    check_reads_back(m, &new, &desired)
        .map_err(|e| format!("{}: the edited file would not read back ({e}); nothing is planned", file.path))?;
    let id = format!("manager/{}", m.name);
    let mut out = vec![Change {
        id: id.clone(),
        resource: Resource::Manager,
        name: m.name.clone(),
        action: Action::Update,
        impact,
        fields,
        file: Some(FileDiff { path: file.path.clone(), old: file.text.clone(), new: new.clone() }),
        ops: vec![Op::ReplaceFile { path: file.path.clone(), content: new }],
        depends_on: Vec::new(),
        verify_pins: Vec::new(),
        cause: None,
    }];
    if m.restart {
        out.push(restart_step(m, id));
    } else {
        notes.push(format!(
            "manager `{}`: Oracle VM Manager reads its data source when it starts; restart it (`{}`) or set `restart: true`",
            m.name, m.restart_command
        ));
    }
    Ok(out)
}

/// The Manager's restart after its data source was written (`restart: true`).
fn restart_step(m: &Manager, after: String) -> Change {
    Change {
        id: format!("restart/{}", m.name),
        resource: Resource::Manager,
        name: m.name.clone(),
        action: Action::Restart,
        impact: Impact::Live,
        fields: vec![FieldChange {
            field: "restart_command".into(),
            old: None,
            new: Some(m.restart_command.clone()),
            impact: Impact::Live,
        }],
        file: None,
        ops: vec![Op::RunCommand { command: m.restart_command.clone() }],
        depends_on: vec![after],
        verify_pins: Vec::new(),
        cause: None,
    }
}

/// The managed pool parameters whose value differs, as fields and as edits.
fn pool_changes(
    m: &Manager,
    module: &xml::Module,
    file: &ManagerFile,
    impact: Impact,
    fields: &mut Vec<FieldChange>,
) -> Result<Vec<(&'static str, String)>, String> {
    let mut pool_edits: Vec<(&'static str, String)> = Vec::new();
    for (param, value) in &m.database.pool {
        let now = match module.pool_children.iter().find(|c| c.element == param.element) {
            Some(c) => Some(c.value.clone().map_err(|e| format!("{}: {e}", file.path))?),
            None => None,
        };
        if now.as_deref().is_some_and(|n| pool::same(param.kind, n, value)) {
            continue;
        }
        let field = param.element.to_string();
        fields.push(FieldChange {
            field: field.into(),
            old: now.map(|n| n.trim().to_string()),
            new: Some(value.clone()),
            impact,
        });
        pool_edits.push((param.element, value.clone()));
    }
    Ok(pool_edits)
}

/// What an edited data source file would not read back as declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ReadBack {
    /// It no longer parses.
    #[error("{0}")]
    Xml(String),
    /// Its URL differs.
    #[error("the URL")]
    Url,
    /// This pool parameter differs.
    #[error("<{0}>")]
    Pool(&'static str),
}

/// Why no data source file could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Choose {
    /// The declared `data_source:` is not there.
    #[error("data source {dir}/{name} does not exist (files there: {files})")]
    Missing { dir: String, name: String, files: String },
    /// The declared one does not parse.
    #[error("{path}: {error}")]
    Unreadable { path: String, error: String },
    /// No file looks like the repository's.
    #[error("cannot identify the OVM repository data source in {dir}/ (files: {files}{unreadable}): none has the `ovs` user or an Oracle/MySQL URL; {CHOOSE_HINT}")]
    NoneFits { dir: String, files: String, unreadable: String },
    /// More than one does.
    #[error("several data sources in {dir}/ could be the OVM repository's: {files}; {CHOOSE_HINT}")]
    Several { dir: String, files: String },
}

const CHOOSE_HINT: &str = "set `data_source:` to the module's file name";

/// The edited text must parse and say what was declared, or nothing is written.
fn check_reads_back(m: &Manager, text: &str, desired: &str) -> Result<(), ReadBack> {
    let again = xml::scan(text).map_err(ReadBack::Xml)?;
    match &again.url {
        Some((_, Ok(u))) if url::same(u, desired) => {}
        _ => return Err(ReadBack::Url),
    }
    for (param, value) in &m.database.pool {
        let ok = again
            .pool_children
            .iter()
            .find(|c| c.element == param.element)
            .is_some_and(|c| c.value.as_deref().is_ok_and(|v| pool::same(param.kind, v, value)));
        if !ok {
            return Err(ReadBack::Pool(param.element));
        }
    }
    Ok(())
}

fn file_name(f: &ManagerFile) -> &str {
    f.path.rsplit('/').next().unwrap_or(&f.path)
}

fn names(files: &[&ManagerFile]) -> String {
    if files.is_empty() {
        return "none".into();
    }
    files.iter().map(|f| file_name(f)).collect::<Vec<_>>().join(", ")
}

/// The JDBC module that holds the OVM repository connection.
fn choose<'a>(m: &Manager, mo: &'a ManagerObserved) -> Result<(&'a ManagerFile, xml::Module), Choose> {
    let dir = format!("{}/config/jdbc", mo.domain);
    let all: Vec<&ManagerFile> = mo.modules.iter().collect();
    if let Some(ds) = &m.data_source {
        let f = all.iter().find(|f| file_name(f) == ds).ok_or_else(|| Choose::Missing {
            dir: dir.clone(),
            name: ds.clone(),
            files: names(&all),
        })?;
        return xml::scan(&f.text)
            .map(|module| (*f, module))
            .map_err(|error| Choose::Unreadable { path: f.path.clone(), error });
    }
    let listed = mo.config_xml.as_deref().and_then(|c| xml::descriptor_files(c).ok()).unwrap_or_default();
    let prefix = format!("{}/config/", mo.domain);
    let mut scanned = Vec::new();
    let mut broken = Vec::new();
    for f in &all {
        let rel = f.path.strip_prefix(&prefix).unwrap_or(&f.path);
        if !listed.is_empty() && !listed.iter().any(|l| l == rel) {
            continue;
        }
        match xml::scan(&f.text) {
            Ok(module) => scanned.push((*f, module)),
            Err(e) => broken.push(format!("{}: {e}", file_name(f))),
        }
    }
    let ovs_user: Vec<usize> = (0..scanned.len())
        .filter(|&i| scanned[i].1.user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case("ovs")))
        .collect();
    let picked = if ovs_user.is_empty() {
        (0..scanned.len())
            .filter(|&i| {
                scanned[i]
                    .1
                    .url
                    .as_ref()
                    .and_then(|u| u.1.as_ref().ok())
                    .is_some_and(|u| url::is_oracle_thin(u) || url::is_mysql(u))
            })
            .collect()
    } else {
        ovs_user
    };
    match picked.as_slice() {
        [i] => Ok(scanned.swap_remove(*i)),
        [] => {
            let unreadable =
                if broken.is_empty() { String::new() } else { format!("; unreadable: {}", broken.join("; ")) };
            Err(Choose::NoneFits { dir, files: names(&all), unreadable })
        }
        several => {
            let files: Vec<&ManagerFile> = several.iter().map(|&i| scanned[i].0).collect();
            Err(Choose::Several { dir, files: names(&files) })
        }
    }
}
