//! Importing and exporting hash lists: strict parsing with `file:line` errors, atomic and
//! idempotent imports, and export → import as the identity.

use ward_engine::exchange::{self, Format, SignalType};
use ward_engine::ward_store::{NewBank, Policy, Store};
use ward_engine::EngineError;

const A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const B: &str = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

fn parse(text: &str, f: Format) -> Result<exchange::Parsed, EngineError> {
    exchange::parse("list.txt", text, f, SignalType::Pdq)
}

fn err(text: &str, f: Format) -> String {
    parse(text, f).unwrap_err().to_string()
}

#[test]
fn malformed_lines_name_file_and_line() {
    assert_eq!(
        err(&format!("{A}\n{}\n", &B[..63]), Format::Lines),
        "list.txt:2: a pdq hash has 64 hex digits, 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b2' has 63"
    );
    let bad = format!("{}x{}", &A[..10], &A[11..]);
    assert_eq!(
        err(&format!("\n\n{bad}\n"), Format::Lines),
        "list.txt:3: 'x' at column 11 is not a hex digit"
    );
    assert_eq!(
        err("pdq\n", Format::Te),
        "list.txt:1: expected '<signal_type> <value>'"
    );
    assert_eq!(
        err(&format!("tmk {A}\n"), Format::Te),
        "list.txt:1: unknown signal type 'tmk' (pdq, md5, sha256)"
    );
    assert!(err(&format!("{A},x\n"), Format::Csv)
        .contains("list.txt:1: the header must name a 'hash' column"));
}

#[test]
fn crlf_bom_comments_blank_lines_and_duplicates() {
    let text = format!("\u{feff}# a comment\r\n{A}\r\n\r\n{B}\r\n{A}\r\n");
    let p = parse(&text, Format::Lines).unwrap();
    assert_eq!((p.entries.len(), p.duplicates), (2, 1));
    assert_eq!(Format::sniff(&text), Format::Lines);
    let empty = parse("", Format::Lines).unwrap();
    assert_eq!((empty.entries.len(), empty.duplicates), (0, 0));
    let csv = format!("hash,labels\r\n{A},isis;video\r\n{B},\r\n");
    let p = parse(&csv, Format::Csv).unwrap();
    let labels_of = |h: &str| {
        let v = SignalType::Pdq.parse_value(h).unwrap();
        p.entries
            .iter()
            .find(|e| e.value == v)
            .unwrap()
            .labels
            .clone()
    };
    assert_eq!(labels_of(A), ["isis", "video"]);
    assert!(labels_of(B).is_empty());
    // The first row of a repeated signal wins.
    let p = parse(
        &format!("hash,labels\n{A},first\n{A},second\n"),
        Format::Csv,
    )
    .unwrap();
    assert_eq!(
        (p.entries.len(), p.duplicates, p.entries[0].labels.clone()),
        (1, 1, vec!["first".to_owned()])
    );
    assert_eq!(Format::sniff(&format!("pdq {A}\n")), Format::Te);
}

fn store_with_bank() -> Store {
    let mut s = Store::in_memory().unwrap();
    let b = NewBank {
        name: "b".into(),
        description: String::new(),
        labels: vec![],
        policy: Policy::Review,
        source: String::new(),
    };
    s.create_bank(&b, "t").unwrap();
    s
}

#[test]
fn failed_import_changes_nothing_and_reimport_adds_nothing() {
    let mut s = store_with_bank();
    let good = parse(&format!("{A}\n{B}\n"), Format::Lines).unwrap();
    let o = s.import("b", &good.entries, "t").unwrap();
    assert_eq!((o.added, o.already_present), (2, 0));
    let seq = s.seq().unwrap();
    let o = s.import("b", &good.entries, "t").unwrap();
    assert_eq!((o.added, o.already_present), (0, 2));
    // A bad label anywhere rejects the whole import before anything is written.
    let mut bad = parse(&format!("{}\n", &A.replace('f', "e")), Format::Lines).unwrap();
    bad.entries[0].labels = vec!["bad\u{7}label".into()];
    assert!(s.import("b", &bad.entries, "t").is_err());
    assert_eq!(s.bank("b").unwrap().active_entries, 2);
    assert_eq!(s.seq().unwrap(), seq + 1);
}

#[test]
fn export_then_import_is_the_identity() {
    let mut s = store_with_bank();
    let csv = format!("signal_type,hash,labels\npdq,{A},a;b\nmd5,0123456789abcdef0123456789abcdef,\nsha256,{B},c\n");
    let p = parse(&csv, Format::Csv).unwrap();
    s.import("b", &p.entries, "t").unwrap();
    for format in [Format::Csv, Format::Te] {
        let mut out = exchange::header(format)
            .map(|h| format!("{h}\n"))
            .unwrap_or_default();
        s.for_each_entry("b", |e| {
            let ty = SignalType::parse(&e.signal_type).unwrap();
            exchange::write_entry(&mut out, format, ty, &e.value, &e.labels);
            Ok(())
        })
        .unwrap();
        let mut back = parse(&out, format).unwrap().entries;
        let mut orig = p.entries.clone();
        if format == Format::Te {
            orig.iter_mut().for_each(|e| e.labels.clear());
        }
        back.sort_by(|a, b| a.value.cmp(&b.value));
        orig.sort_by(|a, b| a.value.cmp(&b.value));
        assert_eq!(back, orig, "{format:?}");
    }
}
