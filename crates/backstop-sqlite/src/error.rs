//! rusqlite errors → [`DbError`]: redacted message, the SQLite (extended) result code name,
//! the error offset when SQLite reports one, and the kind the algorithm decides on.

use backstop_core::driver::{DbError, DbErrorKind};
use backstop_core::redact::redact;
use rusqlite::ffi;

/// Map a rusqlite error. `statement_timeout` is set when our progress handler interrupted
/// the statement because its deadline passed, so SQLITE_INTERRUPT means a timeout.
pub(crate) fn map_err(
    e: rusqlite::Error,
    statement_timeout: Option<std::time::Duration>,
) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) => from_code(err, msg, None, statement_timeout),
        rusqlite::Error::SqlInputError {
            error,
            msg,
            sql,
            offset,
        } => {
            // SQLite gives a byte offset into the statement; DbError wants a 1-based
            // character position, which is what the engine converts to line:column.
            let position = usize::try_from(offset)
                .ok()
                .and_then(|o| sql.get(..o))
                .map(|head| head.chars().count() + 1);
            from_code(error, Some(msg), position, statement_timeout)
        }
        rusqlite::Error::MultipleStatement => one_statement_only(),
        other => DbError::other(other.to_string()),
    }
}

/// Shorthand for `map_err(e, None)`, for backstop's own statements.
pub(crate) fn db(e: rusqlite::Error) -> DbError {
    map_err(e, None)
}

pub(crate) fn one_statement_only() -> DbError {
    DbError::other("only one SQL statement per call is accepted (the engine splits scripts into statements); this text holds more than one")
}

fn from_code(
    err: ffi::Error,
    msg: Option<String>,
    position: Option<usize>,
    statement_timeout: Option<std::time::Duration>,
) -> DbError {
    let message = msg.unwrap_or_else(|| err.to_string());
    let kind = match err.code {
        // busy_timeout expired waiting for another connection's lock: retryable, like
        // PostgreSQL's lock_timeout (55P03).
        ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => DbErrorKind::LockTimeout,
        ffi::ErrorCode::OperationInterrupted if statement_timeout.is_some() => {
            DbErrorKind::StatementTimeout
        }
        ffi::ErrorCode::CannotOpen | ffi::ErrorCode::NotADatabase => DbErrorKind::Connection,
        _ => DbErrorKind::Other,
    };
    let (message, hint) = match (kind, statement_timeout) {
        (DbErrorKind::StatementTimeout, Some(t)) => (format!("statement cancelled: it ran longer than statement_timeout ({} ms)", t.as_millis()), Some("raise statement_timeout in migration.toml, or make the statement cheaper".to_string())),
        (DbErrorKind::LockTimeout, _) => (message, Some("another connection holds a lock on the database; it is retried when the migration allows retries".to_string())),
        _ => (message, None),
    };
    DbError {
        kind,
        message: redact(&message),
        code: Some(code_name(err.extended_code)),
        position,
        detail: None,
        hint,
    }
}

