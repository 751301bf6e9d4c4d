//! History and the state row against the ledger.
//!
//! The ledger is the tamper-evident record (hash-chained, its head kept in the state row);
//! history's statuses and checksums and the state row's fingerprint are caches of what its
//! events say, and none of them is chained. Edited, they would steer a run: a migration
//! marked rolled back is applied again, a baseline rewritten to the current schema hides
//! drift, a checksum rewritten to an edited file's hides the edit. So every
//! command reads both against the ledger with [`crosscheck`]: apply, rollback and resolve
//! refuse (exit 3) before anything runs, dry runs refuse as the real run would, `verify` and
//! `audit verify` report, `status` and `plan` warn.
//!
//! The check reads the events once and parses only the few details it needs; it does not
//! re-hash the chain (`audit verify` does), so `status` stays fast with a long ledger.

use crate::history::{rollback_running, HistoryRow, Status, StoredState};
use crate::ledger::Event;
use serde_json::Value;
use std::collections::BTreeMap;

/// One place where history or the state row disagrees with the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Disagreement {
    /// The migration concerned; `None` for the state row's fingerprint.
    pub version: Option<i64>,
    pub what: String,
    /// For the fingerprint: the baseline the ledger records, which `--allow-drift` can
    /// take instead (the drift from it is then accepted, and recorded, as any other).
    pub ledger_fingerprint: Option<String>,
    /// For a migration's checksum: the one the ledger recorded, which the migration's file
    /// is compared with instead (see [`ledger_checksums`]).
    pub ledger_checksum: Option<String>,
}

/// What the ledger says a version's history row must be, from its last event that
/// changes the status.
#[derive(Debug, Clone)]
struct Expected {
    /// `None`: the events so far leave no row (a transactional apply that failed).
    status: Option<Status>,
    seq: i64,
    kind: String,
    /// The event carries the `dirty` flag this version writes on `rollback-failed`.
    flagged: bool,
    /// The checksum the row must have and the event that recorded it: that of the last
    /// event that wrote the row from the migration's files (`apply`, `apply-started`),
    /// or recorded the row's as it kept it (`resolve`, a lost-head override). `None`
    /// when no event recorded the checksum the row was last written with.
    checksum: Option<(i64, String)>,
}

fn detail(e: &Event) -> Value {
    serde_json::from_str(&e.detail).unwrap_or(Value::Null)
}

