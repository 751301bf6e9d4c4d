//! apply: pre-flight checks, lock, then each pending migration with its proof recorded.

use super::rollback::undo_one;
use super::run::{
    self, append_and_commit, append_with, read_next, record, run_statements, ScriptRef,
};
use super::{crosscheck, dirty, inspect, snapshot, Ctx, RunFailure};
use crate::driver::{Driver, RecordCommitError, Timeouts};
use crate::error::EngineError;
use crate::history::{HistoryRow, Status, StoredState};
use crate::ledger::NewEvent;
use crate::migration::{Migration, Part};
use crate::redact::redact;
use crate::report::{
    AppliedMigration, ApplyReport, HistoryState, NeedsPersonReport, NextCommand, Situation,
};
use crate::schema::SchemaState;
use crate::sumfile;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Apply up to and including this version.
    pub to: Option<i64>,
    /// Release id recorded with every migration of this run (default: generated).
    pub release: Option<String>,
    pub dry_run: bool,
    /// On failure, roll back every migration this run applied.
    pub atomic: bool,
    /// `--allow-drift --reason`: apply although the schema changed outside backstop.
    pub allow_drift: Option<String>,
    /// Path of backstop.sum.
    pub sum_path: PathBuf,
    /// Static analysis of the pending migrations (the linter lives in its own crate; the
    /// binary plugs it in here). Error findings refuse the apply.
    pub lint: Option<LintHook>,
}

/// What the lint gate says about the pending migrations.
#[derive(Debug, Clone, Default)]
pub struct LintGate {
    /// Unsuppressed error findings, one line each (`file:line:col rule: message`).
    pub errors: Vec<String>,
    /// Findings suppressed by `-- backstop:allow RULE reason` or `--allow RULE --reason`;
    /// applying with them is an audited override.
    pub overrides: Vec<LintOverride>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LintOverride {
    pub rule: String,
    pub reason: String,
    pub version: Option<i64>,
    /// `file:line:column`
    pub location: String,
}

/// Runs the linter over the pending migrations (given in apply order).
#[derive(Clone)]
pub struct LintHook(pub std::sync::Arc<LintFn>);

/// The signature of the lint gate.
pub type LintFn = dyn Fn(&[&Migration]) -> LintGate + Send + Sync;

impl std::fmt::Debug for LintHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LintHook")
    }
}

pub(crate) fn lint_refusal(gate: &LintGate) -> Option<(String, String)> {
    if gate.errors.is_empty() {
        return None;
    }
    // A long list buries the message; `backstop lint` prints every finding with help.
    const SHOWN: usize = 20;
    let mut list = gate
        .errors
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n    ");
    if gate.errors.len() > SHOWN {
        list.push_str(&format!(
            "\n    … and {} more (`backstop lint` lists them all)",
            gate.errors.len() - SHOWN
        ));
    }
    Some((
        format!("lint found {} error(s) in the pending migrations:\n    {list}", gate.errors.len()),
        "fix them (`backstop lint` shows each with help), suppress one statement with `-- backstop:allow RULE reason`, or re-run with --allow RULE --reason \"…\" (recorded in the audit ledger)".into(),
    ))
}

/// The refusal of a run on a schema changed outside backstop: reason and next step.
pub(crate) fn drift_refusal(recorded: &str, current: &str) -> (String, String) {
    (
        format!("the schema changed outside backstop since the last recorded fingerprint ({recorded} recorded, {current} now); `backstop status` shows the difference"),
        "find out who changed the schema; then re-run with --allow-drift --reason \"…\" to accept the current schema as the baseline".into(),
    )
}

/// Pending migrations whose contract promises `data_loss = "snapshot"`: this version of
/// backstop takes no snapshots (the `snapshot`/`restore` commands come later), so the data
/// such a migration destroys would be gone for good and its rollback could not bring it
/// back. Refused rather than run on a promise nothing keeps.
pub(crate) fn snapshot_refusal(pending: &[&Migration]) -> Option<(String, String)> {
    let asking: Vec<String> = pending
        .iter()
        .filter(|m| {
            m.config.contract.as_ref().and_then(|c| c.data_loss)
                == Some(crate::migration::DataLoss::Snapshot)
        })
        .map(|m| {
            let file = match m.layout {
                crate::migration::Layout::Folder => m.path.join("migration.toml"),
                crate::migration::Layout::SingleFile => m.path.clone(),
            };
            format!("{} ({})", m.id(), file.display())
        })
        .collect();
    if asking.is_empty() {
        return None;
    }
    Some((
        format!(
            "pending migration(s) {} set `data_loss = \"snapshot\"` under [contract], but this version of backstop can't take snapshots: the data they destroy would not be saved, and rolling them back would not bring it back",
            asking.join(", ")
        ),
        "take a backup of the data, then set `data_loss = \"accepted\"` and run `backstop sum`; or keep the data in the schema (don't drop it in this migration) until a later one".into(),
    ))
}

/// `--atomic` promises to undo the whole run on failure; it can't for irreversible
/// migrations.
fn atomic_refusal(opts: &ApplyOptions, pending: &[&Migration]) -> Option<(String, String)> {
    if !opts.atomic {
        return None;
    }
    let irreversible: Vec<String> = pending
        .iter()
        .filter(|m| m.irreversible_reason().is_some())
        .map(|m| m.id())
        .collect();
    if irreversible.is_empty() {
        return None;
    }
    Some((
        format!(
            "--atomic can't undo the whole run: pending migration(s) {} are irreversible",
            irreversible.join(", ")
        ),
        "apply without --atomic, or apply up to the migration before them with --atomic --to VERSION".into(),
    ))
}

/// The refusals of an apply to a database that does not exist yet (an SQLite file not
/// created): every migration up to `--to` is pending, so the sum, the contracts,
/// `--atomic` and the lint gate decide from the files alone. Run before the file is
/// created, so that a refused first apply leaves nothing behind; the checks are the ones
/// `apply` makes, in its order.
pub fn refusal_before_create(
    migrations: &[Migration],
    ctx: &Ctx,
    opts: &ApplyOptions,
) -> Result<(), EngineError> {
    check_target(migrations, opts.to)?;
    let mut ignored = Vec::new();
    let pending = pending_of(migrations, &[], opts.to);
    let refusal = sum_check(migrations, ctx, opts, &mut ignored)?
        .or_else(|| snapshot_refusal(&pending))
        .or_else(|| atomic_refusal(opts, &pending))
        .or_else(|| {
            opts.lint
                .as_ref()
                .and_then(|hook| lint_refusal(&(hook.0)(&pending)))
        });
    match refusal {
        Some((reason, next)) => Err(EngineError::refused(
            format!("{reason} (the database does not exist yet and was not created)"),
            next,
        )),
        None => Ok(()),
    }
}

/// A generated release id: UTC time and process id, unique enough per deploy.
pub fn new_release_id() -> String {
    let t = crate::now_rfc3339();
    let compact: String = t.chars().filter(|c| c.is_ascii_digit()).take(14).collect();
    format!("r{compact}-{:05}", std::process::id() % 100000)
}

/// `--to V` must name a migration in the folder: a mistyped target would otherwise apply
/// (or plan) everything up to it.
pub(crate) fn check_target(migrations: &[Migration], to: Option<i64>) -> Result<(), EngineError> {
    match to {
        Some(to) if !migrations.iter().any(|m| m.version == to) => Err(EngineError::Usage(format!(
            "no migration in the migrations folder has version {to}: --to takes the version of a migration to apply up to; nothing was changed"
        ))),
        _ => Ok(()),
    }
}

