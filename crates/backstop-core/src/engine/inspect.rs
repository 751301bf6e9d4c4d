//! Commands that look: plan, status, verify, schema; and resolve, which records a decision.

use super::apply::{
    history_refusal, lint_refusal, pending_of, snapshot_refusal, sum_check, ApplyOptions,
};
use super::crosscheck;
use super::run::{self, run_statements, ScriptRef};
use super::snapshot;
use super::Ctx;
use crate::driver::{DbError, Driver};
use crate::error::EngineError;
use crate::history::{HistoryRow, Status};
use crate::ledger::NewEvent;
use crate::migration::{Migration, Part};
use crate::report::*;
use crate::schema::{diff, SchemaState};
use crate::sumfile;
use serde_json::json;
use std::path::Path;

pub(crate) fn plan_from(
    db: &mut dyn Driver,
    migrations: &[Migration],
    history: &[HistoryRow],
    to: Option<i64>,
) -> Result<PlanReport, DbError> {
    let mut warnings = Vec::new();
    let engine = db.engine();
    if let Some((reason, _)) = history_refusal(migrations, history, to, engine) {
        warnings.push(format!("apply would refuse: {reason}"));
    }
    let pending = pending_of(migrations, history, to)
        .into_iter()
        .map(|m| PlannedMigration {
            version: m.version,
            name: m.name.clone(),
            path: m.path.display().to_string(),
            transaction: m.options.transaction && db.transactional_ddl(),
            lock_timeout_ms: m.options.lock_timeout_ms,
            statement_timeout_ms: m.options.statement_timeout_ms,
            statements: run::planned_statements(
                engine,
                Some(&m.up),
                m.script_line_offset(Part::Up),
            ),
            verify: run::planned_statements(
                engine,
                m.verify.as_deref(),
                m.script_line_offset(Part::Verify),
            ),
            rollback: run::planned_statements(
                engine,
                m.down.as_deref(),
                m.script_line_offset(Part::Down),
            ),
            irreversible: m.irreversible_reason(),
            findings: vec![],
            snapshot: vec![],
        })
        .collect();
    let remaining = pending_of(migrations, history, None)
        .into_iter()
        .map(|m| m.version)
        .filter(|v| to.is_some_and(|t| *v > t))
        .collect();
    Ok(PlanReport {
        database: db.display_url(),
        pending,
        remaining,
        warnings,
    })
}

/// What apply would do with `opts` (`to`, `sum_path`, the lint gate); changes nothing.
/// Warns about each check that would refuse that apply: `backstop.sum`, history, the
/// contracts, lint errors, drift.
pub fn plan(
    db: &mut dyn Driver,
    migrations: &[Migration],
    ctx: &Ctx,
    opts: &ApplyOptions,
) -> Result<PlanReport, EngineError> {
    let to = opts.to;
    super::apply::check_target(migrations, to)?;
    // Backstop's tables in one snapshot, and the schema after it when drift is to be
    // checked: not while a migration is dirty or failed (its own partial work is not drift,
    // and apply refuses for it first: the history warning says so).
    let stuck = |h: &[HistoryRow]| {
        h.iter()
            .any(|r| matches!(r.status, Status::Dirty | Status::Failed))
    };
    let (tables, schema) = snapshot::tables_then_schema(db, false, |t| {
        t.exists && opts.allow_drift.is_none() && !stuck(&t.history)
    })?;
    let snapshot::Tables {
        exists: _,
        mut history,
        head,
        events,
        stored,
    } = tables;
    // The ledger checks apply makes before any other (see `apply`).
    let mut ledger_refusals = Vec::new();
    if let Some(head) = &head {
        if let Some(what) = head.damaged() {
            ledger_refusals.push(format!("apply would refuse: {what}"));
        } else if let Some(lost) = head.lost(&history) {
            if opts.allow_drift.is_none() {
                ledger_refusals.push(format!("apply would refuse: {}", lost.what()));
            }
        } else {
            let found = crosscheck::crosscheck(
                &history,
                &events,
                stored.as_ref(),
                crosscheck::history_table(db.engine()),
            );
            // The files are compared with what the ledger says was applied.
            crosscheck::ledger_checksums(&mut history, &found);
            if let Err((reason, _)) = super::apply::ledger_baseline(
                &found,
                "apply",
                opts.allow_drift.is_some(),
                &mut Vec::new(),
            ) {
                ledger_refusals.push(format!("apply would refuse: {reason}"));
            }
        }
    }
    let mut report = plan_from(db, migrations, &history, to)?;
    // plan_from warned about history; the others join it in the order apply checks them.
    // (The sum's "missing" warning is apply's to give: it is no refusal.)
    let sum = sum_check(migrations, ctx, opts, &mut Vec::new())?;
    let mut later = Vec::new();
    let pending = pending_of(migrations, &history, to);
    later.extend(snapshot_refusal(&pending));
    if let Some(hook) = &opts.lint {
        later.extend(lint_refusal(&(hook.0)(&pending)));
    }
    let mut unsettled = None;
    match schema {
        snapshot::SchemaRead::Read(schema) => {
            let fingerprint = schema.fingerprint();
            if let Some(recorded) = run::drifted(stored, &history, &fingerprint) {
                later.push(super::apply::drift_refusal(&recorded, &fingerprint));
            }
        }
        snapshot::SchemaRead::Unsettled => {
            unsettled = Some(snapshot::unsettled_warning("drift"));
        }
        snapshot::SchemaRead::NotWanted => {}
    }
    let history_warnings = std::mem::take(&mut report.warnings);
    let refuse = |(reason, _): (String, String)| format!("apply would refuse: {reason}");
    report.warnings = ledger_refusals
        .into_iter()
        .chain(sum.into_iter().map(refuse))
        .chain(history_warnings)
        .chain(later.into_iter().map(refuse))
        .chain(unsettled)
        .collect();
    Ok(report)
}

