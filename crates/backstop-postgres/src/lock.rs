//! The migration lock: a session-level advisory lock on a fixed key. It is only ever tried,
//! never waited for: a session blocked in `pg_advisory_lock` holds a snapshot that
//! `CREATE INDEX CONCURRENTLY` in the lock holder waits on — a deadlock PostgreSQL can't see
//! (<https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY>).

use crate::error;
use crate::pg::Client;
use backstop_core::driver::{DbError, LockAttempt, LockHolder};

/// `"backstop"` read as a big-endian integer: fixed, and recognisable in `pg_locks`
/// (classid 0x6261636b, objid 0x73746f70).
pub const MIGRATION_LOCK_KEY: i64 = i64::from_be_bytes(*b"backstop");

/// A bigint advisory key appears in pg_locks split in two: classid = high 32 bits,
/// objid = low 32 bits, objsubid = 1
/// (<https://www.postgresql.org/docs/current/view-pg-locks.html>).
const HOLDER_SQL: &str = "SELECT a.pid::pg_catalog.int8, a.application_name, \
       to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
       a.client_addr::pg_catalog.text, a.usename::pg_catalog.text, l.pid::pg_catalog.int8 \
  FROM pg_catalog.pg_locks l \
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
 WHERE l.locktype = 'advisory' AND l.granted \
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()) \
   AND l.classid = (($1::pg_catalog.int8 >> 32) & 4294967295)::pg_catalog.oid \
   AND l.objid = ($1::pg_catalog.int8 & 4294967295)::pg_catalog.oid \
   AND l.objsubid = 1 \
   AND l.pid <> pg_backend_pid() \
 LIMIT 1";

pub fn try_lock(client: &mut Client) -> Result<LockAttempt, DbError> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .map_err(|e| error::map(&e))?;
    let got: bool = row.try_get(0).map_err(|e| error::map(&e))?;
    if got {
        return Ok(LockAttempt::Acquired);
    }
    Ok(LockAttempt::Held(holder(client)?))
}

/// Whether this session holds the lock (as pg_locks says), taking it back at once if it
/// doesn't and it is free: for after a statement that may have released it. Asked in one
/// query: `CASE` evaluates the try only when the lock is not held already (taking a
/// session advisory lock twice would need two unlocks).
pub fn still_held(client: &mut Client) -> Result<LockAttempt, DbError> {
    let row = client
        .query_one(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks l \
               WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_catalog.pg_backend_pid() \
                 AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()) \
                 AND l.classid = (($1::pg_catalog.int8 >> 32) & 4294967295)::pg_catalog.oid \
                 AND l.objid = ($1::pg_catalog.int8 & 4294967295)::pg_catalog.oid \
                 AND l.objsubid = 1) \
             THEN true ELSE pg_catalog.pg_try_advisory_lock($1) END",
            &[&MIGRATION_LOCK_KEY],
        )
        .map_err(|e| error::map(&e))?;
    let held: bool = row.try_get(0).map_err(|e| error::map(&e))?;
    if held {
        return Ok(LockAttempt::Acquired);
    }
    Ok(LockAttempt::Held(holder(client)?))
}

/// Who holds the lock, another session than this one, from `pg_locks`: taking nothing, so
/// a command that only looks (`status`) can ask. `None` when nobody does (after a failed
/// attempt: it was released between the attempt and this look).
pub fn holder(client: &mut Client) -> Result<Option<LockHolder>, DbError> {
    let rows = client
        .query(HOLDER_SQL, &[&MIGRATION_LOCK_KEY])
        .map_err(|e| error::map(&e))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let get_s = |i: usize| -> Option<String> {
        row.try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
    };
    // pg_stat_activity hides other users' sessions from unprivileged roles; pg_locks still
    // gives the pid.
    let pid = row
        .try_get::<_, Option<i64>>(0)
        .ok()
        .flatten()
        .or_else(|| row.try_get::<_, Option<i64>>(5).ok().flatten());
    let mut detail = Vec::new();
    if let Some(u) = get_s(4) {
        detail.push(format!("user {u}"));
    }
    if let Some(c) = get_s(3) {
        detail.push(format!("client {c}"));
    }
    Ok(Some(LockHolder {
        pid,
        application_name: get_s(1),
        since: get_s(2),
        detail: (!detail.is_empty()).then(|| detail.join(", ")),
    }))
}

pub fn unlock(client: &mut Client) -> Result<(), DbError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .map(|_| ())
        .map_err(|e| error::map(&e))
}
