//! The 256-bit PDQ hash, its hex text form and Hamming distance.

use std::fmt;
use std::str::FromStr;

/// A 256-bit perceptual hash.
///
/// Bit `k` (0..256) is DCT coefficient `k = 16 * row + col` of the 16×16 block. The text form
/// is the field's usual one (Meta's C++, Java and python-threatexchange all print it): 64 hex
/// digits, the 256-bit number written most significant digit first, so that bit 255 is the top
/// bit of the first digit. `bytes[0]` holds bits 255..248 and `bytes[31]` bits 7..0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256 {
    bytes: [u8; 32],
}

/// Why a hex string is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// The string does not have exactly 64 characters.
    #[error("a PDQ hash has 64 hex digits, this has {0}")]
    Length(usize),
    /// A character is not a hex digit.
    #[error("'{0}' at position {1} is not a hex digit")]
    Digit(char, usize),
}

impl Hash256 {
    /// The all-zero hash (what the reference returns for images under 5 pixels).
    pub const ZERO: Hash256 = Hash256 { bytes: [0; 32] };

    /// Builds a hash from its 32 big-endian bytes (the order of the hex form).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash256 { bytes }
    }

    /// The 32 big-endian bytes (the order of the hex form).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Four 64-bit words, most significant first: the layout the index scans.
    pub fn to_words(&self) -> [u64; 4] {
        let mut w = [0u64; 4];
        for (i, chunk) in self.bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w[i] = u64::from_be_bytes(b);
        }
        w
    }

    /// The inverse of [`Hash256::to_words`].
    pub fn from_words(words: [u64; 4]) -> Self {
        let mut bytes = [0u8; 32];
        for (i, w) in words.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
        }
        Hash256 { bytes }
    }

    /// Whether bit `k` (0..256) is set.
    pub fn bit(&self, k: usize) -> bool {
        self.bytes[31 - k / 8] >> (k % 8) & 1 == 1
    }

    /// Sets bit `k` (0..256).
    pub fn set_bit(&mut self, k: usize) {
        self.bytes[31 - k / 8] |= 1 << (k % 8);
    }

    /// Hamming distance: the number of bits that differ.
    pub fn distance(&self, other: &Hash256) -> u32 {
        let (a, b) = (self.to_words(), other.to_words());
        (0..4).map(|i| (a[i] ^ b[i]).count_ones()).sum()
    }

    /// The 64-digit lower-case hex form.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses the 64-digit hex form (either case).
    pub fn from_hex(s: &str) -> Result<Self, ParseHashError> {
        s.parse()
    }
}

impl FromStr for Hash256 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars = s.as_bytes();
        if chars.len() != 64 {
            return Err(ParseHashError::Length(s.chars().count()));
        }
        let mut bytes = [0u8; 32];
        for (i, &c) in chars.iter().enumerate() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => {
                    let ch = s[i..].chars().next().unwrap_or('?');
                    return Err(ParseHashError::Digit(ch, i));
                }
            };
            bytes[i / 2] |= if i % 2 == 0 { v << 4 } else { v };
        }
        Ok(Hash256 { bytes })
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.bytes {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bit_order() {
        let hex = "0007001f003f003f007f00ff00ff00ff01ff01ff01ff03ff03ff03ff03ff03ff";
        let h: Hash256 = hex.parse().unwrap();
        assert_eq!(h.to_hex(), hex);
        // The last digit 'f' holds bits 3..0; the first '0' bits 255..252.
        assert!(h.bit(0) && h.bit(3) && !h.bit(255));
        assert_eq!(Hash256::from_words(h.to_words()), h);
        let mut z = Hash256::ZERO;
        z.set_bit(255);
        assert_eq!(&z.to_hex()[..2], "80");
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert_eq!(Hash256::from_hex("abc"), Err(ParseHashError::Length(3)));
        let bad = format!("{}g", "0".repeat(63));
        assert_eq!(Hash256::from_hex(&bad), Err(ParseHashError::Digit('g', 63)));
        let upper = "F".repeat(64);
        assert_eq!(
            Hash256::from_hex(&upper).unwrap().distance(&Hash256::ZERO),
            256
        );
    }
}
