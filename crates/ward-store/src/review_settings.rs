//! A reviewer's own wellness settings for the review page (blur, greyscale, autoplay), kept by
//! token id. Only overrides are stored: a field left `None` follows the deployment's default,
//! which the server holds, so changing a default reaches everyone who kept it.

use crate::{now, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// The strongest blur, in pixels, a setting may ask for.
pub const MAX_BLUR_PX: u32 = 64;

/// What one reviewer chose; `None` is "the deployment's default".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReviewOverrides {
    /// Blur radius in CSS pixels, 0 to [`MAX_BLUR_PX`].
    pub blur_px: Option<u32>,
    /// Greyscale until revealed.
    pub greyscale: Option<bool>,
    /// Videos start playing (muted) when a case opens.
    pub autoplay: Option<bool>,
}

impl ReviewOverrides {
    /// Whether the values are in range. The caller's fault when not.
    pub fn validate(&self) -> Result<(), StoreError> {
        match self.blur_px {
            Some(b) if b > MAX_BLUR_PX => Err(StoreError::Invalid(format!(
                "blur_px must be 0 to {MAX_BLUR_PX}, not {b}"
            ))),
            _ => Ok(()),
        }
    }
}

impl Store {
    /// The overrides of the token with id `token_id` (all `None` when it chose nothing).
    pub fn review_overrides(&self, token_id: i64) -> Result<ReviewOverrides, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT blur_px, greyscale, autoplay FROM review_settings WHERE token_id = ?1",
                [token_id],
                |r| {
                    Ok(ReviewOverrides {
                        blur_px: r.get::<_, Option<i64>>(0)?.map(|b| b.clamp(0, 64) as u32),
                        greyscale: r.get(1)?,
                        autoplay: r.get(2)?,
                    })
                },
            )
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// Replaces the overrides of the token with id `token_id` (one statement, so one
    /// transaction). All `None` clears them.
    pub fn set_review_overrides(
        &mut self,
        token_id: i64,
        o: &ReviewOverrides,
    ) -> Result<(), StoreError> {
        o.validate()?;
        let res = self.conn.execute(
            "INSERT INTO review_settings (token_id, blur_px, greyscale, autoplay, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (token_id) DO UPDATE SET blur_px = excluded.blur_px,
                 greyscale = excluded.greyscale, autoplay = excluded.autoplay,
                 updated_at = excluded.updated_at",
            params![token_id, o.blur_px, o.greyscale, o.autoplay, now()],
        );
        match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Invalid(format!("no token with id {token_id}")))
            }
            other => other.map(drop).map_err(StoreError::from),
        }
    }
}
