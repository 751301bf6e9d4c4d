//! Schema health: invalid indexes from a failed concurrent build, NOT VALID constraints,
//! and dropping the invalid indexes a failed migration left behind.

mod common;

use backstop_core::driver::Driver;
use backstop_core::schema::HealthIssue;
use backstop_postgres::testing::TestDb;

const A_KEY: &str = "CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)";
const B_KEY: &str =
    "/* b */ create unique index concurrently if not exists \"t_b_key\" on only public.t ((a * 0))";

#[test]
fn invalid_indexes_and_not_valid_constraints_are_reported_and_dropped() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1, 1), (1, 2)",
    );
    assert!(d.health().unwrap().is_empty());

    // A unique index built concurrently over duplicates fails and stays behind, INVALID.
    let e = d.execute(A_KEY).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("23505"), "{e:?}");
    assert!(d.execute(B_KEY).is_err());
    common::exec(
        &mut d,
        "ALTER TABLE t ADD CONSTRAINT t_b_pos CHECK (b > 0) NOT VALID",
    );

    let issues = d.health().unwrap();
    assert_eq!(
        issues,
        vec![
            HealthIssue::NotValidConstraint {
                name: "t_b_pos".into(),
                table: "public.t".into()
            },
            HealthIssue::InvalidIndex {
                name: "public.t_a_key".into(),
                table: "public.t".into()
            },
            HealthIssue::InvalidIndex {
                name: "public.t_b_key".into(),
                table: "public.t".into()
            },
        ]
    );
    let state = d.schema(None).unwrap();
    assert!(
        state.objects["table public.t"]
            .contains("CREATE UNIQUE INDEX t_a_key ON public.t USING btree (a) INVALID"),
        "{}",
        state.text()
    );
    assert!(
        state.objects["table public.t"].contains("CHECK ((b > 0)) NOT VALID"),
        "{}",
        state.text()
    );

    // Refused inside a transaction: DROP INDEX CONCURRENTLY can't run there.
    common::begin(&mut d);
    assert!(d.drop_invalid_indexes(&[], A_KEY).is_err());
    d.rollback().unwrap();

    let dropped = d
        .drop_invalid_indexes(&["public.t_b_key".to_string()], A_KEY)
        .unwrap();
    assert_eq!(dropped, vec!["public.t_a_key".to_string()]);
    let issues = d.health().unwrap();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues.contains(&HealthIssue::InvalidIndex {
        name: "public.t_b_key".into(),
        table: "public.t".into()
    }));

    common::exec(
        &mut d,
        "DELETE FROM t WHERE b = 2;\nALTER TABLE t VALIDATE CONSTRAINT t_b_pos",
    );
    // Only the index the failed statement names.
    assert!(d.drop_invalid_indexes(&[], A_KEY).unwrap().is_empty());
    assert_eq!(
        d.drop_invalid_indexes(&[], B_KEY).unwrap(),
        vec!["public.t_b_key".to_string()]
    );
    assert!(d.health().unwrap().is_empty());
}

/// What a failed statement can have left is all that is dropped: not an INVALID index of
/// another statement, another table or another session, nor one still being built.
#[test]
fn only_the_failed_builds_own_index_is_dropped() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE TABLE t (a int, b int);\nCREATE TABLE u (a int);\n\
         INSERT INTO t VALUES (1, 1), (1, 2);\nINSERT INTO u VALUES (1), (1)",
    );
    assert!(d
        .execute("CREATE UNIQUE INDEX CONCURRENTLY u_a ON u (a)")
        .is_err());
    assert!(d
        .execute("CREATE UNIQUE INDEX CONCURRENTLY ON t (a)")
        .is_err());
    // Statements that build no index, or another one, or on another table: nothing.
    for failed in [
        "DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$",
        "CREATE INDEX t_b ON t (b)",
        "CREATE UNIQUE INDEX CONCURRENTLY t_other ON t (a)",
        "CREATE UNIQUE INDEX CONCURRENTLY ON x.t (a)",
        "CREATE UNIQUE INDEX CONCURRENTLY u_a ON t (a)",
    ] {
        assert!(
            d.drop_invalid_indexes(&[], failed).unwrap().is_empty(),
            "{failed}"
        );
    }
    // An unnamed build: the new INVALID index on its table.
    assert_eq!(
        d.drop_invalid_indexes(&[], "CREATE UNIQUE INDEX CONCURRENTLY ON t (a)")
            .unwrap(),
        vec!["public.t_a_idx".to_string()]
    );

    // Another session's build, waiting for a writer to finish: its index exists, INVALID,
    // and is left alone even by a failed build of the same shape on the same table.
    let mut writer = db.client();
    writer
        .batch_execute("BEGIN; INSERT INTO t VALUES (3, 3)")
        .expect("writer");
    let url = db.url.clone();
    let builder = std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        c.batch_execute("CREATE INDEX CONCURRENTLY t_b_theirs ON t (b)")
            .expect("their build");
    });
    let theirs = HealthIssue::InvalidIndex {
        name: "public.t_b_theirs".into(),
        table: "public.t".into(),
    };
    let start = std::time::Instant::now();
    while !d.health().unwrap().contains(&theirs) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "their build never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(d
        .drop_invalid_indexes(&[], "CREATE INDEX CONCURRENTLY ON t (b)")
        .unwrap()
        .is_empty());
    assert!(d
        .drop_invalid_indexes(&[], "CREATE INDEX CONCURRENTLY t_b_theirs ON t (b)")
        .unwrap()
        .is_empty());
    writer.batch_execute("COMMIT").expect("commit");
    builder.join().expect("their build ends");
    assert!(
        !d.health().unwrap().contains(&theirs),
        "their index is valid"
    );
}

