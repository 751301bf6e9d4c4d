//! The canonical schema: independent of creation and column order, sensitive to every
//! logical difference, and identical whether read in full or incrementally.

mod common;

use backstop_core::driver::Driver;
use backstop_postgres::testing::TestDb;
use common::{assert_same, begin, exec, fresh_full_read, settle};

const ORDER_A: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now(), m mood DEFAULT 'ok');
CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint REFERENCES users(id), total numeric(10,2) CHECK (total >= 0));
CREATE INDEX orders_user_idx ON orders (user_id);
CREATE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 100;
CREATE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 1 $$;
CREATE SEQUENCE invoice_seq INCREMENT BY 10
"#;

/// The same schema, objects and columns created in another order, the index added later.
const ORDER_B: &str = r#"
CREATE SEQUENCE invoice_seq INCREMENT BY 10;
CREATE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 1 $$;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE users (m mood DEFAULT 'ok', created_at timestamptz DEFAULT now(), email text NOT NULL);
ALTER TABLE users ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE TABLE orders (total numeric(10,2), user_id bigint, id serial);
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);
ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
CREATE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 100;
CREATE INDEX orders_user_idx ON orders (user_id)
"#;

fn build(sql: &str) -> (TestDb, backstop_core::schema::SchemaState) {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, sql);
    let s = d.schema(None).expect("full read");
    (db, s)
}

#[test]
fn same_schema_in_another_order_has_the_same_fingerprint() {
    let (_a, sa) = build(ORDER_A);
    let (_b, sb) = build(ORDER_B);
    assert_same(&sa, &sb, "order A vs order B");
    assert_eq!(sa.fingerprint(), sb.fingerprint());
    let text = sa.text();
    for key in [
        "table public.users",
        "table public.orders",
        "view public.big_orders",
        "sequence public.invoice_seq",
        "sequence public.orders_id_seq",
        "sequence public.users_id_seq",
        "function public.add1(integer)",
        "type public.mood",
        "extension plpgsql",
        "schema public",
    ] {
        assert!(sa.objects.contains_key(key), "{key} missing in\n{text}");
    }
    assert!(
        !text.contains("16384") && !text.contains("oid"),
        "no OIDs in the text:\n{text}"
    );
    assert!(text.contains("enum ('sad', 'ok', 'happy')"), "{text}");
    println!("{}", sa.text());
}

#[test]
fn logical_differences_change_the_fingerprint() {
    let (_base_db, base) = build(ORDER_A);
    let variants = [
        ("default", "ALTER TABLE orders ALTER total SET DEFAULT 0"),
        ("not null", "ALTER TABLE orders ALTER total SET NOT NULL"),
        ("index", "CREATE INDEX orders_total_idx ON orders (total)"),
        ("index name", "ALTER INDEX orders_user_idx RENAME TO orders_user_id_idx"),
        ("not valid", "ALTER TABLE orders ADD CONSTRAINT orders_total_max CHECK (total < 1000) NOT VALID"),
        ("type", "ALTER TABLE users ALTER created_at TYPE timestamp"),
        ("enum order", "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'"),
        ("sequence", "ALTER SEQUENCE invoice_seq INCREMENT BY 5"),
        ("function", "CREATE OR REPLACE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 2 $$"),
        ("view", "CREATE OR REPLACE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 200"),
        ("schema", "CREATE SCHEMA app"),
        ("comment", "COMMENT ON TABLE users IS 'people'"),
    ];
    for (what, change) in variants {
        let (_db, changed) = build(&format!("{ORDER_A};\n{change}"));
        assert_ne!(
            base.fingerprint(),
            changed.fingerprint(),
            "{what}: `{change}` must change the fingerprint"
        );
    }
    // ...while the sequence's current value and data don't.
    let (_db, same) = build(&format!(
        "{ORDER_A};\nSELECT nextval('invoice_seq');\nINSERT INTO users (email) VALUES ('a@b')"
    ));
    assert_same(&base, &same, "values are not schema");
}

#[test]
fn backstop_objects_and_extension_members_are_excluded() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let before = d.schema(None).unwrap();
    d.ensure_history().unwrap();
    assert_same(
        &before,
        &d.schema(None).unwrap(),
        "backstop's own schema is not user schema",
    );
    let available = d
        .execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'citext'")
        .unwrap();
    if available == vec![true] {
        exec(&mut d, "CREATE EXTENSION citext");
        let after = d.schema(None).unwrap();
        assert_eq!(
            after.objects.len(),
            before.objects.len() + 1,
            "only the extension itself:\n{}",
            after.text()
        );
        assert!(after.objects.contains_key("extension citext"));
    }
}

