//! The connection pool parameters domform manages, and the schema order of their element.
//!
//! `<jdbc-connection-pool-params>` is an `xsd:sequence` in WebLogic's jdbc-data-source schema,
//! so a new child must go in schema order or WebLogic may refuse the descriptor at boot.
//! [`SCHEMA_ORDER`] is that sequence (WebLogic 9+ jdbc-data-source schema, as generated into
//! beans in an indexed public file); children added in later WebLogic releases are not listed
//! and count as "after every listed one".

/// How a value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// xsd boolean with WebLogic's pattern (`true|True|TRUE|yes|Y|1|…`).
    Bool,
    /// An integer (whitespace collapsed).
    Int,
    /// A string, compared after trimming.
    Text,
}

/// One managed parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// YAML key under `pool:`.
    pub key: &'static str,
    /// XML element.
    pub element: &'static str,
    /// Value kind.
    pub kind: Kind,
}

/// Every managed parameter (the `pool:` keys).
pub const PARAMS: &[Param] = &[
    Param { key: "initial_capacity", element: "initial-capacity", kind: Kind::Int },
    Param { key: "max_capacity", element: "max-capacity", kind: Kind::Int },
    Param {
        key: "connection_creation_retry_frequency_seconds",
        element: "connection-creation-retry-frequency-seconds",
        kind: Kind::Int,
    },
    Param { key: "connection_reserve_timeout_seconds", element: "connection-reserve-timeout-seconds", kind: Kind::Int },
    Param { key: "test_frequency_seconds", element: "test-frequency-seconds", kind: Kind::Int },
    Param { key: "test_connections_on_reserve", element: "test-connections-on-reserve", kind: Kind::Bool },
    Param {
        key: "inactive_connection_timeout_seconds",
        element: "inactive-connection-timeout-seconds",
        kind: Kind::Int,
    },
    Param { key: "test_table_name", element: "test-table-name", kind: Kind::Text },
    Param {
        key: "seconds_to_trust_an_idle_pool_connection",
        element: "seconds-to-trust-an-idle-pool-connection",
        kind: Kind::Int,
    },
];

/// The schema's sequence for `<jdbc-connection-pool-params>`.
pub const SCHEMA_ORDER: &[&str] = &[
    "initial-capacity",
    "max-capacity",
    "capacity-increment",
    "shrink-frequency-seconds",
    "highest-num-waiters",
    "connection-creation-retry-frequency-seconds",
    "connection-reserve-timeout-seconds",
    "test-frequency-seconds",
    "test-connections-on-reserve",
    "profile-harvest-frequency-seconds",
    "ignore-in-use-connections-enabled",
    "inactive-connection-timeout-seconds",
    "test-table-name",
    "login-delay-seconds",
    "init-sql",
    "statement-cache-size",
    "statement-cache-type",
    "remove-infected-connections",
    "seconds-to-trust-an-idle-pool-connection",
    "statement-timeout",
    "profile-type",
    "jdbc-xa-debug-level",
    "credential-mapping-enabled",
    "driver-interceptor",
    "pinned-to-thread",
    "identity-based-connection-pooling-enabled",
];

/// Position of an element in [`SCHEMA_ORDER`]; `None` for elements not listed.
pub fn rank(element: &str) -> Option<usize> {
    SCHEMA_ORDER.iter().position(|e| *e == element)
}

/// The parameter for a YAML key.
pub fn by_key(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "Y" | "1" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "N" | "0" => Some(false),
        _ => None,
    }
}

/// Whether the file's value already means the declared one.
pub fn same(kind: Kind, current: &str, desired: &str) -> bool {
    match kind {
        Kind::Bool => parse_bool(current).is_some() && parse_bool(current) == parse_bool(desired),
        Kind::Int => {
            let n = |s: &str| s.split_whitespace().collect::<String>().parse::<i64>().ok();
            n(current).is_some() && n(current) == n(desired)
        }
        Kind::Text => current.trim() == desired.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_in_schema_order_and_listed() {
        let ranks: Vec<usize> = PARAMS.iter().map(|p| rank(p.element).expect("listed")).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        for p in PARAMS {
            assert_eq!(p.key.replace('_', "-"), p.element);
        }
    }

    #[test]
    fn compared_by_meaning() {
        assert!(same(Kind::Bool, " True ", "true"));
        assert!(same(Kind::Bool, "1", "true"));
        assert!(!same(Kind::Bool, "maybe", "true"));
        assert!(same(Kind::Int, " 0120 ", "120"));
        assert!(!same(Kind::Int, "12x", "12"));
        assert!(same(Kind::Text, "\n SQL SELECT 1 FROM DUAL ", "SQL SELECT 1 FROM DUAL"));
        assert!(!same(Kind::Text, "SQL ISVALID", "SQL SELECT 1 FROM DUAL"));
    }
}
