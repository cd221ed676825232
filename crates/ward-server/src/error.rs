//! Errors and their HTTP form: one kind enum, one function from kind to status code
//! ([`status_of`]), two body shapes (native `{"error", "detail"}` and HMA's `{"message"}`).
//!
//! A 5xx body never carries the cause: the cause is logged with the request id, and the
//! body names only that id, so an operator can find it and a caller learns nothing internal.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use ward_engine::ward_store::StoreError;
use ward_engine::EngineError;
use ward_media::MediaError;

tokio::task_local! {
    /// The id of the request being served, set by the outermost middleware.
    pub(crate) static REQUEST_ID: u64;
}

/// The id of the request this task serves (0 outside a request).
pub(crate) fn request_id() -> u64 {
    REQUEST_ID.try_with(|id| *id).unwrap_or(0)
}

/// What went wrong, as far as a caller needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed or a value is invalid. The caller's fault.
    BadRequest,
    /// No token, or an unknown or revoked one.
    Unauthorized,
    /// The token's role may not do this.
    Forbidden,
    /// No such bank, entry or route.
    NotFound,
    /// It exists already (HMA answers 403 for this; the native API 409).
    Conflict,
    /// The body is over the size limit.
    PayloadTooLarge,
    /// The request took longer than the request time limit.
    Timeout,
    /// Too many requests in flight: shed, retry shortly.
    Overloaded,
    /// The server failed; the cause is in its log.
    Internal,
}

/// Which body shape an error takes: HMA's endpoints answer as HMA does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `{"error": "...", "detail": ...}`
    Native,
    /// `{"message": "..."}`
    Hma,
}

impl Flavor {
    /// The flavor of a path: `/v1/…`, `/healthz` and `/metrics` are native, the rest HMA's.
    pub fn of_path(path: &str) -> Flavor {
        if path.starts_with("/v1/") || path == "/v1" || path == "/healthz" || path == "/metrics" {
            Flavor::Native
        } else {
            Flavor::Hma
        }
    }
}

/// The one mapping from error kind to HTTP status.
pub fn status_of(kind: ErrorKind, flavor: Flavor) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        // HMA's `POST /c/banks` answers 403 for a bank that exists; clients test for it.
        ErrorKind::Conflict if flavor == Flavor::Hma => StatusCode::FORBIDDEN,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way to becoming a response. Its `IntoResponse` gives the native shape;
/// [`Hma`] wraps it for HMA's.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
    detail: Value,
}

impl ApiError {
    /// An error the caller can act on; `message` is shown to them.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            detail: Value::Null,
        }
    }

    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A 500: `cause` is logged with the request id and not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = request_id();
        tracing::error!(request_id = id, cause = %cause, "internal error");
        Self::new(
            ErrorKind::Internal,
            format!("internal error (request id {id}; the cause is in the server log)"),
        )
    }

    /// Adds machine-readable detail (native shape only).
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message shown to the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response in the given shape.
    pub fn render(&self, flavor: Flavor) -> Response {
        let status = status_of(self.kind, flavor);
        let body = match flavor {
            Flavor::Native => json!({"error": self.message, "detail": self.detail}),
            Flavor::Hma => json!({"message": self.message}),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        match self.kind {
            ErrorKind::Overloaded => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ErrorKind::Unauthorized => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"ward\""),
                );
            }
            _ => {}
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(Flavor::Native)
    }
}

/// An error in HMA's shape, for HMA's endpoints (`?` converts any [`ApiError`] source).
#[derive(Debug)]
pub struct Hma(pub ApiError);

impl<E: Into<ApiError>> From<E> for Hma {
    fn from(e: E) -> Self {
        Hma(e.into())
    }
}

impl IntoResponse for Hma {
    fn into_response(self) -> Response {
        self.0.render(Flavor::Hma)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchBank(_)
            | StoreError::NoSuchEntry(_)
            | StoreError::NoSuchCase(_)
            | StoreError::NoSuchItem { .. }
            | StoreError::NoSuchContent(_) => ApiError::not_found(e.to_string()),
            StoreError::CaseClosed(_) => ApiError::new(ErrorKind::Conflict, e.to_string()),
            StoreError::BankExists(_) => ApiError::new(ErrorKind::Conflict, e.to_string()),
            StoreError::Invalid(_) => ApiError::bad_request(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Parse { .. } | EngineError::Invalid(_) => {
                ApiError::bad_request(e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::TooManyBytes { limit } => ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("the upload is over the limit of {limit} bytes"),
            ),
            MediaError::TooManyPixels { .. } => {
                ApiError::new(ErrorKind::PayloadTooLarge, e.to_string())
            }
            MediaError::Io { .. } => ApiError::internal(e),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("worker task failed: {e}"))
    }
}
