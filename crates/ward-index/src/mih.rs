//! Multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with
//! Multi-Index Hashing", CVPR 2012), exact at every radius.
//!
//! The 256 bits are cut into `m` disjoint substrings of `w ≈ 256/m` bits, and each substring
//! gets a table from its value to the ids of the hashes that have it. If a hash is within `t`
//! of the query, its `m` substring distances sum to at most `t`; so for any radii `r_i` with
//! `Σ (r_i + 1) > t`, at least one substring `i` is within `r_i` (pigeonhole). A query visits,
//! in each table, every key within `r_i` of its own substring, and verifies the full distance
//! of the ids found there. A hit is reported only from the first table in which it qualifies,
//! so results need no deduplication set: the check costs a few popcounts on hits only.
//!
//! The radii are chosen per query by a small cost model (greedy on the marginal cost of one
//! more bit of radius, which is Norouzi's `r_i = ⌊t/m⌋` or `⌊t/m⌋ - 1` when the widths are
//! equal), and when the lookups would cost more than reading every hash the query becomes a
//! flat scan, so large radii stay exact and no slower than [`FlatIndex`](crate::FlatIndex).
//!
//! Tables are stored compressed-sparse-row: per table, `2^w + 1` `u32` offsets and `N` `u32`
//! ids (sorted by key with a counting sort), so memory is `32 + 4m + 4m·2^w/N` bytes per hash.

use rayon::prelude::*;

use crate::{check_len, distance, Error, Hash, Hit, Kernel, MAX_DISTANCE};

/// The fewest substrings: 256 bits in 11 substrings are at most 24 bits wide, which keeps the
/// offsets of one table within 64 MiB.
pub(crate) const MIN_SUBSTRINGS: usize = 11;
/// The most substrings: 64 substrings of 4 bits; more would only add tables.
pub(crate) const MAX_SUBSTRINGS: usize = 64;

/// Cost of looking up one key (two adjacent offsets, usually a cache miss), in units of one
/// hash read by the flat scan. Measured on the 1 M and 10 M benchmarks (bench/index).
const PROBE_COST: f64 = 8.0;
/// Cost of one candidate (its id, its hash, at random, and the full distance), same units.
const CANDIDATE_COST: f64 = 8.0;

/// How to build a [`MihIndex`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MihOptions {
    substrings: Option<usize>,
}

impl MihOptions {
    /// Uses exactly `m` substrings (tables) instead of choosing from the bank size.
    ///
    /// `m` must be in `11..=64`: fewer would need substrings wider than 24 bits, whose offset
    /// tables (`4·2^w` bytes each) no longer fit the memory budget.
    pub fn substrings(mut self, m: usize) -> Self {
        self.substrings = Some(m);
        self
    }

    /// The substring count for a bank of `len` hashes: the override, or else Norouzi's choice
    /// of substrings about `log2(len)` bits wide (`m = round(256 / log2 len)`), so that a key
    /// holds about one hash and a lookup returns few candidates; raised, if need be, until the
    /// index fits in [`MEMORY_BUDGET`] bytes per hash.
    ///
    /// Measured at 10 M hashes (bench/index): `m = 11` (23–24-bit substrings, 123 B/hash) answers
    /// radius-31 queries 1.4× faster than `m = 12` (93 B/hash) and 3× faster than `m = 14`.
    pub fn substrings_for(&self, len: usize) -> usize {
        if let Some(m) = self.substrings {
            return m;
        }
        let log2 = (len.max(2) as f64).log2();
        let mut m = ((256.0 / log2).round() as usize).clamp(MIN_SUBSTRINGS, MAX_SUBSTRINGS);
        while m < MAX_SUBSTRINGS && bytes_per_hash(m, len) > MEMORY_BUDGET {
            m += 1;
        }
        m
    }
}

/// The most memory the default substring count may use per hash, in bytes: hash, ids and
/// offsets (the design target is 128 in all, which leaves room for an index's delta and
/// tombstones).
pub const MEMORY_BUDGET: f64 = 124.0;

/// Substring widths for `m` substrings: they differ by at most one bit, the first `256 % m`
/// getting the extra bit.
fn widths(m: usize) -> impl Iterator<Item = u32> {
    (0..m).map(move |i| (256 / m + usize::from(i < 256 % m)) as u32)
}

/// Bytes per hash of a multi-index with `m` substrings over `len` hashes.
fn bytes_per_hash(m: usize, len: usize) -> f64 {
    let offsets: f64 = widths(m).map(|w| f64::from((1u32 << w) + 1) * 4.0).sum();
    32.0 + 4.0 * m as f64 + offsets / len.max(1) as f64
}