/// Migrations applied one transaction each, the schema read incrementally after each;
/// every result must equal a fresh full read on a new connection.
const STEPS: &[&str] = &[
    "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now())",
    "CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint REFERENCES users(id), total numeric(10,2) CHECK (total >= 0))",
    "INSERT INTO users (email) VALUES ('a@example.com')",
    "ALTER TABLE users ADD COLUMN name text",
    "CREATE INDEX orders_user_idx ON orders (user_id)",
    "ALTER TABLE orders ADD CONSTRAINT orders_total_max CHECK (total < 1000000) NOT VALID",
    "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_max",
    "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2)",
    "CREATE VIEW big_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 100",
    "CREATE OR REPLACE VIEW big_orders AS SELECT o.id, u.email, o.total FROM orders o JOIN users u ON u.id = o.user_id WHERE o.total > 100",
    "CREATE SEQUENCE invoice_seq",
    "ALTER SEQUENCE invoice_seq INCREMENT BY 10 MAXVALUE 1000000",
    "CREATE TYPE mood AS ENUM ('sad', 'happy')",
    "ALTER TYPE mood ADD VALUE 'ok' BEFORE 'happy'",
    "CREATE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 1 $$",
    "CREATE OR REPLACE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 2 $$",
    "ALTER TABLE users RENAME TO customers",
    "ALTER TABLE customers RENAME COLUMN email TO mail",
    "DROP INDEX orders_user_idx",
    "ALTER TABLE orders DROP CONSTRAINT orders_total_max",
    "ALTER TABLE customers DROP COLUMN name",
    "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0",
    "ALTER TABLE orders ALTER COLUMN total DROP DEFAULT",
    "ALTER TABLE orders ALTER COLUMN total SET NOT NULL",
    "CREATE TABLE t_tmp (a int)",
    "DROP TABLE t_tmp",
    "CREATE SCHEMA app",
    "CREATE TABLE app.x (a mood, b mood[])",
    "CREATE FUNCTION app.f(m mood) RETURNS mood LANGUAGE sql AS $$ SELECT m $$",
    "ALTER TYPE mood RENAME TO feeling",
    "ALTER TYPE feeling RENAME VALUE 'ok' TO 'fine'",
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch()",
    "ALTER FUNCTION touch() RENAME TO touch_row",
    "DROP TRIGGER orders_touch ON orders",
    "DROP FUNCTION add1(integer)",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    "ALTER DOMAIN posint ADD CONSTRAINT posint_small CHECK (VALUE < 100)",
    "ALTER DOMAIN posint DROP CONSTRAINT posint_small",
    "ALTER TABLE app.x SET SCHEMA public",
    "ALTER SEQUENCE orders_id_seq RENAME TO orders_seq",
    "CREATE MATERIALIZED VIEW order_totals AS SELECT user_id, sum(total) AS s FROM orders GROUP BY user_id",
    "CREATE UNIQUE INDEX order_totals_user ON order_totals (user_id)",
    "CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at)",
    "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
    "CREATE INDEX events_at ON events (at)",
    "CREATE TABLE events_2027 (id int, at date NOT NULL)",
    "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
    "ALTER TABLE events DETACH PARTITION events_2026",
    "ALTER TABLE customers ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY own_rows ON customers USING (mail = current_user)",
    "DROP POLICY own_rows ON customers",
    "CREATE RULE no_delete AS ON DELETE TO events_2026 DO INSTEAD NOTHING",
    "DROP RULE no_delete ON events_2026",
    "ALTER INDEX order_totals_user RENAME TO order_totals_by_user",
    "ALTER TABLE orders RENAME CONSTRAINT orders_total_check TO orders_total_positive",
    "CREATE TYPE pair AS (a integer, b text)",
    "ALTER TYPE pair ADD ATTRIBUTE c boolean",
    "ALTER TYPE pair RENAME ATTRIBUTE a TO first",
    "CREATE TABLE uses_pair (p pair)",
    "ALTER TABLE customers ADD CONSTRAINT mail_lower CHECK (mail = lower(mail))",
    "ALTER TABLE orders ADD COLUMN f feeling DEFAULT 'fine'",
    "ALTER TYPE feeling RENAME VALUE 'fine' TO 'good'",
    "COMMENT ON TABLE orders IS 'orders'",
    "ALTER TABLE orders ALTER COLUMN total SET STATISTICS 500",
    "CREATE TABLE parent (id int PRIMARY KEY, a int, b int);\nCREATE VIEW parent_a AS SELECT a FROM parent;\nCREATE TABLE child (pid int REFERENCES parent(id))",
    // b's name goes and comes back on another column: a rename the view must show
    "ALTER TABLE parent DROP COLUMN b;\nALTER TABLE parent RENAME COLUMN a TO b",
    "ALTER TABLE parent ADD COLUMN c int",
    "ALTER TABLE parent DROP COLUMN c",
    "ALTER TABLE parent DROP COLUMN b CASCADE",
    "DROP VIEW big_orders",
    "DROP TABLE customers CASCADE",
    "DROP SCHEMA app CASCADE",
    "CREATE SCHEMA app2",
    "CREATE TABLE app2.y (a int)",
    "ALTER SCHEMA app2 RENAME TO app3",
    "DROP TYPE pair CASCADE",
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE TABLE emails (e citext)",
];

#[test]
fn incremental_reads_equal_full_reads_after_every_kind_of_ddl() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let citext = d
        .execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'citext'")
        .unwrap()
        == vec![true];
    let mut prev = d.schema(None).unwrap();
    let mut incremental = 0;
    let mut full = Vec::new();
    for step in STEPS {
        if step.contains("citext") && !citext {
            continue;
        }
        begin(&mut d);
        exec(&mut d, step);
        let state = d.schema(Some(&prev)).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        incremental += usize::from(stats.incremental);
        if !stats.incremental {
            full.push(*step);
        }
        assert_same(
            &fresh_full_read(&db),
            &state,
            &format!("after `{step}` ({stats:?})"),
        );
        prev = state;
    }
    // Full reads: where a name changed that the catalog can't trace to what prints it
    // (schemas, types, routines, enum labels, composite types' attributes, extensions).
    let expected: Vec<&str> = FULL_READ_STEPS
        .iter()
        .copied()
        .filter(|s| citext || !s.contains("citext"))
        .collect();
    assert_eq!(
        full,
        expected,
        "{incremental} of {} reads were incremental",
        STEPS.len()
    );
}

