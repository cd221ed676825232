//! Video matching: vPDQ bank entries found through an index of their frame hashes, then
//! compared as python-threatexchange compares them, and aligned into segments.
//!
//! A vPDQ entry's value is the reference's own file format (`frame,quality,hash,timestamp`
//! lines), so what a bank exports is what other platforms import. For matching, every bank
//! video's distinct frames of quality >= the threshold go into one [`Index`]; a query's
//! frames find the candidate videos there, so a query is compared with the few videos that
//! share a frame within the distance, not with every video in every bank.
//!
//! Entries that ward hashed from media (`ward bank add`) may carry derived vPDQ (the video
//! under a centre crop, `ward_media::derived_vpdq`), stored as derived signals of the entry in
//! the same line format. They are indexed beside the entry's own frames and match as the
//! entry, with [`VideoMatch::derived`] naming them; they are never exported.

use crate::{EngineError, Ward};
use ward_index::{Index, IndexOptions};
use ward_pdq::vpdq::{
    self, AlignOptions, CompareOptions, Comparison, ParseVpdqError, Segment, VpdqFrame,
};
use ward_store::{Entry, NewEntry};

/// How video matching is done.
#[derive(Clone, Debug)]
pub struct VideoMatchOptions {
    /// The reference's comparison (quality >= 50, frame distance <= 31, query % >= 80).
    pub compare: CompareOptions,
    /// How matching frames are grouped into aligned segments.
    pub align: AlignOptions,
    /// The share of the upload's time that aligned segments must cover for it to be called a
    /// copy when the reference's percentage alone does not say so (default 0.8).
    pub copy_coverage: f64,
    /// Whether entries' derived vPDQ (crops of media ward hashed itself) are compared too
    /// (default true; false: the entries' own frames only, the reference's behaviour).
    pub derived: bool,
}

impl Default for VideoMatchOptions {
    fn default() -> Self {
        VideoMatchOptions {
            compare: CompareOptions::default(),
            align: AlignOptions::default(),
            copy_coverage: 0.8,
            derived: true,
        }
    }
}

/// What a video match says about the upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The upload is mostly the known video (the reference's match: query % over the bar).
    Copy,
    /// The upload contains part of the known video (a segment aligns, but most of the upload
    /// is something else: a quote in a report, or a cut into other footage).
    ContainsPart,
}

impl Verdict {
    /// `copy` or `contains-part`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Copy => "copy",
            Verdict::ContainsPart => "contains-part",
        }
    }
}

/// One video match.
#[derive(Clone, Debug)]
pub struct VideoMatch {
    /// The bank entry.
    pub entry: Entry,
    /// Entry labels, then its bank's.
    pub labels: Vec<String>,
    /// The reference's percentages and decision.
    pub comparison: Comparison,
    /// Runs of upload time matching runs of bank-video time.
    pub segments: Vec<Segment>,
    /// Copy or part.
    pub verdict: Verdict,
    /// The derived vPDQ of the entry that matched (e.g. `crop-5-centre`), when that compared
    /// better than the entry's own frames; `None`: its own frames.
    pub derived: Option<String>,
}

/// The frame index over every active vPDQ entry, rebuilt when the store changes.
pub(crate) struct VpdqIndex {
    index: Index,
    /// The video (position in `videos`) of each indexed frame.
    owner: Vec<u32>,
    /// Entry id, derived kind (`None`: the entry's own frames) and frames of each video.
    videos: Vec<(i64, Option<String>, Vec<VpdqFrame>)>,
    seq: i64,
}

/// A vPDQ file (the reference's line format) as one bank entry.
pub fn vpdq_entry(
    name: &str,
    text: &str,
    labels: Vec<String>,
    source_id: Option<String>,
) -> Result<NewEntry, EngineError> {
    let frames = vpdq::parse_lines(text.strip_prefix('\u{feff}').unwrap_or(text)).map_err(|e| {
        let (line, msg) = match e {
            ParseVpdqError::Line { line, source } => (line, source.to_string()),
            other => (1, other.to_string()),
        };
        EngineError::Parse {
            file: name.to_owned(),
            line,
            msg,
        }
    })?;
    if frames.is_empty() {
        return Err(EngineError::Parse {
            file: name.to_owned(),
            line: 1,
            msg: "a vPDQ file needs at least one frame line".to_owned(),
        });
    }
    Ok(vpdq_frames_entry(&frames, labels, source_id))
}