/// The failed statement's names resolve as PostgreSQL resolved them: the table by
/// search_path (not any schema's table of that name), names folded only in ASCII and cut
/// to 63 bytes; REINDEX leaves `_ccnew` copies of the index it names.
#[test]
fn the_failed_statements_names_resolve_as_postgresql_resolved_them() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let long = "i".repeat(70);
    common::exec(
        &mut d,
        "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1), (1);\n\
         CREATE SCHEMA s2;\nCREATE TABLE s2.t (a int);\nINSERT INTO s2.t VALUES (1), (1)",
    );
    for sql in [
        "CREATE UNIQUE INDEX CONCURRENTLY idx ON t (a)".to_string(),
        "CREATE UNIQUE INDEX CONCURRENTLY idx ON s2.t (a)".to_string(),
        "CREATE UNIQUE INDEX CONCURRENTLY Índice ON t (a)".to_string(),
        format!("CREATE UNIQUE INDEX CONCURRENTLY {long} ON t (a)"),
    ] {
        assert!(d.execute(&sql).is_err(), "{sql}");
    }
    // Unqualified: the t the search_path finds, not s2.t.
    assert_eq!(
        d.drop_invalid_indexes(&[], "CREATE UNIQUE INDEX CONCURRENTLY idx ON t (a)")
            .unwrap(),
        vec!["public.idx".to_string()]
    );
    assert_eq!(
        d.drop_invalid_indexes(&[], "CREATE UNIQUE INDEX CONCURRENTLY IDX ON S2.T (a)")
            .unwrap(),
        vec!["s2.idx".to_string()]
    );
    assert_eq!(
        d.drop_invalid_indexes(&[], "CREATE UNIQUE INDEX CONCURRENTLY Índice ON t (a)")
            .unwrap(),
        vec!["public.\"Índice\"".to_string()]
    );
    assert_eq!(
        d.drop_invalid_indexes(
            &[],
            &format!("CREATE UNIQUE INDEX CONCURRENTLY {long} ON t (a)")
        )
        .unwrap(),
        vec![format!("public.{}", &long[..63])]
    );

    // A REINDEX that times out waiting for a writer leaves its `_ccnew` copy behind.
    common::exec(&mut d, "CREATE INDEX t_a ON t (a)");
    let mut writer = db.client();
    writer
        .batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .expect("writer");
    common::exec(&mut d, "SET lock_timeout = '200ms'");
    assert!(d.execute("REINDEX INDEX CONCURRENTLY t_a").is_err());
    common::exec(&mut d, "RESET lock_timeout");
    writer.batch_execute("COMMIT").expect("commit");
    assert!(d
        .drop_invalid_indexes(&[], "REINDEX INDEX CONCURRENTLY s2.t_a")
        .unwrap()
        .is_empty());
    assert_eq!(
        d.drop_invalid_indexes(&[], "REINDEX (VERBOSE) INDEX CONCURRENTLY t_a")
            .unwrap(),
        vec!["public.t_a_ccnew".to_string()]
    );
    assert!(d.health().unwrap().is_empty(), "{:?}", d.health());
}

/// A REINDEX of a partitioned table builds its copies on the partitions: those are its
/// leftovers too.
#[test]
fn a_failed_reindex_of_a_partitioned_table_leaves_nothing_on_its_partitions() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE TABLE flag (on_ bool);\nINSERT INTO flag VALUES (false);\n\
         CREATE FUNCTION boom(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN IF (SELECT on_ FROM flag) AND $1 > 100 THEN RAISE EXCEPTION 'boom'; END IF; RETURN $1; END $$;\n\
         CREATE TABLE p (a int) PARTITION BY RANGE (a);\n\
         CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);\n\
         CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200);\n\
         INSERT INTO p VALUES (1), (150);\n\
         CREATE INDEX p_boom ON p (boom(a));\n\
         UPDATE flag SET on_ = true",
    );
    assert!(d.execute("REINDEX (CONCURRENTLY) TABLE p").is_err());
    let left: Vec<String> = d
        .health()
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            HealthIssue::InvalidIndex { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert!(!left.is_empty(), "the failed REINDEX left a copy");
    assert_eq!(
        d.drop_invalid_indexes(&[], "REINDEX (CONCURRENTLY) TABLE p")
            .unwrap(),
        left
    );
    assert!(d.health().unwrap().is_empty(), "{:?}", d.health());
}
