//! BEGIN / COMMIT / ROLLBACK inside a migration file.

use super::*;
use crate::ir::{StmtKind, TxKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "transaction-control",
        severity: Severity::Error,
        summary:
            "BEGIN, COMMIT or ROLLBACK inside a migration breaks the transaction backstop manages",
        engines: ALL,
        category: "transactions",
    },
    check: Check::Stmt(Parts::All, check),
    docs: r#"backstop opens the transaction itself (and records history and the audit event in it). A
`COMMIT` in the script ends that transaction early: the statements after it run outside,
a failure leaves the migration half-applied, and the history row no longer matches what
ran. A `BEGIN` inside it is a no-op with a warning on PostgreSQL and an error on SQLite.
In a `transaction = false` migration, backstop records progress statement by statement and
can't resume inside your own transaction, so it is a warning there — except on SQLite,
where the bookkeeping would go into your transaction and vanish with it: backstop refuses
the statement when it runs, so the rule is an error. The same goes there for `SAVEPOINT`,
which opens a transaction when none is open, and for `RELEASE` and `ROLLBACK TO`, which
find no savepoint to end; inside backstop's transaction savepoints are fine.

## Bad
```sql
BEGIN;
ALTER TABLE users ADD COLUMN nickname text;
COMMIT;
```

