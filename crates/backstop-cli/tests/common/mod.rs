//! Shared harness for end-to-end tests: a project folder, a database per test (a temp
//! SQLite file, or a randomly named PostgreSQL database dropped at the end), and the built
//! `backstop` binary.
#![allow(dead_code)]

use backstop_core::driver::Driver;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_backstop");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub struct Db {
    pub kind: Kind,
    pub url: String,
    _tmp: Option<tempfile::TempDir>,
    _pg: Option<backstop_postgres::testing::TestDb>,
}

impl Db {
    pub fn new(kind: Kind) -> Db {
        match kind {
            Kind::Sqlite => {
                let tmp = tempfile::tempdir().expect("temp dir");
                let path = tmp.path().join("test.db");
                // An empty database that exists, as a server database does before the
                // first apply: read-only commands refuse a file that doesn't exist.
                std::fs::File::create(&path).expect("create test.db");
                let url = format!("sqlite://{}", path.display());
                Db {
                    kind,
                    url,
                    _tmp: Some(tmp),
                    _pg: None,
                }
            }
            Kind::Postgres => {
                let t = backstop_postgres::testing::TestDb::new();
                Db {
                    kind,
                    url: t.url.clone(),
                    _tmp: None,
                    _pg: Some(t),
                }
            }
        }
    }

    /// The same database reached through `url` (as another role, say). The value returned
    /// owns nothing: `self` still drops the database, so keep it alive as long.
    pub fn through(&self, url: String) -> Db {
        Db {
            kind: self.kind,
            url,
            _tmp: None,
            _pg: None,
        }
    }

    pub fn connect(&self) -> Box<dyn Driver> {
        match self.kind {
            Kind::Sqlite => Box::new(backstop_sqlite::connect(&self.url).expect("connect sqlite")),
            Kind::Postgres => Box::new(
                backstop_postgres::connect(&self.url, "backstop-test").expect("connect postgres"),
            ),
        }
    }

    /// Run one statement directly (setup, tampering).
    pub fn exec(&self, sql: &str) {
        let mut d = self.connect();
        d.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Whether a one-row query's first column is true.
    pub fn check(&self, sql: &str) -> bool {
        let mut d = self.connect();
        let rows = d.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        rows[0]
    }

    /// History table names per engine.
    pub fn t(&self, name: &str) -> String {
        match self.kind {
            Kind::Sqlite => format!("backstop_{name}"),
            Kind::Postgres => format!("backstop.{name}"),
        }
    }
}

pub struct Project {
    pub tmp: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Project {
    pub fn new() -> Project {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(tmp.path().join("migrations")).expect("mkdir");
        Project { tmp }
    }

    /// A copy of examples/shop.
    pub fn shop() -> Project {
        let p = Project::new();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/migrations");
        copy_dir(&src, &p.dir());
        p
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("migrations")
    }

    /// Add a folder-form migration. `None` leaves a file out.
    pub fn add(
        &self,
        id: &str,
        up: &str,
        down: Option<&str>,
        verify: Option<&str>,
        toml: Option<&str>,
    ) -> PathBuf {
        let d = self.dir().join(id);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("up.sql"), up).expect("write");
        if let Some(x) = down {
            std::fs::write(d.join("down.sql"), x).expect("write");
        }
        if let Some(x) = verify {
            std::fs::write(d.join("verify.sql"), x).expect("write");
        }
        if let Some(x) = toml {
            std::fs::write(d.join("migration.toml"), x).expect("write");
        }
        d
    }

