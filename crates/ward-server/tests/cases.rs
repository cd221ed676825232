//! Cases through `oneshot` on `router(state)`: roles, flood grouping, decisions and their
//! outcomes, newsworthy suppression, errors that change nothing, media, events, evidence.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use ward_engine::ward_store::{AuditVerdict, NewBank, NewEntry, Policy, Role, Store};
use ward_server::{create_token, router, AppState, ServerConfig};

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdq/images/bridge-mods")
}

fn image(name: &str) -> Vec<u8> {
    std::fs::read(images().join(name)).unwrap()
}

const ORIG_PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Api {
    state: AppState,
    db: PathBuf,
    curator: String,
    submitter: String,
    reviewer: String,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Api {
    /// A store with a bank `known` (labels `propaganda`, policy `policy`) holding the PDQ of
    /// `aaa-orig.jpg` and, in bank `exact`, the MD5 of `blur-a-lot.jpg`.
    fn new(policy: Policy) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        let mut store = Store::open(&db).unwrap();
        let tok = |store: &mut Store, name: &str, role| {
            create_token(store, name, role, "test").unwrap().0
        };
        let curator = tok(&mut store, "cur", Role::Curator);
        let submitter = tok(&mut store, "sub", Role::Submitter);
        let reviewer = tok(&mut store, "rev", Role::Reviewer);
        let admin = tok(&mut store, "adm", Role::Admin);
        for name in ["known", "exact"] {
            store
                .create_bank(
                    &NewBank {
                        name: name.into(),
                        description: String::new(),
                        labels: vec!["propaganda".into()],
                        policy,
                        source: "partner X, 2026-11".into(),
                    },
                    "test",
                )
                .unwrap();
        }
        let pdq = NewEntry {
            signal_type: "pdq",
            value: hex_bytes(ORIG_PDQ),
            labels: vec!["bridge".into()],
            source_id: Some("X-17".into()),
        };
        store.import("known", &[pdq], "test").unwrap();
        let md5: [u8; 16] = md5_of(&image("blur-a-lot.jpg"));
        let exact = NewEntry {
            signal_type: "md5",
            value: md5.to_vec(),
            labels: vec![],
            source_id: None,
        };
        store.import("exact", &[exact], "test").unwrap();
        drop(store);
        Api {
            state: AppState::open(ServerConfig::new(db.clone())).unwrap(),
            db,
            curator,
            submitter,
            reviewer,
            admin,
            _dir: dir,
        }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (s, _, b) = self.send_raw(req).await;
        let v = serde_json::from_slice(&b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()));
        (s, v)
    }

    async fn send_raw(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }

    async fn get(&self, token: &str, uri: &str) -> (StatusCode, Value) {
        self.send(req(Method::GET, uri, token).body(Body::empty()).unwrap())
            .await
    }

    async fn post_json(&self, token: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        self.send(
            req(Method::POST, uri, token)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    async fn submit(&self, content_id: &str, file: &str) -> Value {
        let (s, v) = self
            .send(
                req(
                    Method::POST,
                    &format!("/v1/content?content_id={content_id}"),
                    &self.submitter,
                )
                .header(header::CONTENT_TYPE, "image/jpeg")
                .body(Body::from(image(file)))
                .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn decide(&self, case: i64, decision: &str) -> (StatusCode, Value) {
        self.post_json(
            &self.reviewer,
            &format!("/v1/cases/{case}/decision"),
            &json!({"decision": decision, "note": "checked"}).to_string(),
        )
        .await
    }

    fn audit_count(&self) -> u64 {
        match Store::open(&self.db).unwrap().audit_verify().unwrap() {
            AuditVerdict::Intact { count, .. } => count,
            other => panic!("{other:?}"),
        }
    }
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    // Through the same hashing the server does.
    ward_media::hash_bytes(bytes, &Default::default())
        .unwrap()
        .digests
        .md5
}

fn req(method: Method, uri: &str, token: &str) -> axum::http::request::Builder {
    let b = Request::builder().method(method).uri(uri);
    if token.is_empty() {
        b
    } else {
        b.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }
}

#[tokio::test]
async fn roles_guard_cases_media_evidence_and_audit() {
    let api = Api::new(Policy::Review);
    let v = api.submit("up-1", "blur-a-little.jpg").await;
    let case = v["case"]["id"].as_i64().unwrap();
    let item = format!("/v1/cases/{case}/items/1/media");
    let reviewers = [
        "/v1/cases".to_owned(),
        format!("/v1/cases/{case}"),
        item.clone(),
    ];
    for uri in &reviewers {
        assert_eq!(api.get("", uri).await.0, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(api.get("ward_nope", uri).await.0, StatusCode::UNAUTHORIZED);
        for t in [&api.submitter, &api.curator] {
            let (s, v) = api.get(t, uri).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{uri}: {v}");
            assert!(
                v["error"].as_str().unwrap().contains("reviewer or admin"),
                "{v}"
            );
        }
        for t in [&api.reviewer, &api.admin] {
            assert_eq!(api.get(t, uri).await.0, StatusCode::OK, "{uri}");
        }
    }
    for uri in [format!("/v1/cases/{case}/evidence"), "/v1/audit".to_owned()] {
        for t in [&api.submitter, &api.curator, &api.reviewer] {
            assert_eq!(api.get(t, &uri).await.0, StatusCode::FORBIDDEN, "{uri}");
        }
        assert_eq!(api.get(&api.admin, &uri).await.0, StatusCode::OK, "{uri}");
    }
    // Deciding: reviewers and admins only.
    for t in [&api.submitter, &api.curator] {
        let (s, _) = api
            .post_json(
                t,
                &format!("/v1/cases/{case}/decision"),
                r#"{"decision":"confirm"}"#,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // A submitter reads its own content; a reviewer may not use the submit side.
    assert_eq!(
        api.get(&api.submitter, "/v1/content/up-1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.get(&api.reviewer, "/v1/content/up-1").await.0,
        StatusCode::FORBIDDEN
    );
    // Content submitted by another token is not shown to a curator.
    assert_eq!(
        api.get(&api.curator, "/v1/content/up-1").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&api.admin, "/v1/content/up-1").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn three_copies_make_one_case_and_one_decision_three_outcomes() {
    let api = Api::new(Policy::Review);
    let first = api.submit("up-1", "blur-a-little.jpg").await;
    assert_eq!(first["outcome"], "pending");
    assert_eq!(first["case"]["grouped"], false);
    let case = first["case"]["id"].as_i64().unwrap();
    for (id, file) in [
        ("up-2", "sharpen-a-little.jpg"),
        ("up-3", "shrink-a-little.jpg"),
    ] {
        let v = api.submit(id, file).await;
        assert_eq!(
            v["case"],
            json!({"id": case, "status": "open", "grouped": true}),
            "{v}"
        );
    }
    // An unrelated image matches nothing: no case, bytes not kept.
    let other = api.submit("other", "../misc-images/c.png").await;
    assert_eq!(
        (other["outcome"].as_str(), &other["case"]),
        (Some("no_match"), &Value::Null)
    );

    let (s, list) = api.get(&api.reviewer, "/v1/cases").await;
    assert_eq!(s, StatusCode::OK);
    let cases = list["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{list}");
    let c = &cases[0];
    assert_eq!(c["item_count"], 3);
    assert_eq!(c["content_ids"], json!(["up-1", "up-2", "up-3"]));
    assert_eq!(c["banks"], json!(["known"]));
    assert_eq!(c["labels"], json!(["bridge", "propaganda"]));
    assert_eq!(c["media_type"], "photo");
    assert!(c["min_distance"].as_u64().unwrap() <= 31);

    // Filters: by bank, and paging past a case id.
    let n = |v: Value| v["cases"].as_array().unwrap().len();
    assert_eq!(n(api.get(&api.reviewer, "/v1/cases?bank=known").await.1), 1);
    assert_eq!(n(api.get(&api.reviewer, "/v1/cases?bank=exact").await.1), 0);
    assert_eq!(
        n(api
            .get(&api.reviewer, &format!("/v1/cases?after_id={case}"))
            .await
            .1),
        0
    );
    assert_eq!(
        n(api
            .get(&api.reviewer, "/v1/cases?status=all&limit=0")
            .await
            .1),
        0
    );

    let (_, detail) = api.get(&api.reviewer, &format!("/v1/cases/{case}")).await;
    assert_eq!(detail["items"].as_array().unwrap().len(), 3);
    let item = &detail["items"][0];
    assert_eq!(item["content_type"], "image/jpeg");
    assert_eq!(item["has_media"], true);
    assert_eq!(item["pdq"]["hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        detail["matches"].as_array().unwrap().len(),
        1,
        "one entry, listed once"
    );
    let m = &detail["matches"][0];
    assert_eq!(
        (
            m["bank"].as_str(),
            m["bank_source"].as_str(),
            m["source_id"].as_str()
        ),
        (Some("known"), Some("partner X, 2026-11"), Some("X-17"))
    );
    assert_eq!(m["item_ids"].as_array().unwrap().len(), 3);
    assert_eq!(m["segments"], json!([]));

    // The media of an item: its bytes, never cached.
    let item_id = item["item_id"].as_i64().unwrap();
    let (s, headers, bytes) = api
        .send_raw(
            req(
                Method::GET,
                &format!("/v1/cases/{case}/items/{item_id}/media"),
                &api.reviewer,
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, image("blur-a-little.jpg"));
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        api.get(&api.reviewer, &format!("/v1/cases/{case}/items/999/media"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (s, decided) = api.decide(case, "confirm").await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "closed");
    let outcomes: Vec<&str> = decided["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["quarantined"; 3]);
    assert_eq!(decided["decisions"][0]["reviewer"], "token:rev");
    assert_eq!(decided["decisions"][0]["note"], "checked");
    for id in ["up-1", "up-2", "up-3"] {
        let (_, c) = api.get(&api.submitter, &format!("/v1/content/{id}")).await;
        assert_eq!(c["outcome"], "quarantined", "{c}");
        assert_eq!(c["case"]["id"], case);
    }
    // The platform can poll the same events the webhook carries: one per item, in order.
    let (_, ev) = api.get(&api.submitter, "/v1/events?after=0").await;
    let events = ev["events"].as_array().unwrap();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["content_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["up-1", "up-2", "up-3"]);
    assert!(events
        .iter()
        .all(|e| e["decision"] == "confirm" && e["outcome"] == "quarantined"));
    let last = events[1]["event_id"].as_i64().unwrap();
    let (_, rest) = api
        .get(&api.submitter, &format!("/v1/events?after={last}"))
        .await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert!(api.get(&api.reviewer, "/v1/cases").await.1["cases"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, closed) = api.get(&api.reviewer, "/v1/cases?status=closed").await;
    assert_eq!(closed["cases"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_decisions_are_refused_and_change_nothing() {
    let api = Api::new(Policy::Review);
    let case = api.submit("up-1", "blur-a-little.jpg").await["case"]["id"]
        .as_i64()
        .unwrap();
    let before = api.audit_count();
    let uri = format!("/v1/cases/{case}/decision");
    for (body, status, needle) in [
        (r#"{"decision":"delete"}"#, 400, "decision must be one of"),
        (r#"{"decision":"confirm","extra":1}"#, 400, "unknown field"),
        ("not json", 400, ""),
        (r#"{"note":"x"}"#, 400, "decision"),
    ] {
        let (s, v) = api.post_json(&api.reviewer, &uri, body).await;
        assert_eq!(s.as_u16(), status, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    for bad in [
        "/v1/cases/999/decision",
        "/v1/cases/abc/decision",
        "/v1/cases/-1/decision",
    ] {
        let (s, v) = api
            .post_json(&api.reviewer, bad, r#"{"decision":"confirm"}"#)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}: {v}");
    }
    assert_eq!(
        api.get(&api.reviewer, "/v1/cases/999").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&api.reviewer, "/v1/cases?status=nope").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get(&api.reviewer, "/v1/cases?limit=x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.audit_count(), before, "refusals are not writes");
    let (_, c) = api.get(&api.reviewer, &format!("/v1/cases/{case}")).await;
    assert_eq!(
        (
            c["status"].as_str(),
            c["decisions"].as_array().unwrap().len()
        ),
        (Some("open"), 0)
    );

    // Escalate keeps it reviewable; a closed case answers 409 and stays as it was.
    let (s, v) = api.decide(case, "escalate").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("escalated"))
    );
    assert_eq!(
        api.get(&api.reviewer, "/v1/cases").await.1["cases"][0]["status"],
        "escalated"
    );
    let (s, _) = api.decide(case, "reject").await;
    assert_eq!(s, StatusCode::OK);
    let after_reject = api.audit_count();
    let (s, v) = api.decide(case, "confirm").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains("closed"), "{v}");
    assert_eq!(api.audit_count(), after_reject);
    let (_, c) = api.get(&api.reviewer, &format!("/v1/cases/{case}")).await;
    assert_eq!(c["decisions"].as_array().unwrap().len(), 2);
    assert_eq!(c["items"][0]["outcome"], "allowed");
    let (_, ev) = api.get(&api.submitter, "/v1/events").await;
    assert_eq!(
        ev["events"].as_array().unwrap().len(),
        1,
        "one outcome event"
    );
    // The rejection is counted against the entry, shown in its details.
    let entry = c["matches"][0]["entry_id"].as_i64().unwrap();
    let (s, e) = api
        .get(&api.curator, &format!("/v1/banks/known/entries/{entry}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["false_positives"], 1);
    assert_eq!(e["signal"], ORIG_PDQ);
}

#[tokio::test]
async fn newsworthy_content_is_not_queued_again() {
    let api = Api::new(Policy::Review);
    let case = api.submit("news-1", "blur-a-little.jpg").await["case"]["id"]
        .as_i64()
        .unwrap();
    let (s, _) = api.decide(case, "newsworthy").await;
    assert_eq!(s, StatusCode::OK);
    // The same bytes again, under another id: allowed at once, with the earlier decision.
    let again = api.submit("news-2", "blur-a-little.jpg").await;
    assert_eq!(again["outcome"], "allowed", "{again}");
    assert_eq!(again["case"], Value::Null);
    let (_, c) = api.get(&api.reviewer, &format!("/v1/cases/{case}")).await;
    assert!(again["decision_id"].is_i64(), "{again}");
    assert_eq!(
        again["decision_id"], c["items"][0]["decision_id"],
        "the newsworthy decision"
    );
    assert_eq!(c["decisions"][0]["decision"], "newsworthy");
    let (_, news2) = api.get(&api.submitter, "/v1/content/news-2").await;
    assert_eq!(news2["outcome"], "allowed");
    assert_eq!(news2["decision_id"], again["decision_id"]);
    assert!(api.get(&api.reviewer, "/v1/cases").await.1["cases"]
        .as_array()
        .unwrap()
        .is_empty());
    // Another edit of the known image, 14 bits from the newsworthy photo (over 10), is queued.
    let other = api.submit("copy-1", "sharpen-a-lot.jpg").await;
    assert_eq!(other["outcome"], "pending", "{other}");
}

#[tokio::test]
async fn exact_matches_in_an_auto_bank_are_quarantined_and_sent() {
    let api = Api::new(Policy::Auto);
    let v = api.submit("auto-1", "blur-a-lot.jpg").await;
    assert_eq!(v["outcome"], "quarantined", "{v}");
    assert_eq!(v["case"]["status"], "closed");
    let case = v["case"]["id"].as_i64().unwrap();
    let (_, c) = api.get(&api.reviewer, &format!("/v1/cases/{case}")).await;
    assert_eq!(c["decisions"][0]["reviewer"], "policy:auto");
    let (_, ev) = api.get(&api.submitter, "/v1/events").await;
    assert_eq!(ev["events"][0]["reviewer"], "policy:auto");
    assert_eq!(ev["events"][0]["content_id"], "auto-1");
    // Deciding it again is a conflict.
    assert_eq!(api.decide(case, "reject").await.0, StatusCode::CONFLICT);
    // A near match in an auto bank still goes to a reviewer.
    let near = api.submit("near-1", "sharpen-a-little.jpg").await;
    assert_eq!(near["outcome"], "pending");
}

#[tokio::test]
async fn evidence_and_audit_answer_admins() {
    let api = Api::new(Policy::Review);
    let case = api.submit("up-1", "blur-a-little.jpg").await["case"]["id"]
        .as_i64()
        .unwrap();
    api.decide(case, "confirm").await;
    let (s, ev) = api
        .get(&api.admin, &format!("/v1/cases/{case}/evidence"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ev["case"]["format"], "ward-evidence");
    assert_eq!(ev["case"]["decisions"][0]["decision"], "confirm");
    let actions: Vec<&str> = ev["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["case.open", "case.decide"]);
    let (_, log) = api.get(&api.admin, "/v1/audit?after=0&limit=1000").await;
    let log = log["entries"].as_array().unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("evidence.export"), Some("token:adm"))
    );
    // Writes through HMA's API are attributed to the calling token.
    let (s, _) = api
        .send(
            req(Method::DELETE, "/c/bank/exact", &api.curator)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, log) = api.get(&api.admin, "/v1/audit?after=0&limit=1000").await;
    let last = log["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["action"].as_str(),
            last["actor"].as_str(),
            last["subject"].as_str()
        ),
        (Some("bank.delete"), Some("token:cur"), Some("bank:exact"))
    );
}

#[tokio::test]
async fn openapi_describes_the_case_routes() {
    let api = Api::new(Policy::Review);
    let (_, doc) = api.get(&api.submitter, "/v1/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/cases", "get"),
        ("/v1/cases/{id}", "get"),
        ("/v1/cases/{id}/decision", "post"),
        ("/v1/cases/{id}/items/{item_id}/media", "get"),
        ("/v1/cases/{id}/evidence", "get"),
        ("/v1/content/{content_id}", "get"),
        ("/v1/events", "get"),
        ("/v1/audit", "get"),
        ("/v1/banks/{name}/entries/{id}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // Every documented path and method is served (none falls through to "no route").
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let uri = path
                .replace("{name}", "known")
                .replace("{content_id}", "none")
                .replace("{item_id}", "1")
                .replace("{id}", "1");
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let (_, v) = api
                .send(req(m, &uri, &api.admin).body(Body::empty()).unwrap())
                .await;
            let err = v["error"].as_str().unwrap_or("");
            assert!(!err.starts_with("no route"), "{method} {path} ({uri}): {v}");
        }
    }
    let content = &paths["/v1/content"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"];
    assert!(content.get("outcome").is_some() && content.get("case").is_some());
}
