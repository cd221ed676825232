//! The portable kernel: `u64::count_ones` per word. It is the reference the SIMD kernels are
//! tested against, and the kernel on CPUs without them.

use crate::{distance, Hash, Hit};

/// Appends a hit `id_base + i` for every `hashes[i]` within `max_distance` of `query`.
pub(crate) fn scan(
    hashes: &[Hash],
    query: &Hash,
    max_distance: u32,
    id_base: u32,
    out: &mut Vec<Hit>,
) {
    for (i, h) in hashes.iter().enumerate() {
        let d = distance(h, query);
        if d <= max_distance {
            out.push(Hit {
                id: id_base + i as u32,
                distance: d,
            });
        }
    }
}

/// Writes the distance of every hash from `query` into `out` (same length as `hashes`).
pub(crate) fn distances(hashes: &[Hash], query: &Hash, out: &mut [u32]) {
    for (o, h) in out.iter_mut().zip(hashes) {
        *o = distance(h, query);
    }
}