/// The steps of [`STEPS`] after which the read is a full one.
const FULL_READ_STEPS: &[&str] = &[
    "CREATE OR REPLACE FUNCTION add1(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 2 $$",
    "ALTER TABLE users RENAME TO customers",
    "ALTER TYPE mood RENAME TO feeling",
    "ALTER TYPE feeling RENAME VALUE 'ok' TO 'fine'",
    "ALTER FUNCTION touch() RENAME TO touch_row",
    "ALTER TABLE app.x SET SCHEMA public",
    "CREATE TYPE pair AS (a integer, b text)",
    "ALTER TYPE pair ADD ATTRIBUTE c boolean",
    "ALTER TYPE pair RENAME ATTRIBUTE a TO first",
    "ALTER TYPE feeling RENAME VALUE 'fine' TO 'good'",
    "ALTER SCHEMA app2 RENAME TO app3",
    "CREATE EXTENSION IF NOT EXISTS citext",
];

#[test]
fn incremental_reads_within_one_transaction() {
    // Regression guard: rows written earlier in the same transaction (already seen) must
    // not hide later changes, and the cmin bookkeeping must catch changes to them.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    begin(&mut d);
    let mut prev = d.schema(None).unwrap();
    let steps = [
        "CREATE TABLE a (id int PRIMARY KEY, v text)",
        "ALTER TABLE a ADD COLUMN w int",
        "ALTER TABLE a ALTER COLUMN w SET NOT NULL",
        "CREATE TABLE b (id int REFERENCES a(id))",
        "ALTER TABLE a RENAME COLUMN v TO value",
        "CREATE TYPE e AS ENUM ('x')",
        "ALTER TYPE e RENAME VALUE 'x' TO 'y'",
        "SAVEPOINT s1",
        "ALTER TABLE a ADD COLUMN z e",
        "RELEASE SAVEPOINT s1",
        "ALTER TABLE a ALTER COLUMN z SET DEFAULT 'y'",
        "ALTER TABLE a RENAME TO a2",
        "DROP TABLE b",
        "CREATE INDEX a2_w ON a2 (w)",
        "DROP INDEX a2_w",
    ];
    // Renames the catalog can't trace to their users (an enum label, a table's row type)
    // make a full read.
    let gated = [
        "ALTER TYPE e RENAME VALUE 'x' TO 'y'",
        "ALTER TABLE a RENAME TO a2",
    ];
    let mut incremental = 0;
    for step in steps {
        exec(&mut d, step);
        let state = d.schema(Some(&prev)).unwrap();
        let was_incremental = d.last_schema_read().incremental;
        assert_eq!(was_incremental, !gated.contains(&step), "after `{step}`");
        incremental += usize::from(was_incremental);
        // A full read on this connection sees the uncommitted changes too.
        let mut probe = state.clone();
        probe.objects.insert("x".into(), "y".into()); // a state the reader did not produce
        let full = d.schema(Some(&probe)).unwrap();
        assert!(!d.last_schema_read().incremental);
        assert_same(&full, &state, &format!("after `{step}`"));
        prev = full;
    }
    d.commit().unwrap();
    assert_same(&fresh_full_read(&db), &prev, "after commit");
    assert_eq!(incremental, steps.len() - gated.len());
}

#[test]
fn stale_previous_rollback_and_autocommit_ddl_force_full_reads() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    begin(&mut d);
    let s0 = d.schema(None).unwrap();
    exec(&mut d, "CREATE TABLE a (id int)");
    let s1 = d.schema(Some(&s0)).unwrap();
    assert!(d.last_schema_read().incremental);
    d.rollback().unwrap();

    // After a rollback, the state read inside it is gone: a full read, equal to s0.
    begin(&mut d);
    let s = d.schema(Some(&s1)).unwrap();
    assert!(!d.last_schema_read().incremental);
    assert_same(&s0, &s, "after rollback");
    d.commit().unwrap();

    // DDL in autocommit, then a transaction: the reader can't see it incrementally.
    exec(&mut d, "CREATE TABLE b (id int)");
    begin(&mut d);
    let s2 = d.schema(Some(&s)).unwrap();
    assert!(!d.last_schema_read().incremental);
    assert!(s2.objects.contains_key("table public.b"));
    d.commit().unwrap();

    // DDL committed after the last read of its transaction.
    begin(&mut d);
    let s3 = d.schema(Some(&s2)).unwrap();
    exec(&mut d, "CREATE TABLE c (id int)");
    d.commit().unwrap();
    begin(&mut d);
    let s4 = d.schema(Some(&s3)).unwrap();
    assert!(!d.last_schema_read().incremental);
    assert!(s4.objects.contains_key("table public.c"));
    d.commit().unwrap();

    // Outside a transaction every read is a full one.
    let s5 = d.schema(Some(&s4)).unwrap();
    assert!(!d.last_schema_read().incremental);
    assert_same(&s4, &s5, "outside a transaction");
}

