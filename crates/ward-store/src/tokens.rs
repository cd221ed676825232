//! API tokens: who may call `ward serve`, and in which role.
//!
//! The store never sees a token itself, only its SHA-256 (computed by the caller): a copy of
//! the database or a backup does not hand out working credentials. Tokens are long random
//! strings, so a plain, unsalted digest is enough (nothing to brute-force).

use crate::{audit, now, Store, StoreError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// What a token may do. Each role is named after the person who holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A platform's upload path: hash, look up, submit content.
    Submitter,
    /// A moderator: reads cases and media, decides.
    Reviewer,
    /// Keeps banks: create, import, add, disable; and everything a submitter may do.
    Curator,
    /// Everything.
    Admin,
}

impl Role {
    /// Every role, in the order shown in help texts.
    pub const ALL: [Role; 4] = [Role::Submitter, Role::Reviewer, Role::Curator, Role::Admin];

    /// The name stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Reviewer => "reviewer",
            Role::Curator => "curator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name. The caller's fault when it fails.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "role must be submitter, reviewer, curator or admin, not '{s}'"
                ))
            })
    }
}

/// A token as stored (without the secret, which is never stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Store id.
    pub id: i64,
    /// Unique name, e.g. the integration or person holding it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
    /// Unix seconds.
    pub created_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds when it was revoked; `None` while it works.
    pub revoked_at: Option<i64>,
}

const TOKEN_SELECT: &str =
    "SELECT id, name, role, sha256, created_at, created_by, revoked_at FROM tokens";

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let role: String = r.get(2)?;
    let digest: Vec<u8> = r.get(3)?;
    let mut sha256 = [0u8; 32];
    if digest.len() == 32 {
        sha256.copy_from_slice(&digest);
    }
    Ok(TokenInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        // The table's CHECK constraint admits only the four names.
        role: Role::parse(&role).unwrap_or(Role::Submitter),
        sha256,
        created_at: r.get(4)?,
        created_by: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

impl Store {
    /// Records a new token by its SHA-256. Names are unique (so a token can be revoked by
    /// name): 1 to 64 printable characters.
    pub fn create_token(
        &mut self,
        name: &str,
        role: Role,
        sha256: &[u8; 32],
        actor: &str,
    ) -> Result<TokenInfo, StoreError> {
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "token name '{name}' must be 1 to 64 printable characters"
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let res = tx.execute(
            "INSERT INTO tokens (name, role, sha256, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, role.as_str(), &sha256[..], now(), actor],
        );
        match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Invalid(format!(
                    "a token named '{name}' already exists (names are unique; revoke it or pick another)"
                )));
            }
            other => other?,
        };
        audit::append(
            &tx,
            actor,
            "token.create",
            &format!("token:{name}"),
            &serde_json::json!({ "role": role.as_str() }),
        )?;
        tx.commit()?;
        self.token_by_name(name)
    }

    /// One token by name.
    pub fn token_by_name(&self, name: &str) -> Result<TokenInfo, StoreError> {
        self.conn
            .query_row(
                &format!("{TOKEN_SELECT} WHERE name = ?1"),
                [name],
                token_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::Invalid(format!("no token named '{name}'")))
    }

    /// Every token, revoked ones included, by name.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("{TOKEN_SELECT} ORDER BY name"))?;
        let rows = st.query_map([], token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tokens that work (not revoked): what a server loads to check requests.
    pub fn active_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "{TOKEN_SELECT} WHERE revoked_at IS NULL ORDER BY id"
        ))?;
        let rows = st.query_map([], token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a token by name; a server stops accepting it within its poll interval.
    pub fn revoke_token(&mut self, name: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, now()],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "no working token named '{name}'"
            )));
        }
        audit::append(
            &tx,
            &self.actor,
            "token.revoke",
            &format!("token:{name}"),
            &serde_json::json!({}),
        )?;
        tx.commit()?;
        Ok(())
    }
}
