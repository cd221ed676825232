//! The subset of Hasher-Matcher-Actioner 2.0's API that integrations call, answering as HMA's
//! own Flask blueprints do (`OpenMediaMatch/blueprints/{hashing,matching,curation}.py`): the
//! same paths, parameters, response shapes, status codes and error messages
//! (`{"message": ...}`), so an HMA client works against ward with only a token added.
//!
//! Where ward differs, and why, is listed in the crate documentation.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Extension, FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use ward_engine::exchange::SignalType;
use ward_engine::ward_store::{NewBank, NewEntry, Policy, Store};
use ward_engine::Via;
use ward_pdq::vpdq::{self, VpdqFrame};
use ward_pdq::Hash256;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorKind, Hma};
use crate::upload::{body_bytes, is_multipart, json_body, read_form, Form};
use crate::AppState;

type HmaResult<T> = Result<T, Hma>;

/// Query parameters, read as HMA reads `request.args`.
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub(crate) fn from(
        q: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        q.map(|Query(m)| Params(m))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// HMA's `require_request_param`.
    fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
    }

    /// HMA's `str_to_bool`.
    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(false),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(_) => Err(ApiError::bad_request(
                "invalid boolean parameter - prefer true/false",
            )),
        }
    }

    /// The optional `banks=A,B` filter.
    fn banks(&self) -> Option<Vec<String>> {
        self.get("banks")
            .filter(|b| !b.is_empty())
            .map(|b| b.split(',').map(str::to_owned).collect())
    }
}

/// A signal as looked up: PDQ goes to the in-memory index, digests to the store.
#[derive(Clone, Debug)]
pub(crate) enum Signal {
    Pdq(Hash256),
    Exact(SignalType, Vec<u8>),
}

/// HMA's `_validate_and_transform_signal_type` followed by `validate_signal_str`.
pub(crate) fn parse_signal(signal_type: &str, value: &str) -> Result<Signal, ApiError> {
    let ty = signal_type_named(signal_type)?;
    let invalid =
        || ApiError::bad_request(format!("invalid signal: {}", invalid_reason(ty, value)));
    match ty {
        SignalType::Pdq => {
            // HMA accepts lower-case hex only (`^[0-9a-f]{64}$`).
            if value.len() != 64
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(invalid());
            }
            value
                .parse::<Hash256>()
                .map(Signal::Pdq)
                .map_err(|_| invalid())
        }
        // HMA's MD5 strips and lower-cases before checking.
        _ => ty
            .parse_value(&value.trim().to_ascii_lowercase())
            .map(|v| Signal::Exact(ty, v))
            .map_err(|_| invalid()),
    }
}

fn invalid_reason(ty: SignalType, value: &str) -> String {
    match ty {
        SignalType::Pdq => "invalid PDQ hash".to_owned(),
        _ => format!(
            "{value:?} is not a valid {} hash",
            ty.name().to_ascii_uppercase()
        ),
    }
}

fn signal_type_named(name: &str) -> Result<SignalType, ApiError> {
    // HMA's names are exact (no case folding); `video_md5` is HMA's MD5 of video files,
    // which ward stores as `md5`.
    match name {
        "pdq" => Ok(SignalType::Pdq),
        "md5" | "video_md5" => Ok(SignalType::Md5),
        "sha256" => Ok(SignalType::Sha256),
        other => Err(ApiError::bad_request(format!(
            "No such SignalType '{other}'"
        ))),
    }
}

/// One raw hit: entry, bank id, distance.
pub(crate) struct RawHit {
    pub entry: i64,
    pub bank: i64,
    pub distance: u32,
}

/// Looks a signal up among active entries: PDQ within the threshold, digests exactly.
pub(crate) async fn query_index(
    state: &AppState,
    signal: &Signal,
) -> Result<Vec<RawHit>, ApiError> {
    match signal {
        Signal::Pdq(h) => {
            let snap = state.snapshot();
            Ok(snap
                .pdq
                .search(&[(Via::Original, *h)], state.config().pdq_threshold)
                .into_iter()
                .map(|h| RawHit {
                    entry: h.entry,
                    bank: h.bank,
                    distance: h.distance,
                })
                .collect())
        }
        Signal::Exact(ty, value) => {
            let (ty, value) = (ty.name(), value.clone());
            let entries = state.read(move |s| Ok(s.lookup_exact(ty, &value)?)).await?;
            let snap = state.snapshot();
            Ok(entries
                .into_iter()
                .filter_map(|e| {
                    let bank = *snap.bank_ids.get(&e.bank)?;
                    Some(RawHit {
                        entry: e.id,
                        bank,
                        distance: 0,
                    })
                })
                .collect())
        }
    }
}

