//! `ward match …`

use super::MediaArgs;
use crate::output::{self, Progress};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use ward_engine::{MatchOptions, Via, VideoMatch, VideoMatchOptions, Ward};
use ward_media::regions::{Rect, RegionOptions};
use ward_media::{ExtraOptions, HashOptions, MediaSignals, VideoOptions, VideoSignals};
use ward_pdq::Hash256;

#[derive(clap::Args, Debug)]
pub struct MatchArgs {
    /// Files and folders to hash and match.
    #[arg(
        value_name = "PATH",
        required_unless_present = "hash",
        conflicts_with = "hash"
    )]
    paths: Vec<PathBuf>,
    /// Match a PDQ hash (64 hex digits) instead of files (repeatable).
    #[arg(long, value_name = "HEX")]
    hash: Vec<String>,
    /// Largest Hamming distance that counts as a match.
    #[arg(long, default_value_t = 31, value_name = "N")]
    threshold: u32,
    /// Also try the 8 rotations/flips of each image (always on unless --no-normalise).
    #[arg(long)]
    dihedral: bool,
    /// Plain reference matching: the whole image only (no borders, caption bands or inner
    /// regions, no rotations/flips unless --dihedral, no derived hashes of bank entries).
    #[arg(long)]
    no_normalise: bool,
    /// Largest distance for normalised query hashes (regions, rotations/flips), unless a
    /// bank sets its own (`ward bank thresholds`).
    #[arg(long, default_value_t = ward_engine::DEFAULT_REGION_THRESHOLD, value_name = "N")]
    region_threshold: u32,
    /// Largest distance for bank entries' derived hashes (crops, small rotations), unless a
    /// bank sets its own.
    #[arg(long, default_value_t = ward_engine::DEFAULT_DERIVED_THRESHOLD, value_name = "N")]
    derived_threshold: u32,
    /// One JSON object per input: {"path", "pdq", "matches": [...]}.
    #[arg(long)]
    json: bool,
    /// Exit with code 1 when anything matched (for scripts and CI hooks).
    #[arg(long)]
    fail_on_match: bool,
    /// Videos: hash one frame every S seconds of the upload (0: every frame). Bank videos
    /// carry one hash a second; a denser query keeps a re-upload cut at another instant from
    /// falling between them.
    #[arg(long, default_value_t = 0.0, value_name = "S")]
    seconds_per_hash: f64,
    /// Videos: do not also try the content without letterbox/pillarbox bars.
    #[arg(long)]
    keep_letterbox: bool,
    #[command(flatten)]
    media: MediaArgs,
}

/// One match, as printed.
struct Found {
    bank: String,
    entry: i64,
    signal_type: &'static str,
    distance: u32,
    via: String,
    /// The rectangle of the upload the matching query hash came from.
    region: Option<Rect>,
    labels: Vec<String>,
}