/// The status and checksum each version's history row must have by the ledger, and whether
/// events were lost without the statuses being recorded (an override of a lost head written
/// by an older backstop): versions it does not name are then unknown, not wrong.
fn expected_rows(events: &[Event]) -> (BTreeMap<i64, Expected>, bool) {
    let mut map: BTreeMap<i64, Expected> = BTreeMap::new();
    let mut unknown = false;
    for e in events {
        if e.kind == "override" && e.version.is_none() {
            let d = detail(e);
            if let Some(lost) = d.get("lost_head").filter(|l| l.is_object()) {
                // The events before the gap may be gone: the override recorded the history
                // the person accepted, which is where the ledger's account starts again.
                // (An override written before it recorded the checksums leaves them
                // unknown until their migrations are written again.)
                map.clear();
                let checksums = lost.get("checksums");
                match lost.get("statuses").and_then(Value::as_object) {
                    Some(s) => {
                        unknown = false;
                        for (v, st) in s {
                            if let (Ok(v), Some(st)) =
                                (v.parse::<i64>(), st.as_str().and_then(Status::parse))
                            {
                                let checksum = checksums
                                    .and_then(|c| c[v.to_string()].as_str())
                                    .map(|c| (e.seq, c.to_string()));
                                map.insert(
                                    v,
                                    Expected {
                                        status: Some(st),
                                        seq: e.seq,
                                        kind: e.kind.clone(),
                                        flagged: true,
                                        checksum,
                                    },
                                );
                            }
                        }
                    }
                    None => unknown = true,
                }
            }
            continue;
        }
        let Some(v) = e.version else { continue };
        let before = map.get(&v);
        let previous = before.and_then(|x| x.status);
        let kept = before.and_then(|x| x.checksum.clone());
        let after_started = before.is_some_and(|x| x.kind == "apply-started");
        let status = match e.kind.as_str() {
            "apply" => Some(Status::Applied),
            // The dirty marker of a run outside a transaction is written with this event.
            "apply-started" | "dirty" => Some(Status::Dirty),
            // Outside a transaction, a failed run that was cleaned up leaves its row
            // rolled back; in one, the row is as before the run.
            "apply-failed" if detail(e)["cleaned"] == true => Some(Status::RolledBack),
            "rollback" => Some(Status::RolledBack),
            // An unproven rollback outside a transaction leaves the row dirty.
            "rollback-failed" if detail(e)["dirty"] == true => Some(Status::Dirty),
            "resolve" => match detail(e)["to"].as_str().and_then(Status::parse) {
                Some(s) => Some(s),
                None => previous,
            },
            "apply-failed" | "rollback-failed" => previous,
            _ => continue,
        };
        let flagged = e.kind != "rollback-failed" || detail(e).get("dirty").is_some();
        let recorded = || {
            detail(e)["checksum"]
                .as_str()
                .map(|c| (e.seq, c.to_string()))
        };
        let checksum = match e.kind.as_str() {
            "apply" | "apply-started" => recorded(),
            // `resolve` keeps the row's checksum; it records it from this version on.
            "resolve" => recorded().or(kept),
            // A run outside a transaction by an older backstop wrote its row from the
            // files, dirty (then cleaned up, or left so), with no `apply-started` event
            // before it and no checksum recorded. (A rollback's `dirty` follows an applied
            // status, and leaves the checksum as it was.)
            "dirty" if !after_started && previous != Some(Status::Applied) => None,
            "apply-failed" if !after_started && detail(e)["cleaned"] == true => None,
            _ => kept,
        };
        map.insert(
            v,
            Expected {
                status,
                seq: e.seq,
                kind: e.kind.clone(),
                flagged,
                checksum,
            },
        );
    }
    (map, unknown)
}

/// Whether a row with status `row` agrees with the ledger's `expected`.
fn agrees(row: &HistoryRow, expected: &Expected) -> bool {
    match (row.status, expected.status) {
        (a, Some(b)) if a == b => true,
        // A rollback step outside a transaction marks its row dirty before its first
        // statement and records nothing until it ends: a run that died there leaves this.
        // (Dirty blocks every run until a person resolves it.)
        (Status::Dirty, Some(Status::Applied)) => {
            row.note.as_deref().and_then(rollback_running).is_some()
                // An unproven rollback outside a transaction leaves its row dirty; its
                // `rollback-failed` event says so (`"dirty": true`) only from this version
                // on. Without the flag the event can't tell, so either status agrees.
                || (expected.kind == "rollback-failed" && !expected.flagged)
        }
        // `failed` is written only by older backstops, with an `apply-failed` event.
        (Status::Failed, Some(Status::Dirty)) => true,
        (Status::Failed, _) => expected.kind == "apply-failed",
        _ => false,
    }
}

/// The fingerprint the ledger's latest event that records one says the schema had after
/// it: `apply` and `rollback` (`fingerprint_after`), `resolve` (`fingerprint`), a drift
/// override (`current`). Every one of them is written together with the state row it
/// moves to that fingerprint; the events in between leave it as it was.
pub(crate) fn ledger_fingerprint(events: &[Event]) -> Option<(i64, String)> {
    events.iter().rev().find_map(|e| {
        let field = match e.kind.as_str() {
            "apply" | "rollback" => "fingerprint_after",
            "resolve" => "fingerprint",
            "override" => "current",
            _ => return None,
        };
        let d = detail(e);
        if e.kind == "override" && d["check"] != "drift" {
            return None;
        }
        d[field].as_str().map(|f| (e.seq, f.to_string()))
    })
}

