//! ADD UNIQUE / PRIMARY KEY / EXCLUDE that builds its index under ACCESS EXCLUSIVE.

use super::*;
use crate::ir::{AlterCmd, ConKind, Constraint, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "add-unique-without-index",
        severity: Severity::Error,
        summary: "ADD UNIQUE or PRIMARY KEY builds its index under ACCESS EXCLUSIVE; use a concurrent index and USING INDEX",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"`ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY` (and a new column declared `UNIQUE` or
`PRIMARY KEY`) builds the backing index while holding ACCESS EXCLUSIVE: the table can't be
read or written until the index exists. Build the index first with
`CREATE UNIQUE INDEX CONCURRENTLY`, then attach it with `USING INDEX`, which is instant.
Exclusion constraints have no such path and are reported too.

## Bad
```sql
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
```

## Good
```sql
-- migration 1 (transaction = false)
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
-- migration 2
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
```"#,
};

fn report(cx: &StmtCx, out: &mut Out, table: &crate::ir::Name, k: &Constraint) {
    let what = match k.kind {
        ConKind::Unique => "UNIQUE",
        ConKind::PrimaryKey => "PRIMARY KEY",
        ConKind::Exclude => "EXCLUDE",
        _ => return,
    };
    if k.using_index.is_some() {
        return;
    }
    let help = if matches!(k.kind, ConKind::Exclude) {
        "Add exclusion constraints when the table is created, or in a maintenance window."
            .to_string()
    } else {
        format!(
            "Create a unique index CONCURRENTLY first, then ADD CONSTRAINT … {what} USING INDEX."
        )
    };
    out.at(cx.index, format!("ADD {what} builds its index on {table} under an ACCESS EXCLUSIVE lock, blocking reads and writes until the index is built"), help)
        .token(cx.src, k.at, cx.engine);
}

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterTable {
        table, obj, cmds, ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !obj.has_storage() || !cx.catalog.is_existing(table) {
        return;
    }
    for c in cmds {
        match c {
            AlterCmd::AddConstraint(k) => report(cx, out, table, k),
            AlterCmd::AddColumn { col, .. } => {
                for k in &col.constraints {
                    report(cx, out, table, k);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "add-unique-without-index";

    #[test]
    fn ok_using_index() {
        lint_ok(
            ID,
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;",
        );
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD PRIMARY KEY (a);",
        );
    }

    #[test]
    fn err_inline_index_build() {
        expect![[r#"
            error[add-unique-without-index]: ADD UNIQUE builds its index on users under an ACCESS EXCLUSIVE lock, blocking reads and writes until the index is built
             --> migrations/20260101000000_m/up.sql:1:23
              |
            1 | ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
              |                       ^^^^^^^^^^
              = help: Create a unique index CONCURRENTLY first, then ADD CONSTRAINT … UNIQUE USING INDEX.

            error[add-unique-without-index]: ADD PRIMARY KEY builds its index on accounts under an ACCESS EXCLUSIVE lock, blocking reads and writes until the index is built
             --> migrations/20260101000000_m/up.sql:2:26
              |
            2 | ALTER TABLE accounts ADD PRIMARY KEY (id);
              |                          ^^^^^^^
              = help: Create a unique index CONCURRENTLY first, then ADD CONSTRAINT … PRIMARY KEY USING INDEX.

            2 errors, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);\nALTER TABLE accounts ADD PRIMARY KEY (id);"));
    }
}