/// Apply pending migrations. See SPEC "apply, per migration".
///
/// The actor, the release id and the `--allow-drift` reason are masked before anything is
/// stored: a password in them never reaches history or the ledger.
pub fn apply(
    db: &mut dyn Driver,
    migrations: &[Migration],
    ctx: &Ctx,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Box<RunFailure>> {
    let ctx = &ctx.masked();
    let opts = &ApplyOptions {
        allow_drift: opts.allow_drift.as_deref().map(redact),
        ..opts.clone()
    };
    let release = redact(&opts.release.clone().unwrap_or_else(new_release_id));
    let mut warnings = Vec::new();
    check_target(migrations, opts.to)?;
    let sum_refusal = sum_check(migrations, ctx, opts, &mut warnings)?;

    if opts.dry_run {
        // Backstop's tables in one snapshot and the schema after it (no lock is taken: a
        // run may be going).
        let (tables, schema) = snapshot::tables_then_schema(db, false, |_| true)?;
        // As the real run would, and before its other checks: a damaged head refuses, a
        // lost head refuses unless the override records it, and so does history that
        // disagrees with the ledger (a rewritten checksum is that, not an edited file).
        let baseline = crosscheck::dry_run_checks(
            &tables,
            db.engine(),
            "apply",
            opts.allow_drift.is_some(),
            &mut warnings,
        )?;
        let snapshot::Tables {
            exists,
            history,
            stored,
            ..
        } = tables;
        if let Some((reason, next)) = sum_refusal {
            return Err(EngineError::refused(reason, next).into());
        }
        let pending = pending_of(migrations, &history, opts.to);
        let refusal = history_refusal(migrations, &history, opts.to, db.engine())
            .or_else(|| snapshot_refusal(&pending))
            .or_else(|| atomic_refusal(opts, &pending));
        if let Some((reason, next)) = refusal {
            return Err(EngineError::refused(reason, next).into());
        }
        if let Some(hook) = &opts.lint {
            if let Some((reason, next)) = lint_refusal(&(hook.0)(&pending)) {
                return Err(EngineError::refused(reason, next).into());
            }
        }
        // After a run recorded something every time, the schema now, for the report.
        let (schema, settled) = match schema {
            snapshot::SchemaRead::Read(s) => (s, true),
            _ => (db.schema(None)?, false),
        };
        let fingerprint = schema.fingerprint();
        let drifted = match baseline {
            Some(recorded) => Some(recorded).filter(|r| *r != fingerprint),
            None if exists => run::drifted(stored, &history, &fingerprint),
            None => None,
        };
        if !settled {
            warnings.push(snapshot::unsettled_warning("drift"));
        } else if let Some(recorded) = drifted {
            match &opts.allow_drift {
                None => {
                    let (reason, next) = drift_refusal(&recorded, &fingerprint);
                    return Err(EngineError::refused(reason, next).into());
                }
                Some(_) => warnings.push(format!("the schema changed outside backstop ({recorded} recorded, {fingerprint} now): --allow-drift will accept it as the baseline")),
            }
        }
        let plan = inspect::plan_from(db, migrations, &history, opts.to)?;
        return Ok(ApplyReport {
            database: db.display_url(),
            release_id: release,
            actor: ctx.actor.clone(),
            dry_run: true,
            applied: vec![],
            undone: vec![],
            pending: plan.pending.iter().map(|p| p.version).collect(),
            remaining: remaining(
                migrations,
                &history,
                &plan.pending.iter().map(|p| p.version).collect::<Vec<_>>(),
            ),
            fingerprint,
            warnings,
            plan: Some(plan),
        });
    }

    // The lock before anything touches the database: while another run's long migration
    // keeps it busy (SQLite locks the whole file), a runner must wait for the lock, up to
    // --lock-wait, instead of failing on its first read.
    let mut guard = super::acquire(db, ctx)?;
    let db: &mut dyn Driver = &mut *guard;
    db.ensure_history()?;
    // Only now, under the lock, is the history read: a runner that waited must see what
    // the previous holder applied.
    let history = db.load_history()?;
    let (mut state, lost) = run::load_state(db, &history)?;
    // A lost head comes first: until a person accepts it, nothing may be written (a
    // recorded refusal would write the head again), and the override that accepts it must
    // be the first event after the gap. What it wrote is said with any later refusal.
    let wrote = run::accept_lost_head(
        db,
        &mut state,
        &ctx.actor,
        lost.as_ref(),
        opts.allow_drift.as_deref(),
        "apply",
        Some(&release),
        &mut warnings,
    )?;
    let refused = |error: EngineError, warnings: &Vec<String>, wrote: &Option<String>| {
        Box::new(RunFailure {
            warnings: warnings.clone(),
            ..*Box::<RunFailure>::from(error.after(wrote.as_deref()))
        })
    };
    // History and the state row against the ledger, before anything is decided from them:
    // a rewritten checksum refuses here, as tampering, not below as an edited file.
    let found = crosscheck::crosscheck(
        &history,
        &db.load_events_brief()?,
        db.load_state()?.as_ref(),
        crosscheck::history_table(db.engine()),
    );
    match ledger_baseline(&found, "apply", opts.allow_drift.is_some(), &mut warnings) {
        Ok(Some(fp)) => state.fingerprint = fp,
        Ok(None) => {}
        Err((reason, next)) => {
            let ev = NewEvent::new("refused")
                .release(&release)
                .detail(json!({"command": "apply", "reason": reason}));
            let reason = run::record_refusal(db, &mut state, &ctx.actor, ev, reason);
            return Err(refused(
                EngineError::refused(reason, next),
                &warnings,
                &wrote,
            ));
        }
    }
    let refusal =
        sum_refusal.or_else(|| history_refusal(migrations, &history, opts.to, db.engine()));
    if let Some((reason, next)) = refusal {
        let ev = NewEvent::new("refused")
            .release(&release)
            .detail(json!({"command": "apply", "reason": reason}));
        let reason = run::record_refusal(db, &mut state, &ctx.actor, ev, reason);
        return Err(refused(
            EngineError::refused(reason, next),
            &warnings,
            &wrote,
        ));
    }
    let pending = pending_of(migrations, &history, opts.to);
    if let Some((reason, next)) =
        snapshot_refusal(&pending).or_else(|| atomic_refusal(opts, &pending))
    {
        let ev = NewEvent::new("refused")
            .release(&release)
            .detail(json!({"command": "apply", "reason": reason}));
        let reason = run::record_refusal(db, &mut state, &ctx.actor, ev, reason);
        return Err(refused(
            EngineError::refused(reason, next),
            &warnings,
            &wrote,
        ));
    }
    if let Some(hook) = &opts.lint {
        let gate = (hook.0)(&pending);
        if let Some((reason, next)) = lint_refusal(&gate) {
            let ev = NewEvent::new("refused")
                .release(&release)
                .detail(json!({"command": "apply", "reason": "lint", "errors": gate.errors}));
            let reason = run::record_refusal(db, &mut state, &ctx.actor, ev, reason);
            return Err(refused(
                EngineError::refused(reason, next),
                &warnings,
                &wrote,
            ));
        }
        if !gate.overrides.is_empty() {
            let ev = NewEvent::new("override")
                .release(&release)
                .detail(json!({"check": "lint", "suppressed": gate.overrides}));
            record(db, &mut state, &ctx.actor, ev)?;
            // One line per rule and reason: a release of many migrations can suppress the same
            // rule hundreds of times; the ledger keeps every location.
            let mut grouped: std::collections::BTreeMap<(&str, &str), Vec<&str>> =
                Default::default();
            for o in &gate.overrides {
                grouped
                    .entry((o.rule.as_str(), o.reason.as_str()))
                    .or_default()
                    .push(o.location.as_str());
            }
            for ((rule, reason), locs) in grouped {
                let at = if locs.len() == 1 {
                    locs[0].to_string()
                } else {
                    format!("{} and {} more", locs[0], locs.len() - 1)
                };
                warnings.push(format!("lint {rule} suppressed at {at}: {reason}"));
            }
        }
    }

    let mut schema = db.schema(None)?;
    let current_fp = schema.fingerprint();
    // Said with a failure of any migration: the acceptance stays, whatever they do.
    let mut accepted_note = None;
    if !state.fingerprint.is_empty() && state.fingerprint != current_fp {
        match &opts.allow_drift {
            None => {
                let (reason, next) = drift_refusal(&state.fingerprint, &current_fp);
                let ev = NewEvent::new("refused").release(&release).detail(json!({"command": "apply", "reason": "drift", "recorded": state.fingerprint, "current": current_fp}));
                let reason = run::record_refusal(db, &mut state, &ctx.actor, ev, reason);
                return Err(refused(
                    EngineError::refused(reason, next),
                    &warnings,
                    &wrote,
                ));
            }
            Some(reason) => {
                run::accept_drift(
                    db,
                    &mut state,
                    &ctx.actor,
                    reason,
                    &schema,
                    &current_fp,
                    Some(&release),
                    None,
                )?;
                warnings.push(format!("schema drift accepted: {reason}"));
                accepted_note = Some(super::rollback::drift_accepted_note(state.ledger_seq));
            }
        }
    }
    if state.fingerprint.is_empty() {
        state.fingerprint = current_fp;
    }

    let again = again(opts);
    let mut applied: Vec<AppliedMigration> = Vec::new();
    let mut rows: Vec<HistoryRow> = Vec::new();
    for (i, m) in pending.iter().enumerate() {
        ctx.say(|| {
            format!(
                "[{}/{}] applying {} {} …",
                i + 1,
                pending.len(),
                m.version,
                m.name
            )
        });
        let result = match db.reset_session() {
            Err(e) => Err(e.into()),
            Ok(()) if m.options.transaction && db.transactional_ddl() => {
                apply_tx(db, m, ctx, &release, &mut state, &mut schema, &again)
            }
            Ok(()) => apply_no_tx(db, m, ctx, &release, &mut state, &mut schema, &again),
        };
        match result {
            Ok((a, row)) => {
                applied.push(a);
                rows.push(row);
            }
            Err(error) => {
                let mut undone = Vec::new();
                let mut error = error;
                if opts.atomic && !rows.is_empty() && matches!(error, EngineError::Failed { .. }) {
                    for row in rows.iter().rev() {
                        // No drift was accepted after migrations of this very run.
                        match undo_one(
                            db,
                            row,
                            ctx,
                            &mut state,
                            &mut schema,
                            Some("--atomic: a later migration of the release failed"),
                            &Default::default(),
                            // What is left of the run is its release.
                            &run::Again {
                                name: "rollback",
                                args: format!(" --release {release}"),
                            },
                        ) {
                            Ok(_) => undone.push(row.version),
                            Err(e) => {
                                let still: Vec<i64> = rows
                                    .iter()
                                    .map(|r| r.version)
                                    .filter(|v| !undone.contains(v))
                                    .collect();
                                // Both failures matter: the one that started the undo says
                                // why the run failed, the undo's what is left to do.
                                // Each error's own state and next are superseded by the
                                // run's: only what happened is said of them.
                                let what = format!("--atomic: undoing migration {} after the failure did not complete: {}\n  the failure that started the undo: {}", row.version, headline(&e), headline(&error));
                                let transaction = row.options.transaction && db.transactional_ddl();
                                let cause = error.failure().cloned().map(Box::new);
                                // Superseded too, but not their word that an event is
                                // missing from the ledger.
                                let unrecorded = run::unrecorded_note(
                                    reported_state(&error),
                                    "the failure that started the undo",
                                ) + &run::unrecorded_note(
                                    reported_state(&e),
                                    "the undo's failure",
                                );
                                error = atomic_undo_failed(
                                    e,
                                    row,
                                    transaction,
                                    &release,
                                    still,
                                    what,
                                    &undone,
                                );
                                if let EngineError::NeedsPerson { failure, needs, .. } = &mut error
                                {
                                    if cause.is_some() {
                                        *failure = cause;
                                    }
                                    needs.state.push_str(&unrecorded);
                                }
                                break;
                            }
                        }
                    }
                    if let EngineError::Failed { state: st, .. } = &mut error {
                        let unrecorded = run::unrecorded_note(st, "this failure");
                        *st = format!("the failed migration was rolled back, and --atomic undid the {} migration(s) this run had applied ({undone:?}); the database is as before the run{unrecorded}", undone.len());
                    }
                } else if opts.atomic && !rows.is_empty() {
                    // A half-done migration must be resolved by a person first: undoing the
                    // earlier ones around it could not be proven.
                    if let EngineError::NeedsPerson { needs, .. } = &mut error {
                        let before: Vec<i64> = rows.iter().map(|r| r.version).collect();
                        needs.state.push_str(&format!("\n--atomic did not undo the migration(s) this run applied before it ({before:?}): they stay applied until the failed one is resolved; then `backstop rollback --release {release}` undoes the rest"));
                        needs.still_applied = before;
                        needs.commands.push(NextCommand::new(
                            format!("backstop rollback --release {release}"),
                            "after the failed migration is resolved: undoes what this run applied before it",
                        ));
                    }
                }
                if let Some(note) = &accepted_note {
                    error = error.with_state_note(note);
                }
                let versions: Vec<i64> = applied
                    .iter()
                    .map(|a| a.version)
                    .chain(undone.iter().copied())
                    .collect();
                let at = Stopped {
                    command: "apply",
                    version: m.version,
                    name: &m.name,
                };
                let error =
                    end_failed_run(db, &mut state, &schema, error, &versions, &mut warnings, at);
                return Err(Box::new(RunFailure {
                    error,
                    applied,
                    undone,
                    rolled_back: vec![],
                    warnings,
                    release_id: Some(release.clone()),
                }));
            }
        }
    }
    let fp = finish_run(db, &mut state, &schema).map_err(EngineError::from)?;
    let done: Vec<i64> = applied.iter().map(|a| a.version).collect();
    let left = remaining(migrations, &history, &done);
    if let Some(m) = fp.1 {
        warnings.push(m.warning);
    }
    Ok(ApplyReport {
        database: db.display_url(),
        release_id: release,
        actor: ctx.actor.clone(),
        dry_run: false,
        applied,
        undone: vec![],
        pending: vec![],
        remaining: left,
        fingerprint: fp.0,
        warnings,
        plan: None,
    })
}

/// What happened, from an error's text: without the state and next it reports.
fn headline(e: &EngineError) -> String {
    let text = e.to_string();
    match text.find("\n  state: ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The state error `e` reports, if any.
fn reported_state(e: &EngineError) -> &str {
    match e {
        EngineError::Failed { state, .. } | EngineError::RefusedAfter { state, .. } => state,
        EngineError::NeedsPerson { needs, .. } => &needs.state,
        _ => "",
    }
}

/// `--atomic` could not undo `row` (the error `e`) after a later migration failed: what a
/// person must take over. When the undo itself left work (a dirty down script, an unproven
/// schema), its facts stay; the run's own are added.
fn atomic_undo_failed(
    e: EngineError,
    row: &HistoryRow,
    transaction: bool,
    release: &str,
    still_applied: Vec<i64>,
    what: String,
    undone: &[i64],
) -> EngineError {
    let (failure, mut needs, diff) = match e {
        EngineError::NeedsPerson {
            failure,
            needs,
            diff,
            ..
        } => (failure, *needs, diff),
        other => {
            // A failed down script in a transaction was rolled back: still applied. Any
            // other error leaves it to `backstop status` to say.
            let history = match other {
                EngineError::Failed { .. } => HistoryState::Applied,
                _ => HistoryState::Unknown,
            };
            let failure = other.failure().cloned().map(Box::new);
            let mut n = NeedsPersonReport::new(
                Situation::AtomicUndoFailed,
                "apply",
                row.version,
                &row.name,
                history,
            );
            n.transaction = transaction;
            n.part = Some(Part::Down);
            n.file = failure.as_ref().map(|f| f.file.clone());
            n.commands = vec![NextCommand::new(
                "backstop status",
                "first: it shows what is applied now",
            )];
            (failure, n, None)
        }
    };
    needs.situation = Situation::AtomicUndoFailed;
    needs.command = "apply".into();
    let v = row.version;
    if needs.history == HistoryState::Dirty {
        // The undo stopped part-way with the migration dirty, and its own report says
        // exactly what ran and which `resolve` ends it: that stays, and comes first. A
        // rollback refuses while the migration is dirty, and it is not applied either.
        let still_applied: Vec<i64> = still_applied.into_iter().filter(|s| *s != v).collect();
        needs.state = format!(
            "{}
--atomic: undone so far: {undone:?}; migration {v} is dirty (as above); still applied from this run: {still_applied:?}",
            needs.state
        );
        needs.next = format!(
            "{}; only then `backstop rollback --release {release}` undoes what stays applied of this run ({}; migration {v} too, if it was resolved as applied): it refuses while migration {v} is dirty",
            needs.next,
            if still_applied.is_empty() {
                "nothing else".to_string()
            } else {
                format!("migration(s) {still_applied:?}")
            }
        );
        needs.still_applied = still_applied;
        needs.commands.push(NextCommand::new(
            format!("backstop rollback --release {release}"),
            format!("after migration {v} is resolved: undoes what stays applied of this run"),
        ));
        return EngineError::NeedsPerson {
            what,
            failure,
            needs: Box::new(needs),
            diff,
            path: None,
        };
    }
    needs.state =
        format!("undone so far: {undone:?}; still applied from this run: {still_applied:?}");
    needs.next = format!("run `backstop status`, then `backstop rollback --release {release}` once the cause is fixed (a lock, something in the database in the way); if migration {v}'s stored down script itself is wrong, undo that migration by hand and run `backstop resolve {v} --rolled-back --reason \"…\"` first");
    needs.still_applied = still_applied;
    needs.commands.push(NextCommand::new(
        format!("backstop rollback --release {release}"),
        "once the cause is fixed: undoes what stays applied of this run",
    ));
    EngineError::NeedsPerson {
        what,
        failure,
        needs: Box::new(needs),
        diff,
        path: None,
    }
}

/// The apply to run again after a failure: with the options that chose its migrations, so
/// it goes no further than this run was to go (`--to`) and stays all-or-nothing (`--atomic`).
fn again(opts: &ApplyOptions) -> run::Again {
    let mut args = String::new();
    if let Some(to) = opts.to {
        args.push_str(&format!(" --to {to}"));
    }
    if opts.atomic {
        args.push_str(" --atomic");
    }
    run::Again {
        name: "apply",
        args,
    }
}

/// The migration a run stopped at, and the command that ran it.
pub(crate) struct Stopped<'a> {
    pub command: &'static str,
    pub version: i64,
    pub name: &'a str,
}

/// The end of a run that failed: the end-of-run check and flush as far as they go. When
/// the commits of this run (`versions`, applied or undone) can't be confirmed durable —
/// the connection is gone — the failure becomes one that needs a person: those changes
/// are in the database now, but a server crash before it wrote them out would undo them
/// (each together with its history row).
pub(crate) fn end_failed_run(
    db: &mut dyn Driver,
    state: &mut StoredState,
    schema: &SchemaState,
    error: EngineError,
    versions: &[i64],
    warnings: &mut Vec<String>,
    at: Stopped,
) -> EngineError {
    // After a history write that could not be made, the end-of-run save would only wait
    // for the same holder again (and the error says nothing more was written): the state
    // row is as the migration's dirty marker left it.
    let unwritable = matches!(&error, EngineError::NeedsPerson { needs, .. } if needs.situation == Situation::ProgressNotRecorded
        || (needs.situation == Situation::RecordFailed && needs.history == HistoryState::Dirty));
    let durable = if unwritable {
        db.flush()
    } else {
        match finish_run(db, state, schema) {
            Ok((_, w)) => {
                // After a half-done migration the schema differs from the last per-migration
                // read by exactly what the error reports: no news, and no sign of another
                // session.
                if !matches!(error, EngineError::NeedsPerson { .. }) {
                    warnings.extend(w.map(|m| m.warning));
                }
                Ok(())
            }
            Err(_) => db.flush(),
        }
    };
    match durable {
        Err(e) if !versions.is_empty() => {
            let what = error.to_string();
            let (failure, mut needs) = match error {
                EngineError::NeedsPerson { failure, needs, .. } => (failure, *needs),
                other => {
                    // The failed migration itself was rolled back, its transaction or its
                    // clean-up proven: it is where it was before the run.
                    let history = match (&other, at.command) {
                        (EngineError::Failed { .. }, "rollback") => HistoryState::Applied,
                        (EngineError::Failed { .. }, _) => HistoryState::Pending,
                        _ => HistoryState::Unknown,
                    };
                    let failure = other.failure().cloned().map(Box::new);
                    let mut n = NeedsPersonReport::new(
                        Situation::NotDurable,
                        at.command,
                        at.version,
                        at.name,
                        history,
                    );
                    n.part = failure.as_ref().map(|f| f.part);
                    n.file = failure.as_ref().map(|f| f.file.clone());
                    (failure, n)
                }
            };
            needs.situation = Situation::NotDurable;
            needs.unconfirmed = versions.to_vec();
            needs.state = format!(
                "migration(s) {versions:?} of this run committed before the failure, but the server could not confirm they reached its disk ({}); if the server crashed, they were undone, each together with its history row",
                e.message
            );
            needs.next = "once the server is reachable, run `backstop status`: the history says exactly what is applied".into();
            needs.commands.insert(
                0,
                NextCommand::new(
                    "backstop status",
                    "once the server is reachable: the history says exactly what is applied",
                ),
            );
            EngineError::NeedsPerson {
                what,
                failure,
                needs: Box::new(needs),
                diff: None,
                path: None,
            }
        }
        _ => error,
    }
}

/// End of a run: a full catalog read checks the incremental per-migration reads, and the
/// schema text is stored for later drift diffs.
/// The full read at the end of a run differs from the per-migration reads.
pub(crate) struct EndMismatch {
    /// Said as a warning by `apply`.
    pub warning: String,
    /// `-` as the per-migration reads left it, `+` as read at the end.
    pub diff: String,
}

pub(crate) fn finish_run(
    db: &mut dyn Driver,
    state: &mut StoredState,
    incremental: &SchemaState,
) -> Result<(String, Option<EndMismatch>), crate::driver::DbError> {
    // The stamp holds for this read only if nothing changed while it ran. It only saves
    // time later: a stamp that can't be read (privileges) is no reason to fail the run.
    let stamp = db.catalog_stamp().ok().flatten();
    let full = db.schema(None)?;
    state.catalog_stamp = stamp.filter(|s| db.catalog_stamp().ok().flatten().as_ref() == Some(s));
    let fp = full.fingerprint();
    let mut warning = None;
    if fp != incremental.fingerprint() {
        // Not this run's to claim: no migration recorded the difference, so a rollback could
        // not undo or prove it. The baseline stays what the migrations recorded, and the
        // difference shows as drift until a person undoes or accepts it.
        warning = Some(EndMismatch {
            warning: format!(
                "the full schema read at the end of the run differs from the per-migration reads ({fp} vs {}): another session changed the schema during the run, or a change escaped tracking. It is not recorded as this run's: `backstop status` shows it as drift, and the next apply or rollback refuses until it is undone or accepted with --allow-drift --reason",
                incremental.fingerprint()
            ),
            diff: crate::schema::diff(incremental, &full),
        });
        state.fingerprint = incremental.fingerprint();
        state.schema_json = serde_json::to_string(incremental).ok();
        // The stamp vouches for the catalog as it is now, which is not the recorded schema.
        state.catalog_stamp = None;
    } else {
        state.fingerprint = fp.clone();
        state.schema_json = serde_json::to_string(&full).ok();
    }
    db.save_state(state)?;
    // The run's migrations committed without waiting for the disk; from here on they are
    // durable, before anything is reported as done.
    db.flush()?;
    Ok((fp, warning))
}

/// What a run does with the disagreements [`crosscheck::crosscheck`] `found`: none, go on;
/// only the state row's fingerprint, with `--allow-drift`, the ledger's baseline replaces
/// it (returned; the drift from it is then accepted and recorded as any other, and a
/// warning says so); otherwise the refusal.
pub(crate) fn ledger_baseline(
    found: &[crosscheck::Disagreement],
    command: &str,
    allow_drift: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, (String, String)> {
    match found {
        [] => Ok(None),
        [only] if allow_drift && only.ledger_fingerprint.is_some() => {
            warnings.push(format!("{}; --allow-drift takes the ledger's baseline instead, and accepts the schema's difference from it as drift", only.what));
            Ok(only.ledger_fingerprint.clone())
        }
        _ => Err(crosscheck::refusal(found, command)),
    }
}

pub(crate) fn sum_check(
    migrations: &[Migration],
    ctx: &Ctx,
    opts: &ApplyOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, String)>, EngineError> {
    match sumfile::read(&opts.sum_path)? {
        None if ctx.require_sum => Ok(Some((
            format!(
                "{} does not exist and this environment requires it",
                opts.sum_path.display()
            ),
            "run `backstop sum`, review and commit the file".into(),
        ))),
        None => {
            warnings.push(format!("{} does not exist: edits and merges of migration files can't be detected; run `backstop sum` and commit it", opts.sum_path.display()));
            Ok(None)
        }
        Some(sum) => {
            let d = sumfile::compare(&sum, migrations);
            if d.is_clean() {
                return Ok(None);
            }
            let mut parts = Vec::new();
            if !d.changed.is_empty() {
                parts.push(format!(
                    "changed since the sum was written: {}",
                    d.changed.join(", ")
                ));
            }
            if !d.added.is_empty() {
                parts.push(format!("not in the sum: {}", d.added.join(", ")));
            }
            if !d.removed.is_empty() {
                parts.push(format!(
                    "in the sum but not on disk: {}",
                    d.removed.join(", ")
                ));
            }
            if d.total_mismatch {
                parts.push(
                    "the total line does not match the entries (the file was edited by hand)"
                        .into(),
                );
            }
            Ok(Some((
                format!("migration files disagree with {}: {}", opts.sum_path.display(), parts.join("; ")),
                "review the listed migrations (an edited file, or two branches merged), then run `backstop sum` and commit it".into(),
            )))
        }
    }
}

/// Checks against history that refuse an apply: dirty/failed rows, edited applied
/// migrations, and pending migrations older than the newest applied one.
pub(crate) fn history_refusal(
    migrations: &[Migration],
    history: &[HistoryRow],
    to: Option<i64>,
    engine: crate::driver::Engine,
) -> Option<(String, String)> {
    let stuck: Vec<&HistoryRow> = history
        .iter()
        .filter(|r| matches!(r.status, Status::Dirty | Status::Failed))
        .collect();
    if let Some(r) = stuck.first() {
        return Some((
            format!("migration {} ({}) is {} in history{}", r.version, r.name, r.status.as_str(), r.explained_note(engine).map(|n| format!(": {n}")).unwrap_or_default()),
            format!("inspect the database, then `backstop resolve {} --applied --reason \"…\"` if its change is complete, or `--rolled-back` if it is gone", r.version),
        ));
    }
    let mut edited = Vec::new();
    for r in history.iter().filter(|r| r.status == Status::Applied) {
        if let Some(m) = migrations.iter().find(|m| m.version == r.version) {
            if m.checksum != r.checksum {
                edited.push(format!("{} ({})", m.id(), m.path.display()));
            }
        }
    }
    if !edited.is_empty() {
        return Some((
            format!("applied migration(s) were edited after they were applied: {}", edited.join(", ")),
            "restore the applied text (history keeps it: `backstop status` names it), and put the change in a new migration (`backstop new`)".into(),
        ));
    }
    let max_applied = history
        .iter()
        .filter(|r| r.status == Status::Applied)
        .map(|r| r.version)
        .max();
    if let Some(max) = max_applied {
        let older: Vec<String> = pending_of(migrations, history, to)
            .iter()
            .filter(|m| m.version < max)
            .map(|m| m.id())
            .collect();
        if !older.is_empty() {
            return Some((
                format!("pending migration(s) {} are older than the newest applied migration {max}: applying them out of order would give this database a history no other database has", older.join(", ")),
                "give them a version newer than the newest applied one (rename the folder) and run `backstop sum`".into(),
            ));
        }
    }
    None
}

/// The pending migrations a run (that applies `applied`) leaves pending: with `--to`, the
/// ones after it. Reported so that "nothing to apply" is never read as "up to date".
fn remaining(migrations: &[Migration], history: &[HistoryRow], applied: &[i64]) -> Vec<i64> {
    pending_of(migrations, history, None)
        .into_iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect()
}

pub(crate) fn pending_of<'a>(
    migrations: &'a [Migration],
    history: &[HistoryRow],
    to: Option<i64>,
) -> Vec<&'a Migration> {
    migrations
        .iter()
        .filter(|m| to.is_none_or(|t| m.version <= t))
        .filter(|m| {
            !history
                .iter()
                .any(|r| r.version == m.version && r.status != Status::RolledBack)
        })
        .collect()
}

fn new_row(m: &Migration, ctx: &Ctx, release: &str, before: &str, started: String) -> HistoryRow {
    HistoryRow {
        version: m.version,
        name: m.name.clone(),
        checksum: m.checksum.clone(),
        up_sql: m.up.clone(),
        down_sql: m.down.clone(),
        verify_sql: m.verify.clone(),
        irreversible: m.irreversible_reason(),
        options: m.options.clone(),
        release_id: release.to_string(),
        actor: ctx.actor.clone(),
        started_at: started,
        finished_at: None,
        duration_ms: None,
        fingerprint_before: before.to_string(),
        fingerprint_after: None,
        schema_delta: "{}".into(),
        status: Status::Dirty,
        progress: 0,
        note: None,
    }
}

fn script_ref(m: &Migration, part: Part) -> ScriptRef<'_> {
    ScriptRef {
        version: m.version,
        name: &m.name,
        part,
        file: m.script_path(part).display().to_string(),
        line_offset: m.script_line_offset(part),
    }
}

