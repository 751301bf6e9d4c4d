//! CLUSTER and VACUUM FULL (and SQLite's VACUUM): whole rewrites under an exclusive lock.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "cluster-or-vacuum-full",
        severity: Severity::Error,
        summary: "CLUSTER and VACUUM FULL rewrite the table under ACCESS EXCLUSIVE",
        engines: &[Engine::Postgres, Engine::Sqlite],
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"`CLUSTER` and `VACUUM FULL` write a new copy of the table and its indexes while holding
ACCESS EXCLUSIVE: no reads, no writes, for as long as copying the whole table takes, and
double the disk space meanwhile. Tools such as pg_repack or pg_squeeze do the same work
online. On SQLite, `VACUUM` rebuilds the whole database file and blocks writers.

## Bad
```sql
VACUUM FULL events;
```

## Good
Run `pg_repack --table events` outside the migration, or plain `VACUUM` (no FULL)."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let (what, table) = match &cx.stmt.kind {
        StmtKind::Cluster { table } => ("CLUSTER", table.as_ref().map(|t| t.to_string())),
        StmtKind::Vacuum { full: true, tables } => {
            ("VACUUM FULL", tables.first().map(|t| t.to_string()))
        }
        _ => return,
    };
    if cx.engine == Engine::Sqlite {
        out.at(
            cx.index,
            "VACUUM rebuilds the whole database file, blocking every writer until it finishes",
            "Run VACUUM outside migrations, at a quiet time.",
        );
        return;
    }
    let t = table.unwrap_or_else(|| "every table it touches".into());
    out.at(
        cx.index,
        format!("{what} rewrites {t} under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite"),
        "Use pg_repack or pg_squeeze outside the migration instead.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "cluster-or-vacuum-full";

    #[test]
    fn ok_plain_vacuum() {
        lint_case_ok(
            ID,
            Case::pg("VACUUM ANALYZE events;").toml("transaction = false\n"),
        );
    }

    #[test]
    fn err_rewrites() {
        expect![[r#"
            error[cluster-or-vacuum-full]: CLUSTER rewrites events under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | CLUSTER events USING events_pkey;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use pg_repack or pg_squeeze outside the migration instead.

            error[cluster-or-vacuum-full]: VACUUM FULL rewrites events under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | VACUUM FULL events;
              | ^^^^^^^^^^^^^^^^^^
              = help: Use pg_repack or pg_squeeze outside the migration instead.

            2 errors, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "CLUSTER events USING events_pkey;\nVACUUM FULL events;"));
    }
}
