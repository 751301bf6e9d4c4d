//! Throw-away databases for tests against a real PostgreSQL server. Public (not
//! `cfg(test)`) so that other crates' tests can use it too.
//!
//! The server comes from `BACKSTOP_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, an admin database). Every [`TestDb`] is a
//! new database with a random name, dropped — `WITH (FORCE)`, so leftover sessions don't
//! keep it alive — when the value is dropped, also when the test panics. [`TestRoles`] does
//! the same for roles.

use crate::quote::quote_ident;
use postgres::{Client, NoTls};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL tests use.
pub fn base_url() -> String {
    std::env::var("BACKSTOP_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// `url` with its database replaced by `db`.
pub fn url_with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let scheme_end = main.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match main[scheme_end..].find('/') {
        Some(i) => &main[..scheme_end + i],
        None => main,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// `url` (a `postgres://` URL) connecting as `user` with `password` instead of its own
/// user. Both go in as they are: pass URL-safe ones (as [`TestRoles::create_login`] makes).
pub fn url_with_user(url: &str, user: &str, password: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    // The user info ends at the last `@` before the path.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{}{user}:{password}@{host}", &url[..scheme_end])
}

fn random_suffix() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !from_os {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 32);
        bytes = mixed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A freshly created, empty database; dropped on `Drop`.
pub struct TestDb {
    /// URL of the new database.
    pub url: String,
    /// Its name (`bs_t_<16 hex>`).
    pub name: String,
    admin_url: String,
}

impl TestDb {
    /// Create a database, or panic with instructions when the server can't be reached.
    pub fn new() -> TestDb {
        match TestDb::try_new() {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        }
    }

    /// Create a database; the error says how to start the server.
    pub fn try_new() -> Result<TestDb, String> {
        let admin_url = base_url();
        let mut admin = Client::connect(&admin_url, NoTls).map_err(|e| {
            format!(
                "cannot reach the test PostgreSQL server at {} ({e}).\n\
                 Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                 or point BACKSTOP_TEST_PG_URL at a server where the user may create databases.",
                crate::display_url(&admin_url)
            )
        })?;
        let name = format!("bs_t_{}", random_suffix());
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(TestDb {
            url: url_with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// A plain client on the test database, for setting things up behind the driver's back.
    pub fn client(&self) -> Client {
        match Client::connect(&self.url, NoTls) {
            Ok(c) => c,
            Err(e) => panic!("cannot connect to test database {}: {e}", self.name),
        }
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        match Client::connect(&self.admin_url, NoTls)
            .and_then(|mut admin| admin.batch_execute(&sql))
        {
            Ok(()) => {}
            Err(e) => eprintln!("warning: could not drop test database {}: {e}", self.name),
        }
    }
}

/// Roles made for one test. Roles belong to the whole server, so they are named after a
/// random prefix and dropped on `Drop`. Declare this before the [`TestDb`]s whose objects
/// or grants name the roles: those databases are then dropped first, and with them
/// everything that would keep a role from being dropped.
pub struct TestRoles {
    prefix: String,
    names: Vec<String>,
}

impl TestRoles {
    pub fn new() -> TestRoles {
        TestRoles {
            prefix: format!("bs_r_{}", random_suffix()),
            names: Vec::new(),
        }
    }

    /// The name for `suffix` (`<prefix>_<suffix>`), dropped at the end whether or not the
    /// test creates it (a role the test renames to it, say).
    pub fn name(&mut self, suffix: &str) -> String {
        let name = format!("{}_{suffix}", self.prefix);
        if !self.names.contains(&name) {
            self.names.push(name.clone());
        }
        name
    }

    /// Create the role `<prefix>_<suffix>` (`NOLOGIN NOSUPERUSER`) and return its name.
    pub fn create(&mut self, suffix: &str) -> String {
        let name = self.name(suffix);
        let sql = format!("CREATE ROLE {} NOLOGIN NOSUPERUSER", quote_ident(&name));
        if let Err(e) = Client::connect(&base_url(), NoTls).and_then(|mut c| c.batch_execute(&sql))
        {
            panic!("{sql}: {e}");
        }
        name
    }

    /// Create the role `<prefix>_<suffix>` as one that logs in with a random password
    /// (`LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`, nothing granted), as a deploy role is;
    /// return its name and password. Connect with [`url_with_user`].
    pub fn create_login(&mut self, suffix: &str) -> (String, String) {
        let name = self.name(suffix);
        let password = format!("pw{}", random_suffix());
        // CREATE ROLE takes no parameters; the password is hex, so it needs no escaping.
        let sql = format!(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'",
            quote_ident(&name)
        );
        if let Err(e) = Client::connect(&base_url(), NoTls).and_then(|mut c| c.batch_execute(&sql))
        {
            panic!("CREATE ROLE {name} LOGIN: {e}");
        }
        (name, password)
    }
}

impl Default for TestRoles {
    fn default() -> Self {
        TestRoles::new()
    }
}

impl Drop for TestRoles {
    fn drop(&mut self) {
        let Ok(mut admin) = Client::connect(&base_url(), NoTls) else {
            eprintln!("warning: could not drop test roles {:?}", self.names);
            return;
        };
        for name in &self.names {
            let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(name));
            if let Err(e) = admin.batch_execute(&sql) {
                eprintln!("warning: could not drop test role {name}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database() {
        assert_eq!(
            url_with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            url_with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(random_suffix().len(), 16);
        assert_eq!(
            url_with_user("postgres://postgres:a@b@h:1/x?sslmode=disable", "r", "p"),
            "postgres://r:p@h:1/x?sslmode=disable"
        );
        assert_eq!(
            url_with_user("postgres://h/x", "r", "p"),
            "postgres://r:p@h/x"
        );
    }
}
