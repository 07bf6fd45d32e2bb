//! Oracle VM Manager hosts (`managers:`): the validated form, and the checks that build it.
//!
//! A Manager is reached over SSH like a hypervisor host (the same connection fields become the
//! same [`Host`]), but what domform manages there is one file: the WebLogic data source through
//! which the Manager reaches its Oracle repository database (docs/manager-database.md).
//! Version rules come from the facts in §7: 3.0 has a documented domain path, 3.3/3.4 keep the
//! repository in bundled MySQL (accepted here, refused by the planner with its reason), and the
//! 3.1/3.2 domain path is not documented, so it must be written out.

use super::Host;
use crate::diag::{Diagnostic, Location};
use crate::manifest::load::Entry;
use crate::manifest::raw::RawHost;
use crate::manifest::raw_manager::RawManager;
use crate::weblogic::pool;
use crate::weblogic::url::{Address, Connect};

/// The documented WebLogic domain of OVM Manager 3.0 (facts §7.2, E18548 CHDBFHIA).
pub const DOMAIN_3_0: &str = "/u01/app/oracle/ovm-manager-3/machine1/base_adf_domain";
/// The documented WebLogic domain of OVM Manager 3.3/3.4 (facts §7.2, E50247_08).
pub const DOMAIN_3_3: &str = "/u01/app/oracle/ovm-manager-3/domains/ovm_domain";
/// The documented restart (facts §7.1, E37520_01 vmutl-using-mgrcontrol).
pub const RESTART_COMMAND: &str = "/etc/init.d/ovmm stop ; /etc/init.d/ovmm start";

/// An Oracle VM Manager host.
#[derive(Debug, Clone)]
pub struct Manager {
    /// Name (key in `managers`).
    pub name: String,
    /// How to reach it (no repositories).
    pub conn: Host,
    /// Declared version, as written (`3.2`).
    pub version: String,
    /// (major, minor).
    pub release: (u32, u32),
    /// WebLogic domain folder.
    pub domain: String,
    /// The module file name to edit, when declared.
    pub data_source: Option<String>,
    /// Restart after a change.
    pub restart: bool,
    /// The restart command.
    pub restart_command: String,
    /// The desired connection.
    pub database: Database,
    /// Where it was declared.
    pub loc: Option<Location>,
}

impl Manager {
    /// 3.3 and later keep the repository in bundled MySQL only.
    pub fn bundled_mysql_only(&self) -> bool {
        self.release >= (3, 3)
    }

    /// The host lock file.
    pub fn lock_path(&self) -> String {
        format!("{}/.domform.lock", self.domain)
    }
}

/// The desired repository database connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// What the URL says.
    pub connect: Connect,
    /// Declared pool parameters, in schema order.
    pub pool: Vec<(&'static pool::Param, String)>,
}

fn version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    (major == 3 && minor <= 4).then_some((major, minor))
}

fn host_ok(h: &str) -> Result<(), String> {
    if h.is_empty() || h.starts_with('-') {
        return Err(format!("`{}` is not a host name or address", h.escape_debug()));
    }
    match h
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '=' | '/' | '@' | '<' | '>' | '&'))
    {
        Some(c) => Err(format!("`{}` contains {c:?}, which an Oracle Net address cannot hold", h.escape_debug())),
        None => Ok(()),
    }
}

fn service_ok(s: &str) -> Result<(), String> {
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) || s.len() > 250 {
        return Err(format!("`{}` is not a service name (it starts with a letter or digit)", s.escape_debug()));
    }
    match s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '$' | '#'))) {
        Some(c) => {
            Err(format!("service name `{}` contains {c:?}; use letters, digits, `.`, `_`, `-`", s.escape_debug()))
        }
        None => Ok(()),
    }
}

/// The Manager's connection fields as a host entry, so they are checked as a host's are.
fn host_entry(e: &Entry<RawManager>) -> Entry<RawHost> {
    let r = &e.raw;
    let raw_host = RawHost {
        address: r.address.clone(),
        port: r.port,
        user: r.user.clone(),
        identity_file: r.identity_file.clone(),
        known_hosts: r.known_hosts.clone(),
        host_key_policy: r.host_key_policy,
        transport: r.transport,
        connect_timeout: r.connect_timeout,
        observe_timeout: None,
        step_timeout: None,
        kex_algorithms: r.kex_algorithms.clone(),
        host_key_algorithms: r.host_key_algorithms.clone(),
        ciphers: r.ciphers.clone(),
        macs: r.macs.clone(),
        ssh_config: r.ssh_config.clone(),
        proxy_jump: r.proxy_jump.clone(),
        toolstack: None,
        uri: None,
        repository: None,
        repositories: Vec::new(),
        reserved_cpus: None,
        labels: Default::default(),
    };
    Entry { name: e.name.clone(), raw: raw_host, loc: e.loc.clone(), node: e.node.clone(), dropped: Vec::new() }
}

