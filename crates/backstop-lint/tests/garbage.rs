//! Regression guard against panics: feeds thousands of random and garbled scripts through
//! the same entry points as the cargo-fuzz target (fuzz/fuzz_targets/lint.rs), for every
//! engine. Deterministic (fixed seed) so a failure reproduces.

use backstop_core::driver::Engine;
use backstop_lint::{
    in_memory_migration, lint_migrations, render_github, render_json, render_sarif, render_text,
    statement_impacts, LintOptions,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "CREATE ",
    "TABLE ",
    "INDEX ",
    "CONCURRENTLY ",
    "ALTER ",
    "DROP ",
    "ADD ",
    "COLUMN ",
    "CONSTRAINT ",
    "UNIQUE ",
    "PRIMARY KEY ",
    "FOREIGN KEY ",
    "REFERENCES ",
    "NOT VALID ",
    "VALIDATE ",
    "CHECK ",
    "SET NOT NULL ",
    "TYPE ",
    "USING ",
    "DEFAULT ",
    "now() ",
    "gen_random_uuid() ",
    "UPDATE ",
    "SET ",
    "DELETE FROM ",
    "WHERE ",
    "INSERT INTO ",
    "SELECT ",
    "FROM ",
    "VALUES ",
    "BEGIN",
    "COMMIT",
    "END",
    "RENAME ",
    "TO ",
    "IF NOT EXISTS ",
    "IF EXISTS ",
    "CASCADE ",
    "TRUNCATE ",
    "VACUUM FULL ",
    "REINDEX ",
    "PRAGMA ",
    "ON ",
    "users ",
    "t ",
    "\"Quoted\" ",
    "`bt` ",
    "[sq] ",
    "a.b ",
    "x ",
    "int ",
    "varchar(20) ",
    "bigint ",
    "text ",
    "timestamp ",
    "serial ",
    "(",
    ")",
    ",",
    ";",
    ";\n",
    "\n",
    "'",
    "''",
    "'str' ",
    "E'\\'' ",
    "$$",
    "$tag$",
    "$1 ",
    "--",
    "-- backstop:allow ",
    "#",
    "/*",
    "*/",
    "= ",
    "* ",
    ".",
    "é",
    "ü€",
    "\u{0}",
    "\t",
    "\r\n",
    "1",
    "99999999999999999999 ",
    "-- backstop:allow create-index-non-concurrently why\n",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN ",
    "CASE WHEN ",
    "ALGORITHM=COPY",
    "LOCK=SHARED",
    "ALTER TYPE e ADD VALUE 'v' ",
];

const SEEDS: &[&str] = &[
    "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255) NOT NULL);\nCREATE INDEX ON users (email);\n",
    "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT fk;",
    "UPDATE users SET email = lower(email) WHERE id < 10;\nDELETE FROM sessions;\nDROP TABLE legacy CASCADE;",
    "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN NEW.x := 1; RETURN NEW; END; $body$ LANGUAGE plpgsql;",
    "PRAGMA foreign_keys = OFF;\nCREATE TABLE n (id INTEGER PRIMARY KEY AUTOINCREMENT);\nALTER TABLE n RENAME TO m;",
    "ALTER TABLE `t` MODIFY COLUMN c VARCHAR(10) NOT NULL, ALGORITHM=COPY;\nRENAME TABLE a TO b;",
];

fn run(sql: &str) {
    for engine in [Engine::Postgres, Engine::Sqlite, Engine::Mysql] {
        let m = in_memory_migration(1, "fuzz", sql, Some(sql), Some(sql), None);
        let opts = LintOptions {
            engine,
            deny_warnings: true,
            allow: vec![("syntax-error".into(), "fuzz".into())],
        };
        let r = lint_migrations(&[m], &opts);
        for f in &r.findings {
            assert!(f.line >= 1 && f.column >= 1, "{f:?}");
        }
        let _ = (
            render_text(&r),
            render_json(&r),
            render_sarif(&r),
            render_github(&r),
        );
        let _ = statement_impacts(sql, engine);
    }
}

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..600 {
        let n = (rng.next() % 40) as usize;
        let s: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        run(&s);
    }
}

#[test]
fn garbled_real_scripts_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..400 {
        let seed = rng.pick(SEEDS);
        let mut s: String = seed.to_string();
        for _ in 0..(rng.next() % 4 + 1) {
            let chars: Vec<char> = s.chars().collect();
            let at = (rng.next() % (chars.len() as u64 + 1)) as usize;
            let (a, b) = chars.split_at(at);
            s = match rng.next() % 3 {
                0 => a.iter().collect(), // truncate
                1 => {
                    a.iter().collect::<String>() + rng.pick(PIECES) + &b.iter().collect::<String>()
                } // insert
                _ => a.iter().chain(b.iter().skip(1)).collect(), // delete one
            };
        }
        run(&s);
    }
}

#[test]
fn pathological_inputs() {
    run(&"(".repeat(2000));
    run(&format!("SELECT {}1{};", "(".repeat(500), ")".repeat(500)));
    run(&"'".repeat(101));
    run("/* unterminated");
    run("$a$ never closed");
    run("\u{feff}SELECT 1;");
    run("");
    run(";;;;");
}
