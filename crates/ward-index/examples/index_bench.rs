//! ward's side of the peer comparison in `bench/index/` (driven by `bench/index/run.sh`).
//!
//! ```text
//! index_bench gen  --n 1000000 --planted 1000 --misses 1000 --seed 1 --out DIR
//! index_bench ward --dir DIR [--flat-queries 100] [--substrings 11,12,14,16] [--json FILE]
//! ```
//!
//! `gen` writes a synthetic bank (half uniformly random hashes, half clusters of near-duplicates:
//! random centres with 8 to 24 bits flipped) and queries (first `planted` ones within 31 bits of
//! a bank entry, then `misses` random ones) in files that `faiss_bench.py` reads too, so both
//! sides search the same data. `ward` measures build time, memory, single-query and batched
//! throughput, recall of the planted matches, and the substring-count trade-off, on one thread.
//!
//! File format (little-endian): 8-byte magic, `u64` count, then the records: `WARDHSH1` records
//! are 32-byte hashes (four `u64` words), `WARDPLT1` records are `u32` bank ids (the entry each
//! planted query was made from).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ward_index::{FlatIndex, Hash, Hit, Index, IndexOptions, MihIndex, MihOptions};

type Result<T> = std::result::Result<T, String>;

const HASH_MAGIC: &[u8; 8] = b"WARDHSH1";
const PLANTED_MAGIC: &[u8; 8] = b"WARDPLT1";
/// The field's PDQ match threshold, and the one the targets are stated at.
const RADIUS: u32 = 31;

/// splitmix64: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hash(&mut self) -> Hash {
        [self.next(), self.next(), self.next(), self.next()]
    }

    /// `h` with exactly `k` distinct bits flipped.
    fn flip(&mut self, h: &Hash, k: u32) -> Hash {
        let mut out = *h;
        let mut flipped = 0;
        while flipped < k {
            let bit = self.below(256) as usize;
            if (out[bit / 64] ^ h[bit / 64]) & (1 << (bit % 64)) == 0 {
                out[bit / 64] ^= 1 << (bit % 64);
                flipped += 1;
            }
        }
        out
    }
}

fn write_hashes(path: &Path, hashes: &[Hash]) -> Result<()> {
    let mut bytes = Vec::with_capacity(16 + hashes.len() * 32);
    bytes.extend_from_slice(HASH_MAGIC);
    bytes.extend_from_slice(&(hashes.len() as u64).to_le_bytes());
    for h in hashes {
        for w in h {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_records(path: &Path, magic: &[u8; 8], size: usize) -> Result<(Vec<u8>, usize)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err(format!(
            "{}: not a {} file",
            path.display(),
            String::from_utf8_lossy(magic)
        ));
    }
    let mut count = [0; 8];
    count.copy_from_slice(&bytes[8..16]);
    let count = u64::from_le_bytes(count) as usize;
    if bytes.len() != 16 + count * size {
        return Err(format!("{}: truncated", path.display()));
    }
    Ok((bytes, count))
}

fn read_hashes(path: &Path) -> Result<Vec<Hash>> {
    let (bytes, _) = read_records(path, HASH_MAGIC, 32)?;
    Ok(bytes[16..]
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u64; 4];
            for (w, b) in h.iter_mut().zip(c.chunks_exact(8)) {
                let mut a = [0; 8];
                a.copy_from_slice(b);
                *w = u64::from_le_bytes(a);
            }
            h
        })
        .collect())
}

