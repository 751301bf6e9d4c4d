//! PostgreSQL as a least-privilege deploy role: a login role with no CREATE on the
//! database applies, rolls back and reads status once it owns schema `backstop`, and is
//! told what to grant, with nothing changed, when it can't set up history.
mod common;
use backstop_postgres::testing::{url_with_user, TestRoles};
use common::{Db, Kind, Project};

fn project() -> Project {
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int PRIMARY KEY);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id int REFERENCES a (id) DEFERRABLE);\nCREATE INDEX b_id ON b (id);",
        Some("DROP TABLE b;"),
        Some("SELECT count(*) = 0 FROM b;"),
        None,
    );
    p
}

/// The database's name, from its URL.
fn database_name(db: &Db) -> String {
    let path = db.url.rsplit('/').next().expect("database in the URL");
    path.split('?').next().unwrap_or(path).to_string()
}

/// A login role with a password and nothing granted but what PUBLIC has, plus CREATE and
/// USAGE on schema public (where the migrations create their tables), and the database
/// reached as it.
fn deploy_role(roles: &mut TestRoles, db: &Db) -> (String, String, Db) {
    let (role, password) = roles.create_login("deploy");
    db.exec(&format!(
        "GRANT CREATE, USAGE ON SCHEMA public TO \"{role}\""
    ));
    assert!(
        !db.check(&format!(
            "SELECT has_database_privilege('{role}', current_database(), 'CREATE')"
        )),
        "the deploy role must not have CREATE on the database"
    );
    let deploy = db.through(url_with_user(&db.url, &role, &password));
    (role, password, deploy)
}

