//! vPDQ, Meta's video hash: one PDQ hash per sampled frame, with its frame number, quality and
//! timestamp, and the comparison python-threatexchange and HMA make between two such lists.
//!
//! The pure half only. Decoding a video and choosing its frames is ward-media's job; this
//! module holds what must agree with the reference to the character and to the float:
//!
//! - which frames are hashed ([`frame_interval`]: every `int(seconds_per_hash × fps)`-th
//!   decoded frame, the reference's `m_frameMod`),
//! - the timestamp of a frame ([`timestamp`]: `frame / fps` in `f32`, as the reference computes
//!   it before widening),
//! - the line format `frame,quality,hash,timestamp` ([`VpdqFrame`]'s `Display` and `FromStr`,
//!   timestamps with three decimals as the reference prints them),
//! - the match percentages ([`compare`]), as python-threatexchange and HMA compute them,
//!
//! and, beyond the reference, [`align`]: *where* two videos match, as segments of query time
//! paired with segments of bank time.
//!
//! ```
//! use ward_pdq::vpdq::{parse_lines, VpdqFrame};
//! let text = "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n";
//! let frames = parse_lines(text).unwrap();
//! assert_eq!(frames[0].frame, 0);
//! assert_eq!(format!("{}\n", frames[0]), text);
//! ```

use crate::{Hash256, ParseHashError};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// One hashed frame of a video: the unit vPDQ hash lists are made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqFrame {
    /// 0-based index of the frame among all decoded frames of the video stream.
    pub frame: u32,
    /// PDQ quality, 0..=100 (comparisons skip frames under 50).
    pub quality: u8,
    /// PDQ hash of every pixel of the frame (or of its downscaled copy).
    pub hash: Hash256,
    /// Seconds from the start: `frame / fps`, computed in `f32` as the reference does.
    pub timestamp: f64,
}

/// Why a line is not a vPDQ frame. The input's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseVpdqError {
    /// The line does not have the four fields `frame,quality,hash,timestamp`.
    #[error(
        "a vPDQ line has 4 comma-separated fields (frame,quality,hash,timestamp), this has {0}"
    )]
    Fields(usize),
    /// The frame number is not a non-negative integer.
    #[error("frame number '{0}' is not a non-negative integer")]
    Frame(String),
    /// The quality is not an integer in 0..=100.
    #[error("quality '{0}' is not an integer from 0 to 100")]
    Quality(String),
    /// The hash is not 64 hex digits.
    #[error("hash: {0}")]
    Hash(#[from] ParseHashError),
    /// The timestamp is not a finite, non-negative number.
    #[error("timestamp '{0}' is not a non-negative number of seconds")]
    Timestamp(String),
    /// A line of a multi-line text is wrong; `line` counts from 1.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        #[source]
        source: Box<ParseVpdqError>,
    },
}

impl fmt::Display for VpdqFrame {
    /// The reference's line, `frame,quality,hash,timestamp`, timestamp with three decimals
    /// (`std::setprecision(3) << std::fixed` in `vpdqio.cpp`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{:.3}",
            self.frame, self.quality, self.hash, self.timestamp
        )
    }
}

impl FromStr for VpdqFrame {
    type Err = ParseVpdqError;

    /// Parses one line of the reference's format; surrounding white space is ignored.
    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = line.trim().split(',').map(str::trim).collect();
        let [frame, quality, hash, timestamp] = fields[..] else {
            return Err(ParseVpdqError::Fields(fields.len()));
        };
        let frame = frame
            .parse::<u32>()
            .map_err(|_| ParseVpdqError::Frame(frame.to_owned()))?;
        let quality = match quality.parse::<u8>() {
            Ok(q) if q <= 100 => q,
            _ => return Err(ParseVpdqError::Quality(quality.to_owned())),
        };
        let hash = hash.parse::<Hash256>()?;
        let timestamp = match timestamp.parse::<f64>() {
            Ok(t) if t.is_finite() && t >= 0.0 => t,
            _ => return Err(ParseVpdqError::Timestamp(timestamp.to_owned())),
        };
        Ok(VpdqFrame {
            frame,
            quality,
            hash,
            timestamp,
        })
    }
}

