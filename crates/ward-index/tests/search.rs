//! Every index and every kernel against the naive search, on random and clustered data.

mod common;

use common::{brute, clustered, queries, random, Rng, THRESHOLDS};
use proptest::prelude::*;
use ward_index::{
    distance, FlatIndex, Hash, Hit, Index, IndexOptions, Kernel, MihIndex, MihOptions,
};

/// Runs `search` for every query and threshold and compares it with the naive answer.
fn check(bank: &[Hash], disabled: &[bool], qs: &[Hash], search: impl Fn(&Hash, u32) -> Vec<Hit>) {
    for &t in &THRESHOLDS {
        for q in qs {
            assert_eq!(
                search(q, t),
                brute(bank, disabled, q, t),
                "t = {t}, q = {q:x?}"
            );
        }
    }
}

/// Same, for a batched search.
fn check_batch(
    bank: &[Hash],
    disabled: &[bool],
    qs: &[Hash],
    search: impl Fn(&[Hash], u32) -> Vec<Vec<Hit>>,
) {
    for &t in &THRESHOLDS {
        let got = search(qs, t);
        assert_eq!(got.len(), qs.len());
        for (q, hits) in qs.iter().zip(got) {
            assert_eq!(hits, brute(bank, disabled, q, t), "t = {t}, q = {q:x?}");
        }
    }
}

fn banks(seed: u64, n: usize) -> Vec<(&'static str, Vec<Hash>, Vec<Hash>)> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for (name, bank) in [
        ("random", random(&mut rng, n)),
        ("clustered", clustered(&mut rng, n)),
    ] {
        let qs = queries(&mut rng, &bank, 24);
        out.push((name, bank, qs));
    }
    out
}

#[test]
fn every_kernel_equals_scalar_popcount() {
    let mut rng = Rng(1);
    let scalar = Kernel::scalar();
    assert_eq!(Kernel::available().last(), Some(&scalar));
    assert!(Kernel::available().contains(&Kernel::detect()));
    // Lengths around the 4- and 8-hash blocks exercise the scalar tails.
    for len in (0..40).chain([255, 256, 257, 1000]) {
        let bank = clustered(&mut rng, len);
        for q in queries(&mut rng, &bank, 4) {
            let mut want = vec![0; len];
            scalar.distances(&bank, &q, &mut want);
            for (w, h) in want.iter().zip(&bank) {
                assert_eq!(*w, distance(h, &q));
            }
            for kernel in Kernel::available() {
                let mut got = vec![u32::MAX; len];
                kernel.distances(&bank, &q, &mut got);
                assert_eq!(got, want, "{}", kernel.name());
            }
        }
    }
    // Extreme words: all ones against all zeros is the maximum distance.
    for kernel in Kernel::available() {
        let mut got = [0; 9];
        kernel.distances(&[[!0; 4]; 9], &[0; 4], &mut got);
        assert_eq!(got, [256; 9], "{}", kernel.name());
    }
}

#[test]
fn flat_equals_brute_force_with_every_kernel() {
    for (name, bank, qs) in banks(2, 1003) {
        for kernel in Kernel::available() {
            let index = FlatIndex::from_hashes(bank.clone())
                .unwrap()
                .with_kernel(kernel);
            eprintln!("{name} {}", kernel.name());
            check(&bank, &[], &qs, |q, t| index.search(q, t));
            check_batch(&bank, &[], &qs, |qs, t| index.search_batch(qs, t));
        }
    }
}

#[test]
fn mih_equals_brute_force() {
    for (name, bank, qs) in banks(3, 3000) {
        for options in [
            MihOptions::default(),
            MihOptions::default().substrings(16),
            MihOptions::default().substrings(37),
            MihOptions::default().substrings(64),
        ] {
            let index = MihIndex::build(bank.clone(), options).unwrap();
            eprintln!("{name} m = {}", index.substrings());
            check(&bank, &[], &qs, |q, t| index.search(q, t));
            check_batch(&bank, &[], &qs, |qs, t| index.search_batch(qs, t));
        }
    }
}

#[test]
fn mih_uses_tables_at_small_radii_and_scans_at_large() {
    let mut rng = Rng(4);
    let index = MihIndex::build(random(&mut rng, 100_000), MihOptions::default()).unwrap();
    assert!(index.uses_tables(0));
    assert!(index.uses_tables(31));
    assert!(!index.uses_tables(128));
    assert!(!index.uses_tables(256));
}

