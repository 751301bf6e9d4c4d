//! Mapping `crate::pg::Error` to backstop's [`DbError`]: the server's own words (redacted),
//! its SQLSTATE, position, detail and hint, and a kind the algorithm can act on.

use crate::pg::error::{ErrorPosition, SqlState};
use backstop_core::driver::{DbError, DbErrorKind};
use backstop_core::redact::redact;

/// Convert a driver error. `lock_timeout` and `statement_timeout` are told apart by SQLSTATE:
/// 55P03 `lock_not_available` and 57014 `query_canceled`
/// (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
pub fn map(e: &crate::pg::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let kind = if *code == SqlState::LOCK_NOT_AVAILABLE {
            DbErrorKind::LockTimeout
        } else if *code == SqlState::QUERY_CANCELED {
            DbErrorKind::StatementTimeout
        } else if code.code().starts_with("08")
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
        {
            DbErrorKind::Connection
        } else {
            DbErrorKind::Other
        };
        let position = match db.position() {
            Some(ErrorPosition::Original(p)) => Some(*p as usize),
            // A position inside a function body or generated query says nothing about
            // the statement the user wrote.
            _ => None,
        };
        return DbError {
            kind,
            message: redact(db.message()),
            code: Some(code.code().to_string()),
            position,
            detail: db.detail().map(redact),
            hint: db.hint().map(redact),
        };
    }
    let kind = if is_connection_error(e) {
        DbErrorKind::Connection
    } else {
        DbErrorKind::Other
    };
    // The client's own text ("error connecting to server") leaves the cause (connection
    // refused, name resolution, timeout) in the source chain: show it.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    DbError {
        kind,
        ..DbError::other(text)
    }
}

/// Errors without a server message are, apart from type conversions, about the connection:
/// closed, I/O failure or a timeout waiting for the server.
fn is_connection_error(e: &crate::pg::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    let text = e.to_string();
    text.starts_with("error connecting")
        || text.starts_with("error communicating")
        || text.starts_with("timeout")
}

/// An error from `connect`: what failed, where (URL redacted), and what to check.
pub fn connection(shown_url: &str, e: &crate::pg::Error) -> DbError {
    let base = map(e);
    let advice = match base.code.as_deref() {
        Some("28P01") | Some("28000") => {
            "check the user name and the password (given in the URL, PGPASSWORD or the password file)"
        }
        // The client's own error: the server asked for a password and none was given.
        None if base.message.contains("password missing") => {
            "the server asks for a password: give it in the URL, in PGPASSWORD, or in a password file (~/.pgpass or PGPASSFILE, readable by its owner only)"
        }
        Some("3D000") => "create the database, or fix the database name in the URL",
        Some(_) => "check the URL and the server's log",
        None => "is the server running? check host and port, and that it accepts TCP connections",
    };
    DbError {
        kind: DbErrorKind::Connection,
        message: redact(&format!(
            "cannot connect to {shown_url}: {} ({advice})",
            base.message
        )),
        ..base
    }
}