/// What `status` reads from the database, before it looks at the migration files: the
/// two can be gathered at the same time.
pub struct Observed {
    database: String,
    engine: crate::driver::Engine,
    exists: bool,
    history: Vec<HistoryRow>,
    state: Option<crate::history::StoredState>,
    /// The ledger head is gone (see `run::LostHead`).
    lost_head: Option<run::LostHead>,
    /// A damaged head, or history and the state row where they disagree with the ledger.
    disagreements: Vec<String>,
    /// The current fingerprint and, when it had to be read, the schema itself.
    current: Option<(String, Option<SchemaState>)>,
    /// Who holds the migration lock, when another session does: a run is going on.
    holder: Option<crate::driver::LockHolder>,
    /// A run recorded something between the read of backstop's tables and the read of the
    /// schema, every time: the two are not of one moment, and drift was not compared.
    unsettled: bool,
}

/// What `verify` reads besides what `status` does, from the same snapshot: history with
/// its stored scripts as stored, the whole ledger, its head and the state row.
struct Full {
    history: Vec<HistoryRow>,
    events: Vec<crate::ledger::Event>,
    head: Option<run::Head>,
    stored: Option<crate::history::StoredState>,
}

/// The database side of `status`: history (without the stored scripts), state, and the
/// current fingerprint — taken from the state while the catalog stamp holds, read in full
/// otherwise — and whether a run is going on. Reads only; takes no lock.
pub fn observe(db: &mut dyn Driver) -> Result<Observed, EngineError> {
    observe_as(db, false).map(|(seen, _)| seen)
}

/// [`observe`]; `full`: read history with its stored scripts and the whole ledger (what
/// `verify` checks besides), and return them too.
///
/// Backstop's tables are read in one snapshot, the lock holder and the schema after it
/// (see `snapshot`). Read again, up to `snapshot::ATTEMPTS` times, while a run records
/// something in between: when the schema was read after the snapshot, and when history has
/// the marker of a run going outside a transaction yet the lock was found free (the run may
/// have ended, and recorded how, after the snapshot).
fn observe_as(db: &mut dyn Driver, full: bool) -> Result<(Observed, Full), EngineError> {
    let mut attempt = 1;
    loop {
        let (seen, all, settled) = observe_once(db, full)?;
        if settled || attempt >= snapshot::ATTEMPTS {
            return Ok((
                Observed {
                    unsettled: !settled,
                    ..seen
                },
                all,
            ));
        }
        snapshot::pause(attempt);
        attempt += 1;
    }
}