fn failed(failure: crate::error::Failure, state: String, next: String) -> EngineError {
    EngineError::Failed {
        failure: Box::new(failure),
        state,
        next,
    }
}

/// Up + verify + history + ledger event in ONE transaction; retried on lock timeout.
fn apply_tx(
    db: &mut dyn Driver,
    m: &Migration,
    ctx: &Ctx,
    release: &str,
    state: &mut StoredState,
    schema: &mut SchemaState,
    again: &run::Again,
) -> Result<(AppliedMigration, HistoryRow), EngineError> {
    let up = run::split(db.engine(), Some(&m.up));
    let verify = run::split(db.engine(), m.verify.as_deref());
    let timeouts = Timeouts {
        lock: m.options.lock_timeout(),
        statement: m.options.statement_timeout(),
    };
    let mut attempt = 0u32;
    loop {
        let started = crate::now_rfc3339();
        let t0 = Instant::now();
        let began = match db.begin_batched(timeouts) {
            Ok(()) => Ok(()),
            Err(e) => Err(run::begin_lock_timeout(&script_ref(m, Part::Up), &up, e)?),
        };
        let ran = began
            .and_then(|_| {
                run_statements(
                    db,
                    &script_ref(m, Part::Up),
                    &up,
                    0,
                    verify.is_empty().then_some(&*schema),
                    |_, _| Ok(()),
                )
            })
            .and_then(|_| {
                run_statements(
                    db,
                    &script_ref(m, Part::Verify),
                    &verify,
                    0,
                    Some(&*schema),
                    |_, _| Ok(()),
                )
            })
            .and_then(|_| match verify.is_empty() {
                true => run::read_after(db, &script_ref(m, Part::Up), &up, schema),
                false => run::read_after(db, &script_ref(m, Part::Verify), &verify, schema),
            });
        let after = match ran {
            Ok(after) => after,
            Err(se) => {
                let _ = db.rollback();
                if se.is_lock_timeout() && attempt < m.options.retries {
                    run::retry_after_lock_timeout(ctx, &mut attempt, m.options.retries, || {
                        format!("in {}: rolled back;", m.name)
                    });
                    continue;
                }
                let tries = if attempt > 0 {
                    format!(" after {} retries on lock timeout", attempt)
                } else {
                    String::new()
                };
                let unrecorded = record_failure(db, state, ctx, release, m, &se.failure);
                let what = if se.read {
                    "the schema read after it failed, so the change"
                } else if se.failure.part == Part::Verify {
                    "its verify check failed, so the change"
                } else {
                    "the change"
                };
                let next = if se.read {
                    read_next(&se, again, db.engine(), m.options.lock_timeout().is_some())
                } else {
                    // The folder, or the file of a single-file migration.
                    run::script_next(
                        &se,
                        again,
                        m.options.lock_timeout().is_some(),
                        format!("fix {} and run `{}` again", m.path.display(), again.shell()),
                    )
                };
                return Err(failed(
                    se.failure,
                    format!("migration {} was rolled back{tries}: {what} left nothing behind (schema and history as before it){unrecorded}", m.version),
                    next,
                ));
            }
        };
        // Bookkeeping in the same transaction: the change and its record commit together.
        let book = (|| -> Result<(AppliedMigration, HistoryRow, StoredState, SchemaState), RecordCommitError> {
            // The run carries the current fingerprint; recomputing it would hash the whole
            // schema text again for every migration.
            debug_assert_eq!(state.fingerprint, schema.fingerprint());
            let before_fp = state.fingerprint.clone();
            let after_fp = after.fingerprint();
            let duration_ms = t0.elapsed().as_millis() as i64;
            let mut row = new_row(m, ctx, release, &before_fp, started.clone());
            let applied = completed(m, &mut row, schema, &after, &before_fp, &after_fp, duration_ms, up.len(), attempt);
            let mut st = state.clone();
            st.fingerprint = after_fp.clone();
            append_and_commit(db, Some(&row), &mut st, &ctx.actor, NewEvent::new("apply").version(m.version).release(release).detail(json!({"name": m.name, "checksum": m.checksum, "scripts": row.scripts_digest(), "duration_ms": duration_ms, "fingerprint_before": before_fp, "fingerprint_after": after_fp, "retries": attempt})))?;
            Ok((applied, row, st, after))
        })();
        match book {
            Ok((a, row, st, after)) => {
                *state = st;
                *schema = after;
                return Ok((a, row));
            }
            // COMMIT waited for a lock past lock_timeout (SQLite: another connection
            // still reading or writing the file): the transaction is rolled back and
            // tried again, as after a statement's lock timeout.
            Err(RecordCommitError::Commit(e))
                if e.kind == crate::driver::DbErrorKind::LockTimeout
                    && attempt < m.options.retries =>
            {
                let _ = db.rollback();
                run::retry_after_lock_timeout(ctx, &mut attempt, m.options.retries, || {
                    format!("at COMMIT of {}: rolled back;", m.name)
                });
                continue;
            }
            Err(RecordCommitError::Commit(e)) => {
                return Err(commit_failed(
                    db,
                    state,
                    ctx,
                    release,
                    m,
                    &script_ref(m, Part::Up),
                    up.len() + verify.len() + 1,
                    e,
                    again,
                ))
            }
            // The record waited --lock-wait for another session's lock on backstop's
            // tables: rolled back with the migration, and tried again, as after a
            // statement's lock timeout.
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::LockTimeout
                    && attempt < m.options.retries =>
            {
                let _ = db.rollback();
                run::retry_after_lock_timeout(ctx, &mut attempt, m.options.retries, || {
                    format!("recording {} in backstop's tables: rolled back;", m.name)
                });
                continue;
            }
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::LockTimeout =>
            {
                let _ = db.rollback();
                let failure =
                    run::record_failure(&script_ref(m, Part::Up), up.len() + verify.len() + 1, &e);
                let unrecorded = record_failure(db, state, ctx, release, m, &failure);
                let tries = if attempt > 0 {
                    format!(" after {attempt} retries on lock timeout")
                } else {
                    String::new()
                };
                return Err(failed(
                    failure,
                    format!("migration {} was rolled back{tries}: recording it waited --lock-wait for a lock another session holds on backstop's tables, so the change left nothing behind (schema and history as before it){unrecorded}", m.version),
                    run::record_lock_next(again),
                ));
            }
            // Another run wrote to the ledger meanwhile: nothing of the record was written
            // (and nothing more is: the head is the other run's).
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::HeadMoved =>
            {
                let _ = db.rollback();
                return Err(EngineError::RefusedAfter {
                    reason: format!("migration {} ran, but its record was refused: {}", m.version, e.message),
                    state: format!("migration {}'s transaction was rolled back with it, so this run did not apply it; the ledger is intact", m.version),
                    next: format!("run `backstop status` to see what the other run did (it may have applied migration {} itself) and `backstop audit verify`; find out how two runs got past the migration lock at once (a migration that releases it?), then run `{}` again if anything is left to do", m.version, again.shell()),
                });
            }
            Err(RecordCommitError::Record(e)) => {
                let _ = db.rollback();
                // The role may not write backstop's tables: nothing needs a person, the
                // transaction took the migration with it; what to grant is the answer.
                if e.kind == crate::driver::DbErrorKind::Privilege {
                    return Err(EngineError::Db {
                        source: crate::driver::DbError {
                            message: format!(
                                "migration {} ran, but recording it was refused: {}",
                                m.version, e.message
                            ),
                            detail: Some(format!("migration {}'s transaction was rolled back with it: it is not applied, and the database is as before it", m.version)),
                            ..e
                        },
                    });
                }
                let mut needs = NeedsPersonReport::new(
                    Situation::RecordFailed,
                    "apply",
                    m.version,
                    &m.name,
                    HistoryState::Pending,
                );
                needs.state = "the transaction was rolled back, so the migration is not applied; the database is as before it".into();
                needs.next = format!("check the connection and permissions on backstop's tables, then run `{}` again", again.shell());
                needs.commands = vec![NextCommand::new(
                    again.shell(),
                    "once the connection and the permissions on backstop's tables are fixed",
                )];
                return Err(EngineError::needs_person(
                    format!(
                        "migration {} ran, but recording it failed: {}",
                        m.version, e.message
                    ),
                    needs,
                ));
            }
        }
    }
}

