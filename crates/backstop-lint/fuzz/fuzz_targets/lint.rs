//! Any UTF-8 text as up/down/verify of a migration, for every engine: linting, rendering and
//! statement impacts must never panic. tests/garbage.rs runs the same calls without nightly.
#![no_main]

use backstop_core::driver::Engine;
use backstop_lint::{
    in_memory_migration, lint_migrations, render_github, render_json, render_sarif, render_text,
    statement_impacts, LintOptions,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    for engine in [Engine::Postgres, Engine::Sqlite, Engine::Mysql] {
        let m = in_memory_migration(1, "fuzz", sql, Some(sql), Some(sql), None);
        let r = lint_migrations(
            &[m],
            &LintOptions {
                engine,
                deny_warnings: false,
                allow: vec![],
            },
        );
        let _ = (
            render_text(&r),
            render_json(&r),
            render_sarif(&r),
            render_github(&r),
        );
        let _ = statement_impacts(sql, engine);
    }
});
