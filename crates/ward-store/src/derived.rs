//! Derived signals (extra hashes of an entry's media: crops, small rotations; PDQ for an
//! image entry, vPDQ for a video entry) and the per-bank thresholds of edit-robust matching.
//!
//! A derived signal belongs to one entry and has no status of its own: it matches while its
//! entry is active. It is not an entry, so nothing that lists or exports entries sees it; the
//! index follows it through [`Store::derived_since`], which reports a derived signal again
//! whenever its entry's status changes.

use crate::{audit, bump_seq, Store, StoreError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// A derived signal to store for an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDerived {
    /// What was derived, e.g. `crop-5-centre` (ward-media's `DerivedKind` names).
    pub name: String,
    /// Its value in its entry's form: the PDQ hash, 32 bytes, of a PDQ entry; the frames in
    /// the reference's line format (`frame,quality,hash,timestamp`) of a vPDQ entry.
    pub value: Vec<u8>,
    /// Its quality (0–100; of a vPDQ, the mean over its frames).
    pub quality: u8,
}

/// A stored derived signal.
pub type DerivedSignal = NewDerived;

/// A derived signal as an index needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedDerived {
    /// The entry it belongs to.
    pub entry: i64,
    /// The entry's bank id.
    pub bank: i64,
    /// What was derived.
    pub name: String,
    /// Its value (see [`NewDerived::value`]).
    pub value: Vec<u8>,
    /// Whether its entry is active.
    pub active: bool,
}

/// A bank's thresholds for edit-robust matching; `None`: the deployment's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchThresholds {
    /// Largest distance for query hashes of regions and rotations/flips of the upload.
    pub region: Option<u32>,
    /// Largest distance for the bank's derived hashes.
    pub derived: Option<u32>,
}

