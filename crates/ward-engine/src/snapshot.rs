//! An immutable, shareable view of the PDQ index, for front ends that serve many readers at
//! once (`ward serve`).
//!
//! [`Ward`](crate::Ward) matches through `&mut self`, which suits a command that runs once. A
//! server instead keeps one [`PdqSnapshot`] behind a lock held only long enough to clone an
//! `Arc`, lets every request search it without further locking, and builds the next snapshot
//! beside it ([`PdqSnapshot::refreshed`]) when the store's change sequence moves: readers are
//! never blocked by a refresh, and a refresh costs the changes, not a rebuild (the index's
//! main part is shared between the old and the new snapshot).

use std::collections::HashMap;
use std::sync::Arc;

use ward_index::{Index, IndexOptions};
use ward_media::derived::DerivedKind;
use ward_pdq::Hash256;
use ward_store::{IndexedDerived, MatchThresholds, Store};

use crate::{pdq_words, EngineError, Via};

/// Thresholds of one search ([`PdqSnapshot::search_with`]); a bank's own thresholds, kept in
/// the snapshot, override the region and derived ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    /// For [`Via::Original`]: the field's 31 by default.
    pub threshold: u32,
    /// For every other query hash of the upload.
    pub region_threshold: u32,
    /// For the derived hashes of bank entries; `None`: they are not searched.
    pub derived_threshold: Option<u32>,
}

/// The derived hashes of the bank's entries, in an index of their own (an entry has several,
/// and they must never be taken for entries).
#[derive(Clone, Debug)]
struct Derived {
    index: Index,
    /// Entry, bank and kind of each index position.
    info: Arc<Vec<(i64, i64, DerivedKind)>>,
    /// Index position of each (entry, kind).
    pos: Arc<HashMap<(i64, DerivedKind), u32>>,
}

impl Derived {
    fn empty() -> Self {
        Derived {
            index: Index::new(IndexOptions::default()),
            info: Arc::new(Vec::new()),
            pos: Arc::new(HashMap::new()),
        }
    }

