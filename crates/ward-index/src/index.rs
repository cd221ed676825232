//! The index the engine uses: an immutable main part, a mutable delta and tombstones.

use std::sync::Arc;

use crate::{bitset::Bitset, check_len, Error, FlatIndex, Hash, Hit, MihIndex, MihOptions};

/// How to build an [`Index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexOptions {
    flat_below: usize,
    delta_limit: usize,
    mih: MihOptions,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            flat_below: 50_000,
            delta_limit: 1 << 15,
            mih: MihOptions::default(),
        }
    }
}

impl IndexOptions {
    /// A main part of fewer than `len` hashes is a flat scan rather than a multi-index
    /// (default 50 000: below that a scan of at most 1.6 MB is as fast as the lookups).
    pub fn flat_below(mut self, len: usize) -> Self {
        self.flat_below = len;
        self
    }

    /// [`Index::add`] merges the delta into the main part once it holds more than `len` hashes
    /// (default 32 768, a 1 MiB scan per query). `usize::MAX` leaves merging to the caller
    /// ([`Index::compact`], [`Index::compacted`]).
    pub fn delta_limit(mut self, len: usize) -> Self {
        self.delta_limit = len;
        self
    }

    /// Options for the multi-index main part (its substring count).
    pub fn mih(mut self, options: MihOptions) -> Self {
        self.mih = options;
        self
    }
}

/// The immutable part of an [`Index`].
#[derive(Debug)]
enum Main {
    Flat(FlatIndex),
    Mih(MihIndex),
}

impl Main {
    fn build(hashes: Vec<Hash>, options: &IndexOptions) -> Result<Main, Error> {
        if hashes.len() < options.flat_below {
            Ok(Main::Flat(FlatIndex::from_hashes(hashes)?))
        } else {
            Ok(Main::Mih(MihIndex::build(hashes, options.mih)?))
        }
    }

    fn hashes(&self) -> &[Hash] {
        match self {
            Main::Flat(f) => f.hashes(),
            Main::Mih(m) => m.hashes(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Main::Flat(f) => f.memory_bytes(),
            Main::Mih(m) => m.memory_bytes(),
        }
    }
}

/// Exact range search over a bank that changes: the index the engine keeps per signal type.
///
/// An `Index` is three parts:
/// - the **main** part, immutable and shared behind an [`Arc`]: a [`MihIndex`] or, for small
///   banks, a [`FlatIndex`];
/// - the **delta**, a [`FlatIndex`] of the hashes added since the main part was built, scanned
///   in full by every query (so it is kept small, see [`IndexOptions::delta_limit`]);
/// - the **tombstones**, a bitset of disabled ids, filtered out of every result.
///
/// Ids are dense and stable: the `i`-th hash ever added (through [`Index::build`] or
/// [`Index::add`]) has id `i` for the life of the index, across [`Index::compact`], and a
/// disabled id keeps its place (it can be enabled again).
///
/// # Concurrency
///
/// Searches take `&self` and updates `&mut self`, and the type is `Send + Sync`, so it can sit
/// behind a `RwLock`. To let searches run while an update is prepared, keep it as
/// `RwLock<Arc<Index>>` (or an `ArcSwap`) and update a copy: readers clone the `Arc` and search
/// without holding the lock; the writer calls `Arc::make_mut` (or clones the `Index`), applies
/// its changes and stores the new `Arc`. Cloning is cheap: the main part is shared, and only the
/// delta (at most `delta_limit` hashes) and the tombstone bitset (one bit per id) are copied.
/// A merge of a large delta takes seconds at 10 M hashes; [`Index::compacted`] builds the merged
/// index from `&self` so the writer can do that outside any lock and swap it in afterwards.
#[derive(Clone, Debug)]
pub struct Index {
    main: Arc<Main>,
    delta: FlatIndex,
    disabled: Bitset,
    options: IndexOptions,
}

impl Default for Index {
    fn default() -> Self {
        Index::new(IndexOptions::default())
    }
}

impl Index {
    /// An empty index.
    pub fn new(options: IndexOptions) -> Self {
        Index {
            main: Arc::new(Main::Flat(FlatIndex::new())),
            delta: FlatIndex::new(),
            disabled: Bitset::default(),
            options,
        }
    }

    /// An index over `hashes`, hash `i` with id `i`, all in the main part.
    ///
    /// # Errors
    /// See [`MihIndex::build`].
    pub fn build(hashes: Vec<Hash>, options: IndexOptions) -> Result<Self, Error> {
        Ok(Index {
            main: Arc::new(Main::build(hashes, &options)?),
            delta: FlatIndex::new(),
            disabled: Bitset::default(),
            options,
        })
    }

    /// How many ids the index has handed out, disabled ones included (valid ids are `0..len`).
    pub fn len(&self) -> usize {
        self.main_len() + self.delta.len()
    }

    /// Whether no hash was ever added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many ids are disabled.
    pub fn disabled_len(&self) -> usize {
        self.disabled.count()
    }

    /// How many hashes wait in the delta for the next merge.
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    /// Whether the main part is a multi-index (rather than a flat scan).
    pub fn is_multi_index(&self) -> bool {
        matches!(*self.main, Main::Mih(_))
    }

    /// Heap bytes used by the main part, the delta and the tombstones. The main part may be
    /// shared with clones of this index.
    pub fn memory_bytes(&self) -> usize {
        self.main.memory_bytes() + self.delta.memory_bytes() + self.disabled.memory_bytes()
    }

