//! ward's HTTP service: the native API (`/v1`), the subset of Hasher-Matcher-Actioner's API
//! that integrations call, bearer tokens with roles, `/metrics`.
//!
//! **Architecture Invariant:** this is the only crate that knows HTTP and JSON wire types.
//! Errors become status codes in one function ([`error::status_of`]); a 5xx body carries a
//! request id and nothing internal.
//!
//! # The key design decision: lookups never wait on a lock
//!
//! A lookup clones an `Arc` to the current [`Snapshot`] (the PDQ index with the entry and bank
//! of every position, and the bank table) under a read lock held for that clone only, then
//! searches without any lock. Writes go through one SQLite connection on the blocking pool
//! and then build the next snapshot beside the current one (the index's immutable main part
//! is shared, so a refresh costs the changes, not a rebuild) and swap it in; a background
//! poll of the store's change sequence does the same for changes made by other processes
//! (`ward bank import` while the server runs). So lookups scale with cores, and a write never
//! stalls them.
//!
//! # Limits
//!
//! Every request passes, outermost first: request id, log line and metrics; load shedding
//! (at most [`ServerConfig::max_in_flight`] requests at once, the next gets 503 with
//! `Retry-After: 1` at once rather than a place in an unbounded queue); the request time
//! limit (408, reading the body included, so a slow client holds a slot for at most
//! [`ServerConfig::request_timeout`]); the body size limit (413). Hashing uploads is bounded
//! separately ([`ServerConfig::max_hashing`], 503 beyond). `/healthz` is exempt from all but
//! the first.
//!
//! # Compatibility with HMA 2.0
//!
//! Same paths, query parameters, JSON shapes, status codes and `{"message": ...}` errors as
//! HMA's `hashing.py`, `matching.py` and `curation.py` blueprints for: `GET|POST /h/hash`,
//! `GET /m/raw_lookup`, `GET|POST /m/lookup`, `GET /m/index/status`, `POST /m/compare`,
//! `GET|POST /c/banks`, `GET|PUT|DELETE /c/bank/<name>`, `POST /c/bank/<name>/signal`,
//! `POST /c/bank/<name>/content`, `GET|PUT|DELETE /c/bank/<name>/content/<id>`, `GET /status`.
//! PDQ under quality 50 hashes to `""`, bank names created through `/c/banks` must be
//! `UPPER_WITH_UNDERSCORE`, an existing bank gives 403, an unknown one 404.
//!
//! Where ward differs:
//! - **Auth.** Every endpoint but `/healthz` needs `Authorization: Bearer <token>` (HMA has
//!   none): 401 without a known token, 403 for a role that may not.
//! - **Ids.** `bank_content_id` is ward's entry id: one signal each. An upload hashed to
//!   several signals (only with `types=pdq,md5,…`) becomes several entries, and `id` in the
//!   answer is the first one's.
//! - **URL fetching from an allowlist only.** `url=` (on `/h/hash`, `/m/lookup`,
//!   `/c/bank/<name>/content`) is refused with 400 and HMA's error shape unless the host is
//!   on `ward serve --fetch-allow-host`, and every redirect is checked the same way: HMA
//!   fetches any URL by default (server-side request forgery). See `fetch.rs`.
//! - **Deletes keep the record.** `DELETE` of a bank or content disables the entries (they no
//!   longer match) and hides the bank; nothing is erased, since matches and decisions refer
//!   to them. A content's `disable_until_ts` in the future disables it until re-enabled (ward
//!   does not re-enable on its own at that time).
//! - **Signal types.** `pdq`, plus `md5` and `sha256` of the bytes (HMA's `video_md5` is read
//!   as `md5`). A `video` upload (or a fetched video) hashes to `video_md5` and `vpdq` (one
//!   frame a second, python-threatexchange's `vpdq_to_json` string, byte for byte), and
//!   `vpdq` signals can be added to banks; vPDQ lookups go through `POST /v1/content`
//!   (every frame, with segments), not `/m/lookup`. `/m/index/status` lists
//!   `pdq` only (digests are looked up in the store's unique index, not a memory index).
//! - **`POST /m/lookup` of an image with PDQ quality under 50** answers `{"pdq": {}}` where
//!   HMA answers 400.
//! - **Coin flip.** `seed=` gives a stable flip from ward's own hash, not Python's.
//! - **Metadata.** `metadata.content_id` is kept as the entry's source id; `content_uri`,
//!   `json` and `note` are validated as HMA does but not stored yet.

mod auth;
mod cases;
pub mod error;
mod fetch;
mod hma;
mod limits;
mod listen;
mod metrics;
mod review;
mod state;
mod upload;
mod v1;
mod video;
mod webhooks;

