//! Schema fingerprints as data.
//!
//! A driver reads its catalog into a [`SchemaState`]: one canonical text per object (a
//! table with its columns, constraints, indexes and triggers; a view; a sequence; a
//! function; a type; an extension), keyed by a stable object key such as
//! `table public.users`. Lines inside an object are sorted, so creation order and physical
//! column order do not matter. The fingerprint is SHA-256 over the sorted objects.
//!
//! Keeping objects separate lets a driver refresh only the objects a migration touched
//! (per-migration proof at low cost) and lets rollback show a precise diff.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a migration changed: object key → its text before (`None`: the object is new).
pub type Delta = BTreeMap<String, Option<Arc<str>>>;

/// The canonical schema: object key → canonical text.
///
/// Texts are shared, not copied: a run compares and copies the whole schema after every
/// migration (proof, delta, fingerprint) while only a few objects changed, and two texts
/// that are the same allocation compare equal without reading them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaState {
    pub objects: BTreeMap<String, Arc<str>>,
}

impl SchemaState {
    /// `sha256:<hex>` of the canonical text ([`text`](Self::text)).
    ///
    /// This runs after every migration, on a schema that changed in a few objects. SHA-256
    /// can't be updated in the middle, but it can resume from the state after a prefix:
    /// the hasher state after each object of the last schema hashed (on this thread) is
    /// kept, and hashing starts again after the longest unchanged prefix.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        thread_local! {
            static LAST: std::cell::RefCell<Vec<(String, Arc<str>, Sha256)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        LAST.with(|cell| {
            let mut last = cell.borrow_mut();
            let same = self
                .objects
                .iter()
                .zip(last.iter())
                .take_while(|((k, v), (lk, lv, _))| *k == lk && *v == lv)
                .count();
            last.truncate(same);
            let mut h = last.last().map(|e| e.2.clone()).unwrap_or_default();
            let mut block = String::new();
            for (k, v) in self.objects.iter().skip(same) {
                block.clear();
                block.push_str(k);
                block.push('\n');
                for l in v.lines() {
                    block.push_str("  ");
                    block.push_str(l);
                    block.push('\n');
                }
                h.update(block.as_bytes());
                last.push((k.clone(), v.clone(), h.clone()));
            }
            let digest = h.finalize();
            let mut out = String::with_capacity(7 + 64);
            out.push_str("sha256:");
            for b in digest.iter() {
                out.push_str(&format!("{b:02x}"));
            }
            out
        })
    }

    /// The canonical text: every object, sorted by key, each followed by its lines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.objects {
            out.push_str(k);
            out.push('\n');
            for l in v.lines() {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// What changed from `self` to `after`: key → text in `self` (None: the object is new).
    pub fn delta_to(&self, after: &SchemaState) -> Delta {
        // One walk over both key-sorted maps: this runs after every migration, on a schema
        // where nearly every object is unchanged (and shares its text with `after`).
        let mut d = BTreeMap::new();
        let mut old = self.objects.iter().peekable();
        let mut new = after.objects.iter().peekable();
        loop {
            match (old.peek(), new.peek()) {
                (Some((ok, ov)), Some((nk, nv))) => match ok.cmp(nk) {
                    std::cmp::Ordering::Less => {
                        d.insert((*ok).clone(), Some(Arc::clone(ov)));
                        old.next();
                    }
                    std::cmp::Ordering::Greater => {
                        d.insert((*nk).clone(), None);
                        new.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if ov != nv {
                            d.insert((*ok).clone(), Some(Arc::clone(ov)));
                        }
                        old.next();
                        new.next();
                    }
                },
                (Some((ok, ov)), None) => {
                    d.insert((*ok).clone(), Some(Arc::clone(ov)));
                    old.next();
                }
                (None, Some((nk, _))) => {
                    d.insert((*nk).clone(), None);
                    new.next();
                }
                (None, None) => return d,
            }
        }
    }

    /// Undo a delta recorded by [`delta_to`](Self::delta_to): the state before the change.
    pub fn reverted(&self, delta: &Delta) -> SchemaState {
        let mut s = self.clone();
        for (k, before) in delta {
            match before {
                Some(v) => {
                    s.objects.insert(k.clone(), v.clone());
                }
                None => {
                    s.objects.remove(k);
                }
            }
        }
        s
    }
}

/// A unified, line-based diff of two canonical texts (`-` expected, `+` actual), with a
/// little context. Small schemas only need something readable, not a minimal diff.
pub fn diff(expected: &SchemaState, actual: &SchemaState) -> String {
    let mut out = String::new();
    let keys: std::collections::BTreeSet<&String> = expected
        .objects
        .keys()
        .chain(actual.objects.keys())
        .collect();
    for k in keys {
        let e = expected.objects.get(k);
        let a = actual.objects.get(k);
        if e == a {
            continue;
        }
        match (e, a) {
            (Some(_), None) => out.push_str(&format!("- {k}   (missing)\n")),
            (None, Some(_)) => out.push_str(&format!("+ {k}   (unexpected)\n")),
            _ => out.push_str(&format!("  {k}\n")),
        }
        let el: Vec<&str> = e.map(|s| s.lines().collect()).unwrap_or_default();
        let al: Vec<&str> = a.map(|s| s.lines().collect()).unwrap_or_default();
        for l in &el {
            if !al.contains(l) {
                out.push_str(&format!("-   {l}\n"));
            }
        }
        for l in &al {
            if !el.contains(l) {
                out.push_str(&format!("+   {l}\n"));
            }
        }
    }
    out
}

