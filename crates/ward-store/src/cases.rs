//! Content, cases and decisions: what happens to an upload after it matched.
//!
//! [`Store::record_submission`] applies the policy in one transaction with everything it reads,
//! so two uploads arriving together cannot both open a case for the same entry:
//!
//! 1. **Auto-quarantine.** An exact match (MD5 or SHA-256) in a bank whose policy is `auto`:
//!    the content is quarantined at once, recorded as a closed case decided `confirm` by
//!    `policy:auto`, with a webhook event.
//! 2. **Newsworthy suppression.** Content decided `newsworthy` is not queued again. "The same
//!    content" is: the same SHA-256 as an item of a case decided newsworthy, or a PDQ within
//!    [`NEWSWORTHY_PDQ_DISTANCE`] bits of such an item's PDQ where both matched the same bank
//!    entry (a re-encode or resize of the same news photo, not merely another copy of the
//!    propaganda it shows). Such content is `allowed`, with a reference to the earlier
//!    decision, and no case.
//! 3. **Flood grouping.** Otherwise the content joins an open or escalated case that has an item
//!    with the same SHA-256 or that matched the content's best match (closest entry), or opens
//!    a new case. One decision then applies to every item, and each item's outcome is recorded
//!    (and sent) on its own.
//!
//! Every step appends to the audit log in the same transaction; every item outcome becomes an
//! outbox event ([`Store::events_after`]) in the decision's transaction.

use crate::{audit, labels_from_json, labels_to_json, now, Store, StoreError};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Value};

/// Largest PDQ distance at which later content counts as the same as content decided
/// newsworthy (for the same matched entry).
pub const NEWSWORTHY_PDQ_DISTANCE: u32 = 10;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// The name stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            /// Parses the name. The caller's fault when it fails.
            pub fn parse(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($s => Ok($name::$v),)+
                    other => Err(StoreError::Invalid(format!(
                        concat!($what, " must be one of {}, not '{}'"),
                        [$($s),+].join(", "), other
                    ))),
                }
            }
        }
    };
}

text_enum!(
    /// What kind of media a content is.
    MediaType, "media type" { /// A still image.
        Photo = "photo", /// A video.
        Video = "video" }
);
text_enum!(
    /// What happened to a content.
    Outcome, "outcome" { /// Waiting for a reviewer's decision.
        Pending = "pending", /// Confirmed (by a reviewer or by policy): kept as evidence.
        Quarantined = "quarantined", /// Rejected as a false positive, or newsworthy.
        Allowed = "allowed", /// Matched nothing.
        NoMatch = "no_match" }
);
text_enum!(
    /// Where a case stands.
    CaseStatus, "case status" { /// Waiting for review.
        Open = "open", /// Waiting for a senior reviewer.
        Escalated = "escalated", /// Decided.
        Closed = "closed" }
);
text_enum!(
    /// A reviewer's decision.
    DecisionKind, "decision" { /// Violating: quarantine every item.
        Confirm = "confirm", /// A false positive: allow, and count it against the matched entries.
        Reject = "reject", /// News, research, documentation, counter-speech: allow, and do not queue it again.
        Newsworthy = "newsworthy", /// Needs a senior reviewer: stays reviewable.
        Escalate = "escalate" }
);

/// A submitted content, as the server hashed it.
#[derive(Clone, Debug)]
pub struct NewContent {
    /// The platform's id for it.
    pub content_id: String,
    /// Who submitted it (`token:NAME`).
    pub submitted_by: String,
    /// Photo or video.
    pub media_type: MediaType,
    /// MIME type found in the bytes.
    pub content_type: String,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// MD5 of the bytes.
    pub md5: [u8; 16],
    /// PDQ hash and quality (photos).
    pub pdq: Option<([u8; 32], u8)>,
    /// The platform's metadata (a JSON object), if any.
    pub metadata: Option<Value>,
    /// Whether the bytes were kept in the media folder.
    pub has_media: bool,
}

/// One match of a content, as the matcher found it.
#[derive(Clone, Debug)]
pub struct MatchInput {
    /// The bank entry.
    pub entry_id: i64,
    /// Hamming distance (0 for exact signal types).
    pub distance: u32,
    /// Which query produced it: `original`, `dihedral-K`, `exact`, …
    pub via: String,
    /// Aligned video segments (a JSON array; empty for photos).
    pub segments: Value,
    /// The part of the upload whose hash matched (`{"x", "y", "width", "height"}`), when not
    /// the whole of it.
    pub region: Option<Value>,
}

