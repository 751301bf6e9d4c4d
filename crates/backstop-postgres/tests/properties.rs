//! Properties the canonical text shows only when they differ from the default: each one
//! changes the fingerprint, the incremental read after a migration that sets or undoes it
//! agrees with a full read, and undoing it restores the fingerprint from before. Schemas
//! without them print as they always did.

mod common;

use backstop_core::driver::Driver;
use backstop_core::schema::SchemaState;
use backstop_postgres::testing::TestDb;
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

/// Each `(up, down)` on a database holding `base`: `up` changes the fingerprint, `down`
/// restores it, and after either the incremental read equals a full one — in a new
/// transaction (reads of several migrations in a row) and within one transaction (a
/// read after each step of a multi-migration transaction).
fn check(base: &str, cases: &[(&str, &str)]) {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(&mut d, base);
    let base_state = d.schema(None).expect("full read");
    let mut prev = base_state.clone();
    for (up, down) in cases {
        for (what, sql, expect_base) in [("up", up, false), ("down", down, true)] {
            begin(&mut d);
            exec(&mut d, sql);
            let state = d.schema(Some(&prev)).expect("incremental read");
            let stats = d.last_schema_read();
            d.commit().expect("commit");
            let full = fresh_full_read(&db);
            assert_same(&full, &state, &format!("{what} `{sql}` ({stats:?})"));
            if expect_base {
                assert_same(&base_state, &state, &format!("`{sql}` undoes `{up}`"));
            } else {
                assert_ne!(
                    base_state.fingerprint(),
                    state.fingerprint(),
                    "`{sql}` must change the fingerprint:\n{}",
                    state.text()
                );
            }
            prev = state;
        }
    }
    // The same steps in one transaction, a read after each.
    begin(&mut d);
    let mut prev = d.schema(None).expect("full read");
    for (up, down) in cases {
        for sql in [up, down] {
            exec(&mut d, sql);
            let state = d.schema(Some(&prev)).expect("incremental read");
            let mut probe = state.clone();
            probe.objects.insert("x".into(), "y".into()); // forces a full read
            let full = d.schema(Some(&probe)).expect("full read");
            assert_same(&full, &state, &format!("`{sql}` in one transaction"));
            prev = full;
        }
    }
    d.rollback().expect("rollback");
}

#[test]
fn sequence_ownership_is_printed_unless_it_is_a_serial_columns() {
    let (_db, s) = build("CREATE TABLE t (id serial, a int);\nCREATE SEQUENCE s OWNED BY t.a");
    let text = s.text();
    assert!(text.contains("owned by public.t.a"), "{text}");
    assert!(
        !text.contains("owned by public.t.id"),
        "a serial column's sequence prints as before:\n{text}"
    );
    check(
        "CREATE TABLE t (id serial, a int, g int GENERATED ALWAYS AS IDENTITY);\nCREATE SEQUENCE s",
        &[
            (
                "ALTER SEQUENCE s OWNED BY t.a",
                "ALTER SEQUENCE s OWNED BY NONE",
            ),
            // the serial's sequence: owned, but no longer by the column that calls it
            (
                "ALTER TABLE t ALTER id DROP DEFAULT",
                "ALTER TABLE t ALTER id SET DEFAULT nextval('t_id_seq')",
            ),
            ("ALTER TABLE t RENAME a TO b", "ALTER TABLE t RENAME b TO a"),
        ],
    );
    // A re-read table re-reads an owned sequence only when the owning column's row
    // changed: each of these changes the sequence's line without locking the sequence.
    check(
        "CREATE TABLE t (id serial, a int, b int);\nCREATE SEQUENCE s OWNED BY t.a",
        &[
            (
                "ALTER TABLE t ALTER a SET DEFAULT nextval('s')",
                "ALTER TABLE t ALTER a DROP DEFAULT",
            ),
            // the table changes elsewhere too, the owning column not: the line stays
            ("ALTER TABLE t ADD c int", "ALTER TABLE t DROP c"),
            (
                "ALTER TABLE t ALTER b SET DEFAULT 1",
                "ALTER TABLE t ALTER b DROP DEFAULT",
            ),
            ("ALTER TABLE t RENAME a TO z", "ALTER TABLE t RENAME z TO a"),
            ("ALTER TABLE t RENAME TO u", "ALTER TABLE u RENAME TO t"),
            (
                "CREATE SCHEMA o; ALTER TABLE t SET SCHEMA o",
                "ALTER TABLE o.t SET SCHEMA public; DROP SCHEMA o",
            ),
        ],
    );
}