fn read_planted(path: &Path) -> Result<Vec<u32>> {
    let (bytes, _) = read_records(path, PLANTED_MAGIC, 4)?;
    Ok(bytes[16..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// `--key value` pairs.
fn parse_args(args: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(key) = it.next() {
        let key = key
            .strip_prefix("--")
            .ok_or(format!("unexpected argument {key}"))?;
        let value = it.next().ok_or(format!("--{key} needs a value"))?;
        out.insert(key.to_string(), value.clone());
    }
    Ok(out)
}

fn get<T: std::str::FromStr>(args: &HashMap<String, String>, key: &str, default: T) -> Result<T> {
    match args.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("bad --{key} {v}")),
    }
}

fn gen(args: &HashMap<String, String>) -> Result<()> {
    let n: usize = get(args, "n", 1_000_000)?;
    let planted: usize = get(args, "planted", 1000)?;
    let misses: usize = get(args, "misses", 1000)?;
    let out = PathBuf::from(get(args, "out", String::from("bench/work/index"))?);
    let mut rng = Rng(get(args, "seed", 1)?);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    let mut bank = Vec::with_capacity(n);
    // Half uniformly random...
    for _ in 0..n / 2 {
        bank.push(rng.hash());
    }
    // ...and half near-duplicates, about ten per centre, like re-encoded copies of one picture.
    let centres: Vec<Hash> = (0..(n - n / 2) / 10 + 1).map(|_| rng.hash()).collect();
    for _ in n / 2..n {
        let c = centres[rng.below(centres.len() as u64) as usize];
        let k = 8 + rng.below(17) as u32;
        bank.push(rng.flip(&c, k));
    }
    // Shuffle so that ids do not reveal which half an entry is in.
    for i in (1..bank.len()).rev() {
        bank.swap(i, rng.below(i as u64 + 1) as usize);
    }

    let mut queries = Vec::with_capacity(planted + misses);
    let mut sources = Vec::with_capacity(planted);
    for _ in 0..planted {
        let id = rng.below(n as u64) as usize;
        let k = rng.below(u64::from(RADIUS) + 1) as u32;
        queries.push(rng.flip(&bank[id], k));
        sources.push(id as u32);
    }
    // Random queries are ~128 bits from everything; at 10 M the nearest is still ~80 away.
    for _ in 0..misses {
        queries.push(rng.hash());
    }
    write_hashes(&out.join("bank.bin"), &bank)?;
    write_hashes(&out.join("queries.bin"), &queries)?;
    let mut bytes = Vec::from(&PLANTED_MAGIC[..]);
    bytes.extend_from_slice(&(sources.len() as u64).to_le_bytes());
    for s in &sources {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let path = out.join("planted.bin");
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "wrote {n} hashes, {planted} planted and {misses} random queries to {}",
        out.display()
    );
    Ok(())
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// What one method found: the answers' size, a checksum both sides compute the same way, and
/// the recall of the planted matches.
struct Answers {
    hits: usize,
    checksum: u64,
    recall: f64,
}

/// Sums `(query + 1) * (id + 1)` over all hits, so that two methods that return the same sets
/// of ids have the same checksum (FAISS computes it the same way).
fn answers(results: &[Vec<Hit>], first_query: usize, planted: &[u32]) -> Answers {
    let mut found = 0;
    let mut planted_total = 0;
    let mut hits = 0;
    let mut checksum = 0u64;
    for (i, r) in results.iter().enumerate() {
        let q = first_query + i;
        hits += r.len();
        for h in r {
            checksum = checksum.wrapping_add((q as u64 + 1).wrapping_mul(u64::from(h.id) + 1));
        }
        if let Some(&source) = planted.get(q) {
            planted_total += 1;
            found += usize::from(r.iter().any(|h| h.id == source));
        }
    }
    Answers {
        hits,
        checksum,
        recall: if planted_total == 0 {
            1.0
        } else {
            found as f64 / planted_total as f64
        },
    }
}

/// Runs `search` on every query, returns (queries per second, results).
fn time_queries(queries: &[Hash], search: impl Fn(&Hash) -> Vec<Hit>) -> (f64, Vec<Vec<Hit>>) {
    let start = Instant::now();
    let results: Vec<Vec<Hit>> = queries.iter().map(&search).collect();
    (
        queries.len() as f64 / start.elapsed().as_secs_f64(),
        results,
    )
}

/// Runs `search` on batches of `batch` queries, returns (queries per second, results).
fn time_batches(
    queries: &[Hash],
    batch: usize,
    search: impl Fn(&[Hash]) -> Vec<Vec<Hit>>,
) -> (f64, Vec<Vec<Hit>>) {
    let start = Instant::now();
    let results: Vec<Vec<Hit>> = queries.chunks(batch).flat_map(&search).collect();
    (
        queries.len() as f64 / start.elapsed().as_secs_f64(),
        results,
    )
}

fn ward(args: &HashMap<String, String>) -> Result<()> {
    let dir = PathBuf::from(get(args, "dir", String::from("bench/work/index"))?);
    let flat_queries: usize = get(args, "flat-queries", 100)?;
    let substrings: String = get(args, "substrings", String::from("11,12,13,14,16,18"))?;
    let json_path: Option<String> = args.get("json").cloned();
    let threads: usize = get(args, "threads", 1)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| e.to_string())?;

    let rss0 = rss_bytes();
    let start = Instant::now();
    let bank = read_hashes(&dir.join("bank.bin"))?;
    let load_s = start.elapsed().as_secs_f64();
    let queries = read_hashes(&dir.join("queries.bin"))?;
    let planted = read_planted(&dir.join("planted.bin"))?;
    let n = bank.len();
    println!(
        "ward: {n} hashes, {} queries ({} planted within {RADIUS}), kernel {}, {threads} thread(s)",
        queries.len(),
        planted.len(),
        ward_index::Kernel::detect().name()
    );
    let mut json = String::new();
    let _ = write!(json, "{{\"n\": {n}, \"load_s\": {load_s:.3}");

    // The index the engine uses, with default options.
    let rss1 = rss_bytes();
    let start = Instant::now();
    let index = Index::build(bank.clone(), IndexOptions::default()).map_err(|e| e.to_string())?;
    let build_s = start.elapsed().as_secs_f64();
    let rss2 = rss_bytes();
    let bytes_per_hash = index.memory_bytes() as f64 / n as f64;
    let (qps, results) = time_queries(&queries, |q| index.search(q, RADIUS));
    let a = answers(&results, 0, &planted);
    println!(
        "ward Index (mih={}): build {build_s:.2} s (+ load {load_s:.2} s), {bytes_per_hash:.1} \
         B/hash (RSS +{:.1} B/hash), t={RADIUS}: {qps:.0} q/s, recall {:.4}, {} hits",
        index.is_multi_index(),
        (rss2.saturating_sub(rss1)) as f64 / n as f64,
        a.recall,
        a.hits
    );
    let _ = write!(
        json,
        ", \"index\": {{\"build_s\": {build_s:.3}, \"bytes_per_hash\": {bytes_per_hash:.2}, \
         \"rss_bytes_per_hash\": {:.2}, \"qps\": {qps:.1}, \"recall\": {}, \"hits\": {}, \
         \"checksum\": {}}}",
        (rss2.saturating_sub(rss1)) as f64 / n as f64,
        a.recall,
        a.hits,
        a.checksum
    );
    let planted_q = &queries[..planted.len()];
    let misses_q = &queries[planted.len()..];
    let (qps_p, _) = time_queries(planted_q, |q| index.search(q, RADIUS));
    let (qps_m, _) = time_queries(misses_q, |q| index.search(q, RADIUS));
    println!("  planted queries only: {qps_p:.0} q/s; random (no match) only: {qps_m:.0} q/s");
    let _ = write!(
        json,
        ", \"index_planted_qps\": {qps_p:.1}, \"index_misses_qps\": {qps_m:.1}"
    );

    // Radius sweep.
    let mut sweep = Vec::new();
    for t in [0, 10, 31, 63, 100] {
        let (qps, _) = time_queries(&queries, |q| index.search(q, t));
        println!("  t={t}: {qps:.0} q/s");
        sweep.push(format!("\"{t}\": {qps:.1}"));
    }
    let _ = write!(json, ", \"radius_qps\": {{{}}}", sweep.join(", "));

    // Batched queries.
    let mut batches = Vec::new();
    for batch in [1, 8, 64, 512] {
        let (qps, results) = time_batches(&queries, batch, |qs| index.search_batch(qs, RADIUS));
        let b = answers(&results, 0, &planted);
        assert_eq!(b.checksum, a.checksum, "batched answers differ");
        println!("  search_batch({batch}): {qps:.0} q/s");
        batches.push(format!("\"{batch}\": {qps:.1}"));
    }
    let _ = write!(json, ", \"batch_qps\": {{{}}}", batches.join(", "));

    // ward's own flat scan, single and batched, on a subset (it reads the whole bank per query).
    let flat = FlatIndex::from_hashes(bank.clone()).map_err(|e| e.to_string())?;
    let sub = &queries[..flat_queries.min(planted.len())];
    let sub_miss = &queries[planted.len()..(planted.len() + flat_queries).min(queries.len())];
    let flat_set: Vec<Hash> = sub.iter().chain(sub_miss).copied().collect();
    let (fqps, fres) = time_queries(&flat_set, |q| flat.search(q, RADIUS));
    let mut fchecksum = 0u64;
    let mut fhits = 0;
    let positions: Vec<usize> = (0..sub.len())
        .chain(planted.len()..planted.len() + sub_miss.len())
        .collect();
    for (r, &q) in fres.iter().zip(&positions) {
        fhits += r.len();
        for h in r {
            fchecksum = fchecksum.wrapping_add((q as u64 + 1).wrapping_mul(u64::from(h.id) + 1));
        }
    }
    let (fbqps, fbres) = time_batches(&flat_set, 64, |qs| flat.search_batch(qs, RADIUS));
    assert_eq!(fbres, fres, "batched flat answers differ");
    // The same subset through the index, to check that both agree.
    let (_, ires) = time_queries(&flat_set, |q| index.search(q, RADIUS));
    assert_eq!(ires, fres, "index and flat scan disagree");
    println!(
        "ward FlatIndex ({}): {fqps:.1} q/s, search_batch(64): {fbqps:.1} q/s ({} queries, {fhits} hits)",
        flat.kernel().name(),
        flat_set.len()
    );
    let _ = write!(
        json,
        ", \"flat\": {{\"qps\": {fqps:.2}, \"batch64_qps\": {fbqps:.2}, \"queries\": {}, \
         \"hits\": {fhits}, \"checksum\": {fchecksum}}}",
        flat_set.len()
    );
    drop(flat);

    // Substring count trade-off.
    let mut rows = Vec::new();
    println!("  m (substrings) trade-off at t={RADIUS}:");
    for m in substrings.split(',').filter(|s| !s.is_empty()) {
        let m: usize = m
            .trim()
            .parse()
            .map_err(|_| format!("bad substring count {m}"))?;
        let start = Instant::now();
        let mih = MihIndex::build(bank.clone(), MihOptions::default().substrings(m))
            .map_err(|e| e.to_string())?;
        let build_s = start.elapsed().as_secs_f64();
        let bph = mih.memory_bytes() as f64 / n as f64;
        let (qps, results) = time_queries(&queries, |q| mih.search(q, RADIUS));
        let r = answers(&results, 0, &planted);
        assert_eq!(r.checksum, a.checksum, "m={m} answers differ");
        println!("    m={m:>2}: build {build_s:.2} s, {bph:.1} B/hash, {qps:.0} q/s");
        rows.push(format!(
            "{{\"m\": {m}, \"build_s\": {build_s:.3}, \"bytes_per_hash\": {bph:.2}, \"qps\": {qps:.1}}}"
        ));
    }
    let _ = write!(json, ", \"substrings\": [{}]", rows.join(", "));
    let _ = write!(
        json,
        ", \"rss_total_bytes\": {}}}",
        rss_bytes().saturating_sub(rss0)
    );
    if let Some(path) = json_path {
        std::fs::write(&path, json + "\n").map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => parse_args(&args[1..]).and_then(|a| gen(&a)),
        Some("ward") => parse_args(&args[1..]).and_then(|a| ward(&a)),
        _ => Err("usage: index_bench gen|ward --key value ...".to_string()),
    };
    if let Err(e) = result {
        eprintln!("index_bench: {e}");
        std::process::exit(2);
    }
}
