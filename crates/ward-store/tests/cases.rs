//! Cases, decisions, the outbox, evidence and the audit chain, on a real database file.

use serde_json::json;
use sha2::{Digest, Sha256};
use ward_store::{
    evidence, AuditVerdict, CaseFilter, CaseStatus, DecisionKind, MatchInput, MediaDir, MediaType,
    NewBank, NewContent, NewEntry, Outcome, Policy, Store, StoreError,
};

struct Fixture {
    store: Store,
    dir: tempfile::TempDir,
    pdq_entry: i64,
    md5_entry: i64,
}

fn fixture(policy: Policy) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ward.db")).unwrap();
    store
        .create_bank(
            &NewBank {
                name: "known".into(),
                description: String::new(),
                labels: vec!["propaganda".into()],
                policy,
                source: "partner X".into(),
            },
            "cli:alice",
        )
        .unwrap();
    let entries = [
        NewEntry {
            signal_type: "pdq",
            value: vec![0xf0; 32],
            labels: vec!["video-still".into()],
            source_id: Some("X-1".into()),
        },
        NewEntry {
            signal_type: "md5",
            value: md5_of(b"exact"),
            labels: vec![],
            source_id: None,
        },
    ];
    store.import("known", &entries, "cli:alice").unwrap();
    let pdq_entry = store
        .entry_id_of("known", "pdq", &[0xf0; 32])
        .unwrap()
        .unwrap();
    let md5_entry = store
        .entry_id_of("known", "md5", &md5_of(b"exact"))
        .unwrap()
        .unwrap();
    Fixture {
        store,
        dir,
        pdq_entry,
        md5_entry,
    }
}

fn md5_of(b: &[u8]) -> Vec<u8> {
    // Not a real MD5: the store treats digests as opaque bytes of the right length.
    Sha256::digest(b)[..16].to_vec()
}

fn content(id: &str, bytes: &[u8], pdq: [u8; 32]) -> NewContent {
    let mut md5 = [0u8; 16];
    md5.copy_from_slice(&md5_of(bytes));
    NewContent {
        content_id: id.into(),
        submitted_by: "token:upload".into(),
        media_type: MediaType::Photo,
        content_type: "image/jpeg".into(),
        sha256: Sha256::digest(bytes).into(),
        md5,
        pdq: Some((pdq, 100)),
        metadata: Some(json!({"uploader": "u1"})),
        has_media: true,
    }
}

fn near(entry: i64, distance: u32) -> MatchInput {
    MatchInput {
        entry_id: entry,
        distance,
        via: "original".into(),
        segments: json!([]),
        region: None,
    }
}

fn audit_count(s: &Store) -> u64 {
    match s.audit_verify().unwrap() {
        AuditVerdict::Intact { count, .. } => count,
        other => panic!("chain broken: {other:?}"),
    }
}

#[test]
fn no_match_is_recorded_without_a_case() {
    let mut f = fixture(Policy::Review);
    let s = f
        .store
        .record_submission(&content("c0", b"zero", [0; 32]), &[])
        .unwrap();
    assert_eq!((s.outcome, s.case), (Outcome::NoMatch, None));
    let c = f.store.content("c0").unwrap();
    assert_eq!((c.outcome, c.has_media), (Outcome::NoMatch, false));
    assert!(matches!(
        f.store.content("nope"),
        Err(StoreError::NoSuchContent(_))
    ));
}

