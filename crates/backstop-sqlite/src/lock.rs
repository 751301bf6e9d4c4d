//! The migration lock for a database file: an OS advisory lock on a sidecar `PATH.lock`.
//!
//! SQLite's own locks are per transaction, but a migration run spans many transactions
//! (one per migration, plus history reads), so the run needs a lock of its own. It must not
//! outlive a crashed process: a lock row in the database would stay behind after
//! `kill -9`. An OS file lock (`flock` on Unix, `LockFileEx` on Windows, via std's
//! `File::try_lock`) is released by the kernel when the process dies, whatever killed it.
//!
//! The holder writes `pid=… since=… app=…` into the file so a waiting process can say who
//! is holding it. The file itself is left in place: deleting it while another process has it
//! open would let two processes lock two different inodes under the same name.

use backstop_core::driver::{DbError, LockAttempt, LockHolder};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A sidecar lock file, held or not.
#[derive(Debug)]
pub(crate) struct FileLock {
    path: PathBuf,
    /// The open, locked file while we hold the lock. Closing it releases the lock.
    held: Option<File>,
}

impl FileLock {
    pub(crate) fn new(path: PathBuf) -> Self {
        FileLock { path, held: None }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this connection holds the lock.
    pub(crate) fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// One non-blocking attempt. Re-entrant: a holder asking again gets `Acquired`.
    pub(crate) fn try_lock(&mut self, application_name: &str) -> Result<LockAttempt, DbError> {
        if self.held.is_some() {
            return Ok(LockAttempt::Acquired);
        }
        let io_err = |what: &str, e: std::io::Error| {
            DbError::other(format!(
                "cannot {what} the migration lock file {}: {e}",
                self.path.display()
            ))
        };
        // No truncate on open: the file may be locked by someone else, whose holder info we
        // want to read rather than erase.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| io_err("open", e))?;
        match file.try_lock() {
            Ok(()) => {
                let info = format!(
                    "pid={} since={} app={}\n",
                    std::process::id(),
                    backstop_core::now_rfc3339(),
                    application_name.replace('\n', " ")
                );
                file.set_len(0).map_err(|e| io_err("write", e))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| io_err("write", e))?;
                file.write_all(info.as_bytes())
                    .map_err(|e| io_err("write", e))?;
                self.held = Some(file);
                Ok(LockAttempt::Acquired)
            }
            Err(TryLockError::WouldBlock) => {
                // The holder may have locked the file but not written it yet (or, on
                // Windows, where locks are mandatory, the file can't be read): then we know
                // only where the lock is.
                let text = std::fs::read_to_string(&self.path).unwrap_or_default();
                let mut holder = parse_holder(&text);
                holder.detail = Some(format!("lock file {}", self.path.display()));
                Ok(LockAttempt::Held(Some(holder)))
            }
            Err(TryLockError::Error(e)) => Err(io_err("lock", e)),
        }
    }

    /// Release the lock if held. Clears the holder line first so that a stale line is never
    /// read as the next holder's.
    pub(crate) fn unlock(&mut self) -> Result<(), DbError> {
        let Some(file) = self.held.take() else {
            return Ok(());
        };
        // Best effort: the lock is what matters, and closing the file releases it anyway.
        let _ = file.set_len(0);
        file.unlock().map_err(|e| {
            DbError::other(format!(
                "cannot unlock the migration lock file {}: {e}",
                self.path.display()
            ))
        })
    }
}

