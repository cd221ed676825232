//! Micro-benchmarks of the popcount kernels, the flat scan and the multi-index, at sizes small
//! enough for `cargo bench --no-run` in CI and a quick local run. Peer comparisons at 1 M and
//! 10 M hashes live in `bench/index/`.
// `criterion_group!` generates a public function without a doc comment.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ward_index::{FlatIndex, Hash, Index, IndexOptions, Kernel, MihIndex, MihOptions};

/// splitmix64: deterministic data without a dependency.
fn rng(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hashes(n: usize, seed: u64) -> Vec<Hash> {
    let mut s = seed;
    (0..n)
        .map(|_| [rng(&mut s), rng(&mut s), rng(&mut s), rng(&mut s)])
        .collect()
}

fn kernels(c: &mut Criterion) {
    let bank = hashes(4096, 1);
    let query = hashes(1, 2)[0];
    let mut out = vec![0u32; bank.len()];
    let mut group = c.benchmark_group("kernel_distances");
    group.throughput(Throughput::Elements(bank.len() as u64));
    for kernel in Kernel::available() {
        group.bench_function(kernel.name(), |b| {
            b.iter(|| kernel.distances(black_box(&bank), black_box(&query), &mut out))
        });
    }
    group.finish();
}

fn flat(c: &mut Criterion) {
    let bank = hashes(100_000, 3);
    let queries = hashes(64, 4);
    let mut group = c.benchmark_group("flat_100k");
    for kernel in Kernel::available() {
        let index = FlatIndex::from_hashes(bank.clone())
            .expect("fits")
            .with_kernel(kernel);
        group.bench_function(BenchmarkId::new("search", kernel.name()), |b| {
            b.iter(|| index.search(black_box(&queries[0]), 31))
        });
    }
    let index = FlatIndex::from_hashes(bank).expect("fits");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("search_batch_64", |b| {
        b.iter(|| index.search_batch(black_box(&queries), 31))
    });
    group.finish();
}

fn mih(c: &mut Criterion) {
    let bank = hashes(200_000, 5);
    let queries = hashes(64, 6);
    let index = MihIndex::build(bank.clone(), MihOptions::default()).expect("builds");
    let mut group = c.benchmark_group("mih_200k");
    for t in [0, 10, 31, 63] {
        group.bench_with_input(BenchmarkId::new("search", t), &t, |b, &t| {
            b.iter(|| index.search(black_box(&queries[0]), t))
        });
    }
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter(|| MihIndex::build(bank.clone(), MihOptions::default()))
    });
    let full = Index::build(bank, IndexOptions::default()).expect("builds");
    group.bench_function("index_search_31", |b| {
        b.iter(|| full.search(black_box(&queries[1]), 31))
    });
    group.finish();
}

criterion_group!(benches, kernels, flat, mih);
criterion_main!(benches);
