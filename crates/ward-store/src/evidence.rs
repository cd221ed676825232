//! Evidence packages: a case written out so that an investigator can verify it offline.
//!
//! A package is a folder:
//!
//! ```text
//! media/<sha256>    the bytes of every item, named by their SHA-256
//! case.json         the case, its items (hashes, metadata, outcomes), matches with the bank
//!                   entry's labels and the bank's provenance, decisions with reviewers and times
//! audit.jsonl       the audit log entries about this case, each with prev_hash and hash
//! manifest.json     every file above with its SHA-256 and size, and the hash rule
//! SHA256SUMS        every file (manifest included) in `sha256sum -c` form
//! ```
//!
//! Each audit entry's hash can be recomputed from its fields and its `prev_hash` (the rule is
//! in `manifest.json`), and the export itself is recorded in the audit log with the SHA-256
//! of the manifest, so the package can be tied back to the log it came from.

use crate::audit::hex;
use crate::{AuditEntry, CaseDetail, CaseMatch, ContentRecord, MediaDir, Store, StoreError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The format name in `case.json` and `manifest.json`.
pub const FORMAT: &str = "ward-evidence";
/// The format version.
pub const VERSION: u32 = 1;

/// The audit hash rule, as written into every manifest.
pub const HASH_RULE: &str = "hash = SHA-256(prev_hash || u64be(id) || i64be(at) || s(actor) || \
s(action) || s(subject) || s(detail)), where s(x) = u64be(UTF-8 length of x) || x, hex fields \
decoded to bytes; the first entry's prev_hash is 32 zero bytes";

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct ExportSummary {
    /// The case.
    pub case_id: i64,
    /// Files written (relative paths), with SHA-256 and size, `SHA256SUMS` excluded.
    pub files: Vec<(String, [u8; 32], u64)>,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: [u8; 32],
    /// The audit entry that records the export.
    pub audit_id: i64,
}

fn match_json(m: &CaseMatch) -> Value {
    json!({
        "bank": m.bank, "entry_id": m.entry_id, "signal_type": m.signal_type,
        "distance": m.distance, "via": m.via, "labels": m.labels,
        "bank_source": m.bank_source, "source_id": m.source_id, "policy": m.policy,
        "segments": m.segments, "region": m.region,
    })
}

fn item_json(i: &ContentRecord) -> Value {
    json!({
        "item_id": i.item_id, "content_id": i.content_id, "received_at": i.received_at,
        "submitted_by": i.submitted_by, "media_type": i.media_type.as_str(),
        "content_type": i.content_type, "sha256": hex(&i.sha256), "md5": hex(&i.md5),
        "pdq": i.pdq.map(|(h, q)| json!({"hash": hex(&h), "quality": q})),
        "metadata": i.metadata, "outcome": i.outcome.as_str(),
        "decision_id": i.decision_id, "has_media": i.has_media,
        "media_file": i.has_media.then(|| format!("media/{}", hex(&i.sha256))),
        "matches": i.matches.iter().map(match_json).collect::<Vec<_>>(),
    })
}

/// One audit entry as a JSON object (hashes in hex).
pub fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
        "detail": e.detail, "prev_hash": hex(&e.prev_hash), "hash": hex(&e.hash),
    })
}

/// `case.json`: the case with everything an investigator needs to read it.
pub fn case_document(case: &CaseDetail, exported_at: i64, exported_by: &str) -> Value {
    json!({
        "format": FORMAT, "version": VERSION,
        "exported_at": exported_at, "exported_by": exported_by,
        "case": {
            "id": case.id, "status": case.status.as_str(), "created_at": case.created_at,
            "updated_at": case.updated_at, "media_type": case.media_type.as_str(),
            "decision": case.decision.map(|d| d.as_str()),
        },
        "items": case.items.iter().map(item_json).collect::<Vec<_>>(),
        "decisions": case.decisions.iter().map(|d| json!({
            "id": d.id, "decision": d.decision.as_str(), "reviewer": d.reviewer,
            "note": d.note, "at": d.at,
        })).collect::<Vec<_>>(),
    })
}

fn now() -> i64 {
    crate::now()
}

/// Writes the package for `case_id` into `out`, which must not exist or be empty, and records
/// the export in the audit log. Media missing from the media folder are listed in
/// `case.json` (`has_media`) but cannot be included.
pub fn export(
    store: &mut Store,
    media: &MediaDir,
    case_id: i64,
    out: &Path,
    actor: &str,
) -> Result<ExportSummary, StoreError> {
    let case = store.case(case_id)?;
    if out.exists() {
        let mut entries = fs_err::read_dir(out)?;
        if entries.next().is_some() {
            return Err(StoreError::Invalid(format!(
                "{} is not empty: an evidence package goes into a new or empty folder",
                out.display()
            )));
        }
    }
    let at = now();
    let audit = store.audit_about(&format!("case:{case_id}"))?;
    fs_err::create_dir_all(out.join("media"))?;
    let mut files: Vec<(String, [u8; 32], u64)> = Vec::new();
    let mut write = |name: String, bytes: &[u8]| -> Result<(), StoreError> {
        fs_err::write(out.join(&name), bytes)?;
        files.push((name, Sha256::digest(bytes).into(), bytes.len() as u64));
        Ok(())
    };
    let mut seen = Vec::new();
    for item in &case.items {
        if !item.has_media || seen.contains(&item.sha256) {
            continue;
        }
        seen.push(item.sha256);
        let bytes = media.read(&item.sha256)?;
        write(format!("media/{}", hex(&item.sha256)), &bytes)?;
    }
    let doc = case_document(&case, at, actor);
    write(
        "case.json".into(),
        serde_json::to_string_pretty(&doc)
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .as_bytes(),
    )?;
    let mut jsonl = String::new();
    for e in &audit {
        jsonl.push_str(&audit_json(e).to_string());
        jsonl.push('\n');
    }
    write("audit.jsonl".into(), jsonl.as_bytes())?;
    let manifest = json!({
        "format": FORMAT, "version": VERSION, "case_id": case_id,
        "exported_at": at, "exported_by": actor,
        "files": files.iter().map(|(p, h, n)| json!({"path": p, "sha256": hex(h), "bytes": n}))
            .collect::<Vec<_>>(),
        "audit": {
            "entries": audit.len(),
            "last_id": audit.last().map(|e| e.id),
            "last_hash": audit.last().map(|e| hex(&e.hash)),
            "hash_rule": HASH_RULE,
        },
    });
    let manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Invalid(e.to_string()))?;
    fs_err::write(out.join("manifest.json"), &manifest_bytes)?;
    let manifest_sha256: [u8; 32] = Sha256::digest(&manifest_bytes).into();
    let mut sums = String::new();
    for (p, h, _) in files.iter().chain(std::iter::once(&(
        "manifest.json".to_owned(),
        manifest_sha256,
        0,
    ))) {
        sums.push_str(&format!("{}  {p}\n", hex(h)));
    }
    fs_err::write(out.join("SHA256SUMS"), sums)?;
    let audit_id = store.record_export(
        case_id,
        actor,
        &json!({
            "out": out.display().to_string(), "files": files.len() + 1,
            "manifest_sha256": hex(&manifest_sha256),
        }),
    )?;
    files.push((
        "manifest.json".into(),
        manifest_sha256,
        manifest_bytes.len() as u64,
    ));
    Ok(ExportSummary {
        case_id,
        files,
        manifest_sha256,
        audit_id,
    })
}
