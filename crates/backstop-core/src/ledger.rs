//! The audit ledger: append-only, hash-chained events.
//!
//! `hash = sha256(prev_hash || canonical JSON of the event)`, where the canonical JSON has
//! sorted keys and no whitespace. The first event's `prev_hash` is [`GENESIS`]. Editing,
//! inserting or deleting any event breaks the chain at that point; deleting the tail is
//! caught by the head hash kept beside history.

use crate::checksum::sha256_hex;
use crate::redact::{redact, redact_json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One ledger event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    /// RFC 3339 UTC with microseconds, stored as text so it hashes identically everywhere.
    pub at: String,
    pub actor: String,
    /// `apply`, `apply-failed`, `rollback`, `rollback-failed`, `refused`, `override`,
    /// `resolve`, `dirty`, `lock-timeout`, …
    pub kind: String,
    pub version: Option<i64>,
    pub release_id: Option<String>,
    pub reason: Option<String>,
    /// Canonical JSON text of kind-specific details.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a caller provides; [`seal`] adds seq, time, chain.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub kind: String,
    pub version: Option<i64>,
    pub release_id: Option<String>,
    pub reason: Option<String>,
    pub detail: Value,
}

impl NewEvent {
    pub fn new(kind: &str) -> Self {
        NewEvent {
            kind: kind.to_string(),
            detail: json!({}),
            ..Default::default()
        }
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = Some(v);
        self
    }
    pub fn release(mut self, r: &str) -> Self {
        self.release_id = Some(r.to_string());
        self
    }
    pub fn reason(mut self, r: Option<&str>) -> Self {
        self.reason = r.map(str::to_string);
        self
    }
    pub fn detail(mut self, d: Value) -> Self {
        self.detail = d;
        self
    }
}

/// Canonical JSON: serde_json's default map is a BTreeMap, so keys come out sorted.
pub fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn event_body(e: &Event) -> Value {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail.clone()));
    json!({
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "kind": e.kind,
        "version": e.version,
        "release_id": e.release_id,
        "reason": e.reason,
        "detail": detail,
    })
}

/// The hash an event must carry given its content and `prev_hash`.
pub fn compute_hash(e: &Event) -> String {
    let mut input = e.prev_hash.clone().into_bytes();
    input.extend_from_slice(canonical(&event_body(e)).as_bytes());
    format!("sha256:{}", sha256_hex(&input))
}

/// Build the next event after `(prev_seq, prev_hash)`.
///
/// Secrets are masked ([`redact`]) before the event is hashed: the stored ledger never
/// holds a password (a failing statement or a reason may quote one), and an export of it
/// is exactly what was hashed, so it verifies outside the database.
pub fn seal(new: NewEvent, actor: &str, prev_seq: i64, prev_hash: &str, at: String) -> Event {
    let mut detail = new.detail;
    redact_json(&mut detail);
    let mut e = Event {
        seq: prev_seq + 1,
        at,
        actor: redact(actor),
        kind: new.kind,
        version: new.version,
        release_id: new.release_id.as_deref().map(redact),
        reason: new.reason.as_deref().map(redact),
        detail: canonical(&detail),
        prev_hash: prev_hash.to_string(),
        hash: String::new(),
    };
    e.hash = compute_hash(&e);
    e
}

/// The first problem found in a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// Sequence number of the first event that does not check out (or where one is missing).
    pub seq: i64,
    pub problem: String,
}

/// Check the chain and the head. Events must be given in `seq` order.
pub fn verify_chain(events: &[Event], head: Option<(i64, &str)>) -> Result<(), BrokenLink> {
    let mut prev_hash = GENESIS.to_string();
    let mut expected_seq = 1;
    for e in events {
        if e.seq != expected_seq {
            return Err(BrokenLink {
                problem: if e.seq > expected_seq {
                    format!(
                        "event {expected_seq} is missing (next stored event is {}): deleted",
                        e.seq
                    )
                } else {
                    format!("event {} appears before event {expected_seq}, where no event can be (seq starts at 1 and has no gaps): inserted", e.seq)
                },
                // Named by the event that does not belong, not by the one expected there.
                seq: if e.seq > expected_seq {
                    expected_seq
                } else {
                    e.seq
                },
            });
        }
        if e.prev_hash != prev_hash {
            return Err(BrokenLink { seq: e.seq, problem: format!("prev_hash {} does not match the hash of event {} ({}): an event before it was changed, inserted or deleted", short(&e.prev_hash), e.seq - 1, short(&prev_hash)) });
        }
        let h = compute_hash(e);
        if h != e.hash {
            return Err(BrokenLink { seq: e.seq, problem: format!("content does not match its hash (stored {}, computed {}): the event was edited", short(&e.hash), short(&h)) });
        }
        // The hash covers the parsed detail (see `event_body`), so an edit that keeps its
        // meaning (whitespace, key order, a duplicate key whose last value is the real one)
        // would still match it while `audit log` and `audit export` show the edited text.
        // backstop only ever stores the canonical text, so anything else was edited.
        if !is_canonical(&e.detail) {
            return Err(BrokenLink { seq: e.seq, problem: "its detail is not the canonical JSON text backstop writes (sorted keys, no whitespace, no duplicate keys): the stored text was edited, even if its hash still matches what it parses to".into() });
        }
        prev_hash = e.hash.clone();
        expected_seq += 1;
    }
    if let Some((seq, hash)) = head {
        let last = expected_seq - 1;
        if seq == last && hash != prev_hash {
            return Err(BrokenLink {
                seq: last,
                problem: format!("the recorded head is event {seq} with hash {}, but event {seq} has hash {}: the head in backstop's state row was edited", short(hash), short(&prev_hash)),
            });
        }
        if seq > last {
            return Err(BrokenLink {
                seq: last + 1,
                problem: format!("the recorded head is event {seq} ({}) but the ledger ends at event {last} ({}): events {} to {seq} were deleted", short(hash), short(&prev_hash), last + 1),
            });
        }
        if seq < last {
            return Err(BrokenLink {
                seq: seq + 1,
                problem: format!("the recorded head is event {seq} ({}) but the ledger goes on to event {last} ({}): events after the head were added behind backstop's back, or the head in backstop's state row was set back", short(hash), short(&prev_hash)),
            });
        }
    }
    Ok(())
}

