//! An immutable, shareable view of the PDQ index, for front ends that serve many readers at
//! once (`ward serve`).
//!
//! [`Ward`](crate::Ward) matches through `&mut self`, which suits a command that runs once. A
//! server instead keeps one [`PdqSnapshot`] behind a lock held only long enough to clone an
//! `Arc`, lets every request search it without further locking, and builds the next snapshot
//! beside it ([`PdqSnapshot::refreshed`]) when the store's change sequence moves: readers are
//! never blocked by a refresh, and a refresh costs the changes, not a rebuild (the index's
//! main part is shared between the old and the new snapshot).

use std::sync::Arc;

use ward_index::{Index, IndexOptions};
use ward_pdq::Hash256;
use ward_store::Store;

use crate::{pdq_words, EngineError, Via};

/// The PDQ index at one change sequence, with the entry and bank of every position.
#[derive(Clone, Debug)]
pub struct PdqSnapshot {
    index: Index,
    /// Entry id of each index position, ascending. Disabled entries keep their position (the
    /// index tombstones them) so that re-enabling one is a flag flip, not an insert.
    entries: Arc<Vec<i64>>,
    /// Bank id of each index position.
    banks: Arc<Vec<i64>>,
    seq: i64,
}

/// One hit of a snapshot search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqHit {
    /// The matched entry's id.
    pub entry: i64,
    /// Its bank's id.
    pub bank: i64,
    /// Hamming distance.
    pub distance: u32,
    /// Which query hash matched.
    pub via: Via,
}

impl PdqSnapshot {
    /// Builds the index of every PDQ entry in the store.
    pub fn load(store: &Store) -> Result<Self, EngineError> {
        let mut hashes = Vec::new();
        let mut entries = Vec::new();
        let mut banks = Vec::new();
        let mut disabled = Vec::new();
        let seq = store.signals_since("pdq", 0, |s| {
            if let Some(h) = pdq_words(&s) {
                if !s.active {
                    disabled.push(hashes.len() as u32);
                }
                hashes.push(h);
                entries.push(s.entry);
                banks.push(s.bank);
            }
        })?;
        let mut index = Index::build(hashes, IndexOptions::default()).map_err(idx_err)?;
        for pos in disabled {
            index.disable(pos).map_err(idx_err)?;
        }
        Ok(PdqSnapshot {
            index,
            entries: Arc::new(entries),
            banks: Arc::new(banks),
            seq,
        })
    }

    /// An empty snapshot (before the first load).
    pub fn empty() -> Self {
        PdqSnapshot {
            index: Index::new(IndexOptions::default()),
            entries: Arc::new(Vec::new()),
            banks: Arc::new(Vec::new()),
            seq: 0,
        }
    }

    /// The store's change sequence this snapshot is current to.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Active (matchable) hashes.
    pub fn active_len(&self) -> usize {
        self.index.len() - self.index.disabled_len()
    }

    /// Bytes the index holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes() + self.entries.len() * 16
    }

    /// The snapshot brought up to date with the store, or `None` when nothing changed since
    /// this one was made. `self` is untouched, so readers can go on using it meanwhile.
    pub fn refreshed(&self, store: &Store) -> Result<Option<Self>, EngineError> {
        if store.seq()? == self.seq {
            return Ok(None);
        }
        let mut changes = Vec::new();
        let seq = store.signals_since("pdq", self.seq, |s| changes.push(s))?;
        let mut next = self.clone();
        next.seq = seq;
        for s in changes {
            match next.entries.binary_search(&s.entry) {
                Ok(pos) => {
                    let pos = pos as u32;
                    match (s.active, next.index.is_disabled(pos)) {
                        (false, false) => next.index.disable(pos).map_err(idx_err)?,
                        (true, true) => next.index.enable(pos).map_err(idx_err)?,
                        _ => {}
                    }
                }
                // Entry ids only grow (the store never deletes a row), so a new entry sorts
                // last; anything else would be a store bug, and is skipped rather than
                // corrupting the id map.
                Err(pos) if pos == next.entries.len() => {
                    if let Some(h) = pdq_words(&s) {
                        let id = next.index.add(h).map_err(idx_err)?;
                        if !s.active {
                            next.index.disable(id).map_err(idx_err)?;
                        }
                        Arc::make_mut(&mut next.entries).push(s.entry);
                        Arc::make_mut(&mut next.banks).push(s.bank);
                    }
                }
                Err(_) => {}
            }
        }
        Ok(Some(next))
    }

    /// Searches the query hashes (the original first, then any variants); an entry matched by
    /// several is reported once, by the closest. Sorted by distance, then entry id.
    pub fn search(&self, queries: &[(Via, Hash256)], threshold: u32) -> Vec<PdqHit> {
        let mut best: Vec<PdqHit> = Vec::new();
        for (via, q) in queries {
            for hit in self.index.search(&q.to_words(), threshold) {
                let pos = hit.id as usize;
                let (Some(&entry), Some(&bank)) = (self.entries.get(pos), self.banks.get(pos))
                else {
                    continue;
                };
                match best.iter_mut().find(|b| b.entry == entry) {
                    Some(b) if hit.distance < b.distance => {
                        b.distance = hit.distance;
                        b.via = *via;
                    }
                    Some(_) => {}
                    None => best.push(PdqHit {
                        entry,
                        bank,
                        distance: hit.distance,
                        via: *via,
                    }),
                }
            }
        }
        best.sort_by_key(|h| (h.distance, h.entry));
        best
    }
}

fn idx_err(e: ward_index::Error) -> EngineError {
    EngineError::Index(e.to_string())
}