/// Fill in the history row of a migration whose statements all completed, and the report
/// entry for it (both apply paths).
#[allow(clippy::too_many_arguments)]
fn completed(
    m: &Migration,
    row: &mut HistoryRow,
    before: &SchemaState,
    after: &SchemaState,
    before_fp: &str,
    after_fp: &str,
    duration_ms: i64,
    statements: usize,
    retries: u32,
) -> AppliedMigration {
    row.finished_at = Some(crate::now_rfc3339());
    row.duration_ms = Some(duration_ms);
    row.fingerprint_after = Some(after_fp.to_string());
    row.schema_delta =
        serde_json::to_string(&before.delta_to(after)).unwrap_or_else(|_| "{}".into());
    row.status = Status::Applied;
    row.progress = statements as i32;
    row.note = None;
    AppliedMigration {
        version: m.version,
        name: m.name.clone(),
        duration_ms,
        statements,
        retries,
        fingerprint_before: before_fp.to_string(),
        fingerprint_after: after_fp.to_string(),
    }
}

/// A COMMIT that fails. Deferred constraints and deferred triggers run at COMMIT, so an
/// ordinary data problem can surface there: the transaction is rolled back, which makes it a
/// plain migration failure (exit 1). A connection lost during COMMIT leaves the outcome
/// unknown, which needs a person.
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_failed(
    db: &mut dyn Driver,
    state: &mut StoredState,
    ctx: &Ctx,
    release: &str,
    m: &Migration,
    sref: &ScriptRef,
    index: usize,
    e: crate::driver::DbError,
    again: &run::Again,
) -> EngineError {
    if e.kind == crate::driver::DbErrorKind::Connection {
        let mut needs = NeedsPersonReport::new(
            Situation::CommitUnknown,
            "apply",
            m.version,
            &m.name,
            HistoryState::Unknown,
        );
        needs.part = Some(sref.part);
        needs.file = Some(sref.file.clone());
        needs.state = "the server may or may not have committed it".into();
        needs.next = format!(
            "run `backstop status`: if {} shows applied, it committed; otherwise run `{}` again",
            m.version,
            again.shell()
        );
        needs.commands = vec![
            NextCommand::new(
                "backstop status",
                format!("first: if {} shows applied, it committed", m.version),
            ),
            NextCommand::new(
                again.shell(),
                format!("{} does not show applied", m.version),
            ),
        ];
        return EngineError::NeedsPerson {
            what: format!(
                "the connection was lost during COMMIT of migration {} ({}): {}",
                m.version, m.name, e.message
            ),
            failure: None,
            needs: Box::new(needs),
            diff: None,
            path: Some(m.path.clone()),
        };
    }
    let _ = db.rollback();
    let failure = run::commit_failure(sref, index, &e);
    let unrecorded = record_failure(db, state, ctx, release, m, &failure);
    let next = if e.kind == crate::driver::DbErrorKind::LockTimeout {
        run::commit_lock_next(again, true)
    } else {
        format!(
            "fix the data or the migration so the deferred checks pass, then run `{}` again",
            again.shell()
        )
    };
    failed(
        failure,
        format!("the commit of migration {} failed, so its transaction was rolled back: nothing of it remains (schema and history as before it){unrecorded}", m.version),
        next,
    )
}

