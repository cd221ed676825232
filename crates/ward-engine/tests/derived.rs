//! Derived hashes in the index: matched as their entry (with their name and the tighter
//! threshold), followed incrementally through adds, disables and enables, never exported, and
//! per-bank thresholds.

use ward_engine::{PdqSnapshot, SearchOptions, Via};
use ward_media::derived::DerivedKind;
use ward_media::regions::{Rect, Region, RegionKind};
use ward_pdq::Hash256;
use ward_store::{MatchThresholds, NewBank, NewDerived, NewEntry, Policy, Store};

/// A hash `bits` bits away from `base` (the lowest bits flipped).
fn near(base: &Hash256, bits: usize) -> Hash256 {
    let mut b = *base.as_bytes();
    for i in 0..bits {
        b[i / 8] ^= 1 << (i % 8);
    }
    Hash256::from_bytes(b)
}

fn h(v: u8) -> Hash256 {
    Hash256::from_bytes([v; 32])
}

fn store_with_entry() -> Store {
    let mut s = Store::in_memory().unwrap();
    let b = NewBank {
        name: "A".into(),
        description: String::new(),
        labels: vec![],
        policy: Policy::Review,
        source: String::new(),
    };
    s.create_bank(&b, "t").unwrap();
    let e = NewEntry {
        signal_type: "pdq",
        value: h(0x11).as_bytes().to_vec(),
        labels: vec![],
        source_id: None,
    };
    s.import("A", &[e], "t").unwrap();
    s
}

const OPTS: SearchOptions = SearchOptions {
    threshold: 31,
    region_threshold: 24,
    derived_threshold: Some(24),
};

fn crop_hash() -> Hash256 {
    h(0x5a)
}

#[test]
fn derived_hashes_match_as_their_entry_and_follow_it() {
    let mut s = store_with_entry();
    let s0 = PdqSnapshot::load(&s).unwrap();
    let q = near(&crop_hash(), 10);
    assert!(s0.search_with(&[(Via::Original, q)], &OPTS).is_empty());

    let d = NewDerived {
        name: "crop-5-centre".into(),
        value: crop_hash().as_bytes().to_vec(),
        quality: 90,
    };
    let unknown = NewDerived {
        name: "a-newer-kind".into(),
        value: h(0x77).as_bytes().to_vec(),
        quality: 90,
    };
    let added = s
        .add_derived(
            "A",
            &[("pdq", h(0x11).as_bytes().to_vec(), vec![d.clone(), unknown])],
            "t",
        )
        .unwrap();
    assert_eq!(added, 2);
    // Adding again changes nothing.
    assert_eq!(
        s.add_derived(
            "A",
            &[("pdq", h(0x11).as_bytes().to_vec(), vec![d.clone()])],
            "t"
        )
        .unwrap(),
        0
    );
    assert_eq!(s.derived_of(1).unwrap()[0], d);
    let s1 = s0.refreshed(&s).unwrap().unwrap();
    assert_eq!(s1.active_derived_len(), 1, "the unknown kind is skipped");
    let hits = s1.search_with(&[(Via::Original, q)], &OPTS);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].entry, 1);
    assert_eq!(hits[0].distance, 10);
    let kind = DerivedKind::from_name("crop-5-centre").unwrap();
    assert_eq!(hits[0].via, Via::Derived { kind, region: None });
    assert_eq!(hits[0].via.name(), "derived:crop-5-centre");
    // A region's hash carries its region into the derived match.
    let region = Region {
        kind: RegionKind::CaptionBand,
        rect: Rect {
            x: 0,
            y: 10,
            width: 100,
            height: 80,
        },
    };
    let via = Via::Region {
        kind: region.kind,
        rect: region.rect,
        dihedral: 0,
    };
    let hits = s1.search_with(&[(via, q)], &OPTS);
    assert_eq!(hits[0].via.name(), "caption-band+derived:crop-5-centre");
    assert_eq!(hits[0].via.region(), Some(region.rect));
    // Beyond the derived threshold: no match (the plain one would have allowed 31).
    let far = near(&crop_hash(), 28);
    assert!(s1.search_with(&[(Via::Original, far)], &OPTS).is_empty());
    // Off: not searched.
    let off = SearchOptions {
        derived_threshold: None,
        ..OPTS
    };
    assert!(s1.search_with(&[(Via::Original, q)], &off).is_empty());
    // Plain `search` (the reference behaviour) never sees derived hashes.
    assert!(s1.search(&[(Via::Original, q)], 31).is_empty());

    // Disabling the entry disables its derived hashes; enabling brings them back.
    s.disable_entry("A", 1).unwrap();
    let s2 = s1.refreshed(&s).unwrap().unwrap();
    assert!(s2.search_with(&[(Via::Original, q)], &OPTS).is_empty());
    assert_eq!(s2.active_derived_len(), 0);
    s.enable_entry("A", 1).unwrap();
    let s3 = s2.refreshed(&s).unwrap().unwrap();
    assert_eq!(s3.search_with(&[(Via::Original, q)], &OPTS).len(), 1);
    // A fresh load agrees with the refreshed snapshot.
    let fresh = PdqSnapshot::load(&s).unwrap();
    assert_eq!(
        fresh.search_with(&[(Via::Original, q)], &OPTS),
        s3.search_with(&[(Via::Original, q)], &OPTS)
    );

    // Derived hashes are not entries: a bank's entries are still the one PDQ.
    let mut n = 0;
    s.for_each_entry("A", |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn bank_thresholds_override_the_defaults() {
    let mut s = store_with_entry();
    let q = near(&h(0x11), 20);
    let via = Via::Dihedral(1);
    let snap = PdqSnapshot::load(&s).unwrap();
    assert_eq!(snap.search_with(&[(via, q)], &OPTS).len(), 1);
    // The plain hash keeps its own threshold whatever the bank says.
    s.set_match_thresholds(
        "A",
        MatchThresholds {
            region: Some(16),
            derived: Some(8),
        },
        "t",
    )
    .unwrap();
    let snap = snap.refreshed(&s).unwrap().unwrap();
    assert!(snap.search_with(&[(via, q)], &OPTS).is_empty());
    assert_eq!(snap.search_with(&[(Via::Original, q)], &OPTS).len(), 1);
    // A bank may also loosen them.
    s.set_match_thresholds(
        "A",
        MatchThresholds {
            region: Some(30),
            derived: None,
        },
        "t",
    )
    .unwrap();
    let snap = snap.refreshed(&s).unwrap().unwrap();
    let q = near(&h(0x11), 28);
    assert_eq!(snap.search_with(&[(via, q)], &OPTS).len(), 1);
    assert!(s
        .set_match_thresholds(
            "A",
            MatchThresholds {
                region: Some(300),
                derived: None
            },
            "t"
        )
        .is_err());
    assert!(s
        .add_derived("A", &[("pdq", vec![0; 32], vec![])], "t")
        .is_ok());
    assert!(
        s.add_derived(
            "A",
            &[(
                "pdq",
                vec![0; 32],
                vec![NewDerived {
                    name: "crop-5-centre".into(),
                    value: vec![0; 32],
                    quality: 90
                }]
            )],
            "t"
        )
        .is_err(),
        "no such entry"
    );
}
