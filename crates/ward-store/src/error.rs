//! Store errors: the caller's (`Invalid`, `NoSuch*`, `BankExists`) and the database's.

use std::path::{Path, PathBuf};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened.
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer ward.
    #[error("database schema version {found} is newer than this ward understands ({known}); upgrade ward")]
    NewerSchema {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// No bank by that name. The caller's fault.
    #[error("no bank named '{0}' (see `ward bank list`)")]
    NoSuchBank(String),
    /// A bank by that name exists. The caller's fault.
    #[error("a bank named '{0}' already exists")]
    BankExists(String),
    /// No entry with that id (in that bank). The caller's fault.
    #[error("no entry {0} in that bank")]
    NoSuchEntry(i64),
    /// No case with that id. The caller's fault.
    #[error("no case {0}")]
    NoSuchCase(i64),
    /// No item with that id in that case. The caller's fault.
    #[error("no item {item} in case {case}")]
    NoSuchItem {
        /// The case.
        case: i64,
        /// The item asked for.
        item: i64,
    },
    /// No content with that platform id. The caller's fault.
    #[error("no content with id '{0}' was submitted")]
    NoSuchContent(String),
    /// The case was decided already; a closed case cannot be decided again. The caller's fault.
    #[error("case {0} is closed: it was decided already")]
    CaseClosed(i64),
    /// A file (media or evidence) could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A value fails validation. The caller's fault.
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Open {
            path: path.to_owned(),
            source,
        }
    }
}
