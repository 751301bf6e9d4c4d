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

/// Wait until no transaction on the server is older than this moment, so that the next
/// read's snapshot lets every row written so far count as old (other tests run in
/// parallel on the same server). Gives up after a few seconds: the reads must be right
/// either way, only less is reused.
pub fn settle(db: &TestDb) {
    let mut c = db.client();
    let now: i64 = c
        .query_one("SELECT txid_current()", &[])
        .expect("txid_current")
        .get(0);
    for _ in 0..200 {
        let xmin: i64 = c
            .query_one("SELECT txid_snapshot_xmin(txid_current_snapshot())", &[])
            .expect("snapshot xmin")
            .get(0);
        if xmin > now {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
