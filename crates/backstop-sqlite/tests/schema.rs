//! The canonical schema: the same logical schema gives the same fingerprint whatever the
//! order and spelling of its creation; every logical change changes it.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::Driver;
use backstop_core::schema::{HealthIssue, SchemaState};
use std::time::Instant;

fn schema_of(script: &str) -> SchemaState {
    let mut d = common::memory();
    common::run(&mut d, script);
    d.schema(None).unwrap()
}

const BASE: &str = "
CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email TEXT NOT NULL COLLATE NOCASE,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
    CHECK (length(email) > 3)
);
CREATE UNIQUE INDEX users_email ON users (email) WHERE active = 1;
CREATE INDEX users_org ON users (org_id, created_at DESC);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE active = 1;
CREATE TRIGGER users_touch AFTER UPDATE ON users BEGIN
    UPDATE users SET created_at = created_at WHERE id = NEW.id;
END;
";

#[test]
fn creation_order_column_order_and_spelling_do_not_matter() {
    let reordered = "
CREATE TABLE users (
    created_at text default current_timestamp,
    active integer not null default 1,
    email  TEXT  NOT NULL  COLLATE nocase,
    \"org_id\" INTEGER NOT NULL REFERENCES [orgs] (id) ON DELETE CASCADE,
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check(length( email )>3)
);
create trigger users_touch after update on users begin update users set created_at = created_at where id = new.id; end;
CREATE TABLE orgs (name TEXT NOT NULL, id INTEGER PRIMARY KEY, UNIQUE (name));
create view active_users as select id, email from users where active = 1;
CREATE INDEX users_org ON users (org_id, created_at desc);
CREATE UNIQUE INDEX users_email ON users (email) WHERE active=1;
";
    let a = schema_of(BASE);
    let b = schema_of(reordered);
    assert_eq!(a.text(), b.text());
    assert_eq!(a.fingerprint(), b.fingerprint());
}

#[test]
fn add_column_equals_column_in_create_table() {
    let a = schema_of("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '' CHECK (name <> 'x') COLLATE NOCASE, n INT REFERENCES t(id))");
    let b = schema_of(
        "CREATE TABLE t (id INTEGER PRIMARY KEY);
         ALTER TABLE t ADD COLUMN n INT REFERENCES t(id);
         ALTER TABLE t ADD COLUMN name TEXT NOT NULL DEFAULT '' CHECK (name <> 'x') COLLATE NOCASE;",
    );
    assert_eq!(a.text(), b.text());
}

#[test]
fn down_script_that_readds_a_dropped_column_restores_the_fingerprint() {
    let mut d = common::memory();
    common::run(
        &mut d,
        "CREATE TABLE t (a INT, b TEXT NOT NULL DEFAULT 'x', c REAL); CREATE INDEX t_c ON t (c);",
    );
    let before = d.schema(None).unwrap();
    common::run(&mut d, "ALTER TABLE t DROP COLUMN b;");
    assert_ne!(d.schema(None).unwrap().fingerprint(), before.fingerprint());
    common::run(
        &mut d,
        "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';",
    );
    assert_eq!(d.schema(None).unwrap().text(), before.text());
}

#[test]
fn table_rebuild_with_rename_restores_the_fingerprint() {
    // The documented 12-step rebuild (https://sqlite.org/lang_altertable.html#otheralter):
    // SQLite rewrites the CREATE text as `CREATE TABLE "t"(...)` after the rename.
    let mut d = common::memory();
    common::run(&mut d, "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE t (id INTEGER PRIMARY KEY, p INT REFERENCES p(id), v TEXT CHECK (v <> ''));");
    let before = d.schema(None).unwrap();
    common::run(
        &mut d,
        "CREATE TABLE t_new (v TEXT CHECK (v <> ''), id INTEGER PRIMARY KEY, p INT REFERENCES p(id));
         INSERT INTO t_new (id, p, v) SELECT id, p, v FROM t;
         DROP TABLE t;
         ALTER TABLE t_new RENAME TO t;",
    );
    let after = d.schema(None).unwrap();
    assert_eq!(after.text(), before.text());
}

