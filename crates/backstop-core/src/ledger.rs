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
                seq: expected_seq,
                problem: if e.seq > expected_seq {
                    format!(
                        "event {expected_seq} is missing (next stored event is {}): deleted",
                        e.seq
                    )
                } else {
                    format!("event {} appears out of order: inserted", e.seq)
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
        prev_hash = e.hash.clone();
        expected_seq += 1;
    }
    if let Some((seq, hash)) = head {
        let last = expected_seq - 1;
        if seq != last || hash != prev_hash {
            return Err(BrokenLink {
                seq: last + 1,
                problem: format!("the recorded head is event {seq} ({}) but the ledger ends at event {last} ({}): events at the end were deleted or added behind backstop's back", short(hash), short(&prev_hash)),
            });
        }
    }
    Ok(())
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
}