fn keep_banks(state: &AppState, hits: Vec<RawHit>, banks: &Option<Vec<String>>) -> Vec<RawHit> {
    let Some(names) = banks else { return hits };
    let snap = state.snapshot();
    let ids: Vec<i64> = names
        .iter()
        .filter_map(|n| snap.bank_ids.get(n).copied())
        .collect();
    hits.into_iter().filter(|h| ids.contains(&h.bank)).collect()
}

/// `GET /m/raw_lookup?signal=&signal_type=[&include_distance=][&banks=]`
pub(crate) async fn raw_lookup(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let signal = p.require("signal")?;
    let signal_type = p.require("signal_type")?;
    let include_distance = p.flag("include_distance")?;
    let signal = parse_signal(signal_type, signal)?;
    let hits = keep_banks(&state, query_index(&state, &signal).await?, &p.banks());
    let matches: Vec<Value> = hits
        .iter()
        .map(|h| {
            if include_distance {
                json!({"bank_content_id": h.entry, "distance": h.distance.to_string()})
            } else {
                json!(h.entry)
            }
        })
        .collect();
    Ok(Json(json!({ "matches": matches })))
}

/// HMA's coin flip: a bank with ratio `r` reports its matches when `r >= coinflip`. The
/// same `seed` gives the same flip (ward's own numbers, not Python's `random.Random`).
fn coinflip(p: &Params) -> f64 {
    if p.get("bypass_coinflip") == Some("true") {
        return 0.0;
    }
    let bits = match p.get("seed") {
        Some(seed) => {
            // FNV-1a: stable across runs and builds, unlike std's randomly keyed hasher.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in seed.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            h
        }
        None => {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            h.finish()
        }
    };
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// HMA's `lookup()`: matches grouped by bank, `{BANK: [{"bank_content_id", "distance"}]}`.
async fn lookup_by_bank(
    state: &AppState,
    signal: &Signal,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    let hits = query_index(state, signal).await?;
    let flip = coinflip(p);
    let wanted = p.banks();
    let snap = state.snapshot();
    let mut out = Map::new();
    for h in hits {
        let Some(bank) = snap.banks.get(&h.bank) else {
            continue;
        };
        if bank.ratio < flip || wanted.as_ref().is_some_and(|w| !w.contains(&bank.name)) {
            continue;
        }
        let list = out
            .entry(bank.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = list {
            a.push(json!({"bank_content_id": h.entry, "distance": h.distance.to_string()}));
        }
    }
    Ok(out)
}

/// The bytes at a caller's `url=`, fetched only from the allowlisted hosts (HMA fetches any
/// URL by default: server-side request forgery). See [`crate::fetch`].
async fn fetch_url(state: &AppState, url: &str) -> Result<Bytes, ApiError> {
    state.inner.fetcher.fetch(url).await
}

/// `GET /m/lookup?signal=&signal_type=`, or `?url=` (fetched from an allowed host, hashed as
/// a photo, answered as `POST /m/lookup` answers).
pub(crate) async fn lookup_get(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    if let Some(url) = p.get("url").filter(|u| !u.is_empty()) {
        let bytes = fetch_url(&state, url).await?;
        let hashes = hash_photo(&state, bytes, &p).await?;
        return Ok(Json(Value::Object(
            lookup_hashes(&state, hashes, &p).await?,
        )));
    }
    let (Some(signal), Some(signal_type)) = (
        p.get("signal").filter(|s| !s.is_empty()),
        p.get("signal_type").filter(|s| !s.is_empty()),
    ) else {
        return Err(ApiError::bad_request(
            "Either url or both signal and signal_type are required",
        )
        .into());
    };
    let signal = parse_signal(signal_type, signal)?;
    Ok(Json(Value::Object(
        lookup_by_bank(&state, &signal, &p).await?,
    )))
}

/// `POST /m/lookup` with one multipart file: `{SIGNAL_TYPE: {BANK: [...]}}`.
pub(crate) async fn lookup_post(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let form = read_form(mp).await?;
    let hashes = hash_form(&state, &form, &p).await?;
    Ok(Json(Value::Object(
        lookup_hashes(&state, hashes, &p).await?,
    )))
}

/// `{SIGNAL_TYPE: {BANK: [...]}}` for the hashes of one upload.
async fn lookup_hashes(
    state: &AppState,
    hashes: Map<String, Value>,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (ty, value) in hashes {
        let by_bank = match value.as_str() {
            // A PDQ under quality 50 hashes to "": nothing to match on. (HMA answers 400
            // "invalid signal" here; an empty result is what a caller means.)
            Some("") | None => Map::new(),
            Some(v) => lookup_by_bank(state, &parse_signal(&ty, v)?, p).await?,
        };
        out.insert(ty, Value::Object(by_bank));
    }
    Ok(out)
}

/// HMA's `_parse_request_signal_type` for photos: PDQ by default (as HMA); ward also offers
/// `md5` and `sha256` of the bytes when `types=` asks for them.
fn photo_signal_types(p: &Params) -> Result<Vec<SignalType>, ApiError> {
    let Some(arg) = p.get("types") else {
        return Ok(vec![SignalType::Pdq]);
    };
    let mut out = Vec::new();
    for name in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ty = match name {
            "pdq" => SignalType::Pdq,
            "md5" => SignalType::Md5,
            "sha256" => SignalType::Sha256,
            other => {
                return Err(ApiError::bad_request(format!(
                    "signal type '{other}' doesn't exist or is disabled"
                )))
            }
        };
        if !out.contains(&ty) {
            out.push(ty);
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request("empty signal type selection"));
    }
    Ok(out)
}

/// HMA's `hash_media_from_form_data`: exactly one file, whose field name is its content type.
async fn hash_form(
    state: &AppState,
    form: &Form,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    let files: Vec<_> = form.files().collect();
    let file = match files.as_slice() {
        [] => {
            return Err(ApiError::bad_request(
                "Missing multipart/form-data file upload",
            ))
        }
        [one] => *one,
        _ => return Err(ApiError::bad_request("Only one file allowed per request")),
    };
    match file.name.as_str() {
        "photo" => {}
        "video" => return hash_video_bytes(state, file.data.clone(), p).await,
        other => {
            return Err(ApiError::bad_request(format!(
                "no such content_type: '{other}'"
            )))
        }
    }
    hash_photo(state, file.data.clone(), p).await
}

/// The signals of a video, as HMA with python-threatexchange's vPDQ extension gives them:
/// `video_md5` (the MD5 of the file) and `vpdq` (one frame a second, as a JSON array of
/// compact features `"hash,quality,timestamp"`, python-threatexchange's `vpdq_to_json`);
/// `types=` may pick among `video_md5`, `vpdq`, `md5` and `sha256`.
async fn hash_video_bytes(
    state: &AppState,
    bytes: Bytes,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    if !crate::video::is_video(&bytes) {
        return Err(ApiError::bad_request(
            "the video part is not a video ward can decode (MP4/MOV, Matroska/WebM, AVI, FLV, \
             MPEG-TS/PS, ASF, Ogg, told by content)",
        ));
    }
    let types: Vec<String> = match p.get("types") {
        None => vec!["video_md5".to_owned(), "vpdq".to_owned()],
        Some(arg) => {
            let mut out = Vec::new();
            for name in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !matches!(name, "video_md5" | "vpdq" | "md5" | "sha256") {
                    return Err(ApiError::bad_request(format!(
                        "signal type '{name}' doesn't exist or is disabled for videos"
                    )));
                }
                if !out.iter().any(|o| o == name) {
                    out.push(name.to_owned());
                }
            }
            out
        }
    };
    // The bank convention: one frame a second.
    let v = state.hash_video(bytes.to_vec(), 1.0, false).await?;
    let mut out = Map::new();
    for ty in types {
        let value = match ty.as_str() {
            "video_md5" | "md5" => SignalType::Md5.format_value(&v.digests.md5),
            "sha256" => SignalType::Sha256.format_value(&v.digests.sha256),
            _ => vpdq_signal_string(&v.vpdq),
        };
        out.insert(ty, Value::String(value));
    }
    Ok(out)
}