## Good
```sql
ALTER TABLE users ADD COLUMN nickname text;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Transaction { kind, word } = &cx.stmt.kind else {
        return;
    };
    match kind {
        TxKind::Other => return,
        TxKind::Savepoint => return savepoint(cx, out, word),
        TxKind::Begin | TxKind::Commit | TxKind::Rollback => {}
    }
    let help = "Remove it: backstop wraps each migration in a transaction (set `transaction = false` to opt out).";
    if cx.mig.transaction {
        let msg = match kind {
            TxKind::Begin => format!("{word} inside a migration: backstop already runs it in a transaction, and a nested BEGIN is ignored or rejected"),
            _ => format!("{word} inside a migration ends the transaction backstop opened, so later statements run outside it and a failure leaves the migration half-applied"),
        };
        out.at(cx.index, msg, help);
    } else if cx.engine == Engine::Sqlite {
        out.at(cx.index, format!("{word} in a migration with `transaction = false`: on SQLite backstop's progress records would go into your transaction, so backstop refuses it when it runs"), "Remove it: each statement commits on its own, and backstop records its progress.");
    } else {
        out.at(cx.index, format!("{word} in a migration with `transaction = false`: backstop records progress per statement and can't resume inside your transaction"), help)
            .severity(Severity::Warning);
    }
}

/// Inside backstop's transaction a savepoint nests harmlessly. Outside one, on SQLite, a
/// SAVEPOINT opens a transaction (<https://sqlite.org/lang_savepoint.html>), which backstop
/// refuses when it runs, and a RELEASE or ROLLBACK TO finds no savepoint: either way the
/// statement fails after the ones before it committed, leaving the migration half-applied.
/// As an error, the apply gate refuses before anything runs.
fn savepoint(cx: &StmtCx, out: &mut Out, word: &str) {
    if cx.mig.transaction || cx.engine != Engine::Sqlite {
        return;
    }
    let msg = match word.split_whitespace().next() {
        Some("RELEASE") => "RELEASE in a migration with `transaction = false`: on SQLite there is no savepoint to release outside a transaction, so it fails when it runs, after the statements before it committed".to_string(),
        Some("ROLLBACK") => "ROLLBACK TO in a migration with `transaction = false`: on SQLite there is no savepoint to roll back to outside a transaction, so it fails when it runs, after the statements before it committed".to_string(),
        _ => "SAVEPOINT in a migration with `transaction = false`: on SQLite it opens a transaction, which would take backstop's progress records with it, so backstop refuses it when it runs, after the statements before it committed".to_string(),
    };
    out.at(
        cx.index,
        msg,
        "Remove it: each statement commits on its own; for all or nothing, drop `transaction = false` (savepoints work inside backstop's transaction).",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "transaction-control";

    #[test]
    fn sqlite_non_transactional_is_an_error() {
        use backstop_core::driver::Engine;
        let report = Case::on(Engine::Sqlite, "BEGIN;\nCREATE TABLE t (a);\nCOMMIT;")
            .toml("transaction = false\n")
            .render(ID);
        assert!(report.contains("error[transaction-control]: BEGIN in a migration with `transaction = false`: on SQLite"), "{report}");
        let report = Case::on(Engine::Postgres, "BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;")
            .toml("transaction = false\n")
            .render(ID);
        assert!(report.contains("warning[transaction-control]"), "{report}");
    }

    #[test]
    fn ok_sqlite_trigger_using_end_as_a_column() {
        // Regression: `OF end` and `new.end` closed the trigger body early, leaving `END;`
        // as a statement of its own that read as a COMMIT.
        use backstop_core::driver::Engine;
        let sql = "CREATE TABLE events(id, start, end, duration);\n\
                   CREATE TRIGGER tr AFTER UPDATE OF end ON events BEGIN\n\
                   UPDATE events SET duration = new.end - new.start WHERE id = new.id;\n\
                   END;";
        lint_case_ok(ID, Case::on(Engine::Sqlite, sql));
    }

    #[test]
    fn ok_savepoint() {
        lint_ok(ID, "SAVEPOINT a;\nRELEASE SAVEPOINT a;");
        use backstop_core::driver::Engine;
        let sql = "SAVEPOINT a;\nCREATE TABLE t (a);\nROLLBACK TO a;\nRELEASE a;";
        lint_case_ok(ID, Case::on(Engine::Sqlite, sql));
    }

    #[test]
    fn err_savepoint_in_sqlite_non_transactional() {
        // Regression: a SAVEPOINT was refused only when it ran, after the statements before
        // it committed (exit 5, dirty), instead of by the apply gate.
        use backstop_core::driver::Engine;
        expect![[r#"
            error[transaction-control]: SAVEPOINT in a migration with `transaction = false`: on SQLite it opens a transaction, which would take backstop's progress records with it, so backstop refuses it when it runs, after the statements before it committed
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | SAVEPOINT a;
              | ^^^^^^^^^^^
              = help: Remove it: each statement commits on its own; for all or nothing, drop `transaction = false` (savepoints work inside backstop's transaction).

            error[transaction-control]: ROLLBACK TO in a migration with `transaction = false`: on SQLite there is no savepoint to roll back to outside a transaction, so it fails when it runs, after the statements before it committed
             --> migrations/20260101000000_m/up.sql:4:1
              |
            4 | ROLLBACK TO a;
              | ^^^^^^^^^^^^^
              = help: Remove it: each statement commits on its own; for all or nothing, drop `transaction = false` (savepoints work inside backstop's transaction).

            error[transaction-control]: RELEASE in a migration with `transaction = false`: on SQLite there is no savepoint to release outside a transaction, so it fails when it runs, after the statements before it committed
             --> migrations/20260101000000_m/up.sql:5:1
              |
            5 | RELEASE SAVEPOINT a;
              | ^^^^^^^^^^^^^^^^^^^
              = help: Remove it: each statement commits on its own; for all or nothing, drop `transaction = false` (savepoints work inside backstop's transaction).

            3 errors, 0 warnings, 0 infos in 1 file (5 statements)
        "#]]
        .assert_eq(
            &Case::on(
                Engine::Sqlite,
                "CREATE TABLE t (a);\nSAVEPOINT a;\nINSERT INTO t VALUES (1);\nROLLBACK TO a;\nRELEASE SAVEPOINT a;",
            )
            .toml("transaction = false\n")
            .render(ID),
        );
    }

    #[test]
    fn err_begin_commit() {
        expect![[r#"
            error[transaction-control]: BEGIN inside a migration: backstop already runs it in a transaction, and a nested BEGIN is ignored or rejected
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | BEGIN;
              | ^^^^^
              = help: Remove it: backstop wraps each migration in a transaction (set `transaction = false` to opt out).

            error[transaction-control]: COMMIT inside a migration ends the transaction backstop opened, so later statements run outside it and a failure leaves the migration half-applied
             --> migrations/20260101000000_m/up.sql:3:1
              |
            3 | COMMIT;
              | ^^^^^^
              = help: Remove it: backstop wraps each migration in a transaction (set `transaction = false` to opt out).

            2 errors, 0 warnings, 0 infos in 1 file (3 statements)
        "#]].assert_eq(&lint_errors(ID, "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;"));
    }
}
