//! The one place secrets are removed from text before it is printed, logged or stored.
//!
//! Every URL and every error message passes through [`redact`] before it leaves the
//! process. Besides the `scheme://user:password@host` shape, passwords registered with
//! [`register_secret`] (taken from the URL the user gave) are masked wherever they occur,
//! because drivers sometimes echo connection parameters in their own words.

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember a secret so that [`redact`] masks it in any text from now on.
pub fn register_secret(secret: &str) {
    // Very short "passwords" would mask ordinary words; URL-shaped redaction still covers them.
    if secret.len() < 3 {
        return;
    }
    if let Ok(mut s) = SECRETS.lock() {
        if !s.iter().any(|x| x == secret) {
            s.push(secret.to_string());
        }
    }
}

/// Register the password of a database URL of any scheme, before anything parses it.
/// The userinfo is taken up to the LAST `@` (passwords with `@`, `/`, quotes or spaces
/// that were not percent-encoded still count), so a malformed URL can't leak it either.
pub fn register_url_password(url: &str) {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return;
    };
    let rest = &url[start..];
    let Some(at) = rest.rfind('@') else { return };
    let userinfo = &rest[..at];
    if let Some(colon) = userinfo.find(':') {
        let pw = &userinfo[colon + 1..];
        register_secret(pw);
        let decoded = percent_decode(pw);
        if decoded != pw {
            register_secret(&decoded);
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mask credentials in `text`: `user:***@` in URLs, `password=***` in conninfo strings, and
/// every registered secret (raw and percent-decoded forms).
pub fn redact(text: &str) -> String {
    let mut out = redact_userinfo(text);
    out = redact_key_value(&out);
    if let Ok(secrets) = SECRETS.lock() {
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
    }
    out
}

/// `scheme://user:secret@host` → `scheme://user:***@host`, for every URL in the text.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(idx) = rest.find("://") {
        let (head, tail) = rest.split_at(idx + 3);
        out.push_str(head);
        // The userinfo ends at the LAST '@' before the URL ends (whitespace or a quote): a
        // password may contain '@', ':' or '/' when the user did not percent-encode it.
        // Masking too much is the safe direction.
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `password=secret` / `password: secret` (libpq conninfo, driver debug output) → `password=***`.
fn redact_key_value(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find("password") {
        let start = i + pos + "password".len();
        out.push_str(&text[i..start]);
        let after = &text[start..];
        let sep_len = after
            .chars()
            .take_while(|c| *c == '=' || *c == ':' || *c == ' ' || *c == '"')
            .map(char::len_utf8)
            .sum::<usize>();
        if sep_len == 0 || !after[..sep_len].contains(['=', ':']) {
            i = start;
            continue;
        }
        out.push_str(&after[..sep_len]);
        let value = &after[sep_len..];
        // A quoted conninfo value (`password='a b'`) runs to its closing quote.
        let value_len = if let Some(q) = value.chars().next().filter(|c| *c == '\'') {
            value[1..].find(q).map(|e| e + 2).unwrap_or(value.len())
        } else {
            value
                .find(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '}' || c == '&')
                .unwrap_or(value.len())
        };
        if value_len > 0 {
            out.push_str("***");
        }
        i = start + sep_len + value_len;
    }
    out.push_str(&text[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords_with_reserved_characters() {
        let s = redact("cannot connect to postgres://app:p@ss:w/rd@db.internal:5432/prod now");
        assert!(!s.contains("p@ss"), "{s}");
        assert!(
            s.contains("postgres://app:***@db.internal:5432/prod"),
            "{s}"
        );
    }

    #[test]
    fn keeps_urls_without_password() {
        assert_eq!(redact("postgres://app@h/db"), "postgres://app@h/db");
        assert_eq!(redact("sqlite://backstop.db"), "sqlite://backstop.db");
    }

    #[test]
    fn masks_passwords_of_malformed_urls_once_registered() {
        for url in [
            "mysql://app:s3cr'etpw1@db/prod",
            "postgres://app:s3cr etpw2@h:notaport/db",
            "postgres://app:s3cr\"etpw3@h/db",
        ] {
            register_url_password(url);
            let pw = &url[url.find(':').map(|i| i + 7).unwrap_or(0)..url.rfind('@').unwrap_or(0)];
            let shown = redact(&format!("error: cannot parse {url}"));
            assert!(!shown.contains(pw), "{shown}");
        }
        register_url_password("postgres://u:p%40ssw0rd9@h/db");
        assert!(!redact("password p@ssw0rd9 rejected").contains("p@ssw0rd9"));
        assert_eq!(
            redact("host=x password='a b c' user=y"),
            "host=x password=*** user=y"
        );
        register_url_password("postgres://u:%é%4@h/db"); // no panic on odd escapes
    }

    #[test]
    fn masks_conninfo_and_registered_secrets() {
        let s = redact("host=x password=hunter22 user=y");
        assert_eq!(s, "host=x password=*** user=y");
        register_secret("s3cr3t-Value");
        assert_eq!(redact("error near s3cr3t-Value!"), "error near ***!");
    }
}