#[test]
fn three_copies_make_one_case_and_one_decision_gives_three_outcomes() {
    let mut f = fixture(Policy::Review);
    let e = f.pdq_entry;
    let mut ids = Vec::new();
    for (i, bytes) in [b"copy-a", b"copy-b", b"copy-c"].iter().enumerate() {
        let mut pdq = [0xf0; 32];
        pdq[0] ^= i as u8; // each a slightly different re-encode
        let s = f
            .store
            .record_submission(
                &content(&format!("up-{i}"), *bytes, pdq),
                &[near(e, i as u32)],
            )
            .unwrap();
        assert_eq!(s.outcome, Outcome::Pending);
        let case = s.case.unwrap();
        assert_eq!(case.grouped, i > 0, "copy {i}");
        ids.push(case.id);
    }
    assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
    let queue = f.store.cases(&CaseFilter::default()).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].item_count, 3);
    assert_eq!(queue[0].content_ids, ["up-0", "up-1", "up-2"]);
    assert_eq!(queue[0].banks, ["known"]);
    assert_eq!(queue[0].labels, ["video-still", "propaganda"]);
    assert_eq!(queue[0].min_distance, Some(0));

    let d = f
        .store
        .decide(ids[0], DecisionKind::Confirm, "token:rev", Some("IS video"))
        .unwrap();
    assert_eq!((d.status, d.events.len()), (CaseStatus::Closed, 3));
    let case = f.store.case(ids[0]).unwrap();
    assert!(case.items.iter().all(|i| i.outcome == Outcome::Quarantined));
    assert_eq!(case.decisions.len(), 1);
    assert_eq!(case.decisions[0].reviewer, "token:rev");
    let events = f.store.events_after(0, 10).unwrap();
    let payloads: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    let contents: Vec<&str> = payloads
        .iter()
        .map(|p| p["content_id"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["up-0", "up-1", "up-2"]);
    assert_eq!(payloads[1]["event_id"], json!(events[1].id));
    assert_eq!(payloads[1]["outcome"], "quarantined");
    assert_eq!(payloads[1]["matches"][0]["entry_id"], json!(e));
    assert!(f.store.cases(&CaseFilter::default()).unwrap().is_empty());

    // A closed case is not decided again, and nothing changes.
    let before = audit_count(&f.store);
    assert!(matches!(
        f.store
            .decide(ids[0], DecisionKind::Reject, "token:rev", None),
        Err(StoreError::CaseClosed(_))
    ));
    assert!(matches!(
        f.store.decide(999, DecisionKind::Reject, "token:rev", None),
        Err(StoreError::NoSuchCase(999))
    ));
    assert_eq!(audit_count(&f.store), before);
    assert_eq!(f.store.case(ids[0]).unwrap().decisions.len(), 1);
    assert_eq!(f.store.events_after(0, 10).unwrap().len(), 3);
    assert_eq!(f.store.false_positives(e).unwrap(), 0);

    // After the case closed, the next copy opens a new case.
    let s = f
        .store
        .record_submission(&content("up-9", b"copy-z", [0xf0; 32]), &[near(e, 0)])
        .unwrap();
    assert_ne!(s.case.unwrap().id, ids[0]);
}

#[test]
fn escalate_keeps_the_case_reviewable_and_reject_counts_a_false_positive() {
    let mut f = fixture(Policy::Review);
    let e = f.pdq_entry;
    let s = f
        .store
        .record_submission(&content("a", b"a", [0xf0; 32]), &[near(e, 3)])
        .unwrap();
    let id = s.case.unwrap().id;
    let d = f
        .store
        .decide(id, DecisionKind::Escalate, "token:rev", None)
        .unwrap();
    assert_eq!((d.status, d.events.len()), (CaseStatus::Escalated, 0));
    let queue = f.store.cases(&CaseFilter::default()).unwrap();
    assert_eq!(queue[0].status, CaseStatus::Escalated);
    // Escalated cases still take new copies.
    let s2 = f
        .store
        .record_submission(&content("b", b"b", [0xf0; 32]), &[near(e, 5)])
        .unwrap();
    assert_eq!(s2.case.unwrap().id, id);
    f.store
        .decide(
            id,
            DecisionKind::Reject,
            "token:senior",
            Some("a logo, not the video"),
        )
        .unwrap();
    assert_eq!(f.store.false_positives(e).unwrap(), 1, "once per case");
    assert_eq!(f.store.content("a").unwrap().outcome, Outcome::Allowed);
    assert_eq!(f.store.content("b").unwrap().outcome, Outcome::Allowed);
    assert_eq!(f.store.case(id).unwrap().decisions.len(), 2);
}

