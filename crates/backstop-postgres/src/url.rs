//! Connection URLs: secrets are registered for redaction before anything can fail, and
//! every URL shown to a person goes through [`display_url`].

use backstop_core::redact::{redact_credentials, register_url_password};

/// The URL with its password masked: `postgres://user:***@host/db`.
pub fn display_url(url: &str) -> String {
    redact_credentials(url)
}

/// Register the password of `url` (raw and percent-decoded; a URL or a key=value string,
/// well-formed or not) with the redactor, so that no later message — ours, the driver's or
/// the server's — can show it.
pub fn register_url_secrets(url: &str) {
    register_url_password(url);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_masks_password() {
        assert_eq!(
            display_url("postgres://app:hunter2@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(
            display_url("postgres:/app:hunter2@db:5432/prod"),
            "postgres:/app:***@db:5432/prod"
        );
    }
}
