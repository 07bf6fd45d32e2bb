//! Oracle thin JDBC URLs: rendering the declared connection and comparing URLs by meaning.
//!
//! Forms (Oracle JDBC / Oracle Net syntax): SID `jdbc:oracle:thin:@host:1521:XE` (what the
//! 3.0–3.2 installers write), service `jdbc:oracle:thin:@//host:1521/svc`, and a descriptor
//! `jdbc:oracle:thin:@(DESCRIPTION=…(ADDRESS_LIST=(FAILOVER=ON)…)(CONNECT_DATA=(SERVICE_NAME=svc)))`
//! for several addresses (RAC, Data Guard) or connect timeouts. A descriptor written by hand
//! may be spread over lines or use lower-case keywords; comparing canonical forms keeps such a
//! file from being rewritten for nothing.

/// One listener address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Host name or IP address.
    pub host: String,
    /// Listener port.
    pub port: u16,
}

/// What the URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Service name.
    pub service: String,
    /// Addresses, in order.
    pub addresses: Vec<Address>,
    /// `FAILOVER=ON`.
    pub failover: bool,
    /// `LOAD_BALANCE=ON`.
    pub load_balance: bool,
    /// `CONNECT_TIMEOUT` seconds.
    pub connect_timeout: Option<u32>,
    /// `RETRY_COUNT`.
    pub retry_count: Option<u32>,
}

/// The prefix of every Oracle thin URL.
pub const THIN: &str = "jdbc:oracle:thin:";

fn on_off(b: bool) -> &'static str {
    if b {
        "ON"
    } else {
        "OFF"
    }
}

/// The URL for a declared connection: the short service form for one address without
/// timeouts, else a full descriptor.
pub fn render(c: &Connect) -> String {
    if let ([a], None, None) = (c.addresses.as_slice(), c.connect_timeout, c.retry_count) {
        let host = if a.host.contains(':') { format!("[{}]", a.host) } else { a.host.clone() };
        return format!("{THIN}@//{host}:{}/{}", a.port, c.service);
    }
    let mut s = format!("{THIN}@(DESCRIPTION=");
    if let Some(t) = c.connect_timeout {
        s.push_str(&format!("(CONNECT_TIMEOUT={t})"));
    }
    if let Some(r) = c.retry_count {
        s.push_str(&format!("(RETRY_COUNT={r})"));
    }
    let addrs: String =
        c.addresses.iter().map(|a| format!("(ADDRESS=(PROTOCOL=TCP)(HOST={})(PORT={}))", a.host, a.port)).collect();
    if c.addresses.len() > 1 {
        s.push_str(&format!(
            "(ADDRESS_LIST=(FAILOVER={})(LOAD_BALANCE={}){addrs})",
            on_off(c.failover),
            on_off(c.load_balance)
        ));
    } else {
        s.push_str(&addrs);
    }
    s.push_str(&format!("(CONNECT_DATA=(SERVICE_NAME={})))", c.service));
    s
}

/// True for an Oracle thin URL (any form).
pub fn is_oracle_thin(url: &str) -> bool {
    url.trim().get(..THIN.len()).is_some_and(|p| p.eq_ignore_ascii_case(THIN))
}

/// True for a MySQL URL (OVM 3.2 Simple installs and every 3.3/3.4 Manager).
pub fn is_mysql(url: &str) -> bool {
    url.trim().get(.."jdbc:mysql:".len()).is_some_and(|p| p.eq_ignore_ascii_case("jdbc:mysql:"))
}

/// Keywords whose values are case-insensitive words in Oracle Net (`on`, `tcp`, …).
const WORD_VALUES: &[&str] = &["FAILOVER", "LOAD_BALANCE", "PROTOCOL", "SERVER", "SOURCE_ROUTE", "ENABLE"];

/// A canonical form for comparing: the thin prefix in lower case; inside a descriptor no
/// whitespace around tokens, keywords in upper case, `on`/`yes`/`true` as `ON` and
/// `off`/`no`/`false` as `OFF`. Other URLs are only trimmed.
pub fn canonical(url: &str) -> String {
    let url = url.trim();
    if !is_oracle_thin(url) {
        return url.to_string();
    }
    let rest = url[THIN.len()..].trim_start();
    let Some(after_at) = rest.strip_prefix('@') else { return format!("{THIN}{rest}") };
    let body = after_at.trim();
    if !body.starts_with('(') {
        return format!("{THIN}@{}", body.split_whitespace().collect::<String>());
    }
    let mut out = format!("{THIN}@");
    let mut atom = String::new();
    let mut keyword: Option<String> = None;
    let mut after_open = false;
    let flush = |atom: &mut String, out: &mut String, after_open: bool, keyword: &mut Option<String>| {
        let a = atom.trim();
        if after_open {
            let k = a.to_ascii_uppercase();
            out.push_str(&k);
            *keyword = Some(k);
        } else if !a.is_empty() {
            let word = keyword.as_deref().is_some_and(|k| WORD_VALUES.contains(&k));
            let v = match a.to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" if word => "ON".to_string(),
                "off" | "no" | "false" if word => "OFF".to_string(),
                _ if word => a.to_ascii_uppercase(),
                _ => a.to_string(),
            };
            out.push_str(&v);
        }
        atom.clear();
    };
    for ch in body.chars() {
        match ch {
            '(' | ')' | '=' => {
                flush(&mut atom, &mut out, after_open && ch == '=', &mut keyword);
                out.push(ch);
                after_open = ch == '(';
            }
            c if c.is_whitespace() && atom.trim().is_empty() => {}
            c => atom.push(c),
        }
    }
    flush(&mut atom, &mut out, false, &mut keyword);
    out
}

