//! Connection URLs: every URL shown to a person goes through [`display_url`]. (The
//! password is registered for redaction, before anything can fail, by
//! `backstop_core::redact::register_url_password`.)

use backstop_core::redact::redact_credentials;

/// The URL with its password masked: `postgres://user:***@host/db`.
pub fn display_url(url: &str) -> String {
    redact_credentials(url)
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