/// The WebLogic domain folder: as declared (an absolute path), else the one the release is
/// documented to use.
fn domain(diags: &mut Vec<Diagnostic>, e: &Entry<RawManager>, release: Option<(u32, u32)>) -> String {
    let r = &e.raw;
    let p = |f: &str| format!("managers.{}.{f}", e.name);
    let err = |diags: &mut Vec<Diagnostic>, at: &[&str], path: String, msg: String| {
        diags.push(Diagnostic::error(Some(e.loc_at(at)), path, msg));
    };
    match (&r.domain, release) {
        (Some(d), _) => {
            if !d.starts_with('/') || d.chars().any(char::is_control) || d.len() < 2 {
                err(diags, &["domain"], p("domain"), format!("`{}` must be an absolute path", d.escape_debug()));
            }
            d.trim_end_matches('/').to_string()
        }
        (None, Some((3, 0))) => DOMAIN_3_0.to_string(),
        (None, Some((3, 3 | 4))) => DOMAIN_3_3.to_string(),
        (None, Some(_)) => {
            diags.push(
                Diagnostic::error(
                    Some(e.loc_at(&["version"])),
                    p("domain"),
                    format!(
                        "manager `{}`: the WebLogic domain folder of Oracle VM Manager {} is not documented in domform's sources; set `domain`",
                        e.name, r.version
                    ),
                )
                .with_help(format!("3.0 uses {DOMAIN_3_0}, 3.3/3.4 use {DOMAIN_3_3}; look for `config/jdbc/` under /u01/app/oracle/ovm-manager-3/")),
            );
            String::new()
        }
        (None, None) => String::new(),
    }
}

/// The repository database's connect descriptor: service, listener addresses, failover.
fn connect(diags: &mut Vec<Diagnostic>, e: &Entry<RawManager>) -> Connect {
    let p = |f: &str| format!("managers.{}.{f}", e.name);
    let err = |diags: &mut Vec<Diagnostic>, at: &[&str], path: String, msg: String| {
        diags.push(Diagnostic::error(Some(e.loc_at(at)), path, msg));
    };
    let db = &e.raw.database;
    if let Err(m) = service_ok(&db.service) {
        err(diags, &["database", "service"], p("database.service"), m);
    }
    if db.addresses.is_empty() {
        err(diags, &["database", "addresses"], p("database.addresses"), "at least one address is needed".into());
    }
    let mut addresses = Vec::new();
    for (i, a) in db.addresses.iter().enumerate() {
        let idx = i.to_string();
        if let Err(m) = host_ok(&a.host) {
            err(diags, &["database", "addresses", &idx, "host"], p(&format!("database.addresses.{i}.host")), m);
        }
        if a.port == Some(0) {
            err(
                diags,
                &["database", "addresses", &idx, "port"],
                p(&format!("database.addresses.{i}.port")),
                "port 0 is not a listener port (1-65535)".into(),
            );
        }
        addresses.push(Address { host: a.host.clone(), port: a.port.unwrap_or(1521) });
    }
    if db.connect_timeout == Some(0) {
        err(
            diags,
            &["database", "connect_timeout"],
            p("database.connect_timeout"),
            "a connect timeout is at least 1 second".into(),
        );
    }
    Connect {
        service: db.service.clone(),
        addresses,
        failover: db.failover.unwrap_or(true),
        load_balance: db.load_balance.unwrap_or(false),
        connect_timeout: db.connect_timeout,
        retry_count: db.retry_count,
    }
}