#[test]
fn column_storage_compression_statistics_and_options_are_printed() {
    check(
        "CREATE TABLE t (a text, b int, c int)",
        &[
            (
                "ALTER TABLE t ALTER a SET STORAGE EXTERNAL",
                "ALTER TABLE t ALTER a SET STORAGE EXTENDED",
            ),
            (
                "ALTER TABLE t ALTER a SET COMPRESSION pglz",
                "ALTER TABLE t ALTER a SET COMPRESSION DEFAULT",
            ),
            (
                "ALTER TABLE t ALTER b SET STATISTICS 500",
                "ALTER TABLE t ALTER b SET STATISTICS -1",
            ),
            (
                "ALTER TABLE t ALTER c SET (n_distinct = 5)",
                "ALTER TABLE t ALTER c RESET (n_distinct)",
            ),
        ],
    );
}

#[test]
fn replica_identity_and_access_method_are_printed() {
    check(
        "CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;\n\
         CREATE TABLE t (id int NOT NULL, a int);\nCREATE UNIQUE INDEX t_id ON t (id)",
        &[
            (
                "ALTER TABLE t REPLICA IDENTITY FULL",
                "ALTER TABLE t REPLICA IDENTITY DEFAULT",
            ),
            (
                "ALTER TABLE t REPLICA IDENTITY NOTHING",
                "ALTER TABLE t REPLICA IDENTITY DEFAULT",
            ),
            (
                "ALTER TABLE t REPLICA IDENTITY USING INDEX t_id",
                "ALTER TABLE t REPLICA IDENTITY DEFAULT",
            ),
            (
                "ALTER TABLE t SET ACCESS METHOD heap2",
                "ALTER TABLE t SET ACCESS METHOD heap",
            ),
        ],
    );
}

const FOREIGN: &str = "CREATE FOREIGN DATA WRAPPER w;\nCREATE SERVER s1 FOREIGN DATA WRAPPER w;\n\
                       CREATE SERVER s2 FOREIGN DATA WRAPPER w";

#[test]
fn foreign_tables_print_their_server_and_options() {
    let (_a, on_s1) = build(&format!(
        "{FOREIGN};\nCREATE FOREIGN TABLE f (a int) SERVER s1"
    ));
    let (_b, on_s2) = build(&format!(
        "{FOREIGN};\nCREATE FOREIGN TABLE f (a int) SERVER s2"
    ));
    assert_ne!(on_s1.fingerprint(), on_s2.fingerprint(), "{}", on_s1.text());
    check(
        &format!("{FOREIGN};\nCREATE FOREIGN TABLE f (a int) SERVER s1"),
        &[
            (
                "ALTER FOREIGN TABLE f OPTIONS (ADD k 'v')",
                "ALTER FOREIGN TABLE f OPTIONS (DROP k)",
            ),
            (
                "ALTER FOREIGN TABLE f ALTER a OPTIONS (ADD col 'x')",
                "ALTER FOREIGN TABLE f ALTER a OPTIONS (DROP col)",
            ),
            // A server rename locks no relation: the incremental read must still see it.
            (
                "ALTER SERVER s1 RENAME TO s9",
                "ALTER SERVER s9 RENAME TO s1",
            ),
        ],
    );
    // Two option lists that raw `name=value` entries joined with commas spell alike.
    let (_c, two) = build(&format!(
        "{FOREIGN};\nCREATE FOREIGN TABLE f (a int) SERVER s1 OPTIONS (a 'x', b 'y')"
    ));
    let (_d, one) = build(&format!(
        "{FOREIGN};\nCREATE FOREIGN TABLE f (a int) SERVER s1 OPTIONS (a 'x, b=y')"
    ));
    assert_ne!(two.fingerprint(), one.fingerprint(), "{}", two.text());
}

