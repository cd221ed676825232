//! `PdqSnapshot`: what a server searches while writes go on; `refreshed` applies only changes.

use ward_engine::{PdqSnapshot, Via};
use ward_pdq::Hash256;
use ward_store::{NewBank, NewEntry, Policy, Store};

fn h(v: u8) -> Hash256 {
    Hash256::from_bytes([v; 32])
}

fn add(s: &mut Store, bank: &str, v: u8) {
    let e = NewEntry {
        signal_type: "pdq",
        value: h(v).as_bytes().to_vec(),
        labels: vec![],
        source_id: None,
    };
    s.import(bank, &[e], "t").unwrap();
}

fn hits(snap: &PdqSnapshot, v: u8) -> Vec<(i64, i64, u32)> {
    snap.search(&[(Via::Original, h(v))], 31)
        .into_iter()
        .map(|x| (x.entry, x.bank, x.distance))
        .collect()
}

#[test]
fn refreshed_follows_adds_disables_and_enables_and_leaves_the_old_snapshot_alone() {
    let mut s = Store::in_memory().unwrap();
    let b = NewBank {
        name: "A".into(),
        description: String::new(),
        labels: vec![],
        policy: Policy::Review,
        source: String::new(),
    };
    let bank = s.create_bank(&b, "t").unwrap().id;
    add(&mut s, "A", 0x11);
    let s0 = PdqSnapshot::load(&s).unwrap();
    assert_eq!(hits(&s0, 0x11), vec![(1, bank, 0)]);
    assert!(s0.refreshed(&s).unwrap().is_none(), "nothing changed");

    add(&mut s, "A", 0x22);
    s.disable_entry("A", 1).unwrap();
    let s1 = s0.refreshed(&s).unwrap().unwrap();
    assert_eq!(hits(&s1, 0x11), vec![]);
    assert_eq!(hits(&s1, 0x22), vec![(2, bank, 0)]);
    assert_eq!(s1.active_len(), 1);
    // The old snapshot still answers as it did: readers holding it are not disturbed.
    assert_eq!(hits(&s0, 0x11), vec![(1, bank, 0)]);
    assert_eq!(hits(&s0, 0x22), vec![]);

    s.enable_entry("A", 1).unwrap();
    let s2 = s1.refreshed(&s).unwrap().unwrap();
    assert_eq!(hits(&s2, 0x11), vec![(1, bank, 0)]);
    // A snapshot loaded now (disabled entries included) agrees with the refreshed one.
    s.disable_entry("A", 2).unwrap();
    let fresh = PdqSnapshot::load(&s).unwrap();
    let s3 = s2.refreshed(&s).unwrap().unwrap();
    for v in [0x11, 0x22] {
        assert_eq!(hits(&fresh, v), hits(&s3, v));
    }
    s.enable_entry("A", 2).unwrap();
    let fresh = PdqSnapshot::load(&s).unwrap();
    assert_eq!(
        hits(&fresh, 0x22),
        vec![(2, bank, 0)],
        "a disabled entry keeps its place"
    );
}
