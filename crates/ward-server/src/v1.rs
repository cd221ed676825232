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
use ward_engine::ward_store::{
    Bank, MatchInput, MediaType, NewBank, NewContent, NewEntry, Policy, Submission,
};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::hma::Params;
use crate::upload::{body_bytes, is_multipart, json_body, read_form, Form};
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

/// `POST /v1/banks/{name}/entries`: media to add (one multipart file part, or the raw bytes),
/// with `labels` (comma-separated) and `source_id` as query or form fields. A photo adds its
/// PDQ (quality 50 or more) with its derived hashes (crops, small rotations: edit-robust
/// matching), MD5 and SHA-256; a video its vPDQ at one hash a second (the lists'
/// convention), MD5 and SHA-256. Idempotent; 201 when something was added.
pub(crate) async fn bank_add_media(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = Params::from(q)?;
    let mut labels = p.get("labels").map(str::to_owned);
    let mut source_id = p.get("source_id").map(str::to_owned);
    let (bytes, form) = read_upload(&state, req).await?;
    if let Some(form) = form {
        if let Some(l) = form.field("labels") {
            labels = Some(l?.to_owned());
        }
        if let Some(id) = form.field("source_id") {
            source_id = Some(id?.to_owned());
        }
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the upload is empty"));
    }
    let labels: Vec<String> = labels
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    for l in &labels {
        ward_engine::ward_store::validate_label(l)?;
    }
    let source_id = source_id.filter(|s| !s.is_empty());
    let n = name.clone();
    state.read(move |s| Ok(s.bank(&n)?)).await?;

    let new_entry = |ty: SignalType, value: Vec<u8>| NewEntry {
        signal_type: ty.name(),
        value,
        labels: labels.clone(),
        source_id: source_id.clone(),
    };
    let mut entries = Vec::new();
    let mut derived = Vec::new();
    let media_type;
    let digests = if crate::video::is_video(&bytes) {
        media_type = "video";
        let (v, d) = state
            .hash_video_with(bytes.to_vec(), 1.0, false, &ward_media::BANK_VIDEO_DERIVED)
            .await?;
        let entry = ward_engine::vpdq_frames_entry(&v.vpdq, labels.clone(), source_id.clone());
        let d = ward_engine::derived_vpdq_signals(&d);
        if !d.is_empty() {
            derived.push(("vpdq", entry.value.clone(), d));
        }
        entries.push(entry);
        v.digests
    } else {
        media_type = "photo";
        let (sig, extras) = state.hash_image_for_bank(bytes.to_vec()).await?;
        if sig.pdq.quality >= 50 {
            let value = sig.pdq.hash.as_bytes().to_vec();
            let d = ward_engine::derived_signals(&extras.derived, 50);
            if !d.is_empty() {
                derived.push(("pdq", value.clone(), d));
            }
            entries.push(new_entry(SignalType::Pdq, value));
        }
        sig.digests
    };
    entries.push(new_entry(SignalType::Md5, digests.md5.to_vec()));
    entries.push(new_entry(SignalType::Sha256, digests.sha256.to_vec()));
    let actor = who.actor();
    let n = name.clone();
    let (outcome, nd, ids) = state
        .write(move |s| {
            let (o, nd) = s.import_with_derived(&n, &entries, &derived, &actor)?;
            let mut ids = Vec::new();
            for e in &entries {
                if let Some(id) = s.entry_id_of(&n, e.signal_type, &e.value)? {
                    ids.push(json!({"entry_id": id, "signal_type": e.signal_type}));
                }
            }
            Ok((o, nd, ids))
        })
        .await?;
    let status = if outcome.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "bank": name, "media_type": media_type, "entries": ids,
            "added": outcome.added, "already_present": outcome.already_present,
            "derived": nd,
        })),
    )
        .into_response())
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
/// `metadata` JSON) or the raw bytes as the body (`?content_id=`). Answers its hashes, the
/// active bank entries it matches, its `outcome` and its `case`.
///
/// The content is recorded whether or not it matched (so `GET /v1/content/{id}` can answer);
/// the bytes are kept in the media folder only when it matched, and they are written before
/// the case row commits, so a case never points at media that is not there.
pub(crate) async fn submit_content(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let mut content_id = p.get("content_id").map(str::to_owned);
    let mut metadata = match p.get("metadata") {
        Some(m) => Some(parse_metadata(m)?),
        None => None,
    };
    let (bytes, form) = read_upload(&state, req).await?;
    if let Some(form) = form {
        if let Some(id) = form.field("content_id") {
            content_id = Some(id?.to_owned());
        }
        if let Some(m) = form.field("metadata") {
            metadata = Some(parse_metadata(m?)?);
        }
    }
    let content_id = content_id.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::bad_request("content_id is required (the platform's id for this content)")
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the upload is empty"));
    }
    if content_id.chars().count() > 256 {
        return Err(ApiError::bad_request(
            "content_id must be at most 256 characters",
        ));
    }
    if crate::video::is_video(&bytes) {
        return submit_video(state, who, content_id, metadata, bytes).await;
    }
    // Edit-robust matching (issue 8): the whole image at the field's threshold, its
    // rotations, flips and regions (borders, caption bands, the photo in a screenshot) and
    // the entries' derived hashes at the tighter thresholds; each entry once, closest first.
    let (signals, candidates) = state.hash_image_normalised(bytes.to_vec()).await?;
    let queries = ward_engine::candidate_queries(&candidates, 50);
    let pdq_hits = if queries.is_empty() {
        Vec::new()
    } else {
        state.snapshot().pdq.search_with(
            &queries,
            &ward_engine::SearchOptions {
                threshold: state.config().pdq_threshold,
                region_threshold: ward_engine::DEFAULT_REGION_THRESHOLD,
                derived_threshold: Some(ward_engine::DEFAULT_DERIVED_THRESHOLD),
            },
        )
    };
    let md5 = signals.digests.md5.to_vec();
    let sha256 = signals.digests.sha256.to_vec();
    let (matches, inputs) = state
        .read(move |s| {
            let mut out = Vec::new();
            let mut inputs = Vec::new();
            let mut push = |e: ward_engine::ward_store::Entry,
                            distance: u32,
                            via: &str,
                            region: Option<Value>|
             -> Result<(), ApiError> {
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
                    "distance": distance, "via": via, "region": region,
                    "labels": labels, "source_id": e.source_id,
                    "policy": bank.policy.as_str(),
                }));
                Ok(())
            };
            for h in pdq_hits {
                let region = h
                    .via
                    .region()
                    .map(|r| json!({"x": r.x, "y": r.y, "width": r.width, "height": r.height}));
                inputs.push(MatchInput {
                    entry_id: h.entry,
                    distance: h.distance,
                    via: h.via.name(),
                    segments: json!([]),
                    region: region.clone(),
                });
                push(s.entry(h.entry)?, h.distance, &h.via.name(), region)?;
            }
            for (ty, v) in [("md5", &md5), ("sha256", &sha256)] {
                for e in s.lookup_exact(ty, v)? {
                    inputs.push(MatchInput {
                        entry_id: e.id,
                        distance: 0,
                        via: "exact".to_owned(),
                        segments: json!([]),
                        region: None,
                    });
                    push(e, 0, "exact", None)?;
                }
            }
            Ok((out, inputs))
        })
        .await?;
    let new = NewContent {
        content_id: content_id.clone(),
        submitted_by: who.actor(),
        media_type: MediaType::Photo,
        content_type: mime_of(signals.format).to_owned(),
        sha256: signals.digests.sha256,
        md5: signals.digests.md5,
        pdq: Some((*signals.pdq.hash.as_bytes(), signals.pdq.quality)),
        metadata: metadata.clone(),
        has_media: false,
    };
    let submission = record(&state, new, bytes, inputs).await?;
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
        "outcome": submission.outcome.as_str(),
        "case": case_ref_json(&submission),
        "decision_id": submission.decision,
    })))
}