#[test]
fn every_logical_change_changes_the_fingerprint() {
    let base = schema_of(BASE);
    let changes = [
        ("default", BASE.replace("DEFAULT 1", "DEFAULT 0")),
        (
            "not null",
            BASE.replace("active INTEGER NOT NULL", "active INTEGER"),
        ),
        ("type", BASE.replace("active INTEGER", "active BOOLEAN")),
        (
            "index",
            format!("{BASE} CREATE INDEX users_active ON users (active);"),
        ),
        (
            "index column order",
            BASE.replace("(org_id, created_at DESC)", "(created_at DESC, org_id)"),
        ),
        (
            "index direction",
            BASE.replace("created_at DESC)", "created_at)"),
        ),
        (
            "partial index",
            BASE.replace("WHERE active = 1;\nCREATE INDEX", ";\nCREATE INDEX"),
        ),
        (
            "unique index",
            BASE.replace(
                "CREATE UNIQUE INDEX users_email",
                "CREATE INDEX users_email",
            ),
        ),
        (
            "foreign key action",
            BASE.replace("ON DELETE CASCADE", "ON DELETE SET NULL"),
        ),
        (
            "foreign key",
            BASE.replace("REFERENCES orgs(id) ON DELETE CASCADE", ""),
        ),
        (
            "check",
            BASE.replace("length(email) > 3", "length(email) > 4"),
        ),
        ("collation", BASE.replace("COLLATE NOCASE", "")),
        (
            "unique constraint",
            BASE.replace("name TEXT NOT NULL UNIQUE", "name TEXT NOT NULL"),
        ),
        (
            "primary key",
            BASE.replace("id INTEGER PRIMARY KEY, name", "id INTEGER, name"),
        ),
        ("autoincrement", BASE.replace(" AUTOINCREMENT", "")),
        (
            "view",
            BASE.replace("SELECT id, email FROM", "SELECT id FROM"),
        ),
        ("trigger", BASE.replace("AFTER UPDATE", "BEFORE UPDATE")),
        ("new table", format!("{BASE} CREATE TABLE extra (a INT);")),
        (
            "without rowid",
            format!("{BASE} CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;"),
        ),
        (
            "deferred fk",
            BASE.replace(
                "ON DELETE CASCADE",
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
            ),
        ),
    ];
    for (what, script) in changes {
        let changed = schema_of(&script);
        assert_ne!(
            changed.fingerprint(),
            base.fingerprint(),
            "{what} did not change the fingerprint:\n{}",
            changed.text()
        );
    }
    // Control: a no-op spelling change does not.
    assert_eq!(
        schema_of(&BASE.replace("DEFAULT 1", "default 1")).fingerprint(),
        base.fingerprint()
    );
}

#[test]
fn strict_generated_and_expression_indexes_are_described() {
    let s = schema_of(
        "CREATE TABLE m (a INT NOT NULL, b INT, s INT GENERATED ALWAYS AS (a + b) STORED, v AS (a * 2));
         CREATE INDEX m_expr ON m (lower(a), b COLLATE NOCASE);
         CREATE TABLE st (a INTEGER PRIMARY KEY, b ANY) STRICT;",
    );
    let t = &s.objects["table m"];
    assert!(
        s.objects["table st"].contains("option STRICT"),
        "{}",
        s.text()
    );
    assert!(
        t.contains("column s INT GENERATED AS (a + b) STORED"),
        "{t}"
    );
    assert!(t.contains("column v GENERATED AS (a * 2) VIRTUAL"), "{t}");
    assert!(
        t.contains("index m_expr (lower(a), b COLLATE NOCASE)"),
        "{t}"
    );
}

