//! MD5 and SHA-256 of the bytes, the exact-copy signals.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The cryptographic digests of a file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digests {
    /// MD5 (the field still exchanges it).
    pub md5: [u8; 16],
    /// SHA-256 (content addressing of evidence uses it).
    pub sha256: [u8; 32],
}

impl Digests {
    /// Both digests in one pass over the bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let mut md5 = Md5::new();
        let mut sha = Sha256::new();
        // Feed both from the same cache-sized chunks, so the bytes are read from memory once.
        for chunk in bytes.chunks(64 * 1024) {
            md5.update(chunk);
            sha.update(chunk);
        }
        Digests {
            md5: md5.finalize().into(),
            sha256: sha.finalize().into(),
        }
    }

    /// MD5 as lower-case hex.
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }

    /// SHA-256 as lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let d = Digests::of(b"abc");
        assert_eq!(d.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            d.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Chunking must not change the result.
        let big = vec![7u8; 200_000];
        let one = Sha256::digest(&big);
        assert_eq!(Digests::of(&big).sha256, <[u8; 32]>::from(one));
    }
}