    /// Adds a derived hash, or (for one already there) follows its entry's status.
    fn apply(&mut self, d: IndexedDerived) -> Result<(), EngineError> {
        // A name this version does not know is skipped: it is only ever an extra hash.
        let Some(kind) = DerivedKind::from_name(&d.name) else {
            return Ok(());
        };
        let Ok(bytes) = <[u8; 32]>::try_from(d.value.as_slice()) else {
            return Ok(());
        };
        match self.pos.get(&(d.entry, kind)) {
            Some(&p) => match (d.active, self.index.is_disabled(p)) {
                (false, false) => self.index.disable(p).map_err(idx_err)?,
                (true, true) => self.index.enable(p).map_err(idx_err)?,
                _ => {}
            },
            None => {
                let p = self
                    .index
                    .add(Hash256::from_bytes(bytes).to_words())
                    .map_err(idx_err)?;
                if !d.active {
                    self.index.disable(p).map_err(idx_err)?;
                }
                Arc::make_mut(&mut self.info).push((d.entry, d.bank, kind));
                Arc::make_mut(&mut self.pos).insert((d.entry, kind), p);
            }
        }
        Ok(())
    }
}

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
    derived: Derived,
    /// Banks' own thresholds for edit-robust matching, by bank id.
    thresholds: Arc<HashMap<i64, MatchThresholds>>,
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
        let mut derived = Derived::empty();
        let mut rows = Vec::new();
        let dseq = store.derived_since(0, |d| rows.push(d))?;
        for d in rows {
            derived.apply(d)?;
        }
        Ok(PdqSnapshot {
            index,
            entries: Arc::new(entries),
            banks: Arc::new(banks),
            // Changes between the two reads are applied again by the next refresh, which is
            // harmless: applying a change twice gives the same state.
            seq: seq.min(dseq),
            derived,
            thresholds: Arc::new(store.match_thresholds()?.into_iter().collect()),
        })
    }

    /// An empty snapshot (before the first load).
    pub fn empty() -> Self {
        PdqSnapshot {
            index: Index::new(IndexOptions::default()),
            entries: Arc::new(Vec::new()),
            banks: Arc::new(Vec::new()),
            seq: 0,
            derived: Derived::empty(),
            thresholds: Arc::new(HashMap::new()),
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

    /// Active derived hashes (of active entries).
    pub fn active_derived_len(&self) -> usize {
        self.derived.index.len() - self.derived.index.disabled_len()
    }

    /// Bytes the index holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes()
            + self.entries.len() * 16
            + self.derived.index.memory_bytes()
            + self.derived.info.len() * 40
    }

    /// The snapshot brought up to date with the store, or `None` when nothing changed since
    /// this one was made. `self` is untouched, so readers can go on using it meanwhile.
    pub fn refreshed(&self, store: &Store) -> Result<Option<Self>, EngineError> {
        if store.seq()? == self.seq {
            return Ok(None);
        }
        let mut changes = Vec::new();
        let mut derived = Vec::new();
        let dseq = store.derived_since(self.seq, |d| derived.push(d))?;
        let seq = store.signals_since("pdq", self.seq, |s| changes.push(s))?;
        let mut next = self.clone();
        next.seq = seq.min(dseq);
        for d in derived {
            next.derived.apply(d)?;
        }
        next.thresholds = Arc::new(store.match_thresholds()?.into_iter().collect());
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

impl PdqSnapshot {
    /// Searches query hashes with a threshold per kind ([`SearchOptions`]): the plain hash
    /// of the upload at `threshold`, its other hashes at the region threshold, and the plain
    /// and region hashes (transform 0) against the entries' derived hashes at the derived
    /// threshold; a bank's own thresholds override the last two. An entry matched by several
    /// is reported once, by the closest (the earlier query on a tie). Sorted by distance,
    /// then entry id.
    pub fn search_with(&self, queries: &[(Via, Hash256)], o: &SearchOptions) -> Vec<PdqHit> {
        let bank_region = |bank: i64| {
            self.thresholds
                .get(&bank)
                .and_then(|t| t.region)
                .unwrap_or(o.region_threshold)
        };
        let bank_derived = |bank: i64| {
            self.thresholds
                .get(&bank)
                .and_then(|t| t.derived)
                .or(o.derived_threshold)
        };
        let max_region = self
            .thresholds
            .values()
            .filter_map(|t| t.region)
            .fold(o.region_threshold, u32::max);
        let max_derived = self
            .thresholds
            .values()
            .filter_map(|t| t.derived)
            .chain(o.derived_threshold)
            .max();
        let mut best: Vec<PdqHit> = Vec::new();
        let mut keep = |hit: PdqHit| match best.iter_mut().find(|b| b.entry == hit.entry) {
            Some(b) if hit.distance < b.distance => *b = hit,
            Some(_) => {}
            None => best.push(hit),
        };
        for (via, q) in queries {
            let words = q.to_words();
            let plain = via.is_plain();
            let t = if plain { o.threshold } else { max_region };
            for hit in self.index.search(&words, t) {
                let pos = hit.id as usize;
                let (Some(&entry), Some(&bank)) = (self.entries.get(pos), self.banks.get(pos))
                else {
                    continue;
                };
                if plain || hit.distance <= bank_region(bank) {
                    keep(PdqHit {
                        entry,
                        bank,
                        distance: hit.distance,
                        via: *via,
                    });
                }
            }
            let region = match *via {
                Via::Original => None,
                Via::Region {
                    kind,
                    rect,
                    dihedral: 0,
                } => Some(ward_media::regions::Region { kind, rect }),
                _ => continue,
            };
            let Some(max_derived) = max_derived else {
                continue;
            };
            for hit in self.derived.index.search(&words, max_derived) {
                let Some(&(entry, bank, kind)) = self.derived.info.get(hit.id as usize) else {
                    continue;
                };
                if bank_derived(bank).is_some_and(|t| hit.distance <= t) {
                    keep(PdqHit {
                        entry,
                        bank,
                        distance: hit.distance,
                        via: Via::Derived { kind, region },
                    });
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
