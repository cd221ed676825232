//! The review page in headless Chromium, against the real `ward serve` on a loopback port: a
//! moderator logs in with a reviewer token, sees the matched upload blurred and greyscale,
//! reveals it, confirms it with the keyboard, and the queue empties.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! the test fails and says so, it never passes silently. `WARD_CHROMIUM` and
//! `WARD_CHROMEDRIVER` point at other binaries. Screenshots go to `$WARD_TEST_ARTIFACTS`, or
//! `target/test-artifacts/` in the workspace.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use util::{dechunk, reference, token, Ward};

/// How long any one wait in the browser may take.
const WAIT: Duration = Duration::from_secs(10);

/// A child process killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM through `kill` (a server finishes its requests), then reap.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, body as JSON or as a string).
fn http(addr: &str, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, Value) {
    let Ok(mut conn) = TcpStream::connect(addr) else {
        return (0, Value::Null);
    };
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !token.is_empty() {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut resp = Vec::new();
    let _ = conn.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, mut body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let dechunked;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunked = String::from_utf8_lossy(&dechunk(body.as_bytes())).into_owned();
        body = &dechunked;
    }
    let v = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, v)
}

fn start_server(w: &Ward, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", "--listen", "127.0.0.1:0", "--poll-interval", "0.2"])
        .args(extra)
        .current_dir(w.dir.path())
        .env("WARD_DB", w.path("ward.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let proc = Proc(child);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    wait_http(&addr, "/healthz");
    (proc, addr)
}

fn wait_http(addr: &str, path: &str) {
    let start = Instant::now();
    while http(addr, "GET", path, "", b"").0 != 200 {
        assert!(start.elapsed() < WAIT, "nothing answers {path} on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Chromium and chromedriver, or a failure that says how to install them.
fn browser_binaries() -> (PathBuf, PathBuf) {
    let pick = |var: &str, default: &str| {
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let chromium = pick("WARD_CHROMIUM", "/usr/bin/chromium");
    let driver = pick("WARD_CHROMEDRIVER", "/usr/bin/chromedriver");
    for (p, what) in [(&chromium, "chromium"), (&driver, "chromedriver")] {
        assert!(
            p.is_file(),
            "{what} not found at {}: the review page's browser test needs Debian's chromium \
             and chromium-driver (apt-get install -y --no-install-recommends chromium \
             chromium-driver; .ci/run installs them), or WARD_CHROMIUM / WARD_CHROMEDRIVER",
            p.display()
        );
    }
    (chromium, driver)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("WARD_TEST_ARTIFACTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(artifacts().join(format!("review-{name}.png")), png).unwrap();
}

/// Evaluates `expr` in the page until it is truthy; returns its last value.
async fn wait_js(c: &Client, expr: &str, what: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = c
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap();
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return v;
        }
        if start.elapsed() > WAIT {
            let err = c
                .execute(
                    "return document.getElementById('error').textContent + ' | ' + \
                     document.getElementById('status').textContent;",
                    vec![],
                )
                .await
                .unwrap_or_default();
            let _ = screenshot(c, "failure").await;
            panic!("timed out waiting for {what} ({expr}); page says: {err}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn js(c: &Client, expr: &str) -> Value {
    c.execute(&format!("return ({expr});"), vec![])
        .await
        .unwrap()
}

/// Presses one key on whatever has the focus, as a person typing would.
async fn press(c: &Client, key: char) {
    let keys = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await.unwrap();
}

/// Chromium driven through chromedriver, with nothing reaching outside this machine. The
/// session is closed and both processes stopped when dropped.
struct Browser {
    client: Client,
    session: String,
    driver_addr: String,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session, which makes chromedriver quit Chromium, also when the test failed
        // half-way: stopping chromedriver alone would leave Chromium running. The answer
        // comes once Chromium is gone; one read waits for it.
        if let Ok(mut conn) = TcpStream::connect(&self.driver_addr) {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                self.session, self.driver_addr
            );
            if conn.write_all(req.as_bytes()).is_ok() {
                let _ = conn.read(&mut [0u8; 1024]);
            }
        }
    }
}

impl Browser {
    async fn start() -> Browser {
        let (chromium, driver) = browser_binaries();
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let proc = Proc(
            Command::new(&driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display())),
        );
        let driver_addr = format!("127.0.0.1:{port}");
        // Listening is enough: chromedriver answers the session request once it is ready.
        let start = Instant::now();
        while TcpStream::connect(&driver_addr).is_err() {
            assert!(
                start.elapsed() < WAIT,
                "chromedriver does not listen on {driver_addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-crash-reporter",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://{driver_addr}"))
            .await
            .expect("a Chromium session through chromedriver");
        let session = client
            .session_id()
            .await
            .unwrap()
            .expect("a WebDriver session id");
        Browser {
            client,
            session,
            driver_addr,
            _driver: proc,
            _profile: profile,
        }
    }
}

const MEDIA_FILTER: &str = "getComputedStyle(document.querySelector('#media-box .media')).filter";

#[tokio::test]
async fn a_moderator_reveals_and_confirms_a_case_in_chromium() {
    let started = Instant::now();
    // A bank with one known image, and a server with a deployment blur of 20 px.
    let w = Ward::new();
    let submitter = token(&w, "submitter", "upload-path");
    let reviewer = token(&w, "reviewer", "moderator");
    let images = reference().join("pdq/images/bridge-mods");
    w.run(&[
        "bank",
        "create",
        "stills",
        "--label",
        "propaganda",
        "--source",
        "test list, 2026-11",
    ])
    .expect(0);
    let orig = images.join("aaa-orig.jpg");
    w.run(&["bank", "add", "stills", orig.to_str().unwrap()])
        .expect(0);
    let (_server, addr) = start_server(&w, &["--review-blur", "20"]);

    // An edited copy arrives: a case opens.
    let copy = std::fs::read(images.join("blur-a-lot.jpg")).unwrap();
    let (st, v) = http(
        &addr,
        "POST",
        "/v1/content?content_id=upload-1",
        &submitter,
        &copy,
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = http(&addr, "GET", "/v1/cases", &reviewer, b"");
    assert_eq!(st, 200, "{v}");
    let cases = v["cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(cases.len(), 1, "one case opened: {v}");
    let case_id = cases[0]["id"].clone();

    let b = Browser::start().await;
    let c = &b.client;

    // Log in with the reviewer token.
    c.goto(&format!("http://{addr}/review")).await.unwrap();
    let field = c.wait().for_element(Locator::Id("token")).await.unwrap();
    field.send_keys(&reviewer).await.unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The case, with the upload blurred and greyscale once it has loaded.
    wait_js(
        c,
        "!document.getElementById('case-body').hidden",
        "the case to show",
    )
    .await;
    let title = js(c, "document.getElementById('case-title').textContent").await;
    assert_eq!(title, json!(format!("Case #{case_id}")));
    wait_js(
        c,
        "(() => { const m = document.querySelector('#media-box img.media'); \
          return m && m.complete && m.naturalWidth > 0; })()",
        "the upload to load",
    )
    .await;
    let filter = js(c, MEDIA_FILTER).await;
    let filter = filter.as_str().unwrap_or_default().to_owned();
    assert!(
        filter.contains("blur(20px)") && filter.contains("grayscale(1)"),
        "blurred (the deployment's 20 px) and greyscale until revealed: {filter}"
    );
    let matches = js(c, "document.getElementById('matches').textContent").await;
    let matches = matches.as_str().unwrap_or_default();
    for shown in ["stills", "propaganda", "test list, 2026-11", "Distance"] {
        assert!(
            matches.contains(shown),
            "the match shows {shown}: {matches}"
        );
    }
    screenshot(c, "blurred").await;

    // A shortcut typed into the note is text, not a decision.
    let note = c.find(Locator::Id("note")).await.unwrap();
    note.send_keys("checked: copy of the known still, cropped")
        .await
        .unwrap();
    let (_, v) = http(&addr, "GET", "/v1/cases", &reviewer, b"");
    assert_eq!(
        v["cases"].as_array().map(Vec::len),
        Some(1),
        "typing 'c' in the note decided nothing: {v}"
    );
    // Escape leaves the note; then `r` reveals.
    press(c, Key::Escape.into()).await;
    wait_js(
        c,
        "document.activeElement !== document.getElementById('note')",
        "the note to lose focus",
    )
    .await;
    press(c, 'r').await;
    wait_js(c, &format!("{MEDIA_FILTER} === 'none'"), "the reveal").await;
    assert_eq!(
        js(
            c,
            "document.getElementById('reveal').getAttribute('aria-pressed')"
        )
        .await,
        json!("true")
    );
    screenshot(c, "revealed").await;

    // `c` confirms; the queue empties.
    press(c, 'c').await;
    wait_js(
        c,
        "!document.getElementById('queue-empty').hidden",
        "the empty queue",
    )
    .await;
    assert_eq!(
        js(c, "document.querySelectorAll('#queue-list li').length").await,
        json!(0)
    );
    screenshot(c, "queue-empty").await;

    // The bank list.
    c.find(Locator::Css("#nav [data-view=banks]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = wait_js(
        c,
        "document.querySelector('#banks tr') && document.querySelector('#banks tr').textContent",
        "the bank list",
    )
    .await;
    let row = row.as_str().unwrap_or_default();
    for shown in ["stills", "review", "propaganda", "test list, 2026-11"] {
        assert!(row.contains(shown), "{shown} in {row}");
    }

    // Settings apply at once and are kept for this reviewer; what was not touched keeps
    // following the deployment's default.
    c.find(Locator::Css("#nav [data-view=settings]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let blur = c.wait().for_element(Locator::Id("s-blur")).await.unwrap();
    assert_eq!(blur.prop("value").await.unwrap().as_deref(), Some("20"));
    blur.clear().await.unwrap();
    blur.send_keys("5").await.unwrap();
    c.find(Locator::Css("#settings-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        c,
        "document.getElementById('status').textContent === 'Settings saved.'",
        "the settings to be saved",
    )
    .await;
    assert_eq!(
        js(
            c,
            "getComputedStyle(document.documentElement).getPropertyValue('--blur').trim()"
        )
        .await,
        json!("5px")
    );
    screenshot(c, "settings").await;
    let (_, v) = http(&addr, "GET", "/v1/me/settings", &reviewer, b"");
    assert_eq!(
        v["mine"],
        json!({"blur_px": 5, "greyscale": null, "autoplay": null}),
        "{v}"
    );

    // The server recorded it: closed, confirmed by the moderator, with the note.
    let (st, v) = http(
        &addr,
        "GET",
        &format!("/v1/cases/{case_id}"),
        &reviewer,
        b"",
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], json!("closed"), "{v}");
    assert_eq!(
        v["decisions"].as_array().map(Vec::len),
        Some(1),
        "one decision: no shortcut fired while typing the note: {v}"
    );
    let d = &v["decisions"][0];
    assert_eq!(d["decision"], json!("confirm"), "{v}");
    assert_eq!(
        d["note"],
        json!("checked: copy of the known still, cropped"),
        "{v}"
    );
    assert!(
        d["reviewer"]
            .as_str()
            .unwrap_or_default()
            .contains("moderator"),
        "{v}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// A fake API for the page (the video service is not built yet): one video case grouping 37
/// uploads, a match with two aligned segments and a region. `window.__wardFail` makes the
/// next calls answer with that status.
const FAKE_API: &str = r#"
const json = (v, status) => Promise.resolve(new Response(JSON.stringify(v),
  {status: status || 200, headers: {'Content-Type': 'application/json'}}));
const eff = {blur_px: 24, greyscale: true, autoplay: false};
const settings = {defaults: eff, mine: {blur_px: null, greyscale: null, autoplay: null}, effective: eff};
const items = Array.from({length: 37}, (_, i) => ({item_id: i + 1, content_id: 'up-' + (i + 1),
  received_at: 1764000000 + i, media_type: 'video', content_type: 'video/mp4',
  has_media: true, outcome: 'pending'}));
const kase = {id: 7, status: 'open', created_at: 1764000000, updated_at: 1764000000,
  media_type: 'video', items, decisions: [], matches: [{bank: 'vids', entry_id: 3,
  signal_type: 'vpdq', distance: 12, via: 'original', labels: ['known-video'],
  bank_source: 'partner X', source_id: 'clip-1', policy: 'review',
  region: {x: 10, y: 20, width: 100, height: 50},
  segments: [{query_start: 0, query_end: 5, bank_start: 10, bank_end: 15, mean_distance: 11.5},
             {query_start: 10, query_end: 20, bank_start: 30, bank_end: 40, mean_distance: 9}]}]};
window.__wardCalls = [];
window.__wardFail = 0;
window.fetch = (url, init) => {
  const u = String(url);
  window.__wardCalls.push([(init && init.method) || 'GET', u, init && init.headers && init.headers.Authorization]);
  if (window.__wardFail) return json({error: 'refused by the fake'}, window.__wardFail);
  if (u === '/v1/me/settings') return json(settings);
  if (u === '/v1/banks') return json({banks: []});
  if (u.startsWith('/v1/cases?')) return json({cases: [{id: 7, status: 'open',
    created_at: 1764000000, updated_at: 1764000000, item_count: 37, media_type: 'video',
    banks: ['vids'], labels: ['known-video'], min_distance: 12, content_ids: ['up-1']}]});
  if (u === '/v1/cases/7') return json(kase);
  if (u === '/v1/cases/7/decision') return json({error: 'case 7 is closed'}, 409);
  if (u.endsWith('/media')) return Promise.resolve(new Response(new Blob([new Uint8Array(64)], {type: 'video/mp4'})));
  return json({error: 'not in the fake'}, 404);
};
"#;

#[tokio::test]
async fn a_grouped_video_case_shows_one_muted_video_a_timeline_and_clear_errors() {
    let w = Ward::new();
    let (_server, addr) = start_server(&w, &[]);
    let b = Browser::start().await;
    let c = &b.client;
    c.goto(&format!("http://{addr}/review")).await.unwrap();
    c.wait().for_element(Locator::Id("token")).await.unwrap();
    c.execute(FAKE_API, vec![]).await.unwrap();
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("ward_fake")
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        c,
        "document.querySelector('#media-box video.media')",
        "the video",
    )
    .await;

    // 37 uploads, one shown: muted, not playing, blurred.
    let group = js(c, "document.getElementById('case-group').textContent").await;
    assert!(
        group
            .as_str()
            .unwrap_or_default()
            .contains("groups 37 uploads"),
        "{group}"
    );
    assert_eq!(
        js(c, "document.querySelectorAll('#media-box .media').length").await,
        json!(1)
    );
    assert_eq!(
        js(c, "document.querySelectorAll('#items tr').length").await,
        json!(37)
    );
    assert_eq!(
        js(
            c,
            "(() => { const v = document.querySelector('#media-box video'); \
              return [v.muted, v.autoplay, v.controls, v.classList.contains('veiled')]; })()"
        )
        .await,
        json!([true, false, true, true])
    );

    // The timeline: scaled to the longest time (40 s), one bar per aligned segment.
    let bars = js(
        c,
        "[...document.querySelectorAll('.seg')].map(e => e.className + ' ' + e.style.left + ' ' + e.style.width)",
    )
    .await;
    assert_eq!(
        bars,
        json!([
            "seg q 0% 12.5%",
            "seg q 25% 25%",
            "seg b 25% 12.5%",
            "seg b 75% 25%"
        ])
    );
    let text = js(c, "document.getElementById('matches').textContent").await;
    let text = text.as_str().unwrap_or_default();
    for shown in [
        "upload 0:10.0–0:20.0 matches the bank video's 0:30.0–0:40.0",
        "100×50 at 10,20",
        "partner X",
        "clip-1",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    screenshot(c, "video-timeline").await;

    // Every call carried the token.
    let calls = js(c, "window.__wardCalls").await;
    let calls = calls.as_array().unwrap();
    assert!(calls.len() >= 4, "{calls:?}");
    for call in calls {
        assert_eq!(call[2], json!("Bearer ward_fake"), "{call}");
    }

    // `?` opens the list of shortcuts, Escape closes it.
    press(c, '?').await;
    wait_js(c, "document.getElementById('help').open", "the help").await;
    press(c, Key::Escape.into()).await;
    wait_js(
        c,
        "!document.getElementById('help').open",
        "the help to close",
    )
    .await;

    // Someone else decided first: 409 says so.
    press(c, 'e').await;
    let err = wait_js(
        c,
        "!document.getElementById('error').hidden && document.getElementById('error').textContent",
        "the 409 message",
    )
    .await;
    assert!(
        err.as_str()
            .unwrap_or_default()
            .contains("Already decided by someone else"),
        "{err}"
    );

    // A revoked token: back to the login form, with why.
    c.execute("window.__wardFail = 401;", vec![]).await.unwrap();
    c.find(Locator::Id("refresh"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        c,
        "!document.getElementById('login').hidden",
        "the login form",
    )
    .await;
    let err = js(c, "document.getElementById('error').textContent").await;
    assert!(
        err.as_str().unwrap_or_default().contains("not accepted"),
        "{err}"
    );
    assert_eq!(
        js(c, "sessionStorage.length").await,
        json!(0),
        "the token is forgotten"
    );
}
