//! The flat index: every hash compared with the query by a SIMD popcount scan.

use crate::{check_len, Error, Hash, Hit, Kernel, MAX_DISTANCE};

/// Hashes in one contiguous array, searched by reading all of them.
///
/// Ids are positions: the `i`-th hash pushed has id `i`. A scan reads 32 bytes per hash at
/// memory speed, so this is the right index for small banks, for the recently added delta of an
/// [`Index`](crate::Index), and for radii too large for multi-index hashing to pay off.
#[derive(Clone, Debug, Default)]
pub struct FlatIndex {
    hashes: Vec<Hash>,
    kernel: Kernel,
}

impl FlatIndex {
    /// An empty index using the fastest kernel of this CPU.
    pub fn new() -> Self {
        FlatIndex::default()
    }

    /// An index over `hashes`; hash `i` gets id `i`.
    ///
    /// # Errors
    /// [`Error::TooManyHashes`] if there are more than [`MAX_LEN`](crate::MAX_LEN).
    pub fn from_hashes(hashes: Vec<Hash>) -> Result<Self, Error> {
        check_len(hashes.len())?;
        Ok(FlatIndex {
            hashes,
            kernel: Kernel::detect(),
        })
    }

    /// Uses `kernel` for scans instead of the detected one (for tests and benchmarks).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernel scans use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Appends `hash` and returns its id.
    ///
    /// # Errors
    /// [`Error::TooManyHashes`] if the index is full.
    pub fn push(&mut self, hash: Hash) -> Result<u32, Error> {
        let id = self.hashes.len();
        check_len(id + 1)?;
        self.hashes.push(hash);
        Ok(id as u32)
    }

    /// How many hashes the index holds.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the index holds no hash.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The hash with id `id`, if any.
    pub fn get(&self, id: u32) -> Option<&Hash> {
        self.hashes.get(id as usize)
    }

    /// All hashes, indexed by id.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Gives the hashes back.
    pub fn into_hashes(self) -> Vec<Hash> {
        self.hashes
    }

    /// Heap bytes used.
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * size_of::<Hash>()
    }

    /// Every hash within `max_distance` of `query` (inclusive), sorted by `(distance, id)`.
    pub fn search(&self, query: &Hash, max_distance: u32) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.search_into(query, max_distance, 0, &mut hits);
        hits.sort_unstable();
        hits
    }

    /// [`FlatIndex::search`] for each query; the bank is read once per batch rather than once
    /// per query, which pays when it does not fit in cache.
    pub fn search_batch(&self, queries: &[Hash], max_distance: u32) -> Vec<Vec<Hit>> {
        let mut outs = vec![Vec::new(); queries.len()];
        self.search_batch_into(queries, max_distance, 0, &mut outs);
        for hits in &mut outs {
            hits.sort_unstable();
        }
        outs
    }

    /// Appends the unsorted hits of `query`, with ids offset by `id_base`.
    pub(crate) fn search_into(
        &self,
        query: &Hash,
        max_distance: u32,
        id_base: u32,
        out: &mut Vec<Hit>,
    ) {
        let max_distance = max_distance.min(MAX_DISTANCE);
        self.kernel
            .scan(&self.hashes, query, max_distance, id_base, out);
    }

    /// Appends the unsorted hits of `queries[j]` to `outs[j]`, with ids offset by `id_base`.
    pub(crate) fn search_batch_into(
        &self,
        queries: &[Hash],
        max_distance: u32,
        id_base: u32,
        outs: &mut [Vec<Hit>],
    ) {
        let max_distance = max_distance.min(MAX_DISTANCE);
        self.kernel
            .scan_batch(&self.hashes, queries, max_distance, id_base, outs);
    }
}
