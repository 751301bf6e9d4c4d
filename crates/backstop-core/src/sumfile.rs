//! `backstop.sum`: the reviewed list of every migration's checksum, next to the migrations
//! directory. A merge of two branches that both added migrations, or an edited file, shows
//! up as a disagreement between the files and the sum, which apply refuses.
//!
//! Format (one entry per line, sorted by version):
//! ```text
//! # backstop.sum — written by `backstop sum`; do not edit by hand
//! total sha256:<hex over the entry lines>
//! 20261123120000_create_users sha256:<hex>
//! ```

use crate::checksum::sha256_hex;
use crate::migration::Migration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where `backstop.sum` lives for a migrations directory: beside it.
pub fn sum_path(migrations_dir: &Path) -> PathBuf {
    let parent = migrations_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join("backstop.sum")
}

/// Render the sum file for a set of migrations.
pub fn render(migrations: &[Migration]) -> String {
    let entries: Vec<String> = migrations
        .iter()
        .map(|m| format!("{} {}", m.id(), m.checksum))
        .collect();
    let body = entries.join("\n");
    let total = sha256_hex(body.as_bytes());
    let mut out = String::from("# backstop.sum — written by `backstop sum`; do not edit by hand\n");
    out.push_str(&format!("total sha256:{total}\n"));
    for e in entries {
        out.push_str(&e);
        out.push('\n');
    }
    out
}

/// A parsed sum file.
#[derive(Debug, Clone, Default)]
pub struct SumFile {
    pub total: String,
    /// migration id (`VERSION_name`) → checksum
    pub entries: BTreeMap<String, String>,
    /// The total recomputed from the entries disagrees with the `total` line.
    pub total_mismatch: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct SumError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Read `backstop.sum`; `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<SumFile>, SumError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SumError {
                path: path.to_path_buf(),
                line: 0,
                message: e.to_string(),
            })
        }
    };
    let mut sum = SumFile::default();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SumError {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("expected `<id> <checksum>`, found `{line}`"),
            });
        };
        if a == "total" {
            sum.total = b.to_string();
        } else {
            lines.push(format!("{a} {b}"));
            sum.entries.insert(a.to_string(), b.to_string());
        }
    }
    // Entries are compared in version order, as `render` writes them.
    let mut ordered: Vec<(i64, String)> = lines
        .iter()
        .map(|l| {
            (
                l.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
                    .parse()
                    .unwrap_or(i64::MAX),
                l.clone(),
            )
        })
        .collect();
    ordered.sort();
    let body: Vec<String> = ordered.into_iter().map(|(_, l)| l).collect();
    sum.total_mismatch = format!("sha256:{}", sha256_hex(body.join("\n").as_bytes())) != sum.total;
    Ok(Some(sum))
}

/// How the files disagree with the sum.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SumDiff {
    /// In the sum with another checksum.
    pub changed: Vec<String>,
    /// On disk but not in the sum.
    pub added: Vec<String>,
    /// In the sum but not on disk.
    pub removed: Vec<String>,
    pub total_mismatch: bool,
}

impl SumDiff {
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && !self.total_mismatch
    }
}

pub fn compare(sum: &SumFile, migrations: &[Migration]) -> SumDiff {
    let mut d = SumDiff {
        total_mismatch: sum.total_mismatch,
        ..Default::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for m in migrations {
        let id = m.id();
        match sum.entries.get(&id) {
            Some(c) if *c == m.checksum => {}
            Some(_) => d.changed.push(id.clone()),
            None => d.added.push(id.clone()),
        }
        seen.insert(id);
    }
    for id in sum.entries.keys() {
        if !seen.contains(id) {
            d.removed.push(id.clone());
        }
    }
    d
}
