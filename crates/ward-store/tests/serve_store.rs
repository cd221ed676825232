//! What `ward serve` needs from the store: tokens by digest, HMA's bank settings, deletes that
//! keep the record, and an upgrade of a database written before these existed.

use ward_store::{NewBank, NewEntry, Policy, Role, Store, StoreError};

fn bank(name: &str) -> NewBank {
    NewBank {
        name: name.into(),
        description: String::new(),
        labels: vec![],
        policy: Policy::Review,
        source: String::new(),
    }
}

fn pdq(v: u8) -> NewEntry {
    NewEntry {
        signal_type: "pdq",
        value: vec![v; 32],
        labels: vec![],
        source_id: None,
    }
}

#[test]
fn tokens_are_kept_by_digest_unique_and_revocable() {
    let mut s = Store::in_memory().unwrap();
    let t = s
        .create_token("upload", Role::Submitter, &[7; 32], "cli")
        .unwrap();
    assert_eq!(
        (t.role, t.sha256, t.revoked_at),
        (Role::Submitter, [7; 32], None)
    );
    let err = s
        .create_token("upload", Role::Admin, &[8; 32], "cli")
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(m) if m.contains("already exists")));
    assert!(s.create_token("", Role::Admin, &[9; 32], "cli").is_err());
    assert_eq!(s.active_tokens().unwrap().len(), 1);
    s.revoke_token("upload").unwrap();
    assert!(s.active_tokens().unwrap().is_empty());
    assert!(
        s.revoke_token("upload").is_err(),
        "revoking twice is an error"
    );
    assert_eq!(s.tokens().unwrap().len(), 1, "revoked tokens stay listed");
    assert!(Role::parse("root").is_err());
    assert_eq!(Role::parse("curator").unwrap(), Role::Curator);
}

#[test]
fn delete_disables_hides_and_frees_the_name_without_reusing_ids() {
    let mut s = Store::in_memory().unwrap();
    s.create_bank(&bank("A"), "t").unwrap();
    s.import("A", &[pdq(1), pdq(2)], "t").unwrap();
    let before = s.seq().unwrap();
    assert!(s.delete_bank("A").unwrap());
    assert!(
        !s.delete_bank("A").unwrap(),
        "a second delete finds nothing"
    );
    assert!(matches!(s.bank("A"), Err(StoreError::NoSuchBank(_))));
    assert!(s.banks().unwrap().is_empty());
    // Followers learn of the disables through the change sequence.
    let mut changed = Vec::new();
    s.signals_since("pdq", before, |e| changed.push((e.entry, e.active)))
        .unwrap();
    assert_eq!(changed, vec![(1, false), (2, false)]);
    // The name is free; new entries get new ids.
    s.create_bank(&bank("A"), "t").unwrap();
    s.import("A", &[pdq(1)], "t").unwrap();
    assert_eq!(s.entry_id_of("A", "pdq", &[1; 32]).unwrap(), Some(3));
}

#[test]
fn ratio_rename_and_reenable() {
    let mut s = Store::in_memory().unwrap();
    s.create_bank(&bank("A"), "t").unwrap();
    s.create_bank(&bank("B"), "t").unwrap();
    s.set_matching_ratio("A", 0.5).unwrap();
    assert!(s.set_matching_ratio("A", 1.5).is_err());
    assert!(matches!(
        s.rename_bank("A", "B"),
        Err(StoreError::BankExists(_))
    ));
    assert!(s.rename_bank("A", "bad name").is_err());
    s.rename_bank("A", "C").unwrap();
    let c = s.bank_settings_of("C").unwrap();
    assert_eq!(c.matching_enabled_ratio, 0.5);
    s.import("C", &[pdq(4)], "t").unwrap();
    let id = s.entry_id_of("C", "pdq", &[4; 32]).unwrap().unwrap();
    s.disable_entry("C", id).unwrap();
    assert!(!s.entry(id).unwrap().active);
    s.enable_entry("C", id).unwrap();
    assert!(s.entry(id).unwrap().active);
    assert!(matches!(
        s.enable_entry("B", id),
        Err(StoreError::NoSuchEntry(_))
    ));
}

#[test]
fn a_database_from_before_the_server_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // Schema version 1, as ward wrote it before `ward serve` existed.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_banks.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO banks (name, created_at, created_by, seq) VALUES ('old', 0, 'cli', 1)",
            [],
        )
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(
        s.bank_settings_of("old").unwrap().matching_enabled_ratio,
        1.0
    );
    s.create_token("t", Role::Admin, &[1; 32], "cli").unwrap();
}
