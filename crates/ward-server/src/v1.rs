//! The native API, `/v1`, described by `openapi.json` (served at `/v1/openapi.json`; a test
//! checks that every route here is in it). Errors are `{"error": "...", "detail": ...}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::multipart::Multipart;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Extension, FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use ward_engine::exchange::{self, Format, SignalType};
use ward_engine::ward_store::{Bank, NewBank, Policy};
use ward_engine::Via;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::hma::Params;
use crate::upload::{body_bytes, is_multipart, json_body, read_form};
use crate::AppState;

/// The OpenAPI document (hand-written; kept beside the routes it describes).
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// `GET /v1/openapi.json`
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn bank_json(b: &Bank, ratio: Option<f64>) -> Value {
    json!({
        "name": b.name, "policy": b.policy.as_str(), "labels": b.labels,
        "description": b.description, "source": b.source,
        "active_entries": b.active_entries, "disabled_entries": b.disabled_entries,
        "created_at": b.created_at, "created_by": b.created_by,
        "matching_enabled_ratio": ratio.unwrap_or(1.0),
    })
}

/// `GET /v1/banks`
pub(crate) async fn banks_list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let snap = state.snapshot();
    let banks = state.read(|s| Ok(s.banks()?)).await?;
    let list: Vec<Value> = banks
        .iter()
        .map(|b| bank_json(b, snap.banks.get(&b.id).map(|i| i.ratio)))
        .collect();
    Ok(Json(json!({ "banks": list })))
}

/// `POST /v1/banks` with `{"name", "policy"?, "labels"?, "description"?, "source"?}`: 201.
pub(crate) async fn banks_create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        name: String,
        #[serde(default)]
        policy: Option<String>,
        #[serde(default)]
        labels: Vec<String>,
        #[serde(default)]
        description: String,
        #[serde(default)]
        source: String,
    }
    let c: Create = json_body(&body_bytes(body)?)?;
    let policy = Policy::parse(c.policy.as_deref().unwrap_or("review"))?;
    let bank = state
        .write(move |s| {
            Ok(s.create_bank(
                &NewBank {
                    name: c.name,
                    description: c.description,
                    labels: c.labels,
                    policy,
                    source: c.source,
                },
                &who.actor(),
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(bank_json(&bank, None))).into_response())
}

/// `POST /v1/banks/{name}/import?format=&signal_type=` with a hash list as the body:
/// all or nothing, idempotent, as `ward bank import`.
pub(crate) async fn bank_import(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let body = body_bytes(body)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the hash list is not UTF-8 text"))?
        .to_owned();
    let format = match p.get("format") {
        Some(f) => Format::parse(f)?,
        None => Format::sniff(&text),
    };
    let default_type =
        SignalType::parse(p.get("signal_type").unwrap_or("pdq")).map_err(ApiError::bad_request)?;
    let n = name.clone();
    // Parsing ten million lines is CPU work: off the async threads.
    let parsed =
        tokio::task::spawn_blocking(move || exchange::parse("body", &text, format, default_type))
            .await?
            .map_err(|e| match &e {
                ward_engine::EngineError::Parse { line, .. } => {
                    ApiError::bad_request(e.to_string()).with_detail(json!({ "line": line }))
                }
                _ => e.into(),
            })?;
    let duplicates = parsed.duplicates;
    let outcome = state
        .write(move |s| Ok(s.import(&n, &parsed.entries, &who.actor())?))
        .await?;
    Ok(Json(json!({
        "bank": name,
        "added": outcome.added,
        "already_present": outcome.already_present,
        "duplicates": duplicates,
    })))
}

/// `POST /v1/banks/{name}/entries/{id}/disable`
pub(crate) async fn entry_disable(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no entry '{id}' in that bank")))?;
    let n = name.clone();
    state.write(move |s| Ok(s.disable_entry(&n, id)?)).await?;
    Ok(Json(
        json!({"bank": name, "entry_id": id, "status": "disabled"}),
    ))
}

/// `POST /v1/content`: a multipart upload (one file part; fields `content_id` and optional
/// `metadata` JSON) or the raw bytes as the body (`?content_id=`). Answers its hashes and the
/// active bank entries it matches.
pub(crate) async fn submit_content(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let mut content_id = p.get("content_id").map(str::to_owned);
    let mut metadata = match p.get("metadata") {
        Some(m) => Some(parse_metadata(m)?),
        None => None,
    };
    let bytes = if is_multipart(req.headers()) {
        let form = read_form(Multipart::from_request(req, &state).await).await?;
        if let Some(id) = form.field("content_id") {
            content_id = Some(id?.to_owned());
        }
        if let Some(m) = form.field("metadata") {
            metadata = Some(parse_metadata(m?)?);
        }
        let files: Vec<_> = form.files().collect();
        match files.as_slice() {
            [one] => one.data.clone(),
            [] => return Err(ApiError::bad_request("no file part in the multipart body")),
            _ => return Err(ApiError::bad_request("one file per request")),
        }
    } else {
        body_bytes(Bytes::from_request(req, &state).await)?
    };
    let content_id = content_id.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::bad_request("content_id is required (the platform's id for this content)")
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the upload is empty"));
    }
    let signals = state.hash_image(bytes.to_vec()).await?;

    let mut pdq_hits = Vec::new();
    if signals.pdq.quality >= 50 {
        let snap = state.snapshot();
        pdq_hits = snap.pdq.search(
            &[(Via::Original, signals.pdq.hash)],
            state.config().pdq_threshold,
        );
    }
    let md5 = signals.digests.md5.to_vec();
    let sha256 = signals.digests.sha256.to_vec();
    let matches = state
        .read(move |s| {
            let mut out = Vec::new();
            let mut push =
                |e: ward_engine::ward_store::Entry, distance: u32| -> Result<(), ApiError> {
                    let bank = s.bank(&e.bank)?;
                    let mut labels = e.labels.clone();
                    for l in bank.labels {
                        if !labels.contains(&l) {
                            labels.push(l);
                        }
                    }
                    let ty = SignalType::parse(&e.signal_type).ok();
                    out.push(json!({
                        "bank": e.bank, "entry_id": e.id, "signal_type": e.signal_type,
                        "signal": ty.map(|t| t.format_value(&e.value)),
                        "distance": distance, "labels": labels, "source_id": e.source_id,
                        "policy": bank.policy.as_str(),
                    }));
                    Ok(())
                };
            for h in pdq_hits {
                push(s.entry(h.entry)?, h.distance)?;
            }
            for (ty, v) in [("md5", &md5), ("sha256", &sha256)] {
                for e in s.lookup_exact(ty, v)? {
                    push(e, 0)?;
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({
        "content_id": content_id,
        "metadata": metadata,
        "hashes": {
            "pdq": {"hash": signals.pdq.hash.to_hex(), "quality": signals.pdq.quality},
            "md5": SignalType::Md5.format_value(&signals.digests.md5),
            "sha256": SignalType::Sha256.format_value(&signals.digests.sha256),
        },
        "width": signals.width,
        "height": signals.height,
        "format": signals.format,
        "matches": matches,
    })))
}

fn parse_metadata(text: &str) -> Result<Value, ApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::bad_request("metadata must be a JSON object")),
    }
}
