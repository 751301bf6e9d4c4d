//! A statement destroys data and the migration's contract doesn't allow it.

use super::*;
use backstop_core::migration::DataLoss;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "data-loss-without-contract",
        severity: Severity::Error,
        summary: "A statement destroys data but the contract does not say data_loss = \"accepted\"",
        engines: ALL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"backstop proves that a rollback restores the schema and the data. A statement that destroys
data (DROP TABLE, DROP COLUMN, TRUNCATE, DELETE, an UPDATE that overwrites values that were
there before the migration, DROP SCHEMA … CASCADE, a narrowing type change) can't be undone
by down.sql alone. The migration must say that the data may go:

```toml
[contract]
data_loss = "accepted"   # the data may go; say why in the description or ticket
```

Take a backup of the data first if it may be needed again: a rollback recreates the table
or column, empty.

`data_loss = "snapshot"` (backstop saves the data before up.sql and restores it on
rollback) is part of the file format, but this version of backstop can't take snapshots:
it does not satisfy this rule, and `apply` refuses a migration whose contract says it
(exit 3, before anything runs) rather than lose the data silently. Until snapshots come,
back the data up and accept the loss, or keep the data in the schema (stop using the
column or table) and drop it in a later migration.

Tables and columns created earlier in the same migration hold no data yet and don't count.

## Bad
```sql
ALTER TABLE users DROP COLUMN legacy_flags;   -- no [contract] data_loss
```

## Good
```toml
[contract]
data_loss = "accepted"   # legacy_flags backed up to s3://backups/ID-123
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    if cx.impact.destroys.is_empty() {
        return;
    }
    // Only "accepted" allows it: this version takes no snapshots, so a "snapshot"
    // contract would lose the data all the same (apply refuses it).
    if cx.mig.data_loss == Some(DataLoss::Accepted) {
        return;
    }
    let what = cx.impact.destroys.join(", ");
    let (msg, help) = if cx.mig.data_loss == Some(DataLoss::Snapshot) {
        (
            format!(
                "{} destroys {what}, and the migration's contract says data_loss = \"snapshot\", which this version of backstop can't take",
                cx.stmt.kind.verb()
            ),
            "Back the data up and set `data_loss = \"accepted\"` under [contract], or keep the data until a later migration; apply refuses a \"snapshot\" contract.",
        )
    } else if cx.mig.is_migration {
        (
            format!(
                "{} destroys {what}, and the migration's contract does not allow data loss",
                cx.stmt.kind.verb()
            ),
            "Set `data_loss = \"accepted\"` under [contract] in migration.toml (back the data up first if it may be needed again).",
        )
    } else {
        (
            format!("{} destroys {what}, and no migration contract allows data loss", cx.stmt.kind.verb()),
            "Put the change in a migration whose migration.toml sets `data_loss = \"accepted\"` under [contract].",
        )
    };
    out.at(cx.index, msg, help);
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "data-loss-without-contract";

    #[test]
    fn ok_with_contract_or_new_objects() {
        lint_case_ok(
            ID,
            Case::pg("DROP TABLE legacy_sessions;").toml("[contract]\ndata_loss = \"accepted\"\n"),
        );
        lint_ok(
            ID,
            "CREATE TABLE tmp (a int);\nDELETE FROM tmp;\nDROP TABLE tmp;",
        );
        lint_ok(
            ID,
            "ALTER TABLE users ADD COLUMN v boolean;\nUPDATE users SET v = false;",
        );
    }

    #[test]
    fn err_destructive_statements() {
        expect![[r#"
            error[data-loss-without-contract]: DROP TABLE destroys every row of legacy_sessions, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DROP TABLE legacy_sessions;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "accepted"` under [contract] in migration.toml (back the data up first if it may be needed again).

            error[data-loss-without-contract]: ALTER TABLE destroys column users.flags, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER TABLE users DROP COLUMN flags;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "accepted"` under [contract] in migration.toml (back the data up first if it may be needed again).

            error[data-loss-without-contract]: TRUNCATE destroys every row of audit_log, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:3:1
              |
            3 | TRUNCATE audit_log;
              | ^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "accepted"` under [contract] in migration.toml (back the data up first if it may be needed again).

            error[data-loss-without-contract]: DELETE destroys the deleted rows of carts, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:4:1
              |
            4 | DELETE FROM carts WHERE updated_at < now() - interval '1 year';
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "accepted"` under [contract] in migration.toml (back the data up first if it may be needed again).

            error[data-loss-without-contract]: UPDATE destroys the previous values of users.email, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:5:1
              |
            5 | UPDATE users SET email = lower(email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "accepted"` under [contract] in migration.toml (back the data up first if it may be needed again).

            5 errors, 0 warnings, 0 infos in 1 file (5 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "DROP TABLE legacy_sessions;\nALTER TABLE users DROP COLUMN flags;\nTRUNCATE audit_log;\nDELETE FROM carts WHERE updated_at < now() - interval '1 year';\nUPDATE users SET email = lower(email);",
        ));
    }

    #[test]
    fn err_a_snapshot_contract_is_not_kept_by_this_version() {
        let r = Case::pg("DROP TABLE legacy_sessions;")
            .toml("[contract]\ndata_loss = \"snapshot\"\n")
            .render(ID);
        assert!(
            r.contains("says data_loss = \"snapshot\", which this version of backstop can't take"),
            "{r}"
        );
        assert!(r.contains("set `data_loss = \"accepted\"`"), "{r}");
    }

    #[test]
    fn err_plain_file_has_no_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("cleanup.sql");
        std::fs::write(&f, "TRUNCATE audit_log;\n").expect("write");
        let r = crate::lint_files(&[f], &crate::LintOptions::default()).expect("lint");
        let mine: Vec<_> = r.findings.iter().filter(|f| f.rule == ID).collect();
        assert_eq!(mine.len(), 1);
        assert!(
            mine[0].message.contains("no migration contract"),
            "{}",
            mine[0].message
        );
    }
}
