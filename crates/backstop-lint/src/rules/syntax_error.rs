//! Statements the parser rejects.

use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "syntax-error",
        severity: Severity::Error,
        summary: "The statement does not parse",
        engines: ALL,
        category: "meta",
    },
    check: Check::Builtin,
    docs: r#"PostgreSQL scripts are parsed with libpg_query, PostgreSQL's own grammar: a statement it
rejects would fail on the server too. The finding points at the token where parsing
stopped. The other statements of the script are still analysed.

SQLite and MySQL/MariaDB scripts are read by a tokenizer, which reports only lexical
errors (an unterminated string, quoted identifier or comment) and unbalanced parentheses,
so it never rejects SQL the database would accept.

A PostgreSQL statement too deeply nested to analyse is reported as a warning with this id.

## Bad
```sql
ALTER TABLE users ADD COLUMN;
```"#,
};

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "syntax-error";

    #[test]
    fn ok_valid() {
        lint_ok(ID, "SELECT 1;");
    }

    #[test]
    fn err_position() {
        expect![[r#"
            error[syntax-error]: syntax error at or near "DEFALT"
             --> migrations/20260101000000_m/up.sql:2:32
              |
            2 | ALTER TABLE t ADD COLUMN b int DEFALT 0;
              |                                ^^^^^^
              = help: Fix the SQL so the database can parse it.

            1 error, 0 warnings, 0 infos in 1 file (2 statements)
        "#]]
        .assert_eq(&lint_errors(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int DEFALT 0;\nSELECT 1;",
        ));
    }

    #[test]
    fn ok_sqlite_comment_that_would_nest_on_postgres() {
        // SQLite ends a comment at the first `*/`: `/* a /* b */` is a whole comment there.
        lint_case_ok(
            ID,
            Case::on(
                Engine::Sqlite,
                "CREATE TABLE a(x); /* TODO /* old */\nCREATE TABLE b([semi;col] TEXT);",
            ),
        );
    }

    #[test]
    fn err_sqlite_unterminated() {
        expect![[r#"
            error[syntax-error]: unterminated string
             --> migrations/20260101000000_m/up.sql:1:23
              |
            1 | INSERT INTO t VALUES ('abc);
              |                       ^
              = help: Fix the SQL so the database can parse it.

            1 error, 0 warnings, 0 infos in 1 file (0 statements)
        "#]]
        .assert_eq(&Case::on(Engine::Sqlite, "INSERT INTO t VALUES ('abc);").render(ID));
    }
}
