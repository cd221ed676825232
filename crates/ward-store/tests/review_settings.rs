//! A reviewer's own wellness settings: only overrides are kept, by token, validated.

use ward_store::{ReviewOverrides, Role, Store, StoreError};

#[test]
fn overrides_are_kept_per_token_replaced_and_cleared() {
    let mut s = Store::in_memory().unwrap();
    let a = s
        .create_token("alice", Role::Reviewer, &[1; 32], "cli")
        .unwrap();
    let b = s
        .create_token("bob", Role::Reviewer, &[2; 32], "cli")
        .unwrap();
    // Nothing chosen yet: every field follows the deployment's default.
    assert_eq!(
        s.review_overrides(a.id).unwrap(),
        ReviewOverrides::default()
    );

    let mine = ReviewOverrides {
        blur_px: Some(8),
        greyscale: Some(false),
        autoplay: None,
    };
    s.set_review_overrides(a.id, &mine).unwrap();
    assert_eq!(s.review_overrides(a.id).unwrap(), mine);
    assert_eq!(
        s.review_overrides(b.id).unwrap(),
        ReviewOverrides::default(),
        "one reviewer's choice is theirs only"
    );

    // Replacing keeps one row per token; all None clears.
    let changed = ReviewOverrides {
        blur_px: Some(64),
        greyscale: None,
        autoplay: Some(true),
    };
    s.set_review_overrides(a.id, &changed).unwrap();
    assert_eq!(s.review_overrides(a.id).unwrap(), changed);
    s.set_review_overrides(a.id, &ReviewOverrides::default())
        .unwrap();
    assert_eq!(
        s.review_overrides(a.id).unwrap(),
        ReviewOverrides::default()
    );
}

#[test]
fn out_of_range_blur_and_unknown_tokens_are_refused() {
    let mut s = Store::in_memory().unwrap();
    let a = s
        .create_token("alice", Role::Reviewer, &[1; 32], "cli")
        .unwrap();
    let err = s
        .set_review_overrides(
            a.id,
            &ReviewOverrides {
                blur_px: Some(65),
                ..ReviewOverrides::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("0 to 64")),
        "{err}"
    );
    assert_eq!(
        s.review_overrides(a.id).unwrap(),
        ReviewOverrides::default()
    );
    let err = s
        .set_review_overrides(
            9999,
            &ReviewOverrides {
                autoplay: Some(true),
                ..ReviewOverrides::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("no token")),
        "{err}"
    );
}
