//! serial types instead of identity columns.

use super::prefer_timestamptz::columns;
use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "prefer-identity",
        severity: Severity::Info,
        summary: "serial columns are better written as identity columns",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"`serial` creates a separate sequence with its own owner and permissions, which tools and
dumps handle inconsistently, and lets anyone insert explicit values that later collide.
`GENERATED ALWAYS AS IDENTITY` is the SQL-standard form, tied to the column.

## Bad
```sql
CREATE TABLE orders (id bigserial PRIMARY KEY);
```

## Good
```sql
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    for (table, col) in columns(&cx.stmt.kind) {
        if !col.serial {
            continue;
        }
        let ty = col
            .ty
            .as_ref()
            .map(|t| t.display.clone())
            .unwrap_or_else(|| "serial".into());
        let base = if ty == "smallserial" {
            "smallint"
        } else if ty == "serial" {
            "integer"
        } else {
            "bigint"
        };
        out.at(cx.index, format!("column {table}.{} uses {ty}, whose sequence is a separate object with its own owner and permissions", col.name), format!("Use `{base} GENERATED ALWAYS AS IDENTITY`."))
            .token(cx.src, col.at, cx.engine);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "prefer-identity";

    #[test]
    fn ok_identity() {
        lint_ok(
            ID,
            "CREATE TABLE o (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        );
    }

    #[test]
    fn err_serial() {
        expect![[r#"
            info[prefer-identity]: column orders.id uses bigserial, whose sequence is a separate object with its own owner and permissions
             --> migrations/20260101000000_m/up.sql:1:22
              |
            1 | CREATE TABLE orders (id bigserial PRIMARY KEY);
              |                      ^^
              = help: Use `bigint GENERATED ALWAYS AS IDENTITY`.

            0 errors, 0 warnings, 1 info in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE TABLE orders (id bigserial PRIMARY KEY);"));
    }
}
