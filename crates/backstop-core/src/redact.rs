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
        let value_len = after[sep_len..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '}' || c == '&')
            .unwrap_or(after.len() - sep_len);
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
    fn masks_conninfo_and_registered_secrets() {
        let s = redact("host=x password=hunter22 user=y");
        assert_eq!(s, "host=x password=*** user=y");
        register_secret("s3cr3t-Value");
        assert_eq!(redact("error near s3cr3t-Value!"), "error near ***!");
    }
}
