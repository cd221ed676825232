//! The engine against brute force on the reference's haystack and needles, and incremental
//! index updates following the store.

use std::path::{Path, PathBuf};
use ward_engine::exchange::{self, Format, SignalType};
use ward_engine::ward_store::{NewBank, Policy, Store};
use ward_engine::{MatchOptions, Via, Ward};
use ward_pdq::Hash256;

fn lists() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdq/hash-lists")
}

fn read_hashes(name: &str) -> Vec<Hash256> {
    std::fs::read_to_string(lists().join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn bank(ward: &mut Ward, name: &str) {
    let b = NewBank {
        name: name.into(),
        description: String::new(),
        labels: vec![],
        policy: Policy::Review,
        source: "test".into(),
    };
    ward.store_mut().create_bank(&b, "test").unwrap();
}

fn haystack_ward() -> (Ward, Vec<Hash256>) {
    let mut ward = Ward::new(Store::in_memory().unwrap());
    bank(&mut ward, "haystack");
    let text = std::fs::read_to_string(lists().join("haystack.txt")).unwrap();
    let parsed = exchange::parse("haystack.txt", &text, Format::Lines, SignalType::Pdq).unwrap();
    ward.store_mut()
        .import("haystack", &parsed.entries, "test")
        .unwrap();
    (ward, read_hashes("haystack.txt"))
}

/// Matches of each needle as (needle, haystack line, distance), haystack line found by value.
fn engine_pairs(
    ward: &mut Ward,
    hay: &[Hash256],
    needles: &[Hash256],
    t: u32,
) -> Vec<(usize, usize, u32)> {
    let opts = MatchOptions {
        threshold: t,
        ..MatchOptions::default()
    };
    let mut out = Vec::new();
    for (i, n) in needles.iter().enumerate() {
        for m in ward.match_pdq(&[(Via::Original, *n)], &opts).unwrap() {
            let h = Hash256::from_bytes(m.entry.value.as_slice().try_into().unwrap());
            // The haystack may hold one hash on several lines: every such line is a hit.
            for (j, x) in hay.iter().enumerate().filter(|(_, x)| **x == h) {
                assert_eq!(x.distance(n), m.distance);
                out.push((i, j, m.distance));
            }
        }
    }
    out.sort();
    out
}

fn brute(hay: &[Hash256], needles: &[Hash256], t: u32) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    for (i, n) in needles.iter().enumerate() {
        for (j, h) in hay.iter().enumerate() {
            let d = n.distance(h);
            if d <= t {
                out.push((i, j, d));
            }
        }
    }
    out
}

#[test]
fn needles_against_haystack_equal_brute_force() {
    let (mut ward, hay) = haystack_ward();
    let needles = read_hashes("needles.txt");
    for t in [0, 10, 31, 63] {
        assert_eq!(
            engine_pairs(&mut ward, &hay, &needles, t),
            brute(&hay, &needles, t),
            "threshold {t}"
        );
    }
}

#[test]
fn threshold_31_equals_the_reference_answer() {
    let (mut ward, hay) = haystack_ward();
    let needles = read_hashes("needles.txt");
    let text = std::fs::read_to_string(lists().join("needles-vs-haystack-within-31.csv")).unwrap();
    let mut want: Vec<(usize, usize, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("needle"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(want.len(), 250);
    assert_eq!(engine_pairs(&mut ward, &hay, &needles, 31), want);
}

#[test]
fn index_follows_adds_and_disables_without_rebuild() {
    let (mut ward, hay) = haystack_ward();
    let opts = MatchOptions::default();
    let q = hay[5];
    let before = ward.match_pdq(&[(Via::Original, q)], &opts).unwrap();
    let exact = before
        .iter()
        .find(|m| m.distance == 0)
        .unwrap()
        .entry
        .clone();
    ward.store_mut()
        .disable_entry("haystack", exact.id)
        .unwrap();
    let after = ward.match_pdq(&[(Via::Original, q)], &opts).unwrap();
    assert!(after.iter().all(|m| m.entry.id != exact.id));
    assert_eq!(after.len(), before.len() - 1);
    // Re-enabled, it matches again; disabled before the index was first built, too.
    ward.store_mut().enable_entry("haystack", exact.id).unwrap();
    let again = ward.match_pdq(&[(Via::Original, q)], &opts).unwrap();
    assert_eq!(again.len(), before.len());
    ward.store_mut()
        .disable_entry("haystack", exact.id)
        .unwrap();
    let mut fresh = Ward::new(std::mem::replace(
        ward.store_mut(),
        Store::in_memory().unwrap(),
    ));
    assert_eq!(
        fresh.match_pdq(&[(Via::Original, q)], &opts).unwrap().len(),
        before.len() - 1
    );
    fresh
        .store_mut()
        .enable_entry("haystack", exact.id)
        .unwrap();
    assert_eq!(
        fresh.match_pdq(&[(Via::Original, q)], &opts).unwrap().len(),
        before.len()
    );
    let mut ward = fresh;

    // A new bank's entry is found on the next query.
    bank(&mut ward, "later");
    let mut flipped = *q.as_bytes();
    flipped[0] ^= 0b111;
    let text = format!("{}\n", Hash256::from_bytes(flipped));
    let parsed = exchange::parse("x", &text, Format::Lines, SignalType::Pdq).unwrap();
    ward.store_mut()
        .import("later", &parsed.entries, "test")
        .unwrap();
    let again = ward.match_pdq(&[(Via::Original, q)], &opts).unwrap();
    let new = again.iter().find(|m| m.entry.bank == "later").unwrap();
    assert_eq!(new.distance, 3);
}