/// Regression: setting up history sent `CREATE SCHEMA IF NOT EXISTS backstop` even when the
/// schema existed, and PostgreSQL checks CREATE on the database before IF NOT EXISTS, so a
/// role owning schema `backstop` failed with "permission denied for database".
#[test]
fn a_deploy_role_that_owns_the_backstop_schema_applies_rolls_back_and_reads_status() {
    // Before the database, so dropped after it: its objects and grants go with the database.
    let mut roles = TestRoles::new();
    let db = Db::new(Kind::Postgres);
    let (role, _, deploy) = deploy_role(&mut roles, &db);
    db.exec(&format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\""));
    let p = project();
    p.ok(&deploy, &["sum"]);
    let before = p.fingerprint(&deploy);
    p.ok(&deploy, &["apply"]);
    let s = p.status(&deploy);
    assert_eq!(s["history_exists"], true, "{s}");
    assert_eq!(s["applied"], 2, "{s}");
    assert_eq!(s["pending"], 0, "{s}");
    assert!(db.check(&format!(
        "SELECT count(*) = 3 FROM pg_tables WHERE schemaname = 'backstop' AND tableowner = '{role}'"
    )));
    p.ok(&deploy, &["--yes", "rollback", "--to", "0"]);
    assert_eq!(
        p.fingerprint(&deploy),
        before,
        "rollback restores the schema"
    );
    let s = p.status(&deploy);
    assert_eq!(s["applied"], 0, "{s}");
    assert_eq!(s["pending"], 2, "{s}");
    p.ok(&deploy, &["apply"]);
    let v = p.ok(&deploy, &["--format", "json", "verify"]).json();
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn a_deploy_role_that_may_not_create_schema_backstop_is_told_what_to_grant() {
    let mut roles = TestRoles::new();
    let db = Db::new(Kind::Postgres);
    let (role, password, deploy) = deploy_role(&mut roles, &db);
    let dbname = database_name(&db);
    let p = project();
    p.ok(&deploy, &["sum"]);
    let before = p.fingerprint(&db);
    let grant = format!("GRANT CREATE ON DATABASE \"{dbname}\" TO \"{role}\"");

    let r = p.run(&deploy, &["--format", "json", "apply"]);
    assert_eq!(r.code, 2, "a configuration error (SPEC exit codes): {r:?}");
    let j = r.json();
    assert_eq!(j["kind"], "privilege", "{j}");
    assert_eq!(j["exit_code"], 2, "{j}");
    let error = j["error"].as_str().expect("error text");
    for part in [
        "cannot create schema backstop",
        &format!("postgres://{role}:***@"),
        &format!("database {dbname}"),
        "state: nothing was changed",
        &grant,
        &format!("CREATE SCHEMA backstop AUTHORIZATION \"{role}\""),
    ] {
        assert!(error.contains(part), "{part:?} missing from {error}");
    }
    assert!(!r.all().contains(&password), "the password leaked: {r:?}");

    let r = p.run(&deploy, &["apply"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("error: cannot create schema backstop"),
        "{r:?}"
    );
    assert!(r.stderr.contains("\n  next: "), "{r:?}");
    assert!(!r.all().contains(&password), "the password leaked: {r:?}");

    // Nothing was changed: no schema, no migration, the same fingerprint.
    assert!(db.check("SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'backstop')"));
    assert!(db.check("SELECT to_regclass('public.a') IS NULL"));
    assert_eq!(p.fingerprint(&db), before);
    let s = p.status(&deploy);
    assert_eq!(s["history_exists"], false, "{s}");
    assert_eq!(s["pending"], 2, "{s}");

    // Doing what it says is enough.
    db.exec(&grant);
    p.ok(&deploy, &["apply"]);
    p.ok(&deploy, &["--yes", "rollback", "--to", "0"]);
    assert_eq!(p.fingerprint(&deploy), before);
}

/// Once backstop's tables exist, setting up history issues no DDL: a role with USAGE on
/// schema `backstop` and SELECT, INSERT, UPDATE on its tables (what docs/history.md lists)
/// deploys without CREATE on the database or on that schema.
#[test]
fn a_deploy_role_that_may_create_nothing_of_backstops_deploys_into_tables_set_up_for_it() {
    let mut roles = TestRoles::new();
    let db = Db::new(Kind::Postgres);
    let (role, _, deploy) = deploy_role(&mut roles, &db);
    db.connect()
        .ensure_history()
        .expect("history, as the owner");
    db.exec(&format!(
        "GRANT USAGE ON SCHEMA backstop TO \"{role}\"; \
         GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA backstop TO \"{role}\""
    ));
    assert!(!db.check(&format!(
        "SELECT has_schema_privilege('{role}', 'backstop', 'CREATE')"
    )));
    let p = project();
    p.ok(&deploy, &["sum"]);
    let before = p.fingerprint(&deploy);
    p.ok(&deploy, &["apply"]);
    assert_eq!(p.status(&deploy)["applied"], 2);
    p.ok(&deploy, &["--yes", "rollback", "--to", "0"]);
    assert_eq!(
        p.fingerprint(&deploy),
        before,
        "rollback restores the schema"
    );
    p.ok(&deploy, &["apply"]);
    let v = p.ok(&deploy, &["--format", "json", "verify"]).json();
    assert_eq!(v["ok"], true, "{v}");
}

/// A role that may not read or write backstop's tables (once they exist) is told what to
/// grant, by every command, not given the bare "permission denied"; an apply whose record
/// is refused is not a case for a person (exit 5): its transaction took the migration along.
#[test]
fn a_role_without_privileges_on_the_history_tables_is_told_what_to_grant() {
    let mut roles = TestRoles::new();
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply", "--to", "1"]);
    let (role, _, deploy) = deploy_role(&mut roles, &db);
    // No USAGE on schema backstop at all.
    for args in [
        &["--format", "json", "status"][..],
        &["--format", "json", "verify"],
        &["--format", "json", "audit", "verify"],
        &["--format", "json", "apply"],
    ] {
        let r = p.run(&deploy, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        let j = r.json();
        assert_eq!(j["kind"], "privilege", "{args:?}: {j}");
        let e = j["error"].as_str().expect("error");
        assert!(
            e.contains("GRANT USAGE ON SCHEMA backstop") && e.contains(&role),
            "{args:?}: {e}"
        );
    }
    // Read but not write: the migration runs, its record is refused, and it is not applied.
    db.exec(&format!(
        "GRANT USAGE ON SCHEMA backstop TO \"{role}\"; GRANT SELECT ON ALL TABLES IN SCHEMA backstop TO \"{role}\""
    ));
    p.ok(&deploy, &["status"]);
    let r = p.run(&deploy, &["--format", "json", "apply"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.json()["kind"], "privilege", "{r:?}");
    assert!(
        r.stderr.contains("recording it was refused") && r.stderr.contains("is not applied"),
        "{r:?}"
    );
    assert!(
        db.check("SELECT to_regclass('public.b') IS NULL"),
        "not applied"
    );
    // The grant it names is enough.
    db.exec(&format!(
        "GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA backstop TO \"{role}\""
    ));
    p.ok(&deploy, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
}
