//! `sqlite:` URLs → where the database lives.

use backstop_core::driver::DbError;
use std::path::PathBuf;

/// Where a `sqlite:` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A private in-memory database (one per connection).
    Memory,
    /// A database file, relative paths resolved against the current directory.
    File(PathBuf),
}

/// Accepts `sqlite://PATH`, `sqlite:PATH`, `sqlite:///abs/path`, `sqlite::memory:` and
/// `sqlite://:memory:`.
pub(crate) fn parse(url: &str) -> Result<Target, DbError> {
    let bad = |why: &str| {
        DbError::connection(format!("invalid SQLite URL '{url}': {why} (expected sqlite://PATH, sqlite:PATH, sqlite:///absolute/path or sqlite::memory:)"))
    };
    let scheme_len = "sqlite:".len();
    let rest = match url.get(..scheme_len) {
        Some(s) if s.eq_ignore_ascii_case("sqlite:") => &url[scheme_len..],
        _ => return Err(bad("it does not start with sqlite:")),
    };
    // `sqlite://x` and `sqlite:x` both mean the path x; `sqlite:///abs` keeps its leading `/`.
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path == ":memory:" {
        return Ok(Target::Memory);
    }
    if path.is_empty() {
        return Err(bad("the path is empty"));
    }
    // Query parameters (`?mode=ro`) are a sqlx/URI-filename feature we don't interpret;
    // treating them as part of the file name would silently create a second database.
    if path.contains('?') {
        return Err(bad("query parameters are not supported"));
    }
    Ok(Target::File(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        assert_eq!(parse("sqlite::memory:").ok(), Some(Target::Memory));
        assert_eq!(parse("sqlite://:memory:").ok(), Some(Target::Memory));
        assert_eq!(
            parse("sqlite://backstop.db").ok(),
            Some(Target::File("backstop.db".into()))
        );
        assert_eq!(
            parse("sqlite:data/app.db").ok(),
            Some(Target::File("data/app.db".into()))
        );
        assert_eq!(
            parse("sqlite:///var/db/app.db").ok(),
            Some(Target::File("/var/db/app.db".into()))
        );
        assert_eq!(
            parse("SQLITE://x.db").ok(),
            Some(Target::File("x.db".into()))
        );
        assert!(parse("sqlite://").is_err());
        assert!(parse("postgres://x").is_err());
        assert!(parse("sqlite://x.db?mode=ro").is_err());
    }
}
