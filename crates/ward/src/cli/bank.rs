//! `ward bank …`

use super::{actor, MediaArgs};
use crate::output;
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use ward_engine::exchange::{self, Format, SignalType};
use ward_engine::ward_store::{NewBank, NewEntry, Policy};
use ward_engine::Ward;

#[derive(Subcommand, Debug)]
pub enum BankCommand {
    /// Create a bank.
    Create {
        /// Bank name: letters, digits, '_', '-', '.'.
        name: String,
        /// What a match does: review (every match to a human) or auto (exact matches
        /// quarantined at once).
        #[arg(long, default_value = "review", value_parser = ["review", "auto"])]
        policy: String,
        /// A label every match from this bank carries (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Provenance: who shared it, under which terms.
        #[arg(long, default_value = "")]
        source: String,
    },
    /// List banks with their entry counts.
    List {
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Import a hash list into a bank, atomically (a bad line changes nothing) and
    /// idempotently (entries already there are not added twice).
    Import {
        /// Bank name.
        name: String,
        /// The hash list.
        file: PathBuf,
        /// lines (one hash a line), te (python-threatexchange: `pdq <hash>`), csv
        /// ("hash,labels" header), vpdq (a video's `frame,quality,hash,timestamp` file: one
        /// entry); guessed from the first line when not given.
        #[arg(long)]
        format: Option<String>,
        /// Signal type of values that do not name one.
        #[arg(long, default_value = "pdq")]
        signal_type: String,
    },
    /// Export a bank's active entries (import of the output gives the same bank).
    Export {
        /// Bank name.
        name: String,
        /// csv (signal types and labels), te, lines (one signal type only), or vpdq (each
        /// video entry as a vPDQ file in the folder given by --output).
        #[arg(long, default_value = "csv")]
        format: String,
        /// With --format lines: which signal type.
        #[arg(long, default_value = "pdq")]
        signal_type: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Hash media files and add their signals (PDQ or vPDQ, MD5, SHA-256) to a bank.
    Add {
        /// Bank name.
        name: String,
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A label for the added entries (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Do not store derived hashes (crops and small rotations of each image, 5 % and
        /// 10 % centre crops of each video; matched as its entry, never exported).
        #[arg(long)]
        no_derived: bool,
        #[command(flatten)]
        media: MediaArgs,
    },
    /// List a bank's entries, with the derived hashes of each.
    Entries {
        /// Bank name.
        name: String,
        /// JSON lines: {"id", "signal_type", "value", "status", "labels", "source_id",
        /// "derived": [{"name", "pdq", "quality"}]} (a video entry's derived:
        /// {"name", "vpdq_frames", "quality"}).
        #[arg(long)]
        json: bool,
    },
    /// Show or set a bank's thresholds for edit-robust matching (normalised query hashes and
    /// derived hashes); without a value, a threshold goes back to the default.
    Thresholds {
        /// Bank name.
        name: String,
        /// Largest distance for regions and rotations/flips of an upload.
        #[arg(long, value_name = "N")]
        region: Option<u32>,
        /// Largest distance for the bank's derived hashes.
        #[arg(long, value_name = "N")]
        derived: Option<u32>,
        /// Set the thresholds given (the others back to the default); without --set, only
        /// show them.
        #[arg(long)]
        set: bool,
    },
    /// Disable an entry: it is kept for the record but no longer matches.
    Disable {
        /// Bank name.
        name: String,
        /// Entry id (as `ward match` and `ward bank export --format csv` show it).
        entry: i64,
    },
}

pub fn run(cmd: BankCommand, mut ward: Ward) -> anyhow::Result<ExitCode> {
    let store = ward.store_mut();
    match cmd {
        BankCommand::Create {
            name,
            policy,
            labels,
            description,
            source,
        } => {
            let policy = Policy::parse(&policy)?;
            let b = store.create_bank(
                &NewBank {
                    name,
                    description,
                    labels,
                    policy,
                    source,
                },
                &actor(),
            )?;
            println!("created bank {} (policy {})", b.name, b.policy.as_str());
        }
        BankCommand::List { json } => {
            let mut out = std::io::stdout().lock();
            for b in store.banks()? {
                if json {
                    let v = serde_json::json!({
                        "name": b.name, "policy": b.policy.as_str(), "labels": b.labels,
                        "description": b.description, "source": b.source,
                        "active_entries": b.active_entries, "disabled_entries": b.disabled_entries,
                        "created_at": b.created_at, "created_by": b.created_by,
                    });
                    output::write_json_line(&mut out, &v)?;
                } else {
                    writeln!(
                        out,
                        "{}\t{}\t{} active\t{} disabled\t{}",
                        b.name,
                        b.policy.as_str(),
                        b.active_entries,
                        b.disabled_entries,
                        b.labels.join(";")
                    )?;
                }
            }
        }
        BankCommand::Import {
            name,
            file,
            format,
            signal_type,
        } => {
            store.bank(&name)?; // a clear error before reading a large file
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if format.as_deref() == Some("vpdq") || (format.is_none() && looks_like_vpdq(&text)) {
                // A vPDQ file is one video: one entry, kept in the reference's line format.
                let name_str = file.display().to_string();
                let source_id = file.file_name().map(|n| n.to_string_lossy().into_owned());
                let entry = ward_engine::vpdq_entry(&name_str, &text, Vec::new(), source_id)?;
                let o = store.import(&name, &[entry], &actor())?;
                println!(
                    "imported {} new video entries into {name} ({} already present)",
                    o.added, o.already_present
                );
                return Ok(ExitCode::SUCCESS);
            }
            let format = match format {
                Some(f) => Format::parse(&f)?,
                None => Format::sniff(&text),
            };
            let default_type = SignalType::parse(&signal_type).map_err(anyhow::Error::msg)?;
            let parsed = exchange::parse(&file.display().to_string(), &text, format, default_type)?;
            drop(text);
            let o = store.import(&name, &parsed.entries, &actor())?;
            println!(
                "imported {} new entries into {name} ({} already present, {} duplicate rows in the file)",
                o.added, o.already_present, parsed.duplicates
            );
        }
        BankCommand::Export {
            name,
            format,
            signal_type,
            output,
        } => {
            if format == "vpdq" {
                return export_videos(store, &name, output);
            }
            let format = Format::parse(&format)?;
            let only = SignalType::parse(&signal_type).map_err(anyhow::Error::msg)?;
            let mut videos = 0u64;
            let mut buf = String::new();
            if let Some(h) = exchange::header(format) {
                buf.push_str(h);
                buf.push('\n');
            }
            store.for_each_entry(&name, |e| {
                let Ok(ty) = SignalType::parse(&e.signal_type) else {
                    videos += u64::from(e.active && e.signal_type == "vpdq");
                    return Ok(());
                };
                if e.active && (format != Format::Lines || ty == only) {
                    exchange::write_entry(&mut buf, format, ty, &e.value, &e.labels);
                }
                Ok(())
            })?;
            match output {
                Some(p) => write_atomically(&p, buf.as_bytes())?,
                None => std::io::stdout().lock().write_all(buf.as_bytes())?,
            }
            if videos > 0 {
                eprintln!(
                    "{name}: {videos} video entries are not in this format; export them with --format vpdq -o DIR"
                );
            }
        }
        BankCommand::Add {
            name,
            paths,
            labels,
            no_derived,
            media,
        } => {
            store.bank(&name)?;
            let video_opts = ward_media::VideoOptions::default();
            let opts = ward_media::HashOptions {
                decode: media.decode_options(),
                dihedral: false,
            };
            let extra = ward_media::ExtraOptions {
                regions: None,
                derived: !no_derived,
            };
            let mut entries = Vec::new();
            // Derived hashes of each image entry, by its PDQ value.
            let mut derived: Vec<(&str, Vec<u8>, Vec<ward_engine::ward_store::NewDerived>)> =
                Vec::new();
            let mut failed = false;
            let mut low_quality = 0;
            for item in output::expand_paths(&paths) {
                let (path, result) = match item {
                    Ok(p) => {
                        let r = hash_for_bank(&p, &opts, &video_opts, &extra)
                            .map_err(|e| e.to_string());
                        (p, r)
                    }
                    Err((p, e)) => (p, Err(e)),
                };
                let (signals, extras) = match result {
                    Ok(signals) => signals,
                    Err(e) => {
                        eprintln!("{}: {e}", path.display());
                        failed = true;
                        continue;
                    }
                };
                let source_id = Some(
                    path.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                );
                let new_entry = |ty: SignalType, value: Vec<u8>| NewEntry {
                    signal_type: ty.name(),
                    value,
                    labels: labels.clone(),
                    source_id: source_id.clone(),
                };
                let digests = match signals {
                    ward_media::MediaSignals::Image(s) => {
                        if s.pdq.quality >= 50 {
                            let value = s.pdq.hash.as_bytes().to_vec();
                            let d = ward_engine::derived_signals(&extras.derived, 50);
                            if !d.is_empty() {
                                derived.push(("pdq", value.clone(), d));
                            }
                            entries.push(new_entry(SignalType::Pdq, value));
                        } else {
                            low_quality += 1;
                            eprintln!(
                                "{}: PDQ quality {} is under 50, too featureless to match on; adding its MD5 and SHA-256 only",
                                path.display(),
                                s.pdq.quality
                            );
                        }
                        s.digests
                    }
                    ward_media::MediaSignals::Video(v) => {
                        // Bank videos keep the lists' convention: the plain vPDQ at one hash
                        // a second; ward's own centre crops go beside it as derived vPDQ.
                        let entry = ward_engine::vpdq_frames_entry(
                            &v.vpdq,
                            labels.clone(),
                            source_id.clone(),
                        );
                        if !no_derived {
                            match ward_media::derived_vpdq(
                                &path,
                                &video_opts,
                                &ward_media::BANK_VIDEO_DERIVED,
                            ) {
                                Ok(d) => {
                                    let d = ward_engine::derived_vpdq_signals(&d);
                                    if !d.is_empty() {
                                        derived.push(("vpdq", entry.value.clone(), d));
                                    }
                                }
                                Err(e) => {
                                    eprintln!("{}: {e}", path.display());
                                    failed = true;
                                    continue;
                                }
                            }
                        }
                        entries.push(entry);
                        v.digests
                    }
                };
                entries.push(new_entry(SignalType::Md5, digests.md5.to_vec()));
                entries.push(new_entry(SignalType::Sha256, digests.sha256.to_vec()));
            }
            if failed {
                anyhow::bail!("nothing was added: fix or remove the files above and run again");
            }
            // Entries and their derived hashes in one transaction: all or nothing.
            let (o, nd) = store.import_with_derived(&name, &entries, &derived, &actor())?;
            println!(
                "added {} entries to {name} ({} already present; {low_quality} files without PDQ; {nd} derived hashes)",
                o.added, o.already_present
            );
        }
        BankCommand::Entries { name, json } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut entries = Vec::new();
            store.for_each_entry(&name, |e| {
                entries.push(e);
                Ok(())
            })?;
            for e in entries {
                let derived = store.derived_of(e.id)?;
                let value = match e.signal_type.as_str() {
                    "vpdq" => format!("{} bytes", e.value.len()),
                    _ => hex(&e.value),
                };
                let status = if e.active { "active" } else { "disabled" };
                if json {
                    let d: Vec<serde_json::Value> = derived
                        .iter()
                        .map(|d| match e.signal_type.as_str() {
                            // A video entry's derived vPDQ: its frames, not the text.
                            "vpdq" => serde_json::json!({
                                "name": d.name,
                                "vpdq_frames": String::from_utf8_lossy(&d.value).lines().filter(|l| !l.trim().is_empty()).count(),
                                "quality": d.quality,
                            }),
                            _ => serde_json::json!({"name": d.name, "pdq": hex(&d.value), "quality": d.quality}),
                        })
                        .collect();
                    let v = serde_json::json!({
                        "id": e.id, "signal_type": e.signal_type, "value": value,
                        "status": status, "labels": e.labels, "source_id": e.source_id,
                        "derived": d,
                    });
                    output::write_json_line(&mut out, &v)?;
                } else {
                    writeln!(
                        out,
                        "{},{},{value},{status},{},{} derived",
                        e.id,
                        e.signal_type,
                        e.labels.join(";"),
                        derived.len()
                    )?;
                }
            }
            out.flush()?;
        }
        BankCommand::Thresholds {
            name,
            region,
            derived,
            set,
        } => {
            use ward_engine::ward_store::MatchThresholds;
            let bank = store.bank(&name)?;
            if set {
                store.set_match_thresholds(&name, MatchThresholds { region, derived }, &actor())?;
            } else {
                anyhow::ensure!(
                    region.is_none() && derived.is_none(),
                    "give --set to change the thresholds"
                );
            }
            let t = store
                .match_thresholds()?
                .into_iter()
                .find(|(id, _)| *id == bank.id)
                .map(|(_, t)| t)
                .unwrap_or_default();
            let show = |v: Option<u32>, default: u32| match v {
                Some(v) => v.to_string(),
                None => format!("{default} (default)"),
            };
            println!(
                "{name}: region threshold {}, derived threshold {}",
                show(t.region, ward_engine::DEFAULT_REGION_THRESHOLD),
                show(t.derived, ward_engine::DEFAULT_DERIVED_THRESHOLD)
            );
        }
        BankCommand::Disable { name, entry } => {
            store.disable_entry(&name, entry)?;
            println!("disabled entry {entry} of {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes each active video entry of a bank as a vPDQ file (the reference's format) into a
/// folder: `ENTRY.txt`, or `ENTRY-SOURCE.txt` when the entry has a source id.
fn export_videos(
    store: &ward_engine::ward_store::Store,
    name: &str,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let dir =
        output.context("--format vpdq writes one file per video: give a folder with --output")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut n = 0;
    store.for_each_entry(name, |e| {
        if e.active && e.signal_type == "vpdq" {
            let stem = match &e.source_id {
                Some(s) => {
                    let safe: String = s
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect();
                    format!("{}-{safe}", e.id)
                }
                None => e.id.to_string(),
            };
            let path = dir.join(format!("{stem}.txt"));
            write_atomically(&path, &e.value)
                .map_err(|err| ward_engine::ward_store::StoreError::Invalid(format!("{err:#}")))?;
            n += 1;
        }
        Ok(())
    })?;
    println!("exported {n} video entries of {name} to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Hashes one file for `ward bank add`: an image with its derived hashes (one decode),
/// anything else as `ward hash` does.
fn hash_for_bank(
    path: &std::path::Path,
    image: &ward_media::HashOptions,
    video: &ward_media::VideoOptions,
    extra: &ward_media::ExtraOptions,
) -> Result<(ward_media::MediaSignals, ward_media::ImageExtras), ward_media::MediaError> {
    if extra.derived && ward_media::is_image_file(path)? {
        let (s, x) = ward_media::hash_file_extra(path, image, extra)?;
        return Ok((ward_media::MediaSignals::Image(s), x));
    }
    Ok((
        ward_media::hash_media_file(path, image, video)?,
        ward_media::ImageExtras::default(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half of it.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("ward-tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Whether a text is a vPDQ hash file (its first line is `frame,quality,hash,timestamp`).
fn looks_like_vpdq(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.parse::<ward_pdq::vpdq::VpdqFrame>().is_ok())
}
