//! The store's contract, written as functions over a `Store` so that the PostgreSQL backend
//! (a later issue) runs the same suite.

use ward_store::{NewBank, NewDerived, NewEntry, Policy, Store, StoreError};

fn bank(name: &str) -> NewBank {
    NewBank {
        name: name.into(),
        description: "d".into(),
        labels: vec!["l1".into()],
        policy: Policy::Auto,
        source: "partner".into(),
    }
}

fn entry(v: u8) -> NewEntry {
    NewEntry {
        signal_type: "pdq",
        value: vec![v; 32],
        labels: vec![],
        source_id: Some(format!("s{v}")),
    }
}

fn banks_are_unique_and_validated(s: &mut Store) {
    let b = s.create_bank(&bank("one"), "alice").unwrap();
    assert_eq!(
        (b.name.as_str(), b.policy, b.created_by.as_str()),
        ("one", Policy::Auto, "alice")
    );
    assert!(matches!(
        s.create_bank(&bank("one"), "a"),
        Err(StoreError::BankExists(_))
    ));
    assert!(matches!(
        s.create_bank(&bank("no spaces"), "a"),
        Err(StoreError::Invalid(_))
    ));
    let mut bad_label = bank("two");
    bad_label.labels = vec!["a,b".into()];
    assert!(matches!(
        s.create_bank(&bad_label, "a"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(s.bank("missing"), Err(StoreError::NoSuchBank(_))));
    assert_eq!(s.banks().unwrap().len(), 1);
}

fn changes_follow_the_sequence(s: &mut Store) {
    s.create_bank(&bank("b"), "t").unwrap();
    let start = s.seq().unwrap();
    let o = s.import("b", &[entry(1), entry(2), entry(1)], "t").unwrap();
    assert_eq!((o.added, o.already_present), (2, 1));
    let mut all = Vec::new();
    let at = s.signals_since("pdq", 0, |x| all.push(x)).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|x| x.active));
    assert_eq!(at, start + 1);
    let first = all[0].entry;
    s.disable_entry("b", first).unwrap();
    let mut changed = Vec::new();
    let now = s.signals_since("pdq", at, |x| changed.push(x)).unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!((changed[0].entry, changed[0].active), (first, false));
    assert_eq!(now, at + 1);
    let b = s.bank("b").unwrap();
    assert_eq!((b.active_entries, b.disabled_entries), (1, 1));
    assert!(matches!(
        s.disable_entry("b", 999),
        Err(StoreError::NoSuchEntry(999))
    ));
    // Exact lookup sees active entries only.
    assert_eq!(all[0].value, vec![1; 32]); // the store hands signals out in entry order
    assert!(s.lookup_exact("pdq", &[1; 32]).unwrap().is_empty());
    assert_eq!(s.lookup_exact("pdq", &[2; 32]).unwrap().len(), 1);
    let e = s.entry(all[1].entry).unwrap();
    assert_eq!((e.bank.as_str(), e.source_id.as_deref()), ("b", Some("s2")));
}

mod sqlite {
    use super::*;

    fn file_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("w.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn banks() {
        banks_are_unique_and_validated(&mut file_store().1);
    }

    #[test]
    fn changes() {
        changes_follow_the_sequence(&mut file_store().1);
    }

    #[test]
    fn reopens_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        {
            let mut s = Store::open(&path).unwrap();
            s.create_bank(&bank("kept"), "t").unwrap();
        }
        assert_eq!(
            Store::open(&path).unwrap().bank("kept").unwrap().source,
            "partner"
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade ward"));
    }

    /// Entries and their derived hashes land together: a bad derived hash leaves the bank as
    /// it was, a good batch stores both.
    #[test]
    fn entries_and_derived_hashes_are_one_transaction() {
        let mut s = Store::in_memory().unwrap();
        s.create_bank(&bank("media"), "t").unwrap();
        let count = |s: &Store| {
            let mut n = 0;
            s.for_each_entry("media", |_| {
                n += 1;
                Ok(())
            })
            .unwrap();
            n
        };
        let derived = |len: usize| NewDerived {
            name: "crop-5-centre".into(),
            value: vec![7; len],
            quality: 90,
        };
        let entries = [entry(1), entry(2)];
        let bad = [("pdq", vec![2u8; 32], vec![derived(31)])];
        assert!(matches!(
            s.import_with_derived("media", &entries, &bad, "t"),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(count(&s), 0, "nothing of a failed import is kept");
        let orphan = [("pdq", vec![9u8; 32], vec![derived(32)])];
        assert!(s
            .import_with_derived("media", &entries, &orphan, "t")
            .is_err());
        assert_eq!(count(&s), 0);
        let good = [("pdq", vec![2u8; 32], vec![derived(32)])];
        let (o, nd) = s
            .import_with_derived("media", &entries, &good, "t")
            .unwrap();
        assert_eq!((o.added, nd), (2, 1));
        let mut ids = Vec::new();
        s.for_each_entry("media", |e| {
            ids.push((e.id, e.value.clone()));
            Ok(())
        })
        .unwrap();
        let with = ids.iter().find(|(_, v)| v == &vec![2u8; 32]).unwrap().0;
        assert_eq!(s.derived_of(with).unwrap().len(), 1);
    }

    /// A video entry's derived signal is vPDQ text, not a 32-byte hash; a binary value for a
    /// video entry, or text for a PDQ entry, is refused with nothing kept.
    #[test]
    fn a_video_entrys_derived_signal_is_vpdq_text() {
        let mut s = Store::in_memory().unwrap();
        s.create_bank(&bank("media"), "t").unwrap();
        let video = NewEntry {
            signal_type: "vpdq",
            value: b"0,100,aa,0.000\n".to_vec(),
            labels: vec![],
            source_id: Some("clip.mp4".into()),
        };
        let derived = |value: &[u8]| NewDerived {
            name: "crop-5-centre".into(),
            value: value.to_vec(),
            quality: 80,
        };
        let lines = b"0,80,bb,0.000\n".to_vec();
        let key = video.value.clone();
        let binary = [("vpdq", key.clone(), vec![derived(&[0xff, 0xfe, 0])])];
        assert!(matches!(
            s.import_with_derived("media", std::slice::from_ref(&video), &binary, "t"),
            Err(StoreError::Invalid(_))
        ));
        let text_for_pdq = [("pdq", vec![3u8; 32], vec![derived(&lines)])];
        assert!(s
            .import_with_derived("media", &[entry(3)], &text_for_pdq, "t")
            .is_err());
        let mut n = 0;
        s.for_each_entry("media", |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 0, "nothing of a refused import is kept");
        let good = [("vpdq", key.clone(), vec![derived(&lines)])];
        let (o, nd) = s
            .import_with_derived("media", &[video], &good, "t")
            .unwrap();
        assert_eq!((o.added, nd), (1, 1));
        let id = s.entry_id_of("media", "vpdq", &key).unwrap().unwrap();
        assert_eq!(s.derived_of(id).unwrap()[0].value, lines);
    }
}
