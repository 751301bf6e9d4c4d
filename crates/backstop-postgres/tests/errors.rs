//! execute(): truthiness of first columns, and database errors mapped with SQLSTATE,
//! position and kind; connection errors that never show the password.

mod common;

use backstop_core::driver::{DbErrorKind, Driver, Timeouts};
use backstop_postgres::testing::TestDb;
use std::time::Duration;

#[test]
fn execute_reports_first_column_truthiness() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    assert_eq!(d.execute("SELECT true").unwrap(), vec![true]);
    assert_eq!(d.execute("SELECT false").unwrap(), vec![false]);
    assert_eq!(d.execute("SELECT NULL::int").unwrap(), vec![false]);
    assert_eq!(d.execute("SELECT 0").unwrap(), vec![false]);
    assert_eq!(d.execute("SELECT 0.000::numeric").unwrap(), vec![false]);
    assert_eq!(d.execute("SELECT 'false'::text").unwrap(), vec![false]);
    assert_eq!(d.execute("SELECT 2, false").unwrap(), vec![true]);
    assert_eq!(d.execute("SELECT 'yes'").unwrap(), vec![true]);
    assert_eq!(
        d.execute("SELECT x > 1 FROM generate_series(1, 3) x")
            .unwrap(),
        vec![false, true, true]
    );
    assert_eq!(
        d.execute("SELECT 1 WHERE false").unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(
        d.execute("CREATE TABLE t (a int)").unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(
        d.execute("INSERT INTO t VALUES (1), (0)").unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(
        d.execute("SELECT a FROM t ORDER BY a").unwrap(),
        vec![false, true]
    );
}

#[test]
fn syntax_error_has_position_and_sqlstate() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let e = d.execute("SELECT 1 FROM WHERE").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42601"), "{e:?}");
    assert_eq!(e.position, Some(15), "{e:?}");
    assert_eq!(e.kind, DbErrorKind::Other);
    assert!(e.message.contains("syntax error"), "{e:?}");
    let e = d.execute("SELECT * FROM missing_table").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42P01"));
    assert_eq!(e.position, Some(15));
}

#[test]
fn lock_timeout_is_its_own_kind() {
    let db = TestDb::new();
    let mut holder = common::connect(&db);
    common::exec(&mut holder, "CREATE TABLE t (a int)");
    holder.begin(Timeouts::default()).unwrap();
    holder.execute("LOCK TABLE t").unwrap();

    let mut d = common::connect(&db);
    d.begin(Timeouts {
        lock: Some(Duration::from_millis(100)),
        statement: None,
    })
    .unwrap();
    let started = std::time::Instant::now();
    let e = d.execute("ALTER TABLE t ADD c int").unwrap_err();
    assert_eq!(e.kind, DbErrorKind::LockTimeout, "{e:?}");
    assert_eq!(e.code.as_deref(), Some("55P03"));
    assert!(started.elapsed() < Duration::from_secs(5));
    d.rollback().unwrap();
    holder.rollback().unwrap();

    // The timeout was local to the transaction.
    d.execute("ALTER TABLE t ADD c int").unwrap();
}

#[test]
fn statement_timeout_is_its_own_kind_and_session_timeouts_reset() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.set_session_timeouts(Timeouts {
        lock: None,
        statement: Some(Duration::from_millis(50)),
    })
    .unwrap();
    let e = d.execute("SELECT pg_sleep(2)").unwrap_err();
    assert_eq!(e.kind, DbErrorKind::StatementTimeout, "{e:?}");
    d.set_session_timeouts(Timeouts::default()).unwrap();
    assert_eq!(
        d.execute("SELECT 1 FROM pg_sleep(0.1)").unwrap(),
        vec![true]
    );
}

#[test]
fn connection_error_names_url_but_never_the_password() {
    let secret = "Sup3r-S3cret%2Fpw";
    let url = format!("postgres://app:{secret}@127.0.0.1:1/prod");
    let e = match backstop_postgres::connect(&url, "t") {
        Ok(_) => panic!("port 1 must refuse"),
        Err(e) => e,
    };
    assert_eq!(e.kind, DbErrorKind::Connection);
    let all = format!("{e} {e:?}");
    assert!(!all.contains("Sup3r"), "{all}");
    assert!(!all.contains("S3cret/pw"), "{all}");
    assert!(all.contains("postgres://app:***@127.0.0.1:1/prod"), "{all}");
    assert!(all.contains("is the server running"), "{all}");

    // A malformed URL doesn't echo the password either.
    let e = match backstop_postgres::connect(
        "postgres://app:Other-S3cret@127.0.0.1:notaport/db",
        "t",
    ) {
        Ok(_) => panic!("bad port must fail"),
        Err(e) => e,
    };
    let all = format!("{e} {e:?}");
    assert!(!all.contains("Other-S3cret"), "{all}");
    assert_eq!(
        backstop_postgres::display_url(&url),
        "postgres://app:***@127.0.0.1:1/prod"
    );
}

#[test]
fn wrong_password_or_database_is_a_connection_error_with_advice() {
    let db = TestDb::new();
    let missing = backstop_postgres::testing::url_with_database(&db.url, "bs_no_such_database");
    let e = match backstop_postgres::connect(&missing, "t") {
        Ok(_) => panic!("database does not exist"),
        Err(e) => e,
    };
    assert_eq!(e.kind, DbErrorKind::Connection);
    assert_eq!(e.code.as_deref(), Some("3D000"), "{e:?}");
    assert!(e.message.contains("create the database"), "{e:?}");
}

#[test]
fn tls_required_is_refused_plainly_without_the_password() {
    let url = format!(
        "{}?sslmode=require",
        backstop_postgres::testing::base_url()
            .replace("postgres://postgres@", "postgres://postgres:Tls-S3cret@")
    );
    let e = match backstop_postgres::connect(&url, "t") {
        Ok(_) => panic!("sslmode=require must be refused"),
        Err(e) => e,
    };
    assert_eq!(e.kind, DbErrorKind::Connection);
    let all = format!("{e} {e:?}");
    assert!(all.contains("sslmode=require"), "{all}");
    assert!(all.contains("not support"), "{all}");
    assert!(!all.contains("Tls-S3cret"), "{all}");
}

/// URL schemes are case-insensitive.
#[test]
fn an_upper_case_scheme_connects() {
    let db = TestDb::new();
    let url = db.url.replacen("postgres://", "POSTGRES://", 1);
    assert!(url.starts_with("POSTGRES://"), "{url}");
    let mut d = backstop_postgres::connect(&url, "backstop-test").expect("connect");
    assert_eq!(d.execute("SELECT 1").expect("query"), vec![true]);
}