/// python-threatexchange's `vpdq_to_json`: `json.dumps` of the compact features, with its
/// `", "` separator, so the string is the one HMA would store and exchange.
pub(crate) fn vpdq_signal_string(frames: &[VpdqFrame]) -> String {
    let parts: Vec<String> = frames
        .iter()
        .map(|f| format!("\"{}\"", vpdq::compact_feature(f)))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Parses a vPDQ signal string (`vpdq_to_json`'s JSON array of compact features).
pub(crate) fn parse_vpdq_signal(s: &str) -> Result<Vec<VpdqFrame>, ApiError> {
    let invalid = |why: String| ApiError::bad_request(format!("Invalid vpdq signal: {why}"));
    let items: Vec<String> = serde_json::from_str(s)
        .map_err(|e| invalid(format!("not a JSON array of strings ({e})")))?;
    if items.is_empty() {
        return Err(invalid("no frames".to_owned()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vpdq::parse_compact_feature(f, i as u32)
                .map_err(|e| invalid(format!("frame {}: {e}", i + 1)))
        })
        .collect()
}

/// The signals of fetched bytes: a video's or a photo's, told by content.
async fn hash_fetched(
    state: &AppState,
    bytes: Bytes,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    if crate::video::is_video(&bytes) {
        hash_video_bytes(state, bytes, p).await
    } else {
        hash_photo(state, bytes, p).await
    }
}

/// The signals `types=` asks for (PDQ by default) of one photo's bytes.
async fn hash_photo(
    state: &AppState,
    bytes: Bytes,
    p: &Params,
) -> Result<Map<String, Value>, ApiError> {
    let types = photo_signal_types(p)?;
    let signals = state.hash_image(bytes.to_vec()).await?;
    let mut out = Map::new();
    for ty in types {
        let v = match ty {
            // HMA's PdqSignal.hash_from_bytes: quality under 50 gives "".
            SignalType::Pdq if signals.pdq.quality < 50 => String::new(),
            SignalType::Pdq => signals.pdq.hash.to_hex(),
            SignalType::Md5 => ty.format_value(&signals.digests.md5),
            SignalType::Sha256 => ty.format_value(&signals.digests.sha256),
        };
        out.insert(ty.name().to_owned(), Value::String(v));
    }
    Ok(out)
}

/// `GET /h/hash?url=`: the photo at `url`, fetched only from an allowed host, hashed.
pub(crate) async fn hash_get(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let url = p.require("url")?;
    if let Some(c) = p
        .get("content_type")
        .filter(|c| !matches!(*c, "photo" | "video"))
    {
        return Err(ApiError::bad_request(format!("no such content_type: '{c}'")).into());
    }
    let bytes = fetch_url(&state, url).await?;
    Ok(Json(Value::Object(hash_fetched(&state, bytes, &p).await?)))
}

/// `POST /h/hash` with one multipart file named `photo`: `{"pdq": "<hex>"}`.
pub(crate) async fn hash_post(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let form = read_form(mp).await?;
    Ok(Json(Value::Object(hash_form(&state, &form, &p).await?)))
}

/// `GET /m/index/status[?signal_type=]`
pub(crate) async fn index_status(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    if let Some(st) = p.get("signal_type") {
        if st != "pdq" {
            return Err(ApiError::bad_request(format!("No such signal type '{st}'")).into());
        }
    }
    let snap = state.snapshot();
    let built_to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        - state.poll_age_secs();
    Ok(Json(json!({
        "pdq": {"present": true, "built_to": built_to, "size": snap.pdq.active_len()}
    })))
}

/// `POST /m/compare` with `{"pdq": [a, b], ...}`: `{"pdq": [match, {"distance": d}]}`.
pub(crate) async fn compare(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> HmaResult<Json<Value>> {
    let body = body_bytes(body)?;
    let v: Value = json_body(&body)?;
    let Value::Object(req) = v else {
        return Err(ApiError::bad_request("Request input was not a dict").into());
    };
    let mut out = Map::new();
    for (ty_name, hashes) in req {
        let Value::Array(pair) = hashes else {
            return Err(ApiError::bad_request(format!(
                "Comparison hashes for {ty_name} was not a list"
            ))
            .into());
        };
        if pair.len() != 2 {
            return Err(
                ApiError::bad_request("Comparison hash list length must be exactly 2").into(),
            );
        }
        signal_type_named(&ty_name)?;
        let parse = |v: &Value| {
            let s = v.as_str().unwrap_or("");
            parse_signal(&ty_name, s).map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid {ty_name} hash: {}",
                    invalid_reason(signal_type_named(&ty_name).unwrap_or(SignalType::Pdq), s)
                ))
            })
        };
        let result = match (parse(&pair[0])?, parse(&pair[1])?) {
            (Signal::Pdq(a), Signal::Pdq(b)) => {
                let d = a.distance(&b);
                json!([d <= state.config().pdq_threshold, {"distance": d}])
            }
            (Signal::Exact(_, a), Signal::Exact(_, b)) => json!([a == b, {}]),
            _ => return Err(ApiError::internal("compare: mixed signal kinds").into()),
        };
        out.insert(ty_name, result);
    }
    Ok(Json(Value::Object(out)))
}