/// A case as a content refers to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseRef {
    /// Case id.
    pub id: i64,
    /// Its status.
    pub status: CaseStatus,
    /// Whether the content joined an existing case rather than opening one.
    pub grouped: bool,
}

/// What [`Store::record_submission`] did.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The content's row id.
    pub content: i64,
    /// Its outcome.
    pub outcome: Outcome,
    /// Its case (none when it matched nothing or was allowed by an earlier decision).
    pub case: Option<CaseRef>,
    /// The decision its outcome comes from: the auto-quarantine, or the earlier newsworthy
    /// decision that allowed it.
    pub decision: Option<i64>,
    /// Outbox events written.
    pub events: Vec<i64>,
}

/// One match as recorded, with the entry's labels and the bank's provenance at the time.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseMatch {
    /// The content row that matched.
    pub content: i64,
    /// Bank name at the time.
    pub bank: String,
    /// Entry id.
    pub entry_id: i64,
    /// Signal type.
    pub signal_type: String,
    /// Distance.
    pub distance: u32,
    /// Which query matched.
    pub via: String,
    /// Entry and bank labels.
    pub labels: Vec<String>,
    /// The bank's provenance.
    pub bank_source: String,
    /// The sharer's id of the entry.
    pub source_id: Option<String>,
    /// The bank's policy at the time.
    pub policy: String,
    /// Aligned video segments (JSON array).
    pub segments: Value,
    /// The part of the upload that matched, when not the whole of it.
    pub region: Option<Value>,
}

/// A content as stored, with its matches and case.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentRecord {
    /// Row id.
    pub id: i64,
    /// The platform's id.
    pub content_id: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Who submitted it.
    pub submitted_by: String,
    /// Photo or video.
    pub media_type: MediaType,
    /// MIME type.
    pub content_type: String,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// MD5 of the bytes.
    pub md5: [u8; 16],
    /// PDQ and quality.
    pub pdq: Option<([u8; 32], u8)>,
    /// Platform metadata (JSON object or null).
    pub metadata: Value,
    /// Outcome.
    pub outcome: Outcome,
    /// The decision the outcome comes from.
    pub decision_id: Option<i64>,
    /// Whether its bytes are in the media folder.
    pub has_media: bool,
    /// Its case, if any (`grouped` is true when it was not the case's first item).
    pub case: Option<CaseRef>,
    /// Its case item id, if any.
    pub item_id: Option<i64>,
    /// What it matched.
    pub matches: Vec<CaseMatch>,
}

/// A case item: one content of the case.
pub type CaseItem = ContentRecord;

/// A decision as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// What was decided.
    pub decision: DecisionKind,
    /// Who (`token:NAME`, `policy:auto`).
    pub reviewer: String,
    /// Optional note.
    pub note: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// A case with its items, matches and decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseDetail {
    /// Id.
    pub id: i64,
    /// Status.
    pub status: CaseStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change (item added, decision).
    pub updated_at: i64,
    /// Photo or video (of the first item).
    pub media_type: MediaType,
    /// The closing decision.
    pub decision: Option<DecisionKind>,
    /// Items, in arrival order.
    pub items: Vec<CaseItem>,
    /// Every match of every item, in arrival order.
    pub matches: Vec<CaseMatch>,
    /// Decisions, oldest first.
    pub decisions: Vec<Decision>,
}

/// A case as the queue lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseSummary {
    /// Id.
    pub id: i64,
    /// Status.
    pub status: CaseStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Items.
    pub item_count: u64,
    /// Photo or video.
    pub media_type: MediaType,
    /// Banks matched, by name.
    pub banks: Vec<String>,
    /// Labels of the matches.
    pub labels: Vec<String>,
    /// Smallest match distance.
    pub min_distance: Option<u32>,
    /// The platform ids of the first five items.
    pub content_ids: Vec<String>,
}

/// Which cases to list.
#[derive(Clone, Debug)]
pub struct CaseFilter {
    /// Statuses to include (empty: all).
    pub statuses: Vec<CaseStatus>,
    /// Only cases with a match in this bank.
    pub bank: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Only cases with a larger id (for paging; the queue is oldest first).
    pub after_id: i64,
}

impl Default for CaseFilter {
    /// The review queue: open and escalated cases, oldest first.
    fn default() -> Self {
        CaseFilter {
            statuses: vec![CaseStatus::Open, CaseStatus::Escalated],
            bank: None,
            limit: 100,
            after_id: 0,
        }
    }
}