/// One substring's table: the ids of all hashes, grouped by the value of the substring.
#[derive(Clone, Debug)]
struct Table {
    /// First bit of the substring in the 256-bit hash (bit `j` is bit `j % 64` of word `j / 64`).
    start: u32,
    /// Bits in the substring, `1..=24`.
    width: u32,
    /// `ids[offsets[k]..offsets[k + 1]]` are the hashes whose substring is `k`.
    offsets: Box<[u32]>,
    ids: Box<[u32]>,
}

/// The `width` bits of `h` starting at bit `start`.
#[inline]
fn substring(h: &Hash, start: u32, width: u32) -> u32 {
    let word = (start / 64) as usize;
    let next = if word + 1 < 4 { h[word + 1] } else { 0 };
    let pair = u128::from(h[word]) | (u128::from(next) << 64);
    ((pair >> (start % 64)) as u64 & ((1u64 << width) - 1)) as u32
}

impl Table {
    /// Counting sort of all ids by substring value.
    fn build(hashes: &[Hash], start: u32, width: u32) -> Table {
        let keys = 1usize << width;
        // Counts go to `offsets[k + 2]`, so that after the prefix sum `offsets[k + 1]` is the
        // start of bucket `k` and can serve as its write cursor; when the scatter is done it has
        // advanced to the start of bucket `k + 1`, leaving the final offsets in `[0..=keys]`
        // without a second array.
        let mut offsets = vec![0u32; keys + 2];
        for h in hashes {
            offsets[substring(h, start, width) as usize + 2] += 1;
        }
        for k in 2..offsets.len() {
            offsets[k] += offsets[k - 1];
        }
        let mut ids = vec![0u32; hashes.len()];
        for (id, h) in hashes.iter().enumerate() {
            let cursor = &mut offsets[substring(h, start, width) as usize + 1];
            ids[*cursor as usize] = id as u32;
            *cursor += 1;
        }
        offsets.truncate(keys + 1);
        Table {
            start,
            width,
            offsets: offsets.into_boxed_slice(),
            ids: ids.into_boxed_slice(),
        }
    }

    fn memory_bytes(&self) -> usize {
        (self.offsets.len() + self.ids.len()) * size_of::<u32>()
    }
}

/// A hint that `data` will be read soon; CPU-specific, so it lives in `arch/`.
pub(crate) trait Prefetch {
    /// Starts loading the cache line of `data`, without waiting for it.
    fn prefetch<T>(&self, data: &T);
}

/// No hint: the portable probe loop.
struct NoPrefetch;

impl Prefetch for NoPrefetch {
    #[inline(always)]
    fn prefetch<T>(&self, _: &T) {}
}

/// One table to visit, and the radius around the query's substring to visit it at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe {
    table: u32,
    radius: u32,
}

