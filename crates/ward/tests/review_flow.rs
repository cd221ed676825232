//! The whole review flow against the real `ward serve` on a loopback port: a bank, a
//! transformed copy uploaded, a case, a reviewer's decision, the signed webhook (refused at
//! first, delivered after a restart), evidence that `sha256sum -c` accepts, and an audit log
//! whose edited row `ward audit verify` names.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use util::{dechunk, multipart, reference, token, Ward};

const SECRET: &str = "test-webhook-secret-0123456789";

/// A running server, stopped (SIGTERM, then waited for) when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(w: &Ward, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--listen", "127.0.0.1:0", "--poll-interval", "0.2"])
            .args(extra)
            .current_dir(w.dir.path())
            .env("WARD_DB", w.path("ward.db"))
            .env("WARD_WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, addr }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, &[u8])>,
    ) -> (u16, Vec<u8>) {
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ct, bytes) = body.unwrap_or(("", b""));
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n",
            self.addr,
            bytes.len()
        );
        if !ct.is_empty() {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(bytes).unwrap();
        let mut resp = Vec::new();
        let _ = conn.read_to_end(&mut resp);
        let (head, body) = split_http(&resp);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_vec()
        };
        (status, body)
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, &[u8])>,
    ) -> (u16, Value) {
        let (s, b) = self.request(method, path, token, body);
        let v = serde_json::from_slice(&b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()));
        (s, v)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn split_http(resp: &[u8]) -> (String, &[u8]) {
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |p| p + 4);
    (
        String::from_utf8_lossy(&resp[..end]).into_owned(),
        &resp[end..],
    )
}

