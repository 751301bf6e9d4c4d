//! Statements, transactions, timeouts and errors.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::{DbErrorKind, Driver, Engine, Timeouts};
use std::time::{Duration, Instant};

#[test]
fn connect_forms_and_basics() {
    let d = common::memory();
    assert_eq!(d.engine(), Engine::Sqlite);
    assert!(d.transactional_ddl());
    assert_eq!(d.display_url(), "sqlite::memory:");
    assert_eq!(d.path(), None);
    assert!(backstop_sqlite::connect("sqlite://:memory:").is_ok());

    let (dir, path, _) = common::temp_db();
    let d = common::open(&format!("sqlite:{}", path.display()));
    assert_eq!(d.path(), Some(path.as_path()));
    assert_eq!(
        d.lock_path().unwrap().to_string_lossy(),
        format!("{}.lock", path.display())
    );
    drop(d);
    // sqlite:///abs/path is absolute.
    let url = format!("sqlite://{}", dir.path().join("abs.db").display());
    assert!(url.starts_with("sqlite:///"));
    assert_eq!(
        common::open(&url).path(),
        Some(dir.path().join("abs.db").as_path())
    );
}

#[test]
fn relative_paths_are_relative_to_the_current_directory() {
    let d = common::open("sqlite://target-relative-test.db");
    let expected = std::env::current_dir()
        .unwrap()
        .join("target-relative-test.db");
    assert_eq!(d.path(), Some(expected.as_path()));
    drop(d);
    std::fs::remove_file(expected).unwrap();
}

#[test]
fn missing_directory_and_non_database_files_are_clear_errors() {
    let (dir, _, _) = common::temp_db();
    let missing = dir.path().join("no/such/dir/app.db");
    let e = backstop_sqlite::connect(&format!("sqlite://{}", missing.display())).unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Connection);
    assert!(
        e.message
            .contains(&dir.path().join("no/such/dir").display().to_string()),
        "{}",
        e.message
    );
    assert!(e.message.contains("does not exist"), "{}", e.message);

    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        "this is not a database, just some text that is long enough to have a header ...........",
    )
    .unwrap();
    let e = backstop_sqlite::connect(&format!("sqlite://{}", junk.display())).unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Connection);
    assert_eq!(e.code.as_deref(), Some("SQLITE_NOTADB"));
    assert!(e.message.contains("junk.db"), "{}", e.message);

    let e = backstop_sqlite::connect("postgres://u:secret@h/db").unwrap_err();
    assert!(!e.message.contains("secret"), "{}", e.message);
}

