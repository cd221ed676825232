//! Hostile and broken files: a precise error each, no panic, nothing large allocated.

use std::path::Path;
use ward_media::{decode_image, hash_bytes, DecodeOptions, HashOptions, MediaError};

fn reference_jpeg() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/pdq/images/bridge-mods/aaa-orig.jpg");
    std::fs::read(p).unwrap()
}

/// A PNG declaring `w`×`h` RGB: signature, IHDR, a tiny IDAT and IEND, all with correct CRCs
/// (the shape of a decompression bomb: a few bytes that claim billions of pixels).
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr),
        (b"IDAT", vec![0x78, 0x9c, 0x03, 0x00]),
        (b"IEND", vec![]),
    ] {
        out.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(&data);
        out.extend(&chunk);
        out.extend(crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn decode(bytes: &[u8]) -> Result<(), MediaError> {
    decode_image(bytes, &DecodeOptions::default()).map(|_| ())
}

#[test]
fn zero_bytes() {
    assert!(matches!(decode(&[]), Err(MediaError::Empty)));
}

#[test]
fn text_named_png() {
    let err = decode(b"this is not an image, just some text\n").unwrap_err();
    assert!(matches!(err, MediaError::Unsupported(_)));
    assert!(err.to_string().contains("looks like text"), "{err}");
}

#[test]
fn truncated_jpeg_at_many_cuts() {
    let full = reference_jpeg();
    assert!(decode(&full).is_ok());
    for cut in [
        3,
        20,
        200,
        2_000,
        full.len() / 3,
        full.len() / 2,
        full.len() - 2,
    ] {
        let err = decode(&full[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                MediaError::Truncated { .. } | MediaError::Corrupt { .. }
            ),
            "cut {cut}: {err}"
        );
    }
    let err = decode(&full[..full.len() / 2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "truncated jpeg: the file ends before the image data does"
    );
}

#[test]
fn huge_declared_dimensions_are_refused_before_allocation() {
    let err = decode(&png_header(100_000, 100_000)).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::TooManyPixels {
                pixels: 10_000_000_000,
                ..
            }
        ),
        "{err}"
    );
    // A small limit applies to a real image too.
    let opts = DecodeOptions {
        max_pixels: 1000,
        ..DecodeOptions::default()
    };
    let err = decode_image(&reference_jpeg(), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::TooManyPixels {
                width: 1600,
                height: 1004,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn byte_limit() {
    let opts = HashOptions {
        decode: DecodeOptions {
            max_bytes: 100,
            ..DecodeOptions::default()
        },
        dihedral: false,
    };
    assert!(matches!(
        hash_bytes(&reference_jpeg(), &opts),
        Err(MediaError::TooManyBytes { limit: 100 })
    ));
}

#[test]
fn corrupt_bytes_inside_a_valid_header_never_panic() {
    let full = reference_jpeg();
    let mut seed = 1u64;
    for _ in 0..30 {
        let mut b = full.clone();
        for _ in 0..20 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (seed >> 33) as usize % b.len();
            b[i] = (seed >> 13) as u8;
        }
        let _ = decode(&b); // Ok or Err, but no panic.
    }
    let header_only = png_header(64, 64);
    assert!(decode(&header_only).is_err());
}