/// What [`Store::decide`] did.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    /// The decision's id.
    pub decision_id: i64,
    /// The case's status after it.
    pub status: CaseStatus,
    /// Outbox events written (one per item for a closing decision).
    pub events: Vec<i64>,
}

/// An outbox event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Id: events are delivered and polled in this order.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// `decision`.
    pub kind: String,
    /// The JSON body.
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When a webhook receiver took it (2xx).
    pub delivered_at: Option<i64>,
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    if v.len() == N {
        out.copy_from_slice(v);
    }
    out
}

fn match_json(m: &CaseMatch) -> Value {
    json!({
        "bank": m.bank, "entry_id": m.entry_id, "signal_type": m.signal_type,
        "distance": m.distance, "via": m.via, "labels": m.labels, "source_id": m.source_id,
        "bank_source": m.bank_source, "policy": m.policy, "region": m.region,
    })
}

const CONTENT_SELECT: &str = "SELECT c.id, c.content_id, c.received_at, c.submitted_by,
    c.media_type, c.content_type, c.sha256, c.md5, c.pdq, c.pdq_quality, c.metadata, c.outcome,
    c.decision_id, c.has_media, i.id, i.case_id, k.status,
    (SELECT min(i2.id) FROM case_items i2 WHERE i2.case_id = i.case_id)
    FROM contents c LEFT JOIN case_items i ON i.content = c.id LEFT JOIN cases k ON k.id = i.case_id";

fn content_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContentRecord> {
    let pdq: Option<Vec<u8>> = r.get(8)?;
    let quality: Option<i64> = r.get(9)?;
    let metadata: String = r.get(10)?;
    let item_id: Option<i64> = r.get(14)?;
    let case_id: Option<i64> = r.get(15)?;
    let status: Option<String> = r.get(16)?;
    let first_item: Option<i64> = r.get(17)?;
    let conv = |e: StoreError| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    };
    let case = match (case_id, status) {
        (Some(id), Some(s)) => Some(CaseRef {
            id,
            status: CaseStatus::parse(&s).map_err(conv)?,
            grouped: first_item != item_id,
        }),
        _ => None,
    };
    Ok(ContentRecord {
        id: r.get(0)?,
        content_id: r.get(1)?,
        received_at: r.get(2)?,
        submitted_by: r.get(3)?,
        media_type: MediaType::parse(&r.get::<_, String>(4)?).map_err(conv)?,
        content_type: r.get(5)?,
        sha256: arr(&r.get::<_, Vec<u8>>(6)?),
        md5: arr(&r.get::<_, Vec<u8>>(7)?),
        pdq: pdq.map(|p| (arr(&p), quality.unwrap_or(0).clamp(0, 100) as u8)),
        metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
        outcome: Outcome::parse(&r.get::<_, String>(11)?).map_err(conv)?,
        decision_id: r.get(12)?,
        has_media: r.get(13)?,
        case,
        item_id,
        matches: Vec::new(),
    })
}

const MATCH_SELECT: &str = "SELECT content, bank, entry_id, signal_type, distance, via, labels,
    bank_source, source_id, policy, segments, region FROM case_matches";

fn match_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseMatch> {
    Ok(CaseMatch {
        content: r.get(0)?,
        bank: r.get(1)?,
        entry_id: r.get(2)?,
        signal_type: r.get(3)?,
        distance: r.get::<_, i64>(4)? as u32,
        via: r.get(5)?,
        labels: labels_from_json(&r.get::<_, String>(6)?),
        bank_source: r.get(7)?,
        source_id: r.get(8)?,
        policy: r.get(9)?,
        segments: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or(json!([])),
        region: r
            .get::<_, Option<String>>(11)?
            .and_then(|s| serde_json::from_str(&s).ok()),
    })
}

