//! Cases over HTTP: the review queue, one case, decisions, the media of an item, evidence,
//! a content's status, the outbox for polling, and the audit log.
//!
//! | route | who |
//! |---|---|
//! | `GET /v1/cases`, `GET /v1/cases/{id}`, `POST /v1/cases/{id}/decision`, `GET /v1/cases/{id}/items/{item}/media` | reviewer, admin |
//! | `GET /v1/cases/{id}/evidence`, `GET /v1/audit` | admin |
//! | `GET /v1/content/{content_id}`, `GET /v1/events` | submitter, curator (their own content), admin |
//!
//! Media bytes are answered with `Cache-Control: no-store`, so no proxy or browser cache keeps
//! a copy of what a reviewer saw.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use ward_engine::ward_store::{
    evidence, hex, CaseDetail, CaseFilter, CaseMatch, CaseStatus, ContentRecord, DecisionKind,
    MediaDir, Role,
};

use crate::auth::{code, require, Principal};
use crate::error::ApiError;
use crate::hma::Params;
use crate::upload::{body_bytes, json_body};
use crate::AppState;

/// The case routes, each group behind its permission.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let review = Router::new()
        .route("/v1/cases", get(list))
        .route("/v1/cases/{id}", get(show))
        .route("/v1/cases/{id}/decision", post(decide))
        .route("/v1/cases/{id}/items/{item}/media", get(media))
        .route_layer(from_fn_with_state(
            state.clone(),
            require::<{ code::REVIEW }>,
        ));
    let admin = Router::new()
        .route("/v1/cases/{id}/evidence", get(evidence_json))
        .route("/v1/audit", get(audit))
        .route_layer(from_fn_with_state(
            state.clone(),
            require::<{ code::EVIDENCE }>,
        ));
    let submit = Router::new()
        .route("/v1/content/{content_id}", get(content))
        .route("/v1/events", get(events))
        .route_layer(from_fn_with_state(
            state.clone(),
            require::<{ code::SUBMIT }>,
        ));
    let banks = Router::new()
        .route("/v1/banks/{name}/entries/{id}", get(entry))
        .route_layer(from_fn_with_state(state, require::<{ code::READ_BANKS }>));
    review.merge(admin).merge(submit).merge(banks)
}

/// The media folder of this server.
pub(crate) fn media_dir(state: &AppState) -> MediaDir {
    match &state.config().media_dir {
        Some(dir) => MediaDir::new(dir.clone()),
        None => MediaDir::beside(&state.config().db),
    }
}

fn parse_id(what: &str, s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found(format!("no {what} '{s}'")))
}

fn number(p: &Params, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a whole number from 0 to {max}"))
            }),
    }
}

fn pdq_json(c: &ContentRecord) -> Value {
    c.pdq
        .map_or(Value::Null, |(h, q)| json!({"hash": hex(&h), "quality": q}))
}

pub(crate) fn match_json(m: &CaseMatch) -> Value {
    json!({
        "bank": m.bank, "entry_id": m.entry_id, "signal_type": m.signal_type,
        "distance": m.distance, "via": m.via, "labels": m.labels,
        "bank_source": m.bank_source, "source_id": m.source_id, "policy": m.policy,
        "segments": m.segments, "region": m.region,
    })
}

fn item_json(i: &ContentRecord) -> Value {
    json!({
        "item_id": i.item_id, "content_id": i.content_id, "received_at": i.received_at,
        "media_type": i.media_type.as_str(), "content_type": i.content_type,
        "sha256": hex(&i.sha256), "md5": hex(&i.md5), "pdq": pdq_json(i),
        "metadata": i.metadata, "outcome": i.outcome.as_str(), "has_media": i.has_media,
        "submitted_by": i.submitted_by, "decision_id": i.decision_id,
    })
}

