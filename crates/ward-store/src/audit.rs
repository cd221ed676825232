//! The audit log: every write appends an entry, in the write's own transaction, and entries
//! are hash-chained so that editing or deleting one is detectable.
//!
//! `hash = SHA-256(prev_hash ‖ enc(id) ‖ enc(at) ‖ enc(actor) ‖ enc(action) ‖ enc(subject) ‖
//! enc(detail))`, where `enc` of an integer is its 8 bytes big-endian and `enc` of a string is
//! its UTF-8 length as 8 bytes big-endian followed by its bytes (so no two different entries
//! encode alike); `detail` is hashed exactly as stored. The first entry's `prev_hash` is 32
//! zero bytes.
//!
//! **Limitation:** the chain shows that an entry was changed, removed from the middle or
//! inserted, but not that the newest entries were cut off: a truncated chain is still a valid
//! chain. [`Store::audit_verify`] returns the head hash so that it can be recorded elsewhere
//! (a ticket, a second system, a printout); comparing against a recorded head detects
//! truncation.

use crate::{now, Store, StoreError};
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

/// One audit entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, …).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who did it: `token:NAME`, `cli:USER`, `policy:auto`.
    pub actor: String,
    /// What was done, e.g. `bank.create`, `case.decide`.
    pub action: String,
    /// What it was done to, e.g. `bank:NAME`, `case:12`, `token:NAME`.
    pub subject: String,
    /// JSON text with the particulars, hashed as stored.
    pub detail: String,
    /// The previous entry's hash (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

/// The result of walking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every entry's hash and link are right.
    Intact {
        /// Entries checked.
        count: u64,
        /// The newest entry's hash (zeros when the log is empty): record it elsewhere to
        /// detect truncation later.
        head: [u8; 32],
    },
    /// The first entry that does not check out.
    Tampered {
        /// Its id (or, for a missing entry, the id expected there).
        id: i64,
        /// What differs.
        reason: String,
        /// Entries that checked out before it.
        verified: u64,
    },
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of an entry from its fields and the previous hash.
pub fn audit_hash(
    prev_hash: &[u8; 32],
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(id.to_be_bytes());
    h.update(at.to_be_bytes());
    put_str(&mut h, actor);
    put_str(&mut h, action);
    put_str(&mut h, subject);
    put_str(&mut h, detail);
    h.finalize().into()
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Appends an entry inside the caller's transaction (so it commits or rolls back with the
/// write it records). Returns its id.
pub(crate) fn append(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<i64, StoreError> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, prev) = match last {
        Some((id, h)) => (id + 1, to32(&h)),
        None => (1, [0u8; 32]),
    };
    let at = now();
    let detail = detail.to_string();
    let hash = audit_hash(&prev, id, at, actor, action, subject, &detail);
    tx.execute(
        "INSERT INTO audit_log (id, at, actor, action, subject, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, at, actor, action, subject, detail, &prev[..], &hash[..]],
    )?;
    Ok(id)
}

fn to32(v: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if v.len() == 32 {
        out.copy_from_slice(v);
    }
    out
}

const AUDIT_SELECT: &str =
    "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_log";

/// A stored blob that is not 32 bytes is itself a sign of tampering, so it is read as it is
/// and reported by `verify` rather than failing the read.
struct RawEntry {
    entry: AuditEntry,
    prev_len: usize,
    hash_len: usize,
}

fn raw_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    let prev: Vec<u8> = r.get(6)?;
    let hash: Vec<u8> = r.get(7)?;
    Ok(RawEntry {
        prev_len: prev.len(),
        hash_len: hash.len(),
        entry: AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: r.get(5)?,
            prev_hash: to32(&prev),
            hash: to32(&hash),
        },
    })
}

impl Store {
    /// Sets who later writes are recorded as, for the functions that take no actor (disable,
    /// enable, rename, delete, revoke). A server sets it to the caller before each write.
    pub fn set_actor(&mut self, actor: &str) {
        self.actor = actor.to_owned();
    }

    /// Who writes are recorded as when a function takes no actor.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Audit entries with id greater than `after`, oldest first, at most `limit`.
    pub fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "{AUDIT_SELECT} WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = st.query_map(params![after, limit], raw_from_row)?;
        Ok(rows.map(|r| r.map(|r| r.entry)).collect::<Result<_, _>>()?)
    }

    /// The newest `n` audit entries, oldest first.
    pub fn audit_tail(&self, n: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM ({AUDIT_SELECT} ORDER BY id DESC LIMIT ?1) ORDER BY id"
        ))?;
        let rows = st.query_map(params![n], raw_from_row)?;
        Ok(rows.map(|r| r.map(|r| r.entry)).collect::<Result<_, _>>()?)
    }

    /// Audit entries about one subject (e.g. `case:12`), oldest first.
    pub fn audit_about(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("{AUDIT_SELECT} WHERE subject = ?1 ORDER BY id"))?;
        let rows = st.query_map(params![subject], raw_from_row)?;
        Ok(rows.map(|r| r.map(|r| r.entry)).collect::<Result<_, _>>()?)
    }

    /// Walks the whole chain in id order and reports the first entry whose hash, link or
    /// position does not check out. See the module docs for what it cannot detect.
    pub fn audit_verify(&self) -> Result<AuditVerdict, StoreError> {
        let tx = self.conn.unchecked_transaction()?; // one consistent snapshot
        let mut st = tx.prepare(&format!("{AUDIT_SELECT} ORDER BY id"))?;
        let mut rows = st.query([])?;
        let mut prev = [0u8; 32];
        let mut expected_id = 1i64;
        let mut count = 0u64;
        let tampered = |id, reason: String, verified| {
            Ok(AuditVerdict::Tampered {
                id,
                reason,
                verified,
            })
        };
        while let Some(row) = rows.next()? {
            let raw = raw_from_row(row)?;
            let e = &raw.entry;
            if e.id != expected_id {
                return tampered(
                    expected_id,
                    format!("entry {expected_id} is missing (the next one is {})", e.id),
                    count,
                );
            }
            if raw.prev_len != 32 || raw.hash_len != 32 {
                return tampered(e.id, "a stored hash is not 32 bytes".into(), count);
            }
            if e.prev_hash != prev {
                return tampered(
                    e.id,
                    format!(
                        "prev_hash {} does not link to the previous entry's hash {}",
                        hex(&e.prev_hash),
                        hex(&prev)
                    ),
                    count,
                );
            }
            let h = audit_hash(
                &e.prev_hash,
                e.id,
                e.at,
                &e.actor,
                &e.action,
                &e.subject,
                &e.detail,
            );
            if h != e.hash {
                return tampered(
                    e.id,
                    format!(
                        "its fields (at, actor, action, subject or detail) no longer give its stored hash {} (they give {})",
                        hex(&e.hash),
                        hex(&h)
                    ),
                    count,
                );
            }
            prev = e.hash;
            expected_id += 1;
            count += 1;
        }
        Ok(AuditVerdict::Intact { count, head: prev })
    }
}