fn matches_of_content(
    conn: &rusqlite::Connection,
    content: i64,
) -> Result<Vec<CaseMatch>, StoreError> {
    let mut st = conn.prepare_cached(&format!("{MATCH_SELECT} WHERE content = ?1 ORDER BY id"))?;
    let rows = st.query_map([content], match_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes one outbox event; its payload carries its own id.
fn add_event(tx: &Transaction<'_>, at: i64, mut payload: Value) -> Result<i64, StoreError> {
    let id: i64 = tx.query_row(
        "INSERT INTO events (at, type, payload) VALUES (?1, 'decision', '{}') RETURNING id",
        [at],
        |r| r.get(0),
    )?;
    payload["event_id"] = json!(id);
    tx.execute(
        "UPDATE events SET payload = ?2 WHERE id = ?1",
        params![id, payload.to_string()],
    )?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn decision_event(
    tx: &Transaction<'_>,
    case_id: i64,
    content: &ContentRecord,
    decision: DecisionKind,
    outcome: Outcome,
    reviewer: &str,
    note: Option<&str>,
    at: i64,
) -> Result<i64, StoreError> {
    let matches: Vec<Value> = content.matches.iter().map(match_json).collect();
    add_event(
        tx,
        at,
        json!({
            "event_id": 0, "type": "decision", "case_id": case_id,
            "content_id": content.content_id, "decision": decision.as_str(),
            "outcome": outcome.as_str(), "reviewer": reviewer, "note": note, "at": at,
            "matches": matches,
        }),
    )
}

impl Store {
    /// Records a submitted content and what it matched, and applies the policy (see the
    /// module docs): quarantine, allow as newsworthy, join a case, or open one. One
    /// transaction, with its audit entry and any outbox event.
    pub fn record_submission(
        &mut self,
        content: &NewContent,
        matches: &[MatchInput],
    ) -> Result<Submission, StoreError> {
        if content.content_id.is_empty() || content.content_id.chars().count() > 256 {
            return Err(StoreError::Invalid(
                "content_id must be 1 to 256 characters".into(),
            ));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = now();
        let metadata = content
            .metadata
            .as_ref()
            .map_or_else(|| "null".to_owned(), Value::to_string);
        let row: i64 = tx.query_row(
            "INSERT INTO contents (content_id, received_at, submitted_by, media_type, content_type,
                sha256, md5, pdq, pdq_quality, metadata, outcome, has_media)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
            params![
                content.content_id,
                at,
                content.submitted_by,
                content.media_type.as_str(),
                content.content_type,
                &content.sha256[..],
                &content.md5[..],
                content.pdq.map(|p| p.0.to_vec()),
                content.pdq.map(|p| p.1 as i64),
                metadata,
                if matches.is_empty() {
                    "no_match"
                } else {
                    "pending"
                },
                content.has_media && !matches.is_empty(),
            ],
            |r| r.get(0),
        )?;
        if matches.is_empty() {
            tx.commit()?;
            return Ok(Submission {
                content: row,
                outcome: Outcome::NoMatch,
                case: None,
                decision: None,
                events: Vec::new(),
            });
        }

        // Snapshot each match with the entry's labels and the bank's provenance as they are now.
        let mut recorded = Vec::with_capacity(matches.len());
        for m in matches {
            let found: Option<(String, String, String, Option<String>, String, String)> = tx
                .query_row(
                    "SELECT b.name, e.signal_type, e.labels, e.source_id, b.labels, b.source || char(0) || b.policy
                     FROM entries e JOIN banks b ON b.id = e.bank_id WHERE e.id = ?1",
                    [m.entry_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            let Some((bank, signal_type, labels, source_id, bank_labels, src_policy)) = found
            else {
                return Err(StoreError::NoSuchEntry(m.entry_id));
            };
            let (bank_source, policy) = src_policy
                .rsplit_once('\0')
                .map_or((String::new(), "review".to_owned()), |(s, p)| {
                    (s.to_owned(), p.to_owned())
                });
            let mut labels = labels_from_json(&labels);
            for l in labels_from_json(&bank_labels) {
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            tx.execute(
                "INSERT INTO case_matches (content, entry_id, bank, signal_type, distance, via,
                    labels, bank_source, source_id, policy, segments, region)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    row,
                    m.entry_id,
                    bank,
                    signal_type,
                    m.distance as i64,
                    m.via,
                    labels_to_json(&labels),
                    bank_source,
                    source_id,
                    policy,
                    m.segments.to_string(),
                    m.region.as_ref().map(Value::to_string),
                ],
            )?;
            recorded.push(CaseMatch {
                content: row,
                bank,
                entry_id: m.entry_id,
                signal_type,
                distance: m.distance,
                via: m.via.clone(),
                labels,
                bank_source,
                source_id,
                policy,
                segments: m.segments.clone(),
                region: m.region.clone(),
            });
        }
        let actor = content.submitted_by.as_str();
        let record = ContentRecord {
            id: row,
            content_id: content.content_id.clone(),
            received_at: at,
            submitted_by: content.submitted_by.clone(),
            media_type: content.media_type,
            content_type: content.content_type.clone(),
            sha256: content.sha256,
            md5: content.md5,
            pdq: content.pdq,
            metadata: content.metadata.clone().unwrap_or(Value::Null),
            outcome: Outcome::Pending,
            decision_id: None,
            has_media: content.has_media,
            case: None,
            item_id: None,
            matches: recorded,
        };

        // 1. An exact match in an `auto` bank: quarantined at once.
        let auto = record
            .matches
            .iter()
            .find(|m| m.policy == "auto" && matches!(m.signal_type.as_str(), "md5" | "sha256"));
        if let Some(m) = auto {
            let reviewer = "policy:auto";
            let note = format!("exact {} match in auto bank {}", m.signal_type, m.bank);
            let case_id = new_case(&tx, at, content.media_type, CaseStatus::Closed)?;
            tx.execute(
                "UPDATE cases SET decision = 'confirm' WHERE id = ?1",
                [case_id],
            )?;
            let item = add_item(&tx, case_id, row, at)?;
            let decision: i64 = tx.query_row(
                "INSERT INTO decisions (case_id, decision, reviewer, note, at)
                 VALUES (?1, 'confirm', ?2, ?3, ?4) RETURNING id",
                params![case_id, reviewer, note, at],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE contents SET outcome = 'quarantined', decision_id = ?2 WHERE id = ?1",
                params![row, decision],
            )?;
            let event = decision_event(
                &tx,
                case_id,
                &record,
                DecisionKind::Confirm,
                Outcome::Quarantined,
                reviewer,
                Some(&note),
                at,
            )?;
            audit::append(
                &tx,
                reviewer,
                "content.quarantine",
                &format!("case:{case_id}"),
                &json!({
                    "content_id": content.content_id, "item_id": item,
                    "sha256": audit::hex(&content.sha256), "bank": m.bank,
                    "entry_id": m.entry_id, "signal_type": m.signal_type,
                    "submitted_by": actor, "event_id": event,
                }),
            )?;
            tx.commit()?;
            return Ok(Submission {
                content: row,
                outcome: Outcome::Quarantined,
                case: Some(CaseRef {
                    id: case_id,
                    status: CaseStatus::Closed,
                    grouped: false,
                }),
                decision: Some(decision),
                events: vec![event],
            });
        }

        // 2. The same content was decided newsworthy before: allowed, not queued again.
        if let Some(earlier) = newsworthy_before(&tx, &record)? {
            tx.execute(
                "UPDATE contents SET outcome = 'allowed', decision_id = ?2 WHERE id = ?1",
                params![row, earlier],
            )?;
            audit::append(
                &tx,
                actor,
                "content.allow",
                &format!("content:{row}"),
                &json!({
                    "content_id": content.content_id, "sha256": audit::hex(&content.sha256),
                    "newsworthy_decision": earlier,
                }),
            )?;
            tx.commit()?;
            return Ok(Submission {
                content: row,
                outcome: Outcome::Allowed,
                case: None,
                decision: Some(earlier),
                events: Vec::new(),
            });
        }

        // 3. Join the open case of the same bytes or of the same best match, or open one.
        let best = record
            .matches
            .iter()
            .min_by_key(|m| (m.distance, m.entry_id))
            .map(|m| m.entry_id);
        let existing: Option<i64> = tx
            .query_row(
                "SELECT i.case_id FROM contents c JOIN case_items i ON i.content = c.id
                 JOIN cases k ON k.id = i.case_id
                 WHERE c.sha256 = ?1 AND k.status IN ('open', 'escalated')
                 ORDER BY i.case_id LIMIT 1",
                [&content.sha256[..]],
                |r| r.get(0),
            )
            .optional()?;
        let existing = match existing {
            Some(c) => Some(c),
            None => tx
                .query_row(
                    "SELECT m.case_id FROM case_matches m JOIN cases k ON k.id = m.case_id
                     WHERE m.entry_id = ?1 AND k.status IN ('open', 'escalated')
                     ORDER BY m.case_id LIMIT 1",
                    [best],
                    |r| r.get(0),
                )
                .optional()?,
        };
        let (case_id, grouped, status) = match existing {
            Some(id) => {
                let status: String =
                    tx.query_row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0))?;
                tx.execute(
                    "UPDATE cases SET updated_at = ?2 WHERE id = ?1",
                    params![id, at],
                )?;
                (id, true, CaseStatus::parse(&status)?)
            }
            None => (
                new_case(&tx, at, content.media_type, CaseStatus::Open)?,
                false,
                CaseStatus::Open,
            ),
        };
        let item = add_item(&tx, case_id, row, at)?;
        let banks: Vec<&str> = record.matches.iter().map(|m| m.bank.as_str()).collect();
        audit::append(
            &tx,
            actor,
            if grouped { "case.group" } else { "case.open" },
            &format!("case:{case_id}"),
            &json!({
                "content_id": content.content_id, "item_id": item,
                "sha256": audit::hex(&content.sha256), "best_entry": best,
                "banks": banks, "matches": record.matches.len(),
            }),
        )?;
        tx.commit()?;
        Ok(Submission {
            content: row,
            outcome: Outcome::Pending,
            case: Some(CaseRef {
                id: case_id,
                status,
                grouped,
            }),
            decision: None,
            events: Vec::new(),
        })
    }

    /// Decides a case: one decision for every item. `escalate` keeps it reviewable; the others
    /// close it, set each item's outcome and write one outbox event per item. A closed case
    /// cannot be decided again ([`StoreError::CaseClosed`], nothing changed).
    pub fn decide(
        &mut self,
        case_id: i64,
        decision: DecisionKind,
        reviewer: &str,
        note: Option<&str>,
    ) -> Result<DecisionRecord, StoreError> {
        if let Some(n) = note {
            if n.chars().count() > 4000 {
                return Err(StoreError::Invalid(
                    "note must be at most 4000 characters".into(),
                ));
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM cases WHERE id = ?1", [case_id], |r| {
                r.get(0)
            })
            .optional()?;
        match status.as_deref() {
            None => return Err(StoreError::NoSuchCase(case_id)),
            Some("closed") => return Err(StoreError::CaseClosed(case_id)),
            Some(_) => {}
        }
        let at = now();
        let decision_id: i64 = tx.query_row(
            "INSERT INTO decisions (case_id, decision, reviewer, note, at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![case_id, decision.as_str(), reviewer, note, at],
            |r| r.get(0),
        )?;
        let items = items_of(&tx, case_id)?;
        let outcome = match decision {
            DecisionKind::Escalate => None,
            DecisionKind::Confirm => Some(Outcome::Quarantined),
            DecisionKind::Reject | DecisionKind::Newsworthy => Some(Outcome::Allowed),
        };
        let mut events = Vec::new();
        let mut item_outcomes = Vec::new();
        let new_status = match outcome {
            None => {
                tx.execute(
                    "UPDATE cases SET status = 'escalated', updated_at = ?2 WHERE id = ?1",
                    params![case_id, at],
                )?;
                CaseStatus::Escalated
            }
            Some(outcome) => {
                tx.execute(
                    "UPDATE cases SET status = 'closed', decision = ?3, updated_at = ?2 WHERE id = ?1",
                    params![case_id, at, decision.as_str()],
                )?;
                for item in &items {
                    tx.execute(
                        "UPDATE contents SET outcome = ?2, decision_id = ?3 WHERE id = ?1",
                        params![item.id, outcome.as_str(), decision_id],
                    )?;
                    let event =
                        decision_event(&tx, case_id, item, decision, outcome, reviewer, note, at)?;
                    events.push(event);
                    item_outcomes.push(json!({
                        "item_id": item.item_id, "content_id": item.content_id,
                        "outcome": outcome.as_str(), "event_id": event,
                    }));
                }
                if decision == DecisionKind::Reject {
                    // Counted once per entry per case, however many copies matched it.
                    tx.execute(
                        "UPDATE entries SET false_positives = false_positives + 1 WHERE id IN
                         (SELECT DISTINCT entry_id FROM case_matches WHERE case_id = ?1)",
                        [case_id],
                    )?;
                }
                CaseStatus::Closed
            }
        };
        audit::append(
            &tx,
            reviewer,
            "case.decide",
            &format!("case:{case_id}"),
            &json!({
                "decision": decision.as_str(), "decision_id": decision_id, "note": note,
                "status": new_status.as_str(), "items": item_outcomes,
            }),
        )?;
        tx.commit()?;
        Ok(DecisionRecord {
            decision_id,
            status: new_status,
            events,
        })
    }

    /// Cases by filter, oldest first.
    pub fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        let statuses: Vec<&str> = if filter.statuses.is_empty() {
            vec!["open", "escalated", "closed"]
        } else {
            filter.statuses.iter().map(|s| s.as_str()).collect()
        };
        let statuses = serde_json::to_string(&statuses).unwrap_or_else(|_| "[]".into());
        let mut st = self.conn.prepare(
            "SELECT k.id, k.status, k.created_at, k.updated_at, k.media_type,
                (SELECT count(*) FROM case_items i WHERE i.case_id = k.id)
             FROM cases k
             WHERE k.id > ?1 AND k.status IN (SELECT value FROM json_each(?2))
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM case_matches m
                                          WHERE m.case_id = k.id AND m.bank = ?3))
             ORDER BY k.id LIMIT ?4",
        )?;
        let rows = st.query_map(
            params![filter.after_id, statuses, filter.bank, filter.limit],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, status, created_at, updated_at, media_type, items) in rows {
            let mut banks: Vec<String> = Vec::new();
            let mut labels: Vec<String> = Vec::new();
            let mut min_distance: Option<u32> = None;
            {
                let mut m = self.conn.prepare_cached(
                    "SELECT bank, labels, distance FROM case_matches WHERE case_id = ?1 ORDER BY id",
                )?;
                let mut rows = m.query([id])?;
                while let Some(r) = rows.next()? {
                    let bank: String = r.get(0)?;
                    if !banks.contains(&bank) {
                        banks.push(bank);
                    }
                    for l in labels_from_json(&r.get::<_, String>(1)?) {
                        if !labels.contains(&l) {
                            labels.push(l);
                        }
                    }
                    let d = r.get::<_, i64>(2)? as u32;
                    min_distance = Some(min_distance.map_or(d, |m| m.min(d)));
                }
            }
            let mut c = self.conn.prepare_cached(
                "SELECT c.content_id FROM case_items i JOIN contents c ON c.id = i.content
                 WHERE i.case_id = ?1 ORDER BY i.id LIMIT 5",
            )?;
            let content_ids = c
                .query_map([id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            out.push(CaseSummary {
                id,
                status: CaseStatus::parse(&status)?,
                created_at,
                updated_at,
                item_count: items as u64,
                media_type: MediaType::parse(&media_type)?,
                banks,
                labels,
                min_distance,
                content_ids,
            });
        }
        Ok(out)
    }

    /// One case with its items, matches and decisions.
    pub fn case(&self, id: i64) -> Result<CaseDetail, StoreError> {
        let head: Option<(String, i64, i64, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT status, created_at, updated_at, media_type, decision FROM cases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((status, created_at, updated_at, media_type, decision)) = head else {
            return Err(StoreError::NoSuchCase(id));
        };
        let items = items_of(&self.conn, id)?;
        let matches = items.iter().flat_map(|i| i.matches.clone()).collect();
        let mut st = self.conn.prepare_cached(
            "SELECT id, case_id, decision, reviewer, note, at FROM decisions WHERE case_id = ?1 ORDER BY id",
        )?;
        let decisions = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|(id, case_id, d, reviewer, note, at)| {
                Ok(Decision {
                    id,
                    case_id,
                    decision: DecisionKind::parse(&d)?,
                    reviewer,
                    note,
                    at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(CaseDetail {
            id,
            status: CaseStatus::parse(&status)?,
            created_at,
            updated_at,
            media_type: MediaType::parse(&media_type)?,
            decision: decision.as_deref().map(DecisionKind::parse).transpose()?,
            items,
            matches,
            decisions,
        })
    }

    /// The latest content submitted under a platform id, with its matches and case.
    pub fn content(&self, content_id: &str) -> Result<ContentRecord, StoreError> {
        let mut c = self
            .conn
            .query_row(
                &format!("{CONTENT_SELECT} WHERE c.content_id = ?1 ORDER BY c.id DESC LIMIT 1"),
                [content_id],
                content_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchContent(content_id.to_owned()))?;
        c.matches = matches_of_content(&self.conn, c.id)?;
        Ok(c)
    }

    /// One item of a case.
    pub fn case_item(&self, case_id: i64, item_id: i64) -> Result<CaseItem, StoreError> {
        let mut c = self
            .conn
            .query_row(
                &format!("{CONTENT_SELECT} WHERE i.id = ?1 AND i.case_id = ?2"),
                params![item_id, case_id],
                content_from_row,
            )
            .optional()?
            .ok_or(StoreError::NoSuchItem {
                case: case_id,
                item: item_id,
            })?;
        c.matches = matches_of_content(&self.conn, c.id)?;
        Ok(c)
    }

    /// How many times reviewers rejected a match of this entry as a false positive.
    pub fn false_positives(&self, entry: i64) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT false_positives FROM entries WHERE id = ?1",
                [entry],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|n| n as u64)
            .ok_or(StoreError::NoSuchEntry(entry))
    }

    /// Outbox events with id greater than `after`, in order (the polling API).
    pub fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, type, payload, attempts, delivered_at FROM events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events no webhook receiver has taken yet, oldest first.
    pub fn undelivered_events(&self, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, type, payload, attempts, delivered_at FROM events
             WHERE delivered_at IS NULL ORDER BY id LIMIT ?1",
        )?;
        let rows = st.query_map(params![limit], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events not yet delivered.
    pub fn undelivered_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM events WHERE delivered_at IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Records a delivery attempt: delivered (a 2xx) or the error.
    pub fn record_delivery(
        &mut self,
        event: i64,
        result: Result<(), &str>,
    ) -> Result<(), StoreError> {
        match result {
            Ok(()) => self.conn.execute(
                "UPDATE events SET attempts = attempts + 1, delivered_at = ?2, last_error = NULL
                 WHERE id = ?1",
                params![event, now()],
            )?,
            Err(e) => self.conn.execute(
                "UPDATE events SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![event, e],
            )?,
        };
        Ok(())
    }

    /// Appends an `evidence.export` entry for a case to the audit log.
    pub fn record_export(
        &mut self,
        case_id: i64,
        actor: &str,
        detail: &Value,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM cases WHERE id = ?1)",
            [case_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NoSuchCase(case_id));
        }
        let id = audit::append(
            &tx,
            actor,
            "evidence.export",
            &format!("case:{case_id}"),
            detail,
        )?;
        tx.commit()?;
        Ok(id)
    }
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        payload: r.get(3)?,
        attempts: r.get(4)?,
        delivered_at: r.get(5)?,
    })
}