#[test]
fn internal_and_backstop_objects_are_excluded() {
    let mut d = common::memory();
    d.ensure_history().unwrap();
    common::run(&mut d, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO t DEFAULT VALUES; ANALYZE;");
    let s = d.schema(None).unwrap();
    assert_eq!(s.objects.keys().collect::<Vec<_>>(), vec!["table t"]);
}

#[test]
fn virtual_tables_are_described_by_their_sql() {
    let mut d = common::memory();
    if d.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body)")
        .is_err()
    {
        eprintln!("fts5 not compiled in; skipping");
        return;
    }
    let s = d.schema(None).unwrap();
    // Its shadow tables (docs_data, docs_idx, ...) belong to the module, not the user.
    assert_eq!(
        s.objects.keys().collect::<Vec<_>>(),
        vec!["table docs"],
        "{}",
        s.text()
    );
    assert_eq!(
        &*s.objects["table docs"],
        "create virtual table docs using fts5(title, body)"
    );
}

#[test]
fn sample_canonical_text() {
    let s = schema_of(BASE);
    println!("{}", s.text());
    println!("{}", s.fingerprint());
    let users = &s.objects["table users"];
    let lines: Vec<&str> = users.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "lines inside an object are sorted");
    assert!(
        users.contains("column email TEXT NOT NULL COLLATE NOCASE"),
        "{users}"
    );
    assert!(
        users.contains(
            "foreign key (org_id) REFERENCES orgs(id) ON UPDATE NO ACTION ON DELETE CASCADE"
        ),
        "{users}"
    );
    assert!(
        users.contains("index users_email (email COLLATE NOCASE) UNIQUE WHERE active = 1"),
        "{users}"
    );
    assert!(users.contains("trigger users_touch: "), "{users}");
    assert!(s.objects["table orgs"].contains("unique (name)"));
}

#[test]
fn health_finds_foreign_key_orphans() {
    let mut d = common::memory();
    common::run(
        &mut d,
        "CREATE TABLE p (id INTEGER PRIMARY KEY);
         CREATE TABLE c (id INTEGER PRIMARY KEY, p INT REFERENCES p(id));
         INSERT INTO p VALUES (1);
         INSERT INTO c VALUES (1, 1);",
    );
    assert_eq!(d.health().unwrap(), vec![]);
    // Rows that slipped in while enforcement was off.
    common::run(
        &mut d,
        "PRAGMA foreign_keys = OFF; INSERT INTO c VALUES (2, 7), (3, 8); PRAGMA foreign_keys = ON;",
    );
    let issues = d.health().unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let HealthIssue::ForeignKeyOrphans { table, detail } = &issues[0] else {
        panic!("{issues:?}")
    };
    assert_eq!(table, "c");
    assert!(
        detail.contains("2 row(s)")
            && detail.contains("(p)")
            && detail.contains(" p ")
            && detail.contains("rowid 2, 3"),
        "{detail}"
    );
    assert_eq!(
        d.drop_invalid_indexes(&[], "CREATE INDEX CONCURRENTLY i ON t (a)")
            .unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn schema_read_time() {
    // Measures a full read of 200 tables (each with an index, a FK and a trigger); printed
    // with --nocapture, never asserted.
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    let mut script = String::from("CREATE TABLE t0 (id INTEGER PRIMARY KEY, name TEXT);\n");
    for i in 1..200 {
        script.push_str(&format!(
            "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, parent INT REFERENCES t{p}(id) ON DELETE CASCADE, name TEXT NOT NULL DEFAULT '', \
             n REAL CHECK (n >= 0), created_at TEXT DEFAULT CURRENT_TIMESTAMP, UNIQUE (name, parent));
             CREATE INDEX t{i}_parent ON t{i} (parent) WHERE parent IS NOT NULL;
             CREATE TRIGGER t{i}_touch AFTER UPDATE ON t{i} BEGIN UPDATE t{i} SET created_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END;\n",
            p = i - 1
        ));
    }
    d.begin(Default::default()).unwrap();
    common::run(&mut d, &script);
    d.commit().unwrap();
    let mut d = common::open(&url);
    let started = Instant::now();
    let first = d.schema(None).unwrap();
    let cold = started.elapsed();
    let started = Instant::now();
    let runs = 10;
    for _ in 0..runs {
        assert_eq!(d.schema(Some(&first)).unwrap().objects.len(), 200);
    }
    let warm = started.elapsed() / runs;
    let started = Instant::now();
    let fp = first.fingerprint();
    let hashing = started.elapsed();
    println!("schema read, 200 tables: first {cold:?}, then {warm:?} per read (mean of {runs}); fingerprint {hashing:?}; {} bytes of canonical text; {fp}", first.text().len());
}

#[test]
fn health_reports_uncheckable_foreign_keys_instead_of_failing() {
    let mut d = common::memory();
    common::run(
        &mut d,
        "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT);
         CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code));
         CREATE TABLE g (id INTEGER PRIMARY KEY, x INT REFERENCES gone(id));
         PRAGMA foreign_keys = OFF;
         INSERT INTO g VALUES (1, 5);
         PRAGMA foreign_keys = ON;",
    );
    let issues = d.health().unwrap();
    println!("{issues:#?}");
    assert!(issues.iter().any(|i| matches!(i, HealthIssue::ForeignKeyOrphans { table, detail } if table == "c" && detail.contains("mismatch"))), "{issues:?}");
    assert!(issues.iter().any(|i| matches!(i, HealthIssue::ForeignKeyOrphans { table, detail } if table == "g" && detail.contains("gone"))), "{issues:?}");
}

