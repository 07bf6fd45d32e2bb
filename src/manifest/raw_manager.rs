//! Raw types of the `managers:` section: Oracle VM Manager hosts whose WebLogic data source
//! domform rewrites so the Manager reaches its Oracle repository database by service name,
//! RAC SCAN or Data Guard pair (see docs/manager-database.md).
//!
//! The SSH fields repeat [`super::raw::RawHost`]'s one by one instead of a `#[serde(flatten)]`,
//! because flatten would hide unknown keys; the validator turns them into the same `Host`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::raw::{HostKeyPolicy, TransportKind};

/// An Oracle VM Manager host (3.0–3.2 with an Oracle repository database).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawManager {
    /// SSH target: host name or IP address. Not needed with `transport: local`.
    pub address: Option<String>,
    /// SSH port (22).
    pub port: Option<u16>,
    /// SSH user (root).
    pub user: Option<String>,
    /// Private key file; without it, ssh-agent is used.
    pub identity_file: Option<String>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    pub known_hosts: Option<String>,
    /// Host-key policy: `strict` (default) or `accept-new`.
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `ssh` (default, libssh2), `openssh` (the system `ssh`) or `local`.
    pub transport: Option<TransportKind>,
    /// Connect timeout in seconds (10).
    pub connect_timeout: Option<u32>,
    /// Key exchange algorithms, ssh_config syntax: `a,b` replaces the defaults, `+a` appends,
    /// `-a` removes, `^a` puts first (OVM 3.0-3.2: `+diffie-hellman-group14-sha1`).
    pub kex_algorithms: Option<String>,
    /// Host-key signature algorithms, ssh_config syntax (`ssh-rsa` is offered by default).
    pub host_key_algorithms: Option<String>,
    /// Ciphers, ssh_config syntax.
    pub ciphers: Option<String>,
    /// MACs, ssh_config syntax (`hmac-sha1` is offered by default).
    pub macs: Option<String>,
    /// `transport: openssh` only: the ssh_config file to use instead of ~/.ssh/config (`ssh -F`).
    pub ssh_config: Option<String>,
    /// `transport: openssh` only: jump host(s), `[user@]host[:port][,...]` (`ssh -J`).
    pub proxy_jump: Option<String>,
    /// Oracle VM Manager version: `3.0`, `3.1`, `3.2` (`3.3`/`3.4` use bundled MySQL and are refused).
    pub version: String,
    /// WebLogic domain folder. Default for 3.0: `/u01/app/oracle/ovm-manager-3/machine1/base_adf_domain`;
    /// required for 3.1 and 3.2 (their path is not documented in domform's sources).
    pub domain: Option<String>,
    /// The data source module to edit, a file name in `<domain>/config/jdbc/` (found by content when absent).
    pub data_source: Option<String>,
    /// Restart the Manager after changing the data source (false: the plan notes a restart is needed).
    #[serde(default)]
    pub restart: bool,
    /// How to restart it (`/etc/init.d/ovmm stop ; /etc/init.d/ovmm start`).
    pub restart_command: Option<String>,
    /// The repository database connection.
    pub database: RawDatabase,
}

/// How the Manager reaches its Oracle repository database.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Oracle service name (for Data Guard: a role-based service that runs only on the primary).
    pub service: String,
    /// Listener addresses in order: a RAC SCAN, or a primary then a standby.
    pub addresses: Vec<RawDbAddress>,
    /// Try the next address when one does not answer (`FAILOVER=ON`; default true).
    pub failover: Option<bool>,
    /// Spread connections over the addresses (`LOAD_BALANCE=ON`; default false).
    pub load_balance: Option<bool>,
    /// Seconds to wait for each TCP connect (`CONNECT_TIMEOUT`; 11gR2+ thin driver).
    pub connect_timeout: Option<u32>,
    /// Times to go through the address list again (`RETRY_COUNT`; 11gR2+ thin driver).
    pub retry_count: Option<u32>,
    /// Connection pool settings (`<jdbc-connection-pool-params>`); only the ones given are managed.
    pub pool: Option<RawPool>,
}

/// One listener address.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDbAddress {
    /// Host name or IP address (a RAC SCAN name, a primary or standby host).
    pub host: String,
    /// Listener port (1521).
    pub port: Option<u16>,
}

/// WebLogic connection pool parameters; each maps to the element of the same name with dashes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    /// Test a connection before handing it out, so dead ones (after a switchover) are replaced.
    pub test_connections_on_reserve: Option<bool>,
    /// Test idle connections every N seconds (0: never).
    pub test_frequency_seconds: Option<u32>,
    /// The test: `SQL SELECT 1 FROM DUAL` (or `SQL ISVALID`).
    pub test_table_name: Option<String>,
    /// Retry creating connections every N seconds while the database is away (0: never).
    pub connection_creation_retry_frequency_seconds: Option<u32>,
    /// Give a reserved connection back after N idle seconds (0: never).
    pub inactive_connection_timeout_seconds: Option<u32>,
    /// Wait at most N seconds for a connection (-1: do not wait, 0: forever).
    pub connection_reserve_timeout_seconds: Option<i32>,
    /// Skip the test for a connection used within the last N seconds.
    pub seconds_to_trust_an_idle_pool_connection: Option<u32>,
    /// Connections made when the pool starts.
    pub initial_capacity: Option<u32>,
    /// Most connections in the pool.
    pub max_capacity: Option<u32>,
}
