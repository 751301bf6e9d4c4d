//! SQLite: DROP TABLE of a parent table runs the ON DELETE actions of its children.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "sqlite-drop-table-runs-on-delete",
        severity: Severity::Error,
        summary: "DROP TABLE deletes its rows first, running ON DELETE CASCADE / SET NULL / SET DEFAULT in the tables that reference it",
        engines: &[Engine::Sqlite],
        category: "destructive",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"With foreign keys enforced (backstop turns them on for every connection), SQLite's
`DROP TABLE` first runs an implicit `DELETE FROM` the table, and that delete runs the
`ON DELETE` actions of every foreign key pointing at it: `CASCADE` deletes the child rows,
`SET NULL` and `SET DEFAULT` overwrite their keys. The table rebuild that SQLite's
`ALTER TABLE` needs for most changes (create the new table, copy, drop the old one,
rename) therefore empties or rewrites the children of the table it rebuilds, and the
migration succeeds. The data-loss contract of the `DROP` covers the dropped table's own
rows, not its children's.

Neither of the usual workarounds helps inside a transaction (`transaction = true`, the
default): `PRAGMA foreign_keys = OFF` does nothing there (see
[`sqlite-pragma-in-transaction`](sqlite-pragma-in-transaction.md)), and
`PRAGMA defer_foreign_keys = ON` only moves the checks to COMMIT; the actions still run.

The rule knows the foreign keys declared by earlier migrations, so a parent table created
long ago is recognised. It follows `ON DELETE CASCADE` down the generations: deleting the
children's rows runs their own children's actions, so a grandchild is named too, with the
table its delete comes through. It follows renames as SQLite does (a child's `REFERENCES` names
the table's new name; a rebuild that renames the parent away first still empties the
children when it drops the old one). Children the same script drops later anyway (a
down.sql dropping in creation order) don't count, but their own children that stay do. It stays silent when the migration is
`transaction = false` and runs `PRAGMA foreign_keys = OFF` before the `DROP`.

## Bad
```sql
-- an earlier migration: CREATE TABLE child (..., parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);
PRAGMA defer_foreign_keys = ON;
CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO parent_new SELECT id, name FROM parent;
DROP TABLE parent;          -- deletes every row of child
ALTER TABLE parent_new RENAME TO parent;
```

