//! The pipeline that both of ward's front ends (the CLI and, later, the server) drive.
//!
//! [`Ward`] owns the store and the in-memory indexes built from it. The PDQ index is built
//! from the store on first use and then follows the store's change sequence: a later call
//! applies only what changed (entries added or disabled), with no rebuild.
//!
//! Public types are not `Serialize`: wire formats belong to the front ends.

pub mod exchange;
mod snapshot;
mod video;

pub use snapshot::{PdqHit, PdqSnapshot};
pub use video::{vpdq_entry, vpdq_frames_entry, Verdict, VideoMatch, VideoMatchOptions};

use ward_pdq::Hash256;
use ward_store::{Entry, IndexedSignal, Store, StoreError};

pub use ward_store;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index refused (e.g. more than 2³² hashes).
    #[error("index: {0}")]
    Index(String),
    /// A line of an exchange file is wrong. The caller's fault.
    #[error("{file}:{line}: {msg}")]
    Parse {
        /// File name as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// An argument is wrong. The caller's fault.
    #[error("{0}")]
    Invalid(String),
}

/// How PDQ matching is done.
#[derive(Clone, Debug)]
pub struct MatchOptions {
    /// Largest Hamming distance that matches (the field's default is 31).
    pub threshold: u32,
    /// Query hashes under this quality are not matched (the field's default is 50).
    pub min_quality: u8,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            threshold: 31,
            min_quality: 50,
        }
    }
}

/// Which query hash produced a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The image as uploaded.
    Original,
    /// Dihedral transform `k` (1..=7, the reference's order) of the upload.
    Dihedral(u8),
}

impl Via {
    /// `original` or `dihedral-K`.
    pub fn name(self) -> String {
        match self {
            Via::Original => "original".to_owned(),
            Via::Dihedral(k) => format!("dihedral-{k}"),
        }
    }
}

/// One PDQ match: an active bank entry within the threshold.
#[derive(Clone, Debug)]
pub struct PdqMatch {
    /// The matched entry (its bank, labels, provenance).
    pub entry: Entry,
    /// Labels of the entry followed by its bank's labels, without repeats.
    pub labels: Vec<String>,
    /// Hamming distance.
    pub distance: u32,
    /// Which query hash matched.
    pub via: Via,
}

/// The ward handle: a store and its indexes.
pub struct Ward {
    store: Store,
    pdq: Option<PdqSnapshot>,
    vpdq: Option<video::VpdqIndex>,
}

impl Ward {
    /// Wraps an open store.
    pub fn new(store: Store) -> Self {
        Ward {
            store,
            pdq: None,
            vpdq: None,
        }
    }

    /// The store, for bank administration.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Brings the PDQ index up to date with the store: built on first use, then only the
    /// changes since the last call are applied (the same [`PdqSnapshot`] the server shares
    /// between readers). Returns the number of active hashes.
    pub fn refresh_pdq(&mut self) -> Result<usize, EngineError> {
        let next = match &self.pdq {
            None => Some(PdqSnapshot::load(&self.store)?),
            Some(p) => p.refreshed(&self.store)?,
        };
        if let Some(next) = next {
            self.pdq = Some(next);
        }
        Ok(self.pdq.as_ref().map_or(0, PdqSnapshot::active_len))
    }

    /// Matches PDQ query hashes (the original first, then any dihedral variants) against every
    /// active bank entry. An entry matched by several query hashes is reported once, by the
    /// closest. Results are sorted by distance, then entry id.
    pub fn match_pdq(
        &mut self,
        queries: &[(Via, Hash256)],
        opts: &MatchOptions,
    ) -> Result<Vec<PdqMatch>, EngineError> {
        self.refresh_pdq()?;
        let Some(p) = &self.pdq else {
            return Ok(Vec::new());
        };
        p.search(queries, opts.threshold)
            .into_iter()
            .map(|hit| {
                let entry = self.store.entry(hit.entry)?;
                let labels = self.labels_with_bank(&entry)?;
                Ok(PdqMatch {
                    entry,
                    labels,
                    distance: hit.distance,
                    via: hit.via,
                })
            })
            .collect()
    }

    /// Exact matches of a digest (MD5 or SHA-256) among active entries.
    pub fn match_exact(
        &self,
        signal_type: &str,
        value: &[u8],
    ) -> Result<Vec<(Entry, Vec<String>)>, EngineError> {
        self.store
            .lookup_exact(signal_type, value)?
            .into_iter()
            .map(|e| {
                let labels = self.labels_with_bank(&e)?;
                Ok((e, labels))
            })
            .collect()
    }

    fn labels_with_bank(&self, entry: &Entry) -> Result<Vec<String>, EngineError> {
        let bank = self.store.bank(&entry.bank)?;
        let mut labels = entry.labels.clone();
        for l in bank.labels {
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        Ok(labels)
    }
}

fn pdq_words(s: &IndexedSignal) -> Option<[u64; 4]> {
    let bytes: [u8; 32] = s.value.as_slice().try_into().ok()?;
    Some(Hash256::from_bytes(bytes).to_words())
}