/// Compare history and the state row (`state`: the row as stored, `None` when it is gone,
/// which [`super::run::LostHead`] reports) with the ledger. `table`: history's table name,
/// for messages.
pub(crate) fn crosscheck(
    history: &[HistoryRow],
    events: &[Event],
    state: Option<&StoredState>,
    table: &str,
) -> Vec<Disagreement> {
    let mut found = Vec::new();
    if let (Some(st), Some((seq, fp))) = (state, ledger_fingerprint(events)) {
        if st.fingerprint != fp {
            let state_table = table.replace("migrations", "state");
            found.push(Disagreement {
                version: None,
                what: format!("the schema baseline in {state_table} is {}, but ledger event {seq}, the last to record the schema, says it was {fp}: the recorded fingerprint was rewritten behind backstop's back (which would hide drift)", if st.fingerprint.is_empty() { "empty".to_string() } else { st.fingerprint.clone() }),
                ledger_fingerprint: Some(fp),
                ledger_checksum: None,
            });
        }
    }
    let (expected, unknown) = expected_rows(events);
    for row in history {
        // A `failed` row was written from the files by an older backstop, with an
        // `apply-failed` event that recorded no checksum.
        if let Some((seq, checksum)) = expected
            .get(&row.version)
            .and_then(|e| e.checksum.as_ref())
            .filter(|(_, c)| *c != row.checksum && row.status != Status::Failed)
        {
            found.push(Disagreement {
                version: Some(row.version),
                what: format!(
                    "history's checksum of migration {} ({}) disagrees with the ledger: {table} says {}, but ledger event {seq} recorded {checksum} for it: the checksum was rewritten behind backstop's back (which would hide an edit of the migration's files, or call unchanged files edited)",
                    row.version,
                    row.name,
                    if row.checksum.is_empty() { "none" } else { row.checksum.as_str() }
                ),
                ledger_fingerprint: None,
                ledger_checksum: Some(checksum.clone()),
            });
        }
        match expected.get(&row.version) {
            Some(e) if agrees(row, e) => {}
            Some(e) => found.push(Disagreement {
                version: Some(row.version),
                what: format!(
                    "{table} says migration {} ({}) is {}, but the ledger's last event for it (event {}, `{}`) leaves it {}",
                    row.version,
                    row.name,
                    row.status.as_str(),
                    e.seq,
                    e.kind,
                    e.status.map_or("not in history (never applied)", Status::as_str)
                ),
                ledger_fingerprint: None,
                ledger_checksum: None,
            }),
            None if unknown => {}
            None => found.push(Disagreement {
                version: Some(row.version),
                what: format!(
                    "{table} has a row for migration {} ({}, {}), but no ledger event ever wrote it: the row was inserted behind backstop's back, or the events that wrote it were deleted",
                    row.version,
                    row.name,
                    row.status.as_str()
                ),
                ledger_fingerprint: None,
                ledger_checksum: None,
            }),
        }
    }
    // A set, not a scan per version: ten thousand migrations are ten thousand of each.
    let rows: std::collections::HashSet<i64> = history.iter().map(|r| r.version).collect();
    for (v, e) in &expected {
        let must = matches!(e.status, Some(Status::Applied | Status::Dirty));
        if must && !rows.contains(v) {
            found.push(Disagreement {
                version: Some(*v),
                what: format!(
                    "the ledger's last event for migration {v} (event {}, `{}`) leaves it {}, but {table} has no row for it: the row was deleted behind backstop's back (apply would run the migration again)",
                    e.seq,
                    e.kind,
                    e.status.map_or("", Status::as_str)
                ),
                ledger_fingerprint: None,
                ledger_checksum: None,
            });
        }
    }
    found.sort_by_key(|d| d.version);
    found
}