/// The schema of `script` run on a fresh database file.
fn file_schema_of(script: &str) -> SchemaState {
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    common::run(&mut d, script);
    d.schema(None).unwrap()
}

#[test]
fn double_quoted_strings_keep_their_case() {
    // Regression: SQLite reads a double-quoted word that names no column as a string, and
    // the fingerprint lower-cased it like a name, so a down script that left 'open' where
    // there was 'Open' counted as a proven rollback.
    let pairs = [
        (
            "check and default",
            r#"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT DEFAULT "Open" CHECK (s IN ("Open", "Closed")));"#,
            r#"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT DEFAULT "open" CHECK (s IN ("open", "closed")));"#,
        ),
        (
            "default",
            r#"CREATE TABLE t (s TEXT DEFAULT "Open");"#,
            r#"CREATE TABLE t (s TEXT DEFAULT "open");"#,
        ),
        (
            "view",
            r#"CREATE TABLE t (s TEXT); CREATE VIEW v AS SELECT * FROM t WHERE s = "Open";"#,
            r#"CREATE TABLE t (s TEXT); CREATE VIEW v AS SELECT * FROM t WHERE s = "open";"#,
        ),
        (
            "partial index",
            r#"CREATE TABLE t (s TEXT); CREATE INDEX t_open ON t (s) WHERE s = "Open";"#,
            r#"CREATE TABLE t (s TEXT); CREATE INDEX t_open ON t (s) WHERE s = "open";"#,
        ),
        (
            "index expression",
            r#"CREATE TABLE t (s TEXT); CREATE INDEX t_s ON t (s || "A");"#,
            r#"CREATE TABLE t (s TEXT); CREATE INDEX t_s ON t (s || "a");"#,
        ),
        (
            "trigger",
            r#"CREATE TABLE t (s TEXT); CREATE TRIGGER t_s AFTER INSERT ON t BEGIN UPDATE t SET s = "Open"; END;"#,
            r#"CREATE TABLE t (s TEXT); CREATE TRIGGER t_s AFTER INSERT ON t BEGIN UPDATE t SET s = "open"; END;"#,
        ),
        (
            "generated column",
            r#"CREATE TABLE t (s TEXT, g TEXT AS (s || "X"));"#,
            r#"CREATE TABLE t (s TEXT, g TEXT AS (s || "x"));"#,
        ),
    ];
    for (what, a, b) in pairs {
        let (a, b) = (file_schema_of(a), file_schema_of(b));
        assert_ne!(a.fingerprint(), b.fingerprint(), "{what}:\n{}", a.text());
    }
    // The string is shown as the string it is.
    let s = file_schema_of(pairs[0].1);
    let t = &s.objects["table t"];
    assert!(t.contains("check (s in('Open', 'Closed'))"), "{t}");
    assert!(t.contains("column s TEXT DEFAULT 'Open'"), "{t}");
}

