//! The media folder: the bytes of every upload that matched, kept by SHA-256 and never
//! deleted, so reviewers can see them and confirmed content is kept as evidence.
//!
//! Layout: `ROOT/ab/cdef…` (the first two hex digits of the SHA-256, then the other 62). A
//! file is written to a temporary name in its folder, synced, then renamed into place, so a
//! crash never leaves a partial file under a digest's name. Uploads that match nothing are not
//! kept.

use crate::audit::hex;
use crate::StoreError;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A content-addressed folder of media bytes.
#[derive(Clone, Debug)]
pub struct MediaDir {
    root: PathBuf,
}

impl MediaDir {
    /// The folder at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MediaDir { root: root.into() }
    }

    /// The default: `media/` beside the database file.
    pub fn beside(db: &Path) -> Self {
        let dir = db.parent().filter(|p| !p.as_os_str().is_empty());
        MediaDir::new(dir.unwrap_or(Path::new(".")).join("media"))
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the bytes with this SHA-256 live.
    pub fn path_of(&self, sha256: &[u8; 32]) -> PathBuf {
        let h = hex(sha256);
        self.root.join(&h[..2]).join(&h[2..])
    }

    /// Whether bytes with this SHA-256 are kept.
    pub fn contains(&self, sha256: &[u8; 32]) -> bool {
        self.path_of(sha256).is_file()
    }

    /// Keeps `bytes` under their SHA-256 (which must be `sha256`). Idempotent: bytes already
    /// kept are not written again.
    pub fn put(&self, sha256: &[u8; 32], bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        if &actual != sha256 {
            return Err(StoreError::Invalid(
                "media bytes do not have the SHA-256 they are stored under".into(),
            ));
        }
        let path = self.path_of(sha256);
        if path.is_file() {
            return Ok(path);
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs_err::create_dir_all(dir)?;
        // Unique per process and write, so concurrent writers never share a temporary file.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let result = (|| -> std::io::Result<()> {
            let mut f = fs_err::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs_err::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            let _ = fs_err::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(path)
    }

    /// The bytes with this SHA-256, checked against it.
    pub fn read(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        let bytes = fs_err::read(self.path_of(sha256))?;
        let actual: [u8; 32] = Sha256::digest(&bytes).into();
        if &actual != sha256 {
            return Err(StoreError::Invalid(format!(
                "the media file for {} was changed on disk (its SHA-256 is now {})",
                hex(sha256),
                hex(&actual)
            )));
        }
        Ok(bytes)
    }
}