/// Validates one `managers:` entry. `connection` checks the SSH fields as for a host.
pub(super) fn manager(
    diags: &mut Vec<Diagnostic>,
    e: &Entry<RawManager>,
    connection: impl FnOnce(&mut Vec<Diagnostic>, &Entry<RawHost>) -> Option<Host>,
) -> Option<Manager> {
    let r = &e.raw;
    let p = |f: &str| format!("managers.{}.{f}", e.name);
    let err = |diags: &mut Vec<Diagnostic>, at: &[&str], path: String, msg: String| {
        diags.push(Diagnostic::error(Some(e.loc_at(at)), path, msg));
    };
    let conn = connection(diags, &host_entry(e))?;
    let release = version(&r.version);
    if release.is_none() {
        err(
            diags,
            &["version"],
            p("version"),
            format!("`{}` is not an Oracle VM Manager 3 version (3.0, 3.1, 3.2, 3.3 or 3.4)", r.version.escape_debug()),
        );
    }
    let domain = domain(diags, e, release);
    if let Some(ds) = &r.data_source {
        if ds.is_empty() || ds.contains('/') || ds.chars().any(char::is_control) || !ds.ends_with(".xml") {
            err(
                diags,
                &["data_source"],
                p("data_source"),
                format!("`{}` must be a file name in <domain>/config/jdbc/, like `OVMDS-jdbc.xml`", ds.escape_debug()),
            );
        }
    }
    let restart_command = r.restart_command.clone().unwrap_or_else(|| RESTART_COMMAND.to_string());
    if restart_command.trim().is_empty() || restart_command.contains('\0') {
        err(diags, &["restart_command"], p("restart_command"), "the restart command is empty".into());
    }
    let connect = connect(diags, e);
    let pool = pool_settings(diags, e);
    let db = &r.database;
    if db.addresses.len() > 1 && db.pool.as_ref().is_none_or(|p| p.test_connections_on_reserve != Some(true)) {
        diags.push(
            Diagnostic::warning(
                Some(e.loc_at(&["database"])),
                p("database.pool"),
                format!("manager `{}`: with several addresses, pooled connections left dead by a failover are only replaced when WebLogic tests them", e.name),
            )
            .with_help("set `pool: { test_connections_on_reserve: true, test_table_name: SQL SELECT 1 FROM DUAL }`"),
        );
    }
    Some(Manager {
        name: e.name.clone(),
        conn,
        version: r.version.clone(),
        release: release.unwrap_or((0, 0)),
        domain,
        data_source: r.data_source.clone(),
        restart: r.restart,
        restart_command,
        database: Database { connect, pool },
        loc: Some(e.loc.clone()),
    })
}

fn pool_settings(diags: &mut Vec<Diagnostic>, e: &Entry<RawManager>) -> Vec<(&'static pool::Param, String)> {
    let Some(raw) = &e.raw.database.pool else { return Vec::new() };
    let p = |f: &str| format!("managers.{}.database.pool.{f}", e.name);
    let ints: [(&str, Option<i64>); 8] = [
        ("initial_capacity", raw.initial_capacity.map(i64::from)),
        ("max_capacity", raw.max_capacity.map(i64::from)),
        ("connection_creation_retry_frequency_seconds", raw.connection_creation_retry_frequency_seconds.map(i64::from)),
        ("connection_reserve_timeout_seconds", raw.connection_reserve_timeout_seconds.map(i64::from)),
        ("test_frequency_seconds", raw.test_frequency_seconds.map(i64::from)),
        ("inactive_connection_timeout_seconds", raw.inactive_connection_timeout_seconds.map(i64::from)),
        ("seconds_to_trust_an_idle_pool_connection", raw.seconds_to_trust_an_idle_pool_connection.map(i64::from)),
        ("test_connections_on_reserve", raw.test_connections_on_reserve.map(i64::from)),
    ];
    let mut out: Vec<(&'static pool::Param, String)> = Vec::new();
    for (key, v) in ints {
        let (Some(v), Some(param)) = (v, pool::by_key(key)) else { continue };
        let text = match param.kind {
            pool::Kind::Bool => (v != 0).to_string(),
            _ => v.to_string(),
        };
        if key == "connection_reserve_timeout_seconds" && v < -1 {
            diags.push(Diagnostic::error(
                Some(e.loc_at(&["database", "pool", key])),
                p(key),
                "at least -1 (-1: do not wait)",
            ));
        }
        if key == "max_capacity" && v == 0 {
            diags.push(Diagnostic::error(
                Some(e.loc_at(&["database", "pool", key])),
                p(key),
                "a pool holds at least 1 connection",
            ));
        }
        out.push((param, text));
    }
    if let (Some(t), Some(param)) = (&raw.test_table_name, pool::by_key("test_table_name")) {
        if t.trim().is_empty() || t.chars().any(char::is_control) {
            diags.push(Diagnostic::error(
                Some(e.loc_at(&["database", "pool", "test_table_name"])),
                p("test_table_name"),
                "the test is one line, like `SQL SELECT 1 FROM DUAL`",
            ));
        }
        out.push((param, t.trim().to_string()));
    }
    let testing = raw.test_connections_on_reserve == Some(true) || raw.test_frequency_seconds.is_some_and(|f| f > 0);
    if testing && raw.test_table_name.is_none() {
        diags.push(
            Diagnostic::warning(
                Some(e.loc_at(&["database", "pool"])),
                p("test_table_name"),
                "WebLogic tests connections only when the data source has a test table name",
            )
            .with_help("add `test_table_name: SQL SELECT 1 FROM DUAL` unless the file already has one"),
        );
    }
    out.sort_by_key(|(param, _)| pool::rank(param.element));
    out
}