/// The case in the shape the review page reads. Matches are listed once per bank entry and
/// signal type, at the closest distance any item had, with the items that matched it.
pub(crate) fn case_json(c: &CaseDetail) -> Value {
    let mut matches: Vec<(Value, Vec<Value>)> = Vec::new();
    let mut keys: Vec<(i64, String)> = Vec::new();
    for m in &c.matches {
        let item = c
            .items
            .iter()
            .find(|i| i.id == m.content)
            .and_then(|i| i.item_id);
        let key = (m.entry_id, m.signal_type.clone());
        match keys.iter().position(|k| *k == key) {
            Some(pos) => {
                let (best, items) = &mut matches[pos];
                if best["distance"]
                    .as_u64()
                    .is_some_and(|d| u64::from(m.distance) < d)
                {
                    *best = match_json(m);
                }
                items.push(json!(item));
            }
            None => {
                keys.push(key);
                matches.push((match_json(m), vec![json!(item)]));
            }
        }
    }
    let matches: Vec<Value> = matches
        .into_iter()
        .map(|(mut m, items)| {
            m["item_ids"] = Value::Array(items);
            m
        })
        .collect();
    json!({
        "id": c.id, "status": c.status.as_str(), "created_at": c.created_at,
        "updated_at": c.updated_at, "media_type": c.media_type.as_str(),
        "decision": c.decision.map(|d| d.as_str()),
        "items": c.items.iter().map(item_json).collect::<Vec<_>>(),
        "matches": matches,
        "decisions": c.decisions.iter().map(|d| json!({
            "decision": d.decision.as_str(), "reviewer": d.reviewer, "note": d.note, "at": d.at,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /v1/cases?status=open|escalated|closed|all&bank=NAME&limit=N&after_id=N`: oldest first;
/// `open` (the default) means open and escalated.
async fn list(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let statuses = match p.get("status").unwrap_or("open") {
        "open" => vec![CaseStatus::Open, CaseStatus::Escalated],
        "escalated" => vec![CaseStatus::Escalated],
        "closed" => vec![CaseStatus::Closed],
        "all" => vec![],
        other => {
            return Err(ApiError::bad_request(format!(
                "status must be open, escalated, closed or all, not '{other}'"
            )))
        }
    };
    let filter = CaseFilter {
        statuses,
        bank: p.get("bank").map(str::to_owned),
        limit: number(&p, "limit", 100, 1000)? as u32,
        after_id: number(&p, "after_id", 0, i64::MAX)?,
    };
    let cases = state.read(move |s| Ok(s.cases(&filter)?)).await?;
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "status": c.status.as_str(), "created_at": c.created_at,
                "updated_at": c.updated_at, "item_count": c.item_count,
                "media_type": c.media_type.as_str(), "banks": c.banks, "labels": c.labels,
                "min_distance": c.min_distance, "content_ids": c.content_ids,
            })
        })
        .collect();
    Ok(Json(json!({ "cases": list })))
}

/// `GET /v1/cases/{id}`
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("case", &id)?;
    let case = state.read(move |s| Ok(s.case(id)?)).await?;
    Ok(Json(case_json(&case)))
}

/// `POST /v1/cases/{id}/decision` with `{"decision": "confirm|reject|newsworthy|escalate",
/// "note": "..."}`: the updated case. 400 for an unknown decision, 404 for an unknown case,
/// 409 for a closed one; nothing changes on any of them.
async fn decide(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        decision: String,
        #[serde(default)]
        note: Option<String>,
    }
    let b: Body = json_body(&body_bytes(body)?)?;
    let kind = DecisionKind::parse(&b.decision)?;
    let id = parse_id("case", &id)?;
    let note = b.note.filter(|n| !n.trim().is_empty());
    let reviewer = who.actor();
    let case = state
        .write(move |s| {
            s.decide(id, kind, &reviewer, note.as_deref())?;
            Ok(s.case(id)?)
        })
        .await?;
    state.inner.webhooks.wake();
    Ok(Json(case_json(&case)))
}

/// `GET /v1/cases/{id}/items/{item}/media`: the bytes, with their type, never cached.
async fn media(
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id("case", &id)?;
    let item = parse_id("item", &item)?;
    let record = state.read(move |s| Ok(s.case_item(id, item)?)).await?;
    if !record.has_media {
        return Err(ApiError::not_found(format!(
            "no media kept for item {item} of case {id}"
        )));
    }
    let dir = media_dir(&state);
    let sha = record.sha256;
    let bytes = tokio::task::spawn_blocking(move || dir.read(&sha)).await??;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&record.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

/// `GET /v1/cases/{id}/evidence` (admin): what `ward evidence export` writes, as JSON:
/// `case.json`, the audit entries about the case, and the media files' digests. Recorded in
/// the audit log like an export.
async fn evidence_json(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("case", &id)?;
    let actor = who.actor();
    let (case, audit) = state
        .write(move |s| {
            let case = s.case(id)?;
            let audit = s.audit_about(&format!("case:{id}"))?;
            s.record_export(
                id,
                &actor,
                &json!({"via": "api", "audit_entries": audit.len()}),
            )?;
            Ok((case, audit))
        })
        .await?;
    let now = case.updated_at.max(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let media: Vec<Value> = case
        .items
        .iter()
        .filter(|i| i.has_media)
        .map(|i| json!({"path": format!("media/{}", hex(&i.sha256)), "sha256": hex(&i.sha256), "content_type": i.content_type}))
        .collect();
    Ok(Json(json!({
        "case": evidence::case_document(&case, now, &who.actor()),
        "audit": audit.iter().map(evidence::audit_json).collect::<Vec<_>>(),
        "media": media,
        "hash_rule": evidence::HASH_RULE,
    })))
}

/// `GET /v1/audit?after=N&limit=N` (admin): audit entries, oldest first.
async fn audit(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let after = number(&p, "after", 0, i64::MAX)?;
    let limit = number(&p, "limit", 100, 1000)? as u32;
    let entries = state
        .read(move |s| Ok(s.audit_entries(after, limit)?))
        .await?;
    Ok(Json(json!({
        "entries": entries.iter().map(evidence::audit_json).collect::<Vec<_>>(),
    })))
}

/// `GET /v1/content/{content_id}`: the latest submission under that id: hashes, matches,
/// outcome and case. Submitters and curators see what they submitted; admins see all.
async fn content(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(content_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = state.read(move |s| Ok(s.content(&content_id)?)).await?;
    if who.role != Role::Admin && c.submitted_by != who.actor() {
        return Err(ApiError::not_found(format!(
            "no content with id '{}' was submitted",
            c.content_id
        )));
    }
    Ok(Json(content_json(&c)))
}

pub(crate) fn content_json(c: &ContentRecord) -> Value {
    json!({
        "content_id": c.content_id, "received_at": c.received_at,
        "media_type": c.media_type.as_str(), "content_type": c.content_type,
        "hashes": {"pdq": pdq_json(c), "md5": hex(&c.md5), "sha256": hex(&c.sha256)},
        "metadata": c.metadata,
        "matches": c.matches.iter().map(match_json).collect::<Vec<_>>(),
        "outcome": c.outcome.as_str(),
        "decision_id": c.decision_id,
        "case": c.case.as_ref().map(|k| json!({
            "id": k.id, "status": k.status.as_str(), "grouped": k.grouped,
        })),
    })
}

/// `GET /v1/events?after=N&limit=N`: the outbox, in order: the same payloads webhooks carry.
async fn events(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(q)?;
    let after = number(&p, "after", 0, i64::MAX)?;
    let limit = number(&p, "limit", 100, 1000)? as u32;
    let events = state
        .read(move |s| Ok(s.events_after(after, limit)?))
        .await?;
    let list: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap_or(Value::Null))
        .collect();
    let last = events.last().map_or(after, |e| e.id);
    Ok(Json(json!({ "events": list, "last_event_id": last })))
}

/// `GET /v1/banks/{name}/entries/{id}`: one entry, with how often reviewers rejected its
/// matches as false positives.
async fn entry(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("entry", &id)?;
    let (e, fp) = state
        .read(move |s| {
            let e = s.entry(id)?;
            if e.bank != name {
                return Err(ApiError::not_found(format!(
                    "no entry {id} in bank '{name}'"
                )));
            }
            let fp = s.false_positives(id)?;
            Ok((e, fp))
        })
        .await?;
    let value = ward_engine::exchange::SignalType::parse(&e.signal_type)
        .ok()
        .map(|t| t.format_value(&e.value));
    Ok(Json(json!({
        "bank": e.bank, "entry_id": e.id, "signal_type": e.signal_type, "signal": value,
        "labels": e.labels, "source_id": e.source_id, "added_at": e.added_at,
        "added_by": e.added_by, "status": if e.active { "active" } else { "disabled" },
        "false_positives": fp,
    })))
}