#[test]
fn extended_statistics_are_lines_of_their_table() {
    check(
        "CREATE TABLE t (a int, b int, c int);\nCREATE STATISTICS st (ndistinct) ON a, b FROM t",
        &[
            (
                "CREATE STATISTICS st2 (dependencies, mcv) ON a, c FROM t",
                "DROP STATISTICS st2",
            ),
            (
                "CREATE STATISTICS st3 ON (a + b) FROM t",
                "DROP STATISTICS st3",
            ),
            (
                "ALTER STATISTICS st SET STATISTICS 50",
                "ALTER STATISTICS st SET STATISTICS -1",
            ),
            (
                "ALTER STATISTICS st RENAME TO st9",
                "ALTER STATISTICS st9 RENAME TO st",
            ),
        ],
    );
}

#[test]
fn comments_are_printed() {
    check(
        "CREATE TABLE t (a int);\nCREATE VIEW v AS SELECT a FROM t;\nCREATE SEQUENCE q;\n\
         CREATE MATERIALIZED VIEW m AS SELECT a FROM t;\n\
         CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
         CREATE TYPE e AS ENUM ('x');\nCREATE DOMAIN d AS int;\nCREATE SCHEMA app;\n\
         COMMENT ON FUNCTION f() IS 'one'",
        &[
            ("COMMENT ON TABLE t IS 'rows'", "COMMENT ON TABLE t IS NULL"),
            (
                "COMMENT ON COLUMN t.a IS 'the a'",
                "COMMENT ON COLUMN t.a IS NULL",
            ),
            ("COMMENT ON VIEW v IS 'view'", "COMMENT ON VIEW v IS NULL"),
            (
                "COMMENT ON SEQUENCE q IS 'seq'",
                "COMMENT ON SEQUENCE q IS NULL",
            ),
            (
                "COMMENT ON MATERIALIZED VIEW m IS 'mv'",
                "COMMENT ON MATERIALIZED VIEW m IS NULL",
            ),
            (
                "COMMENT ON FUNCTION f() IS 'two'",
                "COMMENT ON FUNCTION f() IS 'one'",
            ),
            (
                "COMMENT ON FUNCTION f() IS NULL",
                "COMMENT ON FUNCTION f() IS 'one'",
            ),
            ("COMMENT ON TYPE e IS 'enum'", "COMMENT ON TYPE e IS NULL"),
            (
                "COMMENT ON DOMAIN d IS 'domain'",
                "COMMENT ON DOMAIN d IS NULL",
            ),
            (
                "COMMENT ON SCHEMA app IS 'app'",
                "COMMENT ON SCHEMA app IS NULL",
            ),
            (
                "COMMENT ON SCHEMA public IS 'mine'",
                "COMMENT ON SCHEMA public IS 'standard public schema'",
            ),
        ],
    );
}

/// What maintenance changes is not schema: a nightly `REFRESH MATERIALIZED VIEW` or `CLUSTER`
/// must not show as drift, and a `NO INHERIT` / `INHERIT` round trip (which leaves the
/// child's columns declared locally, and no statement puts that back) must be provable.
#[test]
fn maintenance_and_reversible_inheritance_do_not_change_the_fingerprint() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE MATERIALIZED VIEW m AS SELECT a FROM t WITH NO DATA;\n\
         CREATE TABLE p (a int, b text);\nCREATE TABLE ch (c int) INHERITS (p)",
    );
    let before = d.schema(None).expect("full read");
    exec(
        &mut d,
        "REFRESH MATERIALIZED VIEW m;\nCLUSTER t USING t_pkey;\nALTER TABLE ch NO INHERIT p;\nALTER TABLE ch INHERIT p",
    );
    let after = fresh_full_read(&db);
    assert_same(
        &before,
        &after,
        "maintenance and a NO INHERIT / INHERIT round trip",
    );
}

