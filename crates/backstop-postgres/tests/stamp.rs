//! The catalog stamp: it must move with every change the schema fingerprint can see (or
//! `status` would miss drift), and should stay put when nothing in the schema changed.

mod common;

use backstop_core::driver::Driver;
use backstop_postgres::testing::{TestDb, TestRoles};

/// Each step changes the canonical schema, so each must change the stamp.
const CHANGES: &[&str] = &[
    "CREATE TABLE a (id int PRIMARY KEY, v text)",
    "ALTER TABLE a ADD COLUMN w int",
    "ALTER TABLE a ALTER COLUMN w SET NOT NULL",
    "ALTER TABLE a ALTER COLUMN w SET DEFAULT 7",
    "ALTER TABLE a RENAME COLUMN v TO value",
    "ALTER TABLE a SET (toast.autovacuum_enabled = false)",
    "CREATE RULE r AS ON DELETE TO a DO INSTEAD NOTHING",
    "ALTER TABLE a DISABLE RULE r",
    "DROP RULE r ON a",
    "CREATE INDEX a_w ON a (w)",
    "ALTER INDEX a_w RENAME TO a_w_idx",
    "DROP INDEX a_w_idx",
    "ALTER TABLE a ADD CONSTRAINT w_pos CHECK (w > 0) NOT VALID",
    "ALTER TABLE a VALIDATE CONSTRAINT w_pos",
    "ALTER TABLE a DROP CONSTRAINT w_pos",
    "CREATE VIEW av AS SELECT id FROM a",
    "CREATE OR REPLACE VIEW av AS SELECT id, w FROM a",
    "CREATE TYPE mood AS ENUM ('sad')",
    "ALTER TYPE mood ADD VALUE 'happy'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$",
    "ALTER FUNCTION f() DEPENDS ON EXTENSION plpgsql",
    "ALTER FUNCTION f() NO DEPENDS ON EXTENSION plpgsql",
    "CREATE SEQUENCE s",
    "ALTER SEQUENCE s INCREMENT BY 5",
    "ALTER TABLE a ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY p ON a USING (w > 0)",
    "DROP POLICY p ON a",
    "CREATE SCHEMA other",
    "ALTER TABLE a SET SCHEMA other",
    "DROP VIEW av",
    "ALTER TABLE other.a DROP COLUMN w",
    "DROP TABLE other.a",
];

/// Each step leaves the canonical schema as it was; the stamp may stay.
const NO_CHANGE: &[&str] = &[
    "CREATE TABLE d (id int PRIMARY KEY, n int)",
    "INSERT INTO d SELECT g, g FROM generate_series(1, 1000) g",
    "UPDATE d SET n = n + 1",
    "ANALYZE d",
    "VACUUM d",
    "SELECT nextval('s')",
];

fn stamp(d: &mut backstop_postgres::PgDriver) -> String {
    d.catalog_stamp()
        .expect("stamp query")
        .expect("PostgreSQL has a stamp")
}

#[test]
fn every_schema_change_moves_the_stamp() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let mut last = stamp(&mut d);
    assert_eq!(stamp(&mut d), last, "stable while nothing happens");
    for step in CHANGES {
        d.execute(step).unwrap();
        let now = stamp(&mut d);
        assert_ne!(now, last, "the stamp missed `{step}`");
        last = now;
    }
}

#[test]
fn data_changes_leave_the_stamp_alone() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.execute("CREATE SEQUENCE s").unwrap();
    d.execute(NO_CHANGE[0]).unwrap();
    let before = stamp(&mut d);
    let schema = d.schema(None).unwrap();
    for step in &NO_CHANGE[1..] {
        d.execute(step).unwrap();
        assert_eq!(stamp(&mut d), before, "`{step}` moved the stamp");
    }
    assert_eq!(d.schema(None).unwrap(), schema);
}

/// Deploy roles are rarely superusers (and never on managed services): the stamp must be
/// readable by any role that can read the catalog.
#[test]
fn a_role_without_superuser_can_read_the_stamp() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let reader = roles.create("reader");
    let mut d = common::connect(&db);
    let as_superuser = stamp(&mut d);
    d.begin(backstop_core::driver::Timeouts::default()).unwrap();
    d.execute(&format!("SET LOCAL ROLE {reader}")).unwrap();
    assert_eq!(
        d.catalog_stamp().unwrap().as_deref(),
        Some(as_superuser.as_str())
    );
    d.rollback().unwrap();
}

/// Roles belong to the whole cluster: the stamp sees a rename of a role a policy names,
/// and nothing of other roles.
#[test]
fn the_stamp_follows_roles_named_by_policies_only() {
    let mut roles = TestRoles::new();
    let db = TestDb::new();
    let (a, b, c, cx) = (
        roles.create("pa"),
        roles.name("pb"),
        roles.create("pc"),
        roles.name("pcx"),
    );
    let mut d = common::connect(&db);
    d.execute("CREATE TABLE p (id int)").unwrap();
    d.execute(&format!("CREATE POLICY own ON p TO {a} USING (true)"))
        .unwrap();
    let before = stamp(&mut d);
    d.execute(&format!("ALTER ROLE {c} RENAME TO {cx}"))
        .unwrap();
    d.execute(&format!("ALTER ROLE {cx} RENAME TO {c}"))
        .unwrap();
    assert_eq!(stamp(&mut d), before, "a role no policy names");
    let text = d.schema(None).unwrap();
    d.execute(&format!("ALTER ROLE {a} RENAME TO {b}")).unwrap();
    assert_ne!(stamp(&mut d), before, "the policy now prints another name");
    assert_ne!(d.schema(None).unwrap(), text);
}
