//! The real `ward serve` on a loopback port, driven over HTTP as an HMA client drives HMA.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::{dechunk, multipart, reference, token, Ward};

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

#[test]
fn slow_header_clients_are_cut_off_and_do_not_starve_others() {
    let w = Ward::new();
    let s = Server::start(&w, &["--header-timeout", "1", "--max-connections", "8"]);
    // Slowloris: connections that send part of a request header and then nothing, one more
    // than the connection cap.
    let mut slow: Vec<TcpStream> = (0..9)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    // Within the header deadline every slow connection is closed by the server...
    let start = Instant::now();
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 256];
        // Closed: end of stream (0) or a reset; never a timeout (WouldBlock/TimedOut).
        match c.read(&mut buf) {
            // hyper may say 408 before closing.
            Ok(n) => assert!(
                n == 0 || buf.starts_with(b"HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a slow connection was still open after 5 s: {e}"
            ),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    // ... and the server goes on answering everyone else.
    assert_eq!(s.request("GET", "/healthz", "", None).0, 200);

    // An idle keep-alive connection is closed after the same deadline.
    let mut idle = TcpStream::connect(&s.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    let _ = idle.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

/// A tiny HTTP origin on a loopback address: `/photo.jpg` serves `photo`, `/redirect`
/// answers 302 to `location`; counts the requests it gets.
struct Origin {
    addr: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Origin {
    fn start(ip: &str, photo: Vec<u8>, location: String) -> Origin {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let hits = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut line = String::new();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let _ = reader.read_line(&mut line);
                // Drain the header.
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                let resp: Vec<u8> = if path == "/photo.jpg" {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        photo.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&photo);
                    r
                } else if path == "/redirect" {
                    format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = conn.write_all(&resp);
            }
        });
        Origin { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn url_fetching_only_from_allowed_hosts_redirects_included() {
    let w = Ward::new();
    let submitter = token(&w, "submitter", "upload-path");
    let photo = std::fs::read(reference().join("pdq/images/bridge-mods/aaa-orig.jpg")).unwrap();
    // An "internal" service on another loopback address, and an allowed origin that
    // redirects to it.
    let internal = Origin::start("127.0.0.2", photo.clone(), String::new());
    let allowed = Origin::start(
        "127.0.0.1",
        photo.clone(),
        format!("http://{}/photo.jpg", internal.addr),
    );
    let s = Server::start(&w, &["--fetch-allow-host", &allowed.addr]);
    let expected = w
        .run(&[
            "hash",
            "--json",
            &reference()
                .join("pdq/images/bridge-mods/aaa-orig.jpg")
                .to_string_lossy(),
        ])
        .expect(0)
        .stdout();
    let expected: Value = serde_json::from_str(expected.lines().next().unwrap()).unwrap();

    // Allowed host: fetched and hashed as if uploaded.
    let (st, v) = s.json(
        "GET",
        &format!("/h/hash?url=http://{}/photo.jpg", allowed.addr),
        &submitter,
        None,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["pdq"], expected["pdq"]["hash"], "{v} vs {expected}");
    let before = allowed.hits();

    // A host not on the list is never contacted.
    let (st, v) = s.json(
        "GET",
        &format!("/h/hash?url=http://{}/photo.jpg", internal.addr),
        &submitter,
        None,
    );
    assert_eq!(st, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.starts_with("Invalid or unsafe URL provided"), "{msg}");
    assert!(
        msg.contains("not on this server's fetch allowlist"),
        "{msg}"
    );
    assert_eq!(internal.hits(), 0);

    // Nor through a redirect from an allowed host.
    let (st, v) = s.json(
        "GET",
        &format!("/m/lookup?url=http://{}/redirect", allowed.addr),
        &submitter,
        None,
    );
    assert_eq!(st, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("redirect refused"), "{msg}");
    assert_eq!(internal.hits(), 0, "the redirect was followed");
    assert_eq!(allowed.hits(), before + 1);

    // Other schemes and credentials are refused before any connection.
    for url in [
        "file:///etc/passwd",
        &format!("http://u:p@{}/photo.jpg", allowed.addr),
    ] {
        let (st, v) = s.json("GET", &format!("/h/hash?url={url}"), &submitter, None);
        assert_eq!(st, 400, "{url}: {v}");
    }
    assert_eq!(allowed.hits(), before + 1);
}

#[test]
fn hma_video_hashes_as_python_threatexchange_writes_them() {
    let w = Ward::new();
    let submitter = token(&w, "submitter", "upload-path");
    let curator = token(&w, "curator", "curation-tool");
    let s = Server::start(&w, &[]);
    let name = "pattern-sd-grey-bar";
    let video = std::fs::read(reference().join(format!("vpdq/videos/{name}.mp4"))).unwrap();
    let (ct, body) = multipart("video", &video);
    let (st, v) = s.json("POST", "/h/hash", &submitter, Some((&ct, body.as_slice())));
    assert_eq!(st, 200, "{v}");
    // video_md5 is the file's MD5.
    let md5 = w
        .run(&[
            "hash",
            "--json",
            &reference()
                .join(format!("vpdq/videos/{name}.mp4"))
                .to_string_lossy(),
        ])
        .expect(0)
        .stdout();
    let md5: Value = serde_json::from_str(md5.lines().next().unwrap()).unwrap();
    assert_eq!(v["video_md5"], md5["md5"], "{v}");
    // vpdq: a JSON array of "hash,quality,timestamp", one frame a second (frames 0, 30, 60,
    // ... of this 30 fps video), the hashes of the reference's frames.
    let features: Vec<String> = serde_json::from_str(v["vpdq"].as_str().unwrap()).unwrap();
    let reference_lines =
        std::fs::read_to_string(reference().join(format!("vpdq/hashes-ffmpeg5.1/{name}.txt")))
            .unwrap();
    let expected: Vec<(String, String)> = reference_lines
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse::<u32>().unwrap() % 30 == 0).then(|| (f[2].to_owned(), f[1].to_owned()))
        })
        .collect();
    assert_eq!(features.len(), expected.len());
    for (got, (hash, quality)) in features.iter().zip(&expected) {
        assert!(got.starts_with(&format!("{hash},{quality},")), "{got}");
    }
    assert!(features[1].ends_with(",1.0"), "{}", features[1]);
    assert!(
        v["vpdq"].as_str().unwrap().contains("\", \""),
        "json.dumps separators"
    );

    // The same video added to a bank, then its vPDQ signal added again by value: one entry.
    let (st, _) = s.json(
        "POST",
        "/c/banks",
        &curator,
        Some(("application/json", br#"{"name": "CLIPS"}"#)),
    );
    assert_eq!(st, 201);
    let (st, added) = s.json(
        "POST",
        "/c/bank/CLIPS/content",
        &curator,
        Some((&ct, body.as_slice())),
    );
    assert_eq!(st, 200, "{added}");
    let signal = json!({"vpdq": v["vpdq"]}).to_string();
    let (st, again) = s.json(
        "POST",
        "/c/bank/CLIPS/signal",
        &curator,
        Some(("application/json", signal.as_bytes())),
    );
    assert_eq!(st, 200, "{again}");
    // The content add made two entries (video_md5, vpdq); the signal add found the vPDQ one.
    let first = added["id"].as_i64().unwrap();
    assert_eq!(again["id"].as_i64().unwrap(), first + 1, "{added} {again}");
    let out = w.run(&["bank", "list"]).expect(0).stdout();
    assert!(out.contains("CLIPS") && out.contains('2'), "{out}");
    // A malformed vPDQ signal is a 400 that says why.
    let (st, e) = s.json(
        "POST",
        "/c/bank/CLIPS/signal",
        &curator,
        Some(("application/json", br#"{"vpdq": "[\"abc,100,0.0\"]"}"#)),
    );
    assert_eq!(st, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Invalid vpdq signal"),
        "{e}"
    );
}

#[test]
fn a_video_upload_opens_a_case_with_its_aligned_segments() {
    let w = Ward::new();
    let submitter = token(&w, "submitter", "upload-path");
    let reviewer = token(&w, "reviewer", "moderator");
    // The bank holds the reference's vPDQ of one clip, as a shared list would.
    w.run(&["bank", "create", "CLIPS"]).expect(0);
    let list = reference().join("vpdq/hashes-ffmpeg5.1/chair-orig-22-sd-bar.txt");
    w.run(&["bank", "import", "CLIPS", list.to_str().unwrap()])
        .expect(0);
    let s = Server::start(&w, &["--max-body-bytes", "20000000"]);

    // A re-encoded, greyed copy of it: a copy, its whole length aligned.
    let copy = std::fs::read(reference().join("vpdq/videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let (st, v) = s.json(
        "POST",
        "/v1/content?content_id=upload-1",
        &submitter,
        Some(("video/mp4", &copy)),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["media_type"], "video");
    assert!(v["hashes"]["vpdq"]["frames"].as_u64().unwrap() > 600, "{v}");
    let m = &v["matches"][0];
    assert_eq!(m["bank"], "CLIPS", "{v}");
    assert_eq!(m["signal_type"], "vpdq");
    assert_eq!(m["verdict"], "copy", "{v}");
    assert!(m["query_match_pct"].as_f64().unwrap() >= 80.0, "{v}");
    let seg = &m["segments"][0];
    assert!(seg["query_start"].as_f64().unwrap() < 1.0, "{seg}");
    assert!(seg["query_end"].as_f64().unwrap() > 20.0, "{seg}");
    assert_eq!(v["outcome"], "pending");
    let case = v["case"]["id"].as_i64().unwrap();

    // The reviewer sees a video case with the segments, and can fetch the video itself.
    let (st, c) = s.json("GET", &format!("/v1/cases/{case}"), &reviewer, None);
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["media_type"], "video", "{c}");
    assert_eq!(c["items"][0]["content_type"], "video/mp4", "{c}");
    assert!(
        !c["matches"][0]["segments"].as_array().unwrap().is_empty(),
        "{c}"
    );
    let item = c["items"][0]["item_id"].as_i64().unwrap();
    let (st, bytes) = s.request(
        "GET",
        &format!("/v1/cases/{case}/items/{item}/media"),
        &reviewer,
        None,
    );
    assert_eq!(st, 200);
    assert!(bytes == copy, "the kept video differs from the upload");

    // An unrelated video matches nothing and is not kept.
    let other = std::fs::read(reference().join("vpdq/videos/doorknob-hd-no-bar.mp4")).unwrap();
    let (st, v) = s.json(
        "POST",
        "/v1/content?content_id=upload-2",
        &submitter,
        Some(("video/mp4", &other)),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["matches"], json!([]), "{v}");
    assert_eq!(v["outcome"], "no_match");

    // A truncated video is a clear 400, not a crash.
    let (st, v) = s.json(
        "POST",
        "/v1/content?content_id=upload-3",
        &submitter,
        Some(("video/mp4", &copy[..copy.len() / 3])),
    );
    assert_eq!(st, 400, "{v}");
}

#[test]
fn the_service_finds_edited_copies_and_says_which_region() {
    let w = Ward::new();
    let submitter = token(&w, "submitter", "upload-path");
    let orig = reference().join("pdq/images/bridge-mods/aaa-orig.jpg");
    // A shared list would carry the plain PDQ only: import it, as a hash-only bank.
    w.run(&["bank", "create", "STILLS"]).expect(0);
    let line = w
        .run(&["hash", "--json", orig.to_str().unwrap()])
        .expect(0)
        .stdout();
    let pdq: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let list = w.write(
        "list.txt",
        format!("{}\n", pdq["pdq"]["hash"].as_str().unwrap()).as_bytes(),
    );
    w.run(&["bank", "import", "STILLS", list.to_str().unwrap()])
        .expect(0);
    let s = Server::start(&w, &[]);

    // The photo letterboxed into a taller black frame, then mirrored: plain PDQ misses it.
    let img = image::open(&orig).unwrap().to_rgb8();
    let (iw, ih) = img.dimensions();
    let bar = ih / 4;
    let mut framed = image::RgbImage::new(iw, ih + 2 * bar);
    image::imageops::overlay(&mut framed, &img, 0, i64::from(bar));
    let mirrored = image::imageops::flip_horizontal(&framed);
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(mirrored)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (st, v) = s.json(
        "POST",
        "/v1/content?content_id=edited-1",
        &submitter,
        Some(("image/png", &png)),
    );
    assert_eq!(st, 200, "{v}");
    let m = &v["matches"][0];
    assert_eq!(m["bank"], "STILLS", "{v}");
    let via = m["via"].as_str().unwrap();
    assert!(
        via.starts_with("trim-border") && via.contains("dihedral"),
        "{v}"
    );
    let r = &m["region"];
    assert!(
        r["y"].as_i64().unwrap().abs_diff(i64::from(bar)) <= 3,
        "{r}"
    );
    assert!(
        r["height"].as_i64().unwrap().abs_diff(i64::from(ih)) <= 6,
        "{r}"
    );
    assert_eq!(v["outcome"], "pending", "{v}");
}

#[test]
fn curators_add_media_with_derived_hashes_through_the_native_api() {
    let w = Ward::new();
    let curator = token(&w, "curator", "curation-tool");
    let submitter = token(&w, "submitter", "upload-path");
    w.run(&["bank", "create", "STILLS"]).expect(0);
    let s = Server::start(&w, &[]);
    let orig = std::fs::read(reference().join("pdq/images/bridge-mods/aaa-orig.jpg")).unwrap();
    let (st, v) = s.json(
        "POST",
        "/v1/banks/STILLS/entries?labels=propaganda&source_id=still-1",
        &curator,
        Some(("image/jpeg", &orig)),
    );
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["added"], 3, "{v}");
    assert!(v["derived"].as_u64().unwrap() >= 10, "{v}");
    // Again: nothing new.
    let (st, again) = s.json(
        "POST",
        "/v1/banks/STILLS/entries",
        &curator,
        Some(("image/jpeg", &orig)),
    );
    assert_eq!((st, &again["already_present"]), (200, &json!(3)), "{again}");
    // Submitters may not add.
    let (st, _) = s.json(
        "POST",
        "/v1/banks/STILLS/entries",
        &submitter,
        Some(("image/jpeg", &orig)),
    );
    assert_eq!(st, 403);

    // A 5 % centre crop: plain PDQ misses it, the derived hash finds it.
    let img = image::load_from_memory(&orig).unwrap().to_rgb8();
    let (iw, ih) = img.dimensions();
    let (dx, dy) = (iw / 20, ih / 20);
    let crop = image::imageops::crop_imm(&img, dx, dy, iw - 2 * dx, ih - 2 * dy).to_image();
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(crop)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (st, m) = s.json(
        "POST",
        "/v1/content?content_id=cropped",
        &submitter,
        Some(("image/png", &png)),
    );
    assert_eq!(st, 200, "{m}");
    let via = m["matches"][0]["via"].as_str().unwrap_or("");
    assert!(via.contains("derived:crop-5"), "{m}");
    assert_eq!(m["matches"][0]["labels"], json!(["propaganda"]), "{m}");

    // Garbage and an unknown bank are clear errors.
    let (st, e) = s.json(
        "POST",
        "/v1/banks/STILLS/entries",
        &curator,
        Some(("image/jpeg", b"not an image")),
    );
    assert_eq!(st, 400, "{e}");
    let (st, _) = s.json(
        "POST",
        "/v1/banks/NOPE/entries",
        &curator,
        Some(("image/jpeg", &orig)),
    );
    assert_eq!(st, 404);
}