    /// The hash with id `id`, disabled or not.
    pub fn get(&self, id: u32) -> Option<&Hash> {
        match (id as usize).checked_sub(self.main_len()) {
            None => self.main.hashes().get(id as usize),
            Some(i) => self.delta.hashes().get(i),
        }
    }

    /// Whether `id` is disabled (ids the index never handed out are not).
    pub fn is_disabled(&self, id: u32) -> bool {
        self.disabled.contains(id)
    }

    /// Adds `hash` and returns its id. If the delta then holds more than
    /// [`IndexOptions::delta_limit`] hashes, it is merged into the main part first (a rebuild;
    /// see [`Index::compacted`] to do that off the update path).
    ///
    /// # Errors
    /// [`Error::TooManyHashes`] if the index is full.
    pub fn add(&mut self, hash: Hash) -> Result<u32, Error> {
        let id = self.len();
        check_len(id + 1)?;
        self.delta.push(hash)?;
        if self.delta.len() > self.options.delta_limit {
            self.compact()?;
        }
        Ok(id as u32)
    }

    /// Adds every hash in order and returns the id of the first (the others follow). Merges at
    /// most once, at the end, so a bulk load costs one rebuild.
    ///
    /// # Errors
    /// [`Error::TooManyHashes`] if they do not all fit; then none is added.
    pub fn extend(&mut self, hashes: &[Hash]) -> Result<u32, Error> {
        let first = self.len();
        check_len(first + hashes.len())?;
        for &h in hashes {
            self.delta.push(h)?;
        }
        if self.delta.len() > self.options.delta_limit {
            self.compact()?;
        }
        Ok(first as u32)
    }

    /// Disables `id`: searches stop returning it. Disabling a disabled id does nothing.
    ///
    /// # Errors
    /// [`Error::UnknownId`] if the index never handed out `id`.
    pub fn disable(&mut self, id: u32) -> Result<(), Error> {
        self.check_id(id)?;
        self.disabled.insert(id);
        Ok(())
    }

    /// Enables a disabled `id` again. Enabling an enabled id does nothing.
    ///
    /// # Errors
    /// [`Error::UnknownId`] if the index never handed out `id`.
    pub fn enable(&mut self, id: u32) -> Result<(), Error> {
        self.check_id(id)?;
        self.disabled.remove(id);
        Ok(())
    }

    /// Merges the delta into a rebuilt main part. Ids and tombstones are unchanged.
    ///
    /// # Errors
    /// See [`MihIndex::build`].
    pub fn compact(&mut self) -> Result<(), Error> {
        if self.delta.is_empty() {
            return Ok(());
        }
        *self = self.compacted()?;
        Ok(())
    }

    /// A copy of this index with the delta merged into a rebuilt main part, built from `&self`
    /// so that searches (and a lock) need not wait for it.
    ///
    /// # Errors
    /// See [`MihIndex::build`].
    pub fn compacted(&self) -> Result<Index, Error> {
        let mut hashes = Vec::with_capacity(self.len());
        hashes.extend_from_slice(self.main.hashes());
        hashes.extend_from_slice(self.delta.hashes());
        Ok(Index {
            main: Arc::new(Main::build(hashes, &self.options)?),
            delta: FlatIndex::new(),
            disabled: self.disabled.clone(),
            options: self.options,
        })
    }

    /// Every enabled hash within `max_distance` of `query` (inclusive; radii above 256 mean
    /// 256), sorted by `(distance, id)`.
    pub fn search(&self, query: &Hash, max_distance: u32) -> Vec<Hit> {
        let mut hits = Vec::new();
        match &*self.main {
            Main::Flat(f) => f.search_into(query, max_distance, 0, &mut hits),
            Main::Mih(m) => m.search_into(query, max_distance, &mut hits),
        }
        self.delta
            .search_into(query, max_distance, self.main_len() as u32, &mut hits);
        self.finish(&mut hits);
        hits
    }

    /// [`Index::search`] for each query (an upload burst, or the eight dihedral variants of one
    /// image). Flat parts are scanned once for the whole batch, block by block, rather than once
    /// per query.
    pub fn search_batch(&self, queries: &[Hash], max_distance: u32) -> Vec<Vec<Hit>> {
        let mut outs = vec![Vec::new(); queries.len()];
        match &*self.main {
            Main::Flat(f) => f.search_batch_into(queries, max_distance, 0, &mut outs),
            Main::Mih(m) => m.search_batch_into(queries, max_distance, &mut outs),
        }
        self.delta
            .search_batch_into(queries, max_distance, self.main_len() as u32, &mut outs);
        for hits in &mut outs {
            self.finish(hits);
        }
        outs
    }

    fn main_len(&self) -> usize {
        self.main.hashes().len()
    }

    fn check_id(&self, id: u32) -> Result<(), Error> {
        if (id as usize) < self.len() {
            Ok(())
        } else {
            Err(Error::UnknownId {
                id,
                len: self.len(),
            })
        }
    }

    /// Drops disabled hits and sorts.
    fn finish(&self, hits: &mut Vec<Hit>) {
        if self.disabled.count() > 0 {
            hits.retain(|h| !self.disabled.contains(h.id));
        }
        hits.sort_unstable();
    }
}