/// Record migration `m`'s `failure` in the ledger (its `apply-failed` event); what the
/// failure's state adds when even that can't be written ([`run::record_or_say`]).
fn record_failure(
    db: &mut dyn Driver,
    state: &mut StoredState,
    ctx: &Ctx,
    release: &str,
    m: &Migration,
    failure: &crate::error::Failure,
) -> String {
    let ev = NewEvent::new("apply-failed")
        .version(m.version)
        .release(release)
        .detail(json!({"name": m.name, "failure": failure}));
    run::record_or_say(db, state, &ctx.actor, ev, "failure")
}

/// `transaction = false` (or an engine without transactional DDL): dirty marker first, then
/// statement by statement with progress recorded, clean-up or a dirty row on failure.
fn apply_no_tx(
    db: &mut dyn Driver,
    m: &Migration,
    ctx: &Ctx,
    release: &str,
    state: &mut StoredState,
    schema: &mut SchemaState,
    again: &run::Again,
) -> Result<(AppliedMigration, HistoryRow), EngineError> {
    let up = run::split(db.engine(), Some(&m.up));
    debug_assert_eq!(state.fingerprint, schema.fingerprint());
    let invalid_before: Vec<String> = invalid_indexes(db)?;
    let mut row = new_row(m, ctx, release, &state.fingerprint, crate::now_rfc3339());
    row.note = Some(crate::history::RUNNING_NOTE.into());
    // The dirty marker. Until it is written nothing has run; after it, the database holds
    // a row that blocks every later run, so any error must say what ran and what to do.
    // The ledger gets an event with it: a run killed mid-way leaves a trace there too.
    let saved = state.clone();
    db.begin_bookkeeping()?;
    if let Err(e) = append_with(
        db,
        Some(&row),
        state,
        &ctx.actor,
        NewEvent::new("apply-started")
            .version(m.version)
            .release(release)
            .detail(json!({"name": m.name, "checksum": m.checksum, "scripts": row.scripts_digest(), "transaction": false, "statements": up.len()})),
    )
    .and_then(|_| db.commit())
    {
        let _ = db.rollback();
        *state = saved;
        return Err(e.into());
    }
    match run_no_tx(
        db,
        m,
        ctx,
        release,
        state,
        schema,
        &mut row,
        &up,
        &invalid_before,
        again,
    ) {
        Ok(done) => Ok(done),
        Err(e @ (EngineError::Failed { .. } | EngineError::NeedsPerson { .. })) => Err(e),
        Err(other) => {
            let done = row.progress as usize;
            let mut needs = dirty_needs(Situation::Interrupted, m);
            needs.statements = Some(run::progress(
                &script_ref(m, Part::Up),
                &up,
                done,
                None,
                false,
            ));
            needs.state = format!(
                "history marks it dirty with {} of {} statements of the up script completed:\n{}",
                row.progress,
                up.len(),
                ran_list(m, &up, done)
            );
            // A database error as a dirty migration's report quotes it: with who held the
            // database, not the advice to run the command again (which would refuse).
            let said = match &other {
                EngineError::Db { source } => dirty::quoted(source),
                other => other.to_string(),
            };
            Err(EngineError::NeedsPerson {
                what: format!(
                    "migration {} ({}) was running outside a transaction when this happened: {said}",
                    m.version, m.name
                ),
                failure: other.failure().cloned().map(Box::new),
                needs: Box::new(needs),
                diff: None,
                path: Some(m.path.clone()),
            })
        }
    }
}