/// python-threatexchange's compact feature, `hash,quality,timestamp`: how HMA and
/// python-threatexchange write one frame of a vPDQ signal (`VpdqCompactFeature.__str__`; a
/// signal is a JSON array of these strings). The timestamp is written as Python's
/// `format(t, ".3")` writes it ([`python_float_3`]): three significant digits, so
/// `12.345` is `12.3` and `1234.5` is `1.23e+03`. Frame numbers are not part of it.
pub fn compact_feature(f: &VpdqFrame) -> String {
    format!("{},{},{}", f.hash, f.quality, python_float_3(f.timestamp))
}

/// Parses a compact feature ([`compact_feature`]); `frame` is the number to give it (its
/// position in the signal, since the form carries none).
pub fn parse_compact_feature(s: &str, frame: u32) -> Result<VpdqFrame, ParseVpdqError> {
    let fields: Vec<&str> = s.trim().split(',').map(str::trim).collect();
    let [hash, quality, timestamp] = fields[..] else {
        return Err(ParseVpdqError::Fields(fields.len()));
    };
    format!("{frame},{quality},{hash},{timestamp}").parse()
}

/// Python's `format(x, ".3")` of a float: 3 significant digits, fixed-point below 100 with
/// at least one digit after the point (`1.0`, `12.3`), exponent form from 100 on and below
/// 0.0001, with at least two exponent digits (`1e+02`, `1.23e+03`, `1.5e-05`). So
/// python-threatexchange keeps vPDQ timestamps past 100 s to 3 digits only (`1.23e+02`).
pub fn python_float_3(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".to_owned()
        } else if x > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // The exponent after rounding to 3 significant digits (9.995 rounds up to 1.00e1).
    let sci = format!("{x:.2e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Python switches to exponent form at `exp >= precision - 1`.
    if (-4..2).contains(&exp) {
        let decimals = (2 - exp).max(0) as usize;
        let mut fixed = format!("{x:.decimals$}");
        if fixed.contains('.') {
            while fixed.ends_with('0') && !fixed.ends_with(".0") {
                fixed.pop();
            }
        } else {
            fixed.push_str(".0");
        }
        fixed
    } else {
        let mut m = mantissa.to_owned();
        if m.contains('.') {
            while m.ends_with('0') {
                m.pop();
            }
            if m.ends_with('.') {
                m.pop();
            }
        }
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

/// Parses a whole vPDQ hash file: one frame a line, blank lines skipped.
pub fn parse_lines(text: &str) -> Result<Vec<VpdqFrame>, ParseVpdqError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.parse().map_err(|e| ParseVpdqError::Line {
                line: i + 1,
                source: Box::new(e),
            })
        })
        .collect()
}

/// Formats frames as a vPDQ hash file, one line each, each ending in a newline.
pub fn format_lines(frames: &[VpdqFrame]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(frames.len() * 80);
    for f in frames {
        // Writing to a String cannot fail.
        let _ = writeln!(s, "{f}");
    }
    s
}

/// Every how many decoded frames one is hashed: `int(seconds_per_hash × fps)`, at least 1.
///
/// `seconds_per_hash` 0 hashes every frame. The reference truncates the product toward zero
/// and then raises 0 to 1 (its `m_frameMod`), so a 29.97 fps video at 1 s per hash is
/// sampled every 29 frames, not 30. Non-finite or negative inputs give 1: every frame.
pub fn frame_interval(seconds_per_hash: f64, fps: f64) -> u32 {
    let p = seconds_per_hash * fps;
    if !p.is_finite() || p < 1.0 {
        return 1;
    }
    // `as` saturates; an interval of four billion frames samples only frame 0, as it should.
    p as u32
}

/// The timestamp of frame `frame` at `fps` frames a second, as the reference computes it:
/// `static_cast<float>(frame) / framerate` with `framerate` a `float`, then widened.
pub fn timestamp(frame: u32, fps: f64) -> f64 {
    f64::from(frame as f32 / fps as f32)
}