#[test]
fn equivalent_spellings_of_names_and_strings_compare_equal() {
    let pairs = [
        (
            "quoted column names",
            r#"CREATE TABLE t (s TEXT CHECK ("S" IN ('Open')), n INT); CREATE INDEX t_n ON t ("N") WHERE "S" <> 'x';"#,
            r#"CREATE TABLE t (s TEXT CHECK (s IN ('Open')), n INT); CREATE INDEX t_n ON t (n) WHERE s <> 'x';"#,
        ),
        (
            "a lone default name is a string",
            r#"CREATE TABLE t (a DEFAULT "Open", b DEFAULT [x], c DEFAULT y);"#,
            r#"CREATE TABLE t (a DEFAULT 'Open', b DEFAULT 'x', c DEFAULT 'y');"#,
        ),
        (
            // The alias itself keeps its case (a result column name): only its quoting
            // and the case of the names that refer to it don't matter.
            "view names, aliases and main.",
            r#"CREATE TABLE t (s TEXT); CREATE VIEW "v" AS SELECT "T"."S" AS "label" FROM main.t "T" ORDER BY "Label";"#,
            r#"CREATE TABLE t (s TEXT); CREATE VIEW v AS SELECT t.s AS label FROM t t ORDER BY label;"#,
        ),
        (
            "trigger on main.t",
            "CREATE TABLE t (s TEXT); CREATE TRIGGER IF NOT EXISTS main.tr AFTER INSERT ON main.t BEGIN UPDATE t SET s = 'a'; END;",
            "CREATE TABLE t (s TEXT); CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET s = 'a'; END;",
        ),
        (
            "the default conflict action",
            "CREATE TABLE t (a NOT NULL ON CONFLICT ABORT UNIQUE ON CONFLICT ABORT, b PRIMARY KEY ON CONFLICT ABORT);",
            "CREATE TABLE t (a NOT NULL UNIQUE, b PRIMARY KEY);",
        ),
        (
            // Only the column constraint form keeps DESC from making a rowid alias.
            "table-level integer primary key desc",
            "CREATE TABLE t (id INTEGER, v TEXT, PRIMARY KEY (id DESC));",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
        ),
    ];
    for (what, a, b) in pairs {
        let (a, b) = (file_schema_of(a), file_schema_of(b));
        assert_eq!(a.text(), b.text(), "{what}");
    }
}

