//! Bank data in the formats the field exchanges, parsed strictly and written back exactly.
//!
//! Formats (the choice is written down in the README):
//! - `lines`: one hash per line, the signal type given by the caller (default PDQ). This is
//!   what most shared lists are, and what python-threatexchange's file exchange reads when its
//!   collaboration config names a signal type.
//! - `te`: python-threatexchange's `LocalFileSignalExchangeAPI` line format
//!   (`threatexchange/exchanges/impl/file_api.py`, 1.x): `<signal_type> <value>` per line,
//!   e.g. `pdq f8f8…`; also what `threatexchange hash` prints.
//! - `csv`: a header whose first column is `hash` (or `signal`), then `hash,label,label…`
//!   rows; a label field may hold several labels separated by `;`. An optional
//!   `signal_type` column names the type per row.
//!
//! Parsing is all-or-nothing: the first bad line stops it with `FILE:LINE: what is wrong`.
//! A UTF-8 byte-order mark and CRLF line ends are accepted; blank lines and `#` comments are
//! skipped; rows repeated within a file count once.

use crate::EngineError;
use ward_store::NewEntry;

/// A file format of bank data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One value per line.
    Lines,
    /// `signal_type value` per line (python-threatexchange).
    Te,
    /// `hash,labels…` with a header.
    Csv,
}

impl Format {
    /// Parses a format name.
    pub fn parse(s: &str) -> Result<Self, EngineError> {
        match s {
            "lines" | "txt" => Ok(Format::Lines),
            "te" | "threatexchange" => Ok(Format::Te),
            "csv" => Ok(Format::Csv),
            other => Err(EngineError::Invalid(format!(
                "unknown format '{other}' (lines, te, csv)"
            ))),
        }
    }

    /// Guesses the format from the first non-blank, non-comment line.
    pub fn sniff(text: &str) -> Format {
        let first = text
            .trim_start_matches('\u{feff}')
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        if first.contains(',') {
            Format::Csv
        } else if first.contains(' ') || first.contains('\t') {
            Format::Te
        } else {
            Format::Lines
        }
    }
}

/// The signal types ward knows, with how to read and write their values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalType {
    /// PDQ: 64 hex digits, 32 bytes.
    Pdq,
    /// MD5: 32 hex digits.
    Md5,
    /// SHA-256: 64 hex digits.
    Sha256,
}

impl SignalType {
    /// The field's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SignalType::Pdq => "pdq",
            SignalType::Md5 => "md5",
            SignalType::Sha256 => "sha256",
        }
    }

    /// Parses a name; python-threatexchange's `video_md5` is read as MD5.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pdq" => Ok(SignalType::Pdq),
            "md5" | "video_md5" | "photo_md5" => Ok(SignalType::Md5),
            "sha256" => Ok(SignalType::Sha256),
            other => Err(format!("unknown signal type '{other}' (pdq, md5, sha256)")),
        }
    }

    fn hex_len(self) -> usize {
        match self {
            SignalType::Md5 => 32,
            _ => 64,
        }
    }

    /// Reads a value from its hex text form.
    pub fn parse_value(self, s: &str) -> Result<Vec<u8>, String> {
        let want = self.hex_len();
        if s.len() != want {
            return Err(format!(
                "a {} hash has {want} hex digits, '{}' has {}",
                self.name(),
                truncate(s),
                s.chars().count()
            ));
        }
        let mut out = Vec::with_capacity(want / 2);
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_digit(pair[0]);
            let lo = hex_digit(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => {
                    let pos = if hi.is_none() { 2 * i } else { 2 * i + 1 };
                    let ch = s[pos..].chars().next().unwrap_or('?');
                    return Err(format!("'{ch}' at column {} is not a hex digit", pos + 1));
                }
            }
        }
        Ok(out)
    }

    /// Writes a value in its hex text form.
    pub fn format_value(self, v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// The result of parsing a file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Distinct entries (the first row of each signal), sorted by signal type and value.
    pub entries: Vec<NewEntry>,
    /// Rows that repeated an earlier row's signal (counted once).
    pub duplicates: u64,
}