/// The thresholds of a vPDQ comparison; the defaults are python-threatexchange's and HMA's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompareOptions {
    /// Frames with quality under this are ignored on both sides. Default 50.
    pub quality_threshold: u8,
    /// Two frames match when their hashes are at most this many bits apart. Default 31.
    pub distance_threshold: u32,
    /// The videos match when at least this percentage of the query's frames match. Default 80.
    pub query_match_pct: f64,
    /// ... and at least this percentage of the compared video's frames match. Default 0.
    pub compared_match_pct: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            quality_threshold: 50,
            distance_threshold: 31,
            query_match_pct: 80.0,
            compared_match_pct: 0.0,
        }
    }
}

/// The outcome of comparing a query video with another.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Percentage (0–100) of the query's distinct good frames within the distance of some
    /// frame of the compared video.
    pub query_match_pct: f64,
    /// Percentage (0–100) of the compared video's distinct good frames within the distance of
    /// some query frame.
    pub compared_match_pct: f64,
    /// Both percentages reach their thresholds.
    pub is_match: bool,
}

/// The frames a comparison looks at: the first frame of each distinct hash, then those of
/// quality at least `quality_threshold`.
///
/// Deduplication comes first, as in python-threatexchange's brute-force matcher
/// (`quality_filter(dedupe(...))`): two frames with one hash can differ in quality, and the
/// first one decides.
pub fn comparable_frames(frames: &[VpdqFrame], quality_threshold: u8) -> Vec<Hash256> {
    let mut seen = HashSet::with_capacity(frames.len());
    frames
        .iter()
        .filter(|f| seen.insert(f.hash))
        .filter(|f| f.quality >= quality_threshold)
        .map(|f| f.hash)
        .collect()
}

/// Compares two videos' frame hashes as python-threatexchange and HMA do: distinct good frames
/// on each side, the share of each side's frames that have a match on the other side.
///
/// A side with no good frames matches 0 % (the reference divides by zero there).
pub fn compare(query: &[VpdqFrame], compared: &[VpdqFrame], opts: &CompareOptions) -> Comparison {
    let q = comparable_frames(query, opts.quality_threshold);
    let c = comparable_frames(compared, opts.quality_threshold);
    let d = opts.distance_threshold;
    let q_words: Vec<[u64; 4]> = q.iter().map(Hash256::to_words).collect();
    let c_words: Vec<[u64; 4]> = c.iter().map(Hash256::to_words).collect();
    let near = |a: &[u64; 4], b: &[u64; 4]| {
        (a[0] ^ b[0]).count_ones()
            + (a[1] ^ b[1]).count_ones()
            + (a[2] ^ b[2]).count_ones()
            + (a[3] ^ b[3]).count_ones()
            <= d
    };
    // One pass over all pairs marks both sides.
    let mut c_hit = vec![false; c_words.len()];
    let mut q_hits = 0usize;
    for a in &q_words {
        let mut hit = false;
        for (b, ch) in c_words.iter().zip(c_hit.iter_mut()) {
            if near(a, b) {
                hit = true;
                *ch = true;
            }
        }
        q_hits += usize::from(hit);
    }
    let c_hits = c_hit.iter().filter(|&&h| h).count();
    let pct = |hits: usize, n: usize| {
        if n == 0 {
            0.0
        } else {
            hits as f64 * 100.0 / n as f64
        }
    };
    let query_match_pct = pct(q_hits, q_words.len());
    let compared_match_pct = pct(c_hits, c_words.len());
    Comparison {
        query_match_pct,
        compared_match_pct,
        is_match: !q_words.is_empty()
            && query_match_pct >= opts.query_match_pct
            && compared_match_pct >= opts.compared_match_pct,
    }
}

/// Settings for [`align`]; the defaults suit a query sampled at least once a second against
/// bank videos hashed once a second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlignOptions {
    /// Frames with quality under this are ignored on both sides. Default 50.
    pub quality_threshold: u8,
    /// Two frames match when their hashes are at most this many bits apart. Default 31.
    pub distance_threshold: u32,
    /// Seconds of query time without a matching frame that end a segment. Default 2.5.
    pub max_gap: f64,
    /// How far (seconds) a frame's time offset (bank time − query time) may stray from its
    /// segment's and still extend it: at least the bank's sampling interval, since a query
    /// frame between two bank samples matches the nearer one. Default 1.5.
    pub offset_tolerance: f64,
    /// Segments with fewer matched query frames are dropped as chance matches. Default 2.
    pub min_frames: usize,
}

