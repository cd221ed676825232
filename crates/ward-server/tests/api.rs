//! The HTTP surface through `oneshot` on `router(state)`: no port, a real store in a temp dir.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use ward_engine::ward_store::{Role, Store};
use ward_server::{create_token, router, AppState, ServerConfig};

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdq/images/bridge-mods")
}

struct Api {
    state: AppState,
    curator: String,
    submitter: String,
    reviewer: String,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Api {
        Self::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut ServerConfig)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        let mut store = Store::open(&db).unwrap();
        let tok = |store: &mut Store, name: &str, role| {
            create_token(store, name, role, "test").unwrap().0
        };
        let curator = tok(&mut store, "cur", Role::Curator);
        let submitter = tok(&mut store, "sub", Role::Submitter);
        let reviewer = tok(&mut store, "rev", Role::Reviewer);
        drop(store);
        let mut config = ServerConfig::new(db);
        adjust(&mut config);
        Api {
            state: AppState::open(config).unwrap(),
            curator,
            submitter,
            reviewer,
            _dir: dir,
        }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    async fn get(&self, token: &str, uri: &str) -> (StatusCode, Value) {
        self.send(req(Method::GET, uri, token).body(Body::empty()).unwrap())
            .await
    }

    async fn post_json(&self, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            req(Method::POST, uri, token)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn post_file(
        &self,
        token: &str,
        uri: &str,
        field: &str,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        let (ct, body) = multipart(&[(field, Some("upload.jpg"), bytes)]);
        self.send(
            req(Method::POST, uri, token)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

fn req(method: Method, uri: &str, token: &str) -> axum::http::request::Builder {
    let b = Request::builder().method(method).uri(uri);
    if token.is_empty() {
        b
    } else {
        b.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "ward-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn image(name: &str) -> Vec<u8> {
    std::fs::read(images().join(name)).unwrap()
}

const ORIG_PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

#[tokio::test]
async fn healthz_is_open_and_everything_else_needs_a_token() {
    let api = Api::new();
    let (s, v) = api.get("", "/healthz").await;
    assert_eq!((s, v), (StatusCode::OK, json!("ok")));
    for uri in [
        "/m/raw_lookup?signal=x&signal_type=pdq",
        "/c/banks",
        "/status",
        "/metrics",
        "/v1/banks",
    ] {
        let (s, _) = api.get("", uri).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let (s, v) = api.get("ward_not-a-real-token", "/c/banks").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v, json!({"message": "unknown or revoked token"}));
    let (s, v) = api.get("", "/v1/banks").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].as_str().unwrap().contains("bearer token"), "{v}");
}

#[tokio::test]
async fn roles_are_enforced() {
    let api = Api::new();
    // A reviewer may not look up; a submitter may not create banks; both may see /status.
    let (s, v) = api
        .get(
            &api.reviewer,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(v["message"].as_str().unwrap().contains("reviewer"), "{v}");
    let (s, _) = api
        .post_json(&api.submitter, "/c/banks", json!({"name": "B"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get(&api.submitter, "/c/banks").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get(&api.reviewer, "/c/banks").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api.get(&api.submitter, "/status").await;
    assert_eq!((s, v), (StatusCode::OK, json!("I-AM-ALIVE")));
    // Nothing was created by the refused request.
    let (_, v) = api.get(&api.curator, "/c/banks").await;
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn hma_bank_lifecycle_and_lookups() {
    let api = Api::new();
    let cur = api.curator.clone();
    // Creation: 201, then 403 for the same name, 400 for names HMA refuses.
    let (s, v) = api
        .post_json(&cur, "/c/banks", json!({"name": "MY_TEST_BANK_01"}))
        .await;
    assert_eq!(
        (s, v.clone()),
        (
            StatusCode::CREATED,
            json!({"name": "MY_TEST_BANK_01", "matching_enabled_ratio": 1.0})
        )
    );
    let (s, v) = api
        .post_json(&cur, "/c/banks", json!({"name": "MY_TEST_BANK_01"}))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"message": "Bank already exists"})
        )
    );
    for bad in ["01_TEST_BANK", "my_test_bank", ""] {
        let (s, v) = api.post_json(&cur, "/c/banks", json!({"name": bad})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (_, v) = api.get(&cur, "/c/banks").await;
    assert_eq!(
        v,
        json!([{"name": "MY_TEST_BANK_01", "matching_enabled_ratio": 1.0}])
    );

    // Add a photo; its PDQ is the reference hash.
    let (s, v) = api
        .post_file(
            &cur,
            "/c/bank/MY_TEST_BANK_01/content",
            "photo",
            &image("aaa-orig.jpg"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["signals"], json!({"pdq": ORIG_PDQ}));
    let id = v["id"].as_i64().unwrap();

    // raw_lookup, with and without distance; a transformed copy through POST /m/lookup.
    let sub = api.submitter.clone();
    let (s, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"matches": [id]})));
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq&include_distance=true"),
        )
        .await;
    assert_eq!(
        v,
        json!({"matches": [{"bank_content_id": id, "distance": "0"}]})
    );
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq&banks=OTHER"),
        )
        .await;
    assert_eq!(v, json!({"matches": []}));
    let (s, v) = api
        .post_file(&sub, "/m/lookup", "photo", &image("blur-a-lot.jpg"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let hit = &v["pdq"]["MY_TEST_BANK_01"][0];
    assert_eq!(hit["bank_content_id"], json!(id));
    assert!(
        hit["distance"].as_str().unwrap().parse::<u32>().unwrap() <= 31,
        "{v}"
    );
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(
        v,
        json!({"MY_TEST_BANK_01": [{"bank_content_id": id, "distance": "0"}]})
    );

    // A ratio of 0 hides the bank from /m/lookup unless the coin flip is bypassed.
    let (s, v) = api
        .send(
            req(Method::PUT, "/c/bank/MY_TEST_BANK_01", &cur)
                .body(Body::from(r#"{"enabled": false}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"name": "MY_TEST_BANK_01", "matching_enabled_ratio": 0.0})
        )
    );
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v, json!({}));
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/lookup?signal={ORIG_PDQ}&signal_type=pdq&bypass_coinflip=true"),
        )
        .await;
    assert_eq!(v["MY_TEST_BANK_01"][0]["bank_content_id"], json!(id));

    // Content: get, disable through PUT (0 = disabled), enable again, delete.
    let uri = format!("/c/bank/MY_TEST_BANK_01/content/{id}");
    let (s, v) = api.get(&cur, &format!("{uri}?include_signals=true")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["signals"], json!({"pdq": ORIG_PDQ}));
    assert_eq!(v["disable_until_ts"], json!(1));
    let (s, _) = api
        .send(
            req(Method::PUT, &uri, &cur)
                .body(Body::from(r#"{"disable_until_ts": 0}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v, json!({"matches": []}));
    let (s, _) = api
        .send(
            req(Method::PUT, &uri, &cur)
                .body(Body::from(r#"{"disable_until_ts": 1}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v, json!({"matches": [id]}));
    let (s, _) = api
        .send(
            req(Method::PUT, &uri, &cur)
                .body(Body::from(r#"{"disable_until_ts": 9999999999}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = api
        .send(req(Method::DELETE, &uri, &cur).body(Body::empty()).unwrap())
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"deleted": 1})));
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v, json!({"matches": []}));

    // Add by signal, then delete the bank: its entries stop matching, the name is free.
    let (s, v) = api
        .post_json(
            &cur,
            "/c/bank/MY_TEST_BANK_01/signal",
            json!({"pdq": ORIG_PDQ}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v["matches"].as_array().unwrap().len(), 1);
    let (s, v) = api
        .send(
            req(Method::DELETE, "/c/bank/MY_TEST_BANK_01", &cur)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"message": "Done"})));
    let (_, v) = api
        .get(
            &sub,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(v, json!({"matches": []}));
    let (s, _) = api.get(&cur, "/c/bank/MY_TEST_BANK_01").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .post_json(&cur, "/c/banks", json!({"name": "MY_TEST_BANK_01"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn hma_validation_matches_hma() {
    let api = Api::new();
    let sub = api.submitter.clone();
    let cases: &[(&str, &str)] = &[
        ("/m/raw_lookup?signal_type=pdq", "signal is required"),
        (
            &format!("/m/raw_lookup?signal={ORIG_PDQ}"),
            "signal_type is required",
        ),
        (
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=tmk"),
            "No such SignalType 'tmk'",
        ),
        (
            "/m/raw_lookup?signal=F8F8&signal_type=pdq",
            "invalid signal: invalid PDQ hash",
        ),
        (
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq&include_distance=maybe"),
            "invalid boolean parameter - prefer true/false",
        ),
        (
            "/m/lookup",
            "Either url or both signal and signal_type are required",
        ),
        (
            "/m/index/status?signal_type=tmk",
            "No such signal type 'tmk'",
        ),
    ];
    for (uri, msg) in cases {
        let (s, v) = api.get(&sub, uri).await;
        assert_eq!(
            (s, v),
            (StatusCode::BAD_REQUEST, json!({"message": msg})),
            "{uri}"
        );
    }
    // Upper-case PDQ hex is refused, as HMA's `^[0-9a-f]{64}$` does.
    let (s, _) = api
        .get(
            &sub,
            &format!(
                "/m/raw_lookup?signal={}&signal_type=pdq",
                ORIG_PDQ.to_uppercase()
            ),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // URL fetching is refused in HMA's error shape.
    let (s, v) = api.get(&sub, "/h/hash?url=http://127.0.0.1:1/x.jpg").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid or unsafe URL provided"),
        "{v}"
    );
    // Multipart rules of POST /h/hash.
    let (ct, body) = multipart(&[
        ("photo", Some("a.jpg"), b"x"),
        ("photo", Some("b.jpg"), b"y"),
    ]);
    let (s, v) = api
        .send(
            req(Method::POST, "/h/hash", &sub)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Only one file allowed per request"})
        )
    );
    let (s, v) = api.post_file(&sub, "/h/hash", "picture", b"x").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "no such content_type: 'picture'"})
        )
    );
    let (ct, body) = multipart(&[("photo", None, b"not a file part")]);
    let (s, v) = api
        .send(
            req(Method::POST, "/h/hash", &sub)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Missing multipart/form-data file upload"})
        )
    );
    let (s, v) = api
        .post_file(&sub, "/h/hash", "photo", b"this is not an image")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // /h/hash answers the reference PDQ; types= picks signals.
    let (s, v) = api
        .post_file(
            &sub,
            "/h/hash?types=pdq,md5",
            "photo",
            &image("aaa-orig.jpg"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["pdq"], json!(ORIG_PDQ));
    assert_eq!(v["md5"].as_str().unwrap().len(), 32);
    // /m/compare, happy path and HMA's bad inputs.
    let a = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318";
    let b = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318";
    let (s, v) = api
        .post_json(&sub, "/m/compare", json!({"pdq": [a, b]}))
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!({"pdq": [true, {"distance": 9}]}))
    );
    for bad in [
        json!(["banana"]),
        json!({"pdq": "banana"}),
        json!({"pdq": []}),
        json!({"pdq": ["banana", "banana"]}),
        json!({"pdq": [a, b, a]}),
    ] {
        let (s, _) = api.post_json(&sub, "/m/compare", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Unknown bank: 404 with HMA's message.
    let cur = api.curator.clone();
    let (s, v) = api
        .post_json(&cur, "/c/bank/NO_SUCH/signal", json!({"pdq": ORIG_PDQ}))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "bank 'NO_SUCH' not found"})
        )
    );
    let (s, v) = api.get(&cur, "/c/bank/NO_SUCH/content/1").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "bank 'NO_SUCH' not found"})
        )
    );
    api.post_json(&cur, "/c/banks", json!({"name": "B"})).await;
    let (s, v) = api
        .post_json(&cur, "/c/bank/B/signal", json!({"pdq": "zz"}))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid pdq signal: invalid PDQ hash"})
        )
    );
    let (s, v) = api.post_json(&cur, "/c/bank/B/signal", json!({})).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "No signals given"})
        )
    );
    let (s, _) = api.get(&cur, "/c/bank/B/content/12345").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = api.get(&cur, "/v1/banks").await;
    assert_eq!(
        v["banks"][0]["active_entries"],
        json!(0),
        "nothing was added by the refused requests"
    );
}