/// Frames as one bank entry, stored in the reference's line format.
pub fn vpdq_frames_entry(
    frames: &[VpdqFrame],
    labels: Vec<String>,
    source_id: Option<String>,
) -> NewEntry {
    NewEntry {
        signal_type: "vpdq",
        value: vpdq::format_lines(frames).into_bytes(),
        labels,
        source_id,
    }
}

/// The derived vPDQ of a video (`ward_media::derived_vpdq`) as the store keeps them: each
/// kind's frames in the reference's line format, with their mean quality.
pub fn derived_vpdq_signals(derived: &[(&str, Vec<VpdqFrame>)]) -> Vec<ward_store::NewDerived> {
    derived
        .iter()
        .filter(|(_, frames)| !frames.is_empty())
        .map(|(name, frames)| ward_store::NewDerived {
            name: (*name).to_owned(),
            value: vpdq::format_lines(frames).into_bytes(),
            quality: (frames.iter().map(|f| u32::from(f.quality)).sum::<u32>()
                / frames.len() as u32)
                .min(100) as u8,
        })
        .collect()
}

/// The usual time between consecutive frames of a vPDQ (the median step; 0 with under two
/// frames).
fn sampling_step(frames: &[VpdqFrame]) -> f64 {
    let mut steps: Vec<f64> = frames
        .windows(2)
        .map(|w| w[1].timestamp - w[0].timestamp)
        .filter(|d| d.is_finite() && *d > 0.0)
        .collect();
    if steps.is_empty() {
        return 0.0;
    }
    steps.sort_by(f64::total_cmp);
    steps[steps.len() / 2]
}

impl Ward {
    fn refresh_vpdq(&mut self, quality: u8) -> Result<(), EngineError> {
        let seq = self.store.seq()?;
        if self.vpdq.as_ref().is_some_and(|v| v.seq == seq) {
            return Ok(());
        }
        let mut videos = Vec::new();
        let seq = self.store.signals_since("vpdq", 0, |s| {
            if !s.active {
                return;
            }
            // Values were parsed on the way in; one that no longer parses is skipped rather
            // than failing every match.
            if let Ok(frames) = std::str::from_utf8(&s.value)
                .map_err(|_| ())
                .and_then(|t| vpdq::parse_lines(t).map_err(|_| ()))
            {
                videos.push((s.entry, None, frames));
            }
        })?;
        // Derived vPDQ of active entries; a PDQ hash (32 bytes) or a value that does not
        // parse is not one.
        self.store.derived_since(0, |d| {
            if !d.active || d.value.len() == 32 {
                return;
            }
            if let Ok(frames) = std::str::from_utf8(&d.value)
                .map_err(|_| ())
                .and_then(|t| vpdq::parse_lines(t).map_err(|_| ()))
            {
                if !frames.is_empty() {
                    videos.push((d.entry, Some(d.name), frames));
                }
            }
        })?;
        let mut hashes = Vec::new();
        let mut owner = Vec::new();
        for (i, (_, _, frames)) in videos.iter().enumerate() {
            for h in vpdq::comparable_frames(frames, quality) {
                hashes.push(h.to_words());
                owner.push(i as u32);
            }
        }
        let index = Index::build(hashes, IndexOptions::default())
            .map_err(|e| EngineError::Index(e.to_string()))?;
        self.vpdq = Some(VpdqIndex {
            index,
            owner,
            videos,
            seq,
        });
        Ok(())
    }

