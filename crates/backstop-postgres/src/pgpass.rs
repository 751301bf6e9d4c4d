//! The password libpq would use when the connection URL gives none: `PGPASSWORD`, then
//! the password file (`PGPASSFILE`, default `~/.pgpass`), so that a deploy never needs the
//! password on its command line.

use std::path::PathBuf;

/// Where the connection goes, as the password file's fields name it.
pub struct Target<'a> {
    /// A TCP host name or address; for a Unix socket, `localhost` (as libpq matches it).
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password for `t`: `PGPASSWORD`, or the first matching line of the password file.
pub fn password_for(t: &Target) -> Option<String> {
    if let Some(pw) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return Some(pw);
    }
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    if !private(&path) {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    lookup(&text, t)
}

/// libpq ignores a password file others can read or write: so does backstop.
#[cfg(unix)]
fn private(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o077 == 0)
}

#[cfg(not(unix))]
fn private(path: &std::path::Path) -> bool {
    path.is_file()
}

/// The password of the first line of `text` (`host:port:database:user:password`, `*`
/// matching anything, `\:` and `\\` escaped, `#` starting a comment line) that matches.
fn lookup(text: &str, t: &Target) -> Option<String> {
    let port = t.port.to_string();
    let wanted = [t.host, port.as_str(), t.database, t.user];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4..].join(":"))
        })
}

/// The fields of a password file line, unescaped.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(n);
                }
            }
            ':' => fields.push(String::new()),
            _ => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t<'a>(host: &'a str, port: u16, database: &'a str, user: &'a str) -> Target<'a> {
        Target {
            host,
            port,
            database,
            user,
        }
    }

    #[test]
    fn first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# a comment\n\
                    db.internal:5432:shop:deploy:first\n\
                    *:5432:*:deploy:p\\:w\\\\d\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            lookup(text, &t("db.internal", 5432, "shop", "deploy")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(text, &t("other", 5432, "x", "deploy")).as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(
            lookup(text, &t("other", 6432, "x", "deploy")).as_deref(),
            Some("fallback")
        );
        assert_eq!(lookup("h:5432:d:u\n", &t("h", 5432, "d", "u")), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(private(&path));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!private(&path));
    }
}