pub fn run(args: MatchArgs, mut ward: Ward) -> anyhow::Result<ExitCode> {
    for (flag, v) in [
        ("--threshold", args.threshold),
        ("--region-threshold", args.region_threshold),
        ("--derived-threshold", args.derived_threshold),
    ] {
        anyhow::ensure!(v <= 256, "{flag} must be between 0 and 256");
    }
    let normalise = !args.no_normalise;
    let opts = MatchOptions {
        threshold: args.threshold,
        region_threshold: args.region_threshold,
        derived_threshold: normalise.then_some(args.derived_threshold),
        ..MatchOptions::default()
    };
    let extra = ExtraOptions {
        regions: normalise.then(RegionOptions::default),
        derived: false,
    };
    ward.refresh_pdq()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut any_match, mut failed) = (false, false);

    if !args.hash.is_empty() {
        for hex in &args.hash {
            let hash: Hash256 = hex
                .parse()
                .map_err(|e| anyhow::anyhow!("--hash {hex}: {e}"))?;
            let found = pdq_matches(&mut ward, &[(Via::Original, hash)], &opts)?;
            any_match |= !found.is_empty();
            print(&mut out, args.json, hex, Some(&hash), &found)?;
        }
        out.flush()?;
        return Ok(exit(any_match && args.fail_on_match, false));
    }

    let hash_opts = HashOptions {
        decode: args.media.decode_options(),
        dihedral: args.dihedral,
    };
    anyhow::ensure!(
        args.seconds_per_hash >= 0.0 && args.seconds_per_hash.is_finite(),
        "--seconds-per-hash must be 0 or more"
    );
    let video_opts = VideoOptions {
        seconds_per_hash: args.seconds_per_hash,
        remove_letterbox: !args.keep_letterbox,
        ..VideoOptions::default()
    };
    let video_match = VideoMatchOptions {
        derived: normalise,
        ..VideoMatchOptions::default()
    };
    let files = output::expand_paths(&args.paths);
    let pool = args.media.thread_pool()?;
    let progress = Progress::new(files.len() as u64);
    for chunk in files.chunks(256) {
        type Hashed = (MediaSignals, Vec<ward_media::regions::Candidate>);
        let hashed: Vec<Result<Hashed, String>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|f| {
                    let r = match f {
                        Ok(p) => hash_for_match(p, &hash_opts, &video_opts, &extra)
                            .map_err(|e| e.to_string()),
                        Err((_, e)) => Err(e.clone()),
                    };
                    progress.inc();
                    r
                })
                .collect()
        });
        for (f, r) in chunk.iter().zip(hashed) {
            let path = match f {
                Ok(p) | Err((p, _)) => p,
            };
            let name = path.display().to_string();
            let (s, candidates) = match r {
                Ok((MediaSignals::Image(s), c)) => (s, c),
                Ok((MediaSignals::Video(v), _)) => {
                    let found = video_matches(&mut ward, &v, &video_match)?;
                    let exact = exact_matches(&ward, &v.digests)?;
                    any_match |= !found.is_empty() || !exact.is_empty();
                    print_video(&mut out, args.json, &name, &v, &found, &exact)?;
                    continue;
                }
                Err(e) => {
                    failed = true;
                    if args.json {
                        output::write_json_line(&mut out, &json!({"path": name, "error": e}))?;
                    } else {
                        out.flush()?;
                        progress.suspend(|| eprintln!("{name}: {e}"));
                    }
                    continue;
                }
            };
            let mut found = Vec::new();
            // Normalised: every candidate of good quality (a region may have it when the
            // whole image, mostly padding, does not). Plain: the whole image.
            let queries = if normalise {
                ward_engine::candidate_queries(&candidates, opts.min_quality)
            } else if s.pdq.quality >= opts.min_quality {
                let mut queries = vec![(Via::Original, s.pdq.hash)];
                if let Some(d) = &s.dihedral {
                    queries.extend((1..8).map(|k| (Via::Dihedral(k as u8), d[k])));
                }
                queries
            } else {
                Vec::new()
            };
            if !queries.is_empty() {
                found = pdq_matches(&mut ward, &queries, &opts)?;
            } else if !args.json {
                out.flush()?;
                progress.suspend(|| {
                    eprintln!(
                        "{name}: PDQ quality {} is under {}, not matched on PDQ (too featureless); digests still checked",
                        s.pdq.quality, opts.min_quality
                    )
                });
            }
            found.extend(exact_matches(&ward, &s.digests)?);
            any_match |= !found.is_empty();
            let low = s.pdq.quality < opts.min_quality && queries.is_empty();
            if args.json && low {
                let mut v = match_json(&name, Some(&s.pdq.hash), &found);
                v["pdq_quality"] = s.pdq.quality.into();
                v["skipped"] =
                    format!("PDQ quality {} under {}", s.pdq.quality, opts.min_quality).into();
                output::write_json_line(&mut out, &v)?;
            } else {
                print(&mut out, args.json, &name, Some(&s.pdq.hash), &found)?;
            }
        }
        out.flush()?;
    }
    progress.finish();
    Ok(exit(any_match && args.fail_on_match, failed))
}

