//! now(), random(), gen_random_uuid(), nextval() … in backfills.

use super::*;
use crate::impact::is_nondeterministic;
use crate::ir::{AlterCmd, Expr, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "non-deterministic-backfill",
        severity: Severity::Warning,
        summary: "now(), random(), gen_random_uuid(), nextval() and similar in a backfill make runs differ",
        engines: ALL,
        category: "determinism",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"backstop rehearses a migration on a copy, then applies it to production, and may roll it
back and re-apply it. A backfill whose values come from the clock, a random generator or a
sequence gives different data each time: the rehearsal doesn't predict production, and a
rollback followed by re-apply doesn't reproduce the original data. This covers `UPDATE …
SET`, `INSERT … SELECT`, and `ADD COLUMN … DEFAULT` on an existing table (the default is
written into every existing row at migration time).

## Bad
```sql
UPDATE users SET api_key = gen_random_uuid();
ALTER TABLE orders ADD COLUMN migrated_at timestamptz DEFAULT now();
```

## Good
Derive values from existing data (`md5(id::text || email)`), or generate them in the
application; for timestamps, use a literal or a column that already exists."#,
};

fn first_call(e: &Expr) -> Option<&(String, usize)> {
    e.funcs.iter().find(|(f, _)| is_nondeterministic(f))
}

fn check(cx: &StmtCx, out: &mut Out) {
    let help = "Derive the values from existing data or pass a fixed literal.";
    match &cx.stmt.kind {
        StmtKind::Update { table, set, .. } => {
            for (col, e) in set {
                if let Some((f, at)) = first_call(e) {
                    out.at(
                        cx.index,
                        format!("{f}() in UPDATE {table} SET {col} gives different values in rehearsal and production, and a rollback can't reproduce them"),
                        help,
                    )
                    .token(cx.src, *at, cx.engine);
                }
            }
        }
        StmtKind::Insert {
            table,
            from_select: true,
            exprs,
        } => {
            if let Some((f, at)) = exprs.iter().find_map(first_call) {
                out.at(
                    cx.index,
                    format!("{f}() in INSERT INTO {table} … SELECT gives different values in rehearsal and production, and a rollback can't reproduce them"),
                    help,
                )
                .token(cx.src, *at, cx.engine);
            }
        }
        StmtKind::AlterTable {
            table, obj, cmds, ..
        } if obj.has_storage() && cx.catalog.is_existing(table) => {
            for c in cmds {
                let AlterCmd::AddColumn { col, .. } = c else {
                    continue;
                };
                if let Some((f, at)) = col.default.as_ref().and_then(first_call) {
                    out.at(
                        cx.index,
                        format!("DEFAULT {f}() is written into every existing row of {table} at migration time, so rehearsal and production get different values"),
                        "Add the column without a default, backfill from existing data, then SET DEFAULT for new rows.",
                    )
                    .token(cx.src, *at, cx.engine);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "non-deterministic-backfill";

    #[test]
    fn ok_deterministic() {
        lint_ok(ID, "UPDATE users SET email = lower(email) WHERE id < 100;");
        lint_ok(ID, "CREATE TABLE t (created_at timestamptz DEFAULT now());\nALTER TABLE users ALTER COLUMN created_at SET DEFAULT now();");
    }

    #[test]
    fn err_backfills() {
        expect![[r#"
            warning[non-deterministic-backfill]: gen_random_uuid() in UPDATE users SET api_key gives different values in rehearsal and production, and a rollback can't reproduce them
             --> migrations/20260101000000_m/up.sql:1:28
              |
            1 | UPDATE users SET api_key = gen_random_uuid() WHERE api_key IS NULL;
              |                            ^^^^^^^^^^^^^^^
              = help: Derive the values from existing data or pass a fixed literal.

            warning[non-deterministic-backfill]: nextval() in INSERT INTO audit … SELECT gives different values in rehearsal and production, and a rollback can't reproduce them
             --> migrations/20260101000000_m/up.sql:2:35
              |
            2 | INSERT INTO audit (id, at) SELECT nextval('audit_seq'), now() FROM users;
              |                                   ^^^^^^^
              = help: Derive the values from existing data or pass a fixed literal.

            warning[non-deterministic-backfill]: DEFAULT now() is written into every existing row of orders at migration time, so rehearsal and production get different values
             --> migrations/20260101000000_m/up.sql:3:63
              |
            3 | ALTER TABLE orders ADD COLUMN migrated_at timestamptz DEFAULT now();
              |                                                               ^^^
              = help: Add the column without a default, backfill from existing data, then SET DEFAULT for new rows.

            0 errors, 3 warnings, 0 infos in 1 file (3 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "UPDATE users SET api_key = gen_random_uuid() WHERE api_key IS NULL;\nINSERT INTO audit (id, at) SELECT nextval('audit_seq'), now() FROM users;\nALTER TABLE orders ADD COLUMN migrated_at timestamptz DEFAULT now();",
        ));
    }

    #[test]
    fn err_sqlite_now() {
        expect![[r#"
            warning[non-deterministic-backfill]: now() in UPDATE users SET seen_at gives different values in rehearsal and production, and a rollback can't reproduce them
             --> migrations/20260101000000_m/up.sql:1:37
              |
            1 | UPDATE users SET seen_at = datetime('now');
              |                                     ^^^^^
              = help: Derive the values from existing data or pass a fixed literal.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Sqlite, "UPDATE users SET seen_at = datetime('now');").render(ID));
    }
}