/// `SQLITE_CONSTRAINT_FOREIGNKEY` for a known extended code, else the number.
pub(crate) fn code_name(code: i32) -> String {
    macro_rules! names {
        ($($c:ident),* $(,)?) => {
            match code {
                $(ffi::$c => stringify!($c).to_string(),)*
                _ => code.to_string(),
            }
        };
    }
    names!(
        SQLITE_OK,
        SQLITE_ERROR,
        SQLITE_INTERNAL,
        SQLITE_PERM,
        SQLITE_ABORT,
        SQLITE_BUSY,
        SQLITE_LOCKED,
        SQLITE_NOMEM,
        SQLITE_READONLY,
        SQLITE_INTERRUPT,
        SQLITE_IOERR,
        SQLITE_CORRUPT,
        SQLITE_NOTFOUND,
        SQLITE_FULL,
        SQLITE_CANTOPEN,
        SQLITE_PROTOCOL,
        SQLITE_EMPTY,
        SQLITE_SCHEMA,
        SQLITE_TOOBIG,
        SQLITE_CONSTRAINT,
        SQLITE_MISMATCH,
        SQLITE_MISUSE,
        SQLITE_NOLFS,
        SQLITE_AUTH,
        SQLITE_FORMAT,
        SQLITE_RANGE,
        SQLITE_NOTADB,
        SQLITE_NOTICE,
        SQLITE_WARNING,
        SQLITE_ROW,
        SQLITE_DONE,
        SQLITE_ERROR_MISSING_COLLSEQ,
        SQLITE_ERROR_RETRY,
        SQLITE_ERROR_SNAPSHOT,
        SQLITE_ERROR_RESERVESIZE,
        SQLITE_ERROR_KEY,
        SQLITE_ERROR_UNABLE,
        SQLITE_IOERR_READ,
        SQLITE_IOERR_SHORT_READ,
        SQLITE_IOERR_WRITE,
        SQLITE_IOERR_FSYNC,
        SQLITE_IOERR_DIR_FSYNC,
        SQLITE_IOERR_TRUNCATE,
        SQLITE_IOERR_FSTAT,
        SQLITE_IOERR_UNLOCK,
        SQLITE_IOERR_RDLOCK,
        SQLITE_IOERR_DELETE,
        SQLITE_IOERR_BLOCKED,
        SQLITE_IOERR_NOMEM,
        SQLITE_IOERR_ACCESS,
        SQLITE_IOERR_CHECKRESERVEDLOCK,
        SQLITE_IOERR_LOCK,
        SQLITE_IOERR_CLOSE,
        SQLITE_IOERR_DIR_CLOSE,
        SQLITE_IOERR_SHMOPEN,
        SQLITE_IOERR_SHMSIZE,
        SQLITE_IOERR_SHMLOCK,
        SQLITE_IOERR_SHMMAP,
        SQLITE_IOERR_SEEK,
        SQLITE_IOERR_DELETE_NOENT,
        SQLITE_IOERR_MMAP,
        SQLITE_IOERR_GETTEMPPATH,
        SQLITE_IOERR_CONVPATH,
        SQLITE_IOERR_VNODE,
        SQLITE_IOERR_AUTH,
        SQLITE_IOERR_BEGIN_ATOMIC,
        SQLITE_IOERR_COMMIT_ATOMIC,
        SQLITE_IOERR_ROLLBACK_ATOMIC,
        SQLITE_IOERR_DATA,
        SQLITE_IOERR_CORRUPTFS,
        SQLITE_IOERR_IN_PAGE,
        SQLITE_LOCKED_SHAREDCACHE,
        SQLITE_LOCKED_VTAB,
        SQLITE_BUSY_RECOVERY,
        SQLITE_BUSY_SNAPSHOT,
        SQLITE_BUSY_TIMEOUT,
        SQLITE_CANTOPEN_NOTEMPDIR,
        SQLITE_CANTOPEN_ISDIR,
        SQLITE_CANTOPEN_FULLPATH,
        SQLITE_CANTOPEN_CONVPATH,
        SQLITE_CANTOPEN_DIRTYWAL,
        SQLITE_CANTOPEN_SYMLINK,
        SQLITE_CORRUPT_VTAB,
        SQLITE_CORRUPT_SEQUENCE,
        SQLITE_CORRUPT_INDEX,
        SQLITE_READONLY_RECOVERY,
        SQLITE_READONLY_CANTLOCK,
        SQLITE_READONLY_ROLLBACK,
        SQLITE_READONLY_DBMOVED,
        SQLITE_READONLY_CANTINIT,
        SQLITE_READONLY_DIRECTORY,
        SQLITE_ABORT_ROLLBACK,
        SQLITE_CONSTRAINT_CHECK,
        SQLITE_CONSTRAINT_COMMITHOOK,
        SQLITE_CONSTRAINT_FOREIGNKEY,
        SQLITE_CONSTRAINT_FUNCTION,
        SQLITE_CONSTRAINT_NOTNULL,
        SQLITE_CONSTRAINT_PRIMARYKEY,
        SQLITE_CONSTRAINT_TRIGGER,
        SQLITE_CONSTRAINT_UNIQUE,
        SQLITE_CONSTRAINT_VTAB,
        SQLITE_CONSTRAINT_ROWID,
        SQLITE_CONSTRAINT_PINNED,
        SQLITE_CONSTRAINT_DATATYPE,
        SQLITE_NOTICE_RECOVER_WAL,
        SQLITE_NOTICE_RECOVER_ROLLBACK,
        SQLITE_NOTICE_RBU,
        SQLITE_WARNING_AUTOINDEX,
        SQLITE_AUTH_USER,
        SQLITE_OK_LOAD_PERMANENTLY,
        SQLITE_OK_SYMLINK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_extended_codes() {
        assert_eq!(code_name(787), "SQLITE_CONSTRAINT_FOREIGNKEY");
        assert_eq!(code_name(5), "SQLITE_BUSY");
        assert_eq!(code_name(123_456), "123456");
    }
}