#[test]
fn function_set_clauses_print_in_a_canonical_order() {
    let f = |sets: &str| {
        format!(
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql {sets} AS $$\nBEGIN\n SET LOCAL work_mem = '1MB'; RETURN 1; END $$"
        )
    };
    let (_a, ab) = build(&f("SET work_mem = '8MB' SET search_path = public, pg_temp"));
    let (_b, ba) = build(&f("SET search_path = public, pg_temp SET work_mem = '8MB'"));
    assert_same(&ab, &ba, "SET clauses in another order");
    let (_c, other) = build(&f("SET work_mem = '9MB' SET search_path = public, pg_temp"));
    assert_ne!(ab.fingerprint(), other.fingerprint(), "{}", ab.text());
    let text = ab.text();
    assert!(
        text.contains("SET search_path TO 'public', 'pg_temp'\\n SET work_mem TO '8MB'\\nAS"),
        "{text}"
    );
    assert!(
        text.contains("\\n SET LOCAL work_mem = '1MB';"),
        "body untouched: {text}"
    );
    // A value spanning lines is left as printed: its lines must not sort among the others.
    let (_d, nl) = build(
        "CREATE FUNCTION h() RETURNS int LANGUAGE sql SET work_mem = '64kB' SET application_name = E'x\\ny' AS 'SELECT 1'",
    );
    let text = nl.text();
    assert!(text.contains("SET application_name TO 'x\\ny'"), "{text}");
    check(
        "CREATE FUNCTION h() RETURNS int LANGUAGE sql SET application_name = E'x\\ny' SET work_mem = '64kB' AS 'SELECT 1'",
        &[(
            "ALTER FUNCTION h() SET search_path = public",
            "ALTER FUNCTION h() RESET search_path",
        )],
    );
    check(
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql SET work_mem = '8MB' AS 'SELECT 1'",
        &[(
            "ALTER FUNCTION g() SET search_path = public",
            "ALTER FUNCTION g() RESET search_path",
        )],
    );
}

#[test]
fn a_rules_enabled_state_is_printed() {
    check(
        "CREATE TABLE t (id int);\nCREATE RULE r1 AS ON DELETE TO t DO INSTEAD NOTHING",
        &[
            (
                "ALTER TABLE t DISABLE RULE r1",
                "ALTER TABLE t ENABLE RULE r1",
            ),
            (
                "ALTER TABLE t ENABLE ALWAYS RULE r1",
                "ALTER TABLE t ENABLE RULE r1",
            ),
            (
                "ALTER TABLE t ENABLE REPLICA RULE r1",
                "ALTER TABLE t ENABLE RULE r1",
            ),
        ],
    );
}

#[test]
fn a_composite_types_attribute_collation_is_printed() {
    check(
        "CREATE TYPE pair AS (x int, y text)",
        &[(
            "ALTER TYPE pair ALTER ATTRIBUTE y TYPE text COLLATE \"C\"",
            "ALTER TYPE pair ALTER ATTRIBUTE y TYPE text",
        )],
    );
    let (_db, s) = build("CREATE TYPE pair AS (x int, y text COLLATE \"C\")");
    let text = s.text();
    assert!(
        text.contains("composite (x integer, y text collate pg_catalog.\"C\")"),
        "{text}"
    );
}

#[test]
fn a_typed_tables_type_is_printed() {
    check(
        "CREATE TYPE pair AS (x int, y text);\nCREATE TYPE other AS (x int, y text);\nCREATE TABLE tt OF pair",
        &[
            ("ALTER TABLE tt NOT OF", "ALTER TABLE tt OF pair"),
            (
                "ALTER TABLE tt NOT OF;\nALTER TABLE tt OF other",
                "ALTER TABLE tt NOT OF;\nALTER TABLE tt OF pair",
            ),
        ],
    );
    let (_db, s) = build("CREATE TYPE pair AS (x int, y text);\nCREATE TABLE tt OF pair");
    assert!(s.text().contains("\n  of public.pair"), "{}", s.text());
}