/// `POST /v1/content` of a video: vPDQ at every frame (and of the content inside letterbox
/// bars, when there are bars), matched against the vPDQ bank entries with segments and a
/// verdict; MD5 and SHA-256 looked up exactly. Cases, media and policy as for photos.
async fn submit_video(
    state: AppState,
    who: Principal,
    content_id: String,
    metadata: Option<Value>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let content_type = video_mime(&bytes);
    let signals = state.hash_video(bytes.to_vec(), 0.0, true).await?;
    // The upload as it is, then its content inside bars (and inside added bars); per entry
    // the best.
    let mut found = Vec::new();
    let plain = state.match_video(signals.vpdq.clone()).await?;
    found.extend(plain.into_iter().map(|m| (m, "vpdq".to_owned(), None)));
    for c in signals.vpdq_cropped.iter().chain(&signals.vpdq_nested) {
        let r = c.content;
        let region = json!({"x": r.x, "y": r.y, "width": r.width, "height": r.height});
        for m in state.match_video(c.vpdq.clone()).await? {
            match found.iter_mut().find(|(f, _, _)| f.entry.id == m.entry.id) {
                Some(f) if f.0.comparison.query_match_pct >= m.comparison.query_match_pct => {}
                Some(f) => *f = (m, format!("vpdq {}", c.via), Some(region.clone())),
                None => found.push((m, format!("vpdq {}", c.via), Some(region.clone()))),
            }
        }
    }
    let mut inputs = Vec::new();
    let mut matches = Vec::new();
    for (m, via, region) in &found {
        // Through an entry's derived vPDQ (a crop of the media ward hashed): say which.
        let via = match &m.derived {
            Some(d) => format!("{via}+derived:{d}"),
            None => via.clone(),
        };
        let segments: Vec<Value> = m
            .segments
            .iter()
            .map(|s| {
                json!({
                    "query_start": s.query_start, "query_end": s.query_end,
                    "bank_start": s.bank_start, "bank_end": s.bank_end,
                    "frames": s.frames, "mean_distance": s.mean_distance,
                })
            })
            .collect();
        // A video match's distance: the best segment's mean frame distance.
        let distance = m
            .segments
            .iter()
            .map(|s| s.mean_distance)
            .fold(f64::INFINITY, f64::min);
        let distance = if distance.is_finite() {
            distance.round() as u32
        } else {
            0
        };
        inputs.push(MatchInput {
            entry_id: m.entry.id,
            distance,
            via: via.clone(),
            segments: Value::Array(segments.clone()),
            region: region.clone(),
        });
        matches.push(json!({
            "bank": m.entry.bank, "entry_id": m.entry.id, "signal_type": "vpdq",
            "distance": distance, "via": via, "region": region, "labels": m.labels,
            "source_id": m.entry.source_id,
            "query_match_pct": m.comparison.query_match_pct,
            "compared_match_pct": m.comparison.compared_match_pct,
            "verdict": m.verdict.name(), "segments": segments,
        }));
    }
    let (md5, sha256) = (
        signals.digests.md5.to_vec(),
        signals.digests.sha256.to_vec(),
    );
    let exact = state
        .read(move |s| {
            let mut out = Vec::new();
            for (ty, v) in [("md5", &md5), ("sha256", &sha256)] {
                for e in s.lookup_exact(ty, v)? {
                    let policy = s.bank(&e.bank)?.policy;
                    out.push((e, policy));
                }
            }
            Ok(out)
        })
        .await?;
    for (e, policy) in exact {
        inputs.push(MatchInput {
            entry_id: e.id,
            distance: 0,
            via: "exact".to_owned(),
            segments: json!([]),
            region: None,
        });
        matches.push(json!({
            "bank": e.bank, "entry_id": e.id, "signal_type": e.signal_type,
            "distance": 0, "via": "exact", "labels": e.labels, "source_id": e.source_id,
            "policy": policy.as_str(),
        }));
    }
    let new = NewContent {
        content_id: content_id.clone(),
        submitted_by: who.actor(),
        media_type: MediaType::Video,
        content_type: content_type.to_owned(),
        sha256: signals.digests.sha256,
        md5: signals.digests.md5,
        pdq: None,
        metadata: metadata.clone(),
        has_media: false,
    };
    let submission = record(&state, new, bytes, inputs).await?;
    let info = &signals.info;
    Ok(Json(json!({
        "content_id": content_id,
        "metadata": metadata,
        "media_type": "video",
        "hashes": {
            "vpdq": {"frames": signals.vpdq.len(), "seconds_per_hash": 0},
            "md5": SignalType::Md5.format_value(&signals.digests.md5),
            "sha256": SignalType::Sha256.format_value(&signals.digests.sha256),
        },
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "duration": info.duration,
        "letterbox": signals.vpdq_cropped.as_ref().map(|c| json!({
            "x": c.content.x, "y": c.content.y,
            "width": c.content.width, "height": c.content.height, "via": c.via,
        })),
        "matches": matches,
        "outcome": submission.outcome.as_str(),
        "case": case_ref_json(&submission),
        "decision_id": submission.decision,
    })))
}

