//! Bank administration beyond create/import/disable: the settings and operations that HMA's
//! curation API exposes (matching ratio, rename, delete, re-enable an entry).
//!
//! Nothing is removed from the database: a deleted bank is renamed out of the way and its
//! entries are disabled, so entry ids are never reused (an index that follows the change
//! sequence relies on that) and past matches stay explainable.

use crate::{audit, bump_seq, now, validate_bank_name, Store, StoreError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// A bank's name and matching settings: what a server keeps in memory for every lookup.
#[derive(Clone, Debug, PartialEq)]
pub struct BankSettings {
    /// Store id (what [`IndexedSignal::bank`](crate::IndexedSignal::bank) refers to).
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Share of lookups in which this bank's matches are reported, 0.0 to 1.0 (HMA's
    /// `matching_enabled_ratio`).
    pub matching_enabled_ratio: f64,
}

impl Store {
    /// Settings of every bank that is not deleted, by name.
    pub fn bank_settings(&self) -> Result<Vec<BankSettings>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, matching_enabled_ratio FROM banks WHERE deleted_at IS NULL ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(BankSettings {
                id: r.get(0)?,
                name: r.get(1)?,
                matching_enabled_ratio: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One bank's settings.
    pub fn bank_settings_of(&self, name: &str) -> Result<BankSettings, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, matching_enabled_ratio FROM banks WHERE name = ?1 AND deleted_at IS NULL",
                [name],
                |r| {
                    Ok(BankSettings {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        matching_enabled_ratio: r.get(2)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchBank(name.to_owned()))
    }

    /// Sets the share of lookups in which a bank's matches are reported (0.0 to 1.0).
    pub fn set_matching_ratio(&mut self, name: &str, ratio: f64) -> Result<(), StoreError> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(StoreError::Invalid(format!(
                "matching ratio must be between 0 and 1, not {ratio}"
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let n = tx.execute(
            "UPDATE banks SET matching_enabled_ratio = ?2, seq = ?3 WHERE name = ?1 AND deleted_at IS NULL",
            params![name, ratio, seq],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchBank(name.to_owned()));
        }
        audit::append(
            &tx,
            &self.actor,
            "bank.update",
            &format!("bank:{name}"),
            &serde_json::json!({ "matching_enabled_ratio": ratio }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Renames a bank; its entries follow (they refer to the bank by id).
    pub fn rename_bank(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        validate_bank_name(to)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let res = tx.execute(
            "UPDATE banks SET name = ?2, seq = ?3 WHERE name = ?1 AND deleted_at IS NULL",
            params![from, to, seq],
        );
        let n = match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::BankExists(to.to_owned()));
            }
            other => other?,
        };
        if n == 0 {
            return Err(StoreError::NoSuchBank(from.to_owned()));
        }
        audit::append(
            &tx,
            &self.actor,
            "bank.update",
            &format!("bank:{from}"),
            &serde_json::json!({ "renamed_to": to }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a bank, in one transaction: its entries are disabled (every index drops them)
    /// and the bank is renamed `NAME~deleted~ID` and hidden, so the name is free again.
    /// Returns false when there was no such bank.
    pub fn delete_bank(&mut self, name: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM banks WHERE name = ?1 AND deleted_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        let seq = bump_seq(&tx)?;
        let disabled = tx.execute(
            "UPDATE entries SET status = 'disabled', seq = ?2 WHERE bank_id = ?1 AND status = 'active'",
            params![id, seq],
        )?;
        // '~' is not allowed in bank names, so the new name cannot collide with a live bank.
        tx.execute(
            "UPDATE banks SET deleted_at = ?2, name = name || '~deleted~' || id, seq = ?3 WHERE id = ?1",
            params![id, now(), seq],
        )?;
        audit::append(
            &tx,
            &self.actor,
            "bank.delete",
            &format!("bank:{name}"),
            &serde_json::json!({ "bank_id": id, "entries_disabled": disabled }),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Re-enables a disabled entry of a bank.
    pub fn enable_entry(&mut self, bank: &str, entry: i64) -> Result<(), StoreError> {
        self.set_entry_status(bank, entry, "active")
    }
}

impl Store {
    /// The id of the entry of `bank` with this signal, active or not.
    pub fn entry_id_of(
        &self,
        bank: &str,
        signal_type: &str,
        value: &[u8],
    ) -> Result<Option<i64>, StoreError> {
        let bank_id = self.bank(bank)?.id;
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM entries WHERE signal_type = ?1 AND value = ?2 AND bank_id = ?3",
                params![signal_type, value, bank_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}
