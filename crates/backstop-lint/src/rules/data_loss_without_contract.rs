//! A statement destroys data and the migration's contract doesn't allow it.

use super::*;
use backstop_core::migration::DataLoss;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "data-loss-without-contract",
        severity: Severity::Error,
        summary: "A statement destroys data but the contract does not say data_loss = \"snapshot\" or \"accepted\"",
        engines: ALL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"backstop proves that a rollback restores the schema and the data. A statement that destroys
data (DROP TABLE, DROP COLUMN, TRUNCATE, DELETE, an UPDATE that overwrites values that were
there before the migration, DROP SCHEMA … CASCADE, a narrowing type change) can't be undone
by down.sql alone. The migration must say what should happen to that data:

```toml
[contract]
data_loss = "snapshot"   # backstop saves the data before up.sql and restores it on rollback
# or
data_loss = "accepted"   # the data may go; say why in the description or ticket
```

Tables and columns created earlier in the same migration hold no data yet and don't count.

## Bad
```sql
ALTER TABLE users DROP COLUMN legacy_flags;   -- no [contract] data_loss
```

## Good
```toml
[contract]
data_loss = "snapshot"
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    if cx.impact.destroys.is_empty() {
        return;
    }
    if matches!(
        cx.mig.data_loss,
        Some(DataLoss::Snapshot | DataLoss::Accepted)
    ) {
        return;
    }
    let what = cx.impact.destroys.join(", ");
    let (msg, help) = if cx.mig.is_migration {
        (
            format!(
                "{} destroys {what}, and the migration's contract does not allow data loss",
                cx.stmt.kind.verb()
            ),
            "Set `data_loss = \"snapshot\"` (or \"accepted\") under [contract] in migration.toml.",
        )
    } else {
        (
            format!("{} destroys {what}, and no migration contract allows data loss", cx.stmt.kind.verb()),
            "Put the change in a migration whose migration.toml sets `data_loss = \"snapshot\"` or \"accepted\" under [contract].",
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
            Case::pg("DROP TABLE legacy_sessions;").toml("[contract]\ndata_loss = \"snapshot\"\n"),
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
              = help: Set `data_loss = "snapshot"` (or "accepted") under [contract] in migration.toml.

            error[data-loss-without-contract]: ALTER TABLE destroys column users.flags, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER TABLE users DROP COLUMN flags;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "snapshot"` (or "accepted") under [contract] in migration.toml.

            error[data-loss-without-contract]: TRUNCATE destroys every row of audit_log, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:3:1
              |
            3 | TRUNCATE audit_log;
              | ^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "snapshot"` (or "accepted") under [contract] in migration.toml.

            error[data-loss-without-contract]: DELETE destroys the deleted rows of carts, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:4:1
              |
            4 | DELETE FROM carts WHERE updated_at < now() - interval '1 year';
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "snapshot"` (or "accepted") under [contract] in migration.toml.

            error[data-loss-without-contract]: UPDATE destroys the previous values of users.email, and the migration's contract does not allow data loss
             --> migrations/20260101000000_m/up.sql:5:1
              |
            5 | UPDATE users SET email = lower(email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `data_loss = "snapshot"` (or "accepted") under [contract] in migration.toml.

            5 errors, 0 warnings, 0 infos in 1 file (5 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "DROP TABLE legacy_sessions;\nALTER TABLE users DROP COLUMN flags;\nTRUNCATE audit_log;\nDELETE FROM carts WHERE updated_at < now() - interval '1 year';\nUPDATE users SET email = lower(email);",
        ));
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
