//! Schema migrations, applied in order and tracked with SQLite's `user_version`.

use crate::StoreError;
use rusqlite::Connection;

/// Each migration, in order; the schema version is its position plus one.
const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_banks.sql"),
    include_str!("../migrations/sqlite/0002_serve.sql"),
    include_str!("../migrations/sqlite/0003_cases.sql"),
    include_str!("../migrations/sqlite/0004_review_settings.sql"),
    include_str!("../migrations/sqlite/0005_derived.sql"),
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = SQLITE.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for (i, sql) in SQLITE.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
