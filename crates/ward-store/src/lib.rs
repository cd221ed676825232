//! ward's system of record: banks and their entries, in SQLite (one file, WAL mode).
//!
//! This crate is the only one that writes SQL. Every user-visible write is one transaction, so
//! a bank is never half-written: an import that fails on line 9,000,000, or a process killed in
//! the middle of one, leaves the bank exactly as it was. Every write also bumps a **change
//! sequence**; each entry remembers the sequence of its last change, so an index built at
//! sequence `s` catches up with `changes_since(s)` instead of a rebuild.
//!
//! Beyond banks: submitted content, cases and decisions with the review policy applied inside
//! one transaction (`cases`), the webhook outbox, the hash-chained audit log that every write
//! appends to in its own transaction ([`Store::audit_verify`]), the content-addressed media
//! folder ([`MediaDir`]) and evidence packages ([`evidence`]).
//!
//! The schema (`migrations/sqlite/`) sticks to types PostgreSQL shares, so that the second
//! backend the design calls for can follow with the same shape.

mod audit;
mod bank_admin;
mod cases;
mod derived;
mod error;
pub mod evidence;
mod media;
mod review_settings;
mod schema;
mod tokens;

pub use audit::{audit_hash, hex, AuditEntry, AuditVerdict};
pub use bank_admin::BankSettings;
pub use cases::{
    CaseDetail, CaseFilter, CaseItem, CaseMatch, CaseRef, CaseStatus, CaseSummary, ContentRecord,
    Decision, DecisionKind, DecisionRecord, Event, MatchInput, MediaType, NewContent, Outcome,
    Submission,
};
pub use derived::{DerivedSignal, IndexedDerived, MatchThresholds, NewDerived};
pub use error::StoreError;
pub use media::MediaDir;
pub use review_settings::{ReviewOverrides, MAX_BLUR_PX};
pub use tokens::{Role, TokenInfo};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a match in a bank does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Every match goes to a human reviewer.
    Review,
    /// Exact matches are quarantined at once (and still logged); near matches go to review.
    Auto,
}

impl Policy {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Review => "review",
            Policy::Auto => "auto",
        }
    }

    /// Parses `review` or `auto`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "review" => Ok(Policy::Review),
            "auto" => Ok(Policy::Auto),
            other => Err(StoreError::Invalid(format!(
                "policy must be review or auto, not '{other}'"
            ))),
        }
    }
}

/// A bank as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bank {
    /// Store id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Labels every match from this bank carries.
    pub labels: Vec<String>,
    /// What a match does.
    pub policy: Policy,
    /// Provenance: who shared it and under what terms.
    pub source: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Active entries.
    pub active_entries: u64,
    /// Disabled entries.
    pub disabled_entries: u64,
}

/// What is needed to create a bank.
#[derive(Clone, Debug)]
pub struct NewBank {
    /// Unique name: letters, digits, `_`, `-`, `.`; 1 to 64 characters.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Labels.
    pub labels: Vec<String>,
    /// What a match does.
    pub policy: Policy,
    /// Provenance.
    pub source: String,
}

/// One signal to add to a bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// `pdq`, `md5`, `sha256`, … (a fixed vocabulary, so no allocation per entry).
    pub signal_type: &'static str,
    /// The signal in binary.
    pub value: Vec<u8>,
    /// Labels of this entry.
    pub labels: Vec<String>,
    /// The sharer's id for it.
    pub source_id: Option<String>,
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Store id (stable; what matches refer to).
    pub id: i64,
    /// The bank's name.
    pub bank: String,
    /// Signal type.
    pub signal_type: String,
    /// The signal in binary.
    pub value: Vec<u8>,
    /// Labels.
    pub labels: Vec<String>,
    /// The sharer's id.
    pub source_id: Option<String>,
    /// Unix seconds.
    pub added_at: i64,
    /// Who added it.
    pub added_by: String,
    /// Still matched?
    pub active: bool,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// New entries.
    pub added: u64,
    /// Entries the bank already had (an import is idempotent).
    pub already_present: u64,
}

/// A signal as an index needs it: which entry, which bank, the value, and whether it counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedSignal {
    /// Entry id.
    pub entry: i64,
    /// Bank id.
    pub bank: i64,
    /// The signal in binary.
    pub value: Vec<u8>,
    /// False when the entry was disabled (an index drops it).
    pub active: bool,
}

/// The store: one SQLite database file.
pub struct Store {
    conn: Connection,
    /// Recorded in the audit log for writes whose functions take no actor.
    actor: String,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn labels_to_json(labels: &[String]) -> std::borrow::Cow<'static, str> {
    if labels.is_empty() {
        return "[]".into(); // the common case of a bulk import: no allocation
    }
    serde_json::to_string(labels)
        .unwrap_or_else(|_| "[]".to_owned())
        .into()
}

fn labels_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Checks a bank name: what HMA accepts too (letters, digits, `_`, `-`, `.`), 1 to 64 long.
pub fn validate_bank_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "bank name '{name}' must be 1 to 64 letters, digits, '_', '-' or '.'"
        )))
    }
}