/// Who holds the lock on `path` now, if anyone. A free lock's file may still hold the line
/// of a holder that died, so the line alone can't tell. On Linux the kernel's table of
/// file locks says, without taking anything; elsewhere the lock itself is tried, and
/// released at once when free (a run trying it at that very moment finds it held and tries
/// again, as it does while any holder has it).
pub(crate) fn holder(path: &Path) -> Option<LockHolder> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = parse_holder(&text);
    if let Some(found) = kernel_holder(path, line.pid) {
        return found.map(|pid| {
            let mut h = line;
            // The kernel's pid, should the line not be written yet.
            h.pid = h.pid.or(Some(pid));
            h.detail = Some(format!("lock file {}", path.display()));
            h
        });
    }
    let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => {
            let mut h = parse_holder(&std::fs::read_to_string(path).unwrap_or_default());
            h.detail = Some(format!("lock file {}", path.display()));
            Some(h)
        }
        Err(TryLockError::Error(_)) => None,
    }
}

/// Who holds an exclusive `flock` on `path`, from `/proc/locks` (Linux): `Some(Some(pid))`
/// held, `Some(None)` free, `None` when that can't be told (no such table, or the file
/// can't be looked at). The table names a lock's file by device and inode; `line_pid` (the
/// pid the lock file's line names) also matches an entry of the same inode on another
/// device number, as an overlay filesystem may show it.
#[cfg(target_os = "linux")]
fn kernel_holder(path: &Path, line_pid: Option<i64>) -> Option<Option<i64>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    // glibc's major()/minor(); /proc/locks prints them in hex, the inode in decimal.
    let dev = meta.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let device = format!("{major:02x}:{minor:02x}");
    Some(table.lines().find_map(|l| {
        // `1: FLOCK  ADVISORY  WRITE 8024 fe:00:10010897 0 EOF`; a waiter's line has `->`
        // after the number, and holds nothing.
        let f: Vec<&str> = l.split_whitespace().collect();
        let [_, "FLOCK", _, "WRITE", pid, file, ..] = f.as_slice() else {
            return None;
        };
        let pid: i64 = pid.parse().ok()?;
        let (dev, ino) = file.rsplit_once(':')?;
        (ino.parse::<u64>().ok()? == meta.ino() && (dev == device || line_pid == Some(pid)))
            .then_some(pid)
    }))
}

#[cfg(not(target_os = "linux"))]
fn kernel_holder(_path: &Path, _line_pid: Option<i64>) -> Option<Option<i64>> {
    None
}

/// Parse `pid=123 since=2026-01-01T00:00:00.000000Z app=backstop apply`. The application
/// name comes last because it may contain spaces.
fn parse_holder(text: &str) -> LockHolder {
    let line = text.lines().next().unwrap_or("").trim();
    let mut holder = LockHolder::default();
    let (head, app) = match line.find(" app=") {
        Some(i) => (&line[..i], Some(&line[i + " app=".len()..])),
        None => (line, None),
    };
    for part in head.split_whitespace() {
        if let Some(p) = part.strip_prefix("pid=") {
            holder.pid = p.parse().ok();
        } else if let Some(s) = part.strip_prefix("since=") {
            holder.since = Some(s.to_string());
        }
    }
    holder.application_name = app.map(str::to_string).filter(|a| !a.is_empty());
    holder
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On Linux the holder is read from the kernel's table, so looking never takes the
    /// lock (a run trying it at that moment would find it held).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("backstop-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.db.lock");
        let mut l = FileLock::new(path.clone());
        assert_eq!(l.try_lock("backstop apply").unwrap(), LockAttempt::Acquired);
        let me = i64::from(std::process::id());
        assert_eq!(kernel_holder(&path, None), Some(Some(me)));
        let h = holder(&path).unwrap();
        assert_eq!(h.pid, Some(me));
        assert_eq!(h.application_name.as_deref(), Some("backstop apply"));
        l.unlock().unwrap();
        assert_eq!(kernel_holder(&path, None), Some(None));
        assert_eq!(holder(&path), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn parses_holder_lines() {
        let h = parse_holder("pid=42 since=2026-01-01T00:00:00Z app=backstop apply --to 3\n");
        assert_eq!(h.pid, Some(42));
        assert_eq!(h.since.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(h.application_name.as_deref(), Some("backstop apply --to 3"));
        assert_eq!(parse_holder(""), LockHolder::default());
    }
}