/// Parses bank data. `name` is used in error messages (`name:line: …`).
pub fn parse(
    name: &str,
    text: &str,
    format: Format,
    default_type: SignalType,
) -> Result<Parsed, EngineError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Parsed::default();
    let mut csv_cols: Option<CsvColumns> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| EngineError::Parse {
            file: name.to_owned(),
            line: i + 1,
            msg,
        };
        let (ty, value, labels) = match format {
            Format::Lines => (default_type, line, Vec::new()),
            Format::Te => {
                let mut parts = line.split_whitespace();
                let (Some(t), Some(v), None) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(at("expected '<signal_type> <value>'".to_owned()));
                };
                (SignalType::parse(t).map_err(at)?, v, Vec::new())
            }
            Format::Csv => {
                let fields: Vec<&str> = line.split(',').map(str::trim).collect();
                let Some(cols) = &csv_cols else {
                    csv_cols = Some(CsvColumns::from_header(&fields).map_err(at)?);
                    continue;
                };
                let ty = match cols.signal_type {
                    Some(c) => {
                        SignalType::parse(fields.get(c).copied().unwrap_or("")).map_err(at)?
                    }
                    None => default_type,
                };
                let value = fields.get(cols.hash).copied().unwrap_or("");
                let labels = fields
                    .iter()
                    .enumerate()
                    .filter(|(c, _)| cols.labels.contains(c))
                    .flat_map(|(_, f)| f.split(';').map(str::trim).filter(|l| !l.is_empty()))
                    .map(str::to_owned)
                    .collect();
                (ty, value, labels)
            }
        };
        let value = ty.parse_value(value).map_err(at)?;
        for l in &labels {
            ward_store::validate_label(l).map_err(|e| at(e.to_string()))?;
        }
        out.entries.push(NewEntry {
            signal_type: ty.name(),
            value,
            labels,
            source_id: None,
        });
    }
    // Rows repeating an earlier row's signal count once: sort positions by signal (ties by
    // position, so the first row wins), then drop the later ones. No hashing or copies of
    // values, which matters at ten million rows.
    // The sort runs on compact (prefix, position) pairs: for hashes the first eight bytes
    // almost always decide, so the full values are compared only on a tie.
    let key = |i: usize| (out.entries[i].signal_type, &out.entries[i].value);
    let prefix = |v: &[u8]| {
        let mut b = [0u8; 8];
        let n = v.len().min(8);
        b[..n].copy_from_slice(&v[..n]);
        u64::from_be_bytes(b)
    };
    let mut types: Vec<&str> = out.entries.iter().map(|e| e.signal_type).collect();
    types.sort_unstable();
    types.dedup();
    let rank = |t: &str| types.binary_search(&t).unwrap_or(0) as u8;
    let mut keyed: Vec<(u8, u64, usize)> = out
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (rank(e.signal_type), prefix(&e.value), i))
        .collect();
    keyed.sort_unstable_by(|&(ra, pa, a), &(rb, pb, b)| {
        (ra, pa)
            .cmp(&(rb, pb))
            .then_with(|| key(a).cmp(&key(b)))
            .then(a.cmp(&b))
    });
    let order: Vec<usize> = keyed.into_iter().map(|(_, _, i)| i).collect();
    let mut keep = vec![true; out.entries.len()];
    for w in order.windows(2) {
        if key(w[0]) == key(w[1]) {
            keep[w[1]] = false;
        }
    }
    out.duplicates = keep.iter().filter(|k| !**k).count() as u64;
    // Hand the entries out in signal order: the store inserts in that order, and sorting an
    // already sorted list costs it one pass.
    let mut slots: Vec<Option<NewEntry>> = std::mem::take(&mut out.entries)
        .into_iter()
        .map(Some)
        .collect();
    out.entries = order
        .into_iter()
        .filter(|&i| keep[i])
        .filter_map(|i| slots[i].take())
        .collect();
    if format == Format::Csv && csv_cols.is_none() {
        return Err(EngineError::Parse {
            file: name.to_owned(),
            line: 1,
            msg: "no header row".to_owned(),
        });
    }
    Ok(out)
}

struct CsvColumns {
    hash: usize,
    signal_type: Option<usize>,
    labels: Vec<usize>,
}

impl CsvColumns {
    fn from_header(fields: &[&str]) -> Result<Self, String> {
        let lower: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
        let hash = lower
            .iter()
            .position(|f| f == "hash" || f == "signal" || f == "signal_value")
            .ok_or_else(|| {
                "the header must name a 'hash' column (e.g. 'hash,labels')".to_owned()
            })?;
        let signal_type = lower.iter().position(|f| f == "signal_type");
        let labels = (0..fields.len())
            .filter(|&c| c != hash && Some(c) != signal_type)
            .collect();
        Ok(CsvColumns {
            hash,
            signal_type,
            labels,
        })
    }
}

/// Writes entries in a format; `parse` of the output gives the same entries back.
pub fn write_entry(
    out: &mut String,
    format: Format,
    signal_type: SignalType,
    value: &[u8],
    labels: &[String],
) {
    let v = signal_type.format_value(value);
    match format {
        Format::Lines => out.push_str(&v),
        Format::Te => {
            out.push_str(signal_type.name());
            out.push(' ');
            out.push_str(&v);
        }
        Format::Csv => {
            out.push_str(signal_type.name());
            out.push(',');
            out.push_str(&v);
            out.push(',');
            out.push_str(&labels.join(";"));
        }
    }
    out.push('\n');
}

/// The header line a format needs before its rows, if any.
pub fn header(format: Format) -> Option<&'static str> {
    (format == Format::Csv).then_some("signal_type,hash,labels")
}
