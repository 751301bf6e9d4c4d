//! Large migration directories are loaded on several threads; the result and the error
//! reported must be exactly those of an in-order load.

use backstop_core::migration::{load_dir, LoadError};
use std::path::Path;

fn write(dir: &Path, n: usize) {
    for i in 1..=n {
        let m = dir.join(format!("{i:05}_m{i}"));
        std::fs::create_dir_all(&m).expect("mkdir");
        std::fs::write(m.join("up.sql"), format!("CREATE TABLE t{i} (id int);\n")).expect("up");
        std::fs::write(m.join("down.sql"), format!("DROP TABLE t{i};\n")).expect("down");
    }
}

#[test]
fn many_migrations_load_in_order_with_the_first_error_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), 600);
    let ms = load_dir(tmp.path()).expect("load");
    assert_eq!(ms.len(), 600);
    assert!(ms.windows(2).all(|w| w[0].version < w[1].version));
    assert_eq!(ms[41].up, "CREATE TABLE t42 (id int);\n");

    // Two broken migrations far apart: the earlier one is reported, every time.
    std::fs::remove_file(tmp.path().join("00100_m100/down.sql")).expect("rm");
    std::fs::remove_file(tmp.path().join("00550_m550/up.sql")).expect("rm");
    for _ in 0..5 {
        match load_dir(tmp.path()) {
            Err(LoadError::MissingDown { path }) => {
                assert!(path.ends_with("00100_m100/down.sql"), "{path:?}")
            }
            other => panic!("expected the missing down.sql of 100, got {other:?}"),
        }
    }

    // Empty scripts far apart, on different threads: every one is named, in order.
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), 600);
    for (m, f) in [
        ("00020_m20", "down.sql"),
        ("00300_m300", "up.sql"),
        ("00590_m590", "up.sql"),
    ] {
        std::fs::write(tmp.path().join(m).join(f), "-- to do\n").expect("empty");
    }
    // An error of another kind after the first empty script is left for later.
    std::fs::remove_file(tmp.path().join("00400_m400/down.sql")).expect("rm");
    match load_dir(tmp.path()) {
        Err(LoadError::Empty { paths }) => {
            let rel: Vec<_> = paths
                .iter()
                .map(|p| p.strip_prefix(tmp.path()).expect("inside"))
                .collect();
            assert_eq!(
                rel,
                [
                    "00020_m20/down.sql",
                    "00300_m300/up.sql",
                    "00590_m590/up.sql"
                ]
                .map(Path::new)
            );
        }
        other => panic!("expected the empty scripts, got {other:?}"),
    }

    // A duplicate version across the threads' shares of the work.
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), 600);
    let dup = tmp.path().join("00010_again");
    std::fs::create_dir_all(&dup).expect("mkdir");
    std::fs::write(dup.join("up.sql"), "SELECT 1;\n").expect("up");
    std::fs::write(dup.join("down.sql"), "SELECT 1;\n").expect("down");
    match load_dir(tmp.path()) {
        Err(LoadError::DuplicateVersion { version, .. }) => assert_eq!(version, 10),
        other => panic!("expected a duplicate version, got {other:?}"),
    }
}

/// `.SQL` in any case is a single-file migration, not a file silently skipped; odd names
/// next to migrations neither load nor crash the loader.
#[test]
fn upper_case_sql_files_are_migrations() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("0001_first.SQL"),
        "-- backstop:up\nCREATE TABLE a (id int);\n-- backstop:down\nDROP TABLE a;\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("0002_second.Sql"),
        "-- backstop:up\nCREATE TABLE b (id int);\n-- backstop:down\nDROP TABLE b;\n",
    )
    .expect("write");
    std::fs::write(tmp.path().join("notes-é.sq"), "x").expect("write");
    std::fs::write(tmp.path().join("é.sql.txt"), "x").expect("write");
    let ms = load_dir(tmp.path()).expect("load");
    let names: Vec<(i64, &str)> = ms.iter().map(|m| (m.version, m.name.as_str())).collect();
    assert_eq!(names, vec![(1, "first"), (2, "second")]);
}

/// Migrations load before the engine is known: a script that holds a statement by SQLite's
/// comment rules and none by PostgreSQL's is refused, not silently emptied or kept, whether
/// it is a file or a section of a single-file migration.
#[test]
fn scripts_whose_emptiness_depends_on_comment_nesting_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = tmp.path().join("0001_check");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::write(m.join("up.sql"), "CREATE TABLE a (id int);\n").expect("up");
    std::fs::write(m.join("down.sql"), "DROP TABLE a;\n").expect("down");
    std::fs::write(m.join("verify.sql"), "/* old /* note */ SELECT 0; */\n").expect("verify");
    match load_dir(tmp.path()) {
        Err(LoadError::AmbiguousComments { path }) => {
            assert!(path.ends_with("verify.sql"), "{path:?}")
        }
        other => panic!("expected ambiguous comments, got {other:?}"),
    }

    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("0001_check.sql"),
        "-- backstop:up\nCREATE TABLE a (id int);\n-- backstop:down\nDROP TABLE a;\n\
         -- backstop:verify\n/* old /* note */ SELECT 0; */\n",
    )
    .expect("write");
    assert!(matches!(
        load_dir(tmp.path()),
        Err(LoadError::AmbiguousComments { .. })
    ));

    // Comment-only sections still count as absent, and plain comments load as before.
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("0001_check.sql"),
        "-- backstop:up\nCREATE TABLE a (id int); /* note */\n-- backstop:down\nDROP TABLE a;\n\
         -- backstop:verify\n/* nothing to check */\n",
    )
    .expect("write");
    let ms = load_dir(tmp.path()).expect("load");
    assert!(ms[0].verify.is_none());
}

/// A single-file migration has sections, not files: its errors name the section and how
/// to declare it irreversible there (header lines), not a down.sql or migration.toml.
#[test]
fn a_single_file_migration_without_a_section_names_the_section() {
    let tmp = tempfile::tempdir().expect("tmp");
    let f = tmp.path().join("0001_x.sql");
    std::fs::write(&f, "-- backstop:up\nCREATE TABLE a (id int);\n").expect("write");
    let e = load_dir(tmp.path()).expect_err("no down section");
    assert!(matches!(e, LoadError::MissingDownSection { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("`-- backstop:down` section is missing"),
        "{text}"
    );
    assert!(text.contains("-- irreversible = true"), "{text}");
    assert!(
        !text.contains("down.sql") && !text.contains("migration.toml"),
        "{text}"
    );
    // The way out it names works.
    std::fs::write(
        &f,
        "-- irreversible = true\n-- reason = \"drops data\"\n-- backstop:up\nCREATE TABLE a (id int);\n",
    )
    .expect("write");
    assert!(load_dir(tmp.path()).expect("load")[0].config.irreversible == Some(true));

    std::fs::write(&f, "-- backstop:down\nDROP TABLE a;\n").expect("write");
    let e = load_dir(tmp.path()).expect_err("no up section");
    assert!(matches!(e, LoadError::MissingUpSection { .. }), "{e:?}");
    assert!(!e.to_string().contains("up.sql"), "{e}");
}