#[test]
fn execute_returns_first_column_truthiness() {
    let mut d = common::memory();
    assert_eq!(
        d.execute("CREATE TABLE t (a INT)").unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(
        d.execute("INSERT INTO t VALUES (1), (0)").unwrap(),
        Vec::<bool>::new()
    );
    let rows = d
        .execute(
            "SELECT v FROM (SELECT NULL AS v UNION ALL SELECT 0 UNION ALL SELECT 0.0 UNION ALL SELECT '0' UNION ALL SELECT 'false' \
             UNION ALL SELECT 'F' UNION ALL SELECT 1 UNION ALL SELECT -1 UNION ALL SELECT 0.5 UNION ALL SELECT 'true' UNION ALL SELECT 'no' UNION ALL SELECT x'00')",
        )
        .unwrap();
    assert_eq!(
        rows,
        vec![false, false, false, false, false, false, true, true, true, true, true, true]
    );
    assert_eq!(
        d.execute("SELECT count(*) = 2, 'extra' FROM t").unwrap(),
        vec![true]
    );
    assert_eq!(
        d.execute("SELECT a FROM t WHERE a > 5").unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(
        d.execute("INSERT INTO t VALUES (7) RETURNING a").unwrap(),
        vec![true]
    );
    // A trailing semicolon and comments are still one statement.
    assert_eq!(d.execute("SELECT 1; -- done").unwrap(), vec![true]);
    assert_eq!(
        d.execute("-- nothing but a comment").unwrap(),
        Vec::<bool>::new()
    );
    // A trigger body holds semicolons but is one statement.
    d.execute("CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = a WHERE a = 0; DELETE FROM t WHERE a < 0; END").unwrap();
}

#[test]
fn more_than_one_statement_is_rejected() {
    let mut d = common::memory();
    // The second statement uses what the first creates: the message must still say why.
    let e = d
        .execute("CREATE TABLE t (a INT); INSERT INTO t VALUES (1)")
        .unwrap_err();
    assert!(e.message.contains("one SQL statement"), "{}", e.message);
    let e = d.execute("SELECT 1; SELECT 2").unwrap_err();
    assert!(e.message.contains("one SQL statement"), "{}", e.message);
    // Nothing ran.
    assert!(d.execute("SELECT * FROM t").is_err());
}

#[test]
fn errors_carry_codes_positions_and_messages() {
    let mut d = common::memory();
    let e = d.execute("SELEC 1").unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Other);
    assert_eq!(e.message, "near \"SELEC\": syntax error");
    assert_eq!(e.position, Some(1));
    assert_eq!(e.code.as_deref(), Some("SQLITE_ERROR"));

    let e = d.execute("CREATE TABLE t (a INT,, b INT)").unwrap_err();
    assert!(e.message.contains("near \",\""), "{}", e.message);
    assert_eq!(
        e.position,
        Some(23),
        "1-based character position of the bad token"
    );

    let e = d
        .execute("SELECT nosuchcolumn FROM sqlite_schema")
        .unwrap_err();
    assert!(
        e.message.contains("no such column: nosuchcolumn"),
        "{}",
        e.message
    );
    assert_eq!(e.position, Some(8));

    d.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        .unwrap();
    d.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, p INT NOT NULL REFERENCES parent(id), u TEXT UNIQUE CHECK (u <> 'bad'))").unwrap();
    d.execute("INSERT INTO parent VALUES (1)").unwrap();
    d.execute("INSERT INTO child VALUES (1, 1, 'x')").unwrap();
    let code = |d: &mut backstop_sqlite::SqliteDriver, sql: &str| {
        d.execute(sql).unwrap_err().code.unwrap()
    };
    assert_eq!(
        code(&mut d, "INSERT INTO child VALUES (2, 99, 'y')"),
        "SQLITE_CONSTRAINT_FOREIGNKEY",
        "foreign keys are enforced"
    );
    assert_eq!(
        code(&mut d, "INSERT INTO child VALUES (2, 1, 'x')"),
        "SQLITE_CONSTRAINT_UNIQUE"
    );
    assert_eq!(
        code(&mut d, "INSERT INTO child VALUES (1, 1, 'z')"),
        "SQLITE_CONSTRAINT_PRIMARYKEY"
    );
    assert_eq!(
        code(&mut d, "INSERT INTO child VALUES (2, NULL, 'z')"),
        "SQLITE_CONSTRAINT_NOTNULL"
    );
    assert_eq!(
        code(&mut d, "INSERT INTO child VALUES (2, 1, 'bad')"),
        "SQLITE_CONSTRAINT_CHECK"
    );
    let e = d
        .execute("INSERT INTO child VALUES (2, 1, 'x')")
        .unwrap_err();
    assert_eq!(e.message, "UNIQUE constraint failed: child.u");
}

#[test]
fn statement_timeout_interrupts_a_long_statement() {
    let mut d = common::memory();
    let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT max(x) FROM c";
    d.begin(Timeouts {
        lock: None,
        statement: Some(Duration::from_millis(100)),
    })
    .unwrap();
    let started = Instant::now();
    let e = d.execute(count).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind, DbErrorKind::StatementTimeout, "{e:?}");
    assert_eq!(e.code.as_deref(), Some("SQLITE_INTERRUPT"));
    assert!(e.message.contains("100 ms"), "{}", e.message);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    d.rollback().unwrap();

    // The timeout was local to that transaction.
    d.begin(Timeouts::default()).unwrap();
    assert_eq!(d.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT max(x) FROM c").unwrap(), vec![true]);
    d.commit().unwrap();

    // Session timeouts apply outside transactions, until reset.
    d.set_session_timeouts(Timeouts {
        lock: None,
        statement: Some(Duration::from_millis(50)),
    })
    .unwrap();
    assert_eq!(
        d.execute(count).unwrap_err().kind,
        DbErrorKind::StatementTimeout
    );
    d.set_session_timeouts(Timeouts::default()).unwrap();
    assert_eq!(d.execute("SELECT 1").unwrap(), vec![true]);
}

