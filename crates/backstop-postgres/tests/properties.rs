//! Properties the canonical text shows only when they differ from the default: each one
//! changes the fingerprint, the incremental read after a migration that sets or undoes it
//! agrees with a full read, and undoing it restores the fingerprint from before. Schemas
//! without them print as they always did.

mod common;

use backstop_core::driver::Driver;
use backstop_core::schema::SchemaState;
use backstop_postgres::testing::TestDb;
use backstop_postgres::PgDriver;
use common::{assert_same, begin, exec, fresh_full_read};

/// A schema with none of the properties: its text must stay byte for byte what it was
/// before they were printed, so that fingerprints recorded earlier stay valid.
const PLAIN: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text);
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now(), m mood DEFAULT 'ok');
CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint REFERENCES users(id), total numeric(10,2) CHECK (total >= 0), note varchar(20), doc jsonb);
CREATE INDEX orders_user_idx ON orders (user_id);
CREATE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 100;
CREATE MATERIALIZED VIEW totals AS SELECT user_id, sum(total) AS s FROM orders GROUP BY user_id;
CREATE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql SET work_mem = '8MB' AS $$ SELECT i + 1 $$;
CREATE SEQUENCE invoice_seq INCREMENT BY 10;
CREATE TABLE uses_seq (n bigint DEFAULT nextval('invoice_seq'));
CREATE TABLE parent (a int, b text);
CREATE TABLE child (c int) INHERITS (parent);
CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 (id int, at date NOT NULL);
ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE SCHEMA app;
CREATE TABLE app.x (p pair, d posint)
"#;

fn build(sql: &str) -> (TestDb, SchemaState) {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, sql);
    let s = d.schema(None).expect("full read");
    (db, s)
}

#[test]
fn plain_schema_prints_as_before() {
    let (_db, s) = build(PLAIN);
    let text = s.text();
    if let Ok(path) = std::env::var("BACKSTOP_DUMP_PLAIN") {
        std::fs::write(path, &text).unwrap();
    }
    assert_eq!(text, include_str!("plain_schema.txt"), "{text}");
}