// ---- curation ----

fn bank_json(name: &str, ratio: f64) -> Value {
    json!({"name": name, "matching_enabled_ratio": ratio})
}

/// HMA's bank name rule (`[A-Z_][A-Z0-9_]*`), stricter than ward's own.
fn check_hma_bank_name(name: &str) -> Result<(), ApiError> {
    let mut bytes = name.bytes();
    let ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "Bank names must be UPPER_WITH_UNDERSCORE",
        ))
    }
}

fn bank_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("bank '{name}' not found"))
}

/// `GET /c/banks`
pub(crate) async fn banks_index(State(state): State<AppState>) -> HmaResult<Json<Value>> {
    let banks = state.read(|s| Ok(s.bank_settings()?)).await?;
    Ok(Json(Value::Array(
        banks
            .iter()
            .map(|b| bank_json(&b.name, b.matching_enabled_ratio))
            .collect(),
    )))
}

/// `GET /c/bank/<name>`
pub(crate) async fn bank_show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    let n = name.clone();
    let b = state
        .read(move |s| s.bank_settings_of(&n).map_err(|_| bank_missing(&n)))
        .await?;
    Ok(Json(bank_json(&b.name, b.matching_enabled_ratio)))
}

fn ratio_from(body: &Map<String, Value>) -> Result<Option<f64>, ApiError> {
    if let Some(r) = body.get("enabled_ratio").filter(|v| !v.is_null()) {
        let r = r
            .as_f64()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| ApiError::bad_request("enabled_ratio must be a number from 0 to 1"))?;
        return Ok(Some(r));
    }
    if let Some(e) = body.get("enabled").filter(|v| !v.is_null()) {
        let e = e
            .as_bool()
            .ok_or_else(|| ApiError::bad_request("enabled must be true or false"))?;
        return Ok(Some(if e { 1.0 } else { 0.0 }));
    }
    Ok(None)
}

fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body_bytes(body)?;
    match json_body::<Value>(&body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "this endpoint expects a json object payload",
        )),
    }
}

/// `POST /c/banks` with `{"name", "enabled_ratio"?, "enabled"?}`: 201, 400 for a bad name,
/// 403 if it exists.
pub(crate) async fn bank_create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> HmaResult<Response> {
    let body = json_object(body)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("name is required"))?
        .to_owned();
    check_hma_bank_name(&name)?;
    let ratio = ratio_from(&body)?.unwrap_or(1.0);
    let n = name.clone();
    state
        .write(move |s| {
            let bank = NewBank {
                name: n.clone(),
                description: String::new(),
                labels: Vec::new(),
                policy: Policy::Review,
                source: String::new(),
            };
            s.create_bank(&bank, &who.actor()).map_err(|e| match e {
                ward_engine::ward_store::StoreError::BankExists(_) => {
                    ApiError::new(ErrorKind::Conflict, "Bank already exists")
                }
                other => other.into(),
            })?;
            if ratio != 1.0 {
                s.set_matching_ratio(&n, ratio)?;
            }
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(bank_json(&name, ratio))).into_response())
}

/// `PUT /c/bank/<name>` with `{"name"?, "enabled"?, "enabled_ratio"?}`
pub(crate) async fn bank_update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> HmaResult<Json<Value>> {
    let body = json_object(body)?;
    let rename = match body.get("name").filter(|v| !v.is_null()) {
        Some(v) => {
            let to = v
                .as_str()
                .ok_or_else(|| ApiError::bad_request("name must be a string"))?;
            check_hma_bank_name(to)?;
            Some(to.to_owned())
        }
        None => None,
    };
    let ratio = ratio_from(&body)?;
    let settings = state
        .write(move |s| {
            if s.bank_settings_of(&name).is_err() {
                return Err(ApiError::not_found("Bank not found"));
            }
            let mut current = name.clone();
            if let Some(to) = rename.filter(|to| *to != name) {
                s.rename_bank(&name, &to).map_err(|e| match e {
                    ward_engine::ward_store::StoreError::BankExists(_) => {
                        ApiError::new(ErrorKind::Conflict, "Bank name already exists")
                    }
                    other => other.into(),
                })?;
                current = to;
            }
            if let Some(r) = ratio {
                s.set_matching_ratio(&current, r)?;
            }
            Ok(s.bank_settings_of(&current)?)
        })
        .await?;
    Ok(Json(bank_json(
        &settings.name,
        settings.matching_enabled_ratio,
    )))
}