    /// Matches a video's frames against every active vPDQ bank entry: the candidates that
    /// share a frame within the distance, each compared as the reference does and aligned
    /// into segments. Reported when the reference would match (a copy) or when a segment
    /// aligns (part of the upload is the known video). Sorted by query %, highest first.
    pub fn match_vpdq(
        &mut self,
        query: &[VpdqFrame],
        opts: &VideoMatchOptions,
    ) -> Result<Vec<VideoMatch>, EngineError> {
        self.refresh_vpdq(opts.compare.quality_threshold)?;
        let Some(v) = &self.vpdq else {
            return Ok(Vec::new());
        };
        // Each frame stands for the time until the next one: the upload spans its frames
        // and one step more.
        let span = match (query.first(), query.last()) {
            (Some(a), Some(b)) => b.timestamp - a.timestamp + sampling_step(query),
            _ => 0.0,
        };
        let mut candidates: Vec<u32> = Vec::new();
        for h in vpdq::comparable_frames(query, opts.compare.quality_threshold) {
            for hit in v
                .index
                .search(&h.to_words(), opts.compare.distance_threshold)
            {
                if let Some(&o) = v.owner.get(hit.id as usize) {
                    candidates.push(o);
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        // Entry id, comparison, segments, verdict, derived kind.
        type Found = (i64, Comparison, Vec<Segment>, Verdict, Option<String>);
        let mut found: Vec<Found> = Vec::new();
        for c in candidates {
            let (entry_id, derived, frames) = &v.videos[c as usize];
            if derived.is_some() && !opts.derived {
                continue;
            }
            let comparison = vpdq::compare(query, frames, &opts.compare);
            let segments = vpdq::align(query, frames, &opts.align);
            if !comparison.is_match && segments.is_empty() {
                continue;
            }
            // The reference's percentage drops when the upload is sampled more densely than
            // the bank (frames between the bank's one-a-second samples may differ by more than
            // the distance in motion); how much of the upload's time the aligned segments
            // cover does not, so either says "copy".
            // A segment's last bank frame stands for the bank's next step too (the query
            // frames until the bank's next sample are the same picture, moved on).
            let step = sampling_step(frames);
            let covered: f64 = segments
                .iter()
                .map(|s| s.query_end - s.query_start + step)
                .sum::<f64>()
                .min(span);
            let coverage = if span > 0.0 { covered / span } else { 0.0 };
            let verdict = if comparison.is_match || coverage >= opts.copy_coverage {
                Verdict::Copy
            } else {
                Verdict::ContainsPart
            };
            // An entry found through its own frames and a derived vPDQ is reported once, by
            // the higher query %.
            match found.iter_mut().find(|f| f.0 == *entry_id) {
                Some(f) if f.1.query_match_pct >= comparison.query_match_pct => {}
                Some(f) => *f = (*entry_id, comparison, segments, verdict, derived.clone()),
                None => found.push((*entry_id, comparison, segments, verdict, derived.clone())),
            }
        }
        found.sort_by(|a, b| {
            b.1.query_match_pct
                .total_cmp(&a.1.query_match_pct)
                .then(a.0.cmp(&b.0))
        });
        found
            .into_iter()
            .map(|(id, comparison, segments, verdict, derived)| {
                let entry = self.store.entry(id)?;
                let labels = self.labels_with_bank(&entry)?;
                Ok(VideoMatch {
                    entry,
                    labels,
                    comparison,
                    segments,
                    verdict,
                    derived,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_pdq::Hash256;

    /// A video of `n` one-a-second frames with pseudo-random hashes from `seed`.
    fn video(seed: u64, n: u32) -> Vec<VpdqFrame> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|i| {
                let mut b = [0u8; 32];
                for v in &mut b {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *v = (x >> 24) as u8;
                }
                VpdqFrame {
                    frame: i * 30,
                    quality: 90,
                    hash: Hash256::from_bytes(b),
                    timestamp: f64::from(i),
                }
            })
            .collect()
    }

    #[test]
    fn derived_values_keep_the_line_format() {
        let frames = video(4, 3);
        let d = derived_vpdq_signals(&[("crop-5-centre", frames.clone()), ("empty", vec![])]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].quality, 90);
        let text = String::from_utf8(d[0].value.clone()).unwrap();
        assert_eq!(vpdq::parse_lines(&text).unwrap(), frames);
    }
}