/// One attempt of [`observe_as`]; the `bool`: whether what it read is of one moment.
fn observe_once(db: &mut dyn Driver, full: bool) -> Result<(Observed, Full, bool), EngineError> {
    struct Read {
        exists: bool,
        history: Vec<HistoryRow>,
        stored: Option<crate::history::StoredState>,
        head: Option<run::Head>,
        events: Option<Vec<crate::ledger::Event>>,
        stamp: Option<String>,
        /// The schema, when it was read in the snapshot.
        schema: Option<SchemaState>,
    }
    let inside = db.snapshot_covers_schema();
    let read = snapshot::snapshot(db, |db| {
        if !db.history_exists()? {
            return Ok(Read {
                exists: false,
                history: vec![],
                stored: None,
                head: None,
                events: None,
                stamp: None,
                schema: None,
            });
        }
        let history = if full {
            db.load_history()?
        } else {
            db.load_history_brief()?
        };
        // Without a state row, history's own fingerprints are the baseline drift is checked
        // against (see `run::state_or_history`).
        let stored = db.load_state()?;
        let head = run::Head::read(db)?;
        // History and the state row against the ledger: one query for the events, no
        // hashing (`audit verify` checks the chain); not past a head that can't be trusted.
        let events = if full {
            Some(db.load_events()?)
        } else if head.damaged().is_none() && head.lost(&history).is_none() {
            Some(db.load_events_brief()?)
        } else {
            None
        };
        // The catalog unchanged since the end of the last run: so is its fingerprint. Read
        // last, in the same snapshot as the state row it is compared with; should it fail,
        // the schema is read in full instead.
        let stamp = match &stored {
            Some(st) if st.catalog_stamp.is_some() && !st.fingerprint.is_empty() => {
                db.catalog_stamp().ok().flatten()
            }
            _ => None,
        };
        // Where the snapshot covers the schema, read it there when it is to be compared.
        let compared = run::state_or_history(stored.clone(), &history).is_some();
        let stale = stamp.is_none()
            || stored.as_ref().and_then(|s| s.catalog_stamp.as_ref()) != stamp.as_ref();
        let schema = if inside && compared && stale {
            Some(db.schema(None)?)
        } else {
            None
        };
        Ok(Read {
            exists: true,
            history,
            stored,
            head: Some(head),
            events,
            stamp,
            schema,
        })
    })?;
    // After the snapshot: a run holding the lock then was going at the snapshot too, or
    // started after it (and changes what the next status shows).
    let holder = db.lock_holder()?;
    let Read {
        exists,
        history: as_stored,
        stored,
        head,
        events,
        stamp,
        schema,
    } = read;
    let (mut history, as_stored) = if full {
        (as_stored.clone(), as_stored)
    } else {
        (as_stored, vec![])
    };
    let lost_head = head.as_ref().and_then(|h| h.lost(&history));
    let mut disagreements = Vec::new();
    if let Some(head) = &head {
        if let Some(what) = head.damaged() {
            disagreements.push(what);
        } else if lost_head.is_none() {
            let found = crosscheck::crosscheck(
                &history,
                events.as_deref().unwrap_or_default(),
                stored.as_ref(),
                crosscheck::history_table(db.engine()),
            );
            crosscheck::ledger_checksums(&mut history, &found);
            disagreements.extend(found.into_iter().map(|d| d.what));
        }
    }
    let state = if exists {
        run::state_or_history(stored.clone(), &history)
    } else {
        None
    };
    let end = head.as_ref().and_then(|h| h.end().clone());
    let mut settled = true;
    // Whether the ledger's end was read again after the lock holder.
    let mut rechecked = false;
    let mut current = None;
    if let Some(st) = &state {
        current = Some(match (&st.catalog_stamp, &stamp, schema) {
            (Some(recorded), Some(now), _) if recorded == now => (st.fingerprint.clone(), None),
            (_, _, Some(schema)) => (schema.fingerprint(), Some(schema)),
            _ => {
                rechecked = true;
                match snapshot::schema_since(db, &end)? {
                    Some(schema) => (schema.fingerprint(), Some(schema)),
                    None => {
                        settled = false;
                        (String::new(), None)
                    }
                }
            }
        });
    }
    // Nothing to show of a schema that belongs to no moment of history.
    current = current.filter(|_| settled);
    // A run's marker with the lock free: it stopped, unless it ended (and recorded how)
    // after the snapshot. The ledger's end, read after the lock, tells.
    let marker = history.iter().any(|r| r.running_step().is_some());
    if marker && holder.is_none() && !rechecked {
        settled = snapshot::ledger_end_now(db)? == end;
    }
    let seen = Observed {
        engine: db.engine(),
        database: db.display_url(),
        exists,
        history,
        state,
        lost_head,
        disagreements,
        current,
        holder,
        unsettled: false,
    };
    let all = Full {
        history: as_stored,
        events: events.unwrap_or_default(),
        head,
        stored,
    };
    Ok((seen, all, settled))
}

/// Applied, pending, dirty, checksum mismatches, drift. Reads only; takes no lock.
pub fn status(
    db: &mut dyn Driver,
    migrations: &[Migration],
    sum_path: &Path,
) -> Result<StatusReport, EngineError> {
    let seen = observe(db)?;
    status_of(seen, migrations, sum_path)
}

