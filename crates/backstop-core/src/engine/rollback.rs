//! rollback: stored down scripts, newest first, each proven by the schema fingerprint.

use super::run::{self, append_and_commit, read_next, record, run_statements, ScriptRef};
use super::{crosscheck, dirty, rollback_stopped as stopped, snapshot, Ctx, RunFailure};
use crate::driver::{Driver, Engine, RecordCommitError, Timeouts};
use crate::error::EngineError;
use crate::history::{rollback_running_note, HistoryRow, Status, StoredState};
use crate::ledger::NewEvent;
use crate::migration::Part;
use crate::redact::redact;
use crate::report::{
    HistoryState, NeedsPersonReport, NextCommand, PlannedMigration, RollbackReport,
    RolledBackMigration, Situation,
};
use crate::schema::{diff, SchemaState};
use serde_json::json;
use std::time::Instant;

/// Which applied migrations to undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// Everything applied with a version greater than this (`--to 0`: everything).
    To(i64),
    /// The newest N.
    Steps(usize),
    /// Every migration applied with this release id (they must be the newest).
    Release(String),
}

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub target: RollbackTarget,
    pub dry_run: bool,
    /// `--force --reason`: roll back irreversible migrations anyway.
    pub force_reason: Option<String>,
    /// `--allow-drift --reason`.
    pub allow_drift: Option<String>,
}

fn targets(
    history: &[HistoryRow],
    target: &RollbackTarget,
) -> Result<Vec<HistoryRow>, EngineError> {
    let mut applied: Vec<HistoryRow> = history
        .iter()
        .filter(|r| r.status == Status::Applied)
        .cloned()
        .collect();
    applied.sort_by_key(|r| std::cmp::Reverse(r.version));
    Ok(match target {
        // A mistyped target (a digit short) would otherwise undo everything after it.
        RollbackTarget::To(v) if *v != 0 && !history.iter().any(|r| r.version == *v) => {
            return Err(EngineError::Usage(format!(
                "no migration in history has version {v}: --to takes a version `backstop status` lists (or 0 to undo everything); nothing was changed"
            )));
        }
        RollbackTarget::To(v) => applied.into_iter().filter(|r| r.version > *v).collect(),
        RollbackTarget::Steps(n) => applied.into_iter().take(*n).collect(),
        RollbackTarget::Release(id) => {
            let Some(oldest) = applied
                .iter()
                .filter(|r| &r.release_id == id)
                .map(|r| r.version)
                .min()
            else {
                return Err(EngineError::Usage(format!("no applied migration has release id `{id}` (`backstop status --format json` lists release ids)")));
            };
            let newer: Vec<HistoryRow> = applied
                .into_iter()
                .filter(|r| r.version >= oldest)
                .collect();
            let foreign: Vec<String> = newer
                .iter()
                .filter(|r| &r.release_id != id)
                .map(|r| format!("{} (release {})", r.version, r.release_id))
                .collect();
            if !foreign.is_empty() {
                return Err(EngineError::refused(
                    format!("release {id} is not the newest: migrations applied after it belong to other releases: {}", foreign.join(", ")),
                    "roll back the newer releases first, or use --to VERSION to undo everything after a version",
                ));
            }
            newer
        }
    })
}

pub(crate) fn planned(engine: Engine, row: &HistoryRow) -> PlannedMigration {
    // Stored scripts: lines count from the script's start.
    let stmts = |script| run::planned_statements(engine, script, 0);
    PlannedMigration {
        version: row.version,
        name: row.name.clone(),
        path: format!("history:{}", row.version),
        transaction: row.options.transaction,
        lock_timeout_ms: row.options.lock_timeout_ms,
        statement_timeout_ms: row.options.statement_timeout_ms,
        statements: stmts(row.down_sql.as_deref()),
        verify: vec![],
        rollback: stmts(row.down_sql.as_deref()),
        irreversible: row.irreversible.clone(),
        findings: vec![],
        snapshot: vec![],
    }
}

/// The `reason` of a `rollback-failed` event whose down script ran to its end but left a
/// schema other than the one recorded before the migration (`resolve` looks for it).
pub(crate) const UNPROVEN: &str = "fingerprint mismatch";

/// Undo applied migrations in exact reverse order using the down scripts stored at apply
/// time (the migration files are not needed).
///
/// The actor and the reasons are masked before anything is stored, and so is a release id
/// to undo: it was masked when it was stored, so the id as given still finds it.
/// The rollback to run again after a failure, undoing exactly what is left of this one
/// (`todo`, newest first): `--to` and `--release` as given; `--steps N` as `--to` the
/// newest applied version below the run's oldest (0 for none), since after a failure part
/// of the way fewer than N steps are left, and `--steps N` again would undo older ones.
fn again(history: &[HistoryRow], target: &RollbackTarget, todo: &[HistoryRow]) -> run::Again {
    let args = match target {
        RollbackTarget::To(v) => format!(" --to {v}"),
        RollbackTarget::Release(id) => format!(" --release {}", shell_word(id)),
        RollbackTarget::Steps(_) => {
            let oldest = todo.iter().map(|r| r.version).min().unwrap_or(0);
            let below = history
                .iter()
                .filter(|r| r.status == Status::Applied && r.version < oldest)
                .map(|r| r.version)
                .max()
                .unwrap_or(0);
            format!(" --to {below}")
        }
    };
    run::Again {
        name: "rollback",
        args,
    }
}

/// `word` as one shell word: as it is when nothing in it is special to a shell, else in
/// single quotes.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