/// A migration of `apply` left dirty outside a transaction: the two ways out of it.
/// [`dirty_needs`] for a script error `se` after `up_done` statements of the up script
/// completed outside a transaction; after a lost connection the failed statement may
/// have completed too.
fn stopped_needs(
    situation: Situation,
    m: &Migration,
    se: &run::ScriptError,
    up: &[crate::sql::Statement],
    up_done: usize,
) -> NeedsPersonReport {
    let mut needs = dirty_needs(situation, m);
    needs.part = Some(se.failure.part);
    needs.file = Some(se.failure.file.clone());
    needs.statements = Some(run::progress(
        &script_ref(m, Part::Up),
        up,
        up_done,
        (se.failure.part == Part::Up).then_some(se.failure.statement_index),
        situation == Situation::ConnectionLost,
    ));
    needs
}

/// A statement of `m`'s up script completed outside a transaction, but writing its progress
/// to history failed (`se`, [`run::ScriptError::unrecorded`]): on SQLite, another connection
/// held the file for longer than `--lock-wait`. The migration is dirty, and history counts
/// one statement fewer than ran. backstop stops there: every further write would wait for
/// the same holder, and a statement, a verify or a down script run now could not be
/// recorded either, leaving history further behind the database. What ran is known
/// exactly, so the report says it and which `resolve` ends it.
fn progress_unrecorded(
    m: &Migration,
    up: &[crate::sql::Statement],
    se: run::ScriptError,
) -> EngineError {
    let s = script_ref(m, Part::Up);
    let dirty::Unrecorded {
        what,
        ran,
        counted,
        kind,
    } = dirty::unrecorded(&s, up, se);
    let not_run = match dirty::listed(&s, up, ran, up.len()) {
        rest if rest.is_empty() => String::new(),
        rest => format!("\n  not run:{rest}"),
    };
    let state = format!(
        "migration {v} is dirty, and history counts {counted} of its {n} up statements as completed, but {ran} ran: {stmt} completed and was committed, and only recording that failed. Statements of {file} that ran, each committed on its own:{ran_list}{not_run}{stopped}",
        v = m.version,
        n = up.len(),
        stmt = dirty::span(ran, ran),
        file = s.file,
        ran_list = dirty::listed(&s, up, 0, ran),
        stopped = dirty::stopped_there(Some("no further statement, no verify or down script"), kind),
    );
    let once = dirty::once(kind);
    let v = m.version;
    let next = if ran < up.len() {
        format!(
            "{once}, go by the lists above, not by history's count: {done} of the up script ran, {rest} did not (`backstop schema` shows the schema now). Then either run {rest} by hand and `backstop resolve {v} --applied --reason \"…\"`, or undo {done} by hand (the down script shows how) and `backstop resolve {v} --rolled-back --reason \"…\"`",
            done = dirty::span(1, ran),
            rest = dirty::span(ran + 1, up.len()),
        )
    } else {
        format!(
            "{once}, go by the list above, not by history's count: every statement of the up script ran, but not its verify script (`backstop schema` shows the schema now). Then either check the change (run the verify script by hand, if there is one) and `backstop resolve {v} --applied --reason \"…\"`, or undo it by hand (the down script shows how) and `backstop resolve {v} --rolled-back --reason \"…\"`"
        )
    };
    let mut needs = dirty_needs(Situation::ProgressNotRecorded, m);
    needs.statements = Some(run::progress(&s, up, ran, None, false));
    needs.state = state;
    needs.next = next;
    EngineError::NeedsPerson {
        what,
        failure: None,
        needs: Box::new(needs),
        diff: None,
        path: Some(m.path.clone()),
    }
}

fn dirty_needs(situation: Situation, m: &Migration) -> NeedsPersonReport {
    let mut needs =
        NeedsPersonReport::new(situation, "apply", m.version, &m.name, HistoryState::Dirty);
    needs.transaction = false;
    needs.part = Some(Part::Up);
    needs.file = Some(m.script_path(Part::Up).display().to_string());
    needs.next = resolve_next(m.version);
    needs.commands = run::resolve_commands(m.version, false);
    needs
}

/// Drop the INVALID index the failed statement `failed` left, if any, outside the
/// migration's lock_timeout: `DROP INDEX CONCURRENTLY` waits for transactions that use
/// the table to end, and blocks no one meanwhile. `then` are the session timeouts to go
/// back to. A drop that fails is reported and leaves the index to the end-of-run check.
fn drop_left_index(
    db: &mut dyn Driver,
    ctx: &Ctx,
    keep: &[String],
    failed: &str,
    then: Timeouts,
) -> Vec<String> {
    let _ = db.set_session_timeouts(Timeouts::default());
    // The wait can be long (a long transaction on the table): say what it is.
    if failed.to_ascii_uppercase().contains("CONCURRENTLY") {
        ctx.say(|| "    dropping the INVALID index the failed build may have left (waits for transactions using the table)".to_string());
    }
    let dropped = match db.drop_invalid_indexes(keep, failed) {
        Ok(d) => d,
        Err(e) => {
            ctx.say(|| {
                format!(
                    "    could not drop the INVALID index the failed statement left: {}",
                    e.message
                )
            });
            Vec::new()
        }
    };
    let _ = db.set_session_timeouts(then);
    dropped
}

/// The first `n` statements of `m`'s up script, numbered, with their lines in its file (a
/// single-file migration's section starts further down).
fn ran_list(m: &Migration, up: &[crate::sql::Statement], n: usize) -> String {
    dirty::ran(&script_ref(m, Part::Up), up, n)
}

fn resolve_next(v: i64) -> String {
    format!("inspect the database; finish or undo the remaining statements by hand, then `backstop resolve {v} --applied --reason \"…\"` or `backstop resolve {v} --rolled-back --reason \"…\"`")
}