/// Something unhealthy in the schema that a migration may have left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HealthIssue {
    /// An index left INVALID, typically by a failed CREATE INDEX CONCURRENTLY.
    InvalidIndex { name: String, table: String },
    /// A constraint added NOT VALID and never validated.
    NotValidConstraint { name: String, table: String },
    /// Rows violating a foreign key (SQLite can hold them when foreign_keys was off).
    ForeignKeyOrphans { table: String, detail: String },
}

impl std::fmt::Display for HealthIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthIssue::InvalidIndex { name, table } => write!(f, "index {name} on {table} is INVALID (a failed concurrent build?); drop it or REINDEX CONCURRENTLY"),
            HealthIssue::NotValidConstraint { name, table } => write!(f, "constraint {name} on {table} is NOT VALID; run ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
            HealthIssue::ForeignKeyOrphans { table, detail } => write!(f, "table {table} has rows violating a foreign key: {detail}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_and_revert_round_trip() {
        let mut a = SchemaState::default();
        a.objects.insert("table t".into(), "column a int".into());
        a.objects.insert("table u".into(), "column b int".into());
        let mut b = a.clone();
        b.objects
            .insert("table t".into(), "column a int\ncolumn c text".into());
        b.objects.remove("table u");
        b.objects.insert("view v".into(), "select 1".into());
        let d = a.delta_to(&b);
        assert_eq!(d.len(), 3);
        assert_eq!(b.reverted(&d), a);
        assert_ne!(a.fingerprint(), b.fingerprint());
        // The streamed hash is the hash of the canonical text.
        use crate::checksum::sha256_hex;
        assert_eq!(
            b.fingerprint(),
            format!("sha256:{}", sha256_hex(b.text().as_bytes()))
        );
        assert!(diff(&a, &b).contains("+   column c text"));
    }

    /// The merge walk finds exactly what comparing key by key finds, wherever the changes
    /// are (first, last, interleaved) and whether texts are shared or equal copies.
    #[test]
    fn delta_matches_a_key_by_key_comparison() {
        let naive = |a: &SchemaState, b: &SchemaState| -> Delta {
            let mut d = Delta::new();
            for (k, v) in &a.objects {
                if b.objects.get(k) != Some(v) {
                    d.insert(k.clone(), Some(v.clone()));
                }
            }
            for k in b.objects.keys() {
                if !a.objects.contains_key(k) {
                    d.insert(k.clone(), None);
                }
            }
            d
        };
        let state = |keys: &[(&str, &str)]| SchemaState {
            objects: keys
                .iter()
                .map(|(k, v)| (k.to_string(), Arc::from(*v)))
                .collect(),
        };
        let cases = [
            (vec![], vec![("a", "1")]),
            (vec![("a", "1")], vec![]),
            (vec![("a", "1"), ("c", "3")], vec![("b", "2"), ("d", "4")]),
            (
                vec![("b", "2"), ("d", "4")],
                vec![("a", "1"), ("c", "3"), ("e", "5")],
            ),
            (
                vec![("a", "1"), ("b", "2"), ("c", "3")],
                vec![("a", "1"), ("b", "x"), ("c", "3")],
            ),
            (
                vec![("a", "1"), ("b", "2")],
                vec![("a", "0"), ("b", "2"), ("z", "9")],
            ),
        ];
        for (a, b) in cases {
            let (a, b) = (state(&a), state(&b));
            assert_eq!(a.delta_to(&b), naive(&a, &b), "{a:?} -> {b:?}");
            assert_eq!(b.reverted(&a.delta_to(&b)), a);
        }
        // Shared texts and equal copies are both unchanged.
        let a = state(&[("a", "1"), ("b", "2")]);
        let mut b = a.clone();
        b.objects.insert("b".into(), Arc::from("2"));
        assert!(a.delta_to(&b).is_empty());
    }

    /// The hash resumed after an unchanged prefix equals the hash of the whole text, for
    /// changes at the start, middle and end, additions, removals, and going back.
    #[test]
    fn resumed_fingerprint_equals_hash_of_the_text() {
        use crate::checksum::sha256_hex;
        let check = |s: &SchemaState| {
            assert_eq!(
                s.fingerprint(),
                format!("sha256:{}", sha256_hex(s.text().as_bytes())),
                "{:?}",
                s.objects.keys().collect::<Vec<_>>()
            );
        };
        let mut s = SchemaState::default();
        check(&s);
        let mut history = Vec::new();
        for i in 0..40u32 {
            // keys land anywhere in the order: t_1, t_10, t_11, …, t_2, …
            s.objects.insert(
                format!("table t_{i}"),
                format!("column a int\ncolumn n{i} text").into(),
            );
            if i % 3 == 0 {
                s.objects.insert(
                    "table t_0".into(),
                    format!("column a int\ncolumn v{i} int").into(),
                );
            }
            if i % 7 == 0 {
                s.objects.remove(&format!("table t_{}", i / 2));
            }
            check(&s);
            check(&s); // all of it reused
            history.push(s.clone());
        }
        for old in history.iter().rev() {
            check(old);
        }
        // Same texts, different split between key and lines.
        let mut x = SchemaState::default();
        x.objects.insert("a".into(), "b".into());
        check(&x);
        let mut y = SchemaState::default();
        y.objects.insert("a\n  b".into(), "".into());
        check(&y);
    }
}
