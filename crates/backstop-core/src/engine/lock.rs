//! The migration lock as an RAII guard.

use crate::driver::{Driver, LockAttempt};
use crate::error::EngineError;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// Holds the migration lock; releases it when dropped, on every path. If the process dies
/// the database (or OS, for SQLite's lock file) frees it with the session.
pub struct LockGuard<'a> {
    db: &'a mut dyn Driver,
}

impl<'a> Deref for LockGuard<'a> {
    type Target = dyn Driver + 'a;
    fn deref(&self) -> &Self::Target {
        &*self.db
    }
}

impl DerefMut for LockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.db
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // A failed unlock can't be reported from Drop; the lock is session-scoped, so it is
        // freed when the connection closes right after.
        let _ = self.db.unlock();
    }
}

/// Take the migration lock, polling a non-blocking try-lock until `wait` has passed.
/// Polling (never a blocking wait) is what keeps a waiting runner from deadlocking with a
/// holder that runs CREATE INDEX CONCURRENTLY, which waits for every open transaction.
pub fn acquire<'a>(db: &'a mut dyn Driver, ctx: &super::Ctx) -> Result<LockGuard<'a>, EngineError> {
    let wait = ctx.lock_wait;
    let start = Instant::now();
    let mut told = false;
    let mut delay = Duration::from_millis(20);
    loop {
        match db.try_lock()? {
            LockAttempt::Acquired => return Ok(LockGuard { db }),
            LockAttempt::Held(holder) => {
                let waited = start.elapsed();
                if !told {
                    told = true;
                    let who = holder
                        .as_ref()
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "another session".into());
                    ctx.say(|| {
                        format!(
                            "waiting up to {} for the migration lock, held by {who} …",
                            humantime::format_duration(wait)
                        )
                    });
                }
                if waited >= wait {
                    return Err(EngineError::LockTimeout {
                        database: db.display_url(),
                        holder: holder
                            .as_ref()
                            .map(|h| h.to_string())
                            .unwrap_or_else(|| "another session".into()),
                        holder_info: holder.map(Box::new),
                        waited,
                    });
                }
                // Jitter spreads out many waiters so they don't poll in lockstep.
                let jitter = Duration::from_millis(
                    (std::process::id() as u64 ^ waited.as_micros() as u64) % 20,
                );
                std::thread::sleep(
                    (delay + jitter)
                        .min(wait.saturating_sub(waited))
                        .max(Duration::from_millis(1)),
                );
                delay = (delay * 2).min(Duration::from_millis(250));
            }
        }
    }
}