fn new_case(
    tx: &Transaction<'_>,
    at: i64,
    media_type: MediaType,
    status: CaseStatus,
) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "INSERT INTO cases (status, created_at, updated_at, media_type) VALUES (?1, ?2, ?2, ?3)
         RETURNING id",
        params![status.as_str(), at, media_type.as_str()],
        |r| r.get(0),
    )?)
}

fn add_item(tx: &Transaction<'_>, case_id: i64, content: i64, at: i64) -> Result<i64, StoreError> {
    tx.execute(
        "UPDATE case_matches SET case_id = ?1 WHERE content = ?2",
        params![case_id, content],
    )?;
    Ok(tx.query_row(
        "INSERT INTO case_items (case_id, content, added_at) VALUES (?1, ?2, ?3) RETURNING id",
        params![case_id, content, at],
        |r| r.get(0),
    )?)
}

fn items_of(conn: &rusqlite::Connection, case_id: i64) -> Result<Vec<CaseItem>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "{CONTENT_SELECT} WHERE i.case_id = ?1 ORDER BY i.id"
    ))?;
    let mut items: Vec<CaseItem> = st
        .query_map([case_id], content_from_row)?
        .collect::<Result<_, _>>()?;
    for item in &mut items {
        item.matches = matches_of_content(conn, item.id)?;
    }
    Ok(items)
}