/// Checks a label: printable, no `,` or `;` (the CSV exchange separators), 1 to 128 characters.
pub fn validate_label(label: &str) -> Result<(), StoreError> {
    let ok = !label.is_empty()
        && label.chars().count() <= 128
        && !label
            .chars()
            .any(|c| c.is_control() || c == ',' || c == ';');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "label '{label}' must be 1 to 128 printable characters without ',' or ';'"
        )))
    }
}

impl Store {
    /// Opens (creating on first use) the database at `path`, in WAL mode, migrated to the
    /// current schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn,
            actor: "unattributed".to_owned(),
        };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            actor: "unattributed".to_owned(),
        })
    }

    /// The current change sequence.
    pub fn seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'seq'", [], |r| r.get(0))?)
    }

    /// Creates a bank.
    pub fn create_bank(&mut self, bank: &NewBank, actor: &str) -> Result<Bank, StoreError> {
        validate_bank_name(&bank.name)?;
        bank.labels.iter().try_for_each(|l| validate_label(l))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let res = tx.execute(
            "INSERT INTO banks (name, description, labels, policy, source, created_at, created_by, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                bank.name,
                bank.description,
                labels_to_json(&bank.labels),
                bank.policy.as_str(),
                bank.source,
                now(),
                actor,
                seq
            ],
        );
        match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::BankExists(bank.name.clone()));
            }
            other => other?,
        };
        audit::append(
            &tx,
            actor,
            "bank.create",
            &format!("bank:{}", bank.name),
            &serde_json::json!({
                "policy": bank.policy.as_str(), "labels": bank.labels,
                "description": bank.description, "source": bank.source,
            }),
        )?;
        tx.commit()?;
        self.bank(&bank.name)
    }

    /// All banks, by name.
    pub fn banks(&self) -> Result<Vec<Bank>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("{BANK_SELECT} ORDER BY b.name"))?;
        let rows = st.query_map([], bank_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One bank by name.
    pub fn bank(&self, name: &str) -> Result<Bank, StoreError> {
        self.conn
            .query_row(
                &format!("{BANK_SELECT} AND b.name = ?1"),
                [name],
                bank_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchBank(name.to_owned()))
    }

    /// Adds entries to a bank in one transaction: all of them or, on any error, none.
    /// Entries the bank already has (same signal type and value) are counted, not duplicated.
    pub fn import(
        &mut self,
        bank: &str,
        entries: &[NewEntry],
        actor: &str,
    ) -> Result<ImportOutcome, StoreError> {
        self.import_with_derived(bank, entries, &[], actor)
            .map(|(o, _)| o)
    }

    /// [`Store::import`] and [`Store::add_derived`] in one transaction: the entries and the
    /// derived hashes made from their media land together or not at all, so a failure
    /// never leaves entries without the derived hashes they were added with. Returns the
    /// import's outcome and how many derived hashes were added.
    pub fn import_with_derived(
        &mut self,
        bank: &str,
        entries: &[NewEntry],
        derived: &[(&str, Vec<u8>, Vec<NewDerived>)],
        actor: &str,
    ) -> Result<(ImportOutcome, u64), StoreError> {
        let bank_id = self.bank(bank)?.id;
        for e in entries {
            e.labels.iter().try_for_each(|l| validate_label(l))?;
        }
        // Sorted by value, inserts walk the unique index in order instead of at random, which
        // keeps a 10-million-row import fast once the index outgrows the page cache.
        let mut order: Vec<&NewEntry> = entries.iter().collect();
        let by_signal = |a: &&NewEntry, b: &&NewEntry| {
            (a.signal_type, &a.value).cmp(&(b.signal_type, &b.value))
        };
        if !order.is_sorted_by(|a, b| by_signal(a, b).is_le()) {
            order.sort_unstable_by(by_signal);
        }
        self.conn.pragma_update(None, "cache_size", -262_144)?; // 256 MiB for this connection
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let added_at = now();
        let mut outcome = ImportOutcome::default();
        {
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO entries
                 (bank_id, signal_type, value, labels, source_id, added_at, added_by, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in order {
                let n = ins.execute(params![
                    bank_id,
                    e.signal_type,
                    e.value,
                    labels_to_json(&e.labels),
                    e.source_id,
                    added_at,
                    actor,
                    seq
                ])?;
                if n == 1 {
                    outcome.added += 1;
                } else {
                    outcome.already_present += 1;
                }
            }
        }
        audit::append(
            &tx,
            actor,
            "bank.import",
            &format!("bank:{bank}"),
            &serde_json::json!({
                "entries": entries.len(), "added": outcome.added,
                "already_present": outcome.already_present,
            }),
        )?;
        let added_derived = derived::insert_derived(&tx, (bank, bank_id), seq, derived, actor)?;
        tx.commit()?;
        Ok((outcome, added_derived))
    }

    /// Visits every entry of a bank in id order (for export).
    pub fn for_each_entry(
        &self,
        bank: &str,
        mut visit: impl FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let bank_id = self.bank(bank)?.id;
        let mut st = self.conn.prepare(&format!(
            "{ENTRY_SELECT} WHERE e.bank_id = ?1 ORDER BY e.id"
        ))?;
        let mut rows = st.query([bank_id])?;
        while let Some(row) = rows.next()? {
            visit(entry_from_row(row)?)?;
        }
        Ok(())
    }

    /// One entry by id.
    pub fn entry(&self, id: i64) -> Result<Entry, StoreError> {
        self.conn
            .query_row(
                &format!("{ENTRY_SELECT} WHERE e.id = ?1"),
                [id],
                entry_from_row,
            )
            .optional()?
            .ok_or(StoreError::NoSuchEntry(id))
    }

    /// Disables an entry of a bank: it stays (for the record) but no longer matches.
    pub fn disable_entry(&mut self, bank: &str, entry: i64) -> Result<(), StoreError> {
        self.set_entry_status(bank, entry, "disabled")
    }

    /// Sets an entry's status (`active` or `disabled`) in one transaction that bumps the
    /// change sequence, so indexes follow.
    pub(crate) fn set_entry_status(
        &mut self,
        bank: &str,
        entry: i64,
        status: &str,
    ) -> Result<(), StoreError> {
        let bank_id = self.bank(bank)?.id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = bump_seq(&tx)?;
        let n = tx.execute(
            "UPDATE entries SET status = ?4, seq = ?3 WHERE id = ?1 AND bank_id = ?2",
            params![entry, bank_id, seq, status],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchEntry(entry));
        }
        let action = if status == "active" {
            "entry.enable"
        } else {
            "entry.disable"
        };
        audit::append(
            &tx,
            &self.actor,
            action,
            &format!("bank:{bank}"),
            &serde_json::json!({ "entry": entry }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Visits every signal of one type changed after sequence `after` (0: all of them), with
    /// whether it is active, in entry order; returns the sequence the visit is current to.
    pub fn signals_since(
        &self,
        signal_type: &str,
        after: i64,
        mut visit: impl FnMut(IndexedSignal),
    ) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction()?; // one consistent snapshot
        let seq: i64 =
            tx.query_row("SELECT value FROM meta WHERE key = 'seq'", [], |r| r.get(0))?;
        {
            // A full load walks the table in id order (no index, no sort: at ten million rows
            // a sort spills to temporary files); catching up uses the sequence index.
            let sql = if after == 0 {
                "SELECT id, bank_id, value, status = 'active' FROM entries NOT INDEXED
                 WHERE signal_type = ?1 AND seq > ?2 ORDER BY id"
            } else {
                "SELECT id, bank_id, value, status = 'active' FROM entries INDEXED BY entries_by_seq
                 WHERE signal_type = ?1 AND seq > ?2 ORDER BY id"
            };
            let mut st = tx.prepare_cached(sql)?;
            let mut rows = st.query(params![signal_type, after])?;
            while let Some(r) = rows.next()? {
                visit(IndexedSignal {
                    entry: r.get(0)?,
                    bank: r.get(1)?,
                    value: r.get(2)?,
                    active: r.get(3)?,
                });
            }
        }
        tx.finish()?;
        Ok(seq)
    }

    /// Active entries with exactly this value (exact signal types: MD5, SHA-256).
    pub fn lookup_exact(&self, signal_type: &str, value: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "{ENTRY_SELECT} WHERE e.signal_type = ?1 AND e.value = ?2 AND e.status = 'active' ORDER BY e.id"
        ))?;
        let rows = st.query_map(params![signal_type, value], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const BANK_SELECT: &str = "SELECT b.id, b.name, b.description, b.labels, b.policy, b.source,
    b.created_at, b.created_by,
    (SELECT count(*) FROM entries e WHERE e.bank_id = b.id AND e.status = 'active'),
    (SELECT count(*) FROM entries e WHERE e.bank_id = b.id AND e.status = 'disabled')
    FROM banks b WHERE b.deleted_at IS NULL";

const ENTRY_SELECT: &str = "SELECT e.id, b.name, e.signal_type, e.value, e.labels, e.source_id,
    e.added_at, e.added_by, e.status = 'active' FROM entries e JOIN banks b ON b.id = e.bank_id";

fn bank_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Bank> {
    let policy: String = r.get(4)?;
    Ok(Bank {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        labels: labels_from_json(&r.get::<_, String>(3)?),
        policy: if policy == "auto" {
            Policy::Auto
        } else {
            Policy::Review
        },
        source: r.get(5)?,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
        active_entries: r.get::<_, i64>(8)? as u64,
        disabled_entries: r.get::<_, i64>(9)? as u64,
    })
}

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        bank: r.get(1)?,
        signal_type: r.get(2)?,
        value: r.get(3)?,
        labels: labels_from_json(&r.get::<_, String>(4)?),
        source_id: r.get(5)?,
        added_at: r.get(6)?,
        added_by: r.get(7)?,
        active: r.get(8)?,
    })
}

fn bump_seq(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value",
        [],
        |r| r.get(0),
    )?)
}
