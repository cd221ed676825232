//! The review page's files and headers, and the wellness settings endpoints, through
//! `oneshot` on `router(state)`.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use ward_engine::ward_store::{Role, Store};
use ward_server::{create_token, router, AppState, ReviewDefaults, ServerConfig};

struct Api {
    state: AppState,
    reviewer: String,
    submitter: String,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new(review: ReviewDefaults) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        let mut store = Store::open(&db).unwrap();
        let reviewer = create_token(&mut store, "moderator", Role::Reviewer, "test")
            .unwrap()
            .0;
        let submitter = create_token(&mut store, "upload", Role::Submitter, "test")
            .unwrap()
            .0;
        drop(store);
        let mut config = ServerConfig::new(db);
        config.review = review;
        Api {
            state: AppState::open(config).unwrap(),
            reviewer,
            submitter,
            _dir: dir,
        }
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let mut b = Request::builder().method(method).uri(uri);
        if !token.is_empty() {
            b = b.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !body.is_empty() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let resp = router(self.state.clone())
            .oneshot(b.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let (s, _, text) = self.raw(method, uri, token, body).await;
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn header_of<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
}

#[tokio::test]
async fn page_and_assets_need_no_token_and_carry_strict_headers() {
    let api = Api::new(ReviewDefaults::default());
    for (path, ty, must_contain) in [
        ("/review", "text/html", "<script src=\"/review/review.js\""),
        ("/review/", "text/html", "id=\"login-form\""),
        ("/review/review.js", "text/javascript", "sessionStorage"),
        ("/review/review.css", "text/css", ".media.veiled"),
    ] {
        let (s, h, body) = api.raw(Method::GET, path, "", "").await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(header_of(&h, "content-type").starts_with(ty), "{path}");
        let csp = header_of(&h, "content-security-policy");
        for directive in [
            "default-src 'self'",
            "img-src 'self' blob:",
            "media-src 'self' blob:",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(header_of(&h, "x-content-type-options"), "nosniff");
        assert_eq!(header_of(&h, "referrer-policy"), "no-referrer");
        assert!(body.contains(must_contain), "{path}");
        // Nothing is fetched from another origin: no absolute URLs at all.
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} refers to another origin"
        );
    }
    // The page holds no inline script or style, which the policy would block anyway.
    let (_, _, html) = api.raw(Method::GET, "/review", "", "").await;
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains("style="));
    let inline_handler = html.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!inline_handler, "no inline event handlers");
}

#[tokio::test]
async fn settings_follow_the_deployment_defaults_until_overridden() {
    let defaults = ReviewDefaults {
        blur_px: 12,
        greyscale: false,
        autoplay: true,
    };
    let api = Api::new(defaults);
    let (s, v) = api
        .json(Method::GET, "/v1/me/settings", &api.reviewer, "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = json!({"blur_px": 12, "greyscale": false, "autoplay": true});
    assert_eq!(
        v,
        json!({
            "defaults": d,
            "mine": {"blur_px": null, "greyscale": null, "autoplay": null},
            "effective": d,
        })
    );

    // A partial update changes only what it names.
    let (s, v) = api
        .json(
            Method::PUT,
            "/v1/me/settings",
            &api.reviewer,
            r#"{"blur_px": 40, "greyscale": true}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["mine"],
        json!({"blur_px": 40, "greyscale": true, "autoplay": null})
    );
    assert_eq!(
        v["effective"],
        json!({"blur_px": 40, "greyscale": true, "autoplay": true})
    );
    let (_, again) = api
        .json(Method::GET, "/v1/me/settings", &api.reviewer, "")
        .await;
    assert_eq!(again, v, "kept in the store");

    // Another token (any role may keep settings) is not affected.
    let (s, other) = api
        .json(Method::GET, "/v1/me/settings", &api.submitter, "")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(other["effective"], d);

    // null goes back to the default for that field only.
    let (_, v) = api
        .json(
            Method::PUT,
            "/v1/me/settings",
            &api.reviewer,
            r#"{"blur_px": null, "autoplay": false}"#,
        )
        .await;
    assert_eq!(
        v["mine"],
        json!({"blur_px": null, "greyscale": true, "autoplay": false})
    );
    assert_eq!(
        v["effective"],
        json!({"blur_px": 12, "greyscale": true, "autoplay": false})
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_change_nothing() {
    let api = Api::new(ReviewDefaults::default());
    let (s, _) = api.json(Method::GET, "/v1/me/settings", "", "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .json(
            Method::PUT,
            "/v1/me/settings",
            "ward_nope",
            r#"{"blur_px": 3}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    api.json(
        Method::PUT,
        "/v1/me/settings",
        &api.reviewer,
        r#"{"blur_px": 30}"#,
    )
    .await;
    for (body, says) in [
        (r#"{"blur_px": 65}"#, "0 to 64"),
        (r#"{"blur_px": -1}"#, "0 to 64"),
        (r#"{"blur_px": 2.5}"#, "whole number"),
        (r#"{"greyscale": "yes"}"#, "true or false"),
        (r#"{"autoplay": 1}"#, "true or false"),
        (
            r#"{"blur_px": 10, "theme": "dark"}"#,
            "unknown setting 'theme'",
        ),
        ("[1]", "JSON object"),
        ("not json", "JSON object"),
    ] {
        let (s, v) = api
            .json(Method::PUT, "/v1/me/settings", &api.reviewer, body)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["error"].as_str().unwrap_or("").contains(says),
            "{body}: {v}"
        );
    }
    let (_, v) = api
        .json(Method::GET, "/v1/me/settings", &api.reviewer, "")
        .await;
    assert_eq!(v["mine"]["blur_px"], json!(30), "nothing changed: {v}");
}

#[tokio::test]
async fn openapi_describes_the_settings_endpoints() {
    let api = Api::new(ReviewDefaults::default());
    let (s, doc) = api
        .json(Method::GET, "/v1/openapi.json", &api.reviewer, "")
        .await;
    assert_eq!(s, StatusCode::OK);
    for method in ["get", "put"] {
        assert!(
            doc["paths"]["/v1/me/settings"][method].is_object(),
            "{method} /v1/me/settings missing"
        );
    }
}
