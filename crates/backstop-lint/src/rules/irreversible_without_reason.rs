//! `irreversible = true` without a reason.

use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "irreversible-without-reason",
        severity: Severity::Error,
        summary: "`irreversible = true` needs a non-empty `reason`",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Migration(check),
    docs: r#"An irreversible migration stops every rollback that reaches it (unless forced, which is
audited). The people who hit that stop need to know why; `reason` is what backstop shows
them. The migrations loader already refuses a missing or blank reason, so `backstop lint`
(of the directory, a folder or a file) reports it as that error, with exit 2, before any rule
runs; this rule is the same check for migrations the linter gets another way.

## Bad
```toml
irreversible = true
reason = " "
```

## Good
```toml
irreversible = true
reason = "drops the v1 API tables; their data is archived in s3://backups/v1"
```"#,
};

fn check(cx: &MigCx, out: &mut Out) {
    let Some(reason) = &cx.mig.irreversible else {
        return;
    };
    if !reason.trim().is_empty() {
        return;
    }
    out.toml(
        "irreversible",
        "`irreversible = true` without a reason: a blocked rollback can't tell anyone why",
        "Add `reason = \"…\"` to migration.toml saying why the migration can't be rolled back.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "irreversible-without-reason";

    #[test]
    fn ok_with_reason() {
        lint_case_ok(
            ID,
            Case::pg("DROP TABLE t;").toml("irreversible = true\nreason = \"archived\"\n"),
        );
    }

    #[test]
    fn err_blank_reason() {
        expect![[r#"
            error[irreversible-without-reason]: `irreversible = true` without a reason: a blocked rollback can't tell anyone why
             --> migrations/20260101000000_m/migration.toml:1:1
              |
            1 | irreversible = true
              | ^^^^^^^^^^^^^^^^^^^
              = help: Add `reason = "…"` to migration.toml saying why the migration can't be rolled back.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::pg("DROP TABLE t;").toml("irreversible = true\nreason = \"  \"\n").render(ID));
    }
}
