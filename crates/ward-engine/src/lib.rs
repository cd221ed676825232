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

pub use snapshot::{PdqHit, PdqSnapshot, SearchOptions};
pub use video::{
    derived_vpdq_signals, vpdq_entry, vpdq_frames_entry, Verdict, VideoMatch, VideoMatchOptions,
};

use ward_media::derived::DerivedKind;
use ward_media::regions::{Candidate, Rect, Region, RegionKind};
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

/// Default largest distance for normalised query hashes (regions, rotations and flips of the
/// upload): tighter than the plain 31 because every extra query hash is one more chance of a
/// false match. See the README's "Edit-robust matching" for the measurements behind it.
pub const DEFAULT_REGION_THRESHOLD: u32 = 24;

/// Default largest distance for a bank entry's derived hashes (crops, small rotations).
pub const DEFAULT_DERIVED_THRESHOLD: u32 = 24;

/// How PDQ matching is done.
#[derive(Clone, Debug)]
pub struct MatchOptions {
    /// Largest Hamming distance that matches the whole upload as it is (the field's default
    /// is 31).
    pub threshold: u32,
    /// Query hashes under this quality are not matched (the field's default is 50).
    pub min_quality: u8,
    /// Largest distance for normalised query hashes ([`Via::Dihedral`], [`Via::Region`]),
    /// unless a bank sets its own. Default [`DEFAULT_REGION_THRESHOLD`].
    pub region_threshold: u32,
    /// Largest distance for derived hashes of bank entries ([`Via::Derived`]), unless a bank
    /// sets its own; `None` does not search them. Default [`DEFAULT_DERIVED_THRESHOLD`].
    pub derived_threshold: Option<u32>,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            threshold: 31,
            min_quality: 50,
            region_threshold: DEFAULT_REGION_THRESHOLD,
            derived_threshold: Some(DEFAULT_DERIVED_THRESHOLD),
        }
    }
}

/// Which query hash produced a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// The image as uploaded.
    Original,
    /// Dihedral transform `k` (1..=7, the reference's order) of the upload.
    Dihedral(u8),
    /// A region of the upload (content inside borders, without a caption band, the photo
    /// in a screenshot), in dihedral transform `dihedral` (0: as found).
    Region {
        /// Which detector found it.
        kind: RegionKind,
        /// Where, in the upload's pixels.
        rect: Rect,
        /// Dihedral transform, 0..=7.
        dihedral: u8,
    },
    /// A derived hash of the bank entry (a crop or rotation of its media) matched the upload
    /// as it is, or a region of it.
    Derived {
        /// Which derived hash.
        kind: DerivedKind,
        /// The region of the upload, when the query hash came from one.
        region: Option<Region>,
    },
}

impl Via {
    /// `original`, `dihedral-K`, `trim-border`, `caption-band`, `inner-region`,
    /// `REGION+dihedral-K`, `derived:NAME` or `REGION+derived:NAME`.
    pub fn name(self) -> String {
        match self {
            Via::Original => "original".to_owned(),
            Via::Dihedral(k) => format!("dihedral-{k}"),
            Via::Region {
                kind, dihedral: 0, ..
            } => kind.name().to_owned(),
            Via::Region { kind, dihedral, .. } => format!("{}+dihedral-{dihedral}", kind.name()),
            Via::Derived { kind, region: None } => format!("derived:{}", kind.name()),
            Via::Derived {
                kind,
                region: Some(r),
            } => format!("{}+derived:{}", r.kind.name(), kind.name()),
        }
    }

    /// The rectangle of the upload the query hash came from, when not the whole image.
    pub fn region(self) -> Option<Rect> {
        match self {
            Via::Region { rect, .. } => Some(rect),
            Via::Derived { region, .. } => region.map(|r| r.rect),
            Via::Original | Via::Dihedral(_) => None,
        }
    }

    /// Whether this is a normalised or derived query (one that uses the tighter thresholds).
    pub fn is_plain(self) -> bool {
        matches!(self, Via::Original)
    }
}

/// The query hashes of an upload's candidates (`ward_media::regions::query_candidates`):
/// the whole image first, then its rotations/flips, then each region and its transforms;
/// candidates under `min_quality` are left out (a featureless region proves nothing).
pub fn candidate_queries(candidates: &[Candidate], min_quality: u8) -> Vec<(Via, Hash256)> {
    candidates
        .iter()
        .filter(|c| c.quality >= min_quality)
        .map(|c| {
            let via = match (c.region, c.dihedral) {
                (None, 0) => Via::Original,
                (None, k) => Via::Dihedral(k),
                (Some(r), k) => Via::Region {
                    kind: r.kind,
                    rect: r.rect,
                    dihedral: k,
                },
            };
            (via, c.hash)
        })
        .collect()
}

/// The derived hashes of an image (`ward_media::derived::derived_hashes`) as the store keeps
/// them; hashes under `min_quality` are left out.
pub fn derived_signals(
    derived: &[(DerivedKind, ward_pdq::Pdq)],
    min_quality: u8,
) -> Vec<ward_store::NewDerived> {
    derived
        .iter()
        .filter(|(_, p)| p.quality >= min_quality)
        .map(|(k, p)| ward_store::NewDerived {
            name: k.name().to_owned(),
            value: p.hash.as_bytes().to_vec(),
            quality: p.quality,
        })
        .collect()
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

    /// Matches PDQ query hashes (the original first, then any dihedral and region variants)
    /// against every active bank entry and, for the original and region hashes, their derived
    /// hashes. [`Via::Original`] matches within `opts.threshold`; the others within the
    /// tighter region and derived thresholds (a bank's own, when it sets them). An entry
    /// matched by several query hashes is reported once, by the closest. Results are sorted by
    /// distance, then entry id.
    pub fn match_pdq(
        &mut self,
        queries: &[(Via, Hash256)],
        opts: &MatchOptions,
    ) -> Result<Vec<PdqMatch>, EngineError> {
        self.refresh_pdq()?;
        let Some(p) = &self.pdq else {
            return Ok(Vec::new());
        };
        let search = SearchOptions {
            threshold: opts.threshold,
            region_threshold: opts.region_threshold,
            derived_threshold: opts.derived_threshold,
        };
        p.search_with(queries, &search)
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