/// Same meaning (see [`canonical`]).
pub fn same(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(hosts: &[(&str, u16)]) -> Connect {
        Connect {
            service: "ovs_rw".into(),
            addresses: hosts.iter().map(|(h, p)| Address { host: h.to_string(), port: *p }).collect(),
            failover: true,
            load_balance: false,
            connect_timeout: None,
            retry_count: None,
        }
    }

    #[test]
    fn one_address_is_the_service_form() {
        assert_eq!(render(&conn(&[("db1", 1521)])), "jdbc:oracle:thin:@//db1:1521/ovs_rw");
        assert_eq!(render(&conn(&[("fd00::5", 1522)])), "jdbc:oracle:thin:@//[fd00::5]:1522/ovs_rw");
    }

    #[test]
    fn several_addresses_make_a_failover_descriptor() {
        let mut c = conn(&[("prim-scan", 1521), ("stby-scan", 1521)]);
        c.connect_timeout = Some(5);
        c.retry_count = Some(3);
        // The exact form of the facts §7.3 example.
        assert_eq!(
            render(&c),
            "jdbc:oracle:thin:@(DESCRIPTION=(CONNECT_TIMEOUT=5)(RETRY_COUNT=3)(ADDRESS_LIST=(FAILOVER=ON)(LOAD_BALANCE=OFF)\
(ADDRESS=(PROTOCOL=TCP)(HOST=prim-scan)(PORT=1521))(ADDRESS=(PROTOCOL=TCP)(HOST=stby-scan)(PORT=1521)))\
(CONNECT_DATA=(SERVICE_NAME=ovs_rw)))"
        );
        c.failover = false;
        c.load_balance = true;
        c.connect_timeout = None;
        c.retry_count = None;
        let u = render(&c);
        assert!(
            u.starts_with("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS_LIST=(FAILOVER=OFF)(LOAD_BALANCE=ON)(ADDRESS="),
            "{u}"
        );
    }

    #[test]
    fn timeouts_on_one_address_need_a_descriptor() {
        let mut c = conn(&[("db1", 1521)]);
        c.connect_timeout = Some(10);
        assert_eq!(
            render(&c),
            "jdbc:oracle:thin:@(DESCRIPTION=(CONNECT_TIMEOUT=10)(ADDRESS=(PROTOCOL=TCP)(HOST=db1)(PORT=1521))\
(CONNECT_DATA=(SERVICE_NAME=ovs_rw)))"
        );
    }

    #[test]
    fn compared_by_meaning() {
        let mut c = conn(&[("prim-scan", 1521), ("stby-scan", 1521)]);
        c.connect_timeout = Some(5);
        let ours = render(&c);
        let by_hand = "\n  JDBC:oracle:thin:@ (description =\n (connect_timeout=5)\n  (address_list = (failover = on)(load_balance=no)\n\
   (ADDRESS=(protocol=tcp)(HOST=prim-scan)(PORT=1521))\n   (ADDRESS=(PROTOCOL=TCP)(HOST=stby-scan)(PORT = 1521)))\n\
  (CONNECT_DATA=(SERVICE_NAME=ovs_rw)))\n";
        assert!(same(&ours, by_hand), "{}\n{}", canonical(&ours), canonical(by_hand));
        // Values other than Oracle Net words keep their case; different hosts differ.
        assert!(!same(&ours, &ours.replace("stby-scan", "STBY-SCAN")));
        assert!(!same(&ours, &ours.replace("(FAILOVER=ON)", "(FAILOVER=OFF)")));
        assert!(!same("jdbc:oracle:thin:@dbhost:1521:XE", &render(&conn(&[("dbhost", 1521)]))));
        assert!(same(" jdbc:oracle:thin:@//db1:1521/ovs_rw\n", "jdbc:oracle:thin:@//db1:1521/ovs_rw"));
    }

    #[test]
    fn kinds() {
        assert!(is_oracle_thin(" jdbc:Oracle:thin:@h:1521:XE"));
        assert!(!is_oracle_thin("jdbc:mysql://localhost:49500/ovs"));
        assert!(is_mysql("jdbc:mysql://localhost:49500/ovs"));
        assert!(!is_mysql("jdbc:"));
    }
}
