//! Reading request bodies: multipart uploads and JSON, with errors in ward's terms.
//!
//! Extractor rejections are taken as values (`Result<Multipart, _>`) and turned into
//! [`ApiError`]s here, so a malformed body gets the same JSON error shape as everything else
//! instead of axum's plain-text default, and an over-limit body gets 413.

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind};

/// One part of a multipart body.
pub(crate) struct Part {
    /// The form field name.
    pub name: String,
    /// The file name, for file parts.
    pub file_name: Option<String>,
    /// The bytes.
    pub data: Bytes,
}

/// A multipart body read whole (it is bounded by the body limit).
pub(crate) struct Form {
    pub parts: Vec<Part>,
}

impl Form {
    /// File parts (those with a file name), as Flask's `request.files` counts them.
    pub fn files(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.file_name.is_some())
    }

    /// The text of a non-file field.
    pub fn field(&self, name: &str) -> Option<Result<&str, ApiError>> {
        self.parts
            .iter()
            .find(|p| p.file_name.is_none() && p.name == name)
            .map(|p| {
                std::str::from_utf8(&p.data)
                    .map_err(|_| ApiError::bad_request(format!("form field '{name}' is not UTF-8")))
            })
    }
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            "the upload is over the body size limit",
        )
    } else {
        ApiError::bad_request(format!("invalid multipart body: {}", e.body_text()))
    }
}

/// Reads every part of a multipart body.
pub(crate) async fn read_form(mp: Result<Multipart, MultipartRejection>) -> Result<Form, ApiError> {
    let mut mp = mp.map_err(|e| {
        ApiError::bad_request(format!(
            "expected a multipart/form-data body: {}",
            e.body_text()
        ))
    })?;
    let mut parts = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await.map_err(multipart_error)?;
        parts.push(Part {
            name,
            file_name,
            data,
        });
    }
    Ok(Form { parts })
}

/// A body read whole, or 413 over the limit.
pub(crate) fn body_bytes(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                "the body is over the size limit",
            )
        } else {
            ApiError::bad_request(format!("cannot read the body: {}", e.body_text()))
        }
    })
}

/// Parses a JSON body into `T`, with the parser's reason on failure.
pub(crate) fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Whether a request's content type is multipart.
pub(crate) fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}