#[test]
fn newsworthy_content_is_not_queued_again() {
    let mut f = fixture(Policy::Review);
    let e = f.pdq_entry;
    let s = f
        .store
        .record_submission(&content("news", b"news", [0xf0; 32]), &[near(e, 2)])
        .unwrap();
    let d = f
        .store
        .decide(
            s.case.unwrap().id,
            DecisionKind::Newsworthy,
            "token:rev",
            Some("BBC report"),
        )
        .unwrap();
    // Same bytes.
    let again = f
        .store
        .record_submission(&content("news-2", b"news", [0xf0; 32]), &[near(e, 2)])
        .unwrap();
    assert_eq!(
        (again.outcome, again.case, again.decision),
        (Outcome::Allowed, None, Some(d.decision_id))
    );
    // A re-encode: PDQ within 10 bits of the newsworthy item's, matching the same entry.
    let mut close = [0xf0; 32];
    close[0] = 0x0f; // 8 bits away
    let reencode = f
        .store
        .record_submission(&content("news-3", b"news re-encoded", close), &[near(e, 8)])
        .unwrap();
    assert_eq!(reencode.outcome, Outcome::Allowed);
    assert_eq!(
        f.store.content("news-3").unwrap().decision_id,
        Some(d.decision_id)
    );
    // Another copy of the propaganda itself (far from the news photo) is queued.
    let mut far = [0xf0; 32];
    far[0] = 0x0f;
    far[1] = 0x0f; // 16 bits away
    let other = f
        .store
        .record_submission(&content("copy", b"propaganda", far), &[near(e, 16)])
        .unwrap();
    assert_eq!(other.outcome, Outcome::Pending);
    assert!(other.case.is_some());
}

#[test]
fn exact_matches_in_an_auto_bank_are_quarantined_at_once() {
    let mut f = fixture(Policy::Auto);
    let exact = MatchInput {
        entry_id: f.md5_entry,
        distance: 0,
        via: "exact".into(),
        segments: json!([]),
        region: None,
    };
    let s = f
        .store
        .record_submission(&content("x", b"exact", [0; 32]), &[exact])
        .unwrap();
    assert_eq!(s.outcome, Outcome::Quarantined);
    assert_eq!(s.case.as_ref().unwrap().status, CaseStatus::Closed);
    assert_eq!(s.events.len(), 1);
    let case = f.store.case(s.case.unwrap().id).unwrap();
    assert_eq!(case.decision, Some(DecisionKind::Confirm));
    assert_eq!(case.decisions[0].reviewer, "policy:auto");
    // A near match in the same auto bank still goes to review.
    let s = f
        .store
        .record_submission(&content("y", b"y", [0xf0; 32]), &[near(f.pdq_entry, 4)])
        .unwrap();
    assert_eq!(s.outcome, Outcome::Pending);
    let p: serde_json::Value =
        serde_json::from_str(&f.store.events_after(0, 5).unwrap()[0].payload).unwrap();
    assert_eq!(
        (p["decision"].as_str(), p["reviewer"].as_str()),
        (Some("confirm"), Some("policy:auto"))
    );
}