## Good
SQLite's own recipe (<https://sqlite.org/lang_altertable.html#otheralter>), with
`transaction = false` in migration.toml so the PRAGMA takes effect, and
`[contract] data_loss = "accepted"`: the `DROP` still destroys the old table's rows as far as
[`data-loss-without-contract`](data-loss-without-contract.md) can tell (it does not follow
the copy), so the contract says that is intended:
```sql
PRAGMA foreign_keys = OFF;
CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO parent_new SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE parent_new RENAME TO parent;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Drop {
        obj: Obj::Table,
        names,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    // The PRAGMA only takes effect outside a transaction, and lasts until turned on again.
    if !cx.mig.transaction && foreign_keys_off_before(cx) {
        return;
    }
    // Children this script drops later anyway (a down.sql dropping in creation order):
    // emptying them first changes nothing that stays.
    let dropped_later: Vec<String> = cx
        .stmts
        .iter()
        .skip(cx.index + 1)
        .filter_map(|s| match &s.kind {
            StmtKind::Drop {
                obj: Obj::Table,
                names,
                ..
            } => Some(names.iter().map(child_key).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    for table in names {
        // A child dropped later still passes the delete on to its own children, which
        // stay: those count.
        let actions: Vec<(String, String, Option<String>)> = cx
            .catalog
            .delete_actions_on(table)
            .into_iter()
            .filter(|(child, _, _)| !dropped_later.contains(child))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let list = actions
            .iter()
            .map(|(child, action, via)| match via {
                None => format!("{child} (ON DELETE {action})"),
                Some(via) => format!("{child} (ON DELETE {action}, through {via})"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let why = if cx.mig.transaction {
            "this migration runs in a transaction, where PRAGMA foreign_keys = OFF does nothing"
        } else {
            "no PRAGMA foreign_keys = OFF runs before it"
        };
        out.at(
            cx.index,
            format!(
                "DROP TABLE {table} deletes every row of {table} first, with foreign keys enforced ({why}): the ON DELETE actions of {list} delete or overwrite their rows that reference it"
            ),
            "Rebuild the table as SQLite documents it: set `transaction = false` in migration.toml, run `PRAGMA foreign_keys = OFF` first, rebuild (create the new table, copy, drop the old one, rename), then `PRAGMA foreign_key_check` and `PRAGMA foreign_keys = ON`. PRAGMA defer_foreign_keys delays the checks, not the actions.",
        );
    }
}

/// A table as [`Catalog::delete_actions_on`](crate::catalog) names a child.
fn child_key(n: &crate::ir::Name) -> String {
    let k = n.key();
    k.strip_prefix("public.").map(str::to_string).unwrap_or(k)
}

/// Whether the last `PRAGMA foreign_keys` before this statement turned them off.
fn foreign_keys_off_before(cx: &StmtCx) -> bool {
    let mut off = false;
    for s in cx.stmts.iter().take(cx.index) {
        if let StmtKind::Pragma { name, value } = &s.kind {
            if name.eq_ignore_ascii_case("foreign_keys") {
                off = matches!(value.as_str(), "off" | "0" | "false" | "no");
            }
        }
    }
    off
}

#[cfg(test)]
mod tests {
    use crate::load::in_memory_migration;
    use crate::rules::testing::*;
    use crate::types::{LintOptions, LintReport};
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "sqlite-drop-table-runs-on-delete";

    const PARENT: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n\
        CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);\n\
        CREATE TABLE note (id INTEGER PRIMARY KEY, parent_id INTEGER, FOREIGN KEY (parent_id) REFERENCES \"Parent\" (id) ON UPDATE CASCADE ON DELETE SET NULL);\n\
        CREATE TABLE tag (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE RESTRICT);";

    const REBUILD: &str = "PRAGMA defer_foreign_keys = ON;\n\
        CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
        INSERT INTO parent_new SELECT id, coalesce(name, '') FROM parent;\n\
        DROP TABLE parent;\n\
        ALTER TABLE parent_new RENAME TO parent;";

    const CONTRACT: &str = "[contract]\ndata_loss = \"accepted\"\n";

    /// The parent schema in one migration, then `up` (with `toml`) in the next.
    fn two(up: &str, toml: &str) -> LintReport {
        let first = in_memory_migration(1, "parent", PARENT, None, None, None);
        let second = in_memory_migration(2, "rebuild", up, None, None, Some(toml));
        let mut r = crate::lint_migrations(
            &[first, second],
            &LintOptions {
                engine: Engine::Sqlite,
                deny_warnings: false,
                allow: vec![],
            },
        );
        r.findings.retain(|f| f.rule == ID);
        r.finish();
        r
    }

    #[test]
    fn err_rebuild_of_a_parent_declared_earlier() {
        expect![[r#"
            error[sqlite-drop-table-runs-on-delete]: DROP TABLE parent deletes every row of parent first, with foreign keys enforced (this migration runs in a transaction, where PRAGMA foreign_keys = OFF does nothing): the ON DELETE actions of child (ON DELETE CASCADE), note (ON DELETE SET NULL) delete or overwrite their rows that reference it
             --> migrations/2_rebuild/up.sql:4:1
              |
            4 | DROP TABLE parent;
              | ^^^^^^^^^^^^^^^^^
              = help: Rebuild the table as SQLite documents it: set `transaction = false` in migration.toml, run `PRAGMA foreign_keys = OFF` first, rebuild (create the new table, copy, drop the old one, rename), then `PRAGMA foreign_key_check` and `PRAGMA foreign_keys = ON`. PRAGMA defer_foreign_keys delays the checks, not the actions.

            1 error, 0 warnings, 0 infos in 2 files (9 statements)
        "#]]
        .assert_eq(&crate::render_text(&two(REBUILD, CONTRACT)));
    }

    #[test]
    fn err_outside_a_transaction_without_the_pragma() {
        let toml = "transaction = false\n[contract]\ndata_loss = \"accepted\"\n";
        let r = two(REBUILD, toml);
        assert_eq!(r.findings.len(), 1, "{}", crate::render_text(&r));
        assert!(r.findings[0]
            .message
            .contains("no PRAGMA foreign_keys = OFF runs before it"));
        // Turned off, then on again before the DROP: the actions run.
        let on_again = format!("PRAGMA foreign_keys = OFF;\nPRAGMA foreign_keys = ON;\n{REBUILD}");
        assert_eq!(two(&on_again, toml).findings.len(), 1);
    }

    #[test]
    fn ok_sqlite_recipe() {
        let up = format!(
            "PRAGMA foreign_keys = OFF;\n{REBUILD}\nPRAGMA foreign_key_check;\nPRAGMA foreign_keys = ON;"
        );
        let toml = "transaction = false\n[contract]\ndata_loss = \"accepted\"\n";
        let r = two(&up, toml);
        assert!(r.findings.is_empty(), "{}", crate::render_text(&r));
    }

    #[test]
    fn ok_without_delete_actions() {
        // RESTRICT / NO ACTION make the DROP fail instead of changing rows; a table that
        // nothing references, or a child, is dropped alone.
        for up in ["DROP TABLE tag;", "DROP TABLE child;", "DROP TABLE note;"] {
            let r = two(up, CONTRACT);
            assert!(r.findings.is_empty(), "{up}: {}", crate::render_text(&r));
        }
        lint_case_ok(
            ID,
            Case::on(
                Engine::Sqlite,
                "CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (p_id INTEGER REFERENCES p (id) ON UPDATE CASCADE);\nDROP TABLE c;\nDROP TABLE p;",
            )
            .toml(CONTRACT),
        );
    }

    #[test]
    fn err_parent_spelled_in_another_case_in_the_same_migration() {
        let c = Case::on(
            Engine::Sqlite,
            "CREATE TABLE \"Parent\" (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE kid (p INTEGER, FOREIGN KEY (p) REFERENCES parent ON DELETE SET DEFAULT);\n\
             DROP TABLE PARENT;",
        )
        .toml(CONTRACT);
        let out = c.render(ID);
        assert!(out.contains("kid (ON DELETE SET DEFAULT)"), "{out}");
    }

    #[test]
    fn err_parent_renamed_earlier_or_first() {
        // Foreign keys follow a renamed table: dropping it under its new name still runs
        // the children's actions.
        let first = in_memory_migration(1, "parent", PARENT, None, None, None);
        let second = in_memory_migration(
            2,
            "rename",
            "ALTER TABLE parent RENAME TO parents;",
            Some("ALTER TABLE parents RENAME TO parent;"),
            None,
            None,
        );
        let third = in_memory_migration(
            3,
            "rebuild",
            &REBUILD.replace("parent", "parents"),
            None,
            None,
            Some(CONTRACT),
        );
        let mut r = crate::lint_migrations(
            &[first, second, third],
            &LintOptions {
                engine: Engine::Sqlite,
                deny_warnings: false,
                allow: vec![],
            },
        );
        r.findings.retain(|f| f.rule == ID);
        assert_eq!(r.findings.len(), 1, "{}", crate::render_text(&r));
        assert!(r.findings[0].message.contains("child (ON DELETE CASCADE)"));
        // The rename-first rebuild: the children now point at the old table.
        let up = "ALTER TABLE parent RENAME TO parent_old;\n\
                  CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                  INSERT INTO parent SELECT id, coalesce(name, '') FROM parent_old;\n\
                  DROP TABLE parent_old;";
        let r = two(up, CONTRACT);
        assert_eq!(r.findings.len(), 1, "{}", crate::render_text(&r));
        assert!(r.findings[0].message.contains("DROP TABLE parent_old"));
    }

    #[test]
    fn err_child_column_without_a_type() {
        // SQLite columns need no type: `REFERENCES` is not one.
        for child in [
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id REFERENCES parent(id) ON DELETE CASCADE);",
            "CREATE TABLE child (id INTEGER PRIMARY KEY);\nALTER TABLE child ADD COLUMN parent_id REFERENCES parent(id) ON DELETE CASCADE;",
        ] {
            let sql =
                format!("CREATE TABLE parent (id INTEGER PRIMARY KEY);\n{child}\nDROP TABLE parent;");
            let c = Case::on(Engine::Sqlite, &sql).toml(CONTRACT);
            let out = c.render(ID);
            assert!(out.contains("child (ON DELETE CASCADE)"), "{child}: {out}");
        }
    }

    #[test]
    fn err_grandchildren_reached_through_cascade() {
        // Deleting child's rows runs child's own ON DELETE actions: grand (CASCADE) and
        // its child great (SET NULL) lose rows too. A table reached twice is named once;
        // a SET NULL child passes nothing on (its rows stay).
        let sql = "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n\
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);\n\
            CREATE TABLE grand (id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES child(id) ON DELETE CASCADE, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);\n\
            CREATE TABLE great (id INTEGER PRIMARY KEY, grand_id INTEGER REFERENCES grand(id) ON DELETE SET NULL);\n\
            CREATE TABLE side (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE SET NULL);\n\
            CREATE TABLE beyond (id INTEGER PRIMARY KEY, side_id INTEGER REFERENCES side(id) ON DELETE CASCADE);\n\
            DROP TABLE parent;";
        let out = Case::on(Engine::Sqlite, sql).toml(CONTRACT).render(ID);
        assert!(
            out.contains("the ON DELETE actions of child (ON DELETE CASCADE), grand (ON DELETE CASCADE), side (ON DELETE SET NULL), great (ON DELETE SET NULL, through grand) delete"),
            "{out}"
        );
        assert!(!out.contains("beyond"), "{out}");
        // The child dropped later still passes the delete on to its children, which stay.
        let sql = "CREATE TABLE p (id INTEGER PRIMARY KEY);\n\
            CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id) ON DELETE CASCADE);\n\
            CREATE TABLE g (c_id INTEGER REFERENCES c (id) ON DELETE CASCADE);\n\
            DROP TABLE p;\nDROP TABLE c;";
        let out = Case::on(Engine::Sqlite, sql).toml(CONTRACT).render(ID);
        assert!(
            out.contains("of g (ON DELETE CASCADE, through c) delete"),
            "{out}"
        );
        // A table reached through SET NULL first and through CASCADE later loses its rows,
        // and passes the delete on to its own children.
        let sql = "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n\
            CREATE TABLE c (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);\n\
            CREATE TABLE x (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE SET NULL, c_id INTEGER REFERENCES c (id) ON DELETE CASCADE);\n\
            CREATE TABLE y (x_id INTEGER REFERENCES x (id) ON DELETE CASCADE);\n\
            DROP TABLE parent;";
        let out = Case::on(Engine::Sqlite, sql).toml(CONTRACT).render(ID);
        assert!(
            out.contains("of c (ON DELETE CASCADE), x (ON DELETE CASCADE, through c), y (ON DELETE CASCADE, through x) delete"),
            "{out}"
        );
        // Cycles end.
        let sql = "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER);\n\
            CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id) ON DELETE CASCADE);\n\
            CREATE TABLE a2 (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b (id) ON DELETE CASCADE, x INTEGER REFERENCES a2 (id) ON DELETE CASCADE);\n\
            DROP TABLE a;";
        let out = Case::on(Engine::Sqlite, sql).toml(CONTRACT).render(ID);
        assert!(
            out.contains("of b (ON DELETE CASCADE), a2 (ON DELETE CASCADE, through b) delete"),
            "{out}"
        );
    }

    #[test]
    fn ok_children_dropped_later_in_the_same_script() {
        // A down.sql dropping in creation order: the cascade only empties a table the next
        // statement drops anyway.
        lint_case_ok(
            ID,
            Case::on(
                Engine::Sqlite,
                "CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (p_id INTEGER REFERENCES p (id) ON DELETE CASCADE);\nDROP TABLE IF EXISTS p;\nDROP TABLE IF EXISTS c;",
            )
            .toml(CONTRACT),
        );
        // One child dropped later, another kept: still an error, naming only the kept one.
        let r = two("DROP TABLE parent;\nDROP TABLE child;", CONTRACT);
        assert_eq!(r.findings.len(), 1, "{}", crate::render_text(&r));
        assert!(!r.findings[0].message.contains("child (ON DELETE CASCADE)"));
        assert!(r.findings[0].message.contains("note (ON DELETE SET NULL)"));
    }
}
