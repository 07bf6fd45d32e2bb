//! WebLogic JDBC data sources, for Oracle VM Manager 3.0–3.2's repository database.
//!
//! OVM Manager reaches its Oracle repository through a WebLogic data source whose URL the
//! installer writes as `host:port:SID`; that form cannot name a RAC service or a Data Guard
//! pair. domform rewrites that URL and the pool's connection testing in place:
//! - [`url`]: the Oracle thin URL forms, rendered and compared by meaning;
//! - [`pool`]: the `<jdbc-connection-pool-params>` children domform manages, in schema order;
//! - [`xml`]: locating elements with byte offsets (quick-xml's tokenizer) and editing only their
//!   text, so encrypted passwords, comments, formatting and everything else stay byte-identical.
//!
//! Sources and what is unverified: docs/manager-database.md.

pub mod pool;
pub mod url;
pub mod xml;

#[cfg(test)]
mod tests;