#[test]
fn conflict_clauses_and_key_directions_change_the_fingerprint() {
    // Regression: none of these reached the canonical text.
    let pairs = [
        (
            "unique on conflict",
            "CREATE TABLE t (a TEXT UNIQUE ON CONFLICT REPLACE);",
            "CREATE TABLE t (a TEXT UNIQUE);",
        ),
        (
            "table unique on conflict",
            "CREATE TABLE t (a, b, UNIQUE (a, b) ON CONFLICT IGNORE);",
            "CREATE TABLE t (a, b, UNIQUE (a, b));",
        ),
        (
            "not null on conflict",
            "CREATE TABLE t (a TEXT NOT NULL ON CONFLICT IGNORE);",
            "CREATE TABLE t (a TEXT NOT NULL);",
        ),
        (
            "primary key on conflict",
            "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT REPLACE);",
            "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        ),
        (
            "integer primary key desc is not a rowid alias",
            "CREATE TABLE t (id INTEGER PRIMARY KEY DESC, v TEXT);",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
        ),
        (
            "without rowid key direction",
            "CREATE TABLE t (a, b, PRIMARY KEY (a, b DESC)) WITHOUT ROWID;",
            "CREATE TABLE t (a, b, PRIMARY KEY (a, b)) WITHOUT ROWID;",
        ),
        (
            "primary key collation",
            "CREATE TABLE t (a TEXT, PRIMARY KEY (a COLLATE NOCASE)) WITHOUT ROWID;",
            "CREATE TABLE t (a TEXT, PRIMARY KEY (a)) WITHOUT ROWID;",
        ),
    ];
    for (what, a, b) in pairs {
        let (a, b) = (file_schema_of(a), file_schema_of(b));
        assert_ne!(a.fingerprint(), b.fingerprint(), "{what}:\n{}", a.text());
    }
}

#[test]
fn user_tables_named_like_backstops_are_part_of_the_schema() {
    // Regression: every `backstop_*` table was left out, so changes to a user's
    // `backstop_orders` were neither drift nor checked by rollback.
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.ensure_history().unwrap();
    common::run(
        &mut d,
        "CREATE TABLE backstop_orders (id INTEGER PRIMARY KEY); CREATE INDEX backstop_orders_id ON backstop_orders (id);",
    );
    let s = d.schema(None).unwrap();
    assert_eq!(
        s.objects.keys().collect::<Vec<_>>(),
        vec!["table backstop_orders"]
    );
    assert!(s.objects["table backstop_orders"].contains("index backstop_orders_id (id)"));
}

#[test]
fn triggers_whose_on_clause_spells_the_table_in_another_case_are_described() {
    // Regression: a trigger `ON orders` of a table created as `Orders` was left out, so
    // dropping it was neither drift nor caught by rollback.
    let s = schema_of(
        "CREATE TABLE Orders (id INTEGER PRIMARY KEY, total INT NOT NULL);
         CREATE TRIGGER orders_no_negative BEFORE INSERT ON orders WHEN new.total < 0 BEGIN SELECT RAISE(ABORT, 'neg'); END;
         CREATE INDEX orders_total ON ORDERS (total);
         CREATE VIEW Big AS SELECT id FROM Orders WHERE total > 100;
         CREATE TRIGGER big_insert INSTEAD OF INSERT ON big BEGIN SELECT 1; END;",
    );
    let t = &s.objects["table Orders"];
    assert!(t.contains("trigger orders_no_negative: "), "{t}");
    assert!(t.contains("index orders_total (total)"), "{t}");
    let v = &s.objects["view Big"];
    assert!(v.contains("trigger big_insert: "), "{v}");

    let without = schema_of(
        "CREATE TABLE Orders (id INTEGER PRIMARY KEY, total INT NOT NULL);
         CREATE INDEX orders_total ON ORDERS (total);
         CREATE VIEW Big AS SELECT id FROM Orders WHERE total > 100;
         CREATE TRIGGER big_insert INSTEAD OF INSERT ON big BEGIN SELECT 1; END;",
    );
    assert_ne!(s.fingerprint(), without.fingerprint());
}

#[test]
fn raise_messages_keep_their_case() {
    // Regression: a double-quoted RAISE message spelled like a column of the schema was
    // taken for that column's name and lower-cased, so "Message" and "message" compared
    // equal.
    let pairs = [
        (
            "single-quoted",
            "CREATE TABLE t (x INT); CREATE TRIGGER tr BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'Message'); END;",
            "CREATE TABLE t (x INT); CREATE TRIGGER tr BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'message'); END;",
        ),
        (
            "double-quoted, spelled like a column",
            r#"CREATE TABLE t (message TEXT); CREATE TRIGGER tr BEFORE INSERT ON t BEGIN SELECT RAISE(FAIL, "Message"); END;"#,
            r#"CREATE TABLE t (message TEXT); CREATE TRIGGER tr BEFORE INSERT ON t BEGIN SELECT RAISE(FAIL, "message"); END;"#,
        ),
    ];
    for (what, a, b) in pairs {
        let (a, b) = (file_schema_of(a), file_schema_of(b));
        assert_ne!(a.fingerprint(), b.fingerprint(), "{what}:\n{}", a.text());
    }
    let s = file_schema_of(pairs[1].1);
    assert!(
        s.objects["table t"].contains("raise(fail, 'Message')"),
        "{}",
        s.text()
    );
    // SQLite reads it as that text too.
    let mut d = common::memory();
    common::run(&mut d, pairs[1].1);
    let e = d.execute("INSERT INTO t VALUES ('x')").unwrap_err();
    assert!(e.message.contains("Message"), "{e:?}");
}

#[test]
fn fts5_column_names_ignore_case_but_option_strings_keep_it() {
    // The bundled SQLite has FTS5.
    common::memory()
        .execute("CREATE VIRTUAL TABLE probe USING fts5(a)")
        .expect("fts5 in the bundled SQLite");
    // FTS5 resolves its column names ignoring case, as SQLite does any other column name
    // in an expression; the table's own name keeps its case, like any table's.
    let (a, b) = (
        file_schema_of(r#"CREATE VIRTUAL TABLE docs USING FTS5(Title, [Body], "Sub");"#),
        file_schema_of("CREATE VIRTUAL TABLE docs USING fts5(title, body, sub);"),
    );
    assert_eq!(a.text(), b.text());
    // Option values are the module's to read: a string keeps its case.
    let (a, b) = (
        file_schema_of(
            "CREATE VIRTUAL TABLE docs USING fts5(title, tokenize = 'unicode61 tokenchars ''X''');",
        ),
        file_schema_of(
            "CREATE VIRTUAL TABLE docs USING fts5(title, tokenize = 'unicode61 tokenchars ''x''');",
        ),
    );
    assert_ne!(a.fingerprint(), b.fingerprint(), "{}", a.text());
}

#[test]
fn object_names_keep_their_case() {
    // SQLite stores and reports a table's name as it was written (`.tables`, ORMs that
    // reflect the schema): `Users` and `users` are different spellings of the schema.
    let (a, b) = (
        file_schema_of("CREATE TABLE Users (id INTEGER);"),
        file_schema_of("CREATE TABLE users (id INTEGER);"),
    );
    assert_ne!(a.fingerprint(), b.fingerprint());
}

#[test]
fn view_result_column_names_keep_their_case() {
    // What `SELECT * FROM v` reports, and what an ORM maps to fields.
    let base = "CREATE TABLE p (first TEXT, last TEXT, Nick TEXT);";
    let pairs = [
        (
            "an alias",
            "CREATE VIEW v AS SELECT first || last AS FullName FROM p;",
            "CREATE VIEW v AS SELECT first || last AS fullname FROM p;",
        ),
        (
            "the view's column list",
            "CREATE VIEW v (FullName) AS SELECT first || last FROM p;",
            "CREATE VIEW v (fullname) AS SELECT first || last FROM p;",
        ),
        (
            "a quoted alias",
            "CREATE VIEW v AS SELECT first AS \"First\" FROM p;",
            "CREATE VIEW v AS SELECT first AS \"first\" FROM p;",
        ),
    ];
    for (what, a, b) in pairs {
        let (a, b) = (
            file_schema_of(&format!("{base} {a}")),
            file_schema_of(&format!("{base} {b}")),
        );
        assert_ne!(a.fingerprint(), b.fingerprint(), "{what}: {}", a.text());
    }
    let s = file_schema_of(&format!(
        "{base} CREATE VIEW v AS SELECT first || last AS FullName, nick, count(*) FROM p;"
    ));
    assert_eq!(
        s.objects["view v"].lines().next(),
        Some("columns (FullName, Nick, \"count(*)\")"),
        "{}",
        s.text()
    );
}

#[test]
fn view_keyword_and_expression_case_do_not_matter() {
    let base = "CREATE TABLE p (first TEXT, last TEXT);";
    let a = file_schema_of(&format!(
        "{base} CREATE VIEW v AS SELECT first || last AS FullName, CAST(first AS TEXT), NULL, \
         Count(*), FIRST || LAST FROM p GROUP BY first;"
    ));
    let b = file_schema_of(&format!(
        "{base} create view v as select FIRST || LAST as FullName, cast(FIRST as text), null, \
         COUNT(*), first || last from p group by FIRST;"
    ));
    assert_eq!(a.text(), b.text());
}

#[test]
fn views_with_lower_case_column_names_keep_their_text() {
    // No `columns` line: fingerprints recorded before the line existed still match.
    let s = file_schema_of(
        "CREATE TABLE p (first TEXT, last TEXT); \
         CREATE VIEW v AS SELECT first || last AS full_name, COUNT(*), NULL, last FROM p;",
    );
    assert_eq!(
        s.objects["view v"],
        "create view v as select first || last as full_name, count(*), null, last from p".into()
    );
}
