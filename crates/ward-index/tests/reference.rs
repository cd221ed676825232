//! The shared PDQ reference lists: 100 needles against 1350 haystack hashes, checked against
//! the naive search at several radii and, at 31, against the committed brute-force answer.

mod common;

use std::path::PathBuf;

use common::brute;
use ward_index::{FlatIndex, Hash, Hit, Index, IndexOptions, MihIndex, MihOptions};

fn reference(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/pdq/hash-lists")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// 64 hex digits, most significant first, as four words (word 0 most significant).
fn parse_hex(line: &str) -> Hash {
    assert_eq!(line.len(), 64, "{line}");
    let mut h = [0; 4];
    for (i, w) in h.iter_mut().enumerate() {
        *w = u64::from_str_radix(&line[16 * i..16 * (i + 1)], 16).unwrap();
    }
    h
}

fn hashes(name: &str) -> Vec<Hash> {
    reference(name)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(parse_hex)
        .collect()
}

/// `needle_idx,haystack_idx,distance` rows, after a `#` comment and a header.
fn expected_at_31(needles: usize) -> Vec<Vec<Hit>> {
    let mut out = vec![Vec::new(); needles];
    for line in reference("needles-vs-haystack-within-31.csv").lines() {
        if line.starts_with('#') || line.starts_with("needle_idx") || line.trim().is_empty() {
            continue;
        }
        let f: Vec<u32> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        out[f[0] as usize].push(Hit {
            id: f[1],
            distance: f[2],
        });
    }
    for hits in &mut out {
        hits.sort_unstable();
    }
    out
}

#[test]
fn reference_lists_match_brute_force_and_the_committed_answer() {
    let haystack = hashes("haystack.txt");
    let needles = hashes("needles.txt");
    assert_eq!((haystack.len(), needles.len()), (1350, 100));
    let expected = expected_at_31(needles.len());
    assert!(expected.iter().map(Vec::len).sum::<usize>() > 200);

    let flat = FlatIndex::from_hashes(haystack.clone()).unwrap();
    let mih = MihIndex::build(haystack.clone(), MihOptions::default()).unwrap();
    let mih16 = MihIndex::build(haystack.clone(), MihOptions::default().substrings(16)).unwrap();
    // Forced multi-index main part, half of it still in the delta.
    let mut index = Index::build(
        haystack[..700].to_vec(),
        IndexOptions::default()
            .flat_below(0)
            .delta_limit(usize::MAX),
    )
    .unwrap();
    index.extend(&haystack[700..]).unwrap();
    assert!(index.is_multi_index());
    let compacted = index.compacted().unwrap();

    for t in [0, 10, 31, 63] {
        let batch = index.search_batch(&needles, t);
        for (i, q) in needles.iter().enumerate() {
            let want = brute(&haystack, &[], q, t);
            if t == 31 {
                assert_eq!(want, expected[i], "needle {i}");
            }
            assert_eq!(flat.search(q, t), want, "flat, needle {i}, t = {t}");
            assert_eq!(mih.search(q, t), want, "mih, needle {i}, t = {t}");
            assert_eq!(mih16.search(q, t), want, "mih16, needle {i}, t = {t}");
            assert_eq!(index.search(q, t), want, "index, needle {i}, t = {t}");
            assert_eq!(
                compacted.search(q, t),
                want,
                "compacted, needle {i}, t = {t}"
            );
            assert_eq!(batch[i], want, "batch, needle {i}, t = {t}");
        }
    }
}
