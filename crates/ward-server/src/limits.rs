//! The middleware every request passes: request id, log line and metrics (outermost), then
//! load shedding, then the request time limit.
//!
//! Shedding is a semaphore tried without waiting: when `max_in_flight` requests are being
//! served, the next one gets 503 at once instead of joining a queue that would grow until
//! memory runs out and every caller times out. The time limit covers reading the body too,
//! so a client that trickles an upload holds its slot for at most `request_timeout`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ApiError, ErrorKind, Flavor, REQUEST_ID};
use crate::AppState;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Outermost: gives the request an id, logs it and records its metrics.
pub(crate) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let start = Instant::now();
    // Cheap clones (shared buffers): this runs for every request.
    let method = req.method().clone();
    let uri = req.uri().clone();
    // The route pattern, not the path: metrics labels must not grow with what callers send.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = REQUEST_ID.scope(id, next.run(req)).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state.inner.metrics.record(route, status, elapsed);
    let micros = elapsed.as_micros() as u64;
    let path = uri.path();
    if status >= 500 {
        tracing::warn!(request_id = id, %method, path, status, micros, "request failed");
    } else {
        tracing::debug!(request_id = id, %method, path, status, micros, "request");
    }
    resp
}

/// Refuses a request with 503 when `max_in_flight` are being served.
pub(crate) async fn shed(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A health check must answer under load: that is when it is asked.
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let Ok(_permit) = state.inner.in_flight.clone().try_acquire_owned() else {
        return ApiError::new(
            ErrorKind::Overloaded,
            "server busy: too many requests in flight; retry shortly",
        )
        .render(Flavor::of_path(req.uri().path()));
    };
    next.run(req).await
}

/// Answers 408 when a request (body included) takes longer than `request_timeout`.
pub(crate) async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let flavor = Flavor::of_path(req.uri().path());
    let limit = state.inner.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            ErrorKind::Timeout,
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .render(flavor),
    }
}