/// `DELETE /c/bank/<name>`: `{"message": "Done"}`, also when there was no such bank (as HMA).
pub(crate) async fn bank_delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    state.write(move |s| Ok(s.delete_bank(&name)?)).await?;
    Ok(Json(json!({"message": "Done"})))
}

/// HMA's `BankedContentMetadata`: `content_id`, `content_uri`, `json` (and `collab`, dropped);
/// any other key is refused.
fn check_metadata(v: &Value) -> Result<Option<String>, ApiError> {
    if v.is_null() {
        return Ok(None);
    }
    let Value::Object(m) = v else {
        return Err(ApiError::bad_request("metadata should be a json object"));
    };
    for (k, val) in m {
        match k.as_str() {
            "content_id" | "content_uri" if val.is_string() || val.is_null() => {}
            "json" if val.is_object() || val.is_null() => {}
            "collab" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid metadata: field '{k}' is not allowed or has the wrong type"
                )))
            }
        }
    }
    Ok(m.get("content_id")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

fn check_note(v: Option<&Value>) -> Result<(), ApiError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.chars().count() <= 255 => Ok(()),
        Some(Value::String(_)) => Err(ApiError::bad_request("note must be at most 255 characters")),
        Some(_) => Err(ApiError::bad_request("note should be a string")),
    }
}

/// HMA's `_bank_add_signals`: validates every signal, then adds them in one transaction.
/// Returns `{"id", "signals"}`; `id` is the ward entry id of the first signal.
async fn add_signals(
    state: &AppState,
    who: &Principal,
    bank: String,
    signals: Map<String, Value>,
    source_id: Option<String>,
) -> Result<Json<Value>, ApiError> {
    if signals.is_empty() {
        return Err(ApiError::bad_request("No signals given"));
    }
    let mut entries = Vec::new();
    for (name, val) in &signals {
        if name == "vpdq" {
            let frames = parse_vpdq_signal(val.as_str().unwrap_or(""))?;
            entries.push(ward_engine::vpdq_frames_entry(
                &frames,
                Vec::new(),
                source_id.clone(),
            ));
            continue;
        }
        let ty = signal_type_named(name)
            .map_err(|_| ApiError::bad_request(format!("No such signal type {name}")))?;
        let s = val.as_str().unwrap_or("");
        let value = match parse_signal(name, s) {
            Ok(Signal::Pdq(h)) => h.as_bytes().to_vec(),
            Ok(Signal::Exact(_, v)) => v,
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid {name} signal: {}",
                    invalid_reason(ty, s)
                )))
            }
        };
        entries.push(NewEntry {
            signal_type: ty.name(),
            value,
            labels: Vec::new(),
            source_id: source_id.clone(),
        });
    }
    let actor = who.actor();
    let id = state
        .write(move |s: &mut Store| {
            s.bank_settings_of(&bank).map_err(|_| bank_missing(&bank))?;
            s.import(&bank, &entries, &actor)?;
            let mut first = None;
            for e in &entries {
                let id = s
                    .entry_id_of(&bank, e.signal_type, &e.value)?
                    .ok_or_else(|| ApiError::internal("entry missing right after import"))?;
                // Adding a signal the bank holds disabled (deleted through this API) means
                // the curator wants it matched again.
                if !s.entry(id)?.active {
                    s.enable_entry(&bank, id)?;
                }
                first.get_or_insert(id);
            }
            first.ok_or_else(|| ApiError::bad_request("No signals given"))
        })
        .await?;
    Ok(Json(json!({"id": id, "signals": signals})))
}