#[tokio::test]
async fn limits_give_413_and_503() {
    let api = Api::with(|c| {
        c.max_body_bytes = 10_000;
        c.max_hashing = 1;
    });
    let big = vec![0u8; 20_000];
    let (s, v) = api
        .post_file(&api.submitter, "/h/hash", "photo", &big)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(v["message"].is_string());
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/content?content_id=c1", &api.submitter)
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(v["error"].is_string());

    // With every in-flight slot taken, the next request is shed at once.
    let api = Api::with(|c| c.max_in_flight = 1);
    let app = router(api.state.clone());
    let slow = {
        let (ct, body) = multipart(&[("photo", Some("a.jpg"), &image("aaa-orig.jpg"))]);
        // A body that does not end holds the one slot.
        let (slow_body, tx) = trickle(body[..100].to_vec());
        let req = req(Method::POST, "/h/hash", &api.submitter)
            .header(header::CONTENT_TYPE, ct)
            .body(slow_body)
            .unwrap();
        let app = app.clone();
        let h = tokio::spawn(async move { app.oneshot(req).await.unwrap().status() });
        (h, tx)
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (s, v) = api.get(&api.submitter, "/status").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let (s, _) = api.get("", "/healthz").await;
    assert_eq!(s, StatusCode::OK, "health checks are not shed");
    drop(slow.1);
    let _ = slow.0.await;
    let (s, _) = api.get(&api.submitter, "/status").await;
    assert_eq!(s, StatusCode::OK, "recovers once the slot is free");
}

#[tokio::test]
async fn slow_body_times_out_with_408() {
    let api = Api::with(|c| c.request_timeout = std::time::Duration::from_millis(200));
    let (slow_body, tx) = trickle(b"--x\r\n".to_vec());
    let r = req(Method::POST, "/h/hash", &api.submitter)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(slow_body)
        .unwrap();
    let (s, v) = api.send(r).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::REQUEST_TIMEOUT,
            json!({"message": "the request took longer than 0.2 s"})
        )
    );
    drop(tx);
}

