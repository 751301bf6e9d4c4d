//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

use backstop_core::driver::{Driver, Timeouts};
use backstop_core::schema::SchemaState;
use backstop_postgres::testing::TestDb;
use backstop_postgres::PgDriver;

pub fn connect(db: &TestDb) -> PgDriver {
    connect_as(db, "backstop-test")
}

pub fn connect_as(db: &TestDb, app: &str) -> PgDriver {
    match backstop_postgres::connect(&db.url, app) {
        Ok(d) => d,
        Err(e) => panic!("connect to {}: {e}", db.name),
    }
}

/// Run statements (split on `;\n`), panicking with the failing statement.
pub fn exec(d: &mut PgDriver, sql: &str) {
    for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        if let Err(e) = d.execute(stmt) {
            panic!("{stmt}: {e:?}");
        }
    }
}

pub fn begin(d: &mut PgDriver) {
    d.begin(Timeouts::default()).expect("begin");
}

/// A full read on a brand-new connection: the reference every other read must equal.
pub fn fresh_full_read(db: &TestDb) -> SchemaState {
    let mut d = connect(db);
    d.schema(None).expect("full read")
}

/// Assert equal states with a readable diff.
pub fn assert_same(expected: &SchemaState, actual: &SchemaState, context: &str) {
    if expected != actual {
        panic!(
            "{context}: states differ\n{}\n--- expected ---\n{}\n--- actual ---\n{}",
            backstop_core::schema::diff(expected, actual),
            expected.text(),
            actual.text()
        );
    }
}
