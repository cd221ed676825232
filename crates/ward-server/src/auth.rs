//! Bearer tokens and roles.
//!
//! A token is 32 random bytes in hex behind the prefix `ward_`; the store keeps only its
//! SHA-256. The server holds the digests of working tokens in memory (reloaded with every
//! poll of the store, so `ward token create` and revocations take effect within the poll
//! interval) and checks a request with one hash and one map lookup: no database round trip on
//! the hot path. Looking up a SHA-256 digest leaks nothing useful through timing, since a
//! caller cannot steer the digest of what they send.
//!
//! Which role may do what is decided in one table, [`allows`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use ward_engine::ward_store::{Role, Store, StoreError, TokenInfo};

use crate::error::{ApiError, ErrorKind, Flavor};
use crate::AppState;

/// What an endpoint needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Hash, look up, submit content.
    Submit,
    /// Read banks and their entries.
    ReadBanks,
    /// Create, change and delete banks and entries.
    WriteBanks,
    /// Operational reads: `/status`, `/metrics`.
    Operate,
    /// Read the review queue and cases, see media, decide.
    Review,
    /// Export evidence and read the audit log.
    Evidence,
}

/// The role table: whether `role` may do what `permission` covers.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Admin => true,
        // Not cases: a curator keeps banks but does not see what was uploaded.
        Role::Curator => matches!(permission, Submit | ReadBanks | WriteBanks | Operate),
        Role::Submitter => matches!(permission, Submit | Operate),
        Role::Reviewer => matches!(permission, ReadBanks | Operate | Review),
    }
}

/// Who made a request (inserted into the request's extensions once authenticated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// The token's role.
    pub role: Role,
}

impl Principal {
    /// How writes by this caller are recorded (`added_by`, `created_by`).
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }
}

/// Digests of working tokens.
pub(crate) type TokenMap = HashMap<[u8; 32], Principal>;

/// A new random token (shown once; keep only [`digest`] of it).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let mut s = String::with_capacity(5 + 64);
    s.push_str("ward_");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// SHA-256 of a token, as stored.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The operating system's random source failed.
    #[error("no randomness for a token: {0}")]
    Random(getrandom::Error),
    /// The store refused (e.g. the name is taken).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token: a new random secret, stored by its digest. Returns the secret (to be
/// shown once) and what was stored.
pub fn create_token(
    store: &mut Store,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<(String, TokenInfo), TokenError> {
    let secret = new_token().map_err(TokenError::Random)?;
    let info = store.create_token(name, role, &digest(&secret), actor)?;
    Ok((secret, info))
}

pub(crate) fn load_tokens(store: &Store) -> Result<TokenMap, StoreError> {
    Ok(store
        .active_tokens()?
        .into_iter()
        .map(|t| {
            (
                t.sha256,
                Principal {
                    name: t.name,
                    role: t.role,
                },
            )
        })
        .collect())
}

/// The caller, or why not: 401 without a known token.
pub(crate) fn authenticate(state: &AppState, req: &Request) -> Result<Principal, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "missing bearer token: send 'Authorization: Bearer <token>' (see `ward token create`)",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthorized,
                "the Authorization header must be 'Bearer <token>'",
            )
        })?;
    let tokens: Arc<TokenMap> = state.tokens();
    tokens
        .get(&digest(token))
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorKind::Unauthorized, "unknown or revoked token"))
}

/// Middleware: authenticates the caller and checks that their role allows `P`
/// (a [`Permission`] as its `u8` code, so one function serves every route group).
pub(crate) async fn require<const P: u8>(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let permission = permission_from_code(P);
    let flavor = Flavor::of_path(req.uri().path());
    let principal = match authenticate(&state, &req) {
        Ok(p) => p,
        Err(e) => return e.render(flavor),
    };
    if !allows(principal.role, permission) {
        return ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "a {} token may not do this (needs {})",
                principal.role.as_str(),
                roles_allowed(permission)
            ),
        )
        .render(flavor);
    }
    let actor = principal.actor();
    req.extensions_mut().insert(principal);
    // Writes made while serving this request are recorded in the audit log as this caller.
    ACTOR.scope(actor, next.run(req)).await
}

tokio::task_local! {
    /// Who the request being served comes from (`token:NAME`), for the audit log.
    pub(crate) static ACTOR: String;
}

/// The caller of the request this task serves, if it was authenticated by [`require`].
pub(crate) fn current_actor() -> Option<String> {
    ACTOR.try_with(Clone::clone).ok()
}

/// The `u8` codes of [`Permission`] for [`require`].
pub(crate) mod code {
    pub const SUBMIT: u8 = 0;
    pub const READ_BANKS: u8 = 1;
    pub const WRITE_BANKS: u8 = 2;
    pub const OPERATE: u8 = 3;
    pub const REVIEW: u8 = 4;
    pub const EVIDENCE: u8 = 5;
}

fn permission_from_code(p: u8) -> Permission {
    match p {
        code::SUBMIT => Permission::Submit,
        code::READ_BANKS => Permission::ReadBanks,
        code::WRITE_BANKS => Permission::WriteBanks,
        code::OPERATE => Permission::Operate,
        code::REVIEW => Permission::Review,
        code::EVIDENCE => Permission::Evidence,
        // Not reachable from the router; an unknown code fails closed to the narrowest
        // permission (curators and admins only).
        _ => Permission::WriteBanks,
    }
}

fn roles_allowed(p: Permission) -> String {
    let names: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| allows(*r, p))
        .map(Role::as_str)
        .collect();
    names.join(" or ")
}