/// Hashes one file: an image decoded once for its plain hash and (normalised) its query
/// candidates, anything else as `ward hash` does.
fn hash_for_match(
    path: &std::path::Path,
    image: &HashOptions,
    video: &VideoOptions,
    extra: &ExtraOptions,
) -> Result<(MediaSignals, Vec<ward_media::regions::Candidate>), ward_media::MediaError> {
    if extra.regions.is_some() && ward_media::is_image_file(path)? {
        let (s, x) = ward_media::hash_file_extra(path, image, extra)?;
        return Ok((MediaSignals::Image(s), x.candidates));
    }
    Ok((ward_media::hash_media_file(path, image, video)?, Vec::new()))
}

fn pdq_matches(
    ward: &mut Ward,
    queries: &[(Via, Hash256)],
    opts: &MatchOptions,
) -> anyhow::Result<Vec<Found>> {
    Ok(ward
        .match_pdq(queries, opts)?
        .into_iter()
        .map(|m| Found {
            bank: m.entry.bank,
            entry: m.entry.id,
            signal_type: "pdq",
            distance: m.distance,
            via: m.via.name(),
            region: m.via.region(),
            labels: m.labels,
        })
        .collect())
}

fn match_json(name: &str, hash: Option<&Hash256>, found: &[Found]) -> Value {
    json!({
        "path": name,
        "pdq": hash.map(|h| h.to_hex()),
        "matches": found.iter().map(|f| {
            let mut m = json!({
                "bank": f.bank,
                "entry": f.entry,
                "signal_type": f.signal_type,
                "distance": f.distance,
                "via": f.via,
                "labels": f.labels,
            });
            if let Some(r) = f.region {
                m["region"] = rect_json(r);
            }
            m
        }).collect::<Vec<_>>(),
    })
}

/// `{"x", "y", "width", "height"}` in the upload's pixels.
pub(crate) fn rect_json(r: Rect) -> Value {
    json!({"x": r.x, "y": r.y, "width": r.width, "height": r.height})
}

fn print(
    out: &mut impl Write,
    json: bool,
    name: &str,
    hash: Option<&Hash256>,
    found: &[Found],
) -> anyhow::Result<()> {
    if json {
        output::write_json_line(out, &match_json(name, hash, found))?;
    } else {
        for f in found {
            // The via column names the region too: `trim-border 800x502+80+50`.
            let region = f.region.map(|r| format!(" {r}")).unwrap_or_default();
            writeln!(
                out,
                "{name},{},{},{},{},{}{region},{}",
                f.bank,
                f.entry,
                f.distance,
                f.signal_type,
                f.via,
                f.labels.join(";")
            )?;
        }
    }
    Ok(())
}

