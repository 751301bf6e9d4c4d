//! backstop-core owns the model and the one migration algorithm.
//!
//! - [`migration`] — migrations on disk (folder and single-file forms), options, checksums
//! - [`sumfile`] — `backstop.sum`
//! - [`sql`] — splitting scripts into statements with positions
//! - [`history`], [`ledger`] — what is stored in the target database; the hash-chained audit ledger
//! - [`schema`] — canonical schema state and fingerprints, as data
//! - [`driver`] — the capability trait drivers implement
//! - [`engine`] — apply, rollback, status, verify, resolve — the algorithm, once
//! - [`report`] — serializable reports every command returns
//! - [`redact`] — the one redaction function for URLs and errors
//!
//! No driver code lives here.

// Errors carry the file, statement, database message and next step for the person at the
// terminal; they are on the cold path, so their size does not matter and boxing every
// variant would only obscure the code.
#![allow(clippy::result_large_err)]

pub mod checksum;
pub mod config;
pub mod driver;
pub mod engine;
pub mod error;
pub mod history;
pub mod ledger;
pub mod migration;
pub mod redact;
pub mod report;
pub mod schema;
pub mod sql;
pub mod sumfile;

/// Current time as RFC 3339 UTC with microseconds (`2026-11-24T01:30:00.123456Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}