/// `POST /c/bank/<name>/content`: a multipart `photo` (or `url=`, refused), with optional
/// `metadata` and `note`; hashes it and adds its signals.
pub(crate) async fn bank_add_content(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(bank): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let b = bank.clone();
    state
        .read(move |s| s.bank_settings_of(&b).map_err(|_| bank_missing(&b)))
        .await?;
    let url = p.get("url").filter(|u| !u.is_empty());
    if is_multipart(req.headers()) {
        let mp = Multipart::from_request(req, &state).await;
        let form = read_form(mp).await?;
        let source_id = match form.field("metadata") {
            None => None,
            Some(text) => {
                let v: Value = serde_json::from_str(text?)
                    .map_err(|_| ApiError::bad_request("metadata form field must be valid JSON"))?;
                check_metadata(&v)?
            }
        };
        if let Some(note) = form.field("note") {
            check_note(Some(&Value::String(note?.to_owned())))?;
        }
        if url.is_some() {
            return Err(ApiError::bad_request(
                "Either a `url` or a multipart file upload, not both",
            )
            .into());
        }
        let hashes = hash_form(&state, &form, &p).await?;
        return Ok(add_signals(&state, &who, bank, hashes, source_id).await?);
    }
    // A JSON body may carry metadata and a note for a `url=` add.
    let body = body_bytes(Bytes::from_request(req, &state).await)?;
    let mut source_id = None;
    if !body.is_empty() {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) {
            source_id = check_metadata(m.get("metadata").unwrap_or(&Value::Null))?;
            check_note(m.get("note"))?;
        }
    }
    if let Some(url) = url {
        let bytes = fetch_url(&state, url).await?;
        let hashes = hash_fetched(&state, bytes, &p).await?;
        return Ok(add_signals(&state, &who, bank, hashes, source_id).await?);
    }
    Err(ApiError::bad_request("Neither `url` nor multipart file upload was received").into())
}

/// `POST /c/bank/<name>/signal` with `{"pdq": "<hex>", ..., "note"?}`
pub(crate) async fn bank_add_signal(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(bank): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> HmaResult<Json<Value>> {
    let mut body = json_object(body)?;
    let note = body.remove("note");
    check_note(note.as_ref())?;
    let b = bank.clone();
    state
        .read(move |s| s.bank_settings_of(&b).map_err(|_| bank_missing(&b)))
        .await?;
    Ok(add_signals(&state, &who, bank, body, None).await?)
}

fn content_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("content '{raw}' not found")))
}

/// The content's JSON as HMA's `BankContentResponse` has it.
fn content_json(
    e: &ward_engine::ward_store::Entry,
    ratio: f64,
    include_signals: bool,
    include_metadata: bool,
    disable_until_ts: Option<i64>,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id));
    // HMA's BankContentConfig.ENABLED is 1 (disabled until 1970-01-01T00:00:01), DISABLED 0.
    let ts = disable_until_ts.unwrap_or(if e.active { 1 } else { 0 });
    m.insert("disable_until_ts".into(), json!(ts));
    m.insert("original_media_uri".into(), Value::Null);
    m.insert("bank".into(), bank_json(&e.bank, ratio));
    if include_signals {
        if let Ok(ty) = SignalType::parse(&e.signal_type) {
            m.insert(
                "signals".into(),
                json!({ ty.name(): ty.format_value(&e.value) }),
            );
        }
    }
    if include_metadata {
        if let Some(id) = &e.source_id {
            m.insert("metadata".into(), json!({"content_id": id}));
        }
    }
    Value::Object(m)
}