/// The earlier newsworthy decision that covers this content, if any (see the module docs).
/// Only the items the reviewer saw count: content allowed by reference does not widen the
/// circle, or a chain of small steps could walk from a news photo to the propaganda itself.
fn newsworthy_before(
    tx: &Transaction<'_>,
    content: &ContentRecord,
) -> Result<Option<i64>, StoreError> {
    let same_bytes: Option<i64> = tx
        .query_row(
            "SELECT d.id FROM contents c JOIN decisions d ON d.id = c.decision_id
             JOIN case_items i ON i.content = c.id AND i.case_id = d.case_id
             WHERE c.sha256 = ?1 AND d.decision = 'newsworthy' AND c.id <> ?2
             ORDER BY d.id LIMIT 1",
            params![&content.sha256[..], content.id],
            |r| r.get(0),
        )
        .optional()?;
    if same_bytes.is_some() {
        return Ok(same_bytes);
    }
    let Some((pdq, _)) = content.pdq else {
        return Ok(None);
    };
    let mut st = tx.prepare_cached(
        "SELECT c.pdq, d.id FROM case_matches m JOIN contents c ON c.id = m.content
         JOIN decisions d ON d.id = c.decision_id
         JOIN case_items i ON i.content = c.id AND i.case_id = d.case_id
         WHERE m.entry_id = ?1 AND d.decision = 'newsworthy' AND c.pdq IS NOT NULL
         ORDER BY d.id",
    )?;
    for m in &content.matches {
        let mut rows = st.query([m.entry_id])?;
        while let Some(r) = rows.next()? {
            let other: Vec<u8> = r.get(0)?;
            if other.len() == 32 && hamming(&other, &pdq) <= NEWSWORTHY_PDQ_DISTANCE {
                return Ok(Some(r.get(1)?));
            }
        }
    }
    Ok(None)
}