impl Store {
    /// Adds derived signals to entries of `bank`, each entry named by its signal type and
    /// value, in one transaction; an entry's derived signal of a name it already has is kept
    /// as it was. Returns how many were added.
    pub fn add_derived(
        &mut self,
        bank: &str,
        items: &[(&str, Vec<u8>, Vec<NewDerived>)],
        actor: &str,
    ) -> Result<u64, StoreError> {
        let bank_id = self.bank(bank)?.id;
        if items.iter().all(|(_, _, d)| d.is_empty()) {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let added = insert_derived(&tx, (bank, bank_id), seq, items, actor)?;
        tx.commit()?;
        Ok(added)
    }

    /// The derived signals of an entry, by name.
    pub fn derived_of(&self, entry: i64) -> Result<Vec<DerivedSignal>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, value, quality FROM derived_signals WHERE entry_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([entry], |r| {
            Ok(NewDerived {
                name: r.get(0)?,
                value: r.get(1)?,
                quality: r.get::<_, i64>(2)?.clamp(0, 100) as u8,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Visits every derived signal added after sequence `after`, or whose entry changed after
    /// it (0: all of them), with its entry's status; returns the sequence the visit is current
    /// to.
    pub fn derived_since(
        &self,
        after: i64,
        mut visit: impl FnMut(IndexedDerived),
    ) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction()?; // one consistent snapshot
        let seq: i64 =
            tx.query_row("SELECT value FROM meta WHERE key = 'seq'", [], |r| r.get(0))?;
        {
            let mut st = tx.prepare_cached(
                "SELECT d.entry_id, e.bank_id, d.name, d.value, e.status = 'active', d.id
                 FROM derived_signals d JOIN entries e ON e.id = d.entry_id WHERE d.seq > ?1
                 UNION ALL
                 SELECT d.entry_id, e.bank_id, d.name, d.value, e.status = 'active', d.id
                 FROM entries e INDEXED BY entries_by_seq JOIN derived_signals d ON d.entry_id = e.id
                 WHERE e.seq > ?1 AND d.seq <= ?1
                 ORDER BY 6",
            )?;
            let mut rows = st.query([after])?;
            while let Some(r) = rows.next()? {
                visit(IndexedDerived {
                    entry: r.get(0)?,
                    bank: r.get(1)?,
                    name: r.get(2)?,
                    value: r.get(3)?,
                    active: r.get(4)?,
                });
            }
        }
        tx.finish()?;
        Ok(seq)
    }

    /// Every bank's thresholds for edit-robust matching, by bank id (banks with none set are
    /// left out).
    pub fn match_thresholds(&self) -> Result<Vec<(i64, MatchThresholds)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, region_threshold, derived_threshold FROM banks
             WHERE region_threshold IS NOT NULL OR derived_threshold IS NOT NULL ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            let get = |i| -> rusqlite::Result<Option<u32>> {
                Ok(r.get::<_, Option<i64>>(i)?.map(|v| v.clamp(0, 256) as u32))
            };
            Ok((
                r.get(0)?,
                MatchThresholds {
                    region: get(1)?,
                    derived: get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A bank's thresholds for edit-robust matching (`None`: back to the default).
    pub fn set_match_thresholds(
        &mut self,
        bank: &str,
        t: MatchThresholds,
        actor: &str,
    ) -> Result<(), StoreError> {
        for v in [t.region, t.derived].into_iter().flatten() {
            if v > 256 {
                return Err(StoreError::Invalid(format!(
                    "a threshold must be 0 to 256, not {v}"
                )));
            }
        }
        let bank_id = self.bank(bank)?.id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        tx.execute(
            "UPDATE banks SET region_threshold = ?2, derived_threshold = ?3, seq = ?4 WHERE id = ?1",
            params![bank_id, t.region, t.derived, seq],
        )?;
        audit::append(
            &tx,
            actor,
            "bank.thresholds",
            &format!("bank:{bank}"),
            &serde_json::json!({"region_threshold": t.region, "derived_threshold": t.derived}),
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// A derived signal has its entry's form: a PDQ entry's is a 32-byte hash, a vPDQ entry's
/// is frames in the reference's line format (text; the engine parses it).
fn check_derived_value(signal_type: &str, d: &NewDerived) -> Result<(), StoreError> {
    let wrong = if signal_type == "vpdq" {
        (d.value.is_empty() || std::str::from_utf8(&d.value).is_err())
            .then(|| "vPDQ lines (UTF-8 text)".to_owned())
    } else {
        (d.value.len() != 32).then(|| format!("32 bytes, not {}", d.value.len()))
    };
    match wrong {
        Some(want) => Err(StoreError::Invalid(format!(
            "derived signal {} of a {signal_type} entry must be {want}",
            d.name
        ))),
        None => Ok(()),
    }
}

/// Inserts derived signals inside the caller's transaction (change sequence `seq`), with
/// the audit record; nothing when `items` holds none.
pub(crate) fn insert_derived(
    tx: &rusqlite::Transaction<'_>,
    (bank, bank_id): (&str, i64),
    seq: i64,
    items: &[(&str, Vec<u8>, Vec<NewDerived>)],
    actor: &str,
) -> Result<u64, StoreError> {
    if items.iter().all(|(_, _, d)| d.is_empty()) {
        return Ok(0);
    }
    let mut added = 0;
    let mut entries = Vec::new();
    {
        let mut find = tx.prepare(
            "SELECT id FROM entries WHERE signal_type = ?1 AND value = ?2 AND bank_id = ?3",
        )?;
        let mut ins = tx.prepare(
            "INSERT OR IGNORE INTO derived_signals (entry_id, name, value, quality, seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (signal_type, value, derived) in items {
            let entry: i64 = find
                .query_row(params![signal_type, value, bank_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "bank {bank} has no {signal_type} entry with that value"
                    ))
                })?;
            let mut n = 0;
            for d in derived {
                check_derived_value(signal_type, d)?;
                n += ins.execute(params![entry, d.name, d.value, d.quality, seq])? as u64;
            }
            if n > 0 {
                entries.push(entry);
            }
            added += n;
        }
    }
    audit::append(
        tx,
        actor,
        "entry.derived",
        &format!("bank:{bank}"),
        &serde_json::json!({"entries": entries, "added": added}),
    )?;
    Ok(added)
}