/// The status report from what [`observe`] saw and the migrations on disk.
pub fn status_of(
    seen: Observed,
    migrations: &[Migration],
    sum_path: &Path,
) -> Result<StatusReport, EngineError> {
    let Observed {
        database,
        engine,
        exists,
        history,
        state,
        lost_head,
        disagreements,
        current,
        holder,
        unsettled,
    } = seen;
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    // A dirty row's note, or, while its run still holds the lock, that it is going.
    let note = |r: &HistoryRow| match &holder {
        Some(h) if r.running_step().is_some() => r.running_note(engine, h),
        _ => r.explained_note(engine),
    };
    if let Some(lost) = &lost_head {
        warnings.push(format!("{}: `backstop audit verify` reports the ledger broken, and apply, rollback and resolve refuse until `backstop apply --allow-drift --reason \"…\"` records the missing head", lost.what()));
    }
    for what in &disagreements {
        warnings.push(format!("{what}: apply, rollback and resolve refuse until it is put right (`backstop audit verify` lists every disagreement with the ledger)"));
    }
    let by_version: std::collections::BTreeMap<i64, &HistoryRow> =
        history.iter().map(|r| (r.version, r)).collect();
    for m in migrations {
        let row = by_version.get(&m.version);
        let state_name = match row.map(|r| r.status) {
            None => "pending",
            Some(Status::RolledBack) => "rolled_back",
            Some(s) => s.as_str(),
        };
        entries.push(StatusEntry {
            version: m.version,
            name: m.name.clone(),
            state: state_name.to_string(),
            applied_at: row
                .filter(|r| r.status == Status::Applied)
                .and_then(|r| r.finished_at.clone()),
            release_id: row.map(|r| r.release_id.clone()),
            checksum_mismatch: row
                .is_some_and(|r| r.status == Status::Applied && r.checksum != m.checksum),
            missing_file: false,
            note: row.and_then(|r| note(r)),
        });
    }
    let on_disk: std::collections::HashSet<i64> = migrations.iter().map(|m| m.version).collect();
    for r in &history {
        if !on_disk.contains(&r.version) && r.status != Status::RolledBack {
            entries.push(StatusEntry {
                version: r.version,
                name: r.name.clone(),
                state: r.status.as_str().to_string(),
                applied_at: r.finished_at.clone(),
                release_id: Some(r.release_id.clone()),
                checksum_mismatch: false,
                missing_file: true,
                note: note(r),
            });
        }
    }
    entries.sort_by_key(|e| e.version);
    let missing: Vec<i64> = entries
        .iter()
        .filter(|e| e.missing_file)
        .map(|e| e.version)
        .collect();
    if !missing.is_empty() {
        warnings.push(format!("applied migration(s) {missing:?} have no files on disk (rollback still works from the stored scripts)"));
    }
    let sum = match sumfile::read(sum_path)? {
        Some(s) => Some(sumfile::compare(&s, migrations)),
        None => {
            warnings.push(format!(
                "{} does not exist; run `backstop sum`",
                sum_path.display()
            ));
            None
        }
    };
    // The migration a run holding the lock is taking outside a transaction: the newest
    // with its run's marker (a run goes one migration at a time).
    let running = holder.as_ref().and(
        history
            .iter()
            .filter(|r| r.running_step().is_some())
            .max_by_key(|r| r.version),
    );
    let mut drift = None;
    let mut fingerprint = None;
    if unsettled {
        warnings.push(snapshot::unsettled_warning("drift"));
    }
    if let (Some(st), Some((fp, schema))) = (&state, current) {
        if !unsettled && !st.fingerprint.is_empty() && st.fingerprint != fp {
            // The newest stuck migration: a run stops at the first failure, so it is the
            // one whose work is unrecorded.
            let stuck = history
                .iter()
                .filter(|r| matches!(r.status, Status::Dirty | Status::Failed))
                .max_by_key(|r| r.version);
            let going = stuck
                .filter(|r| running.is_some_and(|g| g.version == r.version))
                .and(holder.clone());
            drift = Some(Drift {
                recorded: st.fingerprint.clone(),
                current: fp.clone(),
                // Not while the run is going: its work so far is no one's to undo.
                diff: schema.filter(|_| going.is_none()).and_then(|current| {
                    st.recorded_schema()
                        .map(|recorded| diff(&recorded, &current))
                }),
                dirty_migration: stuck.map(|r| DirtyMigration {
                    version: r.version,
                    name: r.name.clone(),
                    status: r.status.as_str().to_string(),
                    running: going,
                }),
            });
        }
        fingerprint = Some(fp);
    }
    let run_in_progress = holder.map(|holder| RunInProgress {
        holder,
        migration: running.map(|r| RunningMigration {
            version: r.version,
            name: r.name.clone(),
            step: r.running_step().unwrap_or_default().to_string(),
        }),
    });
    Ok(StatusReport {
        database,
        history_exists: exists,
        applied: entries.iter().filter(|e| e.state == "applied").count(),
        pending: entries
            .iter()
            .filter(|e| e.state == "pending" || e.state == "rolled_back")
            .count(),
        dirty: entries
            .iter()
            .filter(|e| e.state == "dirty" || e.state == "failed")
            .map(|e| e.version)
            .collect(),
        checksum_mismatches: entries
            .iter()
            .filter(|e| e.checksum_mismatch)
            .map(|e| e.version)
            .collect(),
        migrations: entries,
        drift,
        drift_unchecked: unsettled,
        sum,
        fingerprint,
        run_in_progress,
        warnings,
    })
}