#[test]
fn lock_timeout_bounds_the_wait_for_the_write_lock() {
    let (_dir, _path, url) = common::temp_db();
    let mut a = common::open(&url);
    let mut b = common::open(&url);
    a.begin(Timeouts::default()).unwrap();
    a.execute("CREATE TABLE t (a INT)").unwrap();
    let started = Instant::now();
    let e = b
        .begin(Timeouts {
            lock: Some(Duration::from_millis(200)),
            statement: None,
        })
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::LockTimeout, "{e:?}");
    assert_eq!(e.code.as_deref(), Some("SQLITE_BUSY"));
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "waited {:?}",
        started.elapsed()
    );
    a.commit().unwrap();
    b.begin(Timeouts::default()).unwrap();
    b.execute("INSERT INTO t VALUES (1)").unwrap();
    b.commit().unwrap();
}

#[test]
fn rollback_undoes_ddl_and_data() {
    let mut d = common::memory();
    d.execute("CREATE TABLE keep (a INT)").unwrap();
    let before = d.schema(None).unwrap();
    d.begin(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE gone (a INT)").unwrap();
    d.execute("ALTER TABLE keep ADD COLUMN b TEXT").unwrap();
    d.execute("INSERT INTO keep VALUES (1, 'x')").unwrap();
    d.rollback().unwrap();
    assert_eq!(d.schema(None).unwrap(), before);
    assert_eq!(
        d.execute("SELECT count(*) = 0 FROM keep").unwrap(),
        vec![true]
    );
    // A rollback with nothing open (SQLite may have rolled back by itself) is not an error.
    d.rollback().unwrap();
}

#[test]
fn scripts_cannot_open_or_end_the_transaction_backstop_manages() {
    // Regression: a script's BEGIN outside a transaction (transaction = false) took
    // backstop's progress and failure records into the script's transaction, lost with it.
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    for opener in ["BEGIN", "BEGIN IMMEDIATE", "SAVEPOINT s"] {
        let e = d.execute(opener).unwrap_err();
        assert!(e.message.contains("is refused"), "{opener}: {e:?}");
        assert!(
            e.hint
                .as_deref()
                .unwrap_or("")
                .contains("transaction = true"),
            "{e:?}"
        );
    }
    // Nothing is left open: backstop's own statements still run outside a transaction.
    d.execute("CREATE TABLE a (x)").unwrap();
    d.begin(Timeouts::default()).unwrap();
    d.rollback().unwrap();
    assert!(
        common::open(&url)
            .execute("SELECT count(*) = 1 FROM sqlite_schema WHERE name = 'a'")
            .unwrap()[0]
    );

    // Inside backstop's transaction, ending it early would commit half a migration.
    d.begin(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE b (x)").unwrap();
    for closer in ["COMMIT", "END", "ROLLBACK", "BEGIN"] {
        let e = d.execute(closer).unwrap_err();
        assert!(e.message.contains("is refused"), "{closer}: {e:?}");
    }
    // Savepoints nest inside it harmlessly.
    d.execute("SAVEPOINT s").unwrap();
    d.execute("CREATE TABLE c (x)").unwrap();
    d.execute("ROLLBACK TO s").unwrap();
    d.execute("RELEASE s").unwrap();
    d.rollback().unwrap();
    let check = common::open(&url)
        .execute("SELECT count(*) = 0 FROM sqlite_schema WHERE name IN ('b', 'c')")
        .unwrap();
    assert_eq!(
        check,
        vec![true],
        "the transaction stayed whole and was rolled back"
    );
}

#[test]
fn vacuum_runs_outside_a_transaction_and_a_scripts_begin_is_still_refused() {
    // Regression: VACUUM's own internal BEGIN reached the guard, so VACUUM (and VACUUM INTO)
    // in a `transaction = false` migration failed with "BEGIN is refused".
    let (dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.execute("CREATE TABLE a (x)").unwrap();
    d.execute("INSERT INTO a VALUES (1)").unwrap();
    d.execute("VACUUM").unwrap();
    d.execute("VACUUM main").unwrap();
    let copy = dir.path().join("copy.db");
    d.execute(&format!("VACUUM INTO '{}'", copy.display()))
        .unwrap();
    assert!(
        common::open(&format!("sqlite://{}", copy.display()))
            .execute("SELECT count(*) = 1 FROM a")
            .unwrap()[0]
    );
    // The guard still refuses the script's own transaction control, then and after.
    for opener in ["BEGIN", "SAVEPOINT s"] {
        let e = d.execute(opener).unwrap_err();
        assert!(e.message.contains("is refused"), "{opener}: {e:?}");
    }
    // Inside backstop's transaction VACUUM is SQLite's error, not a refusal of a BEGIN.
    d.begin(Timeouts::default()).unwrap();
    let e = d.execute("VACUUM").unwrap_err();
    assert!(!e.message.contains("is refused"), "{e:?}");
    assert!(e.message.contains("within a transaction"), "{e:?}");
    d.rollback().unwrap();
}

#[test]
fn reset_session_undoes_what_a_script_changed_with_pragma() {
    // Regression: `PRAGMA foreign_keys = OFF` in a `transaction = false` migration stayed in
    // force for the next migration of the run.
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    for set in [
        "PRAGMA foreign_keys = OFF",
        "PRAGMA recursive_triggers = ON",
        "PRAGMA ignore_check_constraints = ON",
        "PRAGMA query_only = ON",
        "PRAGMA busy_timeout = 0",
        "PRAGMA journal_mode = OFF",
        "PRAGMA synchronous = OFF",
        "PRAGMA locking_mode = EXCLUSIVE",
    ] {
        d.execute(set).unwrap();
    }
    d.reset_session().unwrap();
    // What a connection of its own would start with: a rollback journal, synced, locked
    // only while in use.
    let setting = |d: &mut backstop_sqlite::SqliteDriver, sql: &str| d.execute(sql).unwrap();
    assert_eq!(
        setting(
            &mut d,
            "SELECT journal_mode = 'delete' FROM pragma_journal_mode"
        ),
        vec![true]
    );
    let fresh = setting(
        &mut common::open(&url),
        "SELECT synchronous FROM pragma_synchronous",
    );
    assert_eq!(
        setting(&mut d, "SELECT synchronous FROM pragma_synchronous"),
        fresh
    );
    assert_ne!(
        setting(&mut d, "SELECT synchronous = 0 FROM pragma_synchronous"),
        vec![true]
    );
    assert_eq!(
        setting(
            &mut d,
            "SELECT locking_mode = 'normal' FROM pragma_locking_mode"
        ),
        vec![true]
    );
    let flag = |d: &mut backstop_sqlite::SqliteDriver, name: &str| {
        d.execute(&format!("PRAGMA {name}")).unwrap()
    };
    assert_eq!(flag(&mut d, "foreign_keys"), vec![true]);
    assert_eq!(flag(&mut d, "recursive_triggers"), vec![false]);
    assert_eq!(flag(&mut d, "ignore_check_constraints"), vec![false]);
    assert_eq!(flag(&mut d, "query_only"), vec![false]);

    // backstop's busy handler is back: the next migration waits for another connection's
    // lock instead of failing at once.
    let mut other = common::open(&url);
    other.begin(Timeouts::default()).unwrap();
    other.execute("CREATE TABLE t (a INT)").unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        other.commit().unwrap();
    });
    d.begin(Timeouts {
        lock: Some(Duration::from_secs(5)),
        statement: None,
    })
    .unwrap();
    d.execute("INSERT INTO t VALUES (1)").unwrap();
    d.commit().unwrap();
    holder.join().unwrap();

    // Inside a transaction `PRAGMA foreign_keys` does nothing, so a reset there can't work.
    d.begin(Timeouts::default()).unwrap();
    assert!(d.reset_session().is_err());
    d.rollback().unwrap();
}