async fn entry_in_bank(
    state: &AppState,
    bank: String,
    raw_id: &str,
) -> Result<(ward_engine::ward_store::Entry, f64), ApiError> {
    let id = content_id(raw_id)?;
    state
        .read(move |s| {
            let settings = s.bank_settings_of(&bank).map_err(|_| bank_missing(&bank))?;
            match s.entry(id) {
                Ok(e) if e.bank == bank => Ok((e, settings.matching_enabled_ratio)),
                Ok(_) | Err(ward_engine::ward_store::StoreError::NoSuchEntry(_)) => {
                    Err(ApiError::not_found(format!("content '{id}' not found")))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
}

/// `GET /c/bank/<name>/content/<id>[?include_signals=true][&include_metadata=false]`
pub(crate) async fn content_get(
    State(state): State<AppState>,
    Path((bank, id)): Path<(String, String)>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> HmaResult<Json<Value>> {
    let p = Params::from(q)?;
    let include_signals = p
        .get("include_signals")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let include_metadata = p
        .get("include_metadata")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let (e, ratio) = entry_in_bank(&state, bank, &id).await?;
    Ok(Json(content_json(
        &e,
        ratio,
        include_signals,
        include_metadata,
        None,
    )))
}

/// `PUT /c/bank/<name>/content/<id>` with `{"disable_until_ts": T}`: 0 or a future time
/// disables the entry, a past time enables it.
pub(crate) async fn content_update(
    State(state): State<AppState>,
    Path((bank, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> HmaResult<Json<Value>> {
    let body = json_object(body)?;
    let (e, _) = entry_in_bank(&state, bank.clone(), &id).await?;
    let ts = match body.get("disable_until_ts") {
        None => None,
        Some(v) => {
            let t = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid int: '{v}'")))?;
            if t < 0 {
                return Err(ApiError::bad_request(
                    "disable_until_ts must be a non-negative integer",
                )
                .into());
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if t > now + 5 * 365 * 24 * 3600 {
                return Err(ApiError::bad_request(
                    "disable_until_ts must be less than 5 years in the future",
                )
                .into());
            }
            Some((t, t == 0 || t > now))
        }
    };
    let entry_id = e.id;
    let (e, ratio) = state
        .write(move |s| {
            if let Some((_, disable)) = ts {
                if disable {
                    s.disable_entry(&bank, entry_id)?;
                } else {
                    s.enable_entry(&bank, entry_id)?;
                }
            }
            let ratio = s.bank_settings_of(&bank)?.matching_enabled_ratio;
            Ok((s.entry(entry_id)?, ratio))
        })
        .await?;
    Ok(Json(content_json(
        &e,
        ratio,
        false,
        true,
        ts.map(|(t, _)| t),
    )))
}

/// `DELETE /c/bank/<name>/content/<id>`: `{"deleted": 1}` (ward disables the entry; it is
/// kept for the record), `{"deleted": 0}` when there was nothing active to remove.
pub(crate) async fn content_delete(
    State(state): State<AppState>,
    Path((bank, id)): Path<(String, String)>,
) -> HmaResult<Json<Value>> {
    let b = bank.clone();
    state
        .read(move |s| s.bank_settings_of(&b).map_err(|_| bank_missing(&b)))
        .await?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(Json(json!({"deleted": 0})));
    };
    let deleted = state
        .write(move |s| match s.entry(id) {
            Ok(e) if e.bank == bank && e.active => {
                s.disable_entry(&bank, id)?;
                Ok(1)
            }
            Ok(_) | Err(ward_engine::ward_store::StoreError::NoSuchEntry(_)) => Ok(0),
            Err(e) => Err(e.into()),
        })
        .await?;
    Ok(Json(json!({ "deleted": deleted })))
}

/// `GET /status`: `I-AM-ALIVE`, or 503 `INDEX-STALE` when the store has not been polled for
/// over 65 s (HMA's limit).
pub(crate) async fn status(State(state): State<AppState>) -> Response {
    let limit = 65.max(3 * state.config().poll_interval.as_secs() as i64);
    if state.poll_age_secs() > limit {
        (StatusCode::SERVICE_UNAVAILABLE, "INDEX-STALE").into_response()
    } else {
        (StatusCode::OK, "I-AM-ALIVE").into_response()
    }
}
