//! Waiting for another connection's lock on the database file.
//!
//! SQLite locks the whole file: while another process commits, or runs a transaction big
//! enough to spill its changes to the file (a long migration), nobody else can even read
//! it, unless the database is in WAL mode (<https://sqlite.org/wal.html>). A statement that
//! meets such a lock calls the busy handler until the handler gives up, then fails with
//! SQLITE_BUSY. This handler does what `busy_timeout` does (sleep and try again until the
//! limit), and also says once why it is waiting, naming the holder of the migration lock
//! when there is one: a long wait for another backstop run should not look like a hang.
//! See <https://sqlite.org/c3ref/busy_handler.html>.

use crate::lock;
use backstop_core::driver::DbError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the "waiting for …" line goes (a progress line on stderr, say).
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

/// How long a wait lasts before it is worth a word: a commit by another connection takes
/// milliseconds; anything longer is a long transaction someone should know about.
const TELL_AFTER: Duration = Duration::from_millis(500);

#[derive(Default)]
struct State {
    /// How long one statement waits before it fails with SQLITE_BUSY.
    limit: Duration,
    /// When the current wait began (the handler's first call for a statement).
    since: Option<Instant>,
    notice: Option<Notice>,
    /// Whether the notice was given for the current wait (once per wait is enough).
    told: bool,
    /// The database and its migration lock file, for the notice; `None` in memory.
    database: Option<(PathBuf, PathBuf)>,
    /// Whether this connection holds the migration lock (then no other backstop run is
    /// the one writing).
    own_lock: bool,
    /// Whether the wait is a COMMIT's while this connection holds the write lock: then only
    /// readers can be in the way (rollback-journal mode: a commit needs the file to itself).
    committing: bool,
}

/// The busy handler installed on a connection, and its settings.
#[derive(Clone, Default)]
pub(crate) struct Waiter(Arc<Mutex<State>>);

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waiter")
    }
}

impl Waiter {
    pub(crate) fn install(
        conn: &mut Connection,
        database: Option<(PathBuf, PathBuf)>,
        limit: Duration,
    ) -> Result<Waiter, DbError> {
        let w = Waiter::default();
        if let Ok(mut st) = w.0.lock() {
            st.database = database;
            st.limit = limit;
        }
        w.attach(conn)?;
        Ok(w)
    }

    /// (Re)install the handler on `conn`: a script's `PRAGMA busy_timeout` replaces it with
    /// SQLite's own, which neither honours lock_timeout nor names the holder.
    pub(crate) fn attach(&self, conn: &mut Connection) -> Result<(), DbError> {
        let shared = Arc::clone(&self.0);
        conn.busy_handler(Some(move |count: i32| {
            // A poisoned lock means a panic elsewhere: give up waiting rather than spin.
            let Ok(mut st) = shared.lock() else {
                return false;
            };
            let now = Instant::now();
            let since = match (count, st.since) {
                (0, _) | (_, None) => {
                    st.since = Some(now);
                    // Each long wait is said: after a migration's, the recording of its
                    // failure may wait again, and silence would look like a hang.
                    st.told = false;
                    now
                }
                (_, Some(s)) => s,
            };
            let waited = now.duration_since(since);
            let limit = st.limit;
            if waited >= limit {
                return false;
            }
            let mut tell = None;
            if !st.told && waited >= TELL_AFTER && limit > TELL_AFTER {
                if let Some(notice) = st.notice.clone() {
                    st.told = true;
                    tell = Some((notice, st.waiting_line()));
                }
            }
            // Not under our mutex: the sink may be slow (a terminal), and the holder's
            // lock file is read above, not while sleeping.
            drop(st);
            if let Some((notice, line)) = tell {
                notice(&line);
            }
            // A little longer each time (1 ms up to 100 ms, like SQLite's own handler),
            // never past the limit.
            let step =
                Duration::from_millis(1 << count.clamp(0, 7)).min(Duration::from_millis(100));
            std::thread::sleep(step.min(limit.saturating_sub(waited)));
            true
        }))
        .map_err(crate::error::db)
    }

    /// How long statements wait from now on.
    pub(crate) fn set_limit(&self, limit: Duration) {
        if let Ok(mut st) = self.0.lock() {
            st.limit = limit;
        }
    }

    pub(crate) fn set_notice(&self, notice: Option<Notice>) {
        if let Ok(mut st) = self.0.lock() {
            st.notice = notice;
        }
    }

    pub(crate) fn set_own_lock(&self, held: bool) {
        if let Ok(mut st) = self.0.lock() {
            st.own_lock = held;
        }
    }

    /// Whether the waits from now on are a COMMIT's, with the write lock held: the
    /// connections in the way are then readers, not writers.
    pub(crate) fn set_committing(&self, committing: bool) {
        if let Ok(mut st) = self.0.lock() {
            st.committing = committing;
        }
    }

    /// Who makes the database busy, as far as backstop can tell, for an error's detail.
    pub(crate) fn holder_detail(&self) -> Option<String> {
        self.0.lock().ok().map(|st| st.holder_text())
    }
}

impl State {
    fn holder_text(&self) -> String {
        if self.committing {
            return "another connection is reading it (a read transaction keeps a commit waiting in rollback-journal mode; WAL mode lets them go on together)".into();
        }
        match &self.database {
            None => "another connection is writing it".into(),
            Some(_) if self.own_lock => {
                "another connection is writing it (not a backstop run: this one holds the migration lock)".into()
            }
            Some((_, lock_file)) => match lock::holder(lock_file) {
                Some(h) => format!("a backstop run is writing it (the migration lock is held by {h})"),
                None => "another connection is writing it (not a backstop run: the migration lock is free)".into(),
            },
        }
    }

    fn waiting_line(&self) -> String {
        let what = self
            .database
            .as_ref()
            .map(|(db, _)| db.display().to_string())
            .unwrap_or_else(|| "the database".into());
        // A zero lock_timeout means no limit.
        let limit = if self.limit >= crate::NO_LIMIT {
            "with no limit".to_string()
        } else {
            format!("up to {}", humanize(self.limit))
        };
        format!("waiting {limit} for {what}: {} …", self.holder_text())
    }
}

pub(crate) fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