#[test]
fn toast_storage_parameters_print_with_the_tables() {
    check(
        "CREATE TABLE t (id int, s text);\nCREATE MATERIALIZED VIEW m AS SELECT 'x'::text AS s",
        &[
            (
                "ALTER TABLE t SET (toast.autovacuum_enabled = false)",
                "ALTER TABLE t RESET (toast.autovacuum_enabled)",
            ),
            (
                "ALTER TABLE t SET (toast.autovacuum_vacuum_threshold = 100, fillfactor = 70)",
                "ALTER TABLE t RESET (fillfactor, toast.autovacuum_vacuum_threshold)",
            ),
            (
                "ALTER MATERIALIZED VIEW m SET (toast.autovacuum_enabled = false)",
                "ALTER MATERIALIZED VIEW m RESET (toast.autovacuum_enabled)",
            ),
        ],
    );
    let (_db, s) = build(
        "CREATE TABLE t (id int, s text) WITH (toast.autovacuum_enabled = false, fillfactor = 70, autovacuum_enabled = true)",
    );
    let text = s.text();
    assert!(
        text.contains(
            "with (autovacuum_enabled=true, fillfactor=70, toast.autovacuum_enabled=false)"
        ),
        "{text}"
    );
}

#[test]
fn an_index_columns_statistics_target_is_printed() {
    check(
        "CREATE TABLE t (id int, a int, b int);\nCREATE INDEX i1 ON t ((a + 1), (b * 2))",
        &[
            (
                "ALTER INDEX i1 ALTER COLUMN 1 SET STATISTICS 300",
                "ALTER INDEX i1 ALTER COLUMN 1 SET STATISTICS -1",
            ),
            (
                "ALTER INDEX i1 ALTER COLUMN 2 SET STATISTICS 0",
                "ALTER INDEX i1 ALTER COLUMN 2 SET STATISTICS -1",
            ),
        ],
    );
}

/// `DEPENDS ON EXTENSION` makes dropping the extension drop the object: a routine, index,
/// trigger or materialized view marked so differs from one that is not.
#[test]
fn dependencies_on_extensions_are_printed() {
    check(
        "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\n\
         CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
         CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';\n\
         CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tf();\n\
         CREATE MATERIALIZED VIEW m AS SELECT 1 AS x",
        &[
            (
                "ALTER FUNCTION f() DEPENDS ON EXTENSION plpgsql",
                "ALTER FUNCTION f() NO DEPENDS ON EXTENSION plpgsql",
            ),
            (
                "ALTER INDEX i DEPENDS ON EXTENSION plpgsql",
                "ALTER INDEX i NO DEPENDS ON EXTENSION plpgsql",
            ),
            (
                "ALTER TRIGGER tr ON t DEPENDS ON EXTENSION plpgsql",
                "ALTER TRIGGER tr ON t NO DEPENDS ON EXTENSION plpgsql",
            ),
            (
                "ALTER MATERIALIZED VIEW m DEPENDS ON EXTENSION plpgsql",
                "ALTER MATERIALIZED VIEW m NO DEPENDS ON EXTENSION plpgsql",
            ),
        ],
    );
}

/// Storage parameters print in the order stored, and RESET then SET moves one to the end:
/// the same index, unique or exclusion constraint must print the same either way.
#[test]
fn index_storage_parameters_print_sorted() {
    let base = "CREATE TABLE t (id int, a int, r int4range);\n\
         CREATE INDEX i1 ON t (a) WITH (fillfactor = 70, deduplicate_items = off);\n\
         CREATE INDEX i2 ON t (a) WITH (fillfactor = 70, deduplicate_items = off) WHERE a > 0;\n\
         ALTER TABLE t ADD CONSTRAINT u1 UNIQUE (id) WITH (fillfactor = 80, deduplicate_items = off);\n\
         ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&) WITH (fillfactor = 50, buffering = on) \
         WHERE (a > 0) DEFERRABLE INITIALLY DEFERRED";
    check(
        base,
        &[
            (
                "ALTER INDEX i1 RESET (fillfactor)",
                "ALTER INDEX i1 SET (fillfactor = 70)",
            ),
            (
                "ALTER INDEX i2 RESET (fillfactor)",
                "ALTER INDEX i2 SET (fillfactor = 70)",
            ),
            (
                "ALTER INDEX u1 RESET (fillfactor)",
                "ALTER INDEX u1 SET (fillfactor = 80)",
            ),
            (
                "ALTER INDEX ex RESET (fillfactor)",
                "ALTER INDEX ex SET (fillfactor = 50)",
            ),
            (
                "ALTER INDEX ex SET (fillfactor = 60)",
                "ALTER INDEX ex SET (fillfactor = 50)",
            ),
        ],
    );
    let (_db, s) = build(base);
    let text = s.text();
    for line in [
        "CREATE INDEX i1 ON public.t USING btree (a) WITH (deduplicate_items=off, fillfactor='70')\n",
        "CREATE INDEX i2 ON public.t USING btree (a) WITH (deduplicate_items=off, fillfactor='70') WHERE (a > 0)\n",
        "CREATE UNIQUE INDEX u1 ON public.t USING btree (id) WITH (deduplicate_items=off, fillfactor='80')\n",
        "constraint ex EXCLUDE USING gist (r WITH &&) WITH (buffering='on', fillfactor='50') WHERE ((a > 0)) DEFERRABLE INITIALLY DEFERRED\n",
    ] {
        assert!(text.contains(line), "{line}in\n{text}");
    }
}