#[allow(clippy::too_many_arguments)]
fn run_no_tx(
    db: &mut dyn Driver,
    m: &Migration,
    ctx: &Ctx,
    release: &str,
    state: &mut StoredState,
    schema: &mut SchemaState,
    row: &mut HistoryRow,
    up: &[crate::sql::Statement],
    invalid_before: &[String],
    again: &run::Again,
) -> Result<(AppliedMigration, HistoryRow), EngineError> {
    let verify = run::split(db.engine(), m.verify.as_deref());
    let before_fp = state.fingerprint.clone();
    let t0 = Instant::now();
    let timeouts = Timeouts {
        lock: m.options.lock_timeout(),
        statement: m.options.statement_timeout(),
    };
    db.set_session_timeouts(timeouts)?;
    let mut attempt = 0u32;
    let mut dropped: Vec<String> = Vec::new();
    // The statement a script error happened in (a verify statement can leave no index).
    let failed_sql = |se: &run::ScriptError| -> String {
        let script = if se.failure.part == Part::Up {
            up
        } else {
            &verify[..]
        };
        script
            .get(se.failure.statement_index.saturating_sub(1))
            .map(|st| st.sql.clone())
            .unwrap_or_default()
    };
    // `row.progress` counts the up statements that completed; it is saved after each, and
    // stays what history holds when the save fails.
    let outcome = loop {
        let from = row.progress as usize;
        let r = run_statements(db, &script_ref(m, Part::Up), up, from, None, |db, n| {
            row.progress = n as i32;
            let saved = db.save_history(row);
            if saved.is_err() {
                row.progress = n as i32 - 1;
            }
            saved
        });
        match r {
            Ok(_) => break Ok(()),
            // The statement is done but history can't say so: not the statement's failure,
            // so neither retried nor cleaned up (see `progress_unrecorded`).
            Err(se) if se.unrecorded => {
                let _ = db.set_session_timeouts(Timeouts::default());
                return Err(progress_unrecorded(m, up, se));
            }
            Err(se) => {
                // A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind, which
                // must go before the statement can run again.
                dropped.extend(drop_left_index(
                    db,
                    ctx,
                    invalid_before,
                    &failed_sql(&se),
                    timeouts,
                ));
                if se.is_lock_timeout() && attempt < m.options.retries {
                    run::retry_after_lock_timeout(ctx, &mut attempt, m.options.retries, || {
                        format!("in {} (statement {}):", m.name, se.failure.statement_index)
                    });
                    continue;
                }
                break Err(se);
            }
        }
    };
    let outcome = outcome.and_then(|_| {
        run_statements(
            db,
            &script_ref(m, Part::Verify),
            &verify,
            0,
            None,
            |_, _| Ok(()),
        )
    });
    let _ = db.set_session_timeouts(Timeouts::default());

    if let Err(se) = outcome {
        let up_done = row.progress as usize;
        // Without a connection nothing can be cleaned up or recorded: say which statement
        // was running, and that it may or may not have completed.
        if se
            .db
            .as_ref()
            .is_some_and(|e| e.kind == crate::driver::DbErrorKind::Connection)
        {
            let mut needs = stopped_needs(Situation::ConnectionLost, m, &se, up, up_done);
            needs.state = format!(
                "the connection was lost while this statement ran outside a transaction, so it may or may not have completed; history marks migration {} dirty with {} of {} statements of {} recorded as completed:\n{}",
                m.version,
                up_done,
                up.len(),
                m.script_path(Part::Up).display(),
                ran_list(m, up, up_done)
            );
            // A concurrent build cut off leaves its index behind, INVALID: running the
            // statement again by hand would then fail with "already exists".
            if failed_sql(&se)
                .to_ascii_uppercase()
                .contains("CONCURRENTLY")
            {
                needs.next = format!(
                    "the statement that was cut off builds an index concurrently, which leaves it behind, INVALID, when it dies: list those with `SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid` and drop that one with `DROP INDEX CONCURRENTLY` before running the statement again by hand; then: {}",
                    needs.next
                );
            }
            return Err(EngineError::NeedsPerson {
                what: se.failure.to_string(),
                failure: Some(Box::new(se.failure)),
                needs: Box::new(needs),
                diff: None,
                path: Some(m.path.clone()),
            });
        }
        // A failed up statement's leftovers went in the loop above, before any retry.
        if se.failure.part != Part::Up {
            let failed_stmt = failed_sql(&se);
            dropped.extend(drop_left_index(
                db,
                ctx,
                invalid_before,
                &failed_stmt,
                Timeouts::default(),
            ));
        }
        dropped.dedup();
        let mut how: Vec<String> = Vec::new();
        if !dropped.is_empty() {
            how.push(format!(
                "backstop dropped the INVALID index(es) the failed statement left ({})",
                dropped.join(", ")
            ));
        }
        // Every step of the clean-up is under the same database as the failure: when it
        // refuses (another connection holding the file), the clean-up stops there and the
        // failure is still what is reported, with the migration left dirty.
        let mut proven: Option<SchemaState> = None;
        let cleaned = if up_done == 0 && se.failure.part == Part::Up {
            // Nothing completed, and a single statement outside a transaction is atomic: only
            // an INVALID index could remain, and that was dropped. Prove it.
            match db.schema(None) {
                Ok(now) if now.fingerprint() == before_fp => {
                    proven = Some(now);
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    how.push(format!("backstop could not read the schema to prove that nothing of it remains: {}\n", dirty::quoted(&e)));
                    false
                }
            }
        } else if let Some(down_sql) = m.down.as_deref() {
            // Statements completed (data changes included): only the down script can undo
            // them, and the result is accepted only if the schema is provably as before.
            let down = run::split(db.engine(), Some(down_sql));
            // The down script starts from backstop's settings, as in a rollback step: what
            // the up script set (SQLite: `PRAGMA query_only = ON`) must not make it fail or
            // run differently here only.
            // Under the migration's timeouts, like any statement of it: a DROP COLUMN
            // queued behind a long read would hold up every query on the table.
            let prepared = db
                .reset_session()
                .and_then(|_| db.set_session_timeouts(timeouts));
            // Lock timeouts are retried as in the up script and in a rollback step, going
            // on from the statement that timed out (each one before it committed on its
            // own): a brief lock must not leave the migration for a person.
            let mut down_attempt = 0u32;
            let mut from = 0usize;
            let undone = loop {
                if let Err(e) = &prepared {
                    break Err(Err(e.clone()));
                }
                match run_statements(db, &script_ref(m, Part::Down), &down, from, None, |_, _| {
                    Ok(())
                }) {
                    Err(dse) if dse.is_lock_timeout() && down_attempt < m.options.retries => {
                        from = dse.completed;
                        run::retry_after_lock_timeout(
                            ctx,
                            &mut down_attempt,
                            m.options.retries,
                            || {
                                format!(
                                    "undoing {} (down statement {}):",
                                    m.name, dse.failure.statement_index
                                )
                            },
                        );
                    }
                    other => break other.map_err(Ok),
                }
            };
            let _ = db.set_session_timeouts(Timeouts::default());
            match undone {
                Ok(n) => match db.schema(None) {
                    Ok(now) => {
                        let ok = now.fingerprint() == before_fp;
                        how.push(if ok {
                            format!("backstop ran down.sql ({n} statements) and the schema fingerprint again equals the one before the migration")
                        } else {
                            format!("backstop ran down.sql ({n} statements) but the schema still differs from before the migration (the diff shows how)")
                        });
                        proven = ok.then_some(now);
                        ok
                    }
                    Err(e) => {
                        how.push(format!("backstop ran down.sql ({n} statements) but could not read the schema to prove it is as before the migration: {}\n", dirty::quoted(&e)));
                        false
                    }
                },
                Err(Err(e)) => {
                    how.push(format!(
                        "backstop could not start down.sql to undo them: {}\n",
                        dirty::quoted(&e)
                    ));
                    false
                }
                Err(Ok(dse)) => {
                    how.push(format!("backstop ran down.sql to undo them, but it stopped after {} of {} statements:\n    {}\n", dse.completed, down.len(), dse.failure));
                    false
                }
            }
        } else {
            how.push("there is no down.sql to undo the statements that completed".into());
            false
        };
        let how_text = if how.is_empty() {
            String::new()
        } else if how.last().is_some_and(|h| h.ends_with('\n')) {
            // A failed statement quoted last: what follows starts on a line of its own,
            // not as if it were part of the SQL.
            format!("{}  ", how.join("; "))
        } else {
            format!("{}; ", how.join("; "))
        };
        let detail = json!({"name": m.name, "failure": &se.failure, "up_completed": up_done, "cleaned": cleaned, "cleanup": how});
        if cleaned {
            let mut done = row.clone();
            done.status = Status::RolledBack;
            done.note = Some(format!("failed and cleaned up: {}", se.failure.error));
            if let Some(now) = proven {
                *schema = now;
            }
            state.fingerprint = schema.fingerprint();
            // The row and its event together: history must never say rolled back while
            // the ledger still says dirty (see `crosscheck`).
            let saved = state.clone();
            let ev = NewEvent::new("apply-failed")
                .version(m.version)
                .release(release)
                .detail(detail);
            let recorded = db.begin_bookkeeping().and_then(|_| {
                append_with(db, Some(&done), state, &ctx.actor, ev).and_then(|_| db.commit())
            });
            let next = run::script_next(
                &se,
                again,
                m.options.lock_timeout().is_some(),
                format!("fix {} and run `{}` again", m.path.display(), again.shell()),
            );
            if let Err(e) = recorded {
                // SQLite leaves a transaction whose COMMIT failed open.
                let _ = db.rollback();
                *state = saved;
                return Err(cleanup_not_recorded(
                    m, up, se, up_done, how, next, e, again,
                ));
            }
            *row = done;
            return Err(failed(
                se.failure,
                if up_done == 0 {
                    format!("migration {} ran outside a transaction and failed; {how_text}nothing of it remains (history marks it rolled_back)", m.version)
                } else {
                    // The fingerprint proves the schema; data the completed statements
                    // changed is back only as far as down.sql puts it back.
                    format!("migration {} ran outside a transaction and failed; {how_text}so its schema changes are gone, and its data changes are undone as far as down.sql undoes them (history marks it rolled_back)", m.version)
                },
                next,
            ));
        }
        row.status = Status::Dirty;
        row.note = Some(format!(
            "failed with {} of {} statements of the up script completed: {}",
            up_done,
            up.len(),
            se.failure.error
        ));
        // What the statements that completed (and any cleanup) left: kept with the row, so
        // that `resolve --rolled-back` can show what is still to undo, and shown now.
        let left = db.schema(None).ok().map(|now| {
            row.schema_delta =
                serde_json::to_string(&schema.delta_to(&now)).unwrap_or_else(|_| "{}".into());
            crate::schema::diff(schema, &now)
        });
        // The row and its event together (see `crosscheck`). When another connection keeps
        // them from the database, the failure is still what is reported, saying so; the
        // row stays as its dirty marker left it, counting the statements that completed.
        let unrecorded = run::record_with_or_say(
            db,
            Some(row),
            state,
            &ctx.actor,
            NewEvent::new("dirty")
                .version(m.version)
                .release(release)
                .detail(detail),
            "failure",
        );
        let mut needs = stopped_needs(Situation::StoppedPartWay, m, &se, up, up_done);
        needs.state = format!(
            "migration {} ran outside a transaction and stopped; it is marked dirty. Statements of the up script that completed:\n{}\n  {how_text}nothing runs on this database until it is resolved",
            m.version,
            ran_list(m, up, up_done)
        );
        // Below the list, on a line of its own (as `with_state_note` adds).
        if let Some(note) = unrecorded.strip_prefix("; ") {
            needs.state = format!("{}\n{note}", needs.state);
        }
        let kind = se.db.as_ref().map(|e| e.kind);
        if se.failure.part == Part::Verify {
            // Nothing of the up script is left to run: what is to decide is whether its
            // change stays, which the verify script did not get to say (or said no to).
            let when = match kind {
                Some(k @ crate::driver::DbErrorKind::LockTimeout) => dirty::once(k),
                _ => "once the cause of the error above is understood",
            };
            let v = m.version;
            needs.next = format!(
                "{when}: every statement of the up script ran (the list above), and its verify script did not pass; `backstop schema` shows the schema now. Either check the change (run {} by hand: it must return true) and `backstop resolve {v} --applied --reason \"…\"`, or undo what is left of it by hand (the down script shows how) and `backstop resolve {v} --rolled-back --reason \"…\"`",
                m.script_path(Part::Verify).display()
            );
            needs.commands = vec![
                NextCommand::new(
                    format!("backstop resolve {v} --applied --reason \"…\""),
                    "the change is to stay: every up statement ran; run the verify script by hand first",
                ),
                NextCommand::new(
                    format!("backstop resolve {v} --rolled-back --reason \"…\""),
                    "nothing of the migration is to remain (undo it by hand first; resolve checks that the schema is as before it)",
                ),
            ];
        }
        needs.cleanup = how;
        let mut failure = se.failure;
        // A lock's hint is for a command that changed nothing ("run the command again"),
        // which this dirty migration would refuse.
        if kind == Some(crate::driver::DbErrorKind::LockTimeout) {
            failure.hint = None;
        }
        return Err(EngineError::NeedsPerson {
            what: failure.to_string(),
            failure: Some(Box::new(failure)),
            needs: Box::new(needs),
            diff: left.filter(|d| !d.trim().is_empty()),
            path: Some(m.path.clone()),
        });
    }

    // Every statement ran and the verify script passed: what is left is the record of the
    // end, which only the database can refuse (another connection holding the file, the
    // connection gone). Then the change is complete, but history still says dirty.
    let after = match db.schema(None) {
        Ok(after) => after,
        Err(e) => return Err(record_not_written(m, up, &verify, e)),
    };
    let after_fp = after.fingerprint();
    let duration_ms = t0.elapsed().as_millis() as i64;
    let mut done = row.clone();
    let applied = completed(
        m,
        &mut done,
        schema,
        &after,
        &before_fp,
        &after_fp,
        duration_ms,
        up.len(),
        attempt,
    );
    let mut st = state.clone();
    st.fingerprint = after_fp.clone();
    let ev = NewEvent::new("apply").version(m.version).release(release).detail(json!({"name": m.name, "checksum": m.checksum, "scripts": done.scripts_digest(), "duration_ms": duration_ms, "fingerprint_before": before_fp, "fingerprint_after": after_fp, "transaction": false}));
    let recorded = db.begin_bookkeeping().and_then(|_| {
        append_with(db, Some(&done), &mut st, &ctx.actor, ev).and_then(|_| db.commit())
    });
    match recorded {
        Ok(()) => {
            *row = done;
            *state = st;
            *schema = after;
            Ok((applied, row.clone()))
        }
        Err(e) => {
            // SQLite leaves a transaction whose COMMIT failed open.
            let _ = db.rollback();
            Err(record_not_written(m, up, &verify, e))
        }
    }
}