#[test]
fn reading_the_schema_leaves_search_path_alone() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, "CREATE SCHEMA app;\nCREATE TABLE app.t (a int)");
    begin(&mut d);
    exec(&mut d, "SET LOCAL search_path = app");
    let s0 = d.schema(None).unwrap();
    exec(&mut d, "CREATE TABLE u (t_id int)");
    let s1 = d.schema(Some(&s0)).unwrap();
    assert!(s1.objects.contains_key("table app.u"), "{}", s1.text());
    // Unqualified names still resolve in the user's search_path.
    assert_eq!(d.execute("SELECT count(*) = 0 FROM t").unwrap(), vec![true]);
    d.commit().unwrap();
    assert_eq!(
        d.execute("SELECT current_setting('search_path') = '\"$user\", public'")
            .unwrap(),
        vec![true]
    );
    assert_same(
        &fresh_full_read(&db),
        &s1,
        "names are qualified whatever the search_path",
    );
}

/// A transaction of data changes alone needs no catalog read — unless a function or
/// trigger it ran changed the schema after all, which the catalog write counters show.
#[test]
fn data_only_transactions_skip_the_read_unless_a_catalog_was_written() {
    use backstop_postgres::ReadStats;
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, v int);\n\
         CREATE TABLE u (id int);\n\
         CREATE FUNCTION make_side() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'CREATE TABLE side_' || NEW.id || ' (x int)'; RETURN NEW; END $$;\n\
         CREATE TRIGGER u_make AFTER INSERT ON u FOR EACH ROW EXECUTE FUNCTION make_side();\n\
         CREATE FUNCTION add_col() RETURNS int LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE t ADD COLUMN w int; RETURN 1; END $$",
    );
    let skipped = ReadStats {
        incremental: true,
        reread: 0,
        round_trips: 1,
        reused_lines: 0,
    };
    let mut prev = d.schema(None).unwrap();

    begin(&mut d);
    exec(
        &mut d,
        "INSERT INTO t SELECT g, g FROM generate_series(1, 100) g",
    );
    exec(&mut d, "UPDATE t SET v = v + 1");
    exec(&mut d, "DELETE FROM t WHERE id > 50");
    let s = d.schema(Some(&prev)).unwrap();
    assert_eq!(d.last_schema_read(), skipped);
    d.commit().unwrap();
    assert_same(&fresh_full_read(&db), &s, "after data changes");

    for (step, new_text) in [
        ("INSERT INTO u VALUES (7)", "table public.side_7"),
        ("SELECT add_col()", "column w integer"),
    ] {
        begin(&mut d);
        exec(&mut d, step);
        let s = d.schema(Some(&prev)).unwrap();
        assert_ne!(d.last_schema_read(), skipped, "`{step}` changed the schema");
        d.commit().unwrap();
        assert!(s.text().contains(new_text), "`{step}`:\n{}", s.text());
        assert_same(&fresh_full_read(&db), &s, &format!("after `{step}`"));
        prev = s;
    }

    // With track_counts off the counters never move, so they prove nothing.
    exec(&mut d, "SET track_counts = off");
    begin(&mut d);
    exec(&mut d, "INSERT INTO u VALUES (8)");
    let s = d.schema(Some(&prev)).unwrap();
    assert_ne!(d.last_schema_read(), skipped, "counters off: no skipping");
    d.commit().unwrap();
    assert!(
        s.objects.contains_key("table public.side_8"),
        "{}",
        s.text()
    );
    assert_same(&fresh_full_read(&db), &s, "DDL in a trigger, counters off");
}

/// How constants print depends on session settings (DateStyle, IntervalStyle, …); the
/// schema text must not, and the session's own settings come back after each read.
#[test]
fn session_output_styles_do_not_change_the_schema_text() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE s (d date DEFAULT '2020-01-31', i interval DEFAULT '1 day 2 hours', \
         f float8 DEFAULT 0.1, b bytea DEFAULT '\\x0102', CHECK (d > '2001-02-03'))",
    );
    let reference = d.schema(None).unwrap();
    exec(
        &mut d,
        "SET DateStyle = 'SQL, DMY';\nSET IntervalStyle = 'sql_standard';\nSET extra_float_digits = 3;\nSET bytea_output = 'escape'",
    );
    assert_same(
        &reference,
        &d.schema(None).unwrap(),
        "full read, other styles",
    );
    begin(&mut d);
    exec(
        &mut d,
        "ALTER TABLE s ALTER COLUMN d SET DEFAULT '2021-12-24'",
    );
    let inc = d.schema(Some(&reference)).unwrap();
    assert!(d.last_schema_read().incremental);
    assert!(inc.text().contains("'2021-12-24'::date"), "{}", inc.text());
    // The session keeps its own style, inside the transaction too.
    assert_eq!(
        d.execute("SELECT current_setting('DateStyle') = 'SQL, DMY' AND current_setting('IntervalStyle') = 'sql_standard'")
            .unwrap(),
        vec![true]
    );
    d.commit().unwrap();
    assert_same(&fresh_full_read(&db), &inc, "after commit");
}

