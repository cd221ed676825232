//! Helpers shared by the integration tests: deterministic data and the naive search.

#![allow(dead_code)] // Each test binary uses a different subset.

use ward_index::{distance, Hash, Hit};

/// splitmix64: a deterministic generator without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn hash(&mut self) -> Hash {
        [self.next(), self.next(), self.next(), self.next()]
    }

    /// `h` with `k` distinct random bits flipped.
    pub fn flip(&mut self, h: &Hash, k: u32) -> Hash {
        let mut out = *h;
        let mut flipped = 0;
        while flipped < k {
            let bit = self.below(256) as usize;
            if (out[bit / 64] ^ h[bit / 64]) & (1 << (bit % 64)) == 0 {
                out[bit / 64] ^= 1 << (bit % 64);
                flipped += 1;
            }
        }
        out
    }
}

/// `n` uniformly random hashes.
pub fn random(rng: &mut Rng, n: usize) -> Vec<Hash> {
    (0..n).map(|_| rng.hash()).collect()
}

/// `n` hashes in clusters: random centres, each member 8 to 24 bits away from its centre, as
/// re-encoded copies of the same picture are.
pub fn clustered(rng: &mut Rng, n: usize) -> Vec<Hash> {
    let centres = random(rng, n / 16 + 1);
    (0..n)
        .map(|_| {
            let c = centres[rng.below(centres.len() as u64) as usize];
            let k = 8 + rng.below(17) as u32;
            rng.flip(&c, k)
        })
        .collect()
}

/// Queries near `bank` entries (0 to 40 bits away) and far from everything (random).
pub fn queries(rng: &mut Rng, bank: &[Hash], n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            if i % 4 == 3 || bank.is_empty() {
                rng.hash()
            } else {
                let b = bank[rng.below(bank.len() as u64) as usize];
                let k = rng.below(41) as u32;
                rng.flip(&b, k)
            }
        })
        .collect()
}

/// The naive answer: every enabled hash within `t`, sorted by (distance, id).
pub fn brute(bank: &[Hash], disabled: &[bool], query: &Hash, t: u32) -> Vec<Hit> {
    let mut hits: Vec<Hit> = bank
        .iter()
        .enumerate()
        .filter(|(i, _)| !disabled.get(*i).copied().unwrap_or(false))
        .map(|(i, h)| Hit {
            id: i as u32,
            distance: distance(h, query),
        })
        .filter(|h| h.distance <= t)
        .collect();
    hits.sort_unstable();
    hits
}

/// The thresholds every search is checked at.
pub const THRESHOLDS: [u32; 9] = [0, 1, 10, 31, 32, 63, 100, 256, 1000];
