//! Connection URLs: every URL shown to a person goes through [`display_url`]. (The
//! password is registered for redaction, before anything can fail, by
//! `backstop_core::redact::register_url_password`.)

use backstop_core::redact::redact;

/// The URL with its password masked: `postgres://user:***@host/db`. With the passwords
/// registered from it, so that one its shape alone would end early (`?password=a b`) is
/// masked whole.
pub fn display_url(url: &str) -> String {
    redact(url)
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

    #[test]
    fn display_masks_a_registered_password_whole() {
        // Regression: the space of a mistyped query ended the password's shape, and the
        // rest of it was shown (`?password=*** c`ret`).
        let url = "postgres://app@db/prod?password=s`e c`ret";
        backstop_core::redact::register_url_password(url);
        assert_eq!(display_url(url), "postgres://app@db/prod?password=***");
    }
}