/// A table, its columns, indexes and constraints printing names kept in other catalogs:
/// a collation, a text search configuration, an operator class, an operator, types, a
/// sequence, functions, a referenced table and its column.
const REUSE_SETUP: &str = "CREATE SCHEMA other;\n\
    CREATE COLLATION mycoll FROM \"C\";\n\
    CREATE TEXT SEARCH CONFIGURATION myts (COPY = pg_catalog.english);\n\
    CREATE FUNCTION f1() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;\n\
    CREATE FUNCTION eqf(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1 = $2 $$;\n\
    CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = eqf);\n\
    CREATE OPERATOR CLASS my_int_ops FOR TYPE int4 USING btree AS OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4);\n\
    CREATE TYPE e AS ENUM ('x', 'y');\n\
    CREATE TYPE r AS RANGE (subtype = int4);\n\
    CREATE SEQUENCE s1;\n\
    CREATE TABLE p (id int PRIMARY KEY);\n\
    CREATE TABLE t (id int PRIMARY KEY, pid int REFERENCES p (id), a text COLLATE mycoll, b bigint DEFAULT nextval('s1'), c int DEFAULT f1() CHECK (c === c), d e, m r_multirange);\n\
    CREATE INDEX t_a ON t (a);\n\
    CREATE INDEX t_ts ON t USING gin (to_tsvector('myts'::regconfig, a));\n\
    CREATE INDEX t_ops ON t (c my_int_ops)";

/// Each step changes a name that a line of `t` prints, and locks `t` so that it is re-read
/// in the next transaction, where its unchanged lines may be taken from the previous read.
const REUSE_STEPS: &[&str] = &[
    "ALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER COLLATION mycoll RENAME TO mycoll2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TEXT SEARCH CONFIGURATION myts RENAME TO myts2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER OPERATOR CLASS my_int_ops USING btree RENAME TO my_ops2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER OPERATOR === (int, int) SET SCHEMA other;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TYPE e RENAME TO e2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TYPE r_multirange RENAME TO rm2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER SEQUENCE s1 RENAME TO s2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER FUNCTION f1() RENAME TO f2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TABLE p RENAME TO p2;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TABLE p2 RENAME COLUMN id TO pid;\nALTER TABLE t ALTER COLUMN id SET STATISTICS 100",
    "ALTER TABLE t RENAME COLUMN a TO a2",
    "ALTER TABLE t RENAME TO t2",
    "ALTER TABLE t2 ADD COLUMN n int",
    "CREATE INDEX t_n ON t2 (n)",
    "ALTER INDEX t_n RENAME TO t_n2",
    "ALTER TABLE t2 ALTER COLUMN n TYPE bigint",
    "ALTER TABLE t2 ALTER COLUMN b SET DEFAULT 7",
    // a subtransaction rolled back inside the migration, then a change after it
    "DO $$ BEGIN BEGIN ALTER TABLE t2 ADD COLUMN q int; ALTER TABLE t2 DROP COLUMN d; RAISE EXCEPTION 'undo'; \
     EXCEPTION WHEN raise_exception THEN NULL; END; ALTER TABLE t2 ALTER COLUMN c SET DEFAULT 2; END $$",
    "ALTER TABLE t2 DROP CONSTRAINT t_c_check",
    "DROP INDEX t_n2",
    "ALTER SCHEMA other RENAME TO other2;\nALTER TABLE t2 ALTER COLUMN id SET STATISTICS 100",
];

#[test]
fn reused_lines_follow_names_changed_elsewhere() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, REUSE_SETUP);
    settle(&db);
    let mut prev = d.schema(None).unwrap();
    let mut reused = Vec::new();
    for step in REUSE_STEPS {
        settle(&db);
        begin(&mut d);
        exec(&mut d, step);
        let state = d.schema(Some(&prev)).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        assert_same(
            &fresh_full_read(&db),
            &state,
            &format!("after `{step}` ({stats:?})"),
        );
        reused.push(stats.reused_lines);
        prev = state;
    }
    // Renames of collations, text search configurations, operator classes, operators and
    // types print everything again.
    assert!(reused[1..=6].iter().all(|n| *n == 0), "{reused:?}");
}

/// In the next transaction, only the column whose catalog row was written is printed
/// again: the other 6 columns, 3 constraints and 4 indexes come from the previous read.
/// A transaction of another session still running at the previous read (tests run in
/// parallel on one server) rightly holds back reuse of rows written after it began, so
/// the step is repeated until one read had a clear view; every read must equal a full one.
#[test]
fn unchanged_lines_are_reused_in_the_next_transaction() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, REUSE_SETUP);
    let mut prev = d.schema(None).unwrap();
    let mut seen = Vec::new();
    for i in 0..20 {
        settle(&db);
        begin(&mut d);
        exec(
            &mut d,
            &format!("ALTER TABLE t ALTER COLUMN id SET STATISTICS {}", 100 + i),
        );
        let state = d.schema(Some(&prev)).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        assert_same(&fresh_full_read(&db), &state, &format!("{stats:?}"));
        assert!(stats.incremental, "{stats:?}");
        seen.push(stats.reused_lines);
        prev = state;
        if stats.reused_lines == 6 + 3 + 4 {
            break;
        }
    }
    assert_eq!(
        seen.last(),
        Some(&(6 + 3 + 4)),
        "lines reused per read: {seen:?}"
    );
    assert!(seen.iter().all(|n| *n <= 6 + 3 + 4), "{seen:?}");
}