/// Re-run verify scripts of applied migrations (from history), check checksums, the sum,
/// drift and schema health. Verify scripts run in a transaction that is rolled back.
/// `require_sum`: a missing backstop.sum fails, as it refuses an apply.
/// `migrations`: the files, or `None` when the migrations folder does not exist (a server
/// with the database but not the project): the stored scripts are still verified, and the
/// checksum check says it could not compare.
pub fn verify(
    db: &mut dyn Driver,
    migrations: Option<&[Migration]>,
    sum_path: &Path,
    require_sum: bool,
) -> Result<VerifyReport, EngineError> {
    // What status reads, with history's stored scripts and the whole ledger, in one
    // snapshot: every check below compares what it holds.
    let (seen, full) = observe_as(db, true)?;
    let st = status_of(seen, migrations.unwrap_or_default(), sum_path)?;
    let unsettled = st.drift_unchecked;
    let Full {
        history,
        events: ledger,
        head,
        stored,
    } = full;
    let mut checks = Vec::new();
    if !st.history_exists {
        // Checksums, dirty rows and drift are about what backstop applied: with nothing
        // applied there is nothing to compare, which is not the same as passing.
        checks.push(Check {
            name: "history".into(),
            ok: true,
            detail: "none: nothing has been applied by backstop, so there are no verify scripts, checksums or fingerprints to check".into(),
        });
    }
    // The stored scripts are checked against the ledger first: an edited one is reported,
    // and its verify script is not run.
    let mut edited = Vec::new();
    let mut unverifiable = Vec::new();
    // Dirty and failed rows too: `resolve --applied` would take their scripts on trust.
    for r in history.iter().filter(|r| r.status != Status::RolledBack) {
        match run::check_stored_scripts(r, &ledger) {
            run::StoredScripts::Intact => {}
            run::StoredScripts::Unverifiable(_) => unverifiable.push(r.version),
            found @ (run::StoredScripts::Edited(_) | run::StoredScripts::Unrecorded(_)) => {
                edited.push(run::edited_scripts(&*db, r, &found).0);
                continue;
            }
        }
        if r.status != Status::Applied {
            continue;
        }
        let Some(v) = r.verify_sql.as_deref() else {
            continue;
        };
        let statements = run::split(db.engine(), Some(v));
        let sref = ScriptRef {
            version: r.version,
            name: &r.name,
            part: Part::Verify,
            file: format!("history:{}/verify.sql", r.version),
            line_offset: 0,
        };
        db.begin(Default::default())?;
        let res = run_statements(db, &sref, &statements, 0, None, |_, _| Ok(()));
        let _ = db.rollback();
        checks.push(Check {
            name: format!("verify {} ({})", r.version, r.name),
            ok: res.is_ok(),
            detail: match res {
                Ok(n) => format!("{n} statement(s) passed"),
                Err(se) => se.failure.to_string(),
            },
        });
    }
    // The head runs append after: lost, or behind the ledger, nothing can be recorded
    // (`audit verify` checks the whole chain).
    if let Some(head) = &head {
        let lost = head.lost(&history);
        let damaged = head.damaged();
        let head_ok = lost.is_none() && damaged.is_none();
        checks.push(Check {
            name: "ledger head".into(),
            ok: head_ok,
            detail: match (lost, damaged) {
                (Some(lost), _) => format!(
                    "{}: apply, rollback and resolve refuse (run `backstop audit verify`)",
                    lost.what()
                ),
                (None, Some(damaged)) => format!(
                    "{damaged}: apply, rollback and resolve refuse (run `backstop audit verify`)"
                ),
                (None, None) => "recorded, and the ledger ends at it".into(),
            },
        });
        // The statuses and the baseline are only as good as the head the ledger is read to.
        if head_ok {
            let found = crosscheck::crosscheck(
                &history,
                &ledger,
                stored.as_ref(),
                crosscheck::history_table(db.engine()),
            );
            checks.push(Check {
                name: "history and ledger".into(),
                ok: found.is_empty(),
                detail: if found.is_empty() {
                    "history's statuses and checksums and the recorded schema baseline agree with the ledger"
                        .into()
                } else {
                    format!(
                        "{}; apply, rollback and resolve refuse until they are restored",
                        found
                            .iter()
                            .map(|d| d.what.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                },
            });
        }
    }
    checks.extend(st.history_exists.then(|| Check {
        name: "stored scripts".into(),
        ok: edited.is_empty(),
        detail: if !edited.is_empty() {
            format!("{}; the verify scripts of these migrations were not run, and rollback refuses to run their down scripts", edited.join("; "))
        } else if unverifiable.is_empty() {
            "the scripts stored in history match those recorded in the ledger".into()
        } else {
            format!("match the ledger, except {unverifiable:?}: recorded by an older backstop with a migration.toml (not stored), so they can't be checked")
        },
    }));
    checks.extend(st.history_exists.then(|| Check {
        name: "checksums".into(),
        ok: st.checksum_mismatches.is_empty(),
        detail: if migrations.is_none() {
            "not compared: the migrations folder does not exist here (the scripts stored in history were verified)".into()
        } else if st.checksum_mismatches.is_empty() {
            let missing: Vec<i64> = st
                .migrations
                .iter()
                .filter(|e| e.missing_file)
                .map(|e| e.version)
                .collect();
            if missing.is_empty() {
                "applied migrations match their files".into()
            } else {
                format!("applied migrations match their files, except {missing:?}, which have no files here (not compared; the scripts stored in history were verified above)")
            }
        } else {
            format!("edited after apply: {:?}", st.checksum_mismatches)
        },
    }));
    checks.push(match &st.sum {
        // The sum is about the files, which aren't here.
        _ if migrations.is_none() => Check {
            name: "backstop.sum".into(),
            ok: true,
            detail: "not compared: the migrations folder does not exist here".into(),
        },
        Some(s) => Check {
            name: "backstop.sum".into(),
            ok: s.is_clean(),
            detail: if s.is_clean() {
                "files match the sum".into()
            } else {
                format!(
                    "changed {:?}, not in sum {:?}, missing {:?}",
                    s.changed, s.added, s.removed
                )
            },
        },
        None => Check {
            name: "backstop.sum".into(),
            ok: !require_sum,
            detail: if require_sum {
                format!("{} does not exist and this environment requires it (require_sum): run `backstop sum`, review and commit the file", sum_path.display())
            } else {
                format!("{} does not exist (not required here): edits and merges of migration files can't be detected", sum_path.display())
            },
        },
    });
    let going = st.run_in_progress.as_ref().and_then(|r| {
        r.migration.as_ref().map(|m| {
            format!(
                "; migration {} ({}) is being {} right now, outside a transaction, by {}: wait for that run to finish, then verify again",
                m.version,
                m.name,
                if m.step == "rollback" { "rolled back" } else { "applied" },
                r.holder
            )
        })
    });
    checks.extend(st.history_exists.then(|| Check {
        name: "dirty".into(),
        ok: st.dirty.is_empty(),
        detail: if st.dirty.is_empty() {
            "no dirty or failed migrations".into()
        } else {
            format!("dirty/failed: {:?}{}", st.dirty, going.unwrap_or_default())
        },
    }));
    checks.extend(st.history_exists.then(|| Check {
        name: "drift".into(),
        ok: st.drift.is_none() && !unsettled,
        detail: match &st.drift {
            None if unsettled => snapshot::unsettled_warning("drift"),
            None => "schema matches the last recorded fingerprint".into(),
            Some(d) => format!(
                "{}{}",
                d.explain(),
                d.diff
                    .as_ref()
                    .map(|x| format!("\n{x}"))
                    .unwrap_or_default()
            ),
        },
    }));
    let health = db.health()?;
    checks.push(Check {
        name: "health".into(),
        ok: health.is_empty(),
        detail: if health.is_empty() {
            "no invalid indexes, NOT VALID constraints or FK orphans".into()
        } else {
            health
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        },
    });
    Ok(VerifyReport {
        database: db.display_url(),
        history_exists: st.history_exists,
        ok: checks.iter().all(|c| c.ok),
        checks,
        health,
    })
}

/// The canonical schema text and fingerprint.
pub fn schema(db: &mut dyn Driver) -> Result<SchemaReport, EngineError> {
    let s = db.schema(None)?;
    Ok(SchemaReport {
        database: db.display_url(),
        fingerprint: s.fingerprint(),
        objects: s.objects.len(),
        text: s.text(),
    })
}

/// How a person resolved a dirty migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Applied,
    RolledBack,
}

impl From<Resolution> for Status {
    /// The status it records.
    fn from(to: Resolution) -> Status {
        match to {
            Resolution::Applied => Status::Applied,
            Resolution::RolledBack => Status::RolledBack,
        }
    }
}

/// Record a person's decision about a dirty/failed migration (audited); the current schema
/// becomes the recorded baseline.
pub fn resolve(
    db: &mut dyn Driver,
    ctx: &Ctx,
    version: i64,
    to: Resolution,
    reason: &str,
) -> Result<ResolveReport, EngineError> {
    // Stored in history and the ledger: masked here, whoever calls (see `apply`).
    let ctx = &ctx.masked();
    let reason = &crate::redact::redact(reason);
    if reason.trim().is_empty() {
        return Err(EngineError::Usage(
            "resolve needs --reason \"…\" saying what was checked".into(),
        ));
    }
    // The lock before anything touches the database (see `apply`).
    let mut guard = super::acquire(db, ctx)?;
    let db: &mut dyn Driver = &mut *guard;
    if !db.history_exists()? {
        return Err(EngineError::Usage(
            "no history in this database: nothing to resolve".into(),
        ));
    }
    // History tables of an older layout get what this version writes.
    db.ensure_history()?;
    let history = db.load_history()?;
    let (mut state, lost) = run::load_state(db, &history)?;
    if let Some(lost) = lost {
        // Resolving writes the head again: the gap is accepted by an explicit override
        // first, which records it. Not recorded, as in `apply`.
        return Err(lost.refusal("apply"));
    }
    match resolve_checked(db, ctx, &history, &mut state, version, to, reason) {
        // A refused resolve is recorded like a refused apply or rollback: who tried to
        // mark which migration how, and why it was refused. Usage errors (not in
        // history, nothing to resolve) are not refusals and are not recorded.
        Err(EngineError::Refused { reason: why, next }) => {
            let ev = NewEvent::new("refused")
                .version(version)
                .reason(Some(reason))
                .detail(
                    json!({"command": "resolve", "to": Status::from(to).as_str(), "reason": why}),
                );
            let why = run::record_refusal(db, &mut state, &ctx.actor, ev, why);
            Err(EngineError::Refused { reason: why, next })
        }
        other => other,
    }
}

/// [`resolve`] under the lock, with the head known to be intact: every refusal returns
/// before anything is written.
fn resolve_checked(
    db: &mut dyn Driver,
    ctx: &Ctx,
    history: &[HistoryRow],
    state: &mut crate::history::StoredState,
    version: i64,
    to: Resolution,
    reason: &str,
) -> Result<ResolveReport, EngineError> {
    let Some(row) = history.iter().find(|r| r.version == version) else {
        return Err(EngineError::Usage(format!(
            "migration {version} is not in history"
        )));
    };
    // The ledger, read once: what the last rollback of the row did, and the cross-check.
    let events = db.load_events()?;
    // An applied migration whose rollback failed or could not be proven, then undone by
    // hand: the newest applied one only, as a rollback would take them.
    let undone_by_hand = row.status == Status::Applied && to == Resolution::RolledBack;
    // A data migration marked undone on a person's word (see below).
    let mut data_unchecked = false;
    if undone_by_hand {
        // Newer ones that are dirty or failed count too: their schema before them includes
        // this migration's objects, so undoing this one first would leave them unresolvable.
        let newest = history
            .iter()
            .filter(|r| matches!(r.status, Status::Applied | Status::Dirty | Status::Failed))
            .max_by_key(|r| r.version);
        if let Some(n) = newest.filter(|n| n.version != version) {
            return Err(EngineError::refused(
                format!(
                    "migration {version} is applied, and {} was applied after it (it is {})",
                    n.version,
                    n.status.as_str()
                ),
                "roll back (or resolve) the newer migrations first: migrations are undone newest first",
            ));
        }
        // Only after a rollback of it failed: a schema that merely looks as before (a data
        // migration, whose changes the schema doesn't show) must not be marked undone, or
        // the next apply would run it again.
        let last = events.iter().rev().find(|e| {
            e.version == Some(version)
                && matches!(
                    e.kind.as_str(),
                    "apply" | "apply-failed" | "rollback" | "rollback-failed" | "resolve" | "dirty"
                )
        });
        // A migration that changed no schema object (a data migration) looks the same
        // undone or not. (Its fingerprints tell whether it changed the schema, even when it
        // recorded no changed object: one resolved `--applied` by hand after it stopped part
        // way.)
        let changed_schema = serde_json::from_str::<crate::schema::Delta>(&row.schema_delta)
            .is_ok_and(|d| !d.is_empty())
            || row
                .fingerprint_after
                .as_deref()
                .is_some_and(|after| after != row.fingerprint_before);
        // A migration with a down script only after a rollback of it failed — its down
        // script stopped (it undid nothing, in a transaction, and may be wrong for good) or
        // its result could not be proven — and a person finished the undo: `rollback`
        // proves its own work. One without a down script can only ever be undone by hand.
        let rollback_failed = last.is_some_and(|e| e.kind == "rollback-failed");
        if row.down_sql.is_some() && !rollback_failed {
            return Err(EngineError::refused(
                format!("migration {version} is applied, and no rollback of it has failed"),
                "`backstop rollback` undoes it and proves it; resolve --rolled-back is for a migration whose rollback failed (its down script stopped, or its result could not be proven), once a person has finished the undo by hand",
            ));
        }
        // The schema check below proves a schema change undone. A data change it can't:
        // the person's word (the reason) is all there is, as it is for a rollback of a data
        // migration, whose down script's effect on the data no fingerprint shows. Said so,
        // and recorded as such.
        data_unchecked = !changed_schema;
    } else if !matches!(row.status, Status::Dirty | Status::Failed) {
        return Err(EngineError::Usage(format!(
            "migration {version} is {}, not dirty or failed: nothing to resolve (an applied migration undone by hand, the newest one, takes --rolled-back)",
            row.status.as_str()
        )));
    }
    // History and the state row against the ledger: resolve rewrites both, and would
    // otherwise take an edited status or baseline as the truth.
    let found = crosscheck::crosscheck(
        history,
        &events,
        db.load_state()?.as_ref(),
        crosscheck::history_table(db.engine()),
    );
    if !found.is_empty() {
        let (reason, next) = crosscheck::refusal(&found, "resolve");
        return Err(EngineError::refused(reason, next));
    }
    // The row's scripts are recorded again with the resolve as genuine: they must be the
    // ones the ledger recorded when they were written.
    if let found @ (run::StoredScripts::Edited(_) | run::StoredScripts::Unrecorded(_)) =
        run::check_stored_scripts(row, &events)
    {
        let (reason, next) = run::edited_scripts(&*db, row, &found);
        return Err(EngineError::refused(
            format!("{reason}; resolving would record them as genuine"),
            next,
        ));
    }
    let current = db.schema(None)?;
    let fp = current.fingerprint();
    let delta: crate::schema::Delta = serde_json::from_str(&row.schema_delta).unwrap_or_default();
    // Drift accepted since this applied migration: the fingerprint recorded before it
    // predates the accepted change, so (as a rollback step would be) it is proven by its
    // objects being back as before it and everything else as in the recorded baseline.
    // (A dirty row with a fingerprint after it was applied, then left dirty by a rollback
    // that stopped outside a transaction: the same proof.)
    let baseline = ((row.status == Status::Applied
        || (row.status == Status::Dirty && row.fingerprint_after.is_some()))
        && row.fingerprint_after.as_deref() != Some(state.fingerprint.as_str())
        && !delta.is_empty())
    .then(|| run::recorded_schema(db, &state.fingerprint))
    .transpose()?
    .flatten();
    let undone = fp == row.fingerprint_before
        || baseline
            .as_ref()
            .is_some_and(|b| current == b.reverted(&delta))
        // A data migration changed no object: after accepted drift, the schema is as it
        // was before it when it is the recorded baseline.
        || (data_unchecked && fp == state.fingerprint);
    // Rolled back means the schema is as it was before the migration: that is checked,
    // not taken on trust.
    if to == Resolution::RolledBack && !undone {
        // The objects the migration changed, as they were before it; the rest as now (or,
        // after accepted drift, as in the recorded baseline). A migration that never
        // completed recorded no changes: nothing to show then.
        let shown = if delta.is_empty() {
            " (`backstop schema` shows the schema now)".to_string()
        } else if let Some(b) = &baseline {
            format!(":\n{}", diff(&b.reverted(&delta), &current))
        } else {
            let expected = current.reverted(&delta);
            let mut shown = format!(":\n{}", diff(&expected, &current));
            if expected.fingerprint() != row.fingerprint_before {
                shown.push_str("\n(objects the migration did not touch differ from before it too: `backstop status` shows the drift)");
            }
            shown
        };
        return Err(EngineError::refused(
            format!(
                "migration {version} is not rolled back: the schema ({fp}) differs from the one recorded before it ({}){shown}",
                row.fingerprint_before
            ),
            format!(
                "{} and run resolve again; if its changes are to stay, {}",
                if delta.is_empty() {
                    "undo by hand what the migration did"
                } else {
                    "undo the rest by hand (- lines: as before the migration, + lines: now)"
                },
                if row.status == Status::Applied {
                    format!("nothing needs doing: migration {version} is still applied")
                } else {
                    format!("`backstop resolve {version} --applied --reason \"…\"`")
                }
            ),
        ));
    }
    // What `--applied` accepts as it is now: every object that differs from the recorded
    // baseline (the schema before the migration's run, or after the last accepted
    // change), kept in the event like a drift override's `objects`, so that a later
    // rollback of an older migration whose objects are among them can't be proven by
    // mistake. Those the run itself did not record changing are named: a person changed
    // them by hand. `None` when the baseline's schema text is not at hand.
    let mut accepted_delta: Option<crate::schema::Delta> = None;
    // A row that is still the marker its apply wrote before the first statement: the run
    // stopped before it could record what it changed (killed, or another connection kept
    // its record from the database). Its own objects can't be told from changes by hand
    // then, and are not called changed by hand.
    let run_unrecorded = row.status == Status::Dirty
        && row.fingerprint_after.is_none()
        && row.note.as_deref() == Some(crate::history::RUNNING_NOTE);
    let (objects, not_from_run) = if to == Resolution::Applied {
        match run::recorded_schema(db, &state.fingerprint)? {
            Some(recorded) => {
                let changed = recorded.delta_to(&current);
                let objects: Vec<String> = changed.keys().cloned().collect();
                let beyond = objects
                    .iter()
                    .filter(|k| !run_unrecorded && !delta.contains_key(*k))
                    .cloned()
                    .collect();
                accepted_delta = Some(changed);
                (Some(objects), beyond)
            }
            None => (None, vec![]),
        }
    } else {
        (None, vec![])
    };
    let mut r = row.clone();
    r.status = Status::from(to);
    if to == Resolution::Applied {
        // What a later rollback proves against and shows as "before the migration": a row
        // that was applied before (left dirty by a rollback) keeps the changes its apply
        // recorded; one left dirty by its own apply gets every object that differs from the
        // baseline before it, which is the migration finished by hand (and any drift
        // with it). Without the baseline's text, none, as before.
        r.schema_delta = if row.fingerprint_after.is_some() && !delta.is_empty() {
            row.schema_delta.clone()
        } else {
            accepted_delta
                .as_ref()
                .and_then(|d| serde_json::to_string(d).ok())
                .unwrap_or_else(|| "{}".into())
        };
        r.fingerprint_after = Some(fp.clone());
        r.finished_at.get_or_insert_with(crate::now_rfc3339);
    }
    r.note = Some(crate::redact::redact(&format!(
        "resolved as {} by {}: {reason}",
        r.status.as_str(),
        ctx.actor
    )));
    state.fingerprint = fp.clone();
    state.schema_json = serde_json::to_string(&current).ok();
    db.begin_bookkeeping()?;
    let res = db
        .save_history(&r)
        .and_then(|_| {
            run::append(
                db,
                state,
                &ctx.actor,
                NewEvent::new("resolve")
                    .version(version)
                    .reason(Some(reason))
                    .detail({
                        let mut d = json!({"from": row.status, "to": r.status, "fingerprint": fp, "checksum": r.checksum, "scripts": r.scripts_digest()});
                        if data_unchecked {
                            d["data_unchecked"] = json!(true);
                        }
                        if to == Resolution::Applied {
                            d["objects"] = json!(objects);
                            d["by_hand"] = if run_unrecorded {
                                serde_json::Value::Null
                            } else {
                                json!(not_from_run)
                            };
                        }
                        d
                    }),
            )
        })
        .and_then(|_| db.commit());
    if let Err(e) = res {
        let _ = db.rollback();
        return Err(e.into());
    }
    let mut warnings: Vec<String> = Vec::new();
    if let Some(o) = objects.as_ref().filter(|o| run_unrecorded && !o.is_empty()) {
        warnings.push(format!("migration {version}'s run stopped before it recorded which objects it changed, so those accepted ({}) can't be told apart from changes by hand: check them against its up script", o.join(", ")));
    }
    // Accepted or proven as it is, but said: an INVALID index left by a build that died
    // is part of the schema `--applied` accepts, and `verify` will fail on it.
    warnings.extend(
        db.health()
            .map(|h| h.iter().map(|i| format!("health: {i}")).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    Ok(ResolveReport {
        version,
        name: r.name,
        from: row.status,
        to: r.status,
        reason: reason.to_string(),
        fingerprint: fp,
        objects,
        not_from_run,
        data_unchecked,
        warnings,
    })
}
