//! Checksums of migrations and of `backstop.sum`.
//!
//! The stored value names its algorithm (`sha256:<hex>`) so the algorithm can change later
//! without every stored checksum turning into a mismatch. Line endings are normalised to
//! `\n` first: a CRLF checkout of the same file is the same migration.

use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "sha256";

/// Lowercase hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `\r\n` and lone `\r` become `\n`.
pub fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Checksum of a migration: each part is framed by its name and length so text moved from
/// one file to another changes the checksum.
pub fn migration_checksum(
    up: &str,
    down: Option<&str>,
    verify: Option<&str>,
    toml: Option<&str>,
) -> String {
    framed(&[
        ("up", Some(up)),
        ("down", down),
        ("verify", verify),
        ("migration.toml", toml),
    ])
}

/// `sha256:` over named parts, each framed by its name and length (`-` when absent), line
/// endings normalised.
pub fn framed(parts: &[(&str, Option<&str>)]) -> String {
    let mut h = Sha256::new();
    for &(name, part) in parts {
        match part {
            Some(p) => {
                let p = normalise(p);
                h.update(format!("{name} {}\n", p.len()).as_bytes());
                h.update(p.as_bytes());
                h.update(b"\n");
            }
            None => h.update(format!("{name} -\n").as_bytes()),
        }
    }
    let digest = h.finalize();
    let mut s = String::from("sha256:");
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_matter_but_content_and_placement_do() {
        let a = migration_checksum("CREATE TABLE a();\n", Some("DROP TABLE a;\n"), None, None);
        let b = migration_checksum(
            "CREATE TABLE a();\r\n",
            Some("DROP TABLE a;\r\n"),
            None,
            None,
        );
        assert_eq!(a, b);
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
        let c = migration_checksum("CREATE TABLE a();\nDROP TABLE a;\n", None, None, None);
        assert_ne!(a, c);
    }
}
