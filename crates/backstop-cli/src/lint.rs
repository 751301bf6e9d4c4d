//! Wiring the linter into `lint`, the apply gate and `plan`.

use backstop_core::driver::Engine;
use backstop_core::engine::{LintGate, LintHook, LintOverride};
use backstop_core::migration::{Migration, Part};
use backstop_core::report::{Impact, PlanFinding, PlanReport};
use backstop_lint::{LintOptions, Severity};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The engine whose rules apply, from the database URL's scheme.
pub fn engine_of(url: &str) -> Engine {
    match url
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "postgres" | "postgresql" => Engine::Postgres,
        "mysql" | "mariadb" => Engine::Mysql,
        _ => Engine::Sqlite,
    }
}

fn location(f: &backstop_lint::Finding) -> String {
    format!("{}:{}:{}", f.file.display(), f.line, f.column)
}

/// The apply gate: lint the pending migrations, with the schema model the earlier ones
/// build, and judge their findings.
pub fn hook(all: Vec<Migration>, engine: Engine, allow: Vec<(String, String)>) -> LintHook {
    LintHook(Arc::new(move |pending: &[&Migration]| {
        let versions: BTreeSet<i64> = pending.iter().map(|m| m.version).collect();
        let report = backstop_lint::lint_versions(
            &all,
            &versions,
            &LintOptions {
                engine,
                deny_warnings: false,
                allow: allow.clone(),
            },
        );
        let mut gate = LintGate::default();
        for f in report
            .findings
            .iter()
            .filter(|f| f.version.is_some_and(|v| versions.contains(&v)))
        {
            // up.sql runs now. The down script is stored now and runs at rollback, when it is
            // too late to fix: its errors that make the rollback do something else than
            // written (a PRAGMA a transaction ignores, transaction control, a destructive
            // statement) refuse too. Its lock findings, like verify's, are for `lint` and
            // `plan`.
            let gated = match f.part {
                Part::Up => true,
                Part::Down => down_gated(f.rule),
                _ => false,
            };
            if !gated || f.severity != Severity::Error {
                continue;
            }
            match &f.suppressed {
                Some(reason) => gate.overrides.push(LintOverride {
                    rule: f.rule.to_string(),
                    reason: reason.clone(),
                    version: f.version,
                    location: location(f),
                }),
                None => gate
                    .errors
                    .push(format!("{} {}: {}", location(f), f.rule, f.message)),
            }
        }
        gate
    }))
}

/// Whether an error in a down script refuses the apply that stores it: rules about what
/// the script does when it runs, not about how long it locks.
fn down_gated(rule: &str) -> bool {
    backstop_lint::rules()
        .iter()
        .find(|r| r.id == rule)
        .is_some_and(|r| matches!(r.category, "transactions" | "destructive"))
}

/// Add findings, per-statement locks and rewrite/scan impact, and what would need a
/// snapshot, to each pending migration of a plan.
pub fn annotate(plan: &mut PlanReport, all: &[Migration], engine: Engine) {
    let versions: BTreeSet<i64> = plan.pending.iter().map(|m| m.version).collect();
    let report = backstop_lint::lint_versions(
        all,
        &versions,
        &LintOptions {
            engine,
            deny_warnings: false,
            allow: vec![],
        },
    );
    let impacts_by_version = backstop_lint::migrations_impacts(all, &versions, engine);
    for pm in &mut plan.pending {
        pm.findings = report
            .findings
            .iter()
            .filter(|f| f.version == Some(pm.version))
            .map(|f| PlanFinding {
                rule: f.rule.to_string(),
                severity: f.severity.as_str().to_string(),
                message: f.message.clone(),
                help: f.help.clone(),
                location: location(f),
                suppressed: f.suppressed.clone(),
            })
            .collect();
        let Some(m) = all.iter().find(|m| m.version == pm.version) else {
            continue;
        };
        let Some(impacts) = impacts_by_version.get(&m.version) else {
            continue;
        };
        // Impacts count lines from the script's start, the plan from the file's.
        let offset = m.script_line_offset(Part::Up);
        for st in &mut pm.statements {
            if let Some(i) = impacts.iter().find(|i| i.line + offset == st.line) {
                st.impact = Some(Impact {
                    lock: i.lock.map(str::to_string),
                    tables: i.tables.clone(),
                    table_locks: i.table_locks.iter().map(|l| l.to_string()).collect(),
                    rewrites: i.rewrites,
                    scans: i.scans,
                    blocks: i.blocks.to_string(),
                    destroys_data: i.destroys_data,
                });
            }
        }
        pm.snapshot = impacts
            .iter()
            .filter(|i| i.destroys_data)
            .map(|i| {
                format!(
                    "line {}: {}",
                    i.line + offset,
                    i.sql.lines().next().unwrap_or("")
                )
            })
            .collect();
    }
}