/// Exit codes: 2 if any input failed, else 1 for a match under --fail-on-match, else 0.
fn exit(matched: bool, failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(2)
    } else if matched {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// MD5 and SHA-256 matches of a file's bytes.
fn exact_matches(ward: &Ward, d: &ward_media::Digests) -> anyhow::Result<Vec<Found>> {
    let mut found = Vec::new();
    for (ty, value) in [("md5", &d.md5[..]), ("sha256", &d.sha256[..])] {
        for (e, labels) in ward.match_exact(ty, value)? {
            found.push(Found {
                bank: e.bank,
                entry: e.id,
                signal_type: ty,
                distance: 0,
                via: "exact".to_owned(),
                region: None,
                labels,
            });
        }
    }
    Ok(found)
}

/// Video matches of the frames as uploaded and, when bars were found, of the content inside
/// them (and of the frames inside added bars, for a video with bars of its own); an entry
/// matched several ways is reported once, by the higher query %.
fn video_matches(
    ward: &mut Ward,
    v: &VideoSignals,
    opts: &VideoMatchOptions,
) -> anyhow::Result<Vec<(VideoMatch, String)>> {
    let mut found: Vec<(VideoMatch, String)> = ward
        .match_vpdq(&v.vpdq, opts)?
        .into_iter()
        .map(|m| {
            let via = video_via("original", &m);
            (m, via)
        })
        .collect();
    for c in v.vpdq_cropped.iter().chain(&v.vpdq_nested) {
        for m in ward.match_vpdq(&c.vpdq, opts)? {
            let via = video_via(&format!("{} {}", c.via, c.content), &m);
            match found.iter_mut().find(|(f, _)| f.entry.id == m.entry.id) {
                Some(f) if m.comparison.query_match_pct > f.0.comparison.query_match_pct => {
                    *f = (m, via)
                }
                Some(_) => {}
                None => found.push((m, via)),
            }
        }
    }
    found.sort_by(|a, b| {
        b.0.comparison
            .query_match_pct
            .total_cmp(&a.0.comparison.query_match_pct)
    });
    Ok(found)
}

/// What a video match went through: the frames as uploaded (`original`) or a content
/// rectangle (`trim-letterbox 640x360+0+60`), and the entry's derived vPDQ when that is what
/// matched (`derived:crop-5-centre`, `caption-band 480x612+0+108+derived:crop-5-centre`).
fn video_via(query: &str, m: &VideoMatch) -> String {
    match (&m.derived, query) {
        (None, _) => query.to_owned(),
        (Some(d), "original") => format!("derived:{d}"),
        (Some(d), q) => format!("{q}+derived:{d}"),
    }
}

/// Prints a video's matches: JSON with percentages, verdict and segments, or one line per
/// match `path,bank,entry,QUERY%,vpdq,VERDICT VIA SEGMENTS,labels`.
fn print_video(
    out: &mut impl Write,
    json: bool,
    name: &str,
    v: &VideoSignals,
    found: &[(VideoMatch, String)],
    exact: &[Found],
) -> anyhow::Result<()> {
    if json {
        let mut matches: Vec<Value> = found
            .iter()
            .map(|(m, via)| {
                json!({
                    "bank": m.entry.bank,
                    "entry": m.entry.id,
                    "signal_type": "vpdq",
                    "verdict": m.verdict.name(),
                    "query_match_pct": m.comparison.query_match_pct,
                    "compared_match_pct": m.comparison.compared_match_pct,
                    "via": via,
                    "segments": m.segments.iter().map(|s| json!({
                        "query": [s.query_start, s.query_end],
                        "bank": [s.bank_start, s.bank_end],
                        "frames": s.frames,
                        "mean_distance": s.mean_distance,
                    })).collect::<Vec<_>>(),
                    "labels": m.labels,
                })
            })
            .collect();
        matches.extend(exact.iter().map(|f| {
            json!({"bank": f.bank, "entry": f.entry, "signal_type": f.signal_type,
                   "distance": 0, "via": "exact", "labels": f.labels})
        }));
        let v = json!({
            "path": name,
            "vpdq_frames": v.vpdq.len(),
            "duration": v.info.duration,
            "matches": matches,
        });
        output::write_json_line(out, &v)?;
    } else {
        for (m, via) in found {
            let segs: Vec<String> = m
                .segments
                .iter()
                .map(|s| {
                    format!(
                        "{:.1}-{:.1}={:.1}-{:.1}",
                        s.query_start, s.query_end, s.bank_start, s.bank_end
                    )
                })
                .collect();
            writeln!(
                out,
                "{name},{},{},{:.0}%,vpdq,{} {via} {},{}",
                m.entry.bank,
                m.entry.id,
                m.comparison.query_match_pct,
                m.verdict.name(),
                segs.join(" "),
                m.labels.join(";")
            )?;
        }
        print(out, false, name, None, exact)?;
    }
    Ok(())
}
