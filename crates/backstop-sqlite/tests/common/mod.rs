//! Shared helpers: every test gets its own database file in its own temp directory.
#![allow(dead_code, clippy::unwrap_used)]

use backstop_sqlite::SqliteDriver;
use std::path::PathBuf;
use tempfile::TempDir;

/// A fresh database file; keep the TempDir alive as long as the database is used.
pub fn temp_db() -> (TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let url = format!("sqlite://{}", path.display());
    (dir, path, url)
}

pub fn open(url: &str) -> SqliteDriver {
    backstop_sqlite::connect(url).unwrap()
}

/// A driver on a fresh in-memory database.
pub fn memory() -> SqliteDriver {
    backstop_sqlite::connect("sqlite::memory:").unwrap()
}

/// Run a script through the driver one statement at a time, as the engine does.
pub fn run(d: &mut SqliteDriver, script: &str) {
    use backstop_core::driver::Driver;
    for s in backstop_core::sql::split_for(backstop_core::driver::Engine::Sqlite, script) {
        if let Err(e) = d.execute(&s.sql) {
            panic!("{}: {e:?}", s.sql);
        }
    }
}