/// Binomial coefficient `C(n, k)` as a float, for the cost model (`n <= 24`).
fn binomial(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

/// Calls `f` with every `width`-bit value within Hamming distance `radius` of `key`, nearest
/// first, each once.
#[inline]
fn for_each_neighbour(key: u32, width: u32, radius: u32, mut f: impl FnMut(u32)) {
    f(key);
    let end = 1u64 << width;
    for k in 1..=radius.min(width) {
        // Gosper's hack: all `width`-bit masks with `k` bits set, in increasing order. The
        // division of the textbook form is a shift, as the lowest set bit is a power of two.
        let mut mask: u64 = (1 << k) - 1;
        while mask < end {
            f(key ^ mask as u32);
            let low = mask & mask.wrapping_neg();
            let ripple = mask + low;
            mask = (((ripple ^ mask) >> 2) >> low.trailing_zeros()) | ripple;
        }
    }
}

/// A multi-index hash over an immutable set of hashes; ids are positions, as in
/// [`FlatIndex`](crate::FlatIndex).
#[derive(Clone, Debug)]
pub struct MihIndex {
    hashes: Vec<Hash>,
    tables: Vec<Table>,
    kernel: Kernel,
    /// The probe loop compiled for `POPCNT`, where the CPU has it.
    #[cfg(target_arch = "x86_64")]
    popcnt: Option<crate::arch::x86_64::popcnt::Kernel>,
}

impl MihIndex {
    /// Builds the tables over `hashes` (hash `i` gets id `i`), one table per rayon task.
    ///
    /// # Errors
    /// [`Error::TooManyHashes`] beyond [`MAX_LEN`](crate::MAX_LEN) hashes, and
    /// [`Error::InvalidSubstrings`] for a substring override outside `11..=64`.
    pub fn build(hashes: Vec<Hash>, options: MihOptions) -> Result<Self, Error> {
        check_len(hashes.len())?;
        let m = options.substrings_for(hashes.len());
        if !(MIN_SUBSTRINGS..=MAX_SUBSTRINGS).contains(&m) {
            return Err(Error::InvalidSubstrings { substrings: m });
        }
        let mut layout = Vec::with_capacity(m);
        let mut start = 0;
        for width in widths(m) {
            layout.push((start, width));
            start += width;
        }
        let tables = layout
            .par_iter()
            .map(|&(start, width)| Table::build(&hashes, start, width))
            .collect();
        Ok(MihIndex {
            hashes,
            tables,
            kernel: Kernel::detect(),
            #[cfg(target_arch = "x86_64")]
            popcnt: crate::arch::x86_64::popcnt::Kernel::detect(),
        })
    }

    /// How many hashes the index holds.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the index holds no hash.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The number of substrings (tables), `m`.
    pub fn substrings(&self) -> usize {
        self.tables.len()
    }

    /// The hash with id `id`, if any.
    pub fn get(&self, id: u32) -> Option<&Hash> {
        self.hashes.get(id as usize)
    }

    /// All hashes, indexed by id.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Gives the hashes back (the tables are dropped).
    pub fn into_hashes(self) -> Vec<Hash> {
        self.hashes
    }

    /// Heap bytes used: hashes and tables.
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * size_of::<Hash>()
            + self.tables.iter().map(Table::memory_bytes).sum::<usize>()
    }

    /// Whether a search at `max_distance` uses the tables (`true`) or scans every hash.
    pub fn uses_tables(&self, max_distance: u32) -> bool {
        let t = max_distance.min(MAX_DISTANCE);
        self.plan(t, self.hashes.len() as f64).is_some()
    }

    /// Every hash within `max_distance` of `query` (inclusive), sorted by `(distance, id)`.
    pub fn search(&self, query: &Hash, max_distance: u32) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.search_into(query, max_distance, &mut hits);
        hits.sort_unstable();
        hits
    }

    /// [`MihIndex::search`] for each query. Radii that use the tables are answered query by
    /// query; radii that scan read the bank once for the whole batch.
    pub fn search_batch(&self, queries: &[Hash], max_distance: u32) -> Vec<Vec<Hit>> {
        let mut outs = vec![Vec::new(); queries.len()];
        self.search_batch_into(queries, max_distance, &mut outs);
        for hits in &mut outs {
            hits.sort_unstable();
        }
        outs
    }

    /// Appends the unsorted hits of `query`.
    pub(crate) fn search_into(&self, query: &Hash, max_distance: u32, out: &mut Vec<Hit>) {
        let t = max_distance.min(MAX_DISTANCE);
        match self.plan(t, self.hashes.len() as f64) {
            Some(plan) => self.probe(query, t, &plan, out),
            None => self.kernel.scan(&self.hashes, query, t, 0, out),
        }
    }

    /// Appends the unsorted hits of `queries[j]` to `outs[j]`.
    pub(crate) fn search_batch_into(
        &self,
        queries: &[Hash],
        max_distance: u32,
        outs: &mut [Vec<Hit>],
    ) {
        let t = max_distance.min(MAX_DISTANCE);
        match self.plan(t, self.hashes.len() as f64) {
            Some(plan) => {
                for (query, out) in queries.iter().zip(outs.iter_mut()) {
                    self.probe(query, t, &plan, out);
                }
            }
            None => self.kernel.scan_batch(&self.hashes, queries, t, 0, outs),
        }
    }

    /// The probes for radius `t`, or `None` when they would cost more than `flat_cost` (a scan
    /// costs the number of hashes).
    ///
    /// Starts with every table unvisited (radius -1) and repeatedly raises by one the radius of
    /// the table where that costs least, until the radii cover `t` (`Σ (r_i + 1) = t + 1`). The
    /// marginal cost of a table grows with its radius, so the greedy choice is optimal; with
    /// equal widths it gives Norouzi's radii, and with `t < m` it visits only `t + 1` tables at
    /// radius 0.
    fn plan(&self, t: u32, flat_cost: f64) -> Option<Vec<Probe>> {
        let n = self.hashes.len() as f64;
        // radius + 1 per table, so that 0 means "not visited".
        let mut reach = vec![0u32; self.tables.len()];
        let mut cost = 0.0;
        for _ in 0..=t {
            let (best, marginal) = self
                .tables
                .iter()
                .zip(&reach)
                .enumerate()
                .filter(|(_, (table, &r))| r <= table.width)
                .map(|(i, (table, &r))| {
                    let keys = binomial(table.width, r);
                    let per_key = PROBE_COST + CANDIDATE_COST * n / f64::from(1u32 << table.width);
                    (i, keys * per_key)
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            cost += marginal;
            if cost >= flat_cost {
                return None;
            }
            reach[best] += 1;
        }
        Some(
            reach
                .iter()
                .enumerate()
                .filter(|(_, &r)| r > 0)
                .map(|(i, &r)| Probe {
                    table: i as u32,
                    radius: r - 1,
                })
                .collect(),
        )
    }

    /// Visits the tables of `plan` and appends every hash within `t`, each once, with the
    /// fastest probe loop this CPU allows.
    fn probe(&self, query: &Hash, t: u32, plan: &[Probe], out: &mut Vec<Hit>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = self.popcnt {
            return kernel.probe(self, query, t, plan, out);
        }
        self.probe_with(query, t, plan, out, &NoPrefetch);
    }

    /// The probe loop, inlined into each CPU-specific caller so that its popcounts compile to
    /// that CPU's instruction (`count_ones` is a dozen instructions without `POPCNT`).
    ///
    /// Each table is visited in three passes (bucket bounds of every key, then the ids in those
    /// buckets, then the hashes of those ids) rather than one nested loop: almost every read is
    /// a cache miss at a random address, and within a pass the reads do not depend on each other,
    /// so the CPU keeps many of them in flight instead of waiting for each chain of three; the
    /// `prefetch` hints start the misses of the next passes' reads a few iterations early.
    #[inline(always)]
    pub(crate) fn probe_with(
        &self,
        query: &Hash,
        t: u32,
        plan: &[Probe],
        out: &mut Vec<Hit>,
        prefetch: &impl Prefetch,
    ) {
        /// How many iterations ahead to prefetch: enough to cover a memory latency.
        const AHEAD: usize = 16;
        let mut buckets: Vec<(u32, u32)> = Vec::new();
        let mut candidates: Vec<u32> = Vec::new();
        for (p, probe) in plan.iter().enumerate() {
            let table = &self.tables[probe.table as usize];
            let key = substring(query, table.start, table.width);
            buckets.clear();
            for_each_neighbour(key, table.width, probe.radius, |k| {
                let k = k as usize;
                let (lo, hi) = (table.offsets[k], table.offsets[k + 1]);
                if lo < hi {
                    buckets.push((lo, hi));
                }
            });
            candidates.clear();
            for (i, &(lo, hi)) in buckets.iter().enumerate() {
                if let Some(&(next, _)) = buckets.get(i + AHEAD) {
                    prefetch.prefetch(&table.ids[next as usize]);
                }
                candidates.extend_from_slice(&table.ids[lo as usize..hi as usize]);
            }
            for (i, &id) in candidates.iter().enumerate() {
                if let Some(&next) = candidates.get(i + AHEAD) {
                    prefetch.prefetch(&self.hashes[next as usize]);
                }
                let h = &self.hashes[id as usize];
                let d = distance(h, query);
                if d <= t && !self.found_before(h, query, &plan[..p]) {
                    out.push(Hit { id, distance: d });
                }
            }
        }
    }

    /// Whether a hit was already reported by one of the `earlier` probes: it was iff its
    /// substring there is within that probe's radius.
    #[inline]
    fn found_before(&self, h: &Hash, query: &Hash, earlier: &[Probe]) -> bool {
        let x = [
            h[0] ^ query[0],
            h[1] ^ query[1],
            h[2] ^ query[2],
            h[3] ^ query[3],
        ];
        earlier.iter().any(|probe| {
            let table = &self.tables[probe.table as usize];
            substring(&x, table.start, table.width).count_ones() <= probe.radius
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn default_substring_counts_follow_the_bank_size_within_the_memory_budget() {
        let options = MihOptions::default();
        assert_eq!(options.substrings_for(10_000_000), 11);
        assert_eq!(options.substrings_for(1_000_000), 14);
        assert_eq!(options.substrings(20).substrings_for(10_000_000), 20);
        // From the default flat threshold up: below it an index is a flat scan.
        for len in (16..32)
            .map(|b| 1usize << b)
            .chain([50_000, 3_000_000, 100_000_000])
        {
            let m = options.substrings_for(len);
            assert!(bytes_per_hash(m, len) <= MEMORY_BUDGET, "{len}: m = {m}");
            assert_eq!(widths(m).sum::<u32>(), 256);
        }
    }

    #[test]
    fn substring_takes_the_bits_it_says() {
        let mut seed = 1;
        for _ in 0..100 {
            let h = [
                rng(&mut seed),
                rng(&mut seed),
                rng(&mut seed),
                rng(&mut seed),
            ];
            for start in 0..256u32 {
                for width in 1..=24u32.min(256 - start) {
                    let want = (0..width).fold(0u32, |acc, i| {
                        let bit = (start + i) as usize;
                        acc | (((h[bit / 64] >> (bit % 64)) & 1) as u32) << i
                    });
                    assert_eq!(substring(&h, start, width), want, "{start} {width}");
                }
            }
        }
    }

    #[test]
    fn neighbours_are_each_key_within_the_radius_once() {
        for width in [1, 2, 5, 11, 16] {
            for radius in 0..=width.min(4) {
                let key = 0b1011 & ((1 << width) - 1);
                let mut seen = Vec::new();
                for_each_neighbour(key, width, radius, |k| seen.push(k));
                let mut want: Vec<u32> = (0..1u32 << width)
                    .filter(|k| (k ^ key).count_ones() <= radius)
                    .collect();
                assert_eq!(seen.len(), want.len(), "{width} {radius}");
                seen.sort_unstable();
                want.sort_unstable();
                assert_eq!(seen, want);
            }
        }
    }

    #[test]
    fn plans_follow_the_pigeonhole_principle() {
        let mut seed = 2;
        let hashes: Vec<Hash> = (0..1000)
            .map(|_| {
                [
                    rng(&mut seed),
                    rng(&mut seed),
                    rng(&mut seed),
                    rng(&mut seed),
                ]
            })
            .collect();
        let index = MihIndex::build(hashes, MihOptions::default().substrings(16)).unwrap();
        // Below m, t + 1 tables at radius 0 suffice.
        let plan = index.plan(5, f64::INFINITY).unwrap();
        assert_eq!(plan.len(), 6);
        assert!(plan.iter().all(|p| p.radius == 0));
        // Equal widths: Norouzi's radii, 31 = 16 * 1 + 15, so all 16 tables at radius 1.
        let plan = index.plan(31, f64::INFINITY).unwrap();
        assert_eq!(plan.len(), 16);
        assert!(plan.iter().all(|p| p.radius == 1));
        for t in 0..=256 {
            let plan = index.plan(t, f64::INFINITY).unwrap();
            assert_eq!(plan.iter().map(|p| p.radius + 1).sum::<u32>(), t + 1);
        }
    }

    #[test]
    fn tables_alone_are_exact_at_every_radius() {
        // The cost model sends large radii to the flat scan; force the tables to check them too.
        let mut seed = 3;
        let centres: Vec<Hash> = (0..20)
            .map(|_| {
                [
                    rng(&mut seed),
                    rng(&mut seed),
                    rng(&mut seed),
                    rng(&mut seed),
                ]
            })
            .collect();
        let hashes: Vec<Hash> = (0..400)
            .map(|i| {
                let mut h = centres[i % centres.len()];
                for _ in 0..(8 + rng(&mut seed) % 17) {
                    let bit = rng(&mut seed) % 256;
                    h[(bit / 64) as usize] ^= 1 << (bit % 64);
                }
                h
            })
            .collect();
        for m in [16, 23, 37, 64] {
            let index =
                MihIndex::build(hashes.clone(), MihOptions::default().substrings(m)).unwrap();
            for t in [0, 1, 10, 31, 32, 63, 100, 200, 256] {
                let plan = index.plan(t, f64::INFINITY).unwrap();
                for q in hashes.iter().step_by(37) {
                    let mut got = Vec::new();
                    index.probe(q, t, &plan, &mut got);
                    got.sort_unstable();
                    let mut want: Vec<Hit> = hashes
                        .iter()
                        .enumerate()
                        .map(|(id, h)| Hit {
                            id: id as u32,
                            distance: distance(h, q),
                        })
                        .filter(|h| h.distance <= t)
                        .collect();
                    want.sort_unstable();
                    assert_eq!(got, want, "m = {m}, t = {t}");
                }
            }
        }
    }
}