#[test]
fn mih_rejects_bad_substring_counts() {
    for m in [0, 1, 10, 65, 256] {
        let err = MihIndex::build(vec![[0; 4]], MihOptions::default().substrings(m)).unwrap_err();
        assert_eq!(err, ward_index::Error::InvalidSubstrings { substrings: m });
        assert!(err.to_string().contains("11..=64"), "{err}");
    }
}

#[test]
fn empty_indexes_find_nothing() {
    let q = [1, 2, 3, 4];
    assert!(FlatIndex::new().search(&q, 256).is_empty());
    assert!(MihIndex::build(Vec::new(), MihOptions::default())
        .unwrap()
        .search(&q, 256)
        .is_empty());
    assert!(Index::default().search(&q, 256).is_empty());
    assert_eq!(
        Index::default().search_batch(&[q, q], 31),
        vec![vec![], vec![]]
    );
}

/// One step of an interleaved update sequence.
#[derive(Clone, Debug)]
enum Op {
    Add(Hash),
    Disable(usize),
    Enable(usize),
    Compact,
}

/// Applies `ops` to an `Index` and to a naive model, checking searches after each group.
fn run_ops(options: IndexOptions, initial: Vec<Hash>, ops: &[Op], qs: &[Hash], every: usize) {
    let mut index = Index::build(initial.clone(), options).unwrap();
    let mut bank = initial;
    let mut disabled = vec![false; bank.len()];
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Add(h) => {
                assert_eq!(index.add(h).unwrap() as usize, bank.len());
                bank.push(h);
                disabled.push(false);
            }
            Op::Disable(k) if !bank.is_empty() => {
                let id = k % bank.len();
                index.disable(id as u32).unwrap();
                disabled[id] = true;
            }
            Op::Enable(k) if !bank.is_empty() => {
                let id = k % bank.len();
                index.enable(id as u32).unwrap();
                disabled[id] = false;
            }
            Op::Compact => index.compact().unwrap(),
            _ => {}
        }
        assert_eq!(index.len(), bank.len());
        assert_eq!(
            index.disabled_len(),
            disabled.iter().filter(|d| **d).count()
        );
        if i % every == every - 1 || i == ops.len() - 1 {
            check(&bank, &disabled, qs, |q, t| index.search(q, t));
            check_batch(&bank, &disabled, qs, |qs, t| index.search_batch(qs, t));
            for (id, h) in bank.iter().enumerate() {
                assert_eq!(index.get(id as u32), Some(h));
                assert_eq!(index.is_disabled(id as u32), disabled[id]);
            }
        }
    }
}

fn random_ops(rng: &mut Rng, pool: &[Hash], n: usize) -> Vec<Op> {
    (0..n)
        .map(|_| match rng.below(20) {
            0..=11 => {
                let base = pool[rng.below(pool.len() as u64) as usize];
                Op::Add(rng.flip(&base, 3))
            }
            12..=16 => Op::Disable(rng.next() as usize),
            17..=18 => Op::Enable(rng.next() as usize),
            _ => Op::Compact,
        })
        .collect()
}

#[test]
fn index_with_interleaved_adds_and_disables_equals_brute_force() {
    // Small limits so that the run crosses from a flat main part to a multi-index and merges
    // the delta several times, both explicitly and from `add`.
    let options = IndexOptions::default().flat_below(600).delta_limit(150);
    for (name, bank, qs) in banks(5, 1000) {
        eprintln!("{name}");
        let mut rng = Rng(6);
        let (initial, pool) = bank.split_at(400);
        let ops = random_ops(&mut rng, pool, 900);
        run_ops(options, initial.to_vec(), &ops, &qs[..8], 150);
    }
}