/// A request body that sends `first` and then waits for more until the sender is dropped:
/// a client that trickles its upload.
struct Trickle(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl http_body::Body for Trickle {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|v| Ok(http_body::Frame::data(axum::body::Bytes::from(v)))))
    }
}

fn trickle(first: Vec<u8>) -> (Body, tokio::sync::mpsc::Sender<Vec<u8>>) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.try_send(first).unwrap();
    (Body::new(Trickle(rx)), tx)
}

#[tokio::test]
async fn native_api_banks_import_submit_disable() {
    let api = Api::new();
    let cur = api.curator.clone();
    let (s, v) = api
        .post_json(
            &cur,
            "/v1/banks",
            json!({"name": "isis-stills", "labels": ["terrorism"], "policy": "review"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], json!("isis-stills"));
    let (s, v) = api
        .post_json(&cur, "/v1/banks", json!({"name": "isis-stills"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        v["error"].as_str().unwrap().contains("already exists"),
        "{v}"
    );
    let (s, _) = api
        .post_json(&cur, "/v1/banks", json!({"name": "x", "colour": "red"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Import is atomic: a bad line changes nothing and names the line.
    let list = format!("{ORIG_PDQ}\nnot-a-hash\n");
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/banks/isis-stills/import", &cur)
                .body(Body::from(list))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["detail"], json!({"line": 2}));
    let (_, v) = api.get(&cur, "/v1/banks").await;
    assert_eq!(v["banks"][0]["active_entries"], json!(0));
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/banks/isis-stills/import", &cur)
                .body(Body::from(format!("{ORIG_PDQ}\n{ORIG_PDQ}\n")))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["added"].clone(), v["duplicates"].clone()),
        (json!(1), json!(1))
    );
    let (s, _) = api
        .send(
            req(Method::POST, "/v1/banks/nope/import", &cur)
                .body(Body::from(ORIG_PDQ))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Submit a transformed copy, multipart with metadata, and as a raw body.
    let (ct, body) = multipart(&[
        ("content_id", None, b"upload-17"),
        ("metadata", None, br#"{"uploader": "u1"}"#),
        ("file", Some("x.jpg"), &image("blur-a-lot.jpg")),
    ]);
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/content", &api.submitter)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["content_id"], json!("upload-17"));
    assert_eq!(v["metadata"], json!({"uploader": "u1"}));
    let m = &v["matches"][0];
    assert_eq!(
        (m["bank"].clone(), m["signal_type"].clone()),
        (json!("isis-stills"), json!("pdq"))
    );
    assert_eq!(m["labels"], json!(["terrorism"]));
    let entry = m["entry_id"].as_i64().unwrap();
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/content", &api.submitter)
                .body(Body::from(image("aaa-orig.jpg")))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        json!("content_id is required (the platform's id for this content)")
    );

    // Disable: the next submission no longer matches.
    let (s, _) = api
        .send(
            req(
                Method::POST,
                &format!("/v1/banks/isis-stills/entries/{entry}/disable"),
                &cur,
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api
        .send(
            req(Method::POST, "/v1/content?content_id=u2", &api.submitter)
                .body(Body::from(image("aaa-orig.jpg")))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["matches"], json!([]));
    let (s, _) = api
        .send(
            req(
                Method::POST,
                "/v1/banks/isis-stills/entries/999/disable",
                &cur,
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn openapi_describes_every_v1_route_and_metrics_count_requests() {
    let api = Api::new();
    let (s, doc) = api.get(&api.submitter, "/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/content", "post"),
        ("/v1/banks", "get"),
        ("/v1/banks", "post"),
        ("/v1/banks/{name}/import", "post"),
        ("/v1/banks/{name}/entries/{id}/disable", "post"),
        ("/v1/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // The other way round (every documented path and method is routed) is checked for all
    // of them in tests/cases.rs::openapi_describes_the_case_routes.

    api.get(
        &api.submitter,
        &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
    )
    .await;
    api.get("", "/m/raw_lookup").await;
    let resp = router(api.state.clone())
        .oneshot(
            req(Method::GET, "/metrics", &api.submitter)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("ward_http_requests_total{route=\"/m/raw_lookup\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ward_http_requests_total{route=\"/m/raw_lookup\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "ward_http_request_duration_seconds_bucket{route=\"/m/raw_lookup\",le=\"+Inf\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("ward_index_hashes 0"), "{text}");
}

#[tokio::test]
async fn cli_writes_are_picked_up_by_the_poll() {
    let api = Api::with(|c| c.poll_interval = std::time::Duration::from_millis(50));
    // Another process (here: another connection) imports while the server runs.
    let mut store = Store::open(&api.state.config().db).unwrap();
    store
        .create_bank(
            &ward_engine::ward_store::NewBank {
                name: "cli".into(),
                description: String::new(),
                labels: vec![],
                policy: ward_engine::ward_store::Policy::Review,
                source: String::new(),
            },
            "cli",
        )
        .unwrap();
    let value = ORIG_PDQ
        .parse::<ward_pdq::Hash256>()
        .unwrap()
        .as_bytes()
        .to_vec();
    store
        .import(
            "cli",
            &[ward_engine::ward_store::NewEntry {
                signal_type: "pdq",
                value,
                labels: vec![],
                source_id: None,
            }],
            "cli",
        )
        .unwrap();
    // A refresh (what the poller runs) makes it visible; the token made meanwhile too.
    let (late, _) = create_token(&mut store, "late", Role::Submitter, "cli").unwrap();
    api.state.refresh_blocking().unwrap();
    let (s, v) = api
        .get(
            &late,
            &format!("/m/raw_lookup?signal={ORIG_PDQ}&signal_type=pdq"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["matches"].as_array().unwrap().len(), 1);
    // Revoked: refused after the next refresh.
    store.revoke_token("late").unwrap();
    api.state.refresh_blocking().unwrap();
    let (s, _) = api.get(&late, "/status").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
