//! The real `ward serve` on a loopback port, driven over HTTP as an HMA client drives HMA.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::{reference, Ward};

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
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first line names the address (port 0 picks a free one: no race for a port).
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let s = Server { child, addr };
        let start = Instant::now();
        while s.request("GET", "/healthz", "", None).0 != 200 {
            assert!(start.elapsed() < Duration::from_secs(20), "no /healthz");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// One HTTP/1.1 request on a fresh connection: (status, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, &[u8])>,
    ) -> (u16, Vec<u8>) {
        let Ok(mut conn) = TcpStream::connect(&self.addr) else {
            return (0, Vec::new());
        };
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if !token.is_empty() {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let (ct, bytes) = body.unwrap_or(("", b""));
        if !ct.is_empty() {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
        conn.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) and close before reading a large body.
        let _ = conn.write_all(bytes);
        let mut resp = Vec::new();
        let _ = conn.read_to_end(&mut resp);
        let text = String::from_utf8_lossy(&resp);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let start = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(resp.len(), |p| p + 4);
        let head = text[..start.min(text.len())].to_ascii_lowercase();
        let mut body = resp[start..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
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
        (
            s,
            serde_json::from_slice(&b)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned())),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM through `kill`, the way a service manager stops it; then reap.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..p]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + n]);
        b = &b[p + 2 + n + 2..];
    }
    out
}

fn multipart(field: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "wardlivetest";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn token(w: &Ward, role: &str, name: &str) -> String {
    w.run(&["token", "create", "--role", role, "--name", name])
        .expect(0)
        .stdout()
        .trim()
        .to_owned()
}

#[test]
fn hma_client_flow_against_a_live_server() {
    let w = Ward::new();
    let curator = token(&w, "curator", "curation-tool");
    let submitter = token(&w, "submitter", "upload-path");
    let reviewer = token(&w, "reviewer", "moderator");
    assert!(
        curator.starts_with("ward_") && curator.len() == 69,
        "{curator}"
    );
    let s = Server::start(&w, &["--max-body-bytes", "2000000"]);
    let images = reference().join("pdq/images/bridge-mods");
    let orig = std::fs::read(images.join("aaa-orig.jpg")).unwrap();
    let blurred = std::fs::read(images.join("blur-a-lot.jpg")).unwrap();

    // Auth: none or unknown 401, wrong role 403.
    assert_eq!(s.json("GET", "/c/banks", "", None).0, 401);
    assert_eq!(s.json("GET", "/c/banks", "ward_0000", None).0, 401);
    let (st, v) = s.json(
        "POST",
        "/c/banks",
        &submitter,
        Some(("application/json", br#"{"name": "TERROR_STILLS"}"#)),
    );
    assert_eq!(st, 403, "{v}");
    assert_eq!(
        s.json(
            "GET",
            "/m/raw_lookup?signal=x&signal_type=pdq",
            &reviewer,
            None
        )
        .0,
        403
    );

    // Create a bank and add a photo.
    let (st, v) = s.json(
        "POST",
        "/c/banks",
        &curator,
        Some(("application/json", br#"{"name": "TERROR_STILLS"}"#)),
    );
    assert_eq!(
        (st, v),
        (
            201,
            json!({"name": "TERROR_STILLS", "matching_enabled_ratio": 1.0})
        )
    );
    let (ct, body) = multipart("photo", &orig);
    let (st, v) = s.json(
        "POST",
        "/c/bank/TERROR_STILLS/content",
        &curator,
        Some((&ct, &body)),
    );
    assert_eq!(st, 200, "{v}");
    let id = v["id"].as_i64().unwrap();
    let orig_pdq = v["signals"]["pdq"].as_str().unwrap().to_owned();

    // A transformed copy matches, by upload and by hash.
    let (ct, body) = multipart("photo", &blurred);
    let (st, v) = s.json("POST", "/m/lookup", &submitter, Some((&ct, &body)));
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["pdq"]["TERROR_STILLS"][0]["bank_content_id"],
        json!(id),
        "{v}"
    );
    let (st, v) = s.json("POST", "/h/hash", &submitter, Some((&ct, &body)));
    assert_eq!(st, 200);
    let blurred_pdq = v["pdq"].as_str().unwrap().to_owned();
    let (st, v) = s.json(
        "GET",
        &format!("/m/raw_lookup?signal_type=pdq&signal={blurred_pdq}&include_distance=true"),
        &submitter,
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(v["matches"][0]["bank_content_id"], json!(id));
    let (_, v) = s.json(
        "GET",
        &format!("/m/raw_lookup?signal_type=pdq&signal={orig_pdq}"),
        &submitter,
        None,
    );
    assert_eq!(v, json!({"matches": [id]}));

    // Bad inputs: clear JSON errors, nothing changed.
    let big = vec![b'x'; 3_000_000];
    let (ct, body) = multipart("photo", &big);
    let (st, v) = s.json(
        "POST",
        "/c/bank/TERROR_STILLS/content",
        &curator,
        Some((&ct, &body)),
    );
    assert_eq!(st, 413, "{v}");
    let (st, v) = s.json(
        "POST",
        "/h/hash",
        &submitter,
        Some(("multipart/form-data; boundary=zz", b"--zz\r\ngarbage")),
    );
    assert_eq!(st, 400);
    assert!(v["message"].as_str().unwrap().contains("multipart"), "{v}");
    let (ct, body) = multipart("photo", &orig);
    let (st, v) = s.json(
        "POST",
        "/c/bank/NO_SUCH_BANK/content",
        &curator,
        Some((&ct, &body)),
    );
    assert_eq!(
        (st, v),
        (404, json!({"message": "bank 'NO_SUCH_BANK' not found"}))
    );
    let (st, v) = s.json(
        "GET",
        "/m/raw_lookup?signal_type=pdq&signal=1234",
        &submitter,
        None,
    );
    assert_eq!(
        (st, v),
        (400, json!({"message": "invalid signal: invalid PDQ hash"}))
    );
    let (st, v) = s.json(
        "POST",
        "/c/bank/TERROR_STILLS/signal",
        &curator,
        Some(("application/json", br#"{"pdq": "nope"}"#)),
    );
    assert_eq!(
        (st, v),
        (
            400,
            json!({"message": "Invalid pdq signal: invalid PDQ hash"})
        )
    );
    let (_, v) = s.json("GET", "/v1/banks", &curator, None);
    assert_eq!(
        v["banks"][0]["active_entries"],
        json!(1),
        "the bad requests changed nothing: {v}"
    );

    // A CLI import while the server runs is picked up by the poll.
    w.run(&["bank", "create", "cli-bank"]).expect(0);
    w.write("list.txt", format!("{blurred_pdq}\n").as_bytes());
    w.run(&["bank", "import", "cli-bank", "list.txt"]).expect(0);
    let start = Instant::now();
    loop {
        let (_, v) = s.json(
            "GET",
            &format!("/m/lookup?signal_type=pdq&signal={blurred_pdq}"),
            &submitter,
            None,
        );
        if v.get("cli-bank").is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "CLI import never showed: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let (st, body) = s.request("GET", "/metrics", &curator, None);
    assert_eq!(st, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("ward_index_hashes 2"), "{text}");
    assert!(
        text.contains("route=\"/m/raw_lookup\",status=\"403\"} 1"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let w = Ward::new();
    let mut s = Server::start(&w, &[]);
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