/// Whether `detail` is exactly the text [`seal`] stores for what it parses to.
fn is_canonical(detail: &str) -> bool {
    serde_json::from_str::<Value>(detail).is_ok_and(|v| canonical(&v) == detail)
}

fn short(h: &str) -> String {
    h.trim_start_matches("sha256:").chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Event> {
        let mut v: Vec<Event> = Vec::new();
        for i in 0..n {
            let (s, h) = v
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS.into()));
            v.push(seal(
                NewEvent::new("apply").version(i as i64),
                "ann",
                s,
                &h,
                format!("2026-01-01T00:00:0{i}.000000Z"),
            ));
        }
        v
    }

    #[test]
    fn secrets_are_masked_before_the_event_is_hashed() {
        // Regression: the failing statement was stored with the password in it.
        crate::redact::register_secret("S3cretPw");
        let e = seal(
            NewEvent::new("apply-failed")
                .reason(Some("rotated S3cretPw"))
                .detail(json!({"failure": {"statement": "SELECT 'S3cretPw'::int", "line": 1}})),
            "ann",
            0,
            GENESIS,
            "2026-01-01T00:00:00.000000Z".into(),
        );
        assert_eq!(
            e.detail,
            r#"{"failure":{"line":1,"statement":"SELECT '***'::int"}}"#
        );
        assert_eq!(e.reason.as_deref(), Some("rotated ***"));
        assert_eq!(
            verify_chain(std::slice::from_ref(&e), Some((1, &e.hash))),
            Ok(())
        );
    }

    #[test]
    fn detects_edit_delete_insert_and_truncation() {
        let v = chain(4);
        let head = (v[3].seq, v[3].hash.as_str());
        assert!(verify_chain(&v, Some(head)).is_ok());
        let mut edited = v.clone();
        edited[1].actor = "mallory".into();
        assert_eq!(verify_chain(&edited, None).unwrap_err().seq, 2);
        let mut deleted = v.clone();
        deleted.remove(2);
        assert_eq!(verify_chain(&deleted, None).unwrap_err().seq, 3);
        let truncated = &v[..3];
        assert_eq!(verify_chain(truncated, Some(head)).unwrap_err().seq, 4);
    }

    #[test]
    fn head_and_inserted_events_are_named_where_the_mismatch_is() {
        // Regression: an edited head hash was reported "at event 5" of a 4-event ledger,
        // an inserted event 0 "at event 1".
        let v = chain(4);
        let wrong = GENESIS.replace('0', "1");
        let broken = verify_chain(&v, Some((4, &wrong))).unwrap_err();
        assert_eq!(broken.seq, 4, "{broken:?}");
        assert!(broken.problem.contains("edited"), "{broken:?}");
        let behind = verify_chain(&v, Some((2, &v[1].hash))).unwrap_err();
        assert_eq!(behind.seq, 3, "{behind:?}");
        let mut inserted = v.clone();
        let mut zero = v[0].clone();
        zero.seq = 0;
        inserted.insert(0, zero);
        let broken = verify_chain(&inserted, None).unwrap_err();
        assert_eq!(broken.seq, 0, "{broken:?}");
    }

    #[test]
    fn a_detail_text_other_than_the_canonical_one_is_an_edit() {
        // Regression: the hash covers the parsed detail, so a duplicate key (or whitespace,
        // or another key order) kept the hash while exports showed the edited text.
        let mut v = chain(1);
        v[0] = seal(
            NewEvent::new("apply").detail(json!({"name": "real", "n": 1})),
            "ann",
            0,
            GENESIS,
            "2026-01-01T00:00:00.000000Z".into(),
        );
        let head = (1, v[0].hash.clone());
        assert_eq!(verify_chain(&v, Some((head.0, &head.1))), Ok(()));
        for edited in [
            r#"{"n":1,"name":"X","name":"real"}"#,
            r#"{"n": 1, "name": "real"}"#,
            r#"{"name":"real","n":1}"#,
        ] {
            let mut e = v.clone();
            e[0].detail = edited.into();
            assert_eq!(compute_hash(&e[0]), v[0].hash, "same meaning, same hash");
            let broken = verify_chain(&e, Some((head.0, &head.1))).unwrap_err();
            assert_eq!(broken.seq, 1, "{edited}: {broken:?}");
        }
    }
}