/// One webhook request as the receiver saw it.
struct Hook {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Hook {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A webhook receiver on a loopback port: answers 500 while `refuse` is set, else 204, and
/// reports every request it read.
fn receiver(refuse: Arc<AtomicBool>) -> (String, mpsc::Receiver<(u16, Hook)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body_start) = loop {
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (String::from_utf8_lossy(&buf[..p]).into_owned(), p + 4);
                }
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break (String::new(), buf.len()),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let headers: Vec<(String, String)> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[body_start..].to_vec();
            while body.len() < len {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            let status = if refuse.load(Ordering::SeqCst) {
                500
            } else {
                204
            };
            let _ = conn.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if tx.send((status, Hook { headers, body })).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// HMAC-SHA256 written out from RFC 2104, independent of the server's `hmac` crate.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Creates a bank with the original photo and uploads a resized copy: returns the case id.
fn bank_and_copy(s: &Server, curator: &str, submitter: &str, content_id: &str) -> i64 {
    let images = reference().join("pdq/images/bridge-mods");
    let orig = std::fs::read(images.join("aaa-orig.jpg")).unwrap();
    let (st, v) = s.json(
        "POST",
        "/v1/banks",
        curator,
        Some((
            "application/json",
            br#"{"name": "stills", "labels": ["propaganda"], "source": "partner X"}"#,
        )),
    );
    assert_eq!(st, 201, "{v}");
    let (ct, body) = multipart("photo", &orig);
    let (st, v) = s.json(
        "POST",
        "/c/bank/stills/content",
        curator,
        Some((&ct, &body)),
    );
    assert_eq!(st, 200, "{v}");
    // A resized re-encode of the known photo, as a re-upload would be.
    let copy = std::fs::read(images.join("shrink-a-little.jpg")).unwrap();
    let (st, v) = s.json(
        "POST",
        &format!("/v1/content?content_id={content_id}"),
        submitter,
        Some(("image/jpeg", &copy)),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["outcome"], "pending", "{v}");
    assert_eq!(v["case"]["grouped"], false);
    assert_eq!(v["matches"][0]["bank"], "stills");
    v["case"]["id"].as_i64().unwrap()
}

#[test]
fn a_decision_reaches_the_platform_signed_even_across_a_restart() {
    let w = Ward::new();
    let curator = token(&w, "curator", "curation");
    let submitter = token(&w, "submitter", "upload-path");
    let reviewer = token(&w, "reviewer", "moderator");
    let refuse = Arc::new(AtomicBool::new(true));
    let (hook_addr, hooks) = receiver(refuse.clone());
    let url = format!("http://{hook_addr}/ward-hook");
    let s = Server::start(&w, &["--webhook-url", &url]);
    let case = bank_and_copy(&s, &curator, &submitter, "post-1");

    // The reviewer sees the case in the queue and confirms it.
    let (st, q) = s.json("GET", "/v1/cases", &reviewer, None);
    assert_eq!(st, 200);
    assert_eq!(q["cases"][0]["id"], case, "{q}");
    assert_eq!(q["cases"][0]["content_ids"], json!(["post-1"]));
    let (st, v) = s.json(
        "POST",
        &format!("/v1/cases/{case}/decision"),
        &reviewer,
        Some((
            "application/json",
            br#"{"decision": "confirm", "note": "known still"}"#,
        )),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["items"][0]["outcome"], "quarantined");

    // The receiver refuses: the server tries, and keeps the event.
    let (status, first) = hooks
        .recv_timeout(Duration::from_secs(20))
        .expect("no webhook attempt");
    assert_eq!(status, 500);
    let first_event = first.header("X-Ward-Event-Id").to_owned();
    s.stop();
    refuse.store(false, Ordering::SeqCst);
    while hooks.try_recv().is_ok() {} // attempts made before the stop

    // After a restart the same event is delivered.
    let s = Server::start(&w, &["--webhook-url", &url]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let hook = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (status, h) = hooks
            .recv_timeout(left)
            .expect("event not delivered after restart");
        if status == 204 {
            break h;
        }
    };
    assert_eq!(hook.header("X-Ward-Event-Id"), first_event);
    assert_eq!(hook.body, first.body, "the same payload");
    let ts = hook.header("X-Ward-Timestamp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts.parse::<u64>().unwrap()) < 120, "{ts}");
    let mut signed = ts.as_bytes().to_vec();
    signed.push(b'.');
    signed.extend_from_slice(&hook.body);
    let expected = format!("sha256={}", hex(&hmac_sha256(SECRET.as_bytes(), &signed)));
    assert_eq!(hook.header("X-Ward-Signature"), expected);
    let wrong = format!("sha256={}", hex(&hmac_sha256(b"another secret", &signed)));
    assert_ne!(hook.header("X-Ward-Signature"), wrong);
    let payload: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(payload["type"], "decision");
    assert_eq!(payload["case_id"], case);
    assert_eq!(payload["content_id"], "post-1");
    assert_eq!(payload["decision"], "confirm");
    assert_eq!(payload["outcome"], "quarantined");
    assert_eq!(payload["reviewer"], "token:moderator");
    assert_eq!(payload["note"], "known still");
    assert_eq!(payload["matches"][0]["bank"], "stills");
    assert_eq!(payload["event_id"].to_string(), first_event);
    // Polling gives the same payload.
    let (_, ev) = s.json("GET", "/v1/events?after=0", &submitter, None);
    assert_eq!(ev["events"][0], payload);
    // Delivered once: nothing more arrives.
    assert!(hooks.recv_timeout(Duration::from_millis(1500)).is_err());
    let (_, metrics) = s.request("GET", "/metrics", &submitter, None);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("ward_webhook_undelivered 0"), "{metrics}");
    s.stop();
}

#[test]
fn evidence_passes_sha256sum_and_an_edited_audit_row_is_named() {
    let w = Ward::new();
    let curator = token(&w, "curator", "curation");
    let submitter = token(&w, "submitter", "upload-path");
    let reviewer = token(&w, "reviewer", "moderator");
    let s = Server::start(&w, &[]);
    let case = bank_and_copy(&s, &curator, &submitter, "post-9");
    let (st, _) = s.json(
        "POST",
        &format!("/v1/cases/{case}/decision"),
        &reviewer,
        Some(("application/json", br#"{"decision": "confirm"}"#)),
    );
    assert_eq!(st, 200);
    s.stop();

    let out = w.path("evidence");
    let case_arg = case.to_string();
    w.run(&[
        "evidence",
        "export",
        &case_arg,
        "--out",
        out.to_str().unwrap(),
    ])
    .expect(0);
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let listed = String::from_utf8_lossy(&check.stdout);
    assert_eq!(listed.matches(": OK").count(), 4, "{listed}");
    let copy =
        std::fs::read(reference().join("pdq/images/bridge-mods/shrink-a-little.jpg")).unwrap();
    let media = out.join("media").join(hex(&Sha256::digest(&copy)));
    assert_eq!(
        std::fs::read(media).unwrap(),
        copy,
        "the upload's bytes, named by SHA-256"
    );
    let case_json: Value =
        serde_json::from_slice(&std::fs::read(out.join("case.json")).unwrap()).unwrap();
    assert_eq!(case_json["decisions"][0]["reviewer"], "token:moderator");
    assert_eq!(
        case_json["items"][0]["matches"][0]["bank_source"],
        "partner X"
    );
    // A second export into the same folder is refused.
    let again = w
        .run(&[
            "evidence",
            "export",
            &case_arg,
            "--out",
            out.to_str().unwrap(),
        ])
        .expect(2);
    assert!(again.stderr().contains("not empty"), "{}", again.stderr());

    // The audit log: intact, then one edited row is named.
    let ok = w.run(&["audit", "verify"]).expect(0);
    assert!(ok.stdout().starts_with("OK "), "{}", ok.stdout());
    let tail = w.run(&["audit", "tail", "-n", "100"]).expect(0).stdout();
    for action in [
        "token.create",
        "bank.create",
        "bank.import",
        "case.open",
        "case.decide",
        "evidence.export",
    ] {
        assert!(tail.contains(action), "{action} missing from\n{tail}");
    }
    let decide_id: i64 = tail
        .lines()
        .find(|l| l.contains("case.decide"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .parse()
        .unwrap();
    let conn = rusqlite::Connection::open(w.path("ward.db")).unwrap();
    conn.execute(
        "UPDATE audit_log SET detail = replace(detail, 'confirm', 'reject') WHERE id = ?1",
        [decide_id],
    )
    .unwrap();
    drop(conn);
    let bad = w.run(&["audit", "verify"]).expect(1);
    assert!(
        bad.stdout()
            .contains(&format!("TAMPERED entry {decide_id}:")),
        "{}",
        bad.stdout()
    );
}

#[test]
fn a_webhook_needs_a_secret_and_an_http_url() {
    let w = Ward::new();
    let no_secret = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:9/x",
        ])
        .env("WARD_DB", w.path("ward.db"))
        .env_remove("WARD_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(no_secret.status.code(), Some(2));
    let err = String::from_utf8_lossy(&no_secret.stderr);
    assert!(err.contains("signing secret"), "{err}");
    let key = w.write("hook.key", b"short\n");
    let short = w
        .run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:9/x",
            "--webhook-secret-file",
            key.to_str().unwrap(),
        ])
        .expect(2);
    assert!(short.stderr().contains("at least 16"), "{}", short.stderr());
    let scheme = w
        .run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            "ftp://example.org/x",
        ])
        .expect(2);
    assert!(scheme.stderr().contains("http://"), "{}", scheme.stderr());
}