    pub fn cmd(&self, db: &Db, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.tmp.path())
            .env_remove("DATABASE_URL")
            .env("BACKSTOP_ACTOR", "tester")
            .arg("--database-url")
            .arg(&db.url)
            .arg("--dir")
            .arg(self.dir())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, db: &Db, args: &[&str]) -> Run {
        let out: Output = self.cmd(db, args).output().expect("run backstop");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Run and require exit 0.
    pub fn ok(&self, db: &Db, args: &[&str]) -> Run {
        let r = self.run(db, args);
        assert_eq!(r.code, 0, "backstop {args:?} failed:\n{r:?}");
        r
    }

    pub fn fingerprint(&self, db: &Db) -> String {
        self.ok(db, &["--format", "json", "schema"]).json()["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_string()
    }

    pub fn status(&self, db: &Db) -> serde_json::Value {
        self.ok(db, &["--format", "json", "status"]).json()
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read examples") {
        let e = e.expect("entry");
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}

/// Define one test per engine from a function taking `Kind`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name($crate::common::Kind::Sqlite) } )* }
        mod postgres { $( #[test] fn $name() { super::$name($crate::common::Kind::Postgres) } )* }
    };
}

/// On another connection to `url`: wait until a migration holds advisory lock `key` (its
/// signal that it is running), then run `sql`. The thread panics if no migration takes the
/// lock within 30 s.
pub fn when_migrating(url: &str, key: i64, sql: String) -> std::thread::JoinHandle<()> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        let start = std::time::Instant::now();
        while c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .expect("try")
            .get::<_, bool>(0)
        {
            c.execute("SELECT pg_advisory_unlock($1)", &[&key])
                .expect("unlock");
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "no migration started"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        c.batch_execute(&sql)
            .expect("the other session's statements");
    })
}

/// Another session that, once a migration holds advisory lock `key` (as
/// [`when_migrating`] waits for it), takes `LOCK TABLE tables IN ACCESS EXCLUSIVE MODE` in
/// a transaction and keeps it for `hold_for`, or until [`TableHolder::release`]; or, made
/// with [`TableHolder::now`], takes what a statement of its own locks at once. It shows up
/// as application `lock-holder`.
pub struct TableHolder {
    held: std::sync::mpsc::Receiver<i32>,
    pid: std::cell::Cell<Option<i32>>,
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TableHolder {
    pub fn when_migrating(
        url: &str,
        key: i64,
        tables: &str,
        hold_for: std::time::Duration,
    ) -> TableHolder {
        let lock = format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE");
        TableHolder::start(url, Some(key), lock, hold_for)
    }

    /// At once, in a transaction: run `take` (`LOCK TABLE backstop.state IN ACCESS
    /// EXCLUSIVE MODE`, `SELECT * FROM backstop.state FOR UPDATE`) and keep what it locked
    /// for `hold_for`, or until [`TableHolder::release`]. Returns once it holds it.
    pub fn now(url: &str, take: &str, hold_for: std::time::Duration) -> TableHolder {
        let holder = TableHolder::start(url, None, take.to_string(), hold_for);
        holder.pid();
        holder
    }

    fn start(
        url: &str,
        key: Option<i64>,
        take: String,
        hold_for: std::time::Duration,
    ) -> TableHolder {
        let url = url.to_string();
        let lock = format!("BEGIN; {take}");
        let (held_tx, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
            c.batch_execute("SET application_name = 'lock-holder'")
                .expect("application_name");
            let start = std::time::Instant::now();
            while key.is_some_and(|key| {
                c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                    .expect("try")
                    .get::<_, bool>(0)
            }) {
                c.execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .expect("unlock");
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(30),
                    "no migration started"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            c.batch_execute(&lock).expect("lock the tables");
            let pid: i32 = c
                .query_one("SELECT pg_backend_pid()", &[])
                .expect("pid")
                .get(0);
            let _ = held_tx.send(pid);
            // Until released, or `hold_for` at most (a dropped sender releases too).
            let _ = released.recv_timeout(hold_for);
            c.batch_execute("COMMIT").expect("commit");
        });
        TableHolder {
            held,
            pid: std::cell::Cell::new(None),
            release: Some(release),
            thread: Some(thread),
        }
    }

    /// The holder's server pid, once it holds the lock.
    pub fn pid(&self) -> i32 {
        if let Some(pid) = self.pid.get() {
            return pid;
        }
        let pid = self
            .held
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the holder never took the lock");
        self.pid.set(Some(pid));
        pid
    }

    /// Let go of the lock (if still held) and wait for the session to end it.
    pub fn release(mut self) {
        drop(self.release.take());
        if let Some(t) = self.thread.take() {
            t.join().expect("holder thread");
        }
    }
}

impl Drop for TableHolder {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
