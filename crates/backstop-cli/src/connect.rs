//! Choosing a driver from the URL scheme.

use backstop_core::driver::{DbError, Driver};
use backstop_core::engine::Ctx;
use backstop_core::error::EngineError;
use backstop_core::redact::redact;

/// The URL's scheme, lower-cased: which driver [`connect`] picks.
fn scheme(url: &str) -> String {
    url.split(':').next().unwrap_or("").to_ascii_lowercase()
}

/// Whether [`connect`] opens `url` with the SQLite driver (which creates a missing file).
pub fn is_sqlite(url: &str) -> bool {
    scheme(url) == "sqlite"
}

/// The database file an `sqlite:` URL names when it does not exist, as the process sees
/// it: a relative path resolved here, so messages say where backstop looked.
fn missing_sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, EngineError> {
    if !is_sqlite(url) {
        return Ok(None);
    }
    let file = backstop_sqlite::file(url).map_err(|e| EngineError::Usage(redact(&e.message)))?;
    Ok(file
        .filter(|p| !p.exists())
        .map(|p| std::path::absolute(&p).unwrap_or(p)))
}

/// Whether `url` names an SQLite file that does not exist yet ([`connect`] would create it).
pub fn sqlite_file_missing(url: &str) -> Result<bool, EngineError> {
    Ok(missing_sqlite_file(url)?.is_some())
}

/// [`connect`], for commands that vouch for a database (`verify`, `audit`): an SQLite file
/// that does not exist is a mistyped path or a database not created yet, not an empty
/// database to create and call intact (opening it would leave an empty file behind). Only
/// commands that write create it.
pub fn connect_existing(
    url: &str,
    ctx: &Ctx,
    application_name: &str,
) -> Result<Box<dyn Driver>, EngineError> {
    if let Some(shown) = missing_sqlite_file(url)? {
        return Err(EngineError::Usage(format!(
            "{}: no such SQLite database: {} does not exist (check the URL; `backstop apply` creates it); nothing was created",
            redact(url),
            redact(&shown.display().to_string())
        )));
    }
    connect(url, ctx, application_name)
}

/// [`connect`], for commands that show what is there and what would happen (`status`,
/// `plan`, `schema`, and `apply`/`rollback` with `--dry-run`): an SQLite file that does not
/// exist yet is shown as the empty database the first `apply` will create, without
/// creating it, and a note on the progress lines names the path, so a mistyped one shows.
pub fn connect_reading(
    url: &str,
    ctx: &Ctx,
    application_name: &str,
) -> Result<Box<dyn Driver>, EngineError> {
    if let Some(shown) = missing_sqlite_file(url)? {
        if let Some(say) = &ctx.progress {
            (say.0)(&format!(
                "note: {} does not exist yet: shown as an empty database (`backstop apply` creates it; nothing was created)",
                redact(&shown.display().to_string())
            ));
        }
        let mut d = backstop_sqlite::connect_empty(url).map_err(EngineError::from)?;
        d.set_application_name(application_name);
        return Ok(Box::new(d));
    }
    connect(url, ctx, application_name)
}

/// Connect to the database named by `url`. `application_name` is how this session shows up
/// to others (PostgreSQL's pg_stat_activity, SQLite's lock file), e.g. in lock messages.
/// SQLite also waits up to `--lock-wait` when another connection keeps the file locked
/// (its locks cover the whole file, so a long migration blocks even reads), and PostgreSQL
/// when another session's lock keeps backstop from reading the schema (printing a view
/// locks its tables), saying why on the progress line.
pub fn connect(
    url: &str,
    ctx: &Ctx,
    application_name: &str,
) -> Result<Box<dyn Driver>, EngineError> {
    let r: Result<Box<dyn Driver>, DbError> = match scheme(url).as_str() {
        "postgres" | "postgresql" => {
            backstop_postgres::connect(url, application_name).map(|mut d| {
                d.set_lock_wait(ctx.lock_wait);
                d.set_notice(ctx.progress.as_ref().map(|p| p.0.clone()));
                Box::new(d) as Box<dyn Driver>
            })
        }
        "sqlite" => backstop_sqlite::connect(url).map(|mut d| {
            d.set_application_name(application_name);
            d.set_lock_wait(ctx.lock_wait);
            d.set_notice(ctx.progress.as_ref().map(|p| p.0.clone()));
            Box::new(d) as Box<dyn Driver>
        }),
        "mysql" | "mariadb" => {
            return Err(EngineError::Usage(format!("{}: MySQL/MariaDB support is not available in this build; use postgres:// or sqlite://", redact(url))));
        }
        _ => {
            return Err(EngineError::Usage(format!("{}: unknown database URL scheme (expected sqlite://PATH or postgres://USER@HOST/DB)", redact(url))));
        }
    };
    r.map_err(|e| {
        // Drivers name the (redacted) database in their connection errors already.
        let msg = redact(&e.message);
        EngineError::Usage(if msg.starts_with("cannot") {
            msg
        } else {
            format!("cannot connect to {}: {msg}", redact(url))
        })
    })
}
