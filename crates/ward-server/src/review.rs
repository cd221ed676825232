//! The review page (`GET /review`) and the wellness settings behind it (`/v1/me/settings`).
//!
//! The page is three static files embedded in the binary (`assets/review/`): no build step, no
//! framework, nothing fetched from anywhere but this server. The files themselves need no
//! token (they hold no data); every call the page makes to the API sends the moderator's
//! bearer token, which the page keeps in `sessionStorage`. Media are fetched with the token and
//! shown through `blob:` URLs, since an `<img>` cannot send a header.
//!
//! The page is served with a strict Content-Security-Policy: scripts, styles and connections
//! from this origin only, images and media from this origin or `blob:`, no plugins, no
//! framing. So a hostile string in a bank label or an upload's metadata cannot run script
//! even if the page had a bug that put it into the DOM as HTML (it puts text, never HTML).
//!
//! # Wellness settings
//!
//! Seeing the worst content on the internet all day harms people. The page shows every
//! upload blurred and greyscale until the reviewer chooses to reveal it, with audio muted and
//! no autoplay. The deployment sets the defaults ([`ReviewDefaults`], from `ward serve
//! --review-blur/--review-greyscale/--review-autoplay`); each reviewer may override them for
//! themselves, and the store keeps only the overrides (by token id), so a changed default
//! still reaches everyone who kept it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use ward_engine::ward_store::{ReviewOverrides, MAX_BLUR_PX};

use crate::auth::{authenticate, Principal};
use crate::error::{ApiError, Flavor};
use crate::upload::body_bytes;
use crate::AppState;

/// The deployment's wellness defaults for the review page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewDefaults {
    /// Blur radius in CSS pixels until revealed (0 to 64).
    pub blur_px: u32,
    /// Greyscale until revealed.
    pub greyscale: bool,
    /// Videos start playing (muted) when a case opens.
    pub autoplay: bool,
}

impl Default for ReviewDefaults {
    /// Strong blur, greyscale, no autoplay: the protective choice.
    fn default() -> Self {
        ReviewDefaults {
            blur_px: 24,
            greyscale: true,
            autoplay: false,
        }
    }
}

impl ReviewDefaults {
    /// Whether the values are in range (`blur_px` at most 64).
    pub fn validate(&self) -> Result<(), String> {
        if self.blur_px > MAX_BLUR_PX {
            return Err(format!(
                "blur must be 0 to {MAX_BLUR_PX} pixels, not {}",
                self.blur_px
            ));
        }
        Ok(())
    }
}

const INDEX_HTML: &str = include_str!("../assets/review/index.html");
const REVIEW_JS: &str = include_str!("../assets/review/review.js");
const REVIEW_CSS: &str = include_str!("../assets/review/review.css");

/// The policy the page is served with (and that its code is written to).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob:; \
     media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The page's routes and the settings endpoints (any authenticated role), to merge into the
/// router.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let settings = Router::new()
        .route("/v1/me/settings", get(settings_get).put(settings_put))
        .route_layer(from_fn_with_state(state, require_token));
    Router::new()
        .route("/review", get(page))
        .route("/review/", get(page))
        .route("/review/review.js", get(script))
        .route("/review/review.css", get(style))
        .merge(settings)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Small files: revalidate each time, so an upgraded server serves its own page.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /review`
async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /review/review.js`
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", REVIEW_JS)
}

/// `GET /review/review.css`
async fn style() -> Response {
    asset("text/css; charset=utf-8", REVIEW_CSS)
}

/// Middleware: any working token, whatever its role (everyone may keep their own settings).
async fn require_token(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, &req) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.render(Flavor::Native),
    }
}

fn settings_json(defaults: ReviewDefaults, mine: ReviewOverrides) -> Value {
    json!({
        "defaults": {
            "blur_px": defaults.blur_px,
            "greyscale": defaults.greyscale,
            "autoplay": defaults.autoplay,
        },
        "mine": {
            "blur_px": mine.blur_px,
            "greyscale": mine.greyscale,
            "autoplay": mine.autoplay,
        },
        "effective": {
            "blur_px": mine.blur_px.unwrap_or(defaults.blur_px),
            "greyscale": mine.greyscale.unwrap_or(defaults.greyscale),
            "autoplay": mine.autoplay.unwrap_or(defaults.autoplay),
        },
    })
}

/// `GET /v1/me/settings`: `{"defaults", "mine", "effective"}`; `mine` holds `null` where the
/// caller follows the default.
async fn settings_get(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let defaults = state.config().review;
    let mine = state
        .read(move |s| {
            let id = s.token_by_name(&who.name)?.id;
            Ok(s.review_overrides(id)?)
        })
        .await?;
    Ok(Json(settings_json(defaults, mine)))
}

/// `PUT /v1/me/settings` with a partial object: each key given sets the caller's own value,
/// `null` goes back to the deployment's default, a key not given is left as it was.
async fn settings_put(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body_bytes(body)?;
    let patch: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(ApiError::bad_request(
                "the body must be a JSON object, e.g. {\"blur_px\": 16, \"greyscale\": true}",
            ))
        }
    };
    let patch = Patch::parse(&patch)?;
    let defaults = state.config().review;
    let mine = state
        .write(move |s| {
            let id = s.token_by_name(&who.name)?.id;
            let mut o = s.review_overrides(id)?;
            patch.apply(&mut o);
            s.set_review_overrides(id, &o)?;
            Ok(o)
        })
        .await?;
    Ok(Json(settings_json(defaults, mine)))
}

/// A validated partial update: `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Copy, Debug, Default)]
struct Patch {
    blur_px: Option<Option<u32>>,
    greyscale: Option<Option<bool>>,
    autoplay: Option<Option<bool>>,
}

impl Patch {
    fn parse(m: &Map<String, Value>) -> Result<Patch, ApiError> {
        let mut p = Patch::default();
        for (key, v) in m {
            match key.as_str() {
                "blur_px" => {
                    p.blur_px = Some(match v {
                        Value::Null => None,
                        v => match v.as_u64() {
                            Some(b) if b <= u64::from(MAX_BLUR_PX) => Some(b as u32),
                            _ => {
                                return Err(ApiError::bad_request(format!(
                                    "blur_px must be a whole number of pixels from 0 to \
                                     {MAX_BLUR_PX} (or null for the default), not {v}"
                                ))
                                .with_detail(json!({"field": "blur_px"})))
                            }
                        },
                    })
                }
                "greyscale" => p.greyscale = Some(flag(key, v)?),
                "autoplay" => p.autoplay = Some(flag(key, v)?),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown setting '{other}' (known: blur_px, greyscale, autoplay)"
                    ))
                    .with_detail(json!({"field": other})))
                }
            }
        }
        Ok(p)
    }

    fn apply(self, o: &mut ReviewOverrides) {
        if let Some(b) = self.blur_px {
            o.blur_px = b;
        }
        if let Some(g) = self.greyscale {
            o.greyscale = g;
        }
        if let Some(a) = self.autoplay {
            o.autoplay = a;
        }
    }
}

fn flag(key: &str, v: &Value) -> Result<Option<bool>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(ApiError::bad_request(format!(
            "{key} must be true or false (or null for the default), not {v}"
        ))
        .with_detail(json!({"field": key}))),
    }
}
