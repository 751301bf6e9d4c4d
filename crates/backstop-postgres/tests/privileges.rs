//! Setting up history as a least-privilege deploy role: only what is missing is created,
//! and a privilege the role lacks is said with what to grant, changing nothing.

mod common;

use backstop_core::driver::{DbError, DbErrorKind, Driver};
use backstop_postgres::testing::{url_with_user, TestDb, TestRoles};
use backstop_postgres::PgDriver;

/// A login role on `db` with nothing granted but what PUBLIC has (CONNECT, TEMP; no
/// CREATE on the database, none on schema public since PostgreSQL 15): its name, password
/// and URL.
fn deploy_role(roles: &mut TestRoles, db: &TestDb) -> (String, String, String) {
    let (role, password) = roles.create_login("deploy");
    let url = url_with_user(&db.url, &role, &password);
    (role, password, url)
}

fn connect(url: &str) -> PgDriver {
    backstop_postgres::connect(url, "backstop-test").unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Run statements as the test database's admin.
fn admin(db: &TestDb, sql: &str) {
    db.client()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn admin_check(db: &TestDb, sql: &str) -> bool {
    db.client()
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// How many tables schema `backstop` holds.
fn backstop_tables(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'backstop' AND c.relkind = 'r'",
            &[],
        )
        .expect("count")
        .get(0)
}

/// The error is a privilege error naming the URL as shown (never the password), what
/// backstop was doing, and the statement to grant.
fn assert_explained(e: &DbError, password: &str, what: &str, grant: &str) {
    assert_eq!(e.kind, DbErrorKind::Privilege, "{e:?}");
    assert_eq!(e.code.as_deref(), Some("42501"), "{e:?}");
    let next = e.hint.as_deref().unwrap_or_default();
    assert!(e.message.contains(what), "{e:?}");
    assert!(e.message.contains(":***@"), "the URL as shown: {e:?}");
    assert!(next.contains(grant), "{e:?}");
    assert!(
        !format!("{e:?}").contains(password),
        "the password leaked: {e:?}"
    );
}

/// Regression: `CREATE SCHEMA IF NOT EXISTS backstop` was sent even when the schema existed,
/// and PostgreSQL checks CREATE on the database first ("permission denied for database").
#[test]
fn a_role_that_owns_the_backstop_schema_needs_no_create_on_the_database() {
    // Before the database, so dropped after it: its objects and grants go with the database.
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, _, url) = deploy_role(&mut roles, &db);
    admin(
        &db,
        &format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\""),
    );
    assert!(!admin_check(
        &db,
        &format!("SELECT has_database_privilege('{role}', current_database(), 'CREATE')")
    ));
    let mut d = connect(&url);
    d.ensure_history()
        .expect("ensure_history as the schema's owner");
    d.ensure_history().expect("idempotent");
    assert!(d.history_exists().unwrap());
    assert!(admin_check(
        &db,
        &format!("SELECT count(*) = 3 FROM pg_tables WHERE schemaname = 'backstop' AND tableowner = '{role}'")
    ));
}

/// Ten first runs at once as the role: the advisory lock still makes the others wait and
/// then find the tables, with no CREATE SCHEMA from any of them.
#[test]
fn racing_first_runs_as_the_schema_owner_all_succeed() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, _, url) = deploy_role(&mut roles, &db);
    admin(
        &db,
        &format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\""),
    );
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut d = connect(&url);
                barrier.wait();
                d.ensure_history()
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("ensure_history");
    }
    assert_eq!(backstop_tables(&db), 3);
    assert!(connect(&url).history_exists().unwrap());
}

/// A role that may read and write backstop's tables but create nothing anywhere: every
/// table and column being there, setting up history issues no DDL at all.
#[test]
fn a_role_that_finds_everything_in_place_needs_no_create_privilege() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, _, url) = deploy_role(&mut roles, &db);
    common::connect(&db).ensure_history().expect("as the admin");
    admin(
        &db,
        &format!(
            "GRANT USAGE ON SCHEMA backstop TO \"{role}\"; \
             GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA backstop TO \"{role}\""
        ),
    );
    let mut d = connect(&url);
    d.ensure_history()
        .expect("ensure_history with nothing to create");
    d.load_history().expect("history readable");
}

#[test]
fn a_role_that_may_not_create_the_schema_is_told_what_to_grant() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, password, url) = deploy_role(&mut roles, &db);
    let mut d = connect(&url);
    let e = d.ensure_history().expect_err("no CREATE on the database");
    assert_explained(
        &e,
        &password,
        "cannot create schema backstop",
        &format!("GRANT CREATE ON DATABASE \"{}\" TO \"{role}\"", db.name),
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\"")),
        "{e:?}"
    );
    // Nothing was changed, and the session is usable.
    assert!(!admin_check(
        &db,
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'backstop')"
    ));
    assert!(!d.history_exists().unwrap());
    // Doing what it says is enough.
    admin(
        &db,
        &format!("GRANT CREATE ON DATABASE \"{}\" TO \"{role}\"", db.name),
    );
    d.ensure_history().expect("after the grant");
    assert_eq!(backstop_tables(&db), 3);
}

/// Inside the caller's transaction the DDL joins it; a refusal is said the same way.
#[test]
fn a_refusal_inside_a_transaction_is_explained_too() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, password, url) = deploy_role(&mut roles, &db);
    let mut d = connect(&url);
    common::begin(&mut d);
    let e = d.ensure_history().expect_err("no CREATE on the database");
    assert_explained(
        &e,
        &password,
        "cannot create schema backstop",
        &format!("TO \"{role}\""),
    );
    d.rollback().expect("rollback");
    assert_eq!(backstop_tables(&db), 0);
    admin(
        &db,
        &format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\""),
    );
    common::begin(&mut d);
    d.ensure_history().expect("in the transaction");
    d.commit().expect("commit");
    assert!(connect(&url).history_exists().unwrap());
}

#[test]
fn a_role_that_may_not_create_in_the_schema_is_told_what_to_grant() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, password, url) = deploy_role(&mut roles, &db);
    admin(
        &db,
        &format!("CREATE SCHEMA backstop; GRANT USAGE ON SCHEMA backstop TO \"{role}\""),
    );
    let mut d = connect(&url);
    let e = d.ensure_history().expect_err("no CREATE on the schema");
    assert_explained(
        &e,
        &password,
        "cannot create backstop's history tables",
        &format!("GRANT CREATE ON SCHEMA backstop TO \"{role}\""),
    );
    assert_eq!(backstop_tables(&db), 0, "nothing was changed");
    admin(
        &db,
        &format!("GRANT CREATE ON SCHEMA backstop TO \"{role}\""),
    );
    d.ensure_history().expect("after the grant");
}

#[test]
fn a_role_that_may_not_use_the_schema_is_told_what_to_grant() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (role, password, url) = deploy_role(&mut roles, &db);
    admin(&db, "CREATE SCHEMA backstop");
    let mut d = connect(&url);
    let e = d.ensure_history().expect_err("no USAGE on the schema");
    assert_explained(
        &e,
        &password,
        "cannot look for backstop's history",
        &format!("GRANT USAGE ON SCHEMA backstop TO \"{role}\""),
    );
    assert_eq!(backstop_tables(&db), 0, "nothing was changed");
}