pub use auth::{allows, create_token, digest, new_token, Permission, Principal, TokenError};
pub use error::{ApiError, ErrorKind, Flavor};
pub use review::{ReviewDefaults, CONTENT_SECURITY_POLICY};
pub use state::{AppState, BankInfo, ServerConfig, Snapshot, StartError};
pub use webhooks::{signature, WebhookConfig};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use auth::code;

/// The whole HTTP surface, with its middleware, over `state`.
pub fn router(state: AppState) -> Router {
    let submit = Router::new()
        .route("/h/hash", get(hma::hash_get).post(hma::hash_post))
        .route("/m/raw_lookup", get(hma::raw_lookup))
        .route("/m/lookup", get(hma::lookup_get).post(hma::lookup_post))
        .route("/m/index/status", get(hma::index_status))
        .route("/m/compare", post(hma::compare))
        .route("/v1/content", post(v1::submit_content))
        .route_layer(from_fn_with_state(
            state.clone(),
            auth::require::<{ code::SUBMIT }>,
        ));
    let read_banks = Router::new()
        .route("/c/banks", get(hma::banks_index))
        .route("/c/bank/{name}", get(hma::bank_show))
        .route("/c/bank/{name}/content/{id}", get(hma::content_get))
        .route("/v1/banks", get(v1::banks_list))
        .route_layer(from_fn_with_state(
            state.clone(),
            auth::require::<{ code::READ_BANKS }>,
        ));
    let write_banks = Router::new()
        .route("/c/banks", post(hma::bank_create))
        .route(
            "/c/bank/{name}",
            axum::routing::put(hma::bank_update).delete(hma::bank_delete),
        )
        .route("/c/bank/{name}/signal", post(hma::bank_add_signal))
        .route("/c/bank/{name}/content", post(hma::bank_add_content))
        .route(
            "/c/bank/{name}/content/{id}",
            axum::routing::put(hma::content_update).delete(hma::content_delete),
        )
        .route("/v1/banks", post(v1::banks_create))
        .route("/v1/banks/{name}/import", post(v1::bank_import))
        .route("/v1/banks/{name}/entries", post(v1::bank_add_media))
        .route(
            "/v1/banks/{name}/entries/{id}/disable",
            post(v1::entry_disable),
        )
        .route_layer(from_fn_with_state(
            state.clone(),
            auth::require::<{ code::WRITE_BANKS }>,
        ));
    let operate = Router::new()
        .route("/status", get(hma::status))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(v1::openapi))
        .route_layer(from_fn_with_state(
            state.clone(),
            auth::require::<{ code::OPERATE }>,
        ));

    Router::new()
        .route("/healthz", get(healthz))
        // Same path, different methods, different roles: merge per method.
        .merge(merge_methods(submit, read_banks, write_banks, operate))
        .merge(cases::routes(state.clone()))
        .merge(review::routes(state.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(from_fn_with_state(state.clone(), limits::deadline))
        .layer(from_fn_with_state(state.clone(), limits::shed))
        .layer(from_fn_with_state(state.clone(), limits::observe))
        .with_state(state)
}

fn merge_methods(
    submit: Router<AppState>,
    read_banks: Router<AppState>,
    write_banks: Router<AppState>,
    operate: Router<AppState>,
) -> Router<AppState> {
    submit.merge(read_banks).merge(write_banks).merge(operate)
}

/// `GET /healthz`: the process answers (no token needed).
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let snap = state.snapshot();
    let body = state.inner.metrics.render(&[
        (
            "ward_index_hashes",
            "Active PDQ hashes in the index.",
            snap.pdq.active_len() as f64,
        ),
        (
            "ward_index_memory_bytes",
            "Bytes the PDQ index holds.",
            snap.pdq.memory_bytes() as f64,
        ),
        (
            "ward_index_seq",
            "Store change sequence the index is current to.",
            snap.pdq.seq() as f64,
        ),
        ("ward_banks", "Live banks.", snap.banks.len() as f64),
        (
            "ward_webhook_undelivered",
            "Decision events not yet taken by the webhook receiver.",
            state.inner.webhooks.undelivered.load(Relaxed) as f64,
        ),
        (
            "ward_webhook_delivered",
            "Webhook events delivered since start.",
            state.inner.webhooks.delivered.load(Relaxed) as f64,
        ),
        (
            "ward_webhook_failures",
            "Failed webhook delivery attempts since start (each is retried).",
            state.inner.webhooks.failures.load(Relaxed) as f64,
        ),
        (
            "ward_uptime_seconds",
            "Seconds since the server started.",
            state.inner.started.elapsed().as_secs_f64(),
        ),
    ]);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn not_found(req: axum::extract::Request) -> Response {
    let path = req.uri().path().to_owned();
    ApiError::not_found(format!("no route {} {path}", req.method())).render(Flavor::of_path(&path))
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes the requests
/// in flight. Also starts the store poller.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.spawn_poller();
    webhooks::spawn(&state);
    let config = state.config().clone();
    let app = router(state);
    listen::serve(listener, app, &config, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
