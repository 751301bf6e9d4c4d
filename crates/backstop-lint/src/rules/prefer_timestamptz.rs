//! `timestamp` without time zone.

use super::*;
use crate::ir::{AlterCmd, ColumnDef, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "prefer-timestamptz",
        severity: Severity::Info,
        summary: "`timestamp` without time zone is read back in whatever zone the session uses",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"`timestamp` (without time zone) stores a wall-clock reading with no zone: the same row means
different instants for sessions with different `TimeZone` settings, and daylight-saving
transitions make some values ambiguous. `timestamptz` stores an instant.

## Bad
```sql
CREATE TABLE events (happened_at timestamp NOT NULL);
```

## Good
```sql
CREATE TABLE events (happened_at timestamptz NOT NULL);
```"#,
};

pub(crate) fn columns(kind: &StmtKind) -> Vec<(&crate::ir::Name, &ColumnDef)> {
    match kind {
        StmtKind::CreateTable { table, columns, .. } => {
            columns.iter().map(|c| (table, c)).collect()
        }
        StmtKind::AlterTable { table, cmds, .. } => cmds
            .iter()
            .filter_map(|c| match c {
                AlterCmd::AddColumn { col, .. } => Some((table, col)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn check(cx: &StmtCx, out: &mut Out) {
    for (table, col) in columns(&cx.stmt.kind) {
        if col.ty.as_ref().is_some_and(|t| t.name == "timestamp") {
            out.at(cx.index, format!("column {table}.{} is `timestamp` without time zone: its values are read back in whatever zone the session uses", col.name), "Use timestamptz.")
                .token(cx.src, col.at, cx.engine);
        }
    }
    if let StmtKind::AlterTable { table, cmds, .. } = &cx.stmt.kind {
        for c in cmds {
            if let AlterCmd::ColumnType { column, ty, at, .. } = c {
                if ty.name == "timestamp" {
                    out.at(cx.index, format!("column {table}.{column} becomes `timestamp` without time zone: its values are read back in whatever zone the session uses"), "Use timestamptz.")
                        .token(cx.src, *at, cx.engine);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "prefer-timestamptz";

    #[test]
    fn ok_timestamptz() {
        lint_ok(
            ID,
            "CREATE TABLE e (at timestamptz, at2 timestamp with time zone);",
        );
    }

    #[test]
    fn err_timestamp() {
        expect![[r#"
            info[prefer-timestamptz]: column events.happened_at is `timestamp` without time zone: its values are read back in whatever zone the session uses
             --> migrations/20260101000000_m/up.sql:3:3
              |
            3 |   happened_at timestamp NOT NULL
              |   ^^^^^^^^^^^
              = help: Use timestamptz.

            0 errors, 0 warnings, 1 info in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE TABLE events (\n  id bigint,\n  happened_at timestamp NOT NULL\n);"));
    }
}