pub fn rollback(
    db: &mut dyn Driver,
    ctx: &Ctx,
    opts: &RollbackOptions,
) -> Result<RollbackReport, Box<RunFailure>> {
    let ctx = &ctx.masked();
    let opts = &RollbackOptions {
        target: match &opts.target {
            RollbackTarget::Release(id) => RollbackTarget::Release(redact(id)),
            other => other.clone(),
        },
        force_reason: opts.force_reason.as_deref().map(redact),
        allow_drift: opts.allow_drift.as_deref().map(redact),
        ..opts.clone()
    };
    let mut warnings = Vec::new();
    if opts.dry_run {
        // Backstop's tables in one snapshot and the schema after it (no lock is taken: a
        // run may be going).
        let (tables, schema) = snapshot::tables_then_schema(db, true, |_| true)?;
        let history = &tables.history;
        let t = targets(history, &opts.target)?;
        let stuck = history
            .iter()
            .find(|r| matches!(r.status, Status::Dirty | Status::Failed));
        if let Some(r) = stuck {
            warnings.push(format!(
                "migration {} is {}: rollback will refuse until it is resolved (`backstop resolve {} --applied|--rolled-back --reason \"…\"`)",
                r.version,
                r.status.as_str(),
                r.version
            ));
        }
        if let Some(r) = t.iter().find(|r| r.down_sql.is_none()) {
            warnings.push(format!("migration {} has no down script: rollback will refuse before undoing anything (roll back to it with `--to {}`, undo it by hand, then `backstop resolve {} --rolled-back --reason \"…\"`)", r.version, r.version, r.version));
        }
        for r in &t {
            if r.irreversible.is_some() && opts.force_reason.is_none() {
                warnings.push(format!("migration {} is irreversible: rollback will stop there unless --force --reason", r.version));
            }
        }
        // As the real run would: a damaged head, a lost head without the override,
        // history that disagrees with the ledger and edited stored scripts refuse.
        let baseline = crosscheck::dry_run_checks(
            &tables,
            db.engine(),
            "rollback",
            opts.allow_drift.is_some(),
            &mut warnings,
        )?;
        if tables.exists {
            for r in &t {
                if let found @ (run::StoredScripts::Edited(_) | run::StoredScripts::Unrecorded(_)) =
                    run::check_stored_scripts(r, &tables.events)
                {
                    let (reason, next) = run::edited_scripts(&*db, r, &found);
                    return Err(EngineError::refused(reason, next).into());
                }
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
            None if tables.exists => run::drifted(tables.stored.clone(), history, &fingerprint),
            None => None,
        };
        if !settled && stuck.is_none() {
            warnings.push(snapshot::unsettled_warning("drift"));
        }
        // A dirty or failed migration's partial work is no drift (status says so too), and
        // the rollback refuses for the migration first.
        if let Some(recorded) = drifted.filter(|_| stuck.is_none() && settled) {
            warnings.push(match opts.allow_drift {
                None => format!("the schema changed outside backstop ({recorded} recorded, {fingerprint} now): rollback will refuse unless --allow-drift --reason"),
                Some(_) => format!("the schema changed outside backstop ({recorded} recorded, {fingerprint} now): --allow-drift will accept it as the baseline"),
            });
        }
        return Ok(RollbackReport {
            database: db.display_url(),
            actor: ctx.actor.clone(),
            dry_run: true,
            rolled_back: vec![],
            planned: t.iter().map(|r| planned(db.engine(), r)).collect(),
            fingerprint,
            warnings,
        });
    }
    // The lock before anything touches the database (see `apply`).
    let mut guard = super::acquire(db, ctx)?;
    let db: &mut dyn Driver = &mut *guard;
    if !db.history_exists()? {
        // A version or release named that history doesn't have is a usage error here too
        // (exit 2), as with history: not "nothing to roll back".
        targets(&[], &opts.target)?;
        return Ok(RollbackReport {
            database: db.display_url(),
            actor: ctx.actor.clone(),
            dry_run: false,
            rolled_back: vec![],
            planned: vec![],
            fingerprint: String::new(),
            warnings: vec!["no history in this database: nothing to roll back".into()],
        });
    }
    // History tables of an older layout get what this version writes.
    db.ensure_history()?;
    let history = db.load_history()?;
    let (mut state, lost) = run::load_state(db, &history)?;
    // What an override recorded before a later refusal, said with the refusal.
    // A lost head first, before any refusal is recorded (see `apply`).
    let wrote = run::accept_lost_head(
        db,
        &mut state,
        &ctx.actor,
        lost.as_ref(),
        opts.allow_drift.as_deref(),
        "rollback",
        None,
        &mut warnings,
    )?;
    // Said with any refusal: what the override above wrote.
    let early_warnings = warnings.clone();
    // Every refusal comes before anything is recorded or run: a refused rollback changes
    // nothing, not even the drift baseline, and never stops half way for a reason known
    // at the start.
    let refuse = |db: &mut dyn Driver,
                  state: &mut StoredState,
                  version: Option<i64>,
                  detail: serde_json::Value,
                  what: String,
                  next: String|
     -> Box<RunFailure> {
        let mut ev = NewEvent::new("refused").detail(detail);
        if let Some(v) = version {
            ev = ev.version(v);
        }
        let what = run::record_refusal(db, state, &ctx.actor, ev, what);
        Box::new(RunFailure {
            warnings: early_warnings.clone(),
            ..*Box::<RunFailure>::from(EngineError::refused(what, next).after(wrote.as_deref()))
        })
    };
    // History and the state row against the ledger, before anything is decided from them.
    let ledger = db.load_events()?;
    let found = crosscheck::crosscheck(
        &history,
        &ledger,
        db.load_state()?.as_ref(),
        crosscheck::history_table(db.engine()),
    );
    let mut baseline_warnings = Vec::new();
    match super::apply::ledger_baseline(
        &found,
        "rollback",
        opts.allow_drift.is_some(),
        &mut baseline_warnings,
    ) {
        Ok(Some(fp)) => state.fingerprint = fp,
        Ok(None) => {}
        Err((reason, next)) => {
            let detail = json!({"command": "rollback", "reason": reason});
            return Err(refuse(db, &mut state, None, detail, reason, next));
        }
    }
    warnings.extend(baseline_warnings);
    if let Some(r) = history
        .iter()
        .find(|r| matches!(r.status, Status::Dirty | Status::Failed))
    {
        let reason = format!(
            "migration {} ({}) is {} in history{}",
            r.version,
            r.name,
            r.status.as_str(),
            r.explained_note(db.engine())
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
        return Err(refuse(
            db,
            &mut state,
            Some(r.version),
            json!({"command": "rollback", "reason": reason}),
            reason,
            format!("inspect the database, then `backstop resolve {} --applied|--rolled-back --reason \"…\"`", r.version),
        ));
    }
    let todo = match targets(&history, &opts.target) {
        Ok(t) => t,
        // A refusal is audited like the others (a usage error is not).
        Err(EngineError::Refused { reason, next }) => {
            let detail = json!({"command": "rollback", "reason": reason});
            return Err(refuse(db, &mut state, None, detail, reason, next));
        }
        Err(e) => return Err(e.into()),
    };
    let again = again(&history, &opts.target, &todo);
    // Without a down script there is nothing to run, forced or not.
    if let Some(r) = todo.iter().find(|r| r.down_sql.is_none()) {
        let reason = format!("migration {} ({}) has no down script", r.version, r.name);
        return Err(refuse(
            db,
            &mut state,
            Some(r.version),
            json!({"command": "rollback", "reason": reason}),
            format!("{reason}, so it can only be undone by hand; nothing was rolled back"),
            format!("roll back the newer migrations with `--to {v}`, undo migration {v} by hand, then `backstop resolve {v} --rolled-back --reason \"…\"` (it checks the schema is as before the migration)", v = r.version),
        ));
    }
    // The stored scripts are what runs: checked against the ledger before any of them do.
    for r in &todo {
        match run::check_stored_scripts(r, &ledger) {
            run::StoredScripts::Intact => {}
            run::StoredScripts::Unverifiable(w) => warnings.push(w),
            found @ (run::StoredScripts::Edited(_) | run::StoredScripts::Unrecorded(_)) => {
                let (reason, next) = run::edited_scripts(&*db, r, &found);
                return Err(refuse(
                    db,
                    &mut state,
                    Some(r.version),
                    json!({"command": "rollback", "reason": reason}),
                    reason,
                    next,
                ));
            }
        }
    }
    let irreversible: Vec<i64> = todo
        .iter()
        .filter(|r| r.irreversible.is_some())
        .map(|r| r.version)
        .collect();
    if let (Some(r), None) = (
        todo.iter().find(|r| r.irreversible.is_some()),
        &opts.force_reason,
    ) {
        let reason = format!(
            "migration {} ({}) is irreversible: {}",
            r.version,
            r.name,
            r.irreversible.clone().unwrap_or_default()
        );
        return Err(refuse(
            db,
            &mut state,
            Some(r.version),
            json!({"command": "rollback", "reason": reason}),
            format!("{reason}; nothing was rolled back"),
            // `todo` is newest first: with the irreversible one first, there is nothing
            // newer to roll back on its own.
            if todo.first().is_some_and(|first| first.version == r.version) {
                "it stays applied; knowing what its down script loses, `--force --reason \"…\"` rolls it back".to_string()
            } else {
                format!("roll back only the newer migrations (`--to {}`), or, knowing what its down script loses, `--force --reason \"…\"`", r.version)
            },
        ));
    }

    let mut schema = db.schema(None)?;
    let current = schema.fingerprint();
    let drifted = !state.fingerprint.is_empty() && state.fingerprint != current;
    if drifted && opts.allow_drift.is_none() {
        let recorded = state.fingerprint.clone();
        return Err(refuse(
            db,
            &mut state,
            None,
            json!({"command": "rollback", "reason": "drift", "recorded": recorded, "current": current}),
            format!("the schema changed outside backstop since the last recorded fingerprint ({recorded} recorded, {current} now): a rollback could not be proven; nothing was rolled back"),
            "`backstop status` shows the difference; undo it, or re-run with --allow-drift --reason \"…\"".into(),
        ));
    }
    // Nothing refuses from here on: the overrides are recorded, then the steps run.
    if let (false, Some(reason)) = (irreversible.is_empty(), &opts.force_reason) {
        record(
            db,
            &mut state,
            &ctx.actor,
            NewEvent::new("override")
                .reason(Some(reason))
                .detail(json!({"check": "irreversible", "versions": irreversible})),
        )?;
    }
    // Said with a failure of any step: the acceptance stays, whatever the steps do.
    let mut accepted_note = None;
    if let (true, Some(reason)) = (drifted, &opts.allow_drift) {
        run::accept_drift(
            db, &mut state, &ctx.actor, reason, &schema, &current, None, None,
        )?;
        warnings.push(format!("schema drift accepted: {reason}"));
        accepted_note = Some(drift_accepted_note(state.ledger_seq));
    }

    let mut done = Vec::new();
    // The ledger and its proven undos, read once, when a step first needs them. A step this
    // run undoes with proof is added to the undos: what its migration's `resolve --applied`
    // accepted is no longer drift for the older ones, though the events predate the step.
    let mut ledger: Option<(
        Vec<crate::ledger::Event>,
        std::collections::HashMap<i64, i64>,
    )> = None;
    for (i, row) in todo.iter().enumerate() {
        ctx.say(|| {
            format!(
                "[{}/{}] rolling back {} {} …",
                i + 1,
                todo.len(),
                row.version,
                row.name
            )
        });
        let forced = row.irreversible.is_some();
        // Under accepted drift: the objects that drift changed since this migration, read
        // from the ledger once.
        let accepted = if row.fingerprint_after.as_deref() != Some(state.fingerprint.as_str()) {
            let (events, undone) = match &mut ledger {
                Some(l) => l,
                None => {
                    let events = db.load_events()?;
                    let undone = run::proven_undos(&events);
                    ledger.insert((events, undone))
                }
            };
            run::accepted_drift(events, row.version, undone)
        } else {
            Default::default()
        };
        match undo_one(
            db,
            row,
            ctx,
            &mut state,
            &mut schema,
            if forced {
                opts.force_reason.as_deref()
            } else {
                None
            },
            &accepted,
            &again,
        ) {
            Ok(r) => {
                if let (false, Some((_, undone))) = (forced, &mut ledger) {
                    undone.insert(row.version, i64::MAX);
                }
                done.push(r)
            }
            Err(error) => {
                let error = match &accepted_note {
                    Some(note) => error.with_state_note(note),
                    None => error,
                };
                let versions: Vec<i64> = done.iter().map(|r| r.version).collect();
                let at = super::apply::Stopped {
                    command: "rollback",
                    version: row.version,
                    name: &row.name,
                };
                let error = super::apply::end_failed_run(
                    db,
                    &mut state,
                    &schema,
                    error,
                    &versions,
                    &mut warnings,
                    at,
                );
                return Err(Box::new(RunFailure {
                    error,
                    applied: vec![],
                    undone: vec![],
                    rolled_back: done,
                    warnings,
                    release_id: None,
                }));
            }
        }
    }
    let (fp, mismatch) =
        super::apply::finish_run(db, &mut state, &schema).map_err(EngineError::from)?;
    if let Some(m) = mismatch {
        match done.last() {
            // Every step said "proven": the run can't say so any more. The steps stay
            // committed and recorded; the difference is not recorded as theirs (drift).
            Some(last) => {
                let error = run_unproven(&done, last, &fp, &schema.fingerprint(), m.diff);
                return Err(Box::new(RunFailure {
                    error,
                    applied: vec![],
                    undone: vec![],
                    rolled_back: done,
                    warnings,
                    release_id: None,
                }));
            }
            None => warnings.push(m.warning),
        }
    }
    // Health after the rollback: reported, not fatal, since the fingerprints already proved
    // every step.
    for issue in db.health()? {
        warnings.push(format!("health: {issue}"));
    }
    Ok(RollbackReport {
        database: db.display_url(),
        actor: ctx.actor.clone(),
        dry_run: false,
        rolled_back: done,
        planned: vec![],
        fingerprint: fp,
        warnings,
    })
}

/// The full read at the end of a rollback differs from what its steps proved (`diff`: `-`
/// as proven, `+` as read at the end; `full` and `proven` their fingerprints).
fn run_unproven(
    done: &[RolledBackMigration],
    last: &RolledBackMigration,
    full: &str,
    proven: &str,
    diff: String,
) -> EngineError {
    let versions: Vec<String> = done.iter().map(|r| r.version.to_string()).collect();
    let mut needs = NeedsPersonReport::new(
        Situation::RunUnproven,
        "rollback",
        last.version,
        &last.name,
        HistoryState::Pending,
    );
    needs.state = format!(
        "every step was committed and recorded as rolled back ({}), but the schema now ({full}) is not the one they were proven to leave ({proven}); the difference is not recorded as theirs, so `backstop status` shows it as drift and the next apply or rollback refuses until it is undone or accepted",
        versions.join(", ")
    );
    needs.next = "find what made the difference (the diff: - as the steps left it, + now). If another session changed the schema during the rollback, leave it or undo it, and accept it with `--allow-drift --reason \"…\"` on the next run; if a down script made a change its step's read could not see (extension membership changed through dynamic SQL, say), undo that change by hand until `backstop status` shows no drift".into();
    needs.commands = vec![
        NextCommand::new("backstop status", "shows the drift and its diff"),
        NextCommand::new("backstop schema", "shows the schema now"),
    ];
    EngineError::NeedsPerson {
        what: format!(
            "the full schema read at the end of the rollback differs from what its steps proved: another session changed the schema during the run, or a change escaped the per-step reads, so the rollback of migration(s) {} is not proven",
            versions.join(", ")
        ),
        failure: None,
        needs: Box::new(needs),
        diff: Some(diff).filter(|d| !d.trim().is_empty()),
        path: None,
    }
}

/// Said with a failure after `--allow-drift` accepted the drift found at the start of the
/// run (`seq`: its override event): that acceptance was committed and stays.
pub(crate) fn drift_accepted_note(seq: i64) -> String {
    format!("before the first migration, the drift found was accepted: the schema as it stood then became the recorded baseline (override event {seq}) and stays so, and `backstop status` no longer reports it")
}

/// Undo one migration with its stored down script and prove the schema is back to the
/// fingerprint recorded before it was applied. In a transaction, a failed proof rolls the
/// down script back too, leaving the migration applied and the database untouched.
#[allow(clippy::too_many_arguments)]
pub(crate) fn undo_one(
    db: &mut dyn Driver,
    row: &HistoryRow,
    ctx: &Ctx,
    state: &mut StoredState,
    schema: &mut SchemaState,
    forced: Option<&str>,
    accepted: &run::AcceptedDrift,
    again: &run::Again,
) -> Result<RolledBackMigration, EngineError> {
    let transactional = row.options.transaction && db.transactional_ddl();
    // Before anything of this step runs, so an error here is not one that leaves it dirty.
    db.reset_session()?;
    let mut reached = Reached::default();
    match undo_inner(
        db,
        row,
        ctx,
        state,
        schema,
        forced,
        accepted,
        again,
        &mut reached,
    ) {
        // Outside a transaction the row is marked dirty before the first statement: any
        // error after that leaves work a person must check, and what ran is known.
        Err(EngineError::Db { source }) if !transactional && reached.marked => {
            Err(stopped::interrupted(db.engine(), row, reached.ran, source))
        }
        other => other,
    }
}

/// How far a rollback step outside a transaction got, known here whether or not history
/// could be told.
#[derive(Default)]
struct Reached {
    /// The dirty marker was written: from here on, an error leaves the migration dirty.
    marked: bool,
    /// Statements of the down script that completed, each committed on its own.
    ran: usize,
}

/// Record the failure of `row`'s down script in the ledger (its `rollback-failed` event);
/// what the failure's state adds when even that can't be written ([`run::record_or_say`]).
fn record_failure(
    db: &mut dyn Driver,
    state: &mut StoredState,
    ctx: &Ctx,
    row: &HistoryRow,
    failure: &crate::error::Failure,
) -> String {
    let ev = NewEvent::new("rollback-failed")
        .version(row.version)
        .detail(json!({"name": row.name, "failure": failure}));
    run::record_or_say(db, state, &ctx.actor, ev, "failure")
}

/// The stored down script of `row`, as errors name it.
pub(super) fn down_file(row: &HistoryRow) -> String {
    format!("history:{}/down.sql (stored at apply time)", row.version)
}

/// A rollback left `row` dirty outside a transaction: the two ways out of it.
pub(super) fn dirty_needs(situation: Situation, row: &HistoryRow) -> NeedsPersonReport {
    let mut needs = NeedsPersonReport::new(
        situation,
        "rollback",
        row.version,
        &row.name,
        HistoryState::Dirty,
    );
    needs.transaction = false;
    needs.part = Some(Part::Down);
    needs.file = Some(down_file(row));
    needs.commands = run::resolve_commands(row.version, true);
    needs
}

/// The connection went while a statement of `row`'s down script ran outside a
/// transaction (`se`): the statement may or may not have completed, and history says what
/// was recorded before it (the dirty marker, the statements before it).
fn connection_lost(
    row: &HistoryRow,
    sref: &ScriptRef,
    down: &[crate::sql::Statement],
    se: run::ScriptError,
) -> EngineError {
    let mut needs = dirty_needs(Situation::ConnectionLost, row);
    needs.statements = Some(run::progress(
        sref,
        down,
        se.completed,
        Some(se.failure.statement_index),
        true,
    ));
    let done = dirty::ran(sref, down, se.completed);
    needs.state = format!(
        "the connection was lost while statement {} of the stored down script of migration {} ran outside a transaction, so it may or may not have completed; history marks the migration dirty, with {} of {} down statements recorded as completed:\n{done}",
        se.failure.statement_index,
        row.version,
        se.completed,
        down.len()
    );
    needs.next = format!(
        "once the server is reachable, check whether statement {} took effect (`backstop schema`, `backstop rollback --dry-run` shows the stored down script), finish or revert the down statements by hand, then `backstop resolve {v} --rolled-back --reason \"…\"` or `--applied`",
        se.failure.statement_index,
        v = row.version
    );
    EngineError::NeedsPerson {
        what: se.failure.to_string(),
        failure: Some(Box::new(se.failure)),
        needs: Box::new(needs),
        diff: None,
        path: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn undo_inner(
    db: &mut dyn Driver,
    row: &HistoryRow,
    ctx: &Ctx,
    state: &mut StoredState,
    schema: &mut SchemaState,
    forced: Option<&str>,
    accepted: &run::AcceptedDrift,
    again: &run::Again,
    reached: &mut Reached,
) -> Result<RolledBackMigration, EngineError> {
    let Some(down_sql) = row.down_sql.as_deref() else {
        return Err(EngineError::refused(
            format!(
                "migration {} ({}) has no down script",
                row.version, row.name
            ),
            format!(
                "undo it by hand, then `backstop resolve {} --rolled-back --reason \"…\"`",
                row.version
            ),
        ));
    };
    let down = run::split(db.engine(), Some(down_sql));
    let sref = ScriptRef {
        version: row.version,
        name: &row.name,
        part: Part::Down,
        file: down_file(row),
        line_offset: 0,
    };
    let delta: crate::schema::Delta = serde_json::from_str(&row.schema_delta).unwrap_or_default();
    let timeouts = Timeouts {
        lock: row.options.lock_timeout(),
        statement: row.options.statement_timeout(),
    };
    let transactional = row.options.transaction && db.transactional_ddl();
    let mut attempt = 0u32;
    // Outside a transaction each statement commits on its own: a retry goes on from the
    // statement that failed.
    let mut from = 0usize;
    // Outside a transaction: the dirty marker, written once before the first statement and
    // again after each one with how many completed (on its note: `progress` counts up.sql).
    let mut marker = row.clone();
    marker.status = Status::Dirty;
    if !transactional {
        marker.note = Some(rollback_running_note(0, down.len()));
        // Nothing has run yet: a marker that can't be written leaves the migration applied
        // as it was, and the error is the run's to report.
        db.save_history(&marker)?;
        reached.marked = true;
        db.set_session_timeouts(timeouts)?;
    }
    let t0 = Instant::now();
    loop {
        let mut began = Ok(());
        if transactional {
            if let Err(e) = db.begin_batched(timeouts) {
                began = Err(run::begin_lock_timeout(&sref, &down, e)?);
            }
        }
        let follows = transactional.then_some(&*schema);
        let ran = began
            .and_then(|_| {
                run_statements(db, &sref, &down, from, follows, |db, n| {
                    if transactional {
                        return Ok(());
                    }
                    reached.ran = n;
                    marker.note = Some(rollback_running_note(n, down.len()));
                    db.save_history(&marker)
                })
            })
            .and_then(|_| match transactional {
                true => run::read_after(db, &sref, &down, schema).map(Some),
                false => Ok(None),
            });
        let read = match ran {
            Ok(read) => read,
            Err(se) if transactional => {
                let _ = db.rollback();
                if se.is_lock_timeout() && attempt < row.options.retries {
                    run::retry_after_lock_timeout(ctx, &mut attempt, row.options.retries, || {
                        format!("in {}: rolled back;", row.name)
                    });
                    continue;
                }
                let unrecorded = record_failure(db, state, ctx, row, &se.failure);
                let next = if se.read {
                    read_next(
                        &se,
                        again,
                        db.engine(),
                        row.options.lock_timeout().is_some(),
                    )
                } else {
                    run::script_next(&se, again, row.options.lock_timeout().is_some(), format!(
                        "see the stored down script with `backstop rollback --dry-run`. If something in the database is in the way (data, an object changed by hand), put it right and run `{}` again; if the stored script itself is wrong, undo migration {v} by hand and run `backstop resolve {v} --rolled-back --reason \"…\"`, which checks that the schema is as before it",
                        again.shell(),
                        v = row.version
                    ))
                };
                return Err(EngineError::Failed {
                    failure: Box::new(se.failure),
                    state: format!("the down script of migration {} was rolled back; the migration is still applied and the database is as before this rollback step{unrecorded}", row.version),
                    next,
                });
            }
            // The statement is done but history can't say so: not the statement's failure,
            // so neither retried nor followed by anything (see `stopped::progress_unrecorded`).
            Err(se) if se.unrecorded => {
                let _ = db.set_session_timeouts(Timeouts::default());
                return Err(stopped::progress_unrecorded(row, &sref, &down, se));
            }
            Err(se) => {
                if se.is_lock_timeout() && attempt < row.options.retries {
                    from = se.completed;
                    run::retry_after_lock_timeout(ctx, &mut attempt, row.options.retries, || {
                        format!(
                            "in {} (statement {}):",
                            row.name, se.failure.statement_index
                        )
                    });
                    continue;
                }
                let _ = db.set_session_timeouts(Timeouts::default());
                // Without a connection nothing can be checked or recorded: say which
                // statement was running, and that it may or may not have completed.
                if se
                    .db
                    .as_ref()
                    .is_some_and(|e| e.kind == crate::driver::DbErrorKind::Connection)
                {
                    return Err(connection_lost(row, &sref, &down, se));
                }
                // Nothing of the down script ran, and the schema is provably as before
                // the step: the migration is simply still applied.
                if se.completed == 0 && db.schema(None)?.fingerprint() == state.fingerprint {
                    let tries = if attempt > 0 {
                        format!(" (after {attempt} retries on lock timeout)")
                    } else {
                        String::new()
                    };
                    // The marker taken back: the row as it was.
                    if let Err(e) = db.save_history(row) {
                        return Err(stopped::marker_left(
                            row, &sref, &down, se, &tries, e, again,
                        ));
                    }
                    let unrecorded = record_failure(db, state, ctx, row, &se.failure);
                    return Err(EngineError::Failed {
                        failure: Box::new(se.failure),
                        state: format!("the first statement of the down script of migration {} failed{tries}, so nothing of it ran; the migration is still applied and the database is as before this rollback step{unrecorded}", row.version),
                        next: format!("if another session held a lock, run `{}` again when it is released{}; otherwise inspect the stored down script with `backstop rollback --dry-run`", again.shell(), run::lock_options(again.name, row.options.lock_timeout().is_some()).1),
                    });
                }
                let mut dirty = row.clone();
                dirty.status = Status::Dirty;
                dirty.note = Some(format!(
                    "rollback stopped after {} of {} down statements: {}",
                    se.completed,
                    down.len(),
                    se.failure.error
                ));
                // The row and its event together (see `crosscheck`). Unwritten, the row
                // stays marked dirty as it was before the first statement.
                let unrecorded = run::record_with_or_say(
                    db,
                    Some(&dirty),
                    state,
                    &ctx.actor,
                    NewEvent::new("dirty").version(row.version).detail(
                        json!({"name": row.name, "failure": &se.failure, "command": "rollback"}),
                    ),
                    "failure",
                );
                let mut needs = dirty_needs(Situation::StoppedPartWay, row);
                needs.statements = Some(run::progress(
                    &sref,
                    &down,
                    se.completed,
                    Some(se.failure.statement_index),
                    false,
                ));
                // Which DROPs already happened is what a person needs first.
                let done = dirty::ran(&sref, &down, se.completed);
                // And which did not: the one that failed, and those after it.
                let not_run = match dirty::listed(&sref, &down, se.completed, down.len()) {
                    rest if rest.is_empty() => String::new(),
                    rest => format!("\n  not run (statement {} failed):{rest}", se.completed + 1),
                };
                needs.state = format!("the down script of migration {} ran outside a transaction and stopped after {} of {} statements; the migration is marked dirty. Statements of the stored down script that completed:\n{done}{not_run}", row.version, se.completed, down.len());
                // Below the list, on a line of its own (as `with_state_note` adds).
                if let Some(note) = unrecorded.strip_prefix("; ") {
                    needs.state = format!("{}\n{note}", needs.state);
                }
                // A lock another session held stopped it: the way out waits for that one.
                let once = if se.is_lock_timeout() {
                    "once the other session is done with what it holds (the detail above says who, where known), "
                } else {
                    ""
                };
                needs.next = format!("{once}finish or revert the down statements by hand, then `backstop resolve {v} --rolled-back --reason \"…\"` or `--applied`", v = row.version);
                // What is left to undo: the schema now against the one before the
                // migration (its recorded changes undone from the state before this step).
                let left = db
                    .schema(None)
                    .ok()
                    .map(|now| diff(&schema.reverted(&delta), &now))
                    .filter(|d| !d.trim().is_empty());
                return Err(EngineError::NeedsPerson {
                    what: se.failure.to_string(),
                    failure: Some(Box::new(se.failure)),
                    needs: Box::new(needs),
                    diff: left,
                    path: None,
                });
            }
        };
        let after = match read {
            Some(after) => after,
            None => db.schema(None)?,
        };
        let after_fp = after.fingerprint();
        // After accepted drift the schema before this step is not the one recorded after
        // the migration, so neither is the one after it the one recorded before: then the
        // proof is that the objects the migration changed are back as they were, and
        // everything else is as it was before this step.
        // Under drift only this proof counts: a down script that also removed the accepted
        // drift (a DROP … CASCADE, say) would match the fingerprint recorded before the
        // migration, and destroy what the person chose to keep.
        let drifted = row.fingerprint_after.as_deref() != Some(state.fingerprint.as_str());
        // (A migration that changed no object — data only — must leave the schema as it
        // was before the step.)
        // The object-level proof is only as good as the recorded changes: a migration
        // whose fingerprints moved but that recorded no changed object (one its reads
        // could not see) has nothing to prove the step by.
        let recorded_all = !delta.is_empty()
            || row.fingerprint_after.as_deref() == Some(row.fingerprint_before.as_str());
        // Drift on an object the migration changed or created can't be told from the
        // migration's own change: dropping a created table would take a column added to
        // it by hand along, and pass.
        // Drift whose objects were not recorded may have touched any of them.
        let untouched = !delta.keys().any(|k| accepted.touches(k));
        let restored = recorded_all && after == schema.reverted(&delta);
        // The down script did restore every object the migration changed, but accepted
        // drift touched one of them: nothing is wrong with the script, the step just can't
        // be proven apart from the drift.
        let drift_in_the_way = drifted && restored && !untouched;
        let proven = if drifted {
            restored && untouched
        } else {
            after_fp == row.fingerprint_before
        };
        if !proven {
            // What the schema should have been: the state before this step with the
            // migration's recorded changes undone.
            // A migration that recorded no changed object although its fingerprints moved
            // (resolved `--applied` by hand) gives nothing to compute that from: no diff
            // rather than one that points the wrong way.
            let d = recorded_all
                .then(|| diff(&schema.reverted(&delta), &after))
                .filter(|d| !d.trim().is_empty());
            let _ = if transactional {
                db.rollback()
            } else {
                db.set_session_timeouts(Timeouts::default())
            };
            // Outside a transaction the row stays dirty: written with the event, which says
            // so (`"dirty": true`), so that history and the ledger agree.
            let dirty = (!transactional).then(|| {
                let mut dirty = row.clone();
                dirty.status = Status::Dirty;
                dirty.note = Some(
                    "rollback ran but the schema does not match the recorded fingerprint".into(),
                );
                dirty
            });
            let unrecorded = run::record_with_or_say(db, dirty.as_ref(), state, &ctx.actor, NewEvent::new("rollback-failed").version(row.version).detail(json!({"name": row.name, "reason": UNPROVEN, "expected": row.fingerprint_before, "actual": after_fp, "dirty": !transactional})), "failure");
            let mut needs = if transactional {
                NeedsPersonReport::new(
                    Situation::RollbackUnproven,
                    "rollback",
                    row.version,
                    &row.name,
                    HistoryState::Applied,
                )
            } else {
                let mut n = dirty_needs(Situation::RollbackUnproven, row);
                n.statements = Some(run::progress(&sref, &down, down.len(), None, false));
                n
            };
            needs.part = Some(Part::Down);
            needs.file = Some(sref.file.clone());
            needs.commands = vec![
                NextCommand::new(
                    "backstop schema",
                    "shows the schema now: compare it with the diff (- expected, + after the down script)",
                ),
                NextCommand::new(
                    format!("backstop resolve {} --rolled-back --reason \"…\"", row.version),
                    "after undoing the rest by hand: resolve checks that the schema is the one recorded before the migration",
                ),
            ];
            if !transactional {
                needs.commands.push(NextCommand::new(
                    format!("backstop resolve {} --applied --reason \"…\"", row.version),
                    "the migration's changes are to stay: redo by hand what the down script removed first",
                ));
            }
            // Under accepted drift without the drift in the way: which objects the step
            // left wrong, those the migration changed and those it did not (the down script
            // changed them beyond it, undoing accepted drift, say).
            let (own, beyond): (Vec<String>, Vec<String>) =
                if drifted && !drift_in_the_way && recorded_all {
                    schema
                        .reverted(&delta)
                        .delta_to(&after)
                        .into_keys()
                        .partition(|k| delta.contains_key(k))
                } else {
                    (vec![], vec![])
                };
            let (st, next) = if drift_in_the_way && transactional {
                (
                    format!("the down script restored every object migration {} changed, but drift accepted since then changed some of them too, so the step can't be proven; its transaction was rolled back, so the migration is still applied and nothing changed", row.version),
                    format!("either undo the accepted drift on those objects by hand (`backstop schema` shows them), run the rollback, and make the change again in a new migration; or undo migration {} by hand and `backstop resolve {} --rolled-back --reason \"…\"`", row.version, row.version),
                )
            } else if transactional && !beyond.is_empty() {
                (
                    format!("its transaction was rolled back, so the migration is still applied and nothing changed. In the diff, - is what the step had to leave (the objects migration {} changed as before it, every other object as before this step, the accepted drift included), + what the down script left", row.version),
                    if own.is_empty() {
                        format!("the stored down script of {v} changes objects the migration did not change ({}), undoing what was accepted since. If that is intended, run the stored down script by hand (`backstop rollback --dry-run` shows it); otherwise undo only what migration {v} changed. Check with `backstop schema`, then `backstop resolve {v} --rolled-back --reason \"…\"`, which checks the schema is either the one recorded before the migration or the accepted one with the migration undone", beyond.join(", "), v = row.version)
                    } else {
                        format!("the stored down script of {v} is incomplete and changes objects the migration did not change (see the diff). Undo migration {v} by hand, check with `backstop schema`, then `backstop resolve {v} --rolled-back --reason \"…\"`", v = row.version)
                    },
                )
            } else if transactional {
                (
                    format!("the down script ran but did not restore the schema recorded before migration {}; its transaction was rolled back, so the migration is still applied and nothing changed", row.version),
                    format!("the stored down script of {} is incomplete (see the diff: - expected, + after down). Undo by hand, check with `backstop schema`, then `backstop resolve {} --rolled-back --reason \"…\"`", row.version, row.version),
                )
            } else {
                (
                    format!("the down script of migration {} ran outside a transaction but the schema does not match the fingerprint recorded before it; the migration is marked dirty", row.version),
                    format!("fix the schema by hand (see the diff), then `backstop resolve {} --rolled-back --reason \"…\"`", row.version),
                )
            };
            needs.state = st + &unrecorded;
            needs.next = next;
            return Err(EngineError::NeedsPerson {
                what: {
                    let touched: Vec<&str> = delta
                        .keys()
                        .filter(|k| accepted.touches(k))
                        .map(String::as_str)
                        .collect();
                    let drift = if touched.is_empty() {
                        String::new()
                    } else if accepted.unknown {
                        format!("; drift was accepted since it was applied without a record of which objects it changed (`\"objects\": null` in its override: the recorded schema text was not at hand), so it may have changed any object this migration changed ({}), and the migration's own change can't be told from it", touched.join(", "))
                    } else {
                        format!("; drift accepted since it was applied changed objects it changed too ({}), so its own change can't be told from the drift", touched.join(", "))
                    };
                    if drift_in_the_way {
                        format!(
                            "rollback of migration {} ({}) could not be proven{drift}",
                            row.version, row.name
                        )
                    } else if !beyond.is_empty() {
                        // The fingerprints say nothing here: the one recorded before the
                        // migration predates the accepted drift (and may even equal the one
                        // after a down script that undid the drift too).
                        let own = if own.is_empty() {
                            String::new()
                        } else {
                            format!(" left objects the migration changed different from before it ({}), and", own.join(", "))
                        };
                        let all_undone = if after_fp == row.fingerprint_before {
                            "; the schema is now exactly the one recorded before the migration, so the down script undid accepted drift too"
                        } else {
                            ""
                        };
                        format!("rollback of migration {} ({}) could not be proven: drift was accepted since it was applied, so the step must leave the objects it changed as before it and every other object as it was before the step, but its down script{own} changed objects the migration did not change ({}){all_undone}", row.version, row.name, beyond.join(", "))
                    } else {
                        format!("rollback of migration {} ({}) could not be proven: expected fingerprint {}, got {after_fp}{drift}", row.version, row.name, row.fingerprint_before)
                    }
                },
                failure: None,
                needs: Box::new(needs),
                diff: d,
                path: None,
            });
        }
        let duration_ms = t0.elapsed().as_millis() as i64;
        let mut rb = row.clone();
        rb.status = Status::RolledBack;
        rb.note = Some(match forced {
            Some(reason) => format!("rolled back by {} (forced: {reason})", ctx.actor),
            None => format!("rolled back by {}", ctx.actor),
        });
        let mut st = state.clone();
        st.fingerprint = after_fp.clone();
        let detail = json!({"name": row.name, "duration_ms": duration_ms, "fingerprint_after": after_fp, "forced": forced.is_some(), "release_id": row.release_id});
        if !transactional {
            let _ = db.set_session_timeouts(Timeouts::default());
            // Every statement ran and the schema is proven: only the record is left, and
            // one that can't be written leaves a step that is done but dirty in history.
            if let Err(e) = db.begin_bookkeeping() {
                return Err(stopped::not_recorded(row, &sref, &down, e));
            }
        }
        let book = append_and_commit(
            db,
            Some(&rb),
            &mut st,
            &ctx.actor,
            NewEvent::new("rollback")
                .version(row.version)
                .reason(forced)
                .detail(detail),
        );
        match book {
            Ok(()) => {}
            Err(RecordCommitError::Record(e) | RecordCommitError::Commit(e)) if !transactional => {
                // SQLite leaves a transaction whose COMMIT failed open.
                let _ = db.rollback();
                return Err(stopped::not_recorded(row, &sref, &down, e));
            }
            Err(RecordCommitError::Commit(e)) => {
                if e.kind != crate::driver::DbErrorKind::Connection {
                    // Deferred constraints/triggers fail at COMMIT: the step is rolled back.
                    let _ = db.rollback();
                    let unrecorded = run::record_or_say(
                        db,
                        state,
                        &ctx.actor,
                        NewEvent::new("rollback-failed")
                            .version(row.version)
                            .detail(json!({"name": row.name, "at": "commit", "error": e.message})),
                        "failure",
                    );
                    return Err(EngineError::Failed {
                        failure: Box::new(run::commit_failure(&sref, down.len() + 1, &e)),
                        state: format!("the commit of the down script of migration {} failed, so it was rolled back; the migration is still applied{unrecorded}", row.version),
                        next: if e.kind == crate::driver::DbErrorKind::LockTimeout {
                            run::commit_lock_next(
                                again,
                                row.options.lock_timeout().is_some(),
                            )
                        } else {
                            format!("fix the data so the deferred checks pass, then run `{}` again", again.shell())
                        },
                    });
                }
                let mut needs = NeedsPersonReport::new(
                    Situation::CommitUnknown,
                    "rollback",
                    row.version,
                    &row.name,
                    HistoryState::Unknown,
                );
                needs.part = Some(Part::Down);
                needs.file = Some(sref.file.clone());
                needs.state = "the server may or may not have committed it".into();
                needs.next = format!("run `backstop status`: if {} shows rolled_back, it committed; otherwise run `{}` again", row.version, again.shell());
                needs.commands = vec![
                    NextCommand::new(
                        "backstop status",
                        format!("first: if {} shows rolled_back, it committed", row.version),
                    ),
                    NextCommand::new(
                        again.shell(),
                        format!(
                            "{} still shows applied: undoes what is left of this rollback",
                            row.version
                        ),
                    ),
                ];
                return Err(EngineError::needs_person(
                    format!(
                        "the connection was lost during COMMIT of the rollback of migration {}: {}",
                        row.version, e.message
                    ),
                    needs,
                ));
            }
            // The record waited --lock-wait for another session's lock on backstop's
            // tables: rolled back with the step, and tried again, as after a statement's
            // lock timeout.
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::LockTimeout
                    && attempt < row.options.retries =>
            {
                let _ = db.rollback();
                run::retry_after_lock_timeout(ctx, &mut attempt, row.options.retries, || {
                    format!(
                        "recording the rollback of {} in backstop's tables: rolled back;",
                        row.name
                    )
                });
                continue;
            }
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::LockTimeout =>
            {
                let _ = db.rollback();
                let failure = run::record_failure(&sref, down.len() + 1, &e);
                let unrecorded = record_failure(db, state, ctx, row, &failure);
                return Err(EngineError::Failed {
                    failure: Box::new(failure),
                    state: format!("the down script of migration {} was rolled back: recording the step waited --lock-wait for a lock another session holds on backstop's tables; the migration is still applied and the database is as before this rollback step{unrecorded}", row.version),
                    next: run::record_lock_next(again),
                });
            }
            // Another run wrote to the ledger meanwhile: nothing of the record was written.
            Err(RecordCommitError::Record(e))
                if e.kind == crate::driver::DbErrorKind::HeadMoved =>
            {
                let _ = db.rollback();
                return Err(EngineError::RefusedAfter {
                    reason: format!("the rollback of migration {} ran, but its record was refused: {}", row.version, e.message),
                    state: format!("the step's transaction was rolled back with it, so migration {} is still applied as far as this run goes; the ledger is intact", row.version),
                    next: format!("run `backstop status` to see what the other run did and `backstop audit verify`; find out how two runs got past the migration lock at once (a migration that releases it?), then run `{}` again if anything is left to do", again.shell()),
                });
            }
            // In a transaction: the record is written with the step, so neither remains.
            Err(RecordCommitError::Record(e)) => {
                let _ = db.rollback();
                let mut needs = NeedsPersonReport::new(
                    Situation::RecordFailed,
                    "rollback",
                    row.version,
                    &row.name,
                    HistoryState::Applied,
                );
                needs.part = Some(Part::Down);
                needs.file = Some(sref.file.clone());
                needs.commands = vec![NextCommand::new(
                    again.shell(),
                    "once the connection is back: the migration is still applied; undoes what is left of this rollback",
                )];
                needs.state =
                    "the transaction was rolled back; the migration is still applied".into();
                needs.next = format!("check the connection, then run `{}` again", again.shell());
                return Err(EngineError::needs_person(
                    format!(
                        "rollback of migration {} ran, but recording it failed: {}",
                        row.version, e.message
                    ),
                    needs,
                ));
            }
        }
        *state = st;
        *schema = after;
        return Ok(RolledBackMigration {
            version: row.version,
            name: row.name.clone(),
            duration_ms,
            statements: down.len(),
            fingerprint_restored: after_fp,
            forced: forced.is_some(),
            by_objects: drifted,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, status: Status, release: &str) -> HistoryRow {
        HistoryRow {
            version,
            name: format!("m{version}"),
            checksum: String::new(),
            up_sql: String::new(),
            down_sql: Some(String::new()),
            verify_sql: None,
            irreversible: None,
            options: Default::default(),
            release_id: release.into(),
            actor: "ann".into(),
            started_at: "2026-01-01T00:00:00.000000Z".into(),
            finished_at: None,
            duration_ms: None,
            fingerprint_before: "sha256:00".into(),
            fingerprint_after: None,
            schema_delta: "{}".into(),
            status,
            progress: 0,
            note: None,
        }
    }

    #[test]
    fn the_rollback_to_run_again_undoes_what_is_left_of_the_run() {
        // 2 was rolled back earlier: the version below the run's oldest is the applied 1.
        let history = vec![
            row(1, Status::Applied, "r1"),
            row(2, Status::RolledBack, "r1"),
            row(3, Status::Applied, "r2"),
            row(4, Status::Applied, "r2"),
        ];
        let again_for = |target: RollbackTarget| {
            let todo = targets(&history, &target).expect("targets");
            again(&history, &target, &todo).shell()
        };
        assert_eq!(
            again_for(RollbackTarget::Steps(2)),
            "backstop rollback --to 1"
        );
        assert_eq!(
            again_for(RollbackTarget::Steps(3)),
            "backstop rollback --to 0"
        );
        assert_eq!(again_for(RollbackTarget::To(0)), "backstop rollback --to 0");
        assert_eq!(
            again_for(RollbackTarget::Release("r2".into())),
            "backstop rollback --release r2"
        );
        let odd = again(&history, &RollbackTarget::Release("it's $x".into()), &[]);
        assert_eq!(odd.shell(), "backstop rollback --release 'it'\\''s $x'");
        assert_eq!(odd.name, "rollback");
    }
}