#[test]
fn every_write_is_in_the_chain_and_an_edited_row_is_named() {
    let mut f = fixture(Policy::Review);
    f.store.set_actor("token:cur");
    f.store.disable_entry("known", f.pdq_entry).unwrap();
    f.store.enable_entry("known", f.pdq_entry).unwrap();
    f.store
        .create_token("t", ward_store::Role::Reviewer, &[1; 32], "cli:bob")
        .unwrap();
    f.store.revoke_token("t").unwrap();
    let s = f
        .store
        .record_submission(&content("a", b"a", [0xf0; 32]), &[near(f.pdq_entry, 1)])
        .unwrap();
    f.store
        .decide(s.case.unwrap().id, DecisionKind::Confirm, "token:rev", None)
        .unwrap();
    let actions: Vec<String> = f
        .store
        .audit_entries(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.subject))
        .collect();
    assert_eq!(
        actions,
        [
            "cli:alice bank.create bank:known",
            "cli:alice bank.import bank:known",
            "token:cur entry.disable bank:known",
            "token:cur entry.enable bank:known",
            "cli:bob token.create token:t",
            "token:cur token.revoke token:t",
            "token:upload case.open case:1",
            "token:rev case.decide case:1",
        ]
    );
    let AuditVerdict::Intact { count, head } = f.store.audit_verify().unwrap() else {
        panic!("intact chain reported broken");
    };
    assert_eq!(count, 8);
    assert_eq!(head, f.store.audit_tail(1).unwrap()[0].hash);

    // Failed writes leave no entry.
    assert!(f.store.disable_entry("known", 999).is_err());
    assert_eq!(audit_count(&f.store), 8);

    // Edit one row behind the store's back.
    let db = f.dir.path().join("ward.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE audit_log SET actor = 'token:someone-else' WHERE id = 7",
        [],
    )
    .unwrap();
    match f.store.audit_verify().unwrap() {
        AuditVerdict::Tampered {
            id,
            reason,
            verified,
        } => {
            assert_eq!((id, verified), (7, 6));
            assert!(reason.contains("stored hash"), "{reason}");
        }
        other => panic!("not detected: {other:?}"),
    }
    // Deleting a row in the middle is named too.
    conn.execute("DELETE FROM audit_log WHERE id = 3", [])
        .unwrap();
    match f.store.audit_verify().unwrap() {
        AuditVerdict::Tampered { id, reason, .. } => {
            assert_eq!(id, 3);
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("not detected: {other:?}"),
    }
}

#[test]
fn evidence_export_writes_a_verifiable_package_and_is_audited() {
    let mut f = fixture(Policy::Review);
    let media = MediaDir::beside(&f.dir.path().join("ward.db"));
    let bytes = b"the upload's bytes".to_vec();
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    media.put(&sha, &bytes).unwrap();
    assert!(media.put(&[0; 32], &bytes).is_err(), "digest must match");
    let s = f
        .store
        .record_submission(&content("a", &bytes, [0xf0; 32]), &[near(f.pdq_entry, 1)])
        .unwrap();
    let case_id = s.case.unwrap().id;
    f.store
        .decide(
            case_id,
            DecisionKind::Confirm,
            "token:rev",
            Some("confirmed"),
        )
        .unwrap();
    let out = f.dir.path().join("pkg");
    let summary = evidence::export(&mut f.store, &media, case_id, &out, "cli:inv").unwrap();
    let names: Vec<&str> = summary.files.iter().map(|f| f.0.as_str()).collect();
    let media_name = format!("media/{}", ward_store::hex(&sha));
    assert_eq!(
        names,
        [
            media_name.as_str(),
            "case.json",
            "audit.jsonl",
            "manifest.json"
        ]
    );
    assert_eq!(std::fs::read(out.join(&media_name)).unwrap(), bytes);
    // SHA256SUMS lists every file with its real digest.
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 4);
    for line in sums.lines() {
        let (h, p) = line.split_once("  ").unwrap();
        let actual = ward_store::hex(&Sha256::digest(std::fs::read(out.join(p)).unwrap()));
        assert_eq!(h, actual, "{p}");
    }
    let case: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("case.json")).unwrap()).unwrap();
    assert_eq!(case["decisions"][0]["reviewer"], "token:rev");
    assert_eq!(case["items"][0]["matches"][0]["bank_source"], "partner X");
    let audit = std::fs::read_to_string(out.join("audit.jsonl")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].to_string())
        .collect();
    assert_eq!(actions, ["\"case.open\"", "\"case.decide\""]);
    let last = f.store.audit_tail(1).unwrap().remove(0);
    assert_eq!(
        (last.action.as_str(), last.id),
        ("evidence.export", summary.audit_id)
    );
    assert!(last
        .detail
        .contains(&ward_store::hex(&summary.manifest_sha256)));
    // A second export into the same folder is refused, and not recorded.
    let before = audit_count(&f.store);
    let err = evidence::export(&mut f.store, &media, case_id, &out, "cli:inv").unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(audit_count(&f.store), before);
    assert!(matches!(
        evidence::export(&mut f.store, &media, 77, &f.dir.path().join("x"), "cli:inv"),
        Err(StoreError::NoSuchCase(77))
    ));
}