#[test]
fn index_becomes_a_multi_index_when_it_grows() {
    let mut rng = Rng(7);
    let options = IndexOptions::default().flat_below(1000).delta_limit(100);
    let mut index = Index::new(options);
    assert!(!index.is_multi_index());
    let hashes = random(&mut rng, 1200);
    assert_eq!(index.extend(&hashes[..50]).unwrap(), 0);
    assert_eq!(index.delta_len(), 50);
    assert_eq!(index.extend(&hashes[50..]).unwrap(), 50);
    assert_eq!(index.delta_len(), 0);
    assert!(index.is_multi_index());
    let snapshot = index.clone();
    index.add(hashes[0]).unwrap();
    index.disable(0).unwrap();
    // The snapshot is unaffected by updates to the original.
    assert_eq!(
        snapshot.search(&hashes[0], 0),
        vec![Hit { id: 0, distance: 0 }]
    );
    assert_eq!(
        index.search(&hashes[0], 0),
        vec![Hit {
            id: 1200,
            distance: 0
        }]
    );
    let merged = index.compacted().unwrap();
    assert_eq!(merged.delta_len(), 0);
    assert_eq!(
        merged.search(&hashes[0], 0),
        vec![Hit {
            id: 1200,
            distance: 0
        }]
    );
}

#[test]
fn unknown_ids_are_errors() {
    let mut index = Index::build(vec![[0; 4]; 3], IndexOptions::default()).unwrap();
    assert_eq!(
        index.disable(3),
        Err(ward_index::Error::UnknownId { id: 3, len: 3 })
    );
    assert!(index.enable(u32::MAX).is_err());
    assert_eq!(index.get(3), None);
    assert!(!index.is_disabled(3));
    assert!(index.disable(2).is_ok());
    assert!(index.disable(2).is_ok());
    assert_eq!(index.disabled_len(), 1);
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
    assert_send_sync::<FlatIndex>();
    assert_send_sync::<MihIndex>();
}

fn arb_hash() -> impl Strategy<Value = Hash> {
    any::<[u64; 4]>()
}

/// A bank of random hashes and near copies of them, so that small radii have answers.
fn arb_bank(max: usize) -> impl Strategy<Value = Vec<Hash>> {
    prop::collection::vec((arb_hash(), 0u32..30, any::<u64>()), 0..max).prop_map(|seeds| {
        let mut rng = Rng(0);
        let mut bank: Vec<Hash> = Vec::new();
        for (h, k, s) in seeds {
            rng.0 = s;
            if s % 2 == 0 && !bank.is_empty() {
                let b = bank[(s / 2) as usize % bank.len()];
                bank.push(rng.flip(&b, k));
            } else {
                bank.push(h);
            }
        }
        bank
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_kernels_equal_scalar(bank in prop::collection::vec(arb_hash(), 0..70), q in arb_hash()) {
        let mut want = vec![0; bank.len()];
        Kernel::scalar().distances(&bank, &q, &mut want);
        for kernel in Kernel::available() {
            let mut got = vec![0; bank.len()];
            kernel.distances(&bank, &q, &mut got);
            prop_assert_eq!(&got, &want);
        }
    }

    #[test]
    fn prop_flat_and_mih_equal_brute_force(bank in arb_bank(300), qseed in any::<u64>(), t in 0u32..80) {
        let mut rng = Rng(qseed);
        let qs = queries(&mut rng, &bank, 6);
        let flat = FlatIndex::from_hashes(bank.clone()).unwrap();
        let mih = MihIndex::build(bank.clone(), MihOptions::default().substrings(32)).unwrap();
        for q in &qs {
            let want = brute(&bank, &[], q, t);
            prop_assert_eq!(flat.search(q, t), want.clone());
            prop_assert_eq!(mih.search(q, t), want);
        }
        prop_assert_eq!(mih.search_batch(&qs, t), flat.search_batch(&qs, t));
    }

    #[test]
    fn prop_index_with_updates_equals_brute_force(
        bank in arb_bank(200),
        ops in prop::collection::vec((0u8..20, any::<u64>()), 0..80),
        qseed in any::<u64>(),
    ) {
        let mut rng = Rng(qseed);
        let pool = if bank.is_empty() { vec![[0; 4]] } else { bank.clone() };
        let ops: Vec<Op> = ops
            .into_iter()
            .map(|(kind, x)| match kind {
                0..=11 => Op::Add(rng.flip(&pool[x as usize % pool.len()], (x % 20) as u32)),
                12..=16 => Op::Disable(x as usize),
                17..=18 => Op::Enable(x as usize),
                _ => Op::Compact,
            })
            .collect();
        let qs = queries(&mut rng, &pool, 4);
        let options = IndexOptions::default().flat_below(100).delta_limit(30);
        run_ops(options, bank, &ops, &qs, 20);
    }
}
