//! Unqualified table names when the migrations create several schemas.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "unqualified-name",
        severity: Severity::Info,
        summary: "Unqualified table names are ambiguous when the migrations create several schemas",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"Once the migrations create schemas besides `public`, an unqualified name means whatever
the session's `search_path` finds first, which can differ between the migration runner,
the application and a person in psql. Qualify names in migrations.

## Bad
```sql
CREATE SCHEMA billing;
CREATE TABLE invoices (id bigint);   -- public.invoices or billing.invoices?
```

## Good
```sql
CREATE TABLE billing.invoices (id bigint);
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let schemas: Vec<&String> = cx
        .catalog
        .schemas
        .iter()
        .filter(|s| s.as_str() != "public")
        .collect();
    if schemas.is_empty() {
        return;
    }
    let table = match &cx.stmt.kind {
        StmtKind::CreateTable { table, .. } => Some(table.clone()),
        StmtKind::Drop {
            obj, names, table, ..
        } => match obj {
            // A trigger, policy or rule is named through its table.
            _ if table.is_some() => table.clone(),
            // Schemas, databases and extensions live in no schema (nor do most kinds no
            // rule models: roles, servers, publications, languages, …).
            Obj::Schema | Obj::Database { .. } | Obj::Extension | Obj::Other(_) => None,
            _ => names.iter().find(|n| n.schema.is_none()).cloned(),
        },
        StmtKind::CreateView { name, .. } => Some(name.clone()),
        _ => crate::analyze::main_table(cx.stmt),
    };
    let Some(t) = table.filter(|t| t.schema.is_none() && !t.name.is_empty()) else {
        return;
    };
    let list = schemas
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    out.at(
        cx.index,
        format!("{} is not schema-qualified, and the migrations create schemas besides public ({list}); the search_path decides which one this means", t.name),
        format!("Qualify the name, e.g. public.{}.", t.name),
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "unqualified-name";

    #[test]
    fn ok_single_schema() {
        lint_ok(ID, "CREATE TABLE invoices (id bigint);");
        lint_ok(
            ID,
            "CREATE SCHEMA billing;\nCREATE TABLE billing.invoices (id bigint);",
        );
    }

    #[test]
    fn ok_objects_outside_schemas() {
        // Regression: DROP SCHEMA, DROP EXTENSION and DROP TRIGGER … ON s.t were told to
        // qualify a name that can't be (`public.s1`, `public.tr`).
        for sql in [
            "DROP SCHEMA s1;",
            "DROP SCHEMA IF EXISTS s1, s2 CASCADE;",
            "DROP EXTENSION IF EXISTS pgcrypto;",
            "DROP TRIGGER tr ON billing.invoices;",
            "DROP POLICY IF EXISTS p ON billing.invoices;",
            "DROP RULE r ON billing.invoices;",
            "DROP PUBLICATION pub;",
            "DROP EVENT TRIGGER et;",
            "DROP SERVER srv;",
            "DROP LANGUAGE plperl;",
        ] {
            lint_ok(ID, &format!("CREATE SCHEMA billing;\n{sql}"));
        }
        let out = lint_errors(ID, "CREATE SCHEMA billing;\nDROP TRIGGER tr ON invoices;");
        assert!(
            out.contains("info[unqualified-name]: invoices is not"),
            "{out}"
        );
    }

    #[test]
    fn err_ambiguous() {
        expect![[r#"
            info[unqualified-name]: invoices is not schema-qualified, and the migrations create schemas besides public (billing); the search_path decides which one this means
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | CREATE TABLE invoices (id bigint);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Qualify the name, e.g. public.invoices.

            0 errors, 0 warnings, 1 info in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "CREATE SCHEMA billing;\nCREATE TABLE invoices (id bigint);"));
    }
}