/// An index's line also prints what its own pg_class and pg_index rows don't hold: the
/// statistics targets of its columns (its pg_attribute rows), and an exclusion constraint's
/// line the storage parameters of its index. Changing only those must print the line
/// again in the next transaction, while the table's other lines are reused. Repeated until
/// a read reused lines (other sessions' transactions hold reuse back).
#[test]
fn index_lines_are_printed_again_when_what_they_show_from_elsewhere_changes() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int, b text, r int4range);
         CREATE INDEX i1 ON t ((a + 1));
         ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&) WITH (fillfactor = 50)",
    );
    let mut prev = d.schema(None).unwrap();
    for (i, what) in [
        "ALTER INDEX i1 ALTER COLUMN 1 SET STATISTICS {}",
        "ALTER INDEX ex SET (fillfactor = {})",
    ]
    .into_iter()
    .enumerate()
    {
        let mut seen = Vec::new();
        for n in 0..20 {
            settle(&db);
            begin(&mut d);
            let step = what.replace("{}", &(60 + 2 * n + i).to_string());
            exec(&mut d, &step);
            let state = d.schema(Some(&prev)).unwrap();
            let stats = d.last_schema_read();
            d.commit().unwrap();
            assert_same(
                &fresh_full_read(&db),
                &state,
                &format!("after `{step}` ({stats:?})"),
            );
            assert!(stats.incremental, "{stats:?}");
            assert_ne!(prev.fingerprint(), state.fingerprint(), "`{step}`");
            prev = state;
            seen.push(stats.reused_lines);
            if stats.reused_lines > 0 {
                break;
            }
        }
        assert!(
            seen.last() > Some(&0),
            "`{what}`: lines reused per read: {seen:?}"
        );
    }
}

/// A table, routine, type, view or sequence moved into backstop's own schema must not
/// vanish from the text (a down script could "drop" what its migration created that
/// way); backstop's own tables never print.
#[test]
fn objects_moved_into_backstops_schema_still_print() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    exec(
        &mut d,
        "CREATE TABLE newt (id int PRIMARY KEY, a int);
         CREATE INDEX newt_a ON newt (a);
         CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE TYPE e AS ENUM ('x');
         CREATE VIEW v AS SELECT 1 AS x;
         CREATE SEQUENCE s",
    );
    let base = d.schema(None).unwrap();
    assert!(
        !base.text().contains("backstop"),
        "backstop's own objects print nothing:\n{}",
        base.text()
    );
    let mut prev = base.clone();
    for (up, down, key) in [
        (
            "ALTER TABLE newt SET SCHEMA backstop",
            "ALTER TABLE backstop.newt SET SCHEMA public",
            "table backstop.newt",
        ),
        (
            "ALTER FUNCTION f() SET SCHEMA backstop",
            "ALTER FUNCTION backstop.f() SET SCHEMA public",
            "function backstop.f()",
        ),
        (
            "ALTER TYPE e SET SCHEMA backstop",
            "ALTER TYPE backstop.e SET SCHEMA public",
            "type backstop.e",
        ),
        (
            "ALTER VIEW v SET SCHEMA backstop",
            "ALTER VIEW backstop.v SET SCHEMA public",
            "view backstop.v",
        ),
        (
            "ALTER SEQUENCE s SET SCHEMA backstop",
            "ALTER SEQUENCE backstop.s SET SCHEMA public",
            "sequence backstop.s",
        ),
        (
            "CREATE TABLE backstop.extra (id int)",
            "DROP TABLE backstop.extra",
            "table backstop.extra",
        ),
    ] {
        for (sql, moved) in [(up, true), (down, false)] {
            begin(&mut d);
            exec(&mut d, sql);
            let state = d.schema(Some(&prev)).unwrap();
            let stats = d.last_schema_read();
            d.commit().unwrap();
            assert_same(
                &fresh_full_read(&db),
                &state,
                &format!("after `{sql}` ({stats:?})"),
            );
            assert_eq!(
                state.objects.contains_key(key),
                moved,
                "after `{sql}`:\n{}",
                state.text()
            );
            if !moved {
                assert_same(&base, &state, &format!("`{sql}` undoes `{up}`"));
            }
            prev = state;
        }
    }
}

/// Another session's DDL, made in a savepoint and committed only after our read, is newer
/// than that read: the next read prints it instead of reusing what the read saw.
#[test]
fn reuse_never_covers_ddl_that_was_in_flight_at_the_last_read() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE TABLE u (x int)",
    );
    let mut prev = d.schema(None).unwrap();
    let mut other = db.client();
    other
        .batch_execute(
            "BEGIN; SAVEPOINT s; ALTER TABLE t ALTER COLUMN a SET DEFAULT 5; \
             CREATE INDEX t_a ON t (a); RELEASE s",
        )
        .unwrap();
    // Our read while the other transaction is open.
    begin(&mut d);
    exec(&mut d, "ALTER TABLE u ADD COLUMN y int");
    prev = {
        let s = d.schema(Some(&prev)).unwrap();
        d.commit().unwrap();
        s
    };
    other.batch_execute("COMMIT").unwrap();
    begin(&mut d);
    exec(&mut d, "ALTER TABLE t ALTER COLUMN id SET STATISTICS 100");
    let state = d.schema(Some(&prev)).unwrap();
    let stats = d.last_schema_read();
    d.commit().unwrap();
    assert!(stats.incremental, "{stats:?}");
    assert_same(&fresh_full_read(&db), &state, &format!("{stats:?}"));
    assert!(state.text().contains("default 5"), "{}", state.text());
}