/// Migration `m` ran to its end outside a transaction — every statement of `up`, then its
/// `verify` script, which passed — but the record of that could not be written (`e`): the
/// change is complete in the database, and history still marks it dirty, counting every
/// statement as completed (the ledger has no `apply` event for it). Nothing is left to
/// run: once the cause is gone, `resolve --applied` records it as it is.
fn record_not_written(
    m: &Migration,
    up: &[crate::sql::Statement],
    verify: &[crate::sql::Statement],
    e: crate::driver::DbError,
) -> EngineError {
    use crate::driver::DbErrorKind;
    let s = script_ref(m, Part::Up);
    let v = m.version;
    let checked = if verify.is_empty() {
        "it has no verify script"
    } else {
        "its verify script passed"
    };
    let what = format!(
        "{}: migration {v} ({}) ran to its end outside a transaction and {checked}, but recording that in history failed: {}",
        s.file,
        m.name,
        dirty::quoted(&e)
    );
    let state = format!(
        "migration {v} is dirty: every statement of its up script completed (each committed on its own) and {checked}, so its change is complete in the database; only its record is missing: history still marks it dirty, counting all {n} up statements as completed, and the ledger has no `apply` event for it. Statements of {file} that ran:{ran}{stopped}",
        n = up.len(),
        file = s.file,
        ran = dirty::listed(&s, up, 0, up.len()),
        stopped = dirty::stopped_there(None, e.kind),
    );
    let applied = format!("backstop resolve {v} --applied --reason \"…\"");
    let rolled_back = format!("backstop resolve {v} --rolled-back --reason \"…\"");
    let mut commands = vec![
        NextCommand::new(
            applied.clone(),
            format!("{}: the up script ran to its end and {checked}; this records the migration as applied", dirty::once(e.kind)),
        ),
        NextCommand::new(
            rolled_back.clone(),
            "its change is not to stay: undo it by hand first (the down script shows how); resolve checks that the schema is as before the migration",
        ),
    ];
    let next = if e.kind == DbErrorKind::Connection {
        // The COMMIT may have reached the database before the connection went.
        commands.insert(
            0,
            NextCommand::new(
                "backstop status",
                format!("first, once the connection is back: migration {v} shows applied if its record was written before the connection went, and then nothing needs doing"),
            ),
        );
        format!("once the connection is back, run `backstop status`: if migration {v} shows applied, its record was written before the connection went and nothing needs doing; if it shows dirty, `{applied}` records it as applied (nothing of it is left to run); or, if its change is not to stay, undo it by hand (the down script shows how) and `{rolled_back}`")
    } else {
        format!(
            "{}, `{applied}` records the migration as applied (nothing of it is left to run); or, if its change is not to stay, undo it by hand (the down script shows how) and `{rolled_back}`",
            dirty::once(e.kind)
        )
    };
    let mut needs = dirty_needs(Situation::RecordFailed, m);
    needs.statements = Some(run::progress(&s, up, up.len(), None, false));
    needs.state = state;
    needs.next = next;
    needs.commands = commands;
    EngineError::NeedsPerson {
        what,
        failure: None,
        needs: Box::new(needs),
        diff: None,
        path: Some(m.path.clone()),
    }
}

/// Migration `m` failed outside a transaction (`se`, after `up_done` statements of `up`
/// completed) and backstop cleaned up after it (`how`: the INVALID index dropped, down.sql
/// run), with the schema proven as before the migration, but the record of that — the row
/// `rolled_back` and its `apply-failed` event — could not be written (`e`): nothing of the
/// migration's schema is left, and history still marks it dirty with the statements that
/// completed. Nothing is left to run or undo: once the cause is gone, `resolve --rolled-back`
/// records it as it is (checking the schema again), and `fix` (what the failure itself
/// asks) comes after, then `again` (the apply to run again).
#[allow(clippy::too_many_arguments)]
fn cleanup_not_recorded(
    m: &Migration,
    up: &[crate::sql::Statement],
    se: run::ScriptError,
    up_done: usize,
    how: Vec<String>,
    fix: String,
    e: crate::driver::DbError,
    again: &run::Again,
) -> EngineError {
    use crate::driver::DbErrorKind;
    let v = m.version;
    let s = script_ref(m, Part::Up);
    let cleaned = match how.as_slice() {
        [] => String::new(),
        how => format!("{}; ", how.join("; ")),
    };
    let gone = if up_done == 0 && se.failure.part == Part::Up {
        format!("{cleaned}the schema fingerprint equals the one before the migration, so nothing of it remains")
    } else {
        // The fingerprint proves the schema; data the completed statements changed is
        // back only as far as down.sql puts it back.
        format!("{cleaned}so its schema changes are gone, and its data changes are undone as far as down.sql undoes them")
    };
    let ran = match dirty::listed(&s, up, 0, up_done) {
        l if l.is_empty() => format!(" No statement of {} completed.", s.file),
        l => format!(
            " Statements of {} that ran, each committed on its own, then undone by the clean-up:{l}",
            s.file
        ),
    };
    let state = format!(
        "migration {v} failed outside a transaction, and backstop cleaned up after it: {gone}. That clean-up is done and proven; only its record is missing: history still marks it dirty, counting {up_done} of its {n} up statements as completed, and the ledger has no `apply-failed` event for it.{ran}{stopped}",
        n = up.len(),
        stopped = dirty::stopped_there(None, e.kind),
    );
    let rolled_back = format!("backstop resolve {v} --rolled-back --reason \"…\"");
    let records = format!("`{rolled_back}` records the migration as rolled back (it checks again that the schema is as before it); then {fix}");
    let mut commands = vec![
        NextCommand::new(
            rolled_back.clone(),
            format!(
                "{}: the clean-up is done and proven; this records the migration as rolled back",
                dirty::once(e.kind)
            ),
        ),
        NextCommand::new(again.shell(), format!("after that: {fix}")),
    ];
    let next = if e.kind == DbErrorKind::Connection {
        // The COMMIT may have reached the database before the connection went.
        commands.insert(
            0,
            NextCommand::new(
                "backstop status",
                format!("first, once the connection is back: if migration {v} is no longer dirty, its record was written before the connection went, and only the failure is left to fix"),
            ),
        );
        format!("once the connection is back, run `backstop status`: if migration {v} is no longer dirty, its record was written before the connection went and only the failure is left to fix; if it is, {records}")
    } else {
        format!("{}, {records}", dirty::once(e.kind))
    };
    let mut needs = stopped_needs(Situation::RecordFailed, m, &se, up, up_done);
    needs.cleanup = how;
    needs.state = state;
    needs.next = next;
    needs.commands = commands;
    let mut failure = se.failure;
    // A lock's hint is for a command that changed nothing ("run the command again"),
    // which this dirty migration would refuse.
    if se
        .db
        .as_ref()
        .is_some_and(|d| d.kind == DbErrorKind::LockTimeout)
    {
        failure.hint = None;
    }
    EngineError::NeedsPerson {
        what: format!(
            "{failure}\n  backstop cleaned up after it, but recording that in history failed: {}",
            dirty::quoted(&e)
        ),
        failure: Some(Box::new(failure)),
        needs: Box::new(needs),
        diff: None,
        path: Some(m.path.clone()),
    }
}

fn invalid_indexes(db: &mut dyn Driver) -> Result<Vec<String>, crate::driver::DbError> {
    Ok(db
        .health()?
        .into_iter()
        .filter_map(|h| match h {
            crate::schema::HealthIssue::InvalidIndex { name, .. } => Some(name),
            _ => None,
        })
        .collect())
}
