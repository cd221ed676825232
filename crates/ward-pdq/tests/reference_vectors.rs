//! The decoder-independent vectors of `../shared/reference/pdq/exact-vectors/`: raw PPM/PGM
//! pixels and the hashes Meta's C++ PDQ computes for exactly those pixels. Identical, bit for
//! bit, hash, quality and all eight dihedral hashes.

use std::path::{Path, PathBuf};
use ward_pdq::{dihedral, fast, pdq, reference, stages, Hash256, Pixels};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdq/exact-vectors")
}

/// A netpbm P5/P6 reader, enough for the vectors (maxval 255, single whitespace after it).
fn read_pnm(path: &Path) -> (Vec<u8>, usize, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8(bytes[start..i].to_vec()).unwrap());
    }
    let channels = if fields[0] == "P6" { 3 } else { 1 };
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    assert_eq!(fields[3], "255");
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), w * h * channels, "{}", path.display());
    (data, w, h, channels)
}

fn pixels<'a>(data: &'a [u8], w: usize, h: usize, c: usize) -> Pixels<'a> {
    if c == 3 {
        Pixels::rgb(data, w, h).unwrap()
    } else {
        Pixels::grey(data, w, h).unwrap()
    }
}

fn csv(name: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir().join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn hash_and_quality_identical() {
    let rows = csv("expected.csv");
    assert!(rows.len() >= 17);
    let mut failures = Vec::new();
    for row in rows {
        let (want, quality, file) = (&row[0], row[1].parse::<u8>().unwrap(), &row[2]);
        let (data, w, h, c) = read_pnm(&dir().join(file));
        let got = pdq(&pixels(&data, w, h, c));
        assert_eq!(got.quality, quality, "{file}: quality");
        if file.contains("constant") {
            // The hash of a constant image is float round-off noise: the quality is what counts.
            continue;
        }
        if got.hash.to_hex() != *want {
            let d = got.hash.distance(&want.parse().unwrap());
            failures.push(format!("{file}: {} bits off", d));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn dihedral_hashes_identical() {
    let rows = csv("expected-dihedral.csv");
    let mut failures = Vec::new();
    for row in rows {
        let file = &row[9];
        let (data, w, h, c) = read_pnm(&dir().join(file));
        let got = dihedral(&pixels(&data, w, h, c));
        assert_eq!(
            got.quality,
            row[8].parse::<u8>().unwrap(),
            "{file}: quality"
        );
        if file.contains("constant") {
            continue;
        }
        for (k, want) in row[..8].iter().enumerate() {
            if got.hashes[k].to_hex() != *want {
                failures.push(format!("{file}: dihedral {k}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every stage against the reference's dumps: the 64×64 buffer, the DCT, the hash.
#[test]
fn intermediates_identical() {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".intermediates.txt") else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sections: Vec<Vec<f32>> = Vec::new();
        for line in text.lines() {
            if line.starts_with("# buffer64x64") || line.starts_with("# dct16x16") {
                sections.push(Vec::new());
            } else if !line.starts_with('#') {
                let cur = sections.last_mut().unwrap();
                cur.extend(line.split_whitespace().map(|v| v.parse::<f32>().unwrap()));
            }
        }
        let pnm = ["ppm", "pgm"]
            .iter()
            .map(|e| dir().join(format!("{stem}.{e}")))
            .find(|p| p.exists());
        let (data, w, h, c) = read_pnm(&pnm.unwrap());
        let px = pixels(&data, w, h, c);
        let a = fast::downsample(&px);
        let flat: Vec<f32> = a.iter().flatten().copied().collect();
        assert_eq!(flat, sections[0], "{stem}: 64x64 buffer");
        let b = stages::dct64_to_16(&a);
        let flat: Vec<f32> = b.iter().flatten().copied().collect();
        assert_eq!(flat, sections[1], "{stem}: dct");
        let luma_file = dir().join(format!("{stem}.luma-topleft-8x8.txt"));
        let luma = px.luma();
        for (r, line) in std::fs::read_to_string(luma_file)
            .unwrap()
            .lines()
            .enumerate()
        {
            for (c, v) in line.split_whitespace().enumerate() {
                let want: f32 = v.parse().unwrap();
                assert_eq!(luma[r * w + c], want, "{stem}: luma at row {r} col {c}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 4);
}

/// The fast path equals the reference port on sizes that exercise every phase of the filter:
/// tiny, odd, one row of blocks, windows wider than a block, tall and wide strips.
#[test]
fn fast_downsample_equals_reference() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for (w, h) in [
        (5, 5),
        (7, 1000),
        (1000, 7),
        (64, 64),
        (65, 63),
        (129, 257),
        (333, 555),
        (1030, 9),
        (2100, 1700),
    ] {
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 56) as u8
            })
            .collect();
        let px = Pixels::rgb(&rgb, w, h).unwrap();
        let fast = fast::downsample(&px);
        let slow = reference::downsample(&mut px.luma(), h, w);
        assert!(fast == slow, "{w}x{h}");
        // The baseline build of the same code (the other CPUs' path, where this one runs
        // the AVX2 build).
        assert!(fast::downsample_portable(&px) == slow, "{w}x{h} portable");
        // And from 4:2:0 planes of the same size, against the reference on their RGB.
        let planes = &rgb[..ward_pdq::Yuv420::frame_len(w, h).unwrap()];
        let frame = ward_pdq::Yuv420::new(planes, w, h).unwrap();
        let as_rgb = frame.to_rgb();
        let px = Pixels::rgb(&as_rgb, w, h).unwrap();
        let slow = reference::downsample(&mut px.luma(), h, w);
        assert!(fast::downsample(&frame) == slow, "{w}x{h} yuv420");
    }
}

#[test]
fn under_five_pixels_is_zero_with_quality_zero() {
    for (w, h) in [(4, 4), (4, 100), (100, 4), (0, 0)] {
        let rgb = vec![200u8; w * h * 3];
        let p = pdq(&Pixels::rgb(&rgb, w, h).unwrap());
        assert_eq!((p.hash, p.quality), (Hash256::ZERO, 0));
    }
    assert!(Pixels::rgb(&[0u8; 10], 2, 2).is_err());
}
