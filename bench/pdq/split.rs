//! Where `ward hash` spends its time on one core: the same calls `ward_media::hash_file` makes
//! (read, MD5 + SHA-256, decode to RGB, PDQ), timed one by one on every file.
//!
//! Built by run.sh as a throwaway package in bench/work/pdq-split (path dependencies on the
//! workspace crates), so the workspace itself is untouched. Prints one line per phase:
//! `phase,<name>,<best total seconds over the files>` plus `hash,<hex>,<quality>,<path>` lines.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let repeat: usize = if args.first().map(String::as_str) == Some("--repeat") {
        let n = args[1].parse().expect("--repeat N");
        args.drain(..2);
        n
    } else {
        3
    };
    let files: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    let opts = ward_media::DecodeOptions::default();
    // Best (smallest) total over the files for each phase, across the repeats.
    let names = ["read", "digests", "decode", "pdq", "hash_file"];
    let mut best = [f64::INFINITY; 5];
    let mut hashes = Vec::new();
    for rep in 0..repeat {
        let mut tot = [0f64; 5];
        for f in &files {
            let t = Instant::now();
            let bytes = std::fs::read(f).expect("read");
            tot[0] += t.elapsed().as_secs_f64();

            let t = Instant::now();
            let d = ward_media::Digests::of(&bytes);
            tot[1] += t.elapsed().as_secs_f64();
            std::hint::black_box(d);

            let t = Instant::now();
            let img = ward_media::decode_image(&bytes, &opts).expect("decode");
            tot[2] += t.elapsed().as_secs_f64();

            let t = Instant::now();
            let p = ward_pdq::pdq(&img.pixels());
            tot[3] += t.elapsed().as_secs_f64();
            drop(img);
            drop(bytes);

            // The whole library call, as `ward hash` makes it, for comparison with the sum.
            let t = Instant::now();
            let s = ward_media::hash_file(f, &Default::default()).expect("hash_file");
            tot[4] += t.elapsed().as_secs_f64();
            assert_eq!(s.pdq, p);
            if rep == 0 {
                hashes.push((p, f.clone()));
            }
        }
        for (b, t) in best.iter_mut().zip(tot) {
            *b = b.min(t);
        }
    }
    for (n, b) in names.iter().zip(best) {
        println!("phase,{n},{b:.6}");
    }
    for (p, f) in hashes {
        println!("hash,{},{},{}", p.hash.to_hex(), p.quality, f.display());
    }
}
