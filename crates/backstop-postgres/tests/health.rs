//! Schema health: invalid indexes from a failed concurrent build, NOT VALID constraints,
//! and dropping the invalid indexes a failed migration left behind.

mod common;

use backstop_core::driver::Driver;
use backstop_core::schema::HealthIssue;
use backstop_postgres::testing::TestDb;

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
    let e = d
        .execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)")
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("23505"), "{e:?}");
    assert!(d
        .execute("CREATE UNIQUE INDEX CONCURRENTLY t_b_key ON t ((a * 0))")
        .is_err());
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
    assert!(d.drop_invalid_indexes(&[]).is_err());
    d.rollback().unwrap();

    let dropped = d
        .drop_invalid_indexes(&["public.t_b_key".to_string()])
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
    assert_eq!(
        d.drop_invalid_indexes(&[]).unwrap(),
        vec!["public.t_b_key".to_string()]
    );
    assert!(d.health().unwrap().is_empty());
}
