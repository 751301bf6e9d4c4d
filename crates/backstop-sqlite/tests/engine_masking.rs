//! The engine called directly, without the command line: what it stores is masked.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::Driver;
use backstop_core::engine::{self, ApplyOptions, Ctx, Resolution, RollbackOptions};
use std::time::Duration;

const SECRET: &str = "Zq9-hunter2-Secret";

fn write(dir: &std::path::Path, id: &str, files: &[(&str, &str)]) {
    let d = dir.join(id);
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
}

#[test]
fn a_password_in_the_actor_release_or_reason_is_never_stored() {
    // Guards against a program calling backstop-core directly storing an unmasked password
    // in history rows (actor, release id, notes) where only the command line masked it.
    backstop_core::redact::register_secret(SECRET);
    let (tmp, _path, url) = common::temp_db();
    let migrations = tmp.path().join("migrations");
    write(
        &migrations,
        "1_t",
        &[
            ("up.sql", "CREATE TABLE t (id int);"),
            ("down.sql", "DROP TABLE t;"),
            (
                "migration.toml",
                "irreversible = true\nreason = \"drops the table\"\n",
            ),
        ],
    );
    // Outside a transaction, stopped after its first statement, with no way back: dirty.
    write(
        &migrations,
        "2_half",
        &[
            (
                "up.sql",
                "CREATE TABLE u (id int);\nINSERT INTO nope VALUES (1);",
            ),
            (
                "migration.toml",
                "transaction = false\nirreversible = true\nreason = \"one-off\"\n",
            ),
        ],
    );
    let ms = backstop_core::migration::load_dir(&migrations).unwrap();
    let ctx = Ctx {
        actor: format!("ann (password {SECRET})"),
        lock_wait: Duration::from_secs(5),
        require_sum: false,
        progress: None,
    };
    let release = format!("rel-{SECRET}");
    let apply_opts = |to: Option<i64>| ApplyOptions {
        to,
        release: Some(release.clone()),
        sum_path: tmp.path().join("backstop.sum"),
        ..Default::default()
    };
    let mut db = common::open(&url);

    engine::apply(&mut db, &ms, &ctx, &apply_opts(Some(1))).unwrap();
    // The release id as the caller knows it still finds what was stored under it.
    let r = engine::rollback(
        &mut db,
        &ctx,
        &RollbackOptions {
            target: engine::RollbackTarget::Release(release.clone()),
            dry_run: false,
            force_reason: Some(format!("forced, see {SECRET}")),
            allow_drift: None,
        },
    )
    .unwrap();
    assert_eq!(r.rolled_back.len(), 1);
    let forced = db.load_history().unwrap()[0]
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        forced.contains("forced") && !forced.contains(SECRET),
        "{forced}"
    );
    let failed = engine::apply(&mut db, &ms, &ctx, &apply_opts(None)).unwrap_err();
    assert_eq!(failed.error.exit_code(), 5, "{}", failed.error);
    let resolved = engine::resolve(
        &mut db,
        &ctx,
        2,
        Resolution::Applied,
        &format!("finished by hand, {SECRET}"),
    )
    .unwrap();
    assert!(!resolved.reason.contains(SECRET), "{}", resolved.reason);

    let history = db.load_history().unwrap();
    assert_eq!(history.len(), 2);
    for row in &history {
        let stored = serde_json::to_string(row).unwrap();
        assert!(!stored.contains(SECRET), "history row holds it: {stored}");
        assert!(row.actor.starts_with("ann"), "{stored}");
    }
    // The note says who resolved it and why, masked.
    let note = history[1].note.clone().unwrap_or_default();
    assert!(
        note.contains("resolved as applied") && note.contains("***"),
        "{note}"
    );
    for e in db.load_events().unwrap() {
        let stored = serde_json::to_string(&e).unwrap();
        assert!(!stored.contains(SECRET), "ledger event holds it: {stored}");
    }
}

#[test]
fn a_password_literal_of_a_script_is_masked_where_the_engine_reports_or_stores_it() {
    // Regression: after a later statement of a script failed outside a transaction, the
    // report listed the statement that had run as written, `SELECT password '…'` and all,
    // and the ledger stored it so. The history keeps the script as written: it is what
    // rollback and checksums need.
    let literal = "S3cretRolePw!";
    let (tmp, _path, url) = common::temp_db();
    let migrations = tmp.path().join("migrations");
    // SQLite reads `password '…'` as a column and its alias: the statement runs.
    let up = format!(
        "CREATE TABLE accounts (password text);\nSELECT password '{literal}' FROM accounts;\nINSERT INTO nope VALUES (1);"
    );
    write(
        &migrations,
        "1_half",
        &[
            ("up.sql", &up),
            (
                "migration.toml",
                "transaction = false\nirreversible = true\nreason = \"one-off\"\n",
            ),
        ],
    );
    let ms = backstop_core::migration::load_dir(&migrations).unwrap();
    let ctx = Ctx {
        actor: "ann".into(),
        lock_wait: Duration::from_secs(5),
        require_sum: false,
        progress: None,
    };
    let mut db = common::open(&url);
    let failed = engine::apply(
        &mut db,
        &ms,
        &ctx,
        &ApplyOptions {
            sum_path: tmp.path().join("backstop.sum"),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(failed.error.exit_code(), 5, "{}", failed.error);
    let report = failed.error.to_string();
    assert!(!report.contains(literal), "{report}");
    assert!(
        report.contains("SELECT password '***' FROM accounts"),
        "{report}"
    );
    for e in db.load_events().unwrap() {
        let stored = serde_json::to_string(&e).unwrap();
        assert!(!stored.contains(literal), "ledger event holds it: {stored}");
    }
    let history = db.load_history().unwrap();
    assert_eq!(history[0].up_sql, up, "stored as written");
}