impl Default for AlignOptions {
    fn default() -> Self {
        AlignOptions {
            quality_threshold: 50,
            distance_threshold: 31,
            max_gap: 2.5,
            offset_tolerance: 1.5,
            min_frames: 2,
        }
    }
}

/// A stretch of the query that matches a stretch of a bank video, in order and at one time
/// offset: "query 0:12–0:41 ≈ bank 1:03–1:32".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Timestamp of the first matched query frame, seconds.
    pub query_start: f64,
    /// Timestamp of the last matched query frame, seconds.
    pub query_end: f64,
    /// Earliest bank frame matched within the segment, seconds.
    pub bank_start: f64,
    /// Latest bank frame matched within the segment, seconds.
    pub bank_end: f64,
    /// Query frames matched in the segment.
    pub frames: usize,
    /// Mean Hamming distance of those frames to their bank frames.
    pub mean_distance: f64,
}

/// Finds where a query video matches a bank video: each run of query time whose frames match
/// bank frames at a steady time offset, in query order.
///
/// Each good query frame (in time order) is set against every good bank frame within the
/// distance. It extends the open segment whose offset it agrees with (within
/// `offset_tolerance`) and whose last frame is at most `max_gap` seconds back, preferring the
/// closest offset and then the smallest distance; when none agrees, its nearest bank frame
/// starts a new segment. Static shots, where one query frame matches many bank frames, so
/// follow the segment already under way instead of jumping. A segment's offset is the mean
/// offset of its frames.
pub fn align(query: &[VpdqFrame], bank: &[VpdqFrame], opts: &AlignOptions) -> Vec<Segment> {
    struct Run {
        offset_sum: f64,
        seg: Segment,
        dist_sum: u64,
    }
    let good = |f: &&VpdqFrame| f.quality >= opts.quality_threshold;
    let bank: Vec<(f64, [u64; 4])> = bank
        .iter()
        .filter(good)
        .map(|f| (f.timestamp, f.hash.to_words()))
        .collect();
    let mut query: Vec<&VpdqFrame> = query.iter().filter(good).collect();
    query.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));

    let mut runs: Vec<Run> = Vec::new();
    let mut candidates: Vec<(f64, u32)> = Vec::new();
    for q in query {
        let qw = q.hash.to_words();
        candidates.clear();
        candidates.extend(bank.iter().filter_map(|(t, w)| {
            let d = (0..4).map(|i| (qw[i] ^ w[i]).count_ones()).sum::<u32>();
            (d <= opts.distance_threshold).then_some((*t, d))
        }));
        if candidates.is_empty() {
            continue;
        }
        // The best (run, candidate) pair that continues an open run.
        let mut best: Option<(usize, f64, u32, f64)> = None; // (run, bank time, distance, |Δoffset|)
        for (ri, r) in runs.iter().enumerate() {
            if q.timestamp - r.seg.query_end > opts.max_gap {
                continue;
            }
            let run_offset = r.offset_sum / r.seg.frames as f64;
            for &(bt, d) in &candidates {
                let off = (bt - q.timestamp - run_offset).abs();
                if off > opts.offset_tolerance {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((_, _, bd, boff)) => (off, d) < (boff, bd),
                };
                if better {
                    best = Some((ri, bt, d, off));
                }
            }
        }
        match best {
            Some((ri, bt, d, _)) => {
                let r = &mut runs[ri];
                r.offset_sum += bt - q.timestamp;
                r.dist_sum += u64::from(d);
                r.seg.frames += 1;
                r.seg.query_end = q.timestamp;
                r.seg.bank_start = r.seg.bank_start.min(bt);
                r.seg.bank_end = r.seg.bank_end.max(bt);
            }
            None => {
                // Nearest bank frame; on a tie, the earliest (candidates are in bank order
                // and `min_by_key` keeps the first).
                let Some(&(bt, d)) = candidates.iter().min_by_key(|c| c.1) else {
                    continue;
                };
                runs.push(Run {
                    offset_sum: bt - q.timestamp,
                    dist_sum: u64::from(d),
                    seg: Segment {
                        query_start: q.timestamp,
                        query_end: q.timestamp,
                        bank_start: bt,
                        bank_end: bt,
                        frames: 1,
                        mean_distance: 0.0,
                    },
                });
            }
        }
    }
    let mut out: Vec<Segment> = runs
        .into_iter()
        .filter(|r| r.seg.frames >= opts.min_frames.max(1))
        .map(|r| Segment {
            mean_distance: r.dist_sum as f64 / r.seg.frames as f64,
            ..r.seg
        })
        .collect();
    out.sort_by(|a, b| a.query_start.total_cmp(&b.query_start));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seed: u8) -> Hash256 {
        Hash256::from_bytes([seed; 32])
    }

    fn frame(frame: u32, quality: u8, hash: Hash256) -> VpdqFrame {
        VpdqFrame {
            frame,
            quality,
            hash,
            timestamp: timestamp(frame, 30.0),
        }
    }

    #[test]
    fn line_round_trips_and_prints_three_decimals() {
        let line = "17,93,c0f1117837246aaccddea259648fbfd62f434c89c9e99b249776be216c8d055c,0.567";
        let f: VpdqFrame = line.parse().unwrap();
        assert_eq!((f.frame, f.quality), (17, 93));
        assert_eq!(f.to_string(), line);
        let f = frame(1, 100, h(1));
        assert!(f.to_string().ends_with(",0.033"), "{f}");
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let hash = "00".repeat(32);
        let cases = [
            ("1,2,3".to_owned(), "4 comma-separated fields"),
            (format!("x,50,{hash},0.0"), "frame number 'x'"),
            (format!("1,101,{hash},0.0"), "quality '101'"),
            ("1,50,abc,0.0".to_owned(), "64 hex digits"),
            (format!("1,50,{hash},-1"), "timestamp '-1'"),
            (format!("1,50,{hash},nan"), "timestamp 'nan'"),
        ];
        for (line, want) in cases {
            let err = line.parse::<VpdqFrame>().unwrap_err().to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
        let err = parse_lines(&format!("0,50,{hash},0.000\n\n2,50,{hash}\n")).unwrap_err();
        assert!(err.to_string().starts_with("line 3: "), "{err}");
    }

    #[test]
    fn interval_truncates_like_the_reference() {
        assert_eq!(frame_interval(0.0, 30.0), 1);
        assert_eq!(frame_interval(1.0, 30.0), 30);
        assert_eq!(frame_interval(1.0, 29.97), 29);
        assert_eq!(frame_interval(0.5, 25.0), 12);
        assert_eq!(frame_interval(1.0, 0.5), 1);
        assert_eq!(frame_interval(f64::NAN, 30.0), 1);
        assert_eq!(frame_interval(-1.0, 30.0), 1);
    }

    #[test]
    fn timestamp_is_float_division() {
        assert_eq!(timestamp(1, 30.0), f64::from(1f32 / 30f32));
        assert_eq!(format!("{:.3}", timestamp(673, 30.0)), "22.433");
    }

    #[test]
    fn compare_dedupes_before_filtering_quality() {
        let opts = CompareOptions::default();
        // Frame 1 repeats frame 0's hash with a low quality: the first occurrence decides.
        let q = [frame(0, 90, h(1)), frame(1, 10, h(1)), frame(2, 90, h(2))];
        assert_eq!(comparable_frames(&q, 50), vec![h(1), h(2)]);
        let q = [frame(0, 10, h(1)), frame(1, 90, h(1))];
        assert!(comparable_frames(&q, 50).is_empty());
        // Half of the query matches, all of the compared video does.
        let q = [frame(0, 90, h(1)), frame(1, 90, h(0xf0))];
        let c = [frame(0, 90, h(1))];
        let r = compare(&q, &c, &opts);
        assert_eq!((r.query_match_pct, r.compared_match_pct), (50.0, 100.0));
        assert!(!r.is_match);
        let r = compare(&c, &q, &opts);
        assert_eq!((r.query_match_pct, r.compared_match_pct), (100.0, 50.0));
        assert!(r.is_match);
        // Nothing comparable: 0 %, no match, no division by zero.
        let r = compare(&[], &c, &opts);
        assert_eq!((r.query_match_pct, r.is_match), (0.0, false));
    }

    #[test]
    fn compare_distance_is_inclusive() {
        let a = Hash256::ZERO;
        let mut b = Hash256::ZERO;
        for k in 0..31 {
            b.set_bit(k);
        }
        let opts = CompareOptions::default();
        assert!(compare(&[frame(0, 90, a)], &[frame(0, 90, b)], &opts).is_match);
        b.set_bit(31);
        assert!(!compare(&[frame(0, 90, a)], &[frame(0, 90, b)], &opts).is_match);
    }
    /// Every ordered pair of the sample videos, on the reference's FFmpeg 5.1 hashes, against
    /// python-threatexchange's answers in `match-matrix.csv`.
    #[test]
    fn match_matrix_agrees_with_python_threatexchange() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/vpdq");
        let load = |name: &str| {
            let p = dir.join("hashes-ffmpeg5.1").join(format!("{name}.txt"));
            parse_lines(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let csv = std::fs::read_to_string(dir.join("match-matrix.csv")).unwrap();
        let mut cache = std::collections::HashMap::new();
        let mut n = 0;
        let mut worst: f64 = 0.0;
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (q, c) = (f[0], f[1]);
            let (qp, cp): (f64, f64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
            let want_match = f[4] == "1";
            for name in [q, c] {
                cache.entry(name.to_owned()).or_insert_with(|| load(name));
            }
            let r = compare(&cache[q], &cache[c], &CompareOptions::default());
            assert_eq!(r.is_match, want_match, "{q} ~ {c}: {r:?}");
            worst = worst
                .max((r.query_match_pct - qp).abs())
                .max((r.compared_match_pct - cp).abs());
            assert!(
                (r.query_match_pct - qp).abs() <= 2.0 && (r.compared_match_pct - cp).abs() <= 2.0,
                "{q} ~ {c}: {r:?}, want {qp} {cp}"
            );
            n += 1;
        }
        assert_eq!(n, 14 * 13);
        println!("largest percentage difference: {worst:.3} points");
    }
    /// A synthetic bank video: a random hash a second for `n` seconds.
    fn bank_video(n: u32, seed: u64) -> Vec<VpdqFrame> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                let mut w = [0u64; 4];
                for v in &mut w {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *v = x;
                }
                VpdqFrame {
                    frame: i * 30,
                    quality: 100,
                    hash: Hash256::from_words(w),
                    timestamp: f64::from(i),
                }
            })
            .collect()
    }

    /// `bank` seconds `from..to`, re-encoded (a few bits flipped), starting at query time
    /// `at`, sampled every `step` seconds (a sample between two bank frames takes the
    /// earlier one's picture).
    fn excerpt(bank: &[VpdqFrame], from: f64, to: f64, at: f64, step: f64) -> Vec<VpdqFrame> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to + 1e-9 {
            let src = &bank[t.floor() as usize];
            let mut hash = src.hash;
            for k in [3usize, 77, 140, 201] {
                if ((t * 10.0) as usize).is_multiple_of(2) {
                    hash.set_bit(k);
                }
            }
            out.push(VpdqFrame {
                frame: 0,
                quality: 90,
                hash,
                timestamp: at + (t - from),
            });
            t += step;
        }
        out
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1.0
    }

    #[test]
    fn align_finds_a_cut_from_the_middle() {
        let bank = bank_video(60, 7);
        let query = excerpt(&bank, 12.0, 41.0, 0.0, 0.5);
        let segs = align(&query, &bank, &AlignOptions::default());
        assert_eq!(segs.len(), 1, "{segs:?}");
        let s = segs[0];
        assert!(near(s.query_start, 0.0) && near(s.query_end, 29.0), "{s:?}");
        assert!(near(s.bank_start, 12.0) && near(s.bank_end, 41.0), "{s:?}");
        assert!(s.mean_distance <= 4.0, "{s:?}");
        assert_eq!(s.frames, query.len());
    }

    #[test]
    fn align_finds_a_quote_inside_unrelated_footage_and_two_quotes_apart() {
        let bank = bank_video(60, 7);
        let other = bank_video(40, 99);
        // 10 s of something else, 5 s of bank 30-35, 10 s of something else, 4 s of bank 3-7.
        let mut query = excerpt(&other, 0.0, 9.5, 0.0, 0.5);
        query.extend(excerpt(&bank, 30.0, 35.0, 10.0, 0.5));
        query.extend(excerpt(&other, 20.0, 29.5, 15.5, 0.5));
        query.extend(excerpt(&bank, 3.0, 7.0, 26.0, 0.5));
        let segs = align(&query, &bank, &AlignOptions::default());
        assert_eq!(segs.len(), 2, "{segs:?}");
        let (a, b) = (segs[0], segs[1]);
        assert!(
            near(a.query_start, 10.0) && near(a.query_end, 15.0),
            "{a:?}"
        );
        assert!(near(a.bank_start, 30.0) && near(a.bank_end, 35.0), "{a:?}");
        assert!(
            near(b.query_start, 26.0) && near(b.query_end, 30.0),
            "{b:?}"
        );
        assert!(near(b.bank_start, 3.0) && near(b.bank_end, 7.0), "{b:?}");
        // The same query as a whole matches little of itself to the bank.
        let r = compare(&query, &bank, &CompareOptions::default());
        assert!(r.query_match_pct < 50.0 && !r.is_match, "{r:?}");
    }

    #[test]
    fn align_follows_a_static_shot_instead_of_jumping() {
        // The bank holds one picture for 10 s (every frame the same hash) inside moving
        // footage; the query quotes 0-20 s. Each static query frame matches all ten bank
        // frames, yet the segment stays one, with the offset it started with.
        let mut bank = bank_video(30, 3);
        for i in 6..16 {
            bank[i].hash = bank[5].hash;
        }
        let query = excerpt(&bank, 0.0, 20.0, 100.0, 1.0);
        let segs = align(&query, &bank, &AlignOptions::default());
        assert_eq!(segs.len(), 1, "{segs:?}");
        let s = segs[0];
        assert!(
            near(s.query_start, 100.0) && near(s.query_end, 120.0),
            "{s:?}"
        );
        assert!(near(s.bank_start, 0.0) && near(s.bank_end, 20.0), "{s:?}");
    }

    #[test]
    fn align_ignores_low_quality_and_lone_frames() {
        let bank = bank_video(20, 5);
        let mut query = excerpt(&bank, 4.0, 4.0, 0.0, 1.0); // one frame: chance
        query.extend(excerpt(&bank, 10.0, 15.0, 50.0, 1.0));
        for f in &mut query[1..] {
            f.quality = 10;
        }
        assert!(align(&query, &bank, &AlignOptions::default()).is_empty());
        assert!(align(&[], &bank, &AlignOptions::default()).is_empty());
    }

    #[test]
    fn python_float_3_is_pythons_format() {
        // Each pair checked against CPython 3.11: format(x, ".3").
        for (x, want) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (0.033, "0.033"),
            (0.0333333, "0.0333"),
            (1.0 / 30.0, "0.0333"),
            (12.345, "12.3"),
            (12.35, "12.3"),
            (99.95, "1e+02"),
            (9.996, "10.0"),
            (100.0, "1e+02"),
            (123.4, "1.23e+02"),
            (999.4, "9.99e+02"),
            (999.5, "1e+03"),
            (1000.0, "1e+03"),
            (1234.5, "1.23e+03"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
        ] {
            assert_eq!(python_float_3(x), want, "{x}");
        }
    }

    #[test]
    fn compact_features_round_trip() {
        let f = VpdqFrame {
            frame: 7,
            quality: 100,
            hash: "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
                .parse()
                .unwrap(),
            timestamp: 12.345,
        };
        let s = compact_feature(&f);
        assert_eq!(
            s,
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,12.3"
        );
        let back = parse_compact_feature(&s, 3).unwrap();
        assert_eq!((back.frame, back.quality, back.hash), (3, 100, f.hash));
        assert!((back.timestamp - 12.3).abs() < 1e-9);
        assert!(parse_compact_feature("abc,100,1.0", 0).is_err());
        assert!(parse_compact_feature(&format!("{},101,1.0", f.hash), 0).is_err());
        assert!(parse_compact_feature(&format!("{},100", f.hash), 0).is_err());
    }
}