/// Names printed through constants and field selections, which `pg_depend` ties to an
/// index, a type or a type's column rather than to a root: renaming them must still
/// show in every table that prints them, reused lines or not.
const TRACE_SETUP: &str = "CREATE TABLE t (id int PRIMARY KEY, a int);\n\
    CREATE INDEX t_a ON t (a);\n\
    ALTER TABLE t ADD COLUMN r regclass DEFAULT 't_a'::regclass;\n\
    ALTER TABLE t ADD CONSTRAINT r_chk CHECK (r <> 't_a'::regclass);\n\
    CREATE TABLE u (a int);\n\
    CREATE INDEX u_a ON u (a);\n\
    CREATE TABLE v (id int PRIMARY KEY, r regclass DEFAULT 'u_a'::regclass);\n\
    CREATE TABLE w (id int PRIMARY KEY, r regclass DEFAULT 'u_a'::regclass);\n\
    CREATE TYPE mood AS ENUM ('sad', 'ok');\n\
    CREATE TYPE moodr AS RANGE (subtype = mood);\n\
    CREATE TYPE pm AS (m mood);\n\
    CREATE TABLE x (id int PRIMARY KEY, r moodr DEFAULT '[sad,ok]', p pm DEFAULT '(ok)');\n\
    CREATE TYPE pr AS (a int, b int);\n\
    CREATE FUNCTION mk(int) RETURNS pr LANGUAGE sql IMMUTABLE AS $$ SELECT ($1, $1)::pr $$;\n\
    CREATE DOMAIN dpr AS pr;\n\
    CREATE TABLE y (id int PRIMARY KEY, n int CHECK ((mk(n)).a > 0), d dpr, CHECK ((d).a > 0));\n\
    CREATE COLLATION c1 FROM \"C\";\n\
    CREATE TABLE z (id int PRIMARY KEY, s text COLLATE c1)";

const TRACE_STEPS: &[&str] = &[
    "ALTER INDEX t_a RENAME TO t_b",
    "ALTER INDEX u_a RENAME TO u_b;\nALTER TABLE v ALTER COLUMN id SET STATISTICS 100",
    "ALTER TABLE w ALTER COLUMN id SET STATISTICS 100",
    "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine';\nALTER TABLE x ALTER COLUMN id SET STATISTICS 100",
    "ALTER TYPE pr RENAME ATTRIBUTE a TO aa;\nALTER TABLE y ALTER COLUMN id SET STATISTICS 100",
    "ALTER COLLATION c1 RENAME TO c2",
    "ALTER TABLE z ALTER COLUMN id SET STATISTICS 100",
];

#[test]
fn renames_reached_through_constants_and_fields_show_everywhere() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, TRACE_SETUP);
    settle(&db);
    let mut prev = d.schema(None).unwrap();
    for step in TRACE_STEPS {
        settle(&db);
        begin(&mut d);
        exec(&mut d, step);
        let state = d.schema(Some(&prev)).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        assert_same(
            &fresh_full_read(&db),
            &state,
            &format!("after `{step}` ({stats:?})"),
        );
        prev = state;
    }
}

/// A function that changes the catalog, called after the read in the same transaction:
/// the statement doesn't look like DDL, so the reader keeps what it saw. The next
/// transaction's read must not take the changed column's line from it.
#[test]
fn ddl_after_the_read_in_a_function_is_printed_by_the_next_read() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int);\n\
         CREATE TABLE u (id int);\n\
         CREATE FUNCTION setdef() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE t ALTER COLUMN a SET DEFAULT 7; END $$",
    );
    settle(&db);
    let prev = d.schema(None).unwrap();
    begin(&mut d);
    exec(&mut d, "ALTER TABLE u ADD COLUMN y int");
    let prev = d.schema(Some(&prev)).unwrap();
    exec(&mut d, "SELECT setdef()");
    d.commit().unwrap();
    settle(&db);
    begin(&mut d);
    exec(&mut d, "ALTER TABLE t ALTER COLUMN id SET STATISTICS 100");
    let state = d.schema(Some(&prev)).unwrap();
    let stats = d.last_schema_read();
    d.commit().unwrap();
    assert_same(&fresh_full_read(&db), &state, &format!("{stats:?}"));
}

