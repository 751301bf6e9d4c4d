//! Connection URLs: secrets are registered for redaction before anything can fail, and
//! every URL shown to a person goes through [`display_url`].

use backstop_core::redact::{redact, register_secret};

/// The URL with its password masked: `postgres://user:***@host/db`.
pub fn display_url(url: &str) -> String {
    redact(url)
}

/// Register the password of `url` (raw and percent-decoded) with the redactor, so that no
/// later message — ours, the driver's or the server's — can show it.
pub fn register_url_secrets(url: &str) {
    if let Some(pw) = password_of(url) {
        register_secret(&pw);
        let decoded = percent_decode(&pw);
        if decoded != pw {
            register_secret(&decoded);
        }
    }
}

/// The raw (still percent-encoded) password of a `scheme://user:password@host/...` URL.
/// Mirrors the redactor: the userinfo ends at the last `@` of the authority, because an
/// unencoded password may itself contain `@`, `:` or `/`.
fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let userinfo = &authority[..authority.rfind('@')?];
    let pw = &userinfo[userinfo.find(':')? + 1..];
    (!pw.is_empty()).then(|| pw.to_string())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_decodes_passwords() {
        assert_eq!(
            password_of("postgres://u:s%40cret@h:5432/db").as_deref(),
            Some("s%40cret")
        );
        assert_eq!(percent_decode("s%40cret"), "s@cret");
        assert_eq!(
            password_of("postgres://u:p@ss@h/db").as_deref(),
            Some("p@ss")
        );
        assert_eq!(password_of("postgres://u@h/db"), None);
        assert_eq!(password_of("postgres://h/db"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn display_masks_password() {
        assert_eq!(
            display_url("postgres://app:hunter2@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
    }
}