/// Records a submission: keeps the upload's bytes in the media folder when it matched
/// anything (before the case that refers to them commits), then the content, its case and
/// policy outcome in one write, and wakes the webhook sender for the events it wrote.
async fn record(
    state: &AppState,
    mut new: NewContent,
    bytes: Bytes,
    inputs: Vec<MatchInput>,
) -> Result<Submission, ApiError> {
    new.has_media = !inputs.is_empty();
    if new.has_media {
        let dir = crate::cases::media_dir(state);
        let sha = new.sha256;
        tokio::task::spawn_blocking(move || dir.put(&sha, &bytes)).await??;
    }
    let submission = state
        .write(move |s| Ok(s.record_submission(&new, &inputs)?))
        .await?;
    if !submission.events.is_empty() {
        state.inner.webhooks.wake();
    }
    Ok(submission)
}

/// A submission's case as `POST /v1/content` answers it.
fn case_ref_json(submission: &Submission) -> Option<Value> {
    submission
        .case
        .as_ref()
        .map(|c| json!({"id": c.id, "status": c.status.as_str(), "grouped": c.grouped}))
}

/// The MIME type of a video container, by its bytes (what a browser needs to play it back).
fn video_mime(bytes: &[u8]) -> &'static str {
    match ward_media::sniff_video(&bytes[..bytes.len().min(512)]) {
        Some("mov") => "video/mp4",
        Some("matroska") => "video/webm",
        Some("avi") => "video/x-msvideo",
        Some("flv") => "video/x-flv",
        Some("asf") => "video/x-ms-asf",
        Some("ogg") => "video/ogg",
        Some("mpeg") => "video/mpeg",
        Some("mpegts") => "video/mp2t",
        _ => "application/octet-stream",
    }
}

/// The MIME type of an image format name from `ward-media`.
fn mime_of(format: &str) -> &'static str {
    match format {
        "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tiff" => "image/tiff",
        "pnm" => "image/x-portable-anymap",
        _ => "application/octet-stream",
    }
}

/// The media of an upload: the one file part of a multipart body (with the form, for its
/// other fields), or the raw body.
async fn read_upload(state: &AppState, req: Request) -> Result<(Bytes, Option<Form>), ApiError> {
    if !is_multipart(req.headers()) {
        return Ok((body_bytes(Bytes::from_request(req, state).await)?, None));
    }
    let form = read_form(Multipart::from_request(req, state).await).await?;
    let files: Vec<_> = form.files().collect();
    let bytes = match files.as_slice() {
        [one] => one.data.clone(),
        [] => return Err(ApiError::bad_request("no file part in the multipart body")),
        _ => return Err(ApiError::bad_request("one file per request")),
    };
    Ok((bytes, Some(form)))
}

fn parse_metadata(text: &str) -> Result<Value, ApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::bad_request("metadata must be a JSON object")),
    }
}