/// A trigger on `UPDATE OF a, b` fires when any of them is updated: the order they were
/// listed in is not part of the schema.
#[test]
fn trigger_update_columns_print_sorted() {
    let base = "CREATE TABLE t (a int, b int, \"c d\" int);\n\
         CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';\n\
         CREATE TRIGGER \"x UPDATE OF b, a \" BEFORE INSERT OR UPDATE OF b, a OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION tf();\n\
         CREATE CONSTRAINT TRIGGER ct AFTER UPDATE OF \"c d\", b, a ON t FOR EACH ROW EXECUTE FUNCTION tf()";
    check(
        base,
        &[
            (
                "DROP TRIGGER \"x UPDATE OF b, a \" ON t",
                "CREATE TRIGGER \"x UPDATE OF b, a \" BEFORE INSERT OR UPDATE OF a, b OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION tf()",
            ),
            (
                "DROP TRIGGER ct ON t",
                "CREATE CONSTRAINT TRIGGER ct AFTER UPDATE OF a, \"c d\", b ON t FOR EACH ROW EXECUTE FUNCTION tf()",
            ),
        ],
    );
    let (_db, s) = build(base);
    let text = s.text();
    assert!(
        text.contains("CREATE TRIGGER \"x UPDATE OF b, a \" BEFORE INSERT OR DELETE OR UPDATE OF a, b ON public.t"),
        "{text}"
    );
    assert!(
        text.contains("CREATE CONSTRAINT TRIGGER ct AFTER UPDATE OF \"c d\", a, b ON public.t"),
        "{text}"
    );
}

/// A list partition holds the rows equal to any of its values: `IN (3, 1, 2)` is the same
/// partition as `IN (1, 2, 3)`.
#[test]
fn list_partition_values_print_sorted() {
    let base = "CREATE TABLE p (k int) PARTITION BY LIST (k);\n\
         CREATE TABLE p1 PARTITION OF p FOR VALUES IN (3, 1, -2, NULL);\n\
         CREATE TABLE q (k text) PARTITION BY LIST (k);\n\
         CREATE TABLE \"q 1\" PARTITION OF q FOR VALUES IN ('b', 'a, b', 'it''s (x', 'a')";
    check(
        base,
        &[
            (
                "ALTER TABLE p DETACH PARTITION p1",
                "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (NULL, 1, -2, 3)",
            ),
            (
                "ALTER TABLE q DETACH PARTITION \"q 1\"",
                "ALTER TABLE q ATTACH PARTITION \"q 1\" FOR VALUES IN ('it''s (x', 'a', 'b', 'a, b')",
            ),
        ],
    );
    let (_db, s) = build(base);
    let text = s.text();
    assert!(
        text.contains("partition of public.p FOR VALUES IN ('-2', 1, 3, NULL)"),
        "{text}"
    );
    assert!(
        text.contains("partition of public.q FOR VALUES IN ('a', 'a, b', 'b', 'it''s (x')"),
        "{text}"
    );
    // Other values are other partitions.
    let (_other, o) = build(
        "CREATE TABLE p (k int) PARTITION BY LIST (k);\nCREATE TABLE p1 PARTITION OF p FOR VALUES IN (3, 1, -2)",
    );
    assert_ne!(
        s.objects.get("table public.p1"),
        o.objects.get("table public.p1")
    );
}