/// Put the checksum the ledger recorded in place of each of `history`'s that disagrees with
/// it (`found`): what the migrations' files are compared with, so that a rewritten checksum
/// shows as the disagreement it is, never as a file edited after it was applied (or an
/// edited file as unchanged). The disagreement itself is reported, and refuses runs.
pub(crate) fn ledger_checksums(history: &mut [HistoryRow], found: &[Disagreement]) {
    let recorded: BTreeMap<i64, &String> = found
        .iter()
        .filter_map(|d| Some((d.version?, d.ledger_checksum.as_ref()?)))
        .collect();
    if recorded.is_empty() {
        return;
    }
    for row in history.iter_mut() {
        if let Some(c) = recorded.get(&row.version) {
            row.checksum = (*c).clone();
        }
    }
}

/// The ledger checks a dry run of `command` makes as its real run would, on what it read of
/// backstop's tables in one snapshot (nothing to check without history): a damaged head
/// refuses; a lost head refuses unless `--allow-drift`
/// (`allow_drift`), which the real run would record (said in `warnings`); otherwise
/// history and the state row are read against `events`. Returns the ledger's baseline
/// when `--allow-drift` takes it instead of the state row's ([`ledger_baseline`]).
///
/// [`ledger_baseline`]: super::apply::ledger_baseline
pub(crate) fn dry_run_checks(
    tables: &super::snapshot::Tables,
    engine: crate::driver::Engine,
    command: &str,
    allow_drift: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, crate::error::EngineError> {
    let (history, events) = (&tables.history, &tables.events);
    let Some(head) = &tables.head else {
        return Ok(None);
    };
    if let Some(what) = head.damaged() {
        return Err(super::run::damaged_head_refusal(what));
    }
    if let Some(lost) = head.lost(history) {
        if !allow_drift {
            return Err(lost.refusal(command));
        }
        warnings.push(format!("{}: --allow-drift will record the missing head and accept the current schema as the baseline", lost.what()));
        return Ok(None);
    }
    let found = crosscheck(
        history,
        events,
        tables.stored.as_ref(),
        history_table(engine),
    );
    super::apply::ledger_baseline(&found, command, allow_drift, warnings)
        .map_err(|(reason, next)| crate::error::EngineError::refused(reason, next))
}

/// The refusal of `command` for `found` (not empty): what disagrees, where, and what to do.
pub(crate) fn refusal(found: &[Disagreement], command: &str) -> (String, String) {
    let list = found
        .iter()
        .map(|d| d.what.as_str())
        .collect::<Vec<_>>()
        .join("\n    ");
    // resolve has no --allow-drift: the override is apply's or rollback's.
    let fingerprint_only =
        command != "resolve" && found.iter().all(|d| d.ledger_fingerprint.is_some());
    let next = if fingerprint_only {
        format!("run `backstop audit verify` and `backstop status`, and find out who changed backstop's state row; restore it from a backup, or, if you are sure the schema as it is now is right, `backstop {command} --allow-drift --reason \"…\"` takes the ledger's baseline and accepts the difference as drift (recorded in the ledger)")
    } else {
        "run `backstop audit verify` (it lists every disagreement) and `backstop audit log` (each migration's events say what its row must be), then restore backstop's tables (or the edited rows) from a backup; nothing runs until history and the state row agree with the ledger".into()
    };
    (
        format!("backstop's history disagrees with its ledger, the tamper-evident record of every change; nothing was run:\n    {list}"),
        next,
    )
}

/// History's table name on `engine`.
pub(crate) fn history_table(engine: crate::driver::Engine) -> &'static str {
    match engine {
        crate::driver::Engine::Postgres => "backstop.migrations",
        _ => "backstop_migrations",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{seal, NewEvent, GENESIS};
    use serde_json::json;

    fn chain(evs: Vec<NewEvent>) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for ev in evs {
            let (seq, hash) = out
                .last()
                .map_or((0, GENESIS.to_string()), |e| (e.seq, e.hash.clone()));
            out.push(seal(
                ev,
                "ann",
                seq,
                &hash,
                "2026-01-01T00:00:00.000000Z".into(),
            ));
        }
        out
    }

    fn row(v: i64, status: Status) -> HistoryRow {
        HistoryRow {
            version: v,
            name: format!("m{v}"),
            checksum: String::new(),
            up_sql: String::new(),
            down_sql: None,
            verify_sql: None,
            irreversible: None,
            options: Default::default(),
            release_id: "r".into(),
            actor: "ann".into(),
            started_at: String::new(),
            finished_at: None,
            duration_ms: None,
            fingerprint_before: String::new(),
            fingerprint_after: None,
            schema_delta: "{}".into(),
            status,
            progress: 0,
            note: None,
        }
    }

    fn state(fp: &str) -> StoredState {
        StoredState {
            fingerprint: fp.into(),
            ..Default::default()
        }
    }

    #[test]
    fn statuses_follow_the_ledger() {
        let evs = chain(vec![
            NewEvent::new("apply")
                .version(1)
                .detail(json!({"fingerprint_after": "f1"})),
            NewEvent::new("apply-started").version(2),
            NewEvent::new("dirty").version(2),
            NewEvent::new("resolve")
                .version(2)
                .detail(json!({"to": "rolled_back", "fingerprint": "f1"})),
            NewEvent::new("apply-started").version(3),
            NewEvent::new("apply-failed")
                .version(3)
                .detail(json!({"cleaned": true})),
            NewEvent::new("apply-failed").version(4),
        ]);
        let h = vec![
            row(1, Status::Applied),
            row(2, Status::RolledBack),
            row(3, Status::RolledBack),
        ];
        let t = "backstop_migrations";
        assert_eq!(crosscheck(&h, &evs, Some(&state("f1")), t), vec![]);
        // A row marked rolled back that the ledger says is applied, a deleted row, a
        // rewritten baseline: each is found.
        let mut edited = h.clone();
        edited[0].status = Status::RolledBack;
        assert_eq!(crosscheck(&edited, &evs, Some(&state("f1")), t).len(), 1);
        assert_eq!(crosscheck(&h[1..], &evs, Some(&state("f1")), t).len(), 1);
        let found = crosscheck(&h, &evs, Some(&state("f2")), t);
        assert_eq!(found[0].ledger_fingerprint.as_deref(), Some("f1"));
        // A row no event wrote.
        let mut extra = h.clone();
        extra.push(row(5, Status::Applied));
        assert_eq!(crosscheck(&extra, &evs, Some(&state("f1")), t).len(), 1);
    }

    #[test]
    fn a_lost_head_override_restarts_the_account() {
        let evs = chain(vec![NewEvent::new("override").detail(
            json!({"check": "drift", "current": "f9", "lost_head": {"ledger_end": 0, "history_rows": 1, "statuses": {"1": "applied"}}}),
        )]);
        let h = vec![row(1, Status::Applied)];
        let t = "backstop_migrations";
        assert_eq!(crosscheck(&h, &evs, Some(&state("f9")), t), vec![]);
        let mut rb = h.clone();
        rb[0].status = Status::RolledBack;
        assert_eq!(crosscheck(&rb, &evs, Some(&state("f9")), t).len(), 1);
        // An older override recorded no statuses: nothing to compare with.
        let old = chain(vec![NewEvent::new("override").detail(
            json!({"check": "drift", "current": "f9", "lost_head": {"ledger_end": 0, "history_rows": 1}}),
        )]);
        assert_eq!(crosscheck(&rb, &old, Some(&state("f9")), t), vec![]);
    }

    #[test]
    fn an_unproven_rollback_outside_a_transaction_agrees_whichever_version_wrote_it() {
        let t = "backstop_migrations";
        let apply = NewEvent::new("apply")
            .version(1)
            .detail(json!({"fingerprint_after": "f1"}));
        // This version says whether the row was left dirty.
        let flagged = chain(vec![
            apply.clone(),
            NewEvent::new("rollback-failed")
                .version(1)
                .detail(json!({"reason": "unproven", "dirty": true})),
        ]);
        assert_eq!(
            crosscheck(&[row(1, Status::Dirty)], &flagged, Some(&state("f1")), t),
            vec![]
        );
        assert_eq!(
            crosscheck(&[row(1, Status::Applied)], &flagged, Some(&state("f1")), t).len(),
            1
        );
        // An older event without the flag can't tell: dirty and applied both agree.
        let unflagged = chain(vec![
            apply,
            NewEvent::new("rollback-failed")
                .version(1)
                .detail(json!({"reason": "unproven"})),
        ]);
        for st in [Status::Dirty, Status::Applied] {
            assert_eq!(
                crosscheck(&[row(1, st)], &unflagged, Some(&state("f1")), t),
                vec![],
                "{st:?}"
            );
        }
        assert_eq!(
            crosscheck(
                &[row(1, Status::RolledBack)],
                &unflagged,
                Some(&state("f1")),
                t
            )
            .len(),
            1
        );
    }

    fn summed(v: i64, status: Status, checksum: &str) -> HistoryRow {
        HistoryRow {
            checksum: checksum.into(),
            ..row(v, status)
        }
    }

    #[test]
    fn checksums_follow_the_ledger() {
        let t = "backstop_migrations";
        let st = state("f1");
        let apply = |v: i64, c: &str| {
            NewEvent::new("apply")
                .version(v)
                .detail(json!({"checksum": c, "fingerprint_after": "f1"}))
        };
        // Applied, rolled back, edited and applied again: the latest apply counts.
        let evs = chain(vec![
            apply(1, "c1"),
            NewEvent::new("rollback")
                .version(1)
                .detail(json!({"fingerprint_after": "f1"})),
            apply(1, "c2"),
        ]);
        assert_eq!(
            crosscheck(&[summed(1, Status::Applied, "c2")], &evs, Some(&st), t),
            vec![]
        );
        let found = crosscheck(&[summed(1, Status::Applied, "c1")], &evs, Some(&st), t);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ledger_checksum.as_deref(), Some("c2"));
        assert!(found[0].what.contains("checksum"), "{found:?}");
        // Rewritten together with the status: both are said.
        let found = crosscheck(&[summed(1, Status::RolledBack, "c9")], &evs, Some(&st), t);
        assert_eq!(found.len(), 2, "{found:?}");

        // Rolled back, then an edited version failed in a transaction: the row is as the
        // rollback left it, with the checksum of the apply before.
        let evs = chain(vec![
            apply(1, "c1"),
            NewEvent::new("rollback").version(1),
            NewEvent::new("apply-failed").version(1),
        ]);
        assert_eq!(
            crosscheck(&[summed(1, Status::RolledBack, "c1")], &evs, Some(&st), t),
            vec![]
        );
        assert_eq!(
            crosscheck(&[summed(1, Status::RolledBack, "c2")], &evs, Some(&st), t).len(),
            1
        );

        // Outside a transaction: `apply-started` records the checksum its dirty marker is
        // written with; the run's `dirty` or cleaned-up `apply-failed` keeps it, and so
        // does a `resolve` (which records it from this version on).
        for end in [
            NewEvent::new("dirty").version(1),
            NewEvent::new("apply-failed")
                .version(1)
                .detail(json!({"cleaned": true})),
        ] {
            let evs = chain(vec![
                NewEvent::new("apply-started")
                    .version(1)
                    .detail(json!({"checksum": "c1"})),
                end,
            ]);
            for c in ["c1", "c2"] {
                let row = |s| summed(1, s, c);
                let found = crosscheck(&[row(Status::Dirty)], &evs, Some(&st), t).len()
                    + crosscheck(&[row(Status::RolledBack)], &evs, Some(&st), t).len();
                // One of the two statuses is the ledger's; a rewritten checksum adds to it.
                assert_eq!(found, if c == "c1" { 1 } else { 3 }, "{c}");
            }
        }
        let resolved = |detail| {
            chain(vec![
                NewEvent::new("apply-started")
                    .version(1)
                    .detail(json!({"checksum": "c1"})),
                NewEvent::new("dirty").version(1),
                NewEvent::new("resolve").version(1).detail(detail),
            ])
        };
        for evs in [
            resolved(json!({"to": "applied"})),
            resolved(json!({"to": "applied", "checksum": "c1"})),
        ] {
            assert_eq!(
                crosscheck(&[summed(1, Status::Applied, "c1")], &evs, Some(&st), t),
                vec![]
            );
            assert_eq!(
                crosscheck(&[summed(1, Status::Applied, "c2")], &evs, Some(&st), t).len(),
                1
            );
        }

        // A rollback left dirty keeps the checksum it was applied with.
        let evs = chain(vec![apply(1, "c1"), NewEvent::new("dirty").version(1)]);
        assert_eq!(
            crosscheck(&[summed(1, Status::Dirty, "c2")], &evs, Some(&st), t).len(),
            1
        );

        // An older backstop ran a migration outside a transaction without `apply-started`:
        // its dirty marker (here after an earlier apply was rolled back and the migration
        // edited) was written with a checksum nothing recorded, so nothing to compare.
        for end in [
            NewEvent::new("dirty").version(1),
            NewEvent::new("apply-failed")
                .version(1)
                .detail(json!({"cleaned": true})),
        ] {
            let evs = chain(vec![
                apply(1, "c1"),
                NewEvent::new("rollback").version(1),
                end,
            ]);
            for s in [Status::Dirty, Status::RolledBack] {
                let found = crosscheck(&[summed(1, s, "c2")], &evs, Some(&st), t);
                assert!(
                    found.iter().all(|d| d.ledger_checksum.is_none()),
                    "{found:?}"
                );
            }
        }

        // No checksum recorded at all, and `failed` rows of older backstops: not compared.
        let evs = chain(vec![NewEvent::new("apply").version(1)]);
        assert_eq!(
            crosscheck(&[summed(1, Status::Applied, "c2")], &evs, Some(&st), t),
            vec![]
        );
        let evs = chain(vec![
            apply(1, "c1"),
            NewEvent::new("rollback").version(1),
            NewEvent::new("apply-failed").version(1),
        ]);
        assert_eq!(
            crosscheck(&[summed(1, Status::Failed, "c2")], &evs, Some(&st), t),
            vec![]
        );
    }

    #[test]
    fn a_lost_head_override_restarts_the_checksums() {
        let t = "backstop_migrations";
        let st = state("f9");
        // The re-apply with c2 was lost with the ledger's tail; the override accepted the
        // row as it was found, with its checksum.
        let lost = |checksums: Option<Value>| {
            let mut lost_head =
                json!({"ledger_end": 1, "history_rows": 1, "statuses": {"1": "applied"}});
            if let Some(c) = checksums {
                lost_head["checksums"] = c;
            }
            chain(vec![
                NewEvent::new("apply")
                    .version(1)
                    .detail(json!({"checksum": "c1"})),
                NewEvent::new("override")
                    .detail(json!({"check": "drift", "current": "f9", "lost_head": lost_head})),
            ])
        };
        let evs = lost(Some(json!({"1": "c2"})));
        assert_eq!(
            crosscheck(&[summed(1, Status::Applied, "c2")], &evs, Some(&st), t),
            vec![]
        );
        assert_eq!(
            crosscheck(&[summed(1, Status::Applied, "c3")], &evs, Some(&st), t).len(),
            1
        );
        // An older override recorded no checksums: nothing to compare with until the
        // migration is written again.
        assert_eq!(
            crosscheck(
                &[summed(1, Status::Applied, "c3")],
                &lost(None),
                Some(&st),
                t
            ),
            vec![]
        );
    }
}