/// Changes the write counters can't vouch for, each followed by a migration that touches
/// the table whose text they changed: a rename run by a data statement after the read,
/// or outside any transaction; a rename with statistics switched off around it; creating
/// and dropping a type's default operator class (an index then prints the class it uses,
/// or stops printing it); a second read in the same transaction; a transaction the
/// migration began itself.
#[test]
fn changes_the_counters_cannot_vouch_for_lead_to_full_reads() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE COLLATION c1 FROM \"C\";\n\
         CREATE TABLE z (id int PRIMARY KEY, s text COLLATE c1, v varchar);\n\
         CREATE INDEX z_v ON z (v);\n\
         CREATE TABLE u (a int);\n\
         CREATE FUNCTION rn(a text, b text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('ALTER COLLATION %I RENAME TO %I', a, b); END $$",
    );
    let touch = "ALTER TABLE z ALTER COLUMN id SET STATISTICS 100";
    let mut prev = d.schema(None).unwrap();
    let check = |d: &mut backstop_postgres::PgDriver,
                 prev: &mut backstop_core::schema::SchemaState,
                 sql: &[&str],
                 after_read: &[&str],
                 what: &str| {
        settle(&db);
        begin(d);
        for s in sql {
            exec(d, s);
        }
        let state = d.schema(Some(prev)).unwrap();
        for s in after_read {
            exec(d, s);
        }
        d.commit().unwrap();
        let stats = d.last_schema_read();
        if after_read.is_empty() {
            assert_same(
                &fresh_full_read(&db),
                &state,
                &format!("{what} ({stats:?})"),
            );
        }
        *prev = state;
    };
    // A rename by a data statement after the read, then a migration touching z.
    check(
        &mut d,
        &mut prev,
        &["ALTER TABLE u ADD COLUMN b int"],
        &["SELECT rn('c1', 'c2')"],
        "rename after the read",
    );
    check(
        &mut d,
        &mut prev,
        &[touch],
        &[],
        "after a rename after the read",
    );
    // The same outside any transaction.
    exec(&mut d, "SELECT rn('c2', 'c3')");
    check(
        &mut d,
        &mut prev,
        &[touch],
        &[],
        "after a rename outside a transaction",
    );
    // Statistics off around the rename.
    check(
        &mut d,
        &mut prev,
        &[
            "SET LOCAL track_counts = off",
            "SELECT rn('c3', 'c4')",
            "SET LOCAL track_counts = on",
            touch,
        ],
        &[],
        "rename with track_counts off",
    );
    // A default operator class for varchar, created and dropped.
    check(
        &mut d,
        &mut prev,
        &["CREATE OPERATOR CLASS vc_ops DEFAULT FOR TYPE varchar USING btree AS OPERATOR 1 <(text,text), OPERATOR 2 <=(text,text), OPERATOR 3 =(text,text), OPERATOR 4 >=(text,text), OPERATOR 5 >(text,text), FUNCTION 1 bttextcmp(text,text)", touch],
        &[],
        "a new default operator class",
    );
    check(
        &mut d,
        &mut prev,
        &["DROP OPERATOR CLASS vc_ops USING btree", touch],
        &[],
        "the default operator class dropped",
    );
    // A second read in the same transaction after a rename.
    settle(&db);
    begin(&mut d);
    exec(&mut d, "ALTER TABLE u ADD COLUMN c int");
    let first = d.schema(Some(&prev)).unwrap();
    exec(&mut d, "ALTER COLLATION c4 RENAME TO c5");
    exec(&mut d, touch);
    let second = d.schema(Some(&first)).unwrap();
    d.commit().unwrap();
    assert_same(
        &fresh_full_read(&db),
        &second,
        "a second read in the transaction",
    );
    prev = second;
    // The migration's own BEGIN: no counters were read at its start.
    begin(&mut d);
    d.commit().unwrap();
    exec(&mut d, "BEGIN");
    exec(&mut d, "ALTER COLLATION c5 RENAME TO c6");
    exec(&mut d, touch);
    let state = d.schema(Some(&prev)).unwrap();
    exec(&mut d, "COMMIT");
    assert_same(
        &fresh_full_read(&db),
        &state,
        "a transaction the migration began",
    );
}

/// `quote_all_identifiers` quotes every name the `pg_get_*def` functions print: the
/// reader pins it off, like the output styles.
#[test]
fn quoting_every_identifier_does_not_change_the_schema_text() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int CHECK (a > 0));\nCREATE INDEX t_a ON t (a)",
    );
    let plain = d.schema(None).unwrap();
    exec(&mut d, "SET quote_all_identifiers = on");
    let quoted = d.schema(None).unwrap();
    assert_same(&plain, &quoted, "quote_all_identifiers on");
}

/// The session's time zone and string escaping change how constants in defaults, checks,
/// views and index predicates print: the reader pins both.
#[test]
fn time_zone_and_string_escaping_do_not_change_the_schema_text() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, \
           at timestamptz DEFAULT '2026-01-01 00:00+00', \
           path text DEFAULT 'a\\b' CHECK (path <> 'c\\d'));\n\
         CREATE INDEX t_late ON t (id) WHERE at > '2026-06-01 12:00+00';\n\
         CREATE VIEW v AS SELECT id FROM t WHERE at < '2027-01-01 00:00+00' AND path <> 'e\\f'",
    );
    let plain = d.schema(None).unwrap();
    assert!(
        plain
            .text()
            .contains("'2026-01-01 00:00:00+00'::timestamp with time zone"),
        "{}",
        plain.text()
    );
    exec(&mut d, "SET TimeZone = 'Pacific/Chatham'");
    exec(&mut d, "SET standard_conforming_strings = off");
    let other = d.schema(None).unwrap();
    assert_same(&plain, &other, "another time zone, backslashes escaped");
    // Incremental reads too: re-read the table inside a migration.
    common::begin(&mut d);
    exec(&mut d, "ALTER TABLE t ADD COLUMN n int");
    let state = d.schema(Some(&other)).unwrap();
    d.rollback().unwrap();
    exec(&mut d, "RESET TimeZone");
    exec(&mut d, "RESET standard_conforming_strings");
    common::begin(&mut d);
    exec(&mut d, "ALTER TABLE t ADD COLUMN n int");
    let reference = d.schema(Some(&plain)).unwrap();
    d.rollback().unwrap();
    assert_same(&reference, &state, "incremental, other settings");
}
